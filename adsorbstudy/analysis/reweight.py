"""Exact Boltzmann statistics from the adsorption generator's trajectory likelihood (DESIGN §3).

Conventions: J = 1, k_B = 1, spins ±1 on the periodic L×L torus, N = L², energy E(s) = N·e(s)
with every bond once (:func:`adsorbstudy.physics.lattice.energy`), π(s) = exp(−E(s)/T)/Z. Logarithms are
natural (nats).

The generator draws a whole trajectory s_K → … → s_0 with a known probability p_θ(s_{0:K}); the
forward (desorption) chain gives q(s_{1:K}|s_0). On trajectories, the target π(s_0) q(s_{1:K}|s_0)
has the Boltzmann s_0-marginal, so with

    log w = −E(s_0)/T + log q(s_{1:K}|s_0) − log p_θ(s_{0:K}),     E_p[w] = Z  (exactly),

- **SNIS** (:func:`weighted_stats` with log weights): Σ w f / Σ w → ⟨f⟩_π as n → ∞;
- **ln Z** (:func:`log_partition`): ln(mean w), with its delta-method error;
- **ESS** (:func:`ess`) = (Σw)²/Σw²; as n → ∞, ESS/n → exp(−D₂) ≤ exp(−KL_path) where D₂ is the
  Rényi-2 divergence and KL_path = KL(π q ‖ p_θ) of the trajectories. KL_path is exactly N times
  the per-spin bound of :func:`kl_bound` (E_π[−ELBO] − H(π)), so ESS/n ≲ exp(−N·KL_bound)
  (:func:`ess_ceiling`);
- **IMH** (:func:`imh`): an independence Metropolis–Hastings chain over the proposals, accepting
  proposal j from state i with probability min(1, w_j/w_i), is reversible with respect to π q;
- the **hybrid arm** (:func:`hybrid`): n Metropolis sweeps started from any model's samples; it
  moves towards π but is exact only as n → ∞.

Errors. Every observable is a smooth function g of self-normalised weighted means μ of
f = (e, e², |m|, m², m⁴) per configuration. Its error is the delta method for the
self-normalised (ratio) estimator: Var ĝ ≈ Σ_i w̄_i² [∇g·(f_i − μ)]², w̄ the normalised weights
(for equal weights this is the usual σ²/n). For a Markov chain (IMH) the variance is multiplied by
2τ_int. Bootstrap is not used: it is slow for the weighted estimators and, like the delta method,
unreliable when a few weights dominate, which the ESS reports.

``results/<profile>/exact.csv`` (:data:`EXACT_COLUMNS`, :func:`write_exact_csv`) holds one row
per (model, T, method); :func:`exact_verdict` condenses it for ``verdict.json``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy.special import logsumexp

from ..physics import autocorr, exact, lattice, montecarlo
from ..physics.lattice import check_spins
from ..study.seeds import seed_for
from ..study.validate import check_T
from .tables import read_csv, write_csv


# --------------------------------------------------------------------------- inputs
def _vector(v, n: int, name: str) -> np.ndarray:
    a = np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},); got {a.shape}")
    if np.isnan(a).any():
        raise ValueError(f"{name} must not contain NaN")
    return a


# --------------------------------------------------------------------------- weights
def log_weights(spins, log_p, log_q, T: float) -> np.ndarray:
    """log w = −E(s_0)/T + log q(s_{1:K}|s_0) − log p_θ(s_{0:K}) per sample, (n,) float64, nats.

    ``spins``: (n, L, L) ±1, the samples s_0; ``log_p``, ``log_q``: (n,) from
    ``AdsorptionGenerator.sample_with_logprob``; E is the total energy N·e (J = 1, bonds once).
    E_p[w] = Z, the partition function of the L×L torus at ``T``.
    """
    x = check_spins(spins)
    n, L = x.shape[0], x.shape[1]
    lp, lq = _vector(log_p, n, "log_p"), _vector(log_q, n, "log_q")
    T = check_T(T)
    E = L * L * lattice.energy(x)
    return -E / T + lq - lp


def _normalised(log_w: np.ndarray) -> np.ndarray:
    if not np.isfinite(log_w).any():
        raise ValueError("log_w: every weight is zero or infinite")
    return np.exp(log_w - logsumexp(log_w))


def ess(log_w) -> float:
    """Effective sample size (Σw)²/Σw² of the weights exp(``log_w``), in samples (1 … n)."""
    lw = np.asarray(log_w, dtype=np.float64)
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw)))


def log_partition(log_w) -> tuple[float, float]:
    """(ln Ẑ, error): ln Ẑ = logsumexp(log w) − ln n, total (not per spin), in nats.

    The error is the delta method, σ(Ẑ)/Ẑ = √(Var w / n)/mean w = √((n/ESS − 1)/(n − 1));
    it is reliable only when the ESS is not dominated by a handful of samples.
    """
    lw = np.asarray(log_w, dtype=np.float64)
    n = lw.size
    if n < 2:
        raise ValueError(f"log_w must hold at least 2 weights; got {n}")
    val = float(logsumexp(lw) - math.log(n))
    rel2 = max(n / ess(lw) - 1.0, 0.0) / (n - 1)
    return val, float(math.sqrt(rel2))


def small_ess_bias(ess_value: float, n: int) -> dict:
    """The expected shortfall of plug-in SNIS estimates at a given ESS of n weights (first order).

    - C and χ are weighted variances; their plug-in value is low by the factor 1 − Σw̄² = 1 − 1/ESS
      (exactly, in expectation, when the weights are independent of the observable; the weighted
      analogue of Bessel's n/(n − 1)). Returned as ``c_chi_shortfall`` = 1/ESS, a fraction.
    - ln Ẑ is low by about rel²/2 nats (total, not per spin; the delta method, E ln Ẑ ≈ ln Z − rel²/2),
      with rel² = (n/ESS − 1)/(n − 1) the squared relative error of Ẑ (:func:`log_partition`).
      Returned as ``logz_shortfall`` (nats) and ``logz_shortfall_in_errors`` = rel/2, the shortfall in
      units of ln Ẑ's own error bar.
    """
    if not (math.isfinite(ess_value) and 1.0 <= ess_value <= n + 1e-9) or n < 2:
        raise ValueError(f"ess must lie in [1, n] with n >= 2; got ess={ess_value!r}, n={n!r}")
    rel2 = max(n / ess_value - 1.0, 0.0) / (n - 1)
    return {"c_chi_shortfall": 1.0 / ess_value, "logz_shortfall": rel2 / 2, "logz_shortfall_in_errors": math.sqrt(rel2) / 2}


def ess_ceiling(kl_per_spin, N: int):
    """exp(−N·KL): the large-n limit ESS/n cannot exceed, given the per-spin path KL bound (nats)."""
    return np.exp(-N * np.asarray(kl_per_spin, dtype=float))


# --------------------------------------------------------------------------- observables
OBSERVABLES = ("e", "m_abs", "C", "chi", "U4")


def weighted_stats(spins, T: float, log_w=None, inflation: float = 1.0) -> dict:
    """e, ⟨|m|⟩, C, χ and U4 of a (weighted) ensemble with delta-method errors.

    ``spins`` (n, L, L) ±1; ``log_w`` (n,) log weights (None: equal weights, the raw estimate);
    ``inflation``: variance factor 2τ_int for correlated samples (a Markov chain), 1 for
    independent ones. Conventions as :func:`adsorbstudy.physics.observables.thermo_stats`: e per spin (J),
    |m| per configuration, C = N(⟨e²⟩ − ⟨e⟩²)/T², χ = N(⟨m²⟩ − ⟨|m|⟩²)/T, U4 = 1 − ⟨m⁴⟩/(3⟨m²⟩²)
    from the signed m. Returns floats: each observable, ``{name}_err``, ``n`` and ``ess``.
    """
    x = check_spins(spins)
    T = check_T(T)
    if not (isinstance(inflation, (int, float)) and math.isfinite(inflation) and inflation >= 1):
        raise ValueError(f"inflation must be a finite number >= 1 (2 τ_int); got {inflation!r}")
    n, L = x.shape[0], x.shape[1]
    N = L * L
    wbar = np.full(n, 1.0 / n) if log_w is None else _normalised(_vector(log_w, n, "log_w"))
    e = lattice.energy(x)
    m = lattice.magnetization(x)
    f = np.stack([e, e**2, np.abs(m), m**2, m**4], axis=1)
    mu = wbar @ f
    me, me2, ma, m2, m4 = mu
    z = np.zeros(5)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = {
            "e": (me, np.array([1, 0, 0, 0, 0.0])),
            "m_abs": (ma, np.array([0, 0, 1, 0, 0.0])),
            "C": (N * (me2 - me**2) / T**2, N / T**2 * np.array([-2 * me, 1, 0, 0, 0])),
            "chi": (N * (m2 - ma**2) / T, N / T * np.array([0, 0, -2 * ma, 1, 0])),
            "U4": (1 - m4 / (3 * m2**2), z + np.array([0, 0, 0, 2 * m4 / (3 * m2**3), -1 / (3 * m2**2)])),
        }
    out: dict = {"n": int(n), "ess": float(n) if log_w is None else float(1.0 / np.sum(wbar**2))}
    d = f - mu
    for name, (val, grad) in obs.items():
        infl = d @ grad
        out[name] = float(val)
        out[f"{name}_err"] = float(math.sqrt(inflation * np.sum(wbar**2 * infl**2))) if n > 1 else float("nan")
    return out


# --------------------------------------------------------------------------- independence Metropolis-Hastings
def imh(log_w, seed: int = 0) -> tuple[np.ndarray, float]:
    """Independence Metropolis–Hastings over proposals in the given order: (chain, acceptance rate).

    The chain starts at proposal 0; at step i it moves to proposal i with probability
    min(1, w_i / w_current) (uniforms from ``np.random.default_rng(seed)``). Its stationary law is
    the target, here π(s_0) q(s_{1:K}|s_0), whose s_0 marginal is Boltzmann. Returns the index of
    the current state after every step, ``chain`` (n,) int64 (chain[0] = 0), and the fraction of
    the n − 1 proposals accepted. No burn-in is discarded (the start is a draw from the proposal).
    """
    lw = np.asarray(log_w, dtype=np.float64)
    if lw.ndim != 1 or lw.size < 2:
        raise ValueError(f"log_w must be a 1-D array of at least 2 log weights; got shape {lw.shape}")
    if np.isnan(lw).any():
        raise ValueError("log_w must not contain NaN")
    lu = np.log(np.random.default_rng(seed).random(lw.size))
    chain = np.empty(lw.size, np.int64)
    cur, acc = 0, 0
    chain[0] = 0
    for i in range(1, lw.size):
        if lu[i] < lw[i] - lw[cur]:
            cur = i
            acc += 1
        chain[i] = cur
    return chain, acc / (lw.size - 1)


def imh_stats(spins, T: float, log_w, seed: int = 0) -> dict:
    """Observables of the IMH chain over ``spins`` with errors inflated by 2τ_int.

    One τ serves both the errors and the ESS: τ_int = max(τ_e, τ_|m|), the slower of the energy's and
    |m|'s integrated autocorrelation times along the chain (in proposals, by
    :func:`adsorbstudy.physics.autocorr.integrated_autocorr_time`), so the reported ESS is the one the
    error bars assume. Returns :func:`weighted_stats` of the chain's states (equal weights, variance
    × 2τ_int) plus ``acceptance``, ``tau_int`` (that max), ``tau_int_e``, ``tau_int_m``, ``chain``
    (indices) and ``ess`` = n / (2 τ_int).
    """
    x = check_spins(spins)
    chain, acc = imh(_vector(log_w, x.shape[0], "log_w"), seed)
    states = x[chain]
    tau_e = autocorr.integrated_autocorr_time(lattice.energy(states))[0]
    tau_m = autocorr.integrated_autocorr_time(np.abs(lattice.magnetization(states)))[0]
    tau = max(tau_e, tau_m)
    out = weighted_stats(states, T, None, inflation=2 * tau)
    out.update({"acceptance": float(acc), "tau_int": float(tau), "tau_int_e": float(tau_e), "tau_int_m": float(tau_m),
                "chain": chain, "ess": float(x.shape[0] / (2 * tau))})
    return out


# --------------------------------------------------------------------------- hybrid arm
def hybrid(spins, T: float, sweeps: Sequence[int] = (1, 4, 16, 64), seed: int = 0, device=None) -> dict:
    """Metropolis sweeps after generation: {n: (spins after n sweeps, seconds spent on the sweeps)}.

    ``spins`` (n_samples, L, L) ±1 from any sampler; each is its own chain, run with
    :func:`adsorbstudy.physics.montecarlo.metropolis_from` (numba kernel; ``device`` selects the torch checkerboard
    kernel). The counts in ``sweeps`` (distinct, ≥ 0) are reached cumulatively, so the cost is that of
    max(sweeps) sweeps; each stage draws fresh random numbers (seed derived from ``seed`` and the stage).
    Seconds are cumulative wall time for the whole batch.
    """
    import time

    x = check_spins(spins, "spins").astype(np.int8)
    T = check_T(T)
    counts = sorted({int(s) for s in sweeps})
    if not counts or counts[0] < 0:
        raise ValueError(f"sweeps must be non-empty integers >= 0; got {list(sweeps)!r}")
    out, done, secs = {}, 0, 0.0
    for stage, n in enumerate(counts):
        t0 = time.perf_counter()
        sub = int(np.random.SeedSequence([int(seed), stage]).generate_state(1)[0] >> 1)
        x = montecarlo.metropolis_from(x, T, n - done, seed=sub, device=device)
        secs += time.perf_counter() - t0
        done = n
        out[n] = (x, secs)
    return out


# --------------------------------------------------------------------------- the KL bound
def kl_bound_from_nll(nll_per_spin, spins, T: float, weights=None) -> tuple[float, float]:
    """Upper bound on KL(π ‖ p_θ) per spin (nats) from −ELBO per spin of Boltzmann configurations.

    KL(π‖p_θ) = E_π[log π − log p_θ] ≤ E_π[−ELBO] − H(π), with log π(s) = −E(s)/T − ln Z and
    H(π) = ln Z + ⟨E⟩/T; ln Z is the exact torus value (:func:`adsorbstudy.physics.exact.log_partition`).
    Per configuration b = NLL/N − e/T − ln Z/N (NLL/N = ``nll_per_spin``, e the energy per spin), and
    the bound is the mean of b over ``spins`` (Boltzmann samples, e.g. held-out Monte Carlo), with
    error std/√n. ``weights``: probabilities of the configurations instead of equal weights (for an
    exact enumeration; the error is then that of the weighted mean). The bound is also the per-spin
    KL of the whole trajectories, KL(π q ‖ p_θ)/N. Returns (bound, error).
    """
    x = check_spins(spins, "spins")
    n, L = x.shape[0], x.shape[1]
    N = L * L
    T = check_T(T)
    nll = _vector(nll_per_spin, n, "nll_per_spin")
    b = nll - lattice.energy(x) / T - float(exact.log_partition(L, T)) / N
    if weights is None:
        return float(b.mean()), float(b.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    w = _vector(weights, n, "weights")
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    w = w / w.sum()
    mean = float(w @ b)
    return mean, float(math.sqrt(np.sum(w**2 * (b - mean) ** 2)))


def kl_bound(model, spins, T: float, seed: int = 0) -> tuple[float, float]:
    """:func:`kl_bound_from_nll` with the model's one-draw −ELBO (``model.nll_bound(spins, T, seed)``).

    ``model``: a Bernoulli generator (adsorption or its ablation); ``spins``: (n, L, L) ±1
    Boltzmann samples at ``T``. Returns (bound, error) in nats per spin; 0 would be a perfect model.
    """
    x = check_spins(spins, "spins")
    return kl_bound_from_nll(np.asarray(model.nll_bound(x, T, seed=seed), float), x, T)


# --------------------------------------------------------------------------- results file
#: Columns of ``results/<profile>/exact.csv``: one row per (model, T, method). ``method`` ∈ raw, snis,
#: imh, hybrid-<n>; ``n_sweeps`` the Metropolis sweeps of a hybrid row (0 otherwise); ``n`` samples;
#: ``ess`` effective samples (SNIS: (Σw)²/Σw²; IMH: n/2τ_int; raw and hybrid: n); observables and
#: errors as :func:`weighted_stats`; ``logz``, ``logz_err``: ln Z / N (per spin) and its error (SNIS
#: only); ``exact_*`` the exact torus values (Kaufman); ``z_*`` (estimate − reference)/error, against the
#: exact e, c and ln Z/N and against Monte Carlo (errors combined) for |m|, χ and U4;
#: ``seconds_per_effective_sample`` wall time (sampling, sweeps) ÷ ess; ``kl_bound`` (per spin) and
#: ``ess_ceiling`` = exp(−N kl_bound) on SNIS rows.
EXACT_COLUMNS = ["model", "T", "method", "n_sweeps", "n", "ess", "acceptance", "tau_int",
                 "e", "e_err", "m_abs", "m_abs_err", "C", "C_err", "chi", "chi_err", "U4", "U4_err",
                 "logz", "logz_err", "seconds_per_effective_sample", "exact_e", "exact_c", "exact_logz",
                 "z_e", "z_c", "z_logz", "z_m_abs", "z_chi", "z_U4", "kl_bound", "kl_bound_err", "ess_ceiling"]


def _z(value, err, ref, ref_err=0.0) -> float:
    s = math.sqrt((err or 0.0) ** 2 + (ref_err or 0.0) ** 2)
    if not all(np.isfinite(v) for v in (value, ref)) or not (s > 0):
        return float("nan")
    return float((value - ref) / s)


def exact_row(model: str, T: float, method: str, stats: Mapping, L: int, mc: Mapping, *, n_sweeps: int = 0,
              seconds: float = float("nan"), logz=None, kl=None) -> dict:
    """One row of exact.csv from :func:`weighted_stats`-like ``stats``, the Monte Carlo statistics ``mc``
    (:func:`adsorbstudy.physics.observables.thermo_stats`) and the exact torus values at (L, T).

    ``seconds``: wall time behind the row's samples (sampling plus sweeps); ``logz``: (ln Z, err) total,
    stored per spin; ``kl``: (bound, err) per spin."""
    N = L * L
    ex_e, ex_c = (float(np.ravel(v)[0]) for v in exact.finite_size(L, np.array([T])))
    ex_lz = float(exact.log_partition(L, T)) / N
    row = {"model": model, "T": float(T), "method": method, "n_sweeps": int(n_sweeps), "n": int(stats["n"]),
           "ess": float(stats.get("ess", stats["n"])), "acceptance": stats.get("acceptance"),
           "tau_int": stats.get("tau_int"), "exact_e": ex_e, "exact_c": ex_c, "exact_logz": ex_lz}
    for k in OBSERVABLES:
        row[k], row[f"{k}_err"] = stats[k], stats[f"{k}_err"]
    row["seconds_per_effective_sample"] = seconds / row["ess"] if row["ess"] > 0 else float("inf")
    row["z_e"] = _z(row["e"], row["e_err"], ex_e)
    row["z_c"] = _z(row["C"], row["C_err"], ex_c)
    for k in ("m_abs", "chi", "U4"):
        row[f"z_{k}"] = _z(row[k], row[f"{k}_err"], mc[k], mc.get(f"{k}_err"))
    if logz is not None:
        row["logz"], row["logz_err"] = logz[0] / N, logz[1] / N
        row["z_logz"] = _z(row["logz"], row["logz_err"], ex_lz)
    if kl is not None:
        row["kl_bound"], row["kl_bound_err"] = kl
        row["ess_ceiling"] = float(ess_ceiling(kl[0], N))
    return row


def sample_weighted(model, n: int, T: float, seed: int = 0, batch: int = 256, progress: bool = False, **proposal):
    """n samples of a Bernoulli generator at T with their log weights: (spins int8 (n, L, L), log_w (n,), seconds).

    Batch i of ``batch`` samples draws from the stream ``seed_for(seed, "sample-exact", i)``; ``seconds`` is
    the wall time of those calls (sampling and bookkeeping, nothing else). ``proposal`` goes to the model's
    ``sample_with_logprob`` (the checkerboard generator's physics guidance ``physics=λ``, ``guide_layers``):
    it changes the proposal, whose exact log p enters the weights, never the Boltzmann target."""
    import time

    from tqdm.auto import tqdm

    parts, lws, secs = [], [], 0.0
    for i, j in enumerate(tqdm(range(0, n, batch), disable=not progress, desc=f"T={T:g}", leave=False)):
        t0 = time.perf_counter()
        s, lp, lq = model.sample_with_logprob(min(batch, n - j), T, seed=seed_for(seed, "sample-exact", i), **proposal)
        secs += time.perf_counter() - t0
        s = s.numpy()
        parts.append(s)
        lws.append(log_weights(s, lp, lq, T))
    return np.concatenate(parts).astype(np.int8), np.concatenate(lws), secs


def corrected_rows(model: str, spins, log_w, T: float, mc: Mapping, seconds: float, *,
                   sweeps: Sequence[int] = (1, 4, 16, 64), seed: int = 0, kl=None,
                   n_hybrid: int | None = None) -> list[dict]:
    """The exact.csv rows of one Bernoulli model at one T: raw, snis, imh and hybrid-n.

    ``spins``/``log_w`` from :func:`sample_weighted`, ``seconds`` its wall time, ``mc`` the Monte
    Carlo statistics at T (:func:`adsorbstudy.physics.observables.thermo_stats`), ``kl`` the (bound, err) per spin
    of :func:`kl_bound`. The raw, SNIS and IMH rows share the samples (and their cost); the hybrid rows
    relax the first ``n_hybrid`` of the same samples (None: all), charged their share of ``seconds``
    plus the sweeps' time, so that the hybrid arm can score every model on the same n.
    """
    x = check_spins(spins)
    L = x.shape[1]
    n_h = x.shape[0] if n_hybrid is None else n_hybrid
    if isinstance(n_h, bool) or not isinstance(n_h, (int, np.integer)) or not 2 <= n_h <= x.shape[0]:
        raise ValueError(f"n_hybrid must be an integer in [2, {x.shape[0]}] (the samples given) or None; got {n_hybrid!r}")
    rows = [exact_row(model, T, "raw", weighted_stats(x, T), L, mc, seconds=seconds),
            exact_row(model, T, "snis", weighted_stats(x, T, log_w), L, mc, seconds=seconds,
                      logz=log_partition(log_w), kl=kl),
            exact_row(model, T, "imh", imh_stats(x, T, log_w, seed=seed), L, mc, seconds=seconds)]
    return rows + hybrid_rows(model, x[:n_h], T, mc, seconds * n_h / x.shape[0], sweeps=sweeps, seed=seed)


def hybrid_rows(model: str, spins, T: float, mc: Mapping, seconds: float, *, sweeps: Sequence[int] = (1, 4, 16, 64),
                seed: int = 0) -> list[dict]:
    """exact.csv rows ``hybrid-<n>`` of any model: its samples after n Metropolis sweeps (:func:`hybrid`);
    ``seconds`` the time that produced the samples, to which the sweeps' time is added."""
    x = check_spins(spins)
    return [exact_row(model, T, f"hybrid-{n}", weighted_stats(c, T), x.shape[1], mc, n_sweeps=n, seconds=seconds + sec)
            for n, (c, sec) in hybrid(x, T, sweeps, seed=seed).items()]


def write_exact_csv(path: Path | str, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write exact.csv atomically (:data:`EXACT_COLUMNS`; missing values empty)."""
    return write_csv(path, rows, EXACT_COLUMNS)


def read_exact_csv(path: Path | str) -> list[dict]:
    """Rows of exact.csv with numbers parsed (empty cells → nan)."""
    return read_csv(path, ("model", "method"))


def exact_verdict(rows: Sequence[Mapping], train_range: tuple[float, float]) -> dict:
    """The exact-correction entries of verdict.json, from the rows of exact.csv.

    Per model and method, inside and outside the training range (ends within 1e-9 count as inside):
    ``n_T``; ``max_abs_z_e``, ``max_abs_z_c``, ``max_abs_z_logz`` (the worst temperature);
    ``ess_frac_min`` and ``ess_frac_mean`` (ESS/n); ``acceptance_mean`` (IMH);
    ``seconds_per_effective_sample_mean``. Per model also ``bar``: the issue's target at the
    profile's L, inside the range ESS/n ≥ 0.1 and |z_e|, |z_c| ≤ 3 at every T for SNIS, and
    |z_logz| ≤ 3 at every T; each criterion a bool, None without SNIS rows inside.
    """
    lo, hi = train_range
    inside = lambda T: lo - 1e-9 <= T <= hi + 1e-9  # noqa: E731

    def agg(sub, key, fn):
        vals = [abs(r[key]) if fn is max else r[key] for r in sub if np.isfinite(r.get(key, math.nan))]
        return float(fn(vals)) if vals else None

    out: dict = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        entry: dict = {}
        mrows = [r for r in rows if r["model"] == model]
        for method in dict.fromkeys(r["method"] for r in mrows):
            e: dict = {}
            for region, sel in (("inside", inside), ("outside", lambda T: not inside(T))):
                sub = [r for r in mrows if r["method"] == method and sel(r["T"])]
                if not sub:
                    continue
                e[region] = {"n_T": len(sub), "max_abs_z_e": agg(sub, "z_e", max), "max_abs_z_c": agg(sub, "z_c", max),
                             "max_abs_z_logz": agg(sub, "z_logz", max),
                             "ess_frac_min": float(min(r["ess"] / r["n"] for r in sub)),
                             "ess_frac_mean": float(np.mean([r["ess"] / r["n"] for r in sub])),
                             "acceptance_mean": agg(sub, "acceptance", np.mean),
                             "seconds_per_effective_sample_mean": agg(sub, "seconds_per_effective_sample", np.mean)}
            entry[method] = e
        snis_in = [r for r in mrows if r["method"] == "snis" and inside(r["T"])]
        snis_all = [r for r in mrows if r["method"] == "snis"]
        entry["bar"] = {
            "ess_frac_ge_0.1_inside": bool(all(r["ess"] / r["n"] >= 0.1 for r in snis_in)) if snis_in else None,
            "abs_z_e_c_le_3_inside": bool(all(abs(r["z_e"]) <= 3 and abs(r["z_c"]) <= 3 for r in snis_in))
            if snis_in else None,
            "abs_z_logz_le_3": bool(all(abs(r["z_logz"]) <= 3 for r in snis_all)) if snis_all else None,
        }
        out[model] = entry
    return out


def _fmt_range(vals) -> str:
    vals = [v for v in vals if np.isfinite(v)]
    if not vals:
        return "n/a"
    return f"{vals[0]:.3g}" if min(vals) == max(vals) else f"{min(vals):.3g}–{max(vals):.3g}"


def exact_markdown(rows: Sequence[Mapping], summary: Mapping, models: Sequence[str], L: int, n_exact: int,
                   train_range: tuple[float, float]) -> str:
    """The statement of the exact-statistics chapter and of the results page, one paragraph per model, from
    the rows of exact.csv and :func:`exact_verdict`'s ``summary``: SNIS ESS/n inside and outside the
    training range, IMH acceptance, the largest |z| of SNIS (and raw) e and C against the exact torus,
    ln Z, and whether each part of the bar (ESS/n ≥ 0.1, |z| ≤ 3) is met; it warns when the ESS is too
    small for the z-scores to be a test."""
    lo, hi = train_range
    inside = (lambda T: lo - 1e-9 <= T <= hi + 1e-9)
    met = (lambda ok: "met" if ok else "missed")
    out = []
    for m in models:
        pick = (lambda method: sorted((r for r in rows if r["model"] == m and r["method"] == method), key=lambda r: r["T"]))
        sn, raw = pick("snis"), pick("raw")
        ins = [r for r in sn if inside(r["T"])]
        outs = [r for r in sn if not inside(r["T"])]
        if not ins:
            out.append(f"**{m}**: no temperature of this chapter lies inside the training range.")
            continue
        raw_in = [r for r in raw if inside(r["T"])]
        b = summary[m]["bar"]
        t = (f"**{m}** (L = {L}, {n_exact} samples per T): SNIS ESS/n is {_fmt_range([r['ess'] / r['n'] for r in ins])} "
             f"inside the training range and {_fmt_range([r['ess'] / r['n'] for r in outs])} outside; IMH accepts "
             f"{_fmt_range([r['acceptance'] for r in pick('imh')])} of proposals. The largest |z| of SNIS against the "
             f"exact torus inside the range is {max(abs(r['z_e']) for r in ins):.1f} for e and "
             f"{max(abs(r['z_c']) for r in ins):.1f} for C (raw: {max(abs(r['z_e']) for r in raw_in):.1f} and "
             f"{max(abs(r['z_c']) for r in raw_in):.1f}); ln Z/N lies at most {max(abs(r['z_logz']) for r in sn):.1f} "
             f"error bars from Kaufman's value. The bar of ESS/n ≥ 0.1 inside the range is "
             f"{met(b['ess_frac_ge_0.1_inside'])}, |z| ≤ 3 for e and C inside is {met(b['abs_z_e_c_le_3_inside'])}, "
             f"ln Z within 3σ at every T is {met(b['abs_z_logz_le_3'])}.")
        low = min(sn, key=lambda r: r["ess"])
        bias = small_ess_bias(low["ess"], int(low["n"]))
        t += (f" At its smallest ESS ({low['ess']:.1f} of {int(low['n'])}, T = {low['T']:g}) the plug-in SNIS estimates "
              f"are biased low, to first order: C and χ by {100 * bias['c_chi_shortfall']:.2g} % (the factor 1 − 1/ESS), "
              f"ln Z by {bias['logz_shortfall']:.2g} nats in total, {bias['logz_shortfall_in_errors']:.2g} of its error "
              "bar; these are not corrected in the table.")
        if min(r["ess"] for r in sn) < 30:
            t += (f" The smallest ESS is {min(r['ess'] for r in sn):.1f} samples: with so few effective samples the "
                  "delta-method error bars of SNIS are themselves unreliable (the largest weights have not been seen "
                  "often enough), so these z-scores are no test.")
        out.append(t)
    return "\n\n".join(out)
