"""The process group of a data-parallel run, as training sees it: this process's rank, the world size,
and the few collectives the training loop needs. Outside torchrun (no process group) every function
answers as the one process of a world of one, so the training loop has a single code path.

The launcher that starts the ranks is :mod:`adsorbstudy.generators.distributed`.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch


def active() -> bool:
    """True inside an initialized process group of more than one rank."""
    return torch.distributed.is_available() and torch.distributed.is_initialized() \
        and torch.distributed.get_world_size() > 1


def rank() -> int:
    return torch.distributed.get_rank() if active() else 0


def world() -> int:
    return torch.distributed.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0 (or no process group): the process that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    if active():
        torch.distributed.barrier()


def local_device(device: torch.device) -> torch.device:
    """``cuda:$LOCAL_RANK`` for a CUDA device under torchrun (one GPU per rank), else ``device``."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def init(device: torch.device) -> torch.device:
    """Join the process group torchrun describes (``$RANK``, ``$WORLD_SIZE``, ``$MASTER_ADDR``...):
    NCCL for CUDA, gloo for the CPU. Returns this rank's device."""
    dev = local_device(device)
    if "WORLD_SIZE" not in os.environ:
        raise ValueError("adsorbstudy.generators.distributed: $WORLD_SIZE is not set; start this module with torchrun")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    return dev


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's value of ``flag`` on every rank (a decision that depends on a clock must be shared)."""
    if not active():
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    if torch.distributed.get_backend() == "nccl":
        t = t.cuda()
    torch.distributed.broadcast(t, 0)
    return bool(t.item())


def mean_over_ranks(x: float, device: torch.device) -> float:
    """The mean of ``x`` over ranks (the global batch's loss from the ranks' slice losses)."""
    if not active():
        return x
    t = torch.tensor([x], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return float(t.item()) / world()
