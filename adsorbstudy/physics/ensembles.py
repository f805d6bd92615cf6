"""Equilibrium ensembles from the Monte Carlo samplers, cached, and the τ_int scans.

:func:`sample_ensemble` thermalizes, measures the integrated autocorrelation time
τ_int (of the energy and of |m|; the larger is used) and then keeps configurations
spaced by about 2τ_int sweeps, so they are effectively independent.
:func:`cached_ensembles` wraps it with the artifact store. ``VERSION`` keys every
ensemble and scan in the store (see ``adsorbstudy.study.codeversion``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..study.runtime import progress_bar
from ..study.validate import check_int, check_L, check_T
from .autocorr import integrated_autocorr_time
from .montecarlo import _check_method, LANES, make_sampler, NumbaWolff, resolve_method, time_sweeps


#: Version of the Monte Carlo code (part of every ensemble's cache key; see adsorbstudy.study.codeversion).
#: Bump it with any change that alters sampled configurations or their statistics.
VERSION = "ising-v2"


# --------------------------------------------------------------------------- ensembles
@dataclass
class Ensemble:
    """Thermalized, decorrelated configurations at one temperature.

    ``configs``: int8 (n, L, L) of ±1. ``tau_int``: integrated autocorrelation time in
    sweeps, max(τ_int(e), τ_int(|m|)) measured after thermalization (``tau_int_e`` and
    ``tau_int_m`` separately). ``thermalization`` and ``spacing``: sweeps discarded
    per chain before the first kept configuration, and sweeps between kept
    configurations of one chain; ``*_auto`` say whether they were chosen from τ_int
    (thermalization ≥ 50 τ_int, spacing = ⌈2 τ_int⌉) or given. ``tau_reliable``: the
    measuring series was ≥ 50 τ_int long. A Wolff "sweep" flips ≥ N spins in clusters.
    ``seconds_per_sweep``: wall time of one sweep of one chain, amortized over the batch
    of chains run together (sampling phase). ``np.asarray(ensemble)`` is ``configs``.
    """

    configs: np.ndarray
    T: float
    method: str
    tau_int: float
    thermalization: int
    spacing: int
    seconds_per_sweep: float
    tau_int_e: float = float("nan")
    tau_int_m: float = float("nan")
    thermalization_auto: bool = True
    spacing_auto: bool = True
    tau_reliable: bool = True
    n_chains: int = 0
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):
        return self.configs if dtype is None else self.configs.astype(dtype)

    @property
    def L(self) -> int:
        return int(self.configs.shape[-1])


def _tau_of(E, M, N):
    te, re = integrated_autocorr_time(E / N)
    tm, rm = integrated_autocorr_time(np.abs(M) / N)
    return te, tm, re and rm


def sample_ensemble(L: int, T: float, n: int, method: str = "auto", seed: int = 0, *,
                    thermalization: int | None = None, spacing: int | None = None,
                    n_chains: int | None = None, device=None, start: str = "auto",
                    max_pilot: int = 1 << 17, progress: bool = False) -> Ensemble:
    """Sample ``n`` equilibrium configurations of the L×L Ising model at temperature ``T``.

    Procedure: ``n_chains`` independent chains start cold (T < Tc) or hot; each runs an
    initial burn-in, then a recorded pilot of P sweeps. τ_int of e and of |m| is measured
    on the second half of the pilot; P doubles until that half is ≥ 50 τ_int long (or
    reaches ``max_pilot``; then ``tau_reliable`` is False). The reported thermalization is
    every sweep before the first kept configuration (burn-in + whole pilot, so ≥ 100 τ_int
    when reliable); spacing is ⌈2 τ_int⌉ unless given. Each chain then keeps one
    configuration every ``spacing`` sweeps until ``n`` are collected (chain-interleaved
    order). If ``thermalization`` is given, exactly that many sweeps precede the pilot;
    the pilot still runs (to measure τ_int), so the reported thermalization is larger.
    Wolff's cluster-size calibration counts as burn-in.

    ``method``: "auto" (Wolff below T = 2.75, Metropolis above), "metropolis" or "wolff".
    ``device``: None for the numba CPU kernels; a torch device ("cpu", "cuda") runs
    Metropolis with the torch checkerboard sampler. Returns an :class:`Ensemble`.
    """
    L = check_L(L)
    T = check_T(T)
    n = check_int("n", n)
    method = resolve_method(method, T)
    if thermalization is not None:
        thermalization = check_int("thermalization", thermalization, 0)
    if spacing is not None:
        spacing = check_int("spacing", spacing)
    if n_chains is None:
        n_chains = min(n, 2 * LANES if method == "metropolis" else 16)
    n_chains = check_int("n_chains", n_chains)
    if device is not None and method == "metropolis" and L % 2:
        raise ValueError(f"L must be even for the torch checkerboard sampler (device={device!r}); got {L}")
    N = L * L
    sampler = make_sampler(method, L, T, n_chains, seed, device=device, start=start)

    burn = thermalization if thermalization is not None else (100 if method == "metropolis" else 20)
    if isinstance(sampler, NumbaWolff):
        burn = max(0, burn - int(sampler.calibration_sweeps_done))
    if burn:
        sampler.run(burn)
    pilot = 200 if method == "metropolis" else 100
    E, M = sampler.run(pilot, record=True)
    swept = burn + pilot + (int(round(sampler.calibration_sweeps_done)) if isinstance(sampler, NumbaWolff) else 0)
    while True:
        half = E.shape[0] // 2
        te, tm, reliable = _tau_of(E[half:], M[half:], N)
        tau = max(te, tm)
        if (E.shape[0] - half) >= 50 * tau or E.shape[0] >= max_pilot:
            break
        E2, M2 = sampler.run(E.shape[0], record=True)
        swept += E.shape[0]
        E, M = np.concatenate([E, E2]), np.concatenate([M, M2])
    therm = swept
    sp = spacing if spacing is not None else max(1, math.ceil(2 * tau))
    per_chain = -(-n // n_chains)
    out = np.empty((per_chain, n_chains, L, L), np.int8)
    it = range(per_chain)
    if progress:
        it = progress_bar(it, desc=f"T={T:g} {method}", leave=False)
    t0 = time.perf_counter()
    for k in it:
        sampler.run(sp)
        out[k] = sampler.configs()
    # wall time of one sweep of one chain, amortized over the batch of chains (sampling phase only)
    sec_per_sweep = (time.perf_counter() - t0) / (per_chain * sp * n_chains)
    configs = np.ascontiguousarray(out.reshape(-1, L, L)[:n])
    extra = {}
    if isinstance(sampler, NumbaWolff):
        extra["mean_cluster_fraction"] = sampler.mean_cluster_size_fraction()
        extra["flips_per_sweep"] = sampler.flips_per_sweep
    return Ensemble(configs=configs, T=T, method=method, tau_int=float(tau), thermalization=int(therm),
                    spacing=int(sp), seconds_per_sweep=float(sec_per_sweep), tau_int_e=float(te),
                    tau_int_m=float(tm), thermalization_auto=thermalization is None,
                    spacing_auto=spacing is None, tau_reliable=bool(reliable), n_chains=n_chains,
                    seed=int(seed), extra=extra)


def temperature_seed(seed: int, T: float) -> int:
    """Deterministic per-temperature seed from (seed, T); T enters rounded to 1e-6."""
    ss = np.random.SeedSequence([int(seed), int(round(float(T) * 1_000_000))])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


_SCALARS = ("tau_int", "thermalization", "spacing", "seconds_per_sweep", "tau_int_e", "tau_int_m",
            "thermalization_auto", "spacing_auto", "tau_reliable", "n_chains", "seed")


def cached_ensembles(store, L: int, temperatures, n: int, *, method: str = "auto", seed: int = 0,
                     progress: bool = True, device=None, thermalization: int | None = None,
                     spacing: int | None = None, n_chains: int | None = None) -> dict[float, Ensemble]:
    """Ensembles for each temperature, computed once and cached in ``store`` under the name "ising".

    The key of each temperature is (L, T rounded to 6 decimals, n, method, seed, VERSION,
    backend and any explicit sampler settings); the sampler seed of each temperature is
    :func:`temperature_seed`(seed, T), so adding temperatures never changes the others.
    ``device`` None (default) uses the numba CPU kernels; a torch device runs Metropolis
    on torch (a separate cache entry). Returns {T: Ensemble} in the order given.
    """
    L = check_L(L)
    n = check_int("n", n)
    _check_method(method)
    temps = [round(check_T(t), 6) for t in np.atleast_1d(np.asarray(temperatures, dtype=float)).tolist()]
    if not temps:
        raise ValueError("temperatures must contain at least one temperature")
    backend = "numba" if device is None else f"torch:{device}"
    out: dict[float, Ensemble] = {}
    it = temps
    if progress:
        it = progress_bar(temps, desc=f"Ising L={L}")
    for T in it:
        params = {"L": L, "T": T, "n": n, "method": method, "seed": seed, "version": VERSION,
                  "backend": backend, "thermalization": thermalization, "spacing": spacing,
                  "n_chains": n_chains}

        def compute(T=T):
            ens = sample_ensemble(L, T, n, method, temperature_seed(seed, T), thermalization=thermalization,
                                  spacing=spacing, n_chains=n_chains, device=device)
            arrs = {"configs": ens.configs, "method": np.array(ens.method)}
            arrs.update({k: np.array(getattr(ens, k)) for k in _SCALARS})
            arrs["mean_cluster_fraction"] = np.array(ens.extra.get("mean_cluster_fraction", np.nan))
            return arrs

        a = store.arrays("ising", params, compute)
        kw = {k: a[k].item() for k in _SCALARS}
        extra = {}
        if "mean_cluster_fraction" in a and np.isfinite(a["mean_cluster_fraction"]):
            extra["mean_cluster_fraction"] = float(a["mean_cluster_fraction"])
        out[T] = Ensemble(configs=a["configs"], T=T, method=str(a["method"]), extra=extra, **kw)
    return out


# --------------------------------------------------------------------------- autocorrelation scan
def tau_scan(L: int, temperatures, methods=("metropolis", "wolff"), seed: int = 0, n_chains: int = 64,
             samples_per_chain: int = 8, progress: bool = True, min_seconds: float = 0.2) -> dict:
    """Measured τ_int and cost of each sampler at each temperature (for τ-vs-T figures).

    For every (method, T) runs :func:`sample_ensemble` with ``n_chains`` chains and
    ``samples_per_chain`` kept configurations per chain (numba kernels). Returns
    {method: {"T", "tau_int", "tau_int_e", "tau_int_m", "seconds_per_sweep",
    "seconds_per_independent", "reliable"}} of lists; seconds_per_independent =
    2 τ_int × seconds_per_sweep (wall time per effectively independent configuration of
    one chain, amortized over the batch), with the sweep time measured separately on a
    long uninterrupted run (≥ ``min_seconds``) so call overheads do not dominate at small L.
    """
    L = check_L(L)
    temps = [check_T(t) for t in temperatures]
    for m in methods:
        if m not in ("metropolis", "wolff"):
            raise ValueError(f"methods must contain only 'metropolis' and 'wolff'; got {m!r}")
    n_chains = check_int("n_chains", n_chains)
    samples_per_chain = check_int("samples_per_chain", samples_per_chain)
    jobs = [(m, T) for m in methods for T in temps]
    out = {m: {k: [] for k in ("T", "tau_int", "tau_int_e", "tau_int_m", "seconds_per_sweep",
                               "seconds_per_independent", "reliable")} for m in methods}
    it = jobs
    if progress:
        it = progress_bar(jobs, desc=f"tau_int L={L}")
    for m, T in it:
        ens = sample_ensemble(L, T, n_chains * samples_per_chain, m, temperature_seed(seed, T),
                              n_chains=n_chains)
        sweep_s = time_sweeps(m, L, T, n_chains, seed, min_seconds)
        d = out[m]
        d["T"].append(T)
        d["tau_int"].append(ens.tau_int)
        d["tau_int_e"].append(ens.tau_int_e)
        d["tau_int_m"].append(ens.tau_int_m)
        d["seconds_per_sweep"].append(sweep_s)
        d["seconds_per_independent"].append(2 * ens.tau_int * sweep_s)
        d["reliable"].append(ens.tau_reliable)
    return out


def tau_size_scan(sizes, T: float, methods=("metropolis", "wolff"), replicas: int = 4, n_chains: int = 64,
                  seed: int = 0, progress: bool = True) -> dict:
    """τ_int against L at one temperature, with an error from independent replicas (for z at T_c).

    For every (method, L) runs :func:`sample_ensemble` ``replicas`` times with independent seeds and
    ``n_chains`` chains each (each run thermalizes and measures its own τ_int, in sweeps, for the
    slower of e and |m|), and times one sweep with :func:`adsorbstudy.physics.montecarlo.time_sweeps` on the same batch of chains.
    Returns {method: {"L", "tau_runs" (per L, the ``replicas`` values), "tau_int" (their mean),
    "tau_err" (std / sqrt(replicas)), "reliable" (every run's series ≥ 50 τ_int), "seconds_per_sweep",
    "seconds_per_independent" (2 τ_int × sweep time, per chain)}} of lists.
    """
    Ls = sorted({check_L(int(x)) for x in sizes})
    T = check_T(T)
    replicas = check_int("replicas", replicas, lo=2)
    n_chains = check_int("n_chains", n_chains)
    for m in methods:
        if m not in ("metropolis", "wolff"):
            raise ValueError(f"methods must contain only 'metropolis' and 'wolff'; got {m!r}")
    jobs = [(m, L) for m in methods for L in Ls]
    if progress:
        jobs = progress_bar(jobs, desc=f"tau_int vs L at T={T:g}")
    out = {m: {"L": Ls, "tau_runs": [], "reliable": [], "seconds_per_sweep": []} for m in methods}
    for m, L in jobs:
        runs = []
        for r in range(replicas):
            run_seed = int(np.random.SeedSequence([seed, 4, L, r]).generate_state(1)[0] >> 1)
            runs.append(sample_ensemble(L, T, n_chains, m, seed=run_seed, n_chains=n_chains))
        d = out[m]
        d["tau_runs"].append([e.tau_int for e in runs])
        d["reliable"].append(all(e.tau_reliable for e in runs))
        # the per-chain sweep cost depends on the batch, so it is timed with the same number of chains
        d["seconds_per_sweep"].append(time_sweeps(m, L, T, n_chains, seed))
    for d in out.values():
        runs = np.array(d["tau_runs"], float)
        d["tau_int"] = runs.mean(1).tolist()
        d["tau_err"] = (runs.std(1, ddof=1) / np.sqrt(runs.shape[1])).tolist()
        d["seconds_per_independent"] = (2 * runs.mean(1) * np.array(d["seconds_per_sweep"])).tolist()
    return out


def cached_tau_size_scan(store, sizes, T: float, replicas: int = 4, n_chains: int = 64, seed: int = 0) -> dict:
    """:func:`tau_size_scan` of both samplers through the artifact store (chapter 03's τ_int(L) at T_c).

    The key is (sizes, T rounded to 6 decimals, n_chains, replicas, seed, VERSION), so every chapter
    that asks for the same scan reuses one artifact.
    """
    T6 = round(check_T(T), 6)
    Ls = sorted({check_L(int(x)) for x in sizes})
    return store.json("ising_tau_vs_L", {"L": Ls, "T": T6, "chains_per_run": n_chains, "runs": replicas,
                                         "seed": seed, "version": VERSION, "layout": 2},
                      lambda: tau_size_scan(Ls, T6, replicas=replicas, n_chains=n_chains, seed=seed))
