"""Cost of the importance-weight bookkeeping: ``sample_with_logprob`` against plain ``sample``.

Both calls run the same sampling loop with the same seed (the samples are checked identical);
the logprob variant also books log p_θ and log q of each trajectory in float64. The two are timed
side by side in one run, interleaved, best of ``--reps`` each, for the adsorption generator and its
no-lateral ablation at the default profile's trunk (L = 16, K = 50, base 16, depth 2, batch 256),
untrained networks with a non-zero head (so the Eq. 6 solve iterates as after training). Target:
ratio ≤ 1.2.

Usage: ``python benchmarks/reweight_overhead.py [--quick] [--threads N] [--batch 256] [--reps 3]``.
``--quick``: tiny networks, L = 8, K = 5, batch 16, one thread, the same JSON keys. The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from adsorbstudy.generators.families import build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke check: tiny networks, same JSON keys")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 2; --quick: 1)")
    ap.add_argument("--batch", type=int, default=None, help="samples per call (default 256; --quick: 16)")
    ap.add_argument("--reps", type=int, default=3, help="timed calls of each variant (best is kept)")
    a = ap.parse_args()
    threads = a.threads or (1 if a.quick else 2)
    batch = a.batch or (16 if a.quick else 256)
    if threads < 1 or batch < 1 or a.reps < 1:
        ap.error("--threads, --batch and --reps must be ≥ 1")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    L, K, trunk = (8, 5, dict(base=4, depth=2, emb_dim=8)) if a.quick else (16, 50, dict(base=16, depth=2, emb_dim=64))
    out = {"quick": a.quick, "threads": threads, "batch": batch, "L": L, "K": K, "reps": a.reps, "T": 2.3,
           "loadavg_1min_at_start": os.getloadavg()[0], "results": []}
    for kind in ("adsorption", "adsorption-nolateral"):
        m = build(kind, L, K=K, **trunk).eval()
        torch.nn.init.normal_(m.net.out.weight, std=0.05)
        m.sample(2, 2.3, seed=0)  # warm-up
        best = {"plain": float("inf"), "logprob": float("inf")}
        same = True
        for rep in range(a.reps):
            for variant in ("plain", "logprob") if rep % 2 == 0 else ("logprob", "plain"):
                t0 = time.perf_counter()
                if variant == "plain":
                    s = m.sample(batch, 2.3, seed=rep)
                else:
                    s2, _, _ = m.sample_with_logprob(batch, 2.3, seed=rep)
                best[variant] = min(best[variant], time.perf_counter() - t0)
            same &= bool(torch.equal(s, s2))
        row = {"kind": kind, "seconds_plain": best["plain"], "seconds_logprob": best["logprob"],
               "ratio": best["logprob"] / best["plain"], "same_samples": same}
        out["results"].append(row)
        print(f"{kind:22s} plain {best['plain']:.3f} s, with log-probabilities {best['logprob']:.3f} s, "
              f"ratio {row['ratio']:.3f} (target ≤ 1.2), identical samples: {same}", flush=True)
    out["max_ratio"] = max(r["ratio"] for r in out["results"])
    out["within_target"] = out["max_ratio"] <= 1.2
    print(json.dumps(out))


if __name__ == "__main__":
    main()
