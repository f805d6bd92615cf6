"""What the paper profile costs: network work counted from ``params/paper.yaml``, timed per step here.

The paper profile (L = 64, 64-channel U-Nets with four resolutions, 46,875 optimizer steps per run,
1000 samples at each of 31 test temperatures, ancestral DDPM-1000) is meant for a GPU node and has
never run here. This benchmark makes its expected run time an arithmetic of measured numbers:

1. **Work, counted from the profile** for every ``04-train`` run: optimizer steps (a run whose
   training parameters equal an earlier run's reuses its checkpoint and adds none), and network
   evaluations (NFE) of sampling: ``n_samples`` × temperatures × the sampler's NFE per sample, plus
   the training-budget snapshots (``TrainConfig.snapshot_schedule`` × ``budget_T`` × ``n_budget`` × NFE).
2. **Time per unit, measured on this machine** side by side in one process: one optimizer step at
   the profile's batch (median of ``--steps`` steps after a warm-up step; the GAN's step includes
   its ``n_critic`` critic steps) and one NFE of sampling per configuration (one network evaluation
   of a batch of ``--batch``, divided by the batch), for every network shape the profile uses.
3. **The product**, in hours of this machine. For a GPU node the benchmark prints the same work at a
   GPU/CPU throughput ratio it does not measure (``--gpu-speedup``, an assumption, stated in the
   output): a GPU was not available here.

Left out, and said so in the JSON: the Monte Carlo chapter (CPU work whose sweep count adapts to the
measured autocorrelation time; ``benchmarks/mc_throughput.py`` times its sweeps), validation losses
(≤ 2 % of the training steps' cost at ``val_every`` = 1000), chapters 05–08 (fidelity statistics,
reweighting and the images chapter: small next to training and sampling at L = 64).

Usage: ``python benchmarks/paper_profile_estimate.py [--quick] [--threads N] [--gpu-speedup 50]``.
``--quick`` replaces every network by a 4-channel one at L = 16 (a few seconds; same code paths and
JSON keys). The last line of the output is JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
import torch

from adsorbstudy.analysis import scaling
from adsorbstudy.generators.families import build, hparams_from
from adsorbstudy.generators.train import fit, TrainConfig
from adsorbstudy.physics import grids
from adsorbstudy.study.profile import load_profile


def work(profile: str) -> list[dict]:
    """Per ``04-train`` run: kind, hparams, batch, optimizer steps (0 when the checkpoint is shared) and
    sampling NFE per configuration summed over its sampling (test grid or ``sample_T``, and snapshots)."""
    prof = load_profile(profile)
    trained, rows = set(), []
    for run in prof.runs:
        if run.notebook != "04-train":
            continue
        p = run.values()  # the notebook's defaults where the profile sets none
        hp = hparams_from(p)
        model = build(p["model"], p["L"], **hp)
        steps_arg = None
        if p["model"] == "ddpm" and p["sample_steps"] not in (0, p["n_steps"]):
            steps_arg = p["sample_steps"]
        nfe = model.nfe_for(steps_arg)
        temps = p["sample_T"] or grids.test_grid(p["test_start"], p["test_stop"], p["test_step"])
        key = json.dumps([p["model"], p["L"], hp, p["grid"], p["steps"], p["batch"], p["lr"], p.get("ema", 0.0),
                          p["seed"], p["snapshot_every"], p["snapshot_steps"]], sort_keys=True)
        steps = 0 if key in trained else p["steps"]
        trained.add(key)
        snaps = len(TrainConfig(steps=p["steps"], snapshot_every=p["snapshot_every"],
                                   snapshot_steps=list(p["snapshot_steps"])).snapshot_schedule())
        sample_nfe = p["n_samples"] * len(temps) * nfe + snaps * len(p["budget_T"]) * p["n_budget"] * nfe
        rows.append(dict(run=run.name, kind=p["model"], L=p["L"], hparams=hp, batch=p["batch"], steps=steps,
                         nfe_per_sample=nfe, n_T=len(temps), sample_config_nfe=int(sample_nfe),
                         launcher=p.get("launcher", "none")))
    return rows


def shape_key(row: dict) -> str:
    """Runs whose networks cost the same per step and per NFE (K and n_steps change only how many)."""
    hp = {k: v for k, v in row["hparams"].items() if k not in ("K", "n_steps", "t_min", "t_max", "clip", "lambda_m")}
    return json.dumps([row["kind"].replace("-nolateral", ""), row["L"], hp, row["batch"]], sort_keys=True)


def time_training_step(kind: str, L: int, hparams: dict, batch: int, n_steps: int) -> float:
    """Median seconds of one optimizer step (after one warm-up step) of ``train.fit`` on random spins."""
    rng = np.random.default_rng(0)
    data = {T: rng.choice(np.array([-1, 1], dtype=np.int8), size=(max(2 * batch, 40), L, L)) for T in (2.0, 3.0)}
    marks = []
    cfg = TrainConfig(steps=n_steps + 1, batch=batch, val_every=10**6, ckpt_every=10**6, seed=0)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        model = build(kind, L, **hparams)
        fit(model, data, cfg, d, progress=False, callback=lambda step, loss: marks.append(time.perf_counter()))
    return statistics.median(np.diff(marks))


def time_nfe(kind: str, L: int, hparams: dict, batch: int) -> float:
    """Seconds of one sampling NFE per configuration: one network evaluation of ``batch`` configurations
    in the model's real sampler, divided by ``batch`` (best of two)."""
    model = build(kind, L, **hparams).eval()
    scaling.run_sampler(model, 2, None, max_nfe=1)           # warm-up
    best = math.inf
    for _ in range(2):
        t, nfe, _ = scaling.run_sampler(model, batch, None, max_nfe=1)
        best = min(best, t / max(nfe, 1))
    return best / batch


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps per network shape")
    ap.add_argument("--batch", type=int, default=256, help="sampling batch of the NFE timing")
    ap.add_argument("--gpu-speedup", type=float, default=50.0,
                    help="ASSUMED throughput of the GPU node's GPU(s) relative to this machine's cores for the "
                         "network work (not measured here)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    for name, ok, what in (("threads", a.threads >= 1, "≥ 1"), ("steps", a.steps >= 1, "≥ 1"),
                           ("batch", a.batch >= 1, "≥ 1"), ("gpu-speedup", a.gpu_speedup > 0, "> 0")):
        if not ok:
            raise SystemExit(f"paper_profile_estimate: --{name} must be {what}")
    torch.set_num_threads(a.threads)
    rows = work(a.profile)
    measured = {}
    for row in rows:
        key = shape_key(row)
        if key in measured:
            continue
        kind, L, hp, batch = row["kind"], row["L"], row["hparams"], row["batch"]
        if a.quick:
            L, batch = 16, 8
            hp = {k: (4 if k in ("base", "ngf", "ndf") else 8 if k == "emb_dim" else min(v, 2) if k == "depth" else v)
                  for k, v in hp.items()}
        measured[key] = dict(step_seconds=time_training_step(kind, L, hp, batch, a.steps),
                             nfe_seconds_per_config=time_nfe(kind, L, hp, 8 if a.quick else a.batch))
        print(f"{kind:22s} L={L:3d} {json.dumps({k: v for k, v in hp.items() if k in ('base', 'depth', 'ngf', 'ndf')})}: "
              f"{measured[key]['step_seconds']:.3f} s/step, "
              f"{1e3 * measured[key]['nfe_seconds_per_config']:.3f} ms per NFE and configuration", flush=True)
    total_train = total_sample = 0.0
    for row in rows:
        m = measured[shape_key(row)]
        row["train_hours_here"] = row["steps"] * m["step_seconds"] / 3600
        row["sample_hours_here"] = row["sample_config_nfe"] * m["nfe_seconds_per_config"] / 3600
        total_train += row["train_hours_here"]
        total_sample += row["sample_hours_here"]
    here = total_train + total_sample
    out = {"benchmark": "paper_profile_estimate", "profile": a.profile, "quick": a.quick, "threads": a.threads,
           "runs": rows, "per_shape": measured,
           "hours_here": {"train": total_train, "sample": total_sample, "total": here},
           "assumed_gpu_speedup": a.gpu_speedup,
           "estimate_hours_gpu_node": here / a.gpu_speedup,
           "excluded": ["Monte Carlo chapter (CPU; benchmarks/mc_throughput.py)", "validation losses",
                        "chapters 05-08 statistics and reweighting"]}
    print(f"paper profile network work on this machine ({a.threads} threads): {total_train:.1f} h training + "
          f"{total_sample:.1f} h sampling = {here:.1f} h; at an ASSUMED GPU speed-up of {a.gpu_speedup:g}x: "
          f"{here / a.gpu_speedup:.1f} h (an estimate, not a measurement)")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
