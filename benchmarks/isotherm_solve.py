"""Throughput of the vectorized Eq. 6 solver on one core, against scipy.optimize.brentq per point.

Usage: python benchmarks/isotherm_solve.py [--quick] [--n 1000000] [--n-ref 3000] [--seed 0]
(``--quick``: 20 000 points, 200 reference points; the same code paths and JSON keys, a few seconds.)

Draws n random (x_b, eps_s, eps_a) points (x_b logit-uniform in [-12, 12], eps_s in
[-10, 10], eps_a in [-3, 1]; the fraction of points with three roots is printed),
solves for the equilibrium root with ``adsorbstudy.physics.isotherm.solve`` and, on a
subsample, with a simple reference: scipy's brentq on the equilibrium root's
monotone bracket (the same bracket logic, one Python call per point). Both are
timed in this run, on one thread, and must agree. The last line is JSON.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"  # one core, set before numpy / numba import

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402
from scipy.special import expit  # noqa: E402

from adsorbstudy.physics import isotherm as iso  # noqa: E402


def reference_equilibrium(xb: float, eps_s: float, eps_a: float, za: float, zb: float) -> float:
    """Equilibrium root by brentq: bracket the low or high root (chosen by h vs g/2), then solve."""
    g = eps_a * za
    h = math.log(xb) - math.log1p(-xb) - eps_s + eps_a * zb * xb
    f = lambda u: u + g * expit(u) - h  # noqa: E731
    lo, hi = h - max(g, 0.0), h - min(g, 0.0)
    if g < -4.0:
        q = math.sqrt(1.0 + 4.0 / g)
        up = 2.0 * math.atanh(q)
        if h > g / 2:  # high root, on [u+, h - g] unless only the low piece has a root
            lo = max(up, lo) if f(up) <= 0 else lo
            hi = hi if f(up) <= 0 else -up
        else:
            hi = min(-up, hi) if f(-up) >= 0 else hi
            lo = lo if f(-up) >= 0 else up
    if lo == hi:
        return lo
    return brentq(f, lo, hi, xtol=1e-14, rtol=1e-15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="points for the vectorized solver (>= 1000)")
    ap.add_argument("--n-ref", type=int, default=3000, help="points for the brentq reference (>= 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: --n 20000 --n-ref 200 (same code paths and JSON keys)")
    a = ap.parse_args()
    if a.quick:
        a.n, a.n_ref = 20_000, 200
    if a.n < 1000:
        ap.error("--n must be >= 1000")
    if a.n_ref < 100 or a.n_ref > a.n:
        ap.error("--n-ref must be in [100, n]")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # the env vars above already pin BLAS / OpenMP
        pass

    rng = np.random.default_rng(a.seed)
    xb = expit(rng.uniform(-12, 12, a.n))
    es = rng.uniform(-10, 10, a.n)
    ea = rng.uniform(-3, 1, a.n)
    za, zb = 4.0, 6.0

    iso.solve(xb[:100], es[:100], ea[:100], za, zb, space="logit")  # compile / load the cached kernel
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        u = iso.solve(xb, es, ea, za, zb, space="logit")
        times.append(time.perf_counter() - t0)
    t_vec = min(times)
    rate = a.n / t_vec

    g = ea * za
    h = np.log(xb) - np.log1p(-xb) - es + ea * zb * xb
    res = np.abs(u + g * expit(u) - h)
    n_three = min(a.n, 2000 if a.quick else 20000)
    three = np.array([iso.roots(xb[i], es[i], ea[i], za, zb).size == 3 for i in range(n_three)])

    t0 = time.perf_counter()
    ref = np.array([reference_equilibrium(xb[i], es[i], ea[i], za, zb) for i in range(a.n_ref)])
    t_ref = time.perf_counter() - t0
    ref_rate = a.n_ref / t_ref
    diff = float(np.max(np.abs(ref - u[: a.n_ref]) / (1 + np.abs(ref))))

    print(f"vectorized solve: {a.n} points in {t_vec:.3f} s (best of 3) -> {rate:.3e} points/s")
    print(f"brentq reference: {a.n_ref} points in {t_ref:.3f} s -> {ref_rate:.3e} points/s")
    print(f"speed-up x{rate / ref_rate:.0f}; max rel. difference to brentq {diff:.1e}; "
          f"max |residual| {res.max():.1e}; three-root fraction {three.mean():.2f}")
    if diff > 1e-9 or res.max() > 1e-9:
        raise SystemExit("vectorized solver disagrees with the reference")
    print(json.dumps({
        "points_per_s": round(rate),
        "n_points": a.n,
        "seconds": round(t_vec, 4),
        "reference": "scipy.optimize.brentq per point",
        "reference_points_per_s": round(ref_rate),
        "speedup_vs_reference": round(rate / ref_rate, 1),
        "max_rel_diff_vs_reference": diff,
        "max_abs_residual_logit": float(res.max()),
        "three_root_fraction": round(float(three.mean()), 3),
        "three_root_sample": n_three,
        "threads": 1,
        "quick": a.quick,
    }))


if __name__ == "__main__":
    main()
