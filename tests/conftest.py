"""Fixtures and helpers shared by the tests.

**The smoke study.** A test that needs the whole study on the smoke profile (its results/, artifacts/, or
the book built from it) asks for the session fixture ``smoke_study`` and reads what it needs::

    def test_my_chapter_reports_its_numbers(smoke_study):
        verdict = json.loads((smoke_study.results / "verdict.json").read_text())
        page = (smoke_study.html / "book" / "results.html").read_text()

It is built once per ``pytest`` run, in a copy of the repository (``copy_repo``), by
``adsorbstudy study --profile smoke --jobs 2`` and ``jupyter-book build . -W -n --keep-going``; under
pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) still once, whichever worker asks first, and
the others wait for it (a file lock in the run's base temporary directory). Every test that asks for it
is put in the xdist group ``smoke`` automatically (``pytest_collection_modifyitems`` below), so one worker
runs them all one after the other while the other worker runs the rest. Treat it as read-only: a test
that changes files would change what the tests after it see; copy what you need to change into
``tmp_path``. A test that must run a study of its own (another profile, other options) copies the
repository with ``copy_repo`` and runs it with ``run_cli``; mark it ``slow`` so that it starts early.
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
BIN = Path(sys.executable).parent


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


def run_cli(args, root, timeout=300, own_code=False):
    """Run ``python -m adsorbstudy`` in a subprocess against the study root ``root``; with ``own_code`` the
    package is imported from ``root`` (a copy of the repository), not from where pytest imports it."""
    return subprocess.run([sys.executable, "-m", "adsorbstudy", *args], cwd=root, env=study_env(root, own_code),
                          capture_output=True, text=True, timeout=timeout)


def study_env(root, own_code=False) -> dict:
    env = dict(os.environ, ADSORBSTUDY_ROOT=str(root))
    if own_code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return env


def copy_repo(dst: Path) -> Path:
    """Copy the repository's files as git sees them (tracked, and untracked but not ignored) to ``dst``."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for f in filter(None, out.split("\0")):
        if (ROOT / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    return dst


def run_smoke_study(root: Path, jobs: int, timeout=3600) -> float:
    """Run ``adsorbstudy study --profile smoke --jobs N`` in ``root`` (a ``copy_repo``) with the code of
    ``root``; fail the test with the end of its output unless it succeeds. Returns its wall time in s."""
    t0 = time.perf_counter()
    res = run_cli(["study", "--profile", "smoke", "--jobs", str(jobs)], root, timeout=timeout, own_code=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return time.perf_counter() - t0


@dataclass(frozen=True)
class SmokeStudy:
    """The study on the smoke profile at ``root``, with its book: ``seconds`` holds the wall time of the
    study (``"study"``) and of the book build (``"book"``)."""
    root: Path
    seconds: dict

    @property
    def results(self) -> Path:
        return self.root / "results" / "smoke"

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"


def _build_smoke_study(root: Path) -> dict:
    """Copy the repository to ``root``, run the smoke study with ``--jobs 2`` (as ``make study`` does) and
    build the book; return the seconds of each."""
    copy_repo(root)
    study = run_smoke_study(root, jobs=2, timeout=1800)
    t0 = time.perf_counter()
    res = subprocess.run([str(BIN / "jupyter-book"), "build", ".", "-W", "-n", "--keep-going"], cwd=root,
                         env=study_env(root, own_code=True), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, "jupyter-book build failed:\n" + res.stdout[-5000:] + res.stderr[-5000:]
    return {"seconds": {"study": study, "book": time.perf_counter() - t0}}


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> SmokeStudy:
    """The smoke study and its book, built once per run (see the module docstring)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # each worker's base is <run's base>/popen-gwN: the run's base is common to all
    root, record = shared / "smoke-study", shared / "smoke-study.json"
    with open(shared / "smoke-study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker builds, the others wait here, then read the record
        if not record.exists():
            try:
                built = _build_smoke_study(root)
            except Exception as e:  # a failed build is reported by every test that asks, never built again
                built = {"error": f"the smoke study: {type(e).__name__}: {e}"}
            record.write_text(json.dumps(built))
    built = json.loads(record.read_text())
    if "error" in built:
        pytest.fail(built["error"], pytrace=False)
    return SmokeStudy(root, built["seconds"])


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items):
    """Tests that use the smoke study join the xdist group ``smoke``, so one worker builds and reads it; the
    tests marked ``slow`` go first, so their long runs start while the quick tests fill the other worker."""
    for item in items:
        if "smoke_study" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke"))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
