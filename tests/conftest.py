import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_root(tmp_path, monkeypatch):
    """A throw-away study root holding the fixture notebooks and a profile that runs them."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    for nb in FIXTURES.glob("*.py"):
        shutil.copy(nb, tmp_path / "notebooks" / nb.name)
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(tmp_path))
    return tmp_path


def run_cli(args, root, timeout=300):
    """Run ``python -m adsorbstudy`` in a subprocess against the study root ``root``."""
    import os
    import subprocess

    env = dict(os.environ, ADSORBSTUDY_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "adsorbstudy", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Torch's CPU thread pool slows down 10-50x when other processes hold the cores; tests use one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def metropolis(L, T, n, sweeps=300, seed=0):
    """Checkerboard Metropolis on n independent L×L tori (J = 1): int8 (n, L, L) ±1.

    A few-line numpy sampler, independent of ``adsorbstudy.physics.montecarlo``, that makes training data for
    the model tests (ordered start below T_c with a random global sign, random start above).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    s = np.ones((n, L, L), np.int8) if T < 2.27 else rng.choice(np.array([-1, 1], np.int8), (n, L, L))
    s = s * rng.choice(np.array([-1, 1], np.int8), (n, 1, 1))
    i, j = np.indices((L, L))
    for _ in range(sweeps):
        for m in ((i + j) % 2 == 0, (i + j) % 2 == 1):
            nb = (np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2)).astype(float)
            acc = (rng.random(s.shape) < np.exp(-2.0 * s * nb / T)) & m
            s = np.where(acc, -s, s).astype(np.int8)
    return s
