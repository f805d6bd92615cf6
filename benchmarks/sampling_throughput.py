"""Sampling throughput of every generator on the CPU: samples per second and NFE per sample.

Untrained networks (sampling cost does not depend on the weights, except for the number of Eq. 6
sweeps of the adsorption generator, reported separately below). L = 16 (default-profile trunk) and
L = 64 (paper-profile trunk), batch 256, models: the adsorption generator at several K,
adsorption-nolateral, DDPM ancestral (1000 steps) and DDIM-k at several k, gan and gan-m.

Every row runs the model's real ``sample()``; a forward pre-hook on its network counts the network
evaluations (NFE), and a full run must make exactly ``model.nfe_for(steps)`` of them. A row whose NFE
exceeds the per-L limit (``--full-nfe``, default 50 at L = 16 and 1 at L = 64, where one NFE of
the paper trunk at batch 256 takes tens of seconds on 2 cores) is not run to the end: the hook
stops the sampler at the start of network evaluation ``timed_nfe + 1`` (``--timed-nfe``, default
20 at L = 16 and 1 at L = 64), so ``timed_nfe`` whole iterations of the sampler loop (network,
update, noise, Eq. 6 solve) are timed from the ``sample()`` call. Such rows report
``seconds_per_nfe`` = time / timed_nfe and the implied samples/s = batch / (NFE × seconds_per_nfe),
with ``"extrapolated": true`` in the JSON and "extrapolated from N NFE" in the table.

Usage: ``python benchmarks/sampling_throughput.py [--quick] [--threads N] [--batch 256]``.
``--quick``: the same L, kinds, K and step counts, the same code paths (full and extrapolated rows)
and JSON keys, with tiny networks, batch 8 and one thread (a few seconds). The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch

from adsorbstudy.analysis import scaling
from adsorbstudy.generators.adsorption import solve_equilibrium_logits
from adsorbstudy.generators.families import build

T_SAMPLE = 2.3
LS = (16, 64)
# several K at L = 16; at L = 64 (one timed NFE per row) the paper's K = 100 only
ADSORPTION_K = {16: (10, 25, 50, 100), 64: (100,)}
NOLATERAL_K = {16: 50, 64: 100}          # the profiles' K (default: 50 at L = 16; paper: 100 at L = 64)
DDIM_STEPS = (10, 100)                   # 10: cheap end; 100: matches the adsorption generator's K = 100
TRUNKS = {16: dict(base=16, depth=2, emb_dim=64), 64: dict(base=64, depth=4, emb_dim=256)}
GAN_WIDTH = {16: 32, 64: 64}
QUICK_TRUNK = dict(base=4, depth=2, emb_dim=8)
QUICK_GAN_WIDTH = 4


def run_sampler(model, n: int, steps, max_nfe: int | None = None) -> tuple[float, int, bool]:
    """``scaling.run_sampler`` at this benchmark's temperature: (seconds, network evaluations, finished)."""
    return scaling.run_sampler(model, n, steps, max_nfe=max_nfe, T=T_SAMPLE, seed=0)


def measure(model, n: int, steps, full_nfe: int, timed_nfe: int, rep_seconds: float = 1.0) -> dict:
    """Samples/s and seconds per NFE of one model: the whole sampler if NFE ≤ full_nfe (best of up to
    3 runs while they total < rep_seconds), else ``timed_nfe`` iterations of the sampler loop (extrapolated)."""
    nfe = model.nfe_for(steps)
    run_sampler(model, 2, steps, max_nfe=1)          # warm-up: one network evaluation at a small batch
    if nfe <= full_nfe:
        best, reps, spent = math.inf, 0, 0.0
        while reps < 3 and (reps == 0 or spent < rep_seconds):
            dt, calls, finished = run_sampler(model, n, steps)
            if not finished or calls != nfe:
                raise SystemExit(f"{model.kind}: the sampler made {calls} network evaluations, nfe_for() says {nfe}")
            best, reps, spent = min(best, dt), reps + 1, spent + dt
        return {"nfe": nfe, "samples_per_s": n / best, "seconds_per_nfe": best / nfe, "seconds": best,
                "timed_nfe": nfe, "extrapolated": False, "reps": reps}
    dt, calls, finished = run_sampler(model, n, steps, max_nfe=timed_nfe)
    if finished or calls != timed_nfe:
        raise SystemExit(f"{model.kind}: expected to stop after {timed_nfe} of {nfe} network evaluations")
    spn = dt / timed_nfe
    return {"nfe": nfe, "samples_per_s": n / (nfe * spn), "seconds_per_nfe": spn, "seconds": dt,
            "timed_nfe": timed_nfe, "extrapolated": True, "reps": 1}


def per_l(text: str, name: str) -> dict[int, int]:
    vals = [int(v) for v in text.split(",")]
    if len(vals) != len(LS) or min(vals) < 1:
        raise SystemExit(f"--{name} takes {len(LS)} positive integers (L = {', '.join(map(str, LS))}); got {text!r}")
    return dict(zip(LS, vals))


