"""Cost against lattice size: where a generator could beat Monte Carlo at the critical point.

Three pieces, each used by the cost chapter and tested on exact numbers:

* **Generator timing** (:func:`time_generator`): the wall time per sample of a generator's real
  ``sample()`` at a list of lattice sides L. The batch holds a fixed number of *pixels*
  (``pixels``; batch = max(``min_batch``, pixels // L²)), so every timed network evaluation does
  the same amount of work at every L and the per-sample cost is amortised alike; a sampler with more
  network evaluations (NFE) than ``max_timed_nfe`` is stopped after that many evaluations of its
  loop and its time scaled to the full NFE (as ``benchmarks/sampling_throughput.py`` does for long
  samplers).
* **Monte Carlo cost per independent configuration** (:func:`mc_cost`): 2 τ_int(L) sweeps × the
  wall time of one sweep of one chain, in seconds, with τ_int either measured or predicted from a
  power-law fit τ_int ∝ L^z (:func:`power_law_at`).
* **Power laws and crossovers** (:func:`fit_cost`, :func:`cheaper_interval`,
  :func:`crossover_draws`): cost ∝ L^a fits (``metrics.fit_power_law``) and the range of L where a
  generator costs less per *effective* sample than a Monte Carlo sampler per independent one. For an
  importance-corrected generator the effective cost is time / (ESS/n), and ESS/n ≈ exp(−N · KL) with
  N = L² spins and KL the Kullback–Leibler divergence per spin (nats), so it is
  A_g L^p_g exp(KL · L²). Every crossover is an extrapolation of the fitted laws beyond the sizes
  where they were measured, and of the fidelity beyond the size where the model was trained.
* **Which KL, and who gets a crossover** (:func:`kl_effective`, :func:`kl_from_results`,
  :func:`verdict_entry`): the KL per spin is kl_eff = max(−ln(ESS/n)/N, KL bound per spin), since
  ESS/n cannot exceed exp(−N·KL bound) for large n (``reweight.ess_ceiling``) and a measured ESS/n
  above it is a finite-sample overestimate (flagged). Only importance-corrected generators get a
  crossover: an uncorrected sampler (DDPM, GAN, or the adsorption generator used without weights)
  draws biased samples, which no count of them makes equivalent to independent Boltzmann
  configurations, so it gets a cost per sample and no crossover.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from ..physics import observables
from ..physics.exact import TC

#: Pixels per timed batch: 256 samples at L = 16, the batch of ``benchmarks/sampling_throughput.py``.
DEFAULT_PIXELS = 65536


class _Stop(Exception):
    """Raised by the NFE hook to stop a sampler after its timed network evaluations."""


def network(model) -> torch.nn.Module:
    """The module evaluated once per NFE: the U-Net of the diffusion models, the GAN's generator."""
    return model.G if hasattr(model, "G") else model.net


def run_sampler(model, n: int, steps=None, max_nfe: int | None = None, T: float = TC,
                seed: int = 0) -> tuple[float, int, bool]:
    """One ``model.sample(n, T, seed=seed, steps=steps)``, timed from the call (wall seconds).

    With ``max_nfe``, a forward pre-hook on the network stops the sampler at the start of network
    evaluation ``max_nfe + 1``, so exactly ``max_nfe`` whole iterations of its loop (network, update,
    noise, Eq. 6 solve) are timed. Returns (seconds, network evaluations made, finished).
    """
    calls = [0]

    def hook(_module, _inputs):
        if max_nfe is not None and calls[0] >= max_nfe:
            raise _Stop
        calls[0] += 1

    handle = network(model).register_forward_pre_hook(hook)
    try:
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                model.sample(n, T, seed=seed, steps=steps)
            finished = True
        except _Stop:
            finished = False
        return time.perf_counter() - t0, calls[0], finished
    finally:
        handle.remove()


