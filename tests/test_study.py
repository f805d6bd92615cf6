"""The papermill batch: outputs written only on success; a failure names the notebook and the cell."""
import json
import platform
import textwrap

import nbformat

from conftest import run_cli


def test_batch_runs_then_stops_at_failing_cell(fixture_root):
    (fixture_root / "params" / "fx.yaml").write_text(textwrap.dedent("""
        runs:
          - notebook: 10-ok
            parameters: {n: 2, label: b}
          - notebook: 10-ok
            name: 10-ok-again
            in_book: false
            parameters: {n: 4}
          - notebook: 20-fails
          - notebook: 10-ok
            name: never-reached
    """))
    res = run_cli(["study", "--profile", "fx"], fixture_root)
    assert res.returncode == 1, res.stderr
    msg = res.stderr.strip().splitlines()[-1]
    assert "20-fails.py" in msg and "failed in cell 3 (0-based)" in msg and "raise RuntimeError" in msg
    assert "deliberate failure in the third cell" in msg

    gen = fixture_root / "book" / "generated"
    assert sorted(p.name for p in gen.iterdir()) == ["10-ok.ipynb"]  # nothing half-written
    nb = nbformat.read(gen / "10-ok.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n = 2" in injected[0].source and 'profile = "fx"' in injected[0].source
    # the second run (n=4, default label) ran after the first and wrote last
    assert (fixture_root / "results" / "fx" / "ok.txt").read_text().splitlines() == [f"a:{i}:1.5" for i in range(4)]
    assert (fixture_root / "artifacts" / "fx" / "notebooks" / "10-ok-again.ipynb").exists()
    assert (fixture_root / "artifacts" / "fx" / "failed" / "20-fails.ipynb").exists()
    assert not (fixture_root / "artifacts" / "fx" / "notebooks" / "never-reached.ipynb").exists()

    # the time table still appears: the two runs done, then the failing one, then the total
    table = res.stdout[res.stdout.index("run "):].splitlines()
    rows = [ln.split() for ln in table[2:-2]]
    assert [r[0] for r in rows] == ["10-ok", "10-ok-again", "20-fails"]
    assert rows[2][2:] == ["FAILED"] and all(float(r[1]) > 0 for r in rows)
    assert table[-1].split()[0] == "total" and float(table[-1].split()[1]) >= sum(float(r[1]) for r in rows) - 0.3
    timings = json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())
    assert timings["status"] == "failed"
    assert [(r["name"], r["status"]) for r in timings["runs"]] == [("10-ok", "ran"), ("10-ok-again", "ran"),
                                                                    ("20-fails", "failed")]
    assert timings["runs"][2]["seconds"] > 0


def test_only_runs_the_named_run_and_prints_a_time_table(fixture_root):
    (fixture_root / "params" / "fx.yaml").write_text(textwrap.dedent("""
        runs:
          - notebook: 10-ok
          - notebook: 20-fails
    """))
    res = run_cli(["study", "--profile", "fx", "--only", "10-ok"], fixture_root)
    assert res.returncode == 0, res.stderr
    assert "total" in res.stdout and "10-ok" in res.stdout
    timings = json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())
    assert [r["name"] for r in timings["runs"]] == ["10-ok"]
    assert timings["runs"][0]["seconds"] > 0 and timings["status"] == "finished"
    versions = timings["versions"]
    assert set(versions) == {"python", "numpy", "scipy", "torch", "numba", "papermill", "jupytext",
                             "jupyter-book", "matplotlib"}
    import jupytext
    import numpy
    import papermill
    import torch

    assert versions["python"] == platform.python_version() == timings["python"]
    assert (versions["numpy"], versions["torch"], versions["papermill"], versions["jupytext"]) == (
        numpy.__version__, torch.__version__, papermill.__version__, jupytext.__version__)
    assert versions["jupyter-book"] and versions["scipy"] and versions["numba"] and versions["matplotlib"]


def test_unchanged_runs_are_skipped_until_something_changes(fixture_root):
    profile = textwrap.dedent("""
        runs:
          - notebook: 10-ok
            parameters: {n: 2}
          - notebook: 10-ok
            name: second
            parameters: {n: 3}
    """)
    (fixture_root / "params" / "fx.yaml").write_text(profile)
    first = run_cli(["study", "--profile", "fx"], fixture_root)
    assert first.returncode == 0, first.stderr
    again = run_cli(["study", "--profile", "fx"], fixture_root)
    assert again.returncode == 0 and again.stdout.count("cached") == 2, again.stdout
    # a changed parameter re-executes that run and every run after it
    (fixture_root / "params" / "fx.yaml").write_text(profile.replace("{n: 2}", "{n: 4}"))
    changed = run_cli(["study", "--profile", "fx"], fixture_root)
    assert changed.returncode == 0 and changed.stdout.count("cached") == 0, changed.stdout
    # a damaged output is re-executed, and --force re-executes everything
    (fixture_root / "book" / "generated" / "second.ipynb").write_text("{}")
    damaged = run_cli(["study", "--profile", "fx"], fixture_root)
    assert damaged.stdout.count("cached") == 1, damaged.stdout
    forced = run_cli(["study", "--profile", "fx", "--force"], fixture_root)
    assert forced.returncode == 0 and forced.stdout.count("cached") == 0


def test_a_dying_kernel_names_the_notebook_and_cell(fixture_root):
    """Not a Python error in a cell but the kernel process ending (as when it runs out of memory)."""
    (fixture_root / "notebooks" / "30-dies.py").write_text(
        '# %% tags=["parameters"]\nprofile = "fixture"  # str\n\n# %%\nx = 1\n\n# %%\nimport os\nos._exit(3)\n\n# %%\ny = 2\n')
    (fixture_root / "params" / "fx.yaml").write_text("runs:\n  - notebook: 10-ok\n  - notebook: 30-dies\n")
    res = run_cli(["study", "--profile", "fx"], fixture_root)
    assert res.returncode == 1, res.stderr
    msg = res.stderr.strip().splitlines()[-1]
    assert msg == ("adsorbstudy: notebook 30-dies.py (run 30-dies) stopped in cell 2 (0-based): DeadKernelError: "
                   "Kernel died (partial output: artifacts/fx/failed/30-dies.ipynb)"), msg
    assert "30-dies" in res.stdout.split("total")[0] and "FAILED" in res.stdout
    timings = json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())
    assert timings["status"] == "failed" and [r["status"] for r in timings["runs"]] == ["ran", "failed"]
