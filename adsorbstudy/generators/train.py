"""One training loop for every generator: seeded, checkpointed, resumable, deterministic on CPU.

``fit(model, data, cfg, ckpt_dir)`` trains on MC configurations (``data``: dict T → int8 (n, L, L)
±1). A fixed fraction of each temperature's frames is held out for validation. Checkpoints
(model, optimizers, EMA, step, torch RNG states, history, best validation score) are written
atomically every ``ckpt_every`` steps and load with ``torch.load(weights_only=True)``; a run
interrupted and resumed from its last checkpoint ends with bitwise the weights of the
uninterrupted run on the CPU (same seed, same config). The model with the lowest validation
loss is kept (seed 004 kept the minimum-loss model).

Under torchrun the same ``fit`` trains data-parallel with DistributedDataParallel (the U-Net
models; see ``adsorbstudy.generators.distributed``): same global batch, same random streams, rank 0 writes.

CUDA speed options (``TrainConfig.bf16``, ``TrainConfig.compile``): bf16 autocast of the network
and ``torch.compile`` of the loss. On a CPU device both are refused with a one-line ValueError
naming the field, before the Monte Carlo data or the training start. Refused, not ignored: the
option is part of the run's parameters and cache key, so ignoring it would store fp32 eager
weights under a key that says bf16 (or compiled), and a profile would mean different things on
different machines.

``train_run(name, params, profile)`` is the study's entry point: MC data from
``adsorbstudy.physics.ensembles.cached_ensembles``, a checkpoint keyed by the parameters in the artifact
store (reused when present and intact), and ``results/<profile>/models/<name>.json``.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..study.runtime import pick_device, repo_root, results_dir, seed_everything
from ..study.seeds import seed_for
from ..study.store import atomic_write, atomic_write_json, file_lock, params_key, study_store
from ..study.validate import check_T
from . import ranks
from .blocks import RankSlice
from .families import build, KINDS
from .trainconfig import config_key, CUDA_OPTIONS, TrainConfig

CKPT_VERSION = 1
#: Version of the training loop's numbers (part of every checkpoint's cache key; see
#: adsorbstudy.study.codeversion). Bump it with any change to train_run/fit that alters trained weights.
TRAIN_VERSION = 2


# --------------------------------------------------------------------------- data
def split_data(data: dict, cfg: TrainConfig, L: int | None = None):
    """(train_x, train_T, val_x, val_T) as torch tensors: int8 (N, L, L) and float32 (N,).

    The held-out frames of each temperature are a seeded random subset (seed ``cfg.seed``)."""
    if not isinstance(data, dict) or not data:
        raise ValueError("data must be a non-empty dict temperature → int8 array (n, L, L) of ±1")
    rng = np.random.default_rng(cfg.seed)
    tx, tT, vx, vT = [], [], [], []
    for T in sorted(data):
        x = np.asarray(data[T])
        check_T(float(T), "data: temperature")
        if x.ndim != 3 or x.shape[1] != x.shape[2] or (L is not None and x.shape[1] != L):
            raise ValueError(f"data[{T}]: expected shape (n, {L or 'L'}, {L or 'L'}); got {x.shape}")
        if x.shape[0] < 2:
            raise ValueError(f"data[{T}]: need at least 2 frames (training and validation); got {x.shape[0]}")
        if not np.all(np.abs(x) == 1):
            raise ValueError(f"data[{T}]: spins must be ±1")
        perm = rng.permutation(x.shape[0])
        nv = min(cfg.val_max, max(1, int(round(cfg.val_fraction * x.shape[0]))))
        vi, ti = perm[:nv], perm[nv:]
        tx.append(x[ti]); tT.append(np.full(len(ti), float(T)))
        vx.append(x[vi]); vT.append(np.full(len(vi), float(T)))
    cat = lambda a, dt: torch.as_tensor(np.concatenate(a)).to(dt)
    return cat(tx, torch.int8), cat(tT, torch.float32), cat(vx, torch.int8), cat(vT, torch.float32)


# --------------------------------------------------------------------------- helpers
def _optimizers(model, cfg: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    if hasattr(model, "make_optimizers"):
        return model.make_optimizers(cfg.lr, cfg.weight_decay)
    return {"main": torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)}


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if cfg.lr_schedule == "constant":
        return cfg.lr
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))


def _ema_update(ema: dict, model, decay: float) -> None:
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v, alpha=1 - decay)
            else:
                ema[k].copy_(v)


def _eval_state(model, ema: dict | None) -> dict:
    return copy.deepcopy(ema if ema is not None else model.state_dict())


def validation_loss(model, vx: torch.Tensor, vT: torch.Tensor, seed: int, batch: int = 256) -> float:
    """The model's validation loss on held-out frames with a fixed random stream (``seed``), so that
    successive evaluations differ only through the weights."""
    g = torch.Generator().manual_seed(seed)
    dev = model.device
    if hasattr(model, "val_loss"):
        return float(model.val_loss(vx.to(dev), vT.to(dev), g))
    was = model.training
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, vx.shape[0], batch):
            xs, ts = vx[i:i + batch].to(dev), vT[i:i + batch].to(dev)
            tot += float(model.loss(xs, ts, g)) * xs.shape[0]
            n += xs.shape[0]
    model.train(was)
    return tot / n


def _save(path: Path, obj: dict) -> None:
    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        torch.save(obj, buf)
        tmp.write_bytes(buf.getvalue())
    atomic_write(path, write)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def snapshot_path(ckpt_dir: Path | str, step: int) -> Path:
    """Where ``fit`` keeps the weights of step ``step`` when ``snapshot_every`` or ``snapshot_steps`` asks."""
    return Path(ckpt_dir) / f"snap-{step:09d}.pt"




def check_cuda_options(cfg: TrainConfig, device, kind: str | None = None) -> None:
    """ValueError naming the field when bf16 autocast or torch.compile is asked for off CUDA (see module
    docstring), or for a GAN (``kind``), whose own training step they would not reach."""
    for opt in CUDA_OPTIONS:
        if getattr(cfg, opt) and torch.device(device).type != "cuda":
            raise ValueError(f"train config {opt}: a CUDA-only speed option; the device is {device} (set {opt} false)")
        if getattr(cfg, opt) and kind is not None and kind not in DDP_KINDS:
            raise ValueError(f"train config {opt}: applies to the models {', '.join(DDP_KINDS)}; not to {kind}")


#: The models DistributedDataParallel trains. The GANs are excluded: BatchNorm in the generator and
#: gan-m's magnetization loss are statistics of the whole batch, which a rank's slice does not reproduce.
DDP_KINDS = ("adsorption", "adsorption-nolateral", "adsorption-checkerboard", "ddpm")


def check_data_parallel(kind: str, batch: int, world: int) -> None:
    """ValueError naming the field unless ``kind`` trains under DDP and ``batch`` splits evenly over ``world`` ranks."""
    if world > 1 and kind not in DDP_KINDS:
        raise ValueError(f"launcher: data-parallel training (torchrun) covers the models {', '.join(DDP_KINDS)}; "
                         f"model {kind} trains in one process (launcher none)")
    if batch % world:
        raise ValueError(f"train config batch: the global batch {batch} must be divisible by the number of "
                         f"processes {world} (each trains batch / {world} frames per step)")


class _Loss(torch.nn.Module):
    """The model's training loss as a module's forward, so DistributedDataParallel (which syncs the
    gradients of what its forward used) and torch.compile can wrap it."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, T, generator=None):
        return self.model.loss(x, T, generator)


