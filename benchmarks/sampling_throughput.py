"""Sampling throughput of every generator on the CPU: samples per second and NFE per sample.

Untrained networks (sampling cost does not depend on the weights, except for the number of Eq. 6
sweeps of the adsorption generator, reported separately below). L = 16 and 64, batch 256, the
adsorption generator at several K, DDPM ancestral (1000) and DDIM-k.
Usage: ``python benchmarks/sampling_throughput.py [--quick] [--threads N]``. The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from adsorbstudy.models import build
from adsorbstudy.models.adsorption import solve_equilibrium_logits


def rate(model, n: int, steps=None, reps: int = 1) -> float:
    """Samples per second for a batch of n at T = 2.3 (best of ``reps``)."""
    best = float("inf")
    for r in range(reps):
        t0 = time.perf_counter()
        model.sample(n, 2.3, seed=r, steps=steps)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="L = 16 only, fewer configurations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out: dict = {"threads": a.threads, "batch": a.batch, "device": "cpu", "results": []}
    sizes = {16: dict(base=16, depth=2, emb_dim=64), 64: dict(base=64, depth=4, emb_dim=256)}
    if a.quick:
        sizes = {16: sizes[16]}
    for L, trunk in sizes.items():
        n = a.batch if L == 16 else max(1, a.batch // 8)
        runs = [("adsorption", dict(K=K, **trunk), None) for K in ((10, 25, 50, 100) if L == 16 else (10, 50))]
        runs += [("adsorption-nolateral", dict(K=50, **trunk), None)]
        runs += [("ddpm", trunk, s) for s in ((10, 50, None) if L == 16 else (10, 50))]
        runs += [("gan", dict(ngf=32 if L == 16 else 64, ndf=32 if L == 16 else 64), None)]
        for kind, hp, steps in runs:
            m = build(kind, L, **hp).eval()
            if kind.startswith("adsorption"):
                # a non-zero head, so that the lateral solve iterates as it does after training
                torch.nn.init.normal_(m.net.out.weight, std=0.05)
            sps = rate(m, n, steps)
            row = {"L": L, "kind": kind, "nfe": m.nfe(steps), "steps": steps, "batch": n,
                   "samples_per_s": sps, "seconds_per_1000": 1000 / sps, "n_params": m.n_params(), **hp}
            if kind.startswith("adsorption"):
                row["nonconverged"] = m.last_sample_stats["nonconverged"]
            out["results"].append(row)
            print(f"L={L:3d} {kind:22s} NFE={row['nfe']:5d} {sps:9.1f} samples/s  "
                  f"({row['seconds_per_1000']:.2f} s / 1000)", flush=True)
    # the Eq. 6 solve alone: red-black sweeps needed against the strength of the lateral coupling
    g = torch.Generator().manual_seed(0)
    xb = torch.rand((a.batch, 1, 16, 16), generator=g) * 0.98 + 0.01
    es = torch.randn(xb.shape, generator=g)
    solve = []
    for ea in (-0.25, -0.75, -1.5, -3.0, 0.75):
        eps_a = torch.full_like(xb, ea)
        t0 = time.perf_counter()
        u, res = solve_equilibrium_logits(xb, es, eps_a, max_iter=500)
        dt = time.perf_counter() - t0
        solve.append({"eps_a": ea, "eps_a_za": 4 * ea, "seconds": dt, "max_residual": float(res.max()),
                      "nonconverged_fraction": float((res > 1e-4).float().mean())})
        print(f"Eq. 6 solve, eps_a z_a = {4 * ea:+.1f}: {dt * 1e3:.1f} ms for {a.batch}×16×16, "
              f"max residual {float(res.max()):.1e}", flush=True)
    out["eq6_solve_L16"] = solve
    print(json.dumps(out))


if __name__ == "__main__":
    main()
