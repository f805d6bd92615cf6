"""Monte Carlo throughput of the Ising samplers (adsorbstudy.physics.montecarlo).

Measures, on this machine:
* Metropolis spin-flip attempts per nanosecond, numba lane kernel, one thread and all
  threads, at L = 64 and L = 256 with batched chains; a plain numpy checkerboard and the
  torch checkerboard (CPU, and CUDA when present) for comparison;
* Wolff cluster flips per second at T_c (L = 16, 64);
* wall time per effectively independent configuration at T_c, sweep time × τ_int and
  sweep time × 2τ_int (the spacing the ensembles use), for both samplers at L = 16 and 64.

τ_int at T_c is measured by ``sample_ensemble`` (64 Metropolis / 16 Wolff chains) with its pilot
capped at ``--max-pilot`` sweeps (Metropolis at L = 64 has τ_int of a few hundred sweeps; default
cap 2^15); ``tau_reliable`` in the JSON says whether the pilot reached 50 τ_int. The sweep time is
timed separately on the batched chains (all threads). Ratios (numba vs numpy and torch, all threads
vs one, Wolff vs Metropolis cost) are measured side by side in this run.

Usage: python benchmarks/mc_throughput.py [--quick] [--max-pilot N]. ``--quick`` keeps the same
lattices, samplers and JSON keys but times each kernel for ~0.05 s and caps the τ_int pilot at
512 sweeps (so τ_int at L = 64 is a rough, unreliable estimate): a few seconds.
The last line printed is a JSON dict.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numba
import numpy as np
import torch

from adsorbstudy.physics import ensembles, montecarlo
from adsorbstudy.physics.exact import TC


def timed(fn, min_seconds: float) -> tuple[float, int]:
    """Run fn(k) with k doubling until one call takes ≥ min_seconds; return (seconds, k)."""
    k = 1
    while True:
        t0 = time.perf_counter()
        fn(k)
        dt = time.perf_counter() - t0
        if dt >= min_seconds or k >= 1 << 22:
            return dt, k
        k *= 2


def metropolis_numba(L: int, chains: int, threads: int, min_seconds: float) -> float:
    numba.set_num_threads(threads)
    s = montecarlo.NumbaMetropolis(L, TC, chains, seed=0)
    s.run(2)  # compile / warm up
    dt, k = timed(lambda k: s.run(k), min_seconds)
    return L * L * chains * k / dt / 1e9


def metropolis_torch(L: int, chains: int, device: str, min_seconds: float) -> float:
    s = montecarlo.TorchMetropolis(L, TC, chains, seed=0, device=device)
    s.run(2)

    def go(k):
        s.run(k)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    dt, k = timed(go, min_seconds)
    return L * L * chains * k / dt / 1e9


def metropolis_numpy(L: int, chains: int, T: float, min_seconds: float) -> float:
    """Reference: a plain vectorized numpy checkerboard (what the kernel is compared with)."""
    rng = np.random.default_rng(0)
    s = (2 * rng.integers(0, 2, size=(chains, L, L)) - 1).astype(np.int8)
    i, j = np.indices((L, L))
    masks = [(i + j) % 2 == 0, (i + j) % 2 == 1]
    table = np.exp(-2.0 * np.arange(-4, 5) / T).clip(max=1.0)

    def go(k):
        nonlocal s
        for _ in range(k):
            for m in masks:
                h = np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2)
                flip = (rng.random(s.shape) < table[s * h + 4]) & m
                s = np.where(flip, -s, s).astype(np.int8)
    dt, k = timed(go, min_seconds)
    return L * L * chains * k / dt / 1e9


def wolff_rate(L: int, chains: int, threads: int, min_seconds: float) -> dict:
    numba.set_num_threads(threads)
    s = montecarlo.NumbaWolff(L, TC, chains, seed=0)
    s.run(5)
    dt, k = timed(lambda k: s.run(k), min_seconds)
    clusters = k * s.flips_per_sweep * chains
    return {"clusters_per_s": clusters / dt, "spins_flipped_per_ns": clusters * s.mean_cluster_size_fraction() * L * L / dt / 1e9,
            "flips_per_sweep": s.flips_per_sweep, "mean_cluster_fraction": s.mean_cluster_size_fraction()}


def cost_at_tc(L: int, method: str, chains: int, tau_chains: int, min_seconds: float, max_pilot: int) -> dict:
    """τ_int at T_c from ``sample_ensemble`` on ``tau_chains`` chains (pilot ≤ max_pilot sweeps), and the
    sweep time per chain amortized over ``chains`` chains on all threads."""
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    t0 = time.perf_counter()
    ens = ensembles.sample_ensemble(L, TC, tau_chains * 2, method, seed=1, n_chains=tau_chains, max_pilot=max_pilot)
    t_ens = time.perf_counter() - t0
    sweep = montecarlo.time_sweeps(method, L, TC, chains, seed=2, min_seconds=min_seconds)
    return {"tau_int": ens.tau_int, "tau_int_e": ens.tau_int_e, "tau_int_m": ens.tau_int_m,
            "tau_reliable": ens.tau_reliable, "max_pilot": max_pilot, "pilot_seconds": t_ens,
            "tau_chains": tau_chains, "chains": chains, "sweep_seconds_per_chain": sweep,
            "seconds_per_independent_tau": sweep * ens.tau_int,
            "seconds_per_independent_2tau": sweep * 2 * ens.tau_int}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: same lattices and JSON keys, short timings, capped τ pilot (a few seconds)")
    ap.add_argument("--max-pilot", type=int, default=1 << 15,
                    help="cap on the τ_int pilot length in sweeps (default 32768; --quick uses 512)")
    args = ap.parse_args()
    quick = args.quick
    min_s = 0.05 if quick else 1.0
    all_threads = numba.config.NUMBA_NUM_THREADS
    torch_threads = torch.get_num_threads()
    # one 64-lane block per thread, so that "all threads" has work for every thread
    batched = max(2 * montecarlo.LANES, montecarlo.LANES * all_threads)
    out: dict = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                 "numba_threads": all_threads, "numba": numba.__version__, "torch": torch.__version__,
                 "quick": quick, "min_seconds_per_timing": min_s, "loadavg_1min_at_start": os.getloadavg()[0]}

    met = {}
    for L in (64, 256):
        chains = batched
        one = metropolis_numba(L, chains, 1, min_s)
        allt = metropolis_numba(L, chains, all_threads, min_s)
        met[f"L{L}"] = {"chains": chains, "flips_per_ns_1thread": one, "flips_per_ns_all_threads": allt,
                        "flips_per_ns_per_core": allt / all_threads, "all_threads_over_1thread": allt / one}
        print(f"Metropolis numba L={L} chains={chains}: {one:.3f} flips/ns (1 thread), "
              f"{allt:.3f} flips/ns ({all_threads} threads)", flush=True)
    out["metropolis_numba"] = met

    torch.set_num_threads(1)
    ref_chains = montecarlo.LANES if quick else 128
    ref = {"numpy_checkerboard_1thread_L64": metropolis_numpy(64, ref_chains, TC, min_s),
           "torch_checkerboard_cpu_1thread_L64": metropolis_torch(64, ref_chains, "cpu", min_s)}
    torch.set_num_threads(torch_threads)
    if torch.cuda.is_available():
        ref["torch_checkerboard_cuda_L64"] = metropolis_torch(64, 1024, "cuda", min_s)
        ref["torch_checkerboard_cuda_L256"] = metropolis_torch(256, 256, "cuda", min_s)
    out["metropolis_reference"] = ref
    # side by side in this run: the numba kernel (1 thread, L = 64) against the 1-thread references
    numba_one = met["L64"]["flips_per_ns_1thread"]
    out["ratios"] = {"numba_over_numpy_1thread_L64": numba_one / ref["numpy_checkerboard_1thread_L64"],
                     "numba_over_torch_cpu_1thread_L64": numba_one / ref["torch_checkerboard_cpu_1thread_L64"]}
    print("reference: " + ", ".join(f"{k} {v:.3f} flips/ns" for k, v in ref.items())
          + "; numba/numpy x{:.1f}".format(out["ratios"]["numba_over_numpy_1thread_L64"]), flush=True)

    wolff = {}
    for L in (16, 64):
        w1 = wolff_rate(L, 16, 1, min_s)
        wa = wolff_rate(L, 16, all_threads, min_s)
        wolff[f"L{L}"] = {"chains": 16, "1thread": w1, "all_threads": wa,
                          "clusters_per_s_1thread": w1["clusters_per_s"],
                          "clusters_per_s_all_threads": wa["clusters_per_s"]}
        print(f"Wolff at Tc L={L}: {w1['clusters_per_s']:.3g} clusters/s (1 thread), "
              f"{wa['clusters_per_s']:.3g} clusters/s ({all_threads} threads); mean cluster "
              f"{wa['mean_cluster_fraction']:.2f} N", flush=True)
    out["wolff_at_tc"] = wolff

    cost = {}
    for L in (16, 64):
        for method, chains, tau_chains in (("metropolis", batched, montecarlo.LANES), ("wolff", 16, 16)):
            max_pilot = 512 if quick else args.max_pilot
            c = cost_at_tc(L, method, chains, tau_chains, min_s, max_pilot)
            cost[f"{method}_L{L}"] = c
            print(f"T_c cost {method} L={L}: tau_int {c['tau_int']:.2f} sweeps"
                  f"{'' if c['tau_reliable'] else ' (pilot < 50 tau: unreliable)'}, sweep "
                  f"{c['sweep_seconds_per_chain'] * 1e6:.2f} µs per chain, "
                  f"{c['seconds_per_independent_tau'] * 1e6:.1f} µs per independent configuration (tau), "
                  f"{c['seconds_per_independent_2tau'] * 1e6:.1f} µs (2 tau)", flush=True)
    out["cost_at_tc"] = cost
    out["wolff_over_metropolis_cost_at_tc"] = {
        f"L{L}": cost[f"wolff_L{L}"]["seconds_per_independent_tau"] / cost[f"metropolis_L{L}"]["seconds_per_independent_tau"]
        for L in (16, 64)}
    out["target_flips_per_ns_per_core"] = 0.5
    out["meets_target"] = bool(met["L64"]["flips_per_ns_1thread"] >= 0.5 and met["L256"]["flips_per_ns_1thread"] >= 0.5)
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
