"""Data-parallel training with PyTorch's own engine: ``torch.distributed`` + DistributedDataParallel.

Launch. ``torchrun --nproc_per_node=N -m adsorbstudy.generators.distributed --name NAME --profile P --params JSON``
(add ``--nnodes``/``--node_rank``/``--rdzv_endpoint`` for several machines) runs
:func:`adsorbstudy.generators.train.train_run` — the study's own code path — on N ranks. A 04-train run asks for
it with the notebook parameters ``launcher: torchrun`` and ``nproc: N``; then
:func:`launch_train_run` starts torchrun as a subprocess on this node and reads the checkpoint back.

What DDP changes, and what it does not (``adsorbstudy.generators.train.fit``):

- backend NCCL on CUDA (one GPU per rank, ``cuda:$LOCAL_RANK``), gloo on the CPU;
- the global batch ``batch`` is preserved: each rank trains on ``batch / world`` frames per step
  (``batch`` must be divisible by the world size, else ValueError before any work);
- sharding: every rank draws the global batch's indices and random streams (diffusion step k,
  noise) from identically seeded generators and keeps its own slice (:class:`adsorbstudy.generators.blocks.RankSlice`),
  so the ranks' slices together are exactly the batch and noise of a single process with the same
  seed. DDP averages the ranks' gradients; the single process averages over the whole batch. The two
  differ only in float32 summation order, which ``tests/test_ddp.py`` bounds (1e-6 absolute after 6 steps);
- checkpoints (last, best and the budget snapshots), the model file, the results JSON and the
  progress bar come from rank 0 only; every rank resumes from the same ``last.pt`` (a checkpoint holds the global RNG state, identical on all
  ranks), so an interrupted DDP run resumes to the uninterrupted result, and a checkpoint written
  by a 1-process run resumes under DDP and vice versa;
- the GANs are not trained under DDP (ValueError): their BatchNorm statistics and the batch-level
  magnetization loss of gan-m are per-batch quantities that a rank's slice does not reproduce.

A rank that dies stops the whole job (torchrun terminates the other ranks); :func:`launch_train_run`
then raises :class:`DistributedRunError`, naming the run, torchrun's exit status and the step of the
intact last checkpoint (checkpoints are written atomically, so a crash never leaves a torn file).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

from ..study.runtime import pick_device
from ..study.store import file_lock, params_key, study_store
from . import train as tr
from .ranks import init, is_main, rank

LAUNCHERS = ("none", "torchrun")
#: Fault injection for the tests: ``"RANK:STEP"`` makes that rank exit with status 1 after that step.
FAULT_ENV = "ADSORBSTUDY_DDP_FAULT"


class DistributedRunError(RuntimeError):
    """A torchrun training job failed; the message names the run, the exit status and the checkpoint."""


def check_launch(launcher: str, nproc: int) -> None:
    """ValueError naming the field unless ``launcher`` ∈ {none, torchrun} and ``nproc`` is an integer
    ≥ 0 (0: one process per visible GPU, see :func:`resolve_nproc`), 1 when ``launcher`` is none."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {', '.join(LAUNCHERS)}; got {launcher!r}")
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 0:
        raise ValueError(f"nproc must be an integer ≥ 0 (0 = one per GPU); got {nproc!r}")
    if launcher == "none" and nproc != 1:
        raise ValueError(f"nproc: {nproc} processes need launcher torchrun (launcher is 'none'; use nproc 1)")


def resolve_nproc(nproc: int, device: torch.device) -> int:
    """The number of ranks on this machine: ``nproc``, or for 0 one per visible GPU (1 without CUDA).
    On CUDA each rank needs its own GPU, so more ranks than GPUs is a ValueError naming ``nproc``."""
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if nproc == 0:
        return max(1, gpus)
    if device.type == "cuda" and nproc > gpus:
        raise ValueError(f"nproc: {nproc} processes need {nproc} GPUs (one per rank); this machine has {gpus}")
    return nproc