def batch_for(L: int, pixels: int = DEFAULT_PIXELS, min_batch: int = 2) -> int:
    """Samples per timed batch at side L: max(min_batch, pixels // L²)."""
    return max(int(min_batch), int(pixels) // (int(L) ** 2))


def model_at_L(model, L: int):
    """The same generator (kind and hyperparameters) for L×L lattices, and whether it got ``model``'s weights.

    The U-Net generators are fully convolutional (circular padding; the embeddings do not depend on
    L), so the trained weights load unchanged at any L the U-Net can halve: the network then costs
    what it would cost after training at that L, including the number of Eq. 6 sweeps of the
    adsorption generator. The GAN's generator has one transposed convolution per doubling of L, so
    its weights do not fit another L: it is returned untrained (same widths, same cost per call).
    Returns (model in eval mode on ``model``'s device, transplanted: bool).
    """
    from ..generators.families import build

    hp = dict(model.hparams)
    hp["L"] = int(L)
    m = build(model.kind, int(L), **hp)
    src = model.state_dict()
    dst = m.state_dict()
    same = src.keys() == dst.keys() and all(src[k].shape == dst[k].shape for k in src)
    if same:
        m.load_state_dict(src)
    return m.to(model.device).eval(), bool(same)


def time_generator(model, Ls, *, steps=None, nfe: int | None = None, pixels: int = DEFAULT_PIXELS,
                   min_batch: int = 2, max_timed_nfe: int = 50, T: float = TC, seed: int = 0,
                   repeats: int = 1, progress: bool = False) -> dict:
    """Wall seconds per sample of ``model``'s sampler at each L of ``Ls`` (the model rebuilt by :func:`model_at_L`).

    ``steps`` is passed to ``sample`` (DDPM: None = 1000-step ancestral, k = DDIM-k). ``nfe`` is the
    number of network evaluations to cost per sample (default ``model.nfe_for(steps)``; a smaller value
    costs a shorter sampler of the same network, e.g. a DDPM trained with 50 diffusion steps is 50
    iterations of the ancestral loop). The loop is run for min(nfe, ``max_timed_nfe``) evaluations at
    batch :func:`batch_for` (L, pixels, min_batch) after a one-evaluation warm-up at the same batch; if that is
    fewer than the whole sampler, the time is scaled by nfe / timed evaluations ("extrapolated"). With
    ``repeats`` > 1 the fastest of that many timed calls counts (on a shared machine the slower ones
    measure the other load).

    Returns a dict of lists, one entry per L (sorted): ``L``, ``batch``, ``nfe``, ``timed_nfe``,
    ``extrapolated`` (bool), ``seconds`` (the timed call), ``seconds_per_sample`` (seconds per sample
    for the full ``nfe``), ``trained_weights`` (bool, see :func:`model_at_L`). Raises ValueError for an
    L the architecture cannot take or a non-positive count, before any timing.
    """
    Ls = sorted({int(x) for x in Ls})
    if not Ls or Ls[0] < 4:
        raise ValueError(f"Ls must be lattice sides ≥ 4; got {Ls!r}")
    for name, v in (("pixels", pixels), ("min_batch", min_batch), ("max_timed_nfe", max_timed_nfe),
                    ("repeats", repeats)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer ≥ 1; got {v!r}")
    full = model.nfe_for(steps)
    nfe = full if nfe is None else nfe
    if isinstance(nfe, bool) or not isinstance(nfe, int) or not 1 <= nfe <= full:
        raise ValueError(f"nfe must be an integer in [1, {full}] (the sampler's NFE); got {nfe!r}")
    built = [model_at_L(model, L) for L in Ls]  # raises for an L the architecture cannot take
    out = {k: [] for k in ("L", "batch", "nfe", "timed_nfe", "extrapolated", "seconds", "seconds_per_sample",
                           "trained_weights")}
    it = zip(Ls, built)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(list(it), desc=f"timing {model.kind} against L")
    for L, (m, transplanted) in it:
        B = batch_for(L, pixels, min_batch)
        timed = min(nfe, max_timed_nfe)
        run_sampler(m, B, steps, max_nfe=1, T=T, seed=seed)  # warm-up: allocations at this batch and shape
        dt = math.inf
        for _ in range(repeats):
            t, calls, finished = run_sampler(m, B, steps, max_nfe=None if timed == full else timed, T=T, seed=seed)
            if calls != timed or finished != (timed == full):
                raise RuntimeError(f"{model.kind}: made {calls} network evaluations (finished={finished}); "
                                   f"expected {timed}")
            dt = min(dt, t)
        out["L"].append(L)
        out["batch"].append(B)
        out["nfe"].append(nfe)
        out["timed_nfe"].append(timed)
        out["extrapolated"].append(timed < nfe)
        out["seconds"].append(dt)
        out["seconds_per_sample"].append(dt / B * nfe / timed)
        out["trained_weights"].append(transplanted)
    return out


# --------------------------------------------------------------------------- Monte Carlo side
def mc_cost(sweep_seconds, tau_int, tau_err=None):
    """Seconds per effectively independent configuration of one chain: 2 τ_int × sweep time.

    ``sweep_seconds``: wall seconds per sweep of one chain (amortised over the batch of chains);
    ``tau_int``: integrated autocorrelation time in sweeps; ``tau_err`` its standard error (sweep-time
    error neglected). Arrays broadcast. Returns (cost, cost_err) as float arrays (cost_err nan without
    ``tau_err``).
    """
    s, tau = np.asarray(sweep_seconds, float), np.asarray(tau_int, float)
    if np.any(s <= 0) or np.any(tau <= 0):
        raise ValueError("sweep_seconds and tau_int must be > 0")
    err = np.full(np.broadcast(s, tau).shape, np.nan) if tau_err is None else 2 * s * np.asarray(tau_err, float)
    return 2 * tau * s, err


def power_law_at(fit: dict, x):
    """Value A x^p of a ``metrics.fit_power_law`` result at x, with its 1σ error from the fit covariance.

    Returns (y, y_err) as arrays; the error is that of ln y = ln A + p ln x times y, so it grows with
    the distance of ln x from the fitted range (an extrapolation).
    """
    lx = np.log(np.asarray(x, float))
    cov = np.asarray(fit["cov"], float)
    y = fit["A"] * np.exp(fit["p"] * lx)
    var = cov[0, 0] + 2 * lx * cov[0, 1] + lx**2 * cov[1, 1]
    return y, y * np.sqrt(np.maximum(var, 0.0))


def tau_at(Ls, tau_L, tau, tau_err, reliable=None) -> dict:
    """τ_int at each L of ``Ls``: the measurement where L was measured reliably, else the power-law fit's
    prediction.

    ``tau_L``, ``tau``, ``tau_err``: the sizes, mean τ_int (sweeps) and errors of a τ_int(L) scan
    (``ensembles.tau_size_scan``); ``reliable``: its per-size flags (every run's series ≥ 50 τ_int), None =
    all reliable. The fit uses only the reliable sizes (≥ 2 are needed, else ValueError): an unreliable
    τ_int is biased low, and would bend z. Returns {"L", "tau_int", "tau_err", "measured" (bool: a reliable
    measurement at that L)} lists, "fit" (the ``fit_power_law`` result: "p" is the dynamic exponent z)
    and "fit_L" (the sizes fitted).
    """
    ok = np.ones(len(tau_L), bool) if reliable is None else np.asarray(reliable, bool)
    if ok.sum() < 2:
        raise ValueError(f"tau_at: at least 2 reliable τ_int sizes are needed for the fit; reliable at "
                         f"{[int(L) for L, r in zip(tau_L, ok) if r]} of {[int(L) for L in tau_L]}")
    fit = observables.fit_power_law(np.asarray(tau_L)[ok], np.asarray(tau)[ok], np.asarray(tau_err)[ok])
    meas = {int(L): (float(t), float(e)) for L, t, e, r in zip(tau_L, tau, tau_err, ok) if r}
    out = {"L": [], "tau_int": [], "tau_err": [], "measured": [], "fit": fit,
           "fit_L": [int(L) for L, r in zip(tau_L, ok) if r]}
    for L in sorted({int(x) for x in Ls}):
        if L in meas:
            t, e = meas[L]
        else:
            t, e = (float(v) for v in power_law_at(fit, L))
        out["L"].append(L)
        out["tau_int"].append(t)
        out["tau_err"].append(e)
        out["measured"].append(L in meas)
    return out


# --------------------------------------------------------------------------- fits and crossovers
def fit_cost(L, cost, cost_err=None) -> dict:
    """cost ∝ L^a: ``metrics.fit_power_law`` of seconds per (independent) sample against L.

    Without errors (single timings) the relative error is floored and the exponent's error comes from
    the scatter about the line (√(χ²/dof) scaling). Returns the fit dict ("p" = a, "p_err", "A", "cov", ...).
    """
    c = np.asarray(cost, float)
    e = np.zeros_like(c) if cost_err is None else np.nan_to_num(np.asarray(cost_err, float))
    return observables.fit_power_law(L, c, e)


def _log_gap(lnA_g, p_g, lnA_m, p_m, kl, x, q=0.0):
    """f(x) = ln(generator effective cost / Monte Carlo cost) at x = ln L, with KL per spin kl·L^q (so a
    total KL of kl·L^(2+q)); the generator is cheaper where f < 0."""
    return lnA_g - lnA_m + (p_g - p_m) * x + kl * np.exp((2 + q) * x)


def _L(x: float) -> float:
    """L = e^x, as inf beyond the float range (a crossover too far out to matter)."""
    return math.exp(x) if x < 700 else math.inf


def _root(f, a, b):
    from scipy.optimize import brentq
    return float(brentq(f, a, b, xtol=1e-12, rtol=1e-12))


def cheaper_interval(A_g: float, p_g: float, A_m: float, p_m: float, kl_per_spin: float = 0.0,
                     kl_exponent: float = 0.0):
    """The range of L where A_g L^p_g · exp(kl(L) · L²) < A_m L^p_m, kl(L) = ``kl_per_spin`` · L^q
    (q = ``kl_exponent``, 0: the same KL per spin at every L; q > −2, so the total KL grows with L): a
    generator's cost per effective sample below a Monte Carlo sampler's cost per independent configuration.

    ``A_*`` (seconds) and ``p_*`` are power-law prefactors and exponents (L in lattice spacings);
    ``kl_per_spin`` ≥ 0 is the KL divergence per spin in nats (0: the uncorrected generator, every
    sample counted). Returns (L_from, L_to) with 0.0 for "from the smallest L" and math.inf for "for
    ever", or None when the generator is never cheaper. With kl = 0 the single crossover is
    L* = (A_g / A_m)^(1 / (p_m − p_g)); with kl > 0 the exponential eventually wins, so the interval
    is bounded (0, 1 or 2 crossovers; found by bisection on ln L).
    """
    for name, v in (("A_g", A_g), ("A_m", A_m)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
    for name, v in (("p_g", p_g), ("p_m", p_m)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite; got {v!r}")
    if not (math.isfinite(kl_per_spin) and kl_per_spin >= 0):
        raise ValueError(f"kl_per_spin must be a finite number ≥ 0 (nats per spin); got {kl_per_spin!r}")
    if not (math.isfinite(kl_exponent) and kl_exponent > -2):
        raise ValueError(f"kl_exponent must be a finite number > -2 (KL per spin ∝ L^q); got {kl_exponent!r}")
    lg, lm, dp, g = math.log(A_g), math.log(A_m), p_g - p_m, 2 + kl_exponent

    def f(x):
        return _log_gap(lg, p_g, lm, p_m, kl_per_spin, x, kl_exponent)

    if kl_per_spin == 0:
        if dp == 0:
            return (0.0, math.inf) if lg < lm else None
        L_star = _L((lm - lg) / dp)
        return (L_star, math.inf) if dp < 0 else (0.0, L_star)
    # f is convex in x = ln L and → +∞ for x → +∞; it has its minimum where f'(x) = dp + g kl e^{gx} = 0
    if dp >= 0:  # f increasing everywhere: cheaper (if at all) only below one crossover
        hi = 1.0
        while f(hi) < 0:
            hi *= 2
        lo = -1.0
        while f(lo) > 0 and lo > -700:
            lo *= 2
        return None if f(lo) > 0 else (0.0, _L(_root(f, lo, hi)))
    xm = math.log(-dp / (g * kl_per_spin)) / g
    if f(xm) >= 0:
        return None
    lo, hi = xm - 1.0, xm + 1.0
    while f(lo) < 0:
        lo -= 2 * (xm - lo)
    while f(hi) < 0:
        hi += 2 * (hi - xm)
    return _L(_root(f, lo, xm)), _L(_root(f, xm, hi))


def crossover_draws(fit_g: dict, fit_m: dict, kl_per_spin: float = 0.0, n_draws: int = 2000, seed: int = 0,
                    kl_fit: dict | None = None) -> dict:
    """The crossover of :func:`cheaper_interval` and its spread under the fits' uncertainties.

    ``kl_fit``: a power-law fit of the KL per spin against L (:func:`kl_trend`), used instead of the
    constant ``kl_per_spin``. Draws (ln A, p) of each fit from a Gaussian with its covariance
    (``fit["cov"]``; the fits are independent; a draw of the KL exponent ≤ −2 is clipped just above −2),
    solves each draw, and returns {"interval": (L_from, L_to) of the central fit or
    None, "L_from_q": (16th, 50th, 84th percentile) of the draws' L_from (inf where a draw never
    crosses), "L_to_q" likewise, "never_fraction": fraction of draws where the generator is never
    cheaper}.
    """
    rng = np.random.default_rng(seed)
    kl0, q0 = (kl_fit["A"], kl_fit["p"]) if kl_fit is not None else (kl_per_spin, 0.0)
    central = cheaper_interval(fit_g["A"], fit_g["p"], fit_m["A"], fit_m["p"], kl0, q0)
    dg = rng.multivariate_normal([math.log(fit_g["A"]), fit_g["p"]], np.asarray(fit_g["cov"]), n_draws)
    dm = rng.multivariate_normal([math.log(fit_m["A"]), fit_m["p"]], np.asarray(fit_m["cov"]), n_draws)
    if kl_fit is not None:
        dk = rng.multivariate_normal([math.log(kl0), q0], np.asarray(kl_fit["cov"]), n_draws)
        kls, qs = np.exp(dk[:, 0]), np.maximum(dk[:, 1], -2 + 1e-9)
    else:
        kls, qs = np.full(n_draws, kl0), np.zeros(n_draws)
    lo, hi = np.full(n_draws, np.inf), np.full(n_draws, np.inf)
    never = 0
    for i in range(n_draws):
        iv = cheaper_interval(math.exp(dg[i, 0]), dg[i, 1], math.exp(dm[i, 0]), dm[i, 1], kls[i], qs[i])
        if iv is None:
            never += 1
        else:
            lo[i], hi[i] = iv
    def quantiles(v):  # order statistics (inf allowed, where interpolation would give nan)
        v = np.sort(v)
        return tuple(float(v[min(n_draws - 1, int(q * n_draws))]) for q in (0.16, 0.5, 0.84))

    return {"interval": central, "L_from_q": quantiles(lo), "L_to_q": quantiles(hi), "never_fraction": never / n_draws}


def kl_trend(Ls, kl, kl_err) -> dict | None:
    """The KL bound per spin against the lattice side: a power-law fit kl(L) = A · L^q over the sizes where
    a model was trained and its bound measured (``observables.fit_power_law``: "A" in nats per spin,
    "p" = q, "cov" of (ln A, q)). Beyond the largest measured L it is an extrapolation.

    ``Ls`` must hold ≥ 2 distinct sizes (else ValueError: a configuration error). The bound is a Monte
    Carlo estimate, so at a well-trained size it can come out ≤ 0 (or nan, or with a nan error); such
    sizes cannot enter a power law and are left out, listed in "dropped_L"; "fit_L" lists the sizes
    fitted. A bound ≤ 0 says the KL there is small, so leaving it out biases A and q upward (the
    crossover drawn from the fit is then pessimistic for the generator). Returns None when fewer than 2
    sizes are left: then there is no trend to extrapolate.
    """
    Ls, kl, kl_err = (np.asarray(v, float) for v in (Ls, kl, kl_err))
    if len(set(Ls.tolist())) < 2:
        raise ValueError(f"kl_trend: the KL bound must be measured at ≥ 2 lattice sizes; got L = {Ls.tolist()}")
    ok = np.isfinite(kl) & (kl > 0) & np.isfinite(kl_err) & (kl_err >= 0)
    if len(set(Ls[ok].tolist())) < 2:
        return None
    fit = observables.fit_power_law(Ls[ok], kl[ok], kl_err[ok])
    return {**fit, "fit_L": [int(L) for L in Ls[ok]], "dropped_L": [int(L) for L in Ls[~ok]]}


def kl_effective(ess_fraction: float, N: int, kl_bound: float | None = None) -> dict:
    """The KL per spin (nats) to put into ESS/n ≈ exp(−N·KL): kl_eff = max(−ln(ESS/n)/N, ``kl_bound``).

    ``ess_fraction``: measured ESS/n in (0, 1]; ``N``: spins; ``kl_bound``: the path-KL bound per spin
    (nats, ``reweight.kl_bound``) at the same L and T, or None. For large n, ESS/n → exp(−D₂) ≤
    exp(−N·KL_path) = ``reweight.ess_ceiling``; a measured ESS/n above that ceiling overestimates the
    ESS (a finite sample has not yet drawn the rare, large weights of a heavy tail), so the bound is
    used instead and the row is flagged. Returns {"kl_eff", "kl_measured", "kl_bound" (None if not
    given), "ess_fraction", "ess_ceiling" (None without a bound), "above_ceiling" (bool)}.
    """
    from .reweight import ess_ceiling

    measured = kl_from_ess(ess_fraction, N)
    if kl_bound is None:
        return {"kl_eff": measured, "kl_measured": measured, "kl_bound": None, "ess_fraction": ess_fraction,
                "ess_ceiling": None, "above_ceiling": False}
    if not (math.isfinite(kl_bound) and kl_bound >= 0):
        raise ValueError(f"kl_bound must be a finite number ≥ 0 (nats per spin) or None; got {kl_bound!r}")
    ceiling = float(ess_ceiling(kl_bound, N))
    return {"kl_eff": max(measured, float(kl_bound)), "kl_measured": measured, "kl_bound": float(kl_bound),
            "ess_fraction": ess_fraction, "ess_ceiling": ceiling, "above_ceiling": bool(ess_fraction > ceiling)}


def kl_from_ess(ess_fraction: float, N: int) -> float:
    """Effective KL per spin (nats) from a measured ESS/n at N spins: −ln(ESS/n) / N (inverts ESS/n = exp(−N·KL))."""
    if not 0 < ess_fraction <= 1:
        raise ValueError(f"ess_fraction must be in (0, 1]; got {ess_fraction!r}")
    if isinstance(N, bool) or not isinstance(N, int) or N < 1:
        raise ValueError(f"N must be an integer ≥ 1 (spins); got {N!r}")
    return -math.log(ess_fraction) / N


def check_sizes(Ls, name: str = "scaling_L") -> list[int]:
    """Sorted lattice sides every generator can take: 4·2^m ≥ 8 (the GAN's transposed convolutions;
    also divisible by the U-Nets' 2**(depth-1) for depth ≤ 4). Raises ValueError naming ``name``."""
    out = []
    for i, L in enumerate(Ls):
        if isinstance(L, bool) or not isinstance(L, int) or L < 8 or math.log2(L / 4) != int(math.log2(L / 4)):
            raise ValueError(f"{name} must list lattice sides of the form 4·2^m ≥ 8 (8, 16, 32, ...); "
                             f"element {i} is {L!r}")
        out.append(L)
    if len(set(out)) < 2:
        raise ValueError(f"{name} must hold at least 2 different sizes for a power-law fit; got {list(Ls)!r}")
    return sorted(set(out))


def kl_from_results(results: Path, model: str, L: int) -> dict | None:
    """The KL per spin (nats) of ``model`` to put into ESS/n ≈ exp(−N·KL), from the study's result files.

    First choice: ``results/exact.csv`` (the exact-statistics chapter), the self-normalised importance
    sampling row (``method`` = "snis") of ``model`` at the temperature closest to T_c: kl_eff of
    :func:`kl_effective` at N = L² from its measured ESS and the KL bound on the same row (the measured
    ESS, so the extrapolation starts from a measurement, unless it lies above the bound's ceiling).
    Else ``results/verdict.json``'s ``models[model]["kl_bound_inside"]`` (the path-KL bound per spin
    averaged inside the training range: an upper bound, so a pessimistic ESS). Else None. Returns
    {"kl": kl per spin, "source": a sentence naming the source, "ess_above_ceiling": bool (the
    measured ESS/n exceeded exp(−N·KL bound), so the bound was used)}.
    """
    import csv
    import json

    results = Path(results)
    path = results / "exact.csv"
    if path.exists():
        with path.open() as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("model") == model and r.get("method") == "snis"]
        rows = [r for r in rows if r.get("ess") and r.get("n") and float(r["ess"]) > 0 and float(r["n"]) > 0]
        if rows:
            r = min(rows, key=lambda r: abs(float(r["T"]) - TC))
            frac = min(1.0, float(r["ess"]) / float(r["n"]))
            bound = float(r["kl_bound"]) if r.get("kl_bound") not in (None, "") else math.nan
            k = kl_effective(frac, int(L) ** 2, bound if math.isfinite(bound) and bound >= 0 else None)
            src = f"measured ESS/n = {frac:.3g} of {model} at T = {float(r['T']):g}, L = {L} (exact.csv)"
            if k["above_ceiling"]:
                src += (f", above the ceiling exp(−N·KL bound) = {k['ess_ceiling']:.3g}: a finite-sample "
                        f"overestimate, so the KL bound per spin {k['kl_bound']:.3g} is used")
            return {"kl": k["kl_eff"], "source": src, "ess_above_ceiling": k["above_ceiling"]}
    path = results / "verdict.json"
    if path.exists():
        v = json.loads(path.read_text()).get("models", {}).get(model, {})
        kl = v.get("kl_bound_inside")
        if kl is not None and math.isfinite(kl) and kl >= 0:
            return {"kl": float(kl), "source": f"the KL bound per spin of {model} inside the training range "
                                               "(verdict.json)", "ess_above_ceiling": False}
    return None


def verdict_entry(gen_fits: dict, mc_fits: dict, crossovers: list[dict], train_L: int, Ls, tau_L, *,
                  corrected) -> dict:
    """The summary of the cost-against-L comparison for ``verdict.json`` (key suggestion: ``"scaling"``).

    ``gen_fits`` / ``mc_fits``: {sampler: fit_cost result, optionally with "z": (z, z_err) of τ_int ∝ L^z};
    ``corrected``: the labels of ``gen_fits`` whose samples are importance-corrected (the reweighted
    adsorption generators); every other generator is listed under "per_sample_only" (a cost per sample,
    no crossover); ``crossovers``: rows with "generator" (one of ``corrected``: a row for any other
    generator raises ValueError), "mc", "kl_per_spin", "kl_source", "L_from", "L_to" (None/inf as in
    :func:`cheaper_interval`), "L_from_q", "never_fraction", and optionally "ess_above_ceiling" (bool,
    default False: see :func:`kl_effective`) and "kl_exponent" (q of a KL per spin kl·L^q; default 0). Infinite values are written as None (JSON). Every
    crossover is an extrapolation: fidelity is measured only at ``train_L``.
    """
    corrected = set(corrected)
    unknown = sorted(corrected - set(gen_fits))
    if unknown:
        raise ValueError(f"corrected: {unknown} are not generators of gen_fits ({sorted(gen_fits)})")
    for c in crossovers:
        if c["generator"] not in corrected:
            raise ValueError(f"crossovers: {c['generator']!r} is not importance-corrected; an uncorrected sampler "
                             f"gets a cost per sample and no crossover (corrected: {sorted(corrected)})")

    def num(v):
        return None if v is None or not math.isfinite(v) else float(v)

    return {
        "train_L": int(train_L), "L_timed": [int(x) for x in Ls], "L_tau_measured": [int(x) for x in tau_L],
        "T": TC,
        "exponents": {s: {"a": f["p"], "a_err": f["p_err"], "A_seconds": f["A"],
                          **({"z": f["z"][0], "z_err": f["z"][1]} if "z" in f else {})}
                      for s, f in {**gen_fits, **mc_fits}.items()},
        "crossovers": [{"generator": c["generator"], "mc": c["mc"], "kl_per_spin": c["kl_per_spin"],
                        "kl_exponent": float(c.get("kl_exponent", 0.0)),
                        "kl_source": c["kl_source"], "never": c["L_from"] is None or c["L_from"] == math.inf,
                        "L_from": num(c["L_from"]), "L_to": num(c["L_to"]),
                        "L_from_q16_q50_q84": [num(v) for v in c["L_from_q"]],
                        "never_fraction": c["never_fraction"],
                        "ess_above_ceiling": bool(c.get("ess_above_ceiling", False))} for c in crossovers],
        "per_sample_only": sorted(set(gen_fits) - corrected),
        "extrapolation": True,
        "note": f"cost laws fitted over the timed sizes; model fidelity measured only at the training size L = {train_L}",
    }