def _loss_fn(model, cfg: TrainConfig, dev: torch.device):
    """``f(x, T) → loss`` of this rank's slice: the model's loss, wrapped in DDP under torchrun, compiled
    and under bf16 autocast when asked for."""
    mod = _Loss(model)
    noise = None
    if ranks.active():
        mod = torch.nn.parallel.DistributedDataParallel(mod, device_ids=[dev.index] if dev.type == "cuda" else None)
        noise = RankSlice(None, ranks.rank(), ranks.world())  # the global RNG, the global batch's draws
    if cfg.compile:
        mod = torch.compile(mod)

    def f(x, T):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.bf16):
            return mod(x, T, noise)
    return f


# --------------------------------------------------------------------------- the loop
def fit(model, data: dict, cfg: TrainConfig | dict, ckpt_dir: Path | str, progress: bool = True,
        callback: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``data`` (dict T → int8 (n, L, L) ±1) with ``cfg``, checkpointing in ``ckpt_dir``.

    ``data`` may instead be a tuple (train_x, train_c, val_x, val_c) already split: ±1 images (N, L, L)
    and their conditions (N,) (class labels for the images chapter, whose split is fixed elsewhere).
    Resumes from ``ckpt_dir/last.pt`` when present (written by the same config, else ValueError).
    ``callback(step, loss)`` runs after every step (tests use it to interrupt a run).
    Inside a torchrun process group (``adsorbstudy.generators.distributed``) it trains data-parallel: each rank
    takes its ``cfg.batch / world`` slice of the global batch, DDP averages the gradients, and
    only rank 0 writes checkpoints and shows progress; the logged loss is the global batch's.
    On return the model holds the weights with the best validation loss (EMA weights when
    ``cfg.ema`` > 0). Returns the history: {"step", "loss"} per step, {"val_step", "val_loss"},
    "best_val", "best_step", "final_val", "steps", "seconds" (wall clock, summed over resumes),
    "stopped" ("steps" or "time").
    """
    cfg = TrainConfig.from_dict(cfg)
    ckpt_dir = Path(ckpt_dir)
    L = getattr(model, "L", None)
    dev = model.device
    check_cuda_options(cfg, dev, getattr(model, "kind", None))
    rank, world = ranks.rank(), ranks.world()
    main = rank == 0
    snap_at = set(cfg.snapshot_schedule())
    if world > 1:
        check_data_parallel(model.kind, cfg.batch, world)
    progress = progress and main
    tx, tT, vx, vT = data if isinstance(data, tuple) else split_data(data, cfg, L)
    tx_dev, tT_dev = tx.to(dev), tT.to(dev)
    opts = _optimizers(model, cfg)
    data_gen = torch.Generator().manual_seed(seed_for(cfg.seed, "train-batches"))
    ema = copy.deepcopy(model.state_dict()) if cfg.ema > 0 else None
    hist: dict[str, Any] = {"step": [], "loss": [], "val_step": [], "val_loss": [], "best_val": float("inf"),
                            "best_step": -1, "final_val": float("nan"), "steps": 0, "seconds": 0.0, "stopped": ""}
    best_state = None
    step = 0
    last = ckpt_dir / "last.pt"
    if last.exists():
        ck = _load(last)
        if ck.get("cfg") != config_key(cfg) or ck.get("version") != CKPT_VERSION:
            raise ValueError(f"ckpt_dir {ckpt_dir}: its checkpoint was written with another config; "
                             f"use a fresh directory (checkpoint cfg {ck.get('cfg')})")
        model.load_state_dict(ck["model"])
        for k, o in opts.items():
            o.load_state_dict(ck["opts"][k])
        if ema is not None:
            ema = ck["ema"]
        torch.set_rng_state(ck["rng"])
        data_gen.set_state(ck["data_rng"])
        hist = ck["history"]
        step = ck["step"]
        if (ckpt_dir / "best.pt").exists():
            best_state = _load(ckpt_dir / "best.pt")["model"]
    else:
        seed_everything(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    def draw():
        idx = torch.randint(0, tx.shape[0], (cfg.batch,), generator=data_gen).to(dev)
        if world > 1:  # every rank draws the global batch; this rank trains on its slice
            b = cfg.batch // world
            idx = idx[rank * b:(rank + 1) * b]
        return tx_dev[idx], tT_dev[idx]

    loss_fn = _loss_fn(model, cfg, dev)

    def checkpoint(done: bool) -> None:
        if not main:
            return
        _save(last, {"version": CKPT_VERSION, "cfg": config_key(cfg), "model": model.state_dict(),
                     "opts": {k: o.state_dict() for k, o in opts.items()}, "ema": ema,
                     "rng": torch.get_rng_state(), "data_rng": data_gen.get_state(),
                     "history": hist, "step": step, "done": done})

    from ..study.runtime import progress_bar
    bar = progress_bar(total=cfg.steps, initial=step, disable=not progress, desc=f"train {getattr(model, 'kind', '')}")
    t0, base_seconds = time.perf_counter(), hist["seconds"]
    model.train()
    stopped = hist.get("stopped") or ""
    while step < cfg.steps and not stopped:
        lr = _lr_at(step, cfg)
        for o in opts.values():
            for grp in o.param_groups:
                grp["lr"] = lr
        if hasattr(model, "train_step"):
            loss = model.train_step(draw, opts)
        else:
            x, T = draw()
            lt = loss_fn(x, T)
            opts["main"].zero_grad(set_to_none=True)
            lt.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opts["main"].step()
            loss = ranks.mean_over_ranks(float(lt.detach()), dev)
        if ema is not None:
            _ema_update(ema, model, cfg.ema)
        step += 1
        hist["step"].append(step)
        hist["loss"].append(loss)
        if main and step in snap_at:
            _save(snapshot_path(ckpt_dir, step), {"model": _eval_state(model, ema), "step": step})
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)  # shown by the update, within its refresh interval
        bar.update(1)
        if step % cfg.val_every == 0 or step == cfg.steps:
            live = None
            if ema is not None:
                live = copy.deepcopy(model.state_dict())
                model.load_state_dict(ema)
            v = validation_loss(model, vx, vT, seed_for(cfg.seed, "train-validation"))
            # a model whose score changes its yardstick between checkpoints (the GAN's own critic) keeps the last
            if v < hist["best_val"] or getattr(model, "selects_last_checkpoint", False):
                hist["best_val"], hist["best_step"] = v, step
                best_state = _eval_state(model, None)
                if main:
                    _save(ckpt_dir / "best.pt", {"model": best_state, "step": step, "val": v})
            if live is not None:
                model.load_state_dict(live)
            hist["val_step"].append(step)
            hist["val_loss"].append(v)
            hist["final_val"] = v
            hist["seconds"] = base_seconds + time.perf_counter() - t0
            # rank 0's clock decides for every rank, so that all ranks stop at the same step
            if ranks.broadcast_flag(bool(cfg.max_seconds) and hist["seconds"] > cfg.max_seconds and step < cfg.steps):
                stopped = "time"
        hist["steps"] = step
        if step % cfg.ckpt_every == 0 or step == cfg.steps or stopped:
            hist["seconds"] = base_seconds + time.perf_counter() - t0
            hist["stopped"] = stopped or ("steps" if step == cfg.steps else "")
            checkpoint(done=step == cfg.steps or bool(stopped))
        if callback is not None:
            callback(step, loss)
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    elif ema is not None:
        model.load_state_dict(ema)
    model.eval()
    return hist


# --------------------------------------------------------------------------- the study's runs
MODEL_KEYS = ("kind", "L", "grid", "n_per_T", "mc_seed", "method", "mc_backend", "hparams", "train")


def _check_run_params(params: dict) -> None:
    if not isinstance(params, dict):
        raise ValueError("params must be a dict with keys " + ", ".join(MODEL_KEYS))
    unknown = set(params) - set(MODEL_KEYS)
    if unknown:
        raise ValueError(f"params: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(MODEL_KEYS)}")
    if params.get("kind") not in KINDS:
        raise ValueError(f"params.kind must be one of {', '.join(KINDS)}; got {params.get('kind')!r}")
    if params.get("grid") not in ("coarse", "fine"):
        raise ValueError(f"params.grid must be one of coarse, fine; got {params.get('grid')!r}")
    n = params.get("n_per_T")
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"params.n_per_T must be an integer ≥ 2; got {n!r}")
    if params.get("method", "auto") not in ("auto", "metropolis", "wolff"):
        raise ValueError(f"params.method must be one of auto, metropolis, wolff; got {params.get('method')!r}")
    if params.get("mc_backend", "numba") not in ("numba", "torch"):
        raise ValueError(f"params.mc_backend must be one of numba, torch; got {params.get('mc_backend')!r}")


def model_json_path(name: str, profile: str) -> Path:
    return results_dir(profile) / "models" / f"{name}.json"


def training_ensembles(params: dict, profile: str, device: str = "auto", progress: bool = True) -> dict:
    """The MC training ensembles of a run, {T: Ensemble}, from the profile's store (computed if missing)."""
    from ..physics.ensembles import cached_ensembles
    from ..physics.grids import TRAIN_GRIDS

    mc_dev = None if params.get("mc_backend", "numba") == "numba" else pick_device(device)
    kw = {"device": mc_dev} if mc_dev is not None else {}
    return cached_ensembles(study_store(profile), params["L"], list(TRAIN_GRIDS[params["grid"]]), params["n_per_T"],
                            method=params.get("method", "auto"), seed=seed_for(params.get("mc_seed", 0), "mc-train"),
                            progress=progress, **kw)


def discard_stale_checkpoints(store, ckpt_dir: Path) -> list[Path]:
    """Delete the checkpoints in ``ckpt_dir`` that a forced run must not resume from; return them.

    A checkpoint is stale when ``store.stale`` says so: under ``adsorbstudy study --force``, when it
    was written before the batch started. ``fit`` would otherwise resume from the ``last.pt`` of the
    earlier, finished run and return its weights untrained. A checkpoint the forced batch wrote
    itself (an interrupted forced run) is kept, so that run resumes. Each file is judged alone: a
    fresh ``last.pt`` beside a stale ``best.pt`` means the forced run has not validated yet, and its
    history's best score is still +inf, so the stale ``best.pt`` must go too.
    """
    gone = []
    for f in sorted(Path(ckpt_dir).glob("*.pt")):
        if store.stale(f):
            f.unlink()
            gone.append(f)
    return gone


def code_versions(kind: str) -> dict:
    """The versions of the code behind a checkpoint of ``kind`` (``adsorbstudy.study.codeversion``): the training
    loop, the model family and the Monte Carlo of its training data. Part of the checkpoint's key."""
    from ..physics import ensembles
    from . import adsorption, checkerboard, ddpm, gan

    family = {"adsorption": adsorption, "adsorption-nolateral": adsorption, "adsorption-checkerboard": checkerboard,
              "ddpm": ddpm, "gan": gan, "gan-m": gan}
    out = {"train": TRAIN_VERSION, "model": family[kind].VERSION, "ising": ensembles.VERSION}
    if family[kind] is checkerboard:
        # its class extends the mean-field generator, whose code its own version does not cover
        out["adsorption"] = adsorption.VERSION
    return out


def checkpoint_key(params: dict) -> dict:
    """What a run's model and checkpoints are keyed by: its parameters and ``code_versions`` of its kind,
    so that new code which changes the numbers gets a new checkpoint."""
    return params | {"code": code_versions(params["kind"])}


def check_trainable(params: dict, device: str = "auto", nproc: int = 1) -> None:
    """The checks ``train_run`` makes before any Monte Carlo or training: the run's keys, the model's
    architecture, the CUDA-only options on this device, and data parallelism over ``nproc`` ranks."""
    _check_run_params(params)
    cfg = TrainConfig.from_dict(params.get("train", {}))
    build(params["kind"], params["L"], **params.get("hparams", {}))
    check_cuda_options(cfg, pick_device(device), params["kind"])
    check_data_parallel(params["kind"], cfg.batch, nproc)


def train_run(name: str, params: dict, profile: str, device: str = "auto", progress: bool = True,
              callback: Callable[[int, float], None] | None = None) -> dict:
    """Train (or reuse) the model described by ``params`` and write ``results/<profile>/models/<name>.json``.

    ``params``: {"kind", "L", "grid" ("coarse" | "fine", ``adsorbstudy.physics.grids.TRAIN_GRIDS``),
    "n_per_T" (MC frames per temperature), "mc_seed", "method", "mc_backend" (as in the Monte Carlo
    chapter, so its cached ensembles are reused), "hparams" (model constructor arguments),
    "train" (a :class:`~adsorbstudy.generators.trainconfig.TrainConfig` dict)}. The checkpoint is keyed by a hash of ``params`` and of
    ``code_versions`` in the profile's artifact store; an intact one is reused without training. Under ``--force``
    (``$ADSORBSTUDY_FORCE_SINCE``) the model and the training checkpoints written before the batch
    started are discarded and the model is trained again; an interrupted forced run resumes from
    the checkpoints it wrote itself. Returns the JSON record.

    Inside a torchrun process group (the ranks, started by :mod:`adsorbstudy.generators.distributed`)
    rank 0 writes the model and the JSON.
    ``callback`` is passed to :func:`fit`.
    """
    check_trainable(params, device, ranks.world())  # before MC / training
    cfg = TrainConfig.from_dict(params.get("train", {}))
    L = params["L"]
    dev = ranks.local_device(pick_device(device))
    store = study_store(profile)
    key = checkpoint_key(params)
    final = store.path("models", key, "pt")
    # two runs with the same training parameters (e.g. one model sampled two ways) share a checkpoint:
    # under --jobs the second waits here for the first and then reuses its model
    lock = (file_lock(store.root / "checkpoints" / f"{params_key(key)}.lock") if ranks.world() == 1
            else contextlib.nullcontext())
    with lock:
        if store.valid(final):
            meta = json.loads(final.with_name(final.name.split(".")[0] + ".meta.json").read_text())
            info = meta["train"]
        else:
            if not ranks.is_main():  # rank 0 computes missing ensembles and discards stale checkpoints first
                ranks.barrier()
            ens = training_ensembles(params, profile, device, progress)
            data = {float(T): np.asarray(e.configs) for T, e in ens.items()}
            ckpt_dir = store.root / "checkpoints" / params_key(key)
            if ranks.is_main():
                discard_stale_checkpoints(store, ckpt_dir)
                ranks.barrier()
            seed_everything(cfg.seed)
            model = build(params["kind"], L, **params.get("hparams", {})).to(dev)
            hist = fit(model, data, cfg, ckpt_dir, progress=progress, **({"callback": callback} if callback else {}))
            info = {"seconds": hist["seconds"], "steps": hist["steps"], "best_val": hist["best_val"],
                    "best_step": hist["best_step"], "final_val": hist["final_val"], "stopped": hist["stopped"],
                    "device": str(dev), "processes": ranks.world(),
                    "history": {k: hist[k] for k in ("step", "loss", "val_step", "val_loss")}}
            if ranks.is_main():
                _save(final, {"model": model.state_dict()})
                store.commit(final, key, train=info)
            ranks.barrier()
    if not ranks.is_main():
        return {}  # rank 0 writes the record
    model = build(params["kind"], L, **params.get("hparams", {}))
    record = {"name": name, "kind": params["kind"], "L": L, "hparams": model.hparams,
              "training": {k: params[k] for k in ("grid", "n_per_T") if k in params} | {"mc_seed": params.get("mc_seed", 0),
                                                                                      "config": asdict(cfg)},
              "checkpoint": str(final.relative_to(repo_root())) if final.is_relative_to(repo_root()) else str(final),
              "train_seconds": info["seconds"], "steps": info["steps"], "best_val_loss": info["best_val"],
              "best_step": info["best_step"], "final_val_loss": info["final_val"], "stopped": info["stopped"],
              "n_params": model.n_params(), "device": info["device"], "processes": info.get("processes", 1),
              "params_key": params_key(key)}
    old = model_json_path(name, profile)
    if old.exists():
        prev = json.loads(old.read_text())
        if prev.get("params_key") == record["params_key"]:
            # keep what the sampling step added (seconds_per_1000, nfe, ...) for the same model
            record = prev | record
    atomic_write_json(model_json_path(name, profile), record)
    return record


def training_history(name: str, profile: str) -> dict:
    """The loss history {"step", "loss", "val_step", "val_loss"} of a trained run (from the store's sidecar)."""
    rec = json.loads(model_json_path(name, profile).read_text())
    path = repo_root() / rec["checkpoint"]
    meta = json.loads(path.with_name(path.name.split(".")[0] + ".meta.json").read_text())
    return meta["train"]["history"]


def load_trained(name: str, profile: str, device: str = "cpu"):
    """Rebuild the trained model ``name`` of ``profile`` from its JSON and checkpoint (weights_only=True), in eval mode."""
    path = model_json_path(name, profile)
    if not path.exists():
        raise ValueError(f"name: no trained model {name!r} for profile {profile!r} (missing {path})")
    rec = json.loads(path.read_text())
    model = build(rec["kind"], rec["L"], **rec["hparams"])
    ck = _load(repo_root() / rec["checkpoint"])
    model.load_state_dict(ck["model"])
    return model.to(pick_device(device)).eval()


def snapshots(name: str, profile: str, device: str = "cpu") -> Iterator[tuple[int, Any]]:
    """The training snapshots of run ``name`` (``snapshot_every``, ``snapshot_steps``), as (step, model in eval mode), by step.

    Each is the model the run held at that step (its EMA weights when EMA is on); the last one is the
    final step, which is not necessarily the selected model."""
    rec = json.loads(model_json_path(name, profile).read_text())
    ckpt_dir = study_store(profile).root / "checkpoints" / rec["params_key"]
    files = sorted(ckpt_dir.glob("snap-*.pt"))
    if not files:
        raise ValueError(f"name: run {name!r} of profile {profile!r} kept no training snapshots "
                         f"(train it with snapshot_every > 0 or snapshot_steps)")
    for f in files:
        model = build(rec["kind"], rec["L"], **rec["hparams"])
        ck = _load(f)
        model.load_state_dict(ck["model"])
        yield int(ck["step"]), model.to(pick_device(device)).eval()


def update_model_json(name: str, profile: str, **fields_: Any) -> dict:
    """Add fields (e.g. ``seconds_per_1000``, ``nfe``, ``sample_steps``) to a model's JSON, atomically."""
    path = model_json_path(name, profile)
    rec = json.loads(path.read_text()) | fields_
    atomic_write_json(path, rec)
    return rec


def sample_grid(model, temperatures, n: int, seed: int = 0, steps: int | None = None, batch: int = 256,
                progress: bool = True) -> tuple[dict[str, np.ndarray], float, dict]:
    """Sample ``n`` configurations at each temperature: ({f"T={T:.2f}": int8 (n, L, L)}, seconds per 1000
    samples (wall clock of the sampling calls only), summed sampler statistics)."""
    from ..study.runtime import progress_bar

    out, secs, stats = {}, 0.0, {}
    for i, T in enumerate(progress_bar(list(temperatures), disable=not progress, desc="sampling test grid")):
        parts = []
        for j in range(0, n, batch):
            t0 = time.perf_counter()
            parts.append(model.sample(min(batch, n - j), float(T), seed=seed_for(seed, "sample-test-grid", i, j), steps=steps).numpy())
            secs += time.perf_counter() - t0
            for k, v in (getattr(model, "last_sample_stats", None) or {}).items():
                if isinstance(v, (int, float)) and k in ("nonconverged", "pixel_solves"):
                    stats[k] = stats.get(k, 0) + v
                elif k == "max_residual":
                    stats[k] = max(stats.get(k, 0.0), v)
        out[f"T={float(T):.2f}"] = np.concatenate(parts).astype(np.int8)
    total = n * len(out)
    return out, 1000 * secs / total, stats
