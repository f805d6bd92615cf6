"""SLOW (a smoke study, ~3-4 min on 2 idle cores): `--jobs 2` gives the results of `--jobs 1`.

Each study runs in its own fresh copy of the repository: `--jobs 1` here, `--jobs 2` is the session's smoke
study (tests/conftest.py), which the pipeline tests read too. Every result file is compared: sample
arrays bitwise, JSON and CSV values exactly except floats within 1e-6 relative (``close``: the
thread count changes float32 summation order), after dropping the fields that measure wall-clock time
or name the thread count (they differ between any two runs, whatever the number of jobs).
"""
import csv
import json
import re

import numpy as np
import pytest

from conftest import copy_repo, run_smoke_study

pytestmark = pytest.mark.slow

#: Keys and CSV columns that measure the machine, not the physics. ``max_residual`` (the largest Eq. 6
#: solver residual met while sampling, a float32 diagnostic) depends on torch's reduction order, hence
#: on the thread count: measured 1.0282e-05 vs 1.0312e-05 for adsorption-fine, with bitwise-equal samples.
VOLATILE = re.compile(r"second|time|thread|finished|started|hardware|per_sweep|per_independent|steps_per|cpu|platform"
                      r"|max_residual|^scaling$")
#: Result files made of wall-clock measurements: the cost-against-L timings and the fits and crossovers
#: drawn from them (τ_int there is measured over a minimum wall time, too).
TIMED_FILES = {"scaling.csv", "scaling.json"}


def stable(obj):
    """``obj`` without its volatile keys, recursively."""
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [stable(v) for v in obj]
    return obj


def read(path):
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    if path.suffix == ".json":
        return stable(json.loads(path.read_text()))
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            return [stable(row) for row in csv.DictReader(f)]
    return path.read_bytes()


def close(a, b, rtol=1e-6):
    """Equal, except that floats may differ by ``rtol``: --jobs splits the cores, and the thread pool a
    process runs with (OMP_NUM_THREADS) changes the summation order of float32 reductions in the
    convolution kernels, which moved a validation loss by 4e-8 (0.4012631403 vs 0.4012631231). The
    samples (integer spins) are compared bitwise above; a real difference in the physics moves the
    floats by far more than 1e-6."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return close(float(a), float(b), rtol)
        except ValueError:
            return False
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
    return a == b


def test_jobs_2_gives_the_results_of_jobs_1(tmp_path, request):
    # --jobs 1 in a copy of its own first; --jobs 2 is the session's smoke study (conftest.smoke_study), asked
    # for only now, so that under pytest-xdist this study runs while another worker builds that one
    run_smoke_study(copy_repo(tmp_path), jobs=1)
    one = tmp_path / "results" / "smoke"
    shared = request.getfixturevalue("smoke_study")
    two = shared.results
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file() and p.name != "provenance.json")
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file() and p.name != "provenance.json")
    files = [f for f in files if f.name not in TIMED_FILES]
    assert any(f.suffix == ".npz" for f in files) and any(f.name == "verdict.json" for f in files)
    for f in files:
        a, b = read(one / f), read(two / f)
        if f.suffix == ".npz":
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), f"{f} differs"
        else:
            assert close(a, b), f"{f} differs"
    timings = json.loads((shared.root / "artifacts" / "smoke" / "timings.json").read_text())
    assert timings["jobs"] == 2 and timings["status"] == "finished"