def ratios(rows: list[dict]) -> dict:
    """Side-by-side ratios from this run, per L: adsorption against DDIM at the same NFE and against
    DDPM-1000 (samples/s), and the adsorption generator's cost per NFE relative to DDIM's."""
    out: dict = {}
    for L in LS:
        r = {row["sampler"]: row for row in rows if row["L"] == L}
        d: dict = {}
        for K in ADSORPTION_K[L]:
            a = r.get(f"adsorption-K{K}")
            if a is None:
                continue
            if f"ddim-{K}" in r:
                d[f"adsorption_K{K}_over_ddim_{K}_samples_per_s"] = a["samples_per_s"] / r[f"ddim-{K}"]["samples_per_s"]
                d[f"adsorption_K{K}_over_ddim_{K}_seconds_per_nfe"] = a["seconds_per_nfe"] / r[f"ddim-{K}"]["seconds_per_nfe"]
            if "ancestral-1000" in r:
                d[f"adsorption_K{K}_over_ddpm_1000_samples_per_s"] = a["samples_per_s"] / r["ancestral-1000"]["samples_per_s"]
        if "gan" in r and "gan-m" in r:
            d["gan_m_over_gan_samples_per_s"] = r["gan-m"]["samples_per_s"] / r["gan"]["samples_per_s"]
        out[f"L{L}"] = d
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: tiny networks, batch 8, same rows and JSON keys (a few seconds)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 2; --quick: 1)")
    ap.add_argument("--batch", type=int, default=None, help="samples per batch (default 256; --quick: 8)")
    ap.add_argument("--full-nfe", default="50,1",
                    help="per L = 16,64: rows with more NFE than this are extrapolated (default 50,1)")
    ap.add_argument("--timed-nfe", default="20,1",
                    help="per L = 16,64: network evaluations timed for an extrapolated row (default 20,1)")
    a = ap.parse_args()
    batch = a.batch or (8 if a.quick else 256)
    threads = a.threads or (1 if a.quick else 2)
    if batch < 1 or threads < 1:
        ap.error("--batch and --threads must be ≥ 1")
    full_nfe, timed_nfe = per_l(a.full_nfe, "full-nfe"), per_l(a.timed_nfe, "timed-nfe")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t_start = time.perf_counter()
    out: dict = {"threads": threads, "batch": batch, "device": "cpu", "T": T_SAMPLE, "quick": a.quick,
                 "loadavg_1min_at_start": os.getloadavg()[0],
                 "full_nfe_limit": {f"L{L}": v for L, v in full_nfe.items()},
                 "timed_nfe_if_extrapolated": {f"L{L}": v for L, v in timed_nfe.items()}, "results": []}
    for L in LS:
        trunk = QUICK_TRUNK if a.quick else TRUNKS[L]
        width = QUICK_GAN_WIDTH if a.quick else GAN_WIDTH[L]
        runs = [("adsorption", f"adsorption-K{K}", dict(K=K, **trunk), None) for K in ADSORPTION_K[L]]
        runs += [("adsorption-nolateral", f"adsorption-nolateral-K{NOLATERAL_K[L]}",
                  dict(K=NOLATERAL_K[L], **trunk), None)]
        runs += [("ddpm", "ancestral-1000", trunk, None)]
        runs += [("ddpm", f"ddim-{s}", trunk, s) for s in DDIM_STEPS]
        runs += [(kind, kind, dict(ngf=width, ndf=width), None) for kind in ("gan", "gan-m")]
        for kind, sampler, hp, steps in runs:
            m = build(kind, L, **hp).eval()
            if kind.startswith("adsorption"):
                # a non-zero head, so that the lateral solve iterates as it does after training
                torch.nn.init.normal_(m.net.out.weight, std=0.05)
            res = measure(m, batch, steps, full_nfe[L], timed_nfe[L], 0.1 if a.quick else 1.0)
            row = {"L": L, "kind": kind, "sampler": sampler, "steps": steps, "batch": batch, **res,
                   "seconds_per_1000": 1000 / res["samples_per_s"], "n_params": m.n_params(), **hp}
            if kind.startswith("adsorption"):
                # pixel solves with |Eq. 6 residual| > tol over the whole run (None when extrapolated)
                row["nonconverged"] = None if res["extrapolated"] else m.last_sample_stats["nonconverged"]
            out["results"].append(row)
            how = (f"extrapolated from {res['timed_nfe']} NFE" if res["extrapolated"]
                   else f"full run, best of {res['reps']}")
            print(f"L={L:3d} {sampler:28s} NFE={res['nfe']:5d} {res['samples_per_s']:11.2f} samples/s  "
                  f"{res['seconds_per_nfe'] * 1e3:9.1f} ms/NFE  ({row['seconds_per_1000']:.3g} s / 1000; {how})",
                  flush=True)
    out["ratios"] = ratios(out["results"])
    for L, d in out["ratios"].items():
        print(f"{L}: " + ", ".join(f"{k} {v:.3g}" for k, v in d.items()), flush=True)
    # the Eq. 6 solve alone: red-black sweeps needed against the strength of the lateral coupling
    g = torch.Generator().manual_seed(0)
    xb = torch.rand((batch, 1, 16, 16), generator=g) * 0.98 + 0.01
    es = torch.randn(xb.shape, generator=g)
    solve = []
    for ea in (-0.25, -0.75, -1.5, -3.0, 0.75):
        eps_a = torch.full_like(xb, ea)
        t0 = time.perf_counter()
        u, res = solve_equilibrium_logits(xb, es, eps_a, max_iter=500)
        dt = time.perf_counter() - t0
        solve.append({"eps_a": ea, "eps_a_za": 4 * ea, "seconds": dt, "max_residual": float(res.max()),
                      "nonconverged_fraction": float((res > 1e-4).float().mean())})
        print(f"Eq. 6 solve, eps_a z_a = {4 * ea:+.1f}: {dt * 1e3:.1f} ms for {batch}×16×16, "
              f"max residual {float(res.max()):.1e}", flush=True)
    out["eq6_solve_L16"] = solve
    out["wall_seconds"] = time.perf_counter() - t_start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