def rank_threads(nproc: int) -> int:
    """CPU threads per rank when ``nproc`` ranks share this job's cores: ``$OMP_NUM_THREADS`` (the study
    runner's share under ``--jobs``) split over the ranks, at least 1; 1 when it is not set."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    try:
        total = int(budget) if budget else nproc
    except ValueError:
        raise ValueError(f"$OMP_NUM_THREADS: expected an integer ≥ 1; got {budget!r}") from None
    return max(1, total // max(1, nproc))


def torchrun_command(name: str, params: dict, profile: str, device: str, nproc: int) -> list[str]:
    """The command :func:`launch_train_run` runs: torchrun (as ``python -m torch.distributed.run``, the
    interpreter of this process) on one node with ``nproc`` ranks, each running this module."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "adsorbstudy.generators.distributed", "--name", name, "--profile", profile, "--device", device,
            "--params", json.dumps(params, sort_keys=True)]


def launch_train_run(name: str, params: dict, profile: str, device: str = "auto", nproc: int = 0,
                     progress: bool = True) -> dict:
    """Train run ``name`` with ``nproc`` DDP ranks (0: one per GPU) under torchrun on this machine; return
    its JSON record.

    The training ensembles are computed here first (so the ranks read them from the store instead of
    racing to compute them), and a cached model is reused without starting torchrun. Each rank runs
    ``rank_threads(nproc)`` torch threads, so the ranks share this job's cores. On failure
    raises :class:`DistributedRunError` naming the run; the last checkpoint stays intact and a rerun
    resumes from it.
    """
    check_launch("torchrun", nproc)
    nproc = resolve_nproc(nproc, pick_device(device))
    tr.check_trainable(params, device, nproc)  # before any work
    store = study_store(profile)
    key = tr.checkpoint_key(params)
    with file_lock(store.root / "checkpoints" / f"{params_key(key)}.lock"):  # as in train.train_run
        if not store.valid(store.path("models", key, "pt")):
            tr.training_ensembles(params, profile, device, progress)
            env = dict(os.environ, OMP_NUM_THREADS=str(rank_threads(nproc)))
            if not progress:
                env["TQDM_DISABLE"] = "1"
            res = subprocess.run(torchrun_command(name, params, profile, device, nproc), env=env)
            if res.returncode != 0:
                last = store.root / "checkpoints" / params_key(key) / "last.pt"
                state = "no checkpoint was written"
                if last.exists():
                    state = f"its last checkpoint ({last}, step {tr._load(last)['step']}) is intact; a rerun resumes from it"
                raise DistributedRunError(f"training run {name!r} (profile {profile}) failed under torchrun with "
                                          f"{nproc} processes, exit status {res.returncode}; {state}")
    return tr.train_run(name, params, profile, device=device, progress=progress)


def launch(name: str, params: dict, profile: str, device: str = "auto", progress: bool = True,
           launcher: str = "none", nproc: int = 1) -> dict:
    """Train (or reuse) run ``name``: in this process with ``launcher="none"``
    (:func:`adsorbstudy.generators.train.train_run`), or with ``nproc`` DistributedDataParallel ranks
    on this machine with ``launcher="torchrun"`` (:func:`launch_train_run`; the U-Net models only). The
    record is the same either way. The entry point of a 04-train run."""
    check_launch(launcher, nproc)
    if launcher == "torchrun":
        return launch_train_run(name, params, profile, device=device, nproc=nproc, progress=progress)
    return tr.train_run(name, params, profile, device=device, progress=progress)


def _fault_callback():
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return None
    r, s = (int(v) for v in spec.split(":"))

    def die(step: int, loss: float) -> None:
        if step == s and rank() == r:
            print(f"{FAULT_ENV}: rank {r} exits after step {s}", file=sys.stderr, flush=True)
            os._exit(1)
    return die


def main(argv: list[str] | None = None) -> int:
    """Entry point of one torchrun rank: join the group, run ``train_run``, leave the group."""

    p = argparse.ArgumentParser(prog="python -m adsorbstudy.generators.distributed", description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True, help="results name (results/<profile>/models/<name>.json)")
    p.add_argument("--profile", required=True, help="the profile whose artifact store holds data and checkpoints")
    p.add_argument("--params", required=True, help="the run's parameters as JSON (as the 04-train notebook builds them)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    a = p.parse_args(argv)
    dev = init(pick_device(a.device))
    try:
        # $TQDM_DISABLE: the study runner keeps progress bars out of its terminal, also the ranks'
        tr.train_run(a.name, json.loads(a.params), a.profile, device=str(dev.type),
                     progress=is_main() and not os.environ.get("TQDM_DISABLE"),
                     callback=_fault_callback())
    finally:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
