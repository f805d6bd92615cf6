"""Device choice, seeding, progress bars and the repository's directories.

The study writes expensive artifacts to ``artifacts/<profile>/`` and
machine-readable results to ``results/<profile>/`` under the repository root.
The root is ``$ADSORBSTUDY_ROOT`` when set (the study runner sets it for the
notebooks it executes), else the current directory's nearest ancestor holding
``pyproject.toml`` and ``params/``.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np

DEVICES = ("auto", "cpu", "cuda")


def pick_device(preference: str = "auto"):
    """Return a ``torch.device``: ``cuda`` when available and asked for (or ``auto``), else ``cpu``.

    Raises ``ValueError`` for an unknown preference or for ``cuda`` on a machine without one.
    """
    import torch

    if preference not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was requested but no CUDA device is available (use auto or cpu)")
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and make torch deterministic on CPU."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def repo_root() -> Path:
    """The study's root directory (see module docstring)."""
    env = os.environ.get("ADSORBSTUDY_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").exists() and (p / "params").is_dir():
            return p
    return here


def artifacts_dir(profile: str) -> Path:
    """``<root>/artifacts/<profile>``: cached ensembles, checkpoints, sample sets."""
    return repo_root() / "artifacts" / profile


def results_dir(profile: str) -> Path:
    """``<root>/results/<profile>``: the machine-readable results the book quotes."""
    return repo_root() / "results" / profile


#: Seconds between two progress updates when stderr is not a terminal (a log file, a notebook
#: kernel): each update is kept in the log or the executed notebook, so a bar redrawn ten times a
#: second would store thousands of lines; one update a minute stores a handful per loop.
PROGRESS_INTERVAL_S = 60.0


def progress_bar(iterable=None, **kw):
    """A tqdm progress bar for the library's long loops (``tqdm(iterable, **kw)`` otherwise).

    - ``disable=True`` from the caller, or ``TQDM_DISABLE`` set in the environment (the study
      runner sets it for the notebooks it executes), turns it off. tqdm alone ignores the
      variable when a caller passes ``disable`` explicitly, as every library loop does.
    - On a terminal it is tqdm's text bar with its usual refresh.
    - Anywhere else (stderr redirected to a file, a notebook kernel, where every redraw is
      stored in the notebook) it is the text bar redrawn at most every
      :data:`PROGRESS_INTERVAL_S` seconds, so the stored output stays a few lines per loop.

    The text bar of ``tqdm.std`` is used everywhere: ``tqdm.auto`` in a kernel without
    ipywidgets only warns and falls back to it. Returns the ``tqdm`` instance (iterate it, or
    call ``update``/``set_postfix``/``close`` when ``iterable`` is None).
    """
    from tqdm.std import tqdm

    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        kw["disable"] = True
    isatty = getattr(sys.stderr, "isatty", None)
    if not (callable(isatty) and isatty()):
        kw.setdefault("mininterval", PROGRESS_INTERVAL_S)
        kw.setdefault("maxinterval", max(PROGRESS_INTERVAL_S, kw["mininterval"]))
    return tqdm(iterable, **kw)


#: The study runner's per-job share of the CPU cores (``adsorbstudy study --jobs N``), as an integer.
THREADS_ENV = "ADSORBSTUDY_THREADS"


def cpu_threads(requested: int = 0) -> int:
    """CPU threads a notebook should give torch: ``requested`` (0 = no preference), capped by
    ``$ADSORBSTUDY_THREADS`` when the study runner set it for parallel jobs, so that N jobs do not
    oversubscribe the cores. 0 means "leave torch's default" (which already follows the runner's
    ``$OMP_NUM_THREADS``)."""
    budget = os.environ.get(THREADS_ENV, "")
    if not budget:
        return requested
    try:
        cap = int(budget)
    except ValueError:
        raise ValueError(f"${THREADS_ENV}: expected an integer ≥ 1; got {budget!r}") from None
    if cap < 1:
        raise ValueError(f"${THREADS_ENV}: expected an integer ≥ 1; got {budget!r}")
    return min(requested, cap) if requested else cap


def use_cpu_threads(requested: int = 0) -> int:
    """Give torch ``cpu_threads(requested)`` CPU threads and return that number (0: torch's default left
    alone). Every chapter calls this rather than ``torch.set_num_threads(threads)``: under ``--jobs N`` an
    uncapped count oversubscribes the cores (measured: 400 steps of an 8×8 image model took 394 s instead
    of about 25 s while another job ran, OpenMP workers spinning on a shared core)."""
    n = cpu_threads(requested)
    if n:
        import torch

        torch.set_num_threads(n)
    return n
