"""The papermill batch: outputs written only on success; a failure names the notebook and the cell."""
import json
import platform
import textwrap

import nbformat
import pytest

from conftest import run_cli


AFTER = textwrap.dedent('''
    # %% tags=["parameters"]
    profile = "fixture"  # str
    tag = "x"            # str

    # %%
    from adsorbstudy.study.runtime import results_dir

    results_dir(profile).mkdir(parents=True, exist_ok=True)
    (results_dir(profile) / "after.txt").write_text(tag)
''')


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_run_stops_its_dependents_not_its_siblings(fixture_root, jobs):
    """20-fails fails in its third cell: 30-after (which needs every lower-numbered run by default) is
    skipped; the runs of 10-ok, before and after it in the profile, do not need it and run."""
    (fixture_root / "notebooks" / "30-after.py").write_text(AFTER)
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
            name: sibling
            parameters: {n: 1}
          - notebook: 30-after
    """))
    res = run_cli(["study", "--profile", "fx", "--jobs", str(jobs)], fixture_root)
    assert res.returncode == 1, res.stderr
    err = res.stderr.strip().splitlines()
    msg = err[-1]
    assert "20-fails.py" in msg and "failed in cell 3 (0-based)" in msg and "raise RuntimeError" in msg
    assert "deliberate failure in the third cell" in msg
    assert err[-2] == "adsorbstudy: skipped because a run they need failed: 30-after", res.stderr

    gen = fixture_root / "book" / "generated"
    assert sorted(p.name for p in gen.iterdir()) == ["10-ok.ipynb", "sibling.ipynb"]  # nothing half-written
    nb = nbformat.read(gen / "10-ok.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "n = 2" in injected[0].source and 'profile = "fx"' in injected[0].source
    res_dir = fixture_root / "results" / "fx"
    assert (res_dir / "ok-b2.txt").read_text().splitlines() == ["b:0:1.5", "b:1:1.5"]
    assert (res_dir / "ok-a4.txt").read_text().splitlines() == [f"a:{i}:1.5" for i in range(4)]
    assert (res_dir / "ok-a1.txt").read_text() == "a:0:1.5" and not (res_dir / "after.txt").exists()
    assert (fixture_root / "artifacts" / "fx" / "notebooks" / "10-ok-again.ipynb").exists()
    assert (fixture_root / "artifacts" / "fx" / "failed" / "20-fails.ipynb").exists()

    # the time table lists every run in profile order: ran, failed, and skipped with the reason
    table = res.stdout[res.stdout.index("run "):].splitlines()
    rows = [ln.split() for ln in table[2:-2]]
    assert [r[0] for r in rows] == ["10-ok", "10-ok-again", "20-fails", "sibling", "30-after"]
    assert rows[2][2:] == ["FAILED"] and rows[4][2:] == ["skipped", "(needs", "20-fails)"]
    assert all(float(r[1]) > 0 for r in rows[:4]) and float(rows[4][1]) == 0
    if jobs == 1:  # one at a time: the batch lasts at least as long as its runs together
        assert float(table[-1].split()[1]) >= sum(float(r[1]) for r in rows) - 0.3
    timings = json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())
    assert timings["status"] == "failed" and timings["jobs"] == jobs
    assert [(r["name"], r["status"]) for r in timings["runs"]] == [
        ("10-ok", "ran"), ("10-ok-again", "ran"), ("20-fails", "failed"), ("sibling", "ran"), ("30-after", "skipped")]
    assert timings["runs"][2]["seconds"] > 0 and timings["runs"][4]["needs"] == ["20-fails"]


def test_a_failing_run_leaves_earlier_artifacts_intact(fixture_root):
    """A batch that succeeded, then the same profile with a failing run added before 30-after: the
    outputs of the earlier batch stay byte-identical, 30-after is skipped, not re-executed."""
    (fixture_root / "notebooks" / "30-after.py").write_text(AFTER)
    profile = textwrap.dedent("""
        runs:
          - notebook: 10-ok
          - notebook: 30-after
            parameters: {tag: first}
    """)
    (fixture_root / "params" / "fx.yaml").write_text(profile)
    assert run_cli(["study", "--profile", "fx", "--jobs", "2"], fixture_root).returncode == 0

    def snapshot():
        return {str(p.relative_to(fixture_root)): p.read_bytes() for d in ("book", "results", "artifacts/fx/stamps")
                for p in sorted((fixture_root / d).rglob("*")) if p.is_file() and p.name != "provenance.json"}

    before = snapshot()
    assert (fixture_root / "results" / "fx" / "after.txt").read_text() == "first"
    (fixture_root / "params" / "fx.yaml").write_text(
        profile.replace("  - notebook: 30-after", "  - notebook: 20-fails\n  - notebook: 30-after").replace("first", "second"))
    res = run_cli(["study", "--profile", "fx", "--jobs", "2"], fixture_root)
    assert res.returncode == 1 and "20-fails.py" in res.stderr.splitlines()[-1], res.stderr
    assert snapshot() == before  # 10-ok reused, 30-after not run: nothing it wrote was touched
    statuses = [r["status"] for r in json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())["runs"]]
    assert statuses == ["cached", "failed", "skipped"]


TIMED = textwrap.dedent('''
    # %% tags=["parameters"]
    profile = "fixture"  # str
    nap = 1.0            # [0, 10] seconds

    # %%
    import json, os, time
    from adsorbstudy.study.runtime import cpu_threads, results_dir

    t0 = time.time()
    time.sleep(nap)
    out = results_dir(profile) / "timed"
    out.mkdir(parents=True, exist_ok=True)
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "ADSORBSTUDY_THREADS")}
    (out / f"{os.environ['NAME']}.json").write_text(json.dumps({"start": t0, "end": time.time(), "env": env,
                                                                 "cap": cpu_threads(64)}))
''')


def test_jobs_follow_dependencies_and_split_the_cores(fixture_root, monkeypatch):
    """--jobs 2, with NEEDS declaring 11-nap independent and 21-nap needing only 11-nap: both 11-nap runs
    start before either ends; 21-nap starts after both ended; 06-cost (EXCLUSIVE, needing nothing here)
    starts only when nothing runs, and nothing starts while it runs; every job gets cores // 2 threads.
    The order is read from the runner's own log, so it does not depend on how fast the kernels start."""
    import os

    from adsorbstudy.study import runner

    for nb in ("06-cost", "11-nap", "21-nap"):
        text = TIMED.replace("os.environ['NAME']", f"'{nb}-' + str(nap)")
        if nb == "06-cost":  # the cross-check of the real 06-cost reads its model list
            text = text.replace("nap = 1.0 ", "models = []  # str each: unused\nnap = 1.0 ")
        (fixture_root / "notebooks" / f"{nb}.py").write_text(text)
    (fixture_root / "params" / "fx.yaml").write_text(textwrap.dedent("""
        runs:
          - {notebook: 11-nap, parameters: {nap: 0.5}}
          - {notebook: 11-nap, name: nap-b, parameters: {nap: 3.5}}
          - {notebook: 21-nap, parameters: {nap: 0.5}}
          - {notebook: 06-cost, parameters: {nap: 0.5}}
    """))
    monkeypatch.setattr(runner, "NEEDS", {"11-nap": (), "21-nap": ("11-nap",)})
    for var in ("ADSORBSTUDY_ROOT", "TQDM_DISABLE", runner.RUN_ENV):  # run_study sets them for its kernels
        monkeypatch.setenv(var, os.environ.get(var, ""))
    log = []
    results = runner.run_study("fx", jobs=2, log=log.append)
    assert [r.status for r in results] == ["ran"] * 4

    def at(name, what):
        return next(i for i, ln in enumerate(log) if ln.split()[:1] == [name] and (what in ln))

    start = {n: at(n, "started") for n in ("11-nap", "nap-b", "21-nap", "06-cost")}
    end = {n: at(n, " s  -> ") for n in start}
    assert max(start["11-nap"], start["nap-b"]) < min(end["11-nap"], end["nap-b"]), log  # at once
    assert start["21-nap"] > max(end["11-nap"], end["nap-b"]), log  # after what it needs
    for other in ("11-nap", "nap-b", "21-nap"):  # alone
        assert end[other] < start["06-cost"] or start[other] > end["06-cost"], log
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    t = [json.loads(p.read_text()) for p in (fixture_root / "results" / "fx" / "timed").glob("*.json")]
    assert len(t) == 4
    for r in t:
        assert r["env"] == {"OMP_NUM_THREADS": share, "NUMBA_NUM_THREADS": share, "ADSORBSTUDY_THREADS": share}
        assert r["cap"] == int(share)
    timings = json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())
    assert timings["jobs"] == 2 and timings["threads_per_job"] == int(share) and timings["status"] == "finished"


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
    (fixture_root / "notebooks" / "30-after.py").write_text(AFTER)
    profile = textwrap.dedent("""
        runs:
          - notebook: 10-ok
            parameters: {n: 2}
          - notebook: 10-ok
            name: second
            parameters: {n: 3}
          - notebook: 30-after
    """)
    (fixture_root / "params" / "fx.yaml").write_text(profile)
    first = run_cli(["study", "--profile", "fx"], fixture_root)
    assert first.returncode == 0, first.stderr
    again = run_cli(["study", "--profile", "fx"], fixture_root)
    assert again.returncode == 0 and again.stdout.count("cached") == 3, again.stdout

    def executed(res):
        return [r["name"] for r in json.loads((fixture_root / "artifacts" / "fx" / "timings.json").read_text())["runs"]
                if r["status"] == "ran"]

    # a changed parameter re-executes that run and the runs that need it (30-after), not its sibling
    (fixture_root / "params" / "fx.yaml").write_text(profile.replace("{n: 2}", "{n: 4}"))
    changed = run_cli(["study", "--profile", "fx"], fixture_root)
    assert changed.returncode == 0 and executed(changed) == ["10-ok", "30-after"], changed.stdout
    # a damaged output is re-executed, and --force re-executes everything
    (fixture_root / "book" / "generated" / "second.ipynb").write_text("{}")
    damaged = run_cli(["study", "--profile", "fx"], fixture_root)
    assert executed(damaged) == ["second", "30-after"], damaged.stdout
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


def test_every_notebook_caps_its_torch_threads_by_the_runners_share():
    """Under ``--jobs N`` a chapter that sets torch's thread count from its own ``threads`` parameter
    oversubscribes the cores. No notebook calls ``set_num_threads`` itself; every chapter with a
    ``threads`` parameter calls ``runtime.use_cpu_threads``, which applies the runner's cap."""
    import ast

    from conftest import ROOT

    for path in sorted((ROOT / "notebooks").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        direct = [n.lineno for n in calls if getattr(n.func, "attr", getattr(n.func, "id", "")) == "set_num_threads"]
        assert not direct, f"{path.name}:{direct}: set_num_threads bypasses runtime.use_cpu_threads"
        has_threads = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "threads" for t in n.targets)
                          for n in tree.body)
        capped = any(getattr(n.func, "id", "") == "use_cpu_threads" for n in calls)
        assert capped or not has_threads, f"{path.name}: has a threads parameter but never calls use_cpu_threads"


def test_use_cpu_threads_applies_the_runners_cap(monkeypatch):
    """The runner's share caps the request; without a share the request stands; 0 leaves torch alone."""
    import torch

    from adsorbstudy.study import runtime

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(runtime.THREADS_ENV, "1")
        torch.set_num_threads(2)
        assert runtime.use_cpu_threads(2) == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv(runtime.THREADS_ENV)
        assert runtime.use_cpu_threads(2) == 2 and torch.get_num_threads() == 2
        assert runtime.use_cpu_threads(0) == 0 and torch.get_num_threads() == 2
        monkeypatch.setenv(runtime.THREADS_ENV, "0")
        with pytest.raises(ValueError, match=runtime.THREADS_ENV):
            runtime.use_cpu_threads(2)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["smoke", "default", "paper"])
def test_every_training_chapter_has_its_own_title(name):
    """The book's sidebar names each training run apart (two DDPM runs, the matched one and seed 004's,
    share ``model: ddpm``), and no ``{{ placeholder }}`` is left unfilled."""
    import jupytext

    from adsorbstudy.study import runner
    from adsorbstudy.study.profile import load_profile

    titles = []
    for run in load_profile(name).runs:
        if run.notebook == "04-train":
            nb = jupytext.read(runner.notebook_path(run.notebook))
            runner.fill_markdown(nb, runner.markdown_values(run))
            md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            assert "{{" not in md, run.name
            titles.append(md.splitlines()[0])
    assert len(titles) > 1 and len(set(titles)) == len(titles), titles


def test_a_torchrun_run_and_the_cost_chapter_run_alone():
    """Under ``--jobs`` a training run under torchrun takes the node (``nproc: 0`` = every GPU), so the
    runner starts it alone, as it does the cost chapter; the GANs of the paper profile (one process)
    and the other chapters run beside others."""
    from adsorbstudy.study import runner
    from adsorbstudy.study.profile import load_profile

    alone = {r.name: runner.runs_alone(r) for r in load_profile("paper").runs}
    assert alone["04-train-adsorption"] and alone["04-train-ddpm"] and alone["06-cost"]
    assert not alone["04-train-gan"] and not alone["05-fidelity"] and not alone["03-ising-monte-carlo"]
    smoke = {r.name: runner.runs_alone(r) for r in load_profile("smoke").runs}
    assert [n for n, a in smoke.items() if a] == ["04-train-adsorption-fine", "06-cost"]


@pytest.mark.parametrize("name", ["smoke", "default", "paper"])
def test_the_real_profiles_dependencies(name):
    """``NEEDS`` on the real chapters: Monte Carlo before every training run, every training run before
    fidelity (05) and exact statistics (07), both before cost (06); the images chapter (08) and the
    physics chapters (01, 02) need nothing; the audit (09) needs the saved samples of 04 and 05; the
    correlated layers (10) need the models, the verdict and the exact rows; the published results (11)
    the verdict's chapters; no run needs a later one."""
    from adsorbstudy.study import runner
    from adsorbstudy.study.profile import load_profile

    runs = load_profile(name).runs
    deps = runner.dependencies(runs)
    by_nb = {}
    for r in runs:
        by_nb.setdefault(r.notebook, []).append(r.name)
    order = [r.name for r in runs]
    for r in runs:
        assert all(order.index(d) < order.index(r.name) for d in deps[r.name]), r.name
        want = {"01-derive-eq6": set(), "02-isotherms": set(), "03-ising-monte-carlo": set(), "08-images": set(),
                "04-train": set(by_nb["03-ising-monte-carlo"]),
                "05-fidelity": set(by_nb["03-ising-monte-carlo"]) | set(by_nb["04-train"]),
                "07-exact": set(by_nb["03-ising-monte-carlo"]) | set(by_nb["04-train"]),
                "06-cost": set(by_nb["03-ising-monte-carlo"]) | set(by_nb["04-train"]) | set(by_nb["05-fidelity"])
                | set(by_nb["07-exact"]),
                "09-audit": set(by_nb["04-train"]) | set(by_nb["05-fidelity"]),
                "10-correlated-layers": set(by_nb["03-ising-monte-carlo"]) | set(by_nb["04-train"])
                | set(by_nb["05-fidelity"]) | set(by_nb["07-exact"]),
                "11-beyond": set(by_nb["05-fidelity"]) | set(by_nb["06-cost"]) | set(by_nb["07-exact"])}[r.notebook]
        if r.notebook == "05-fidelity":  # the default rule: every lower-numbered chapter, 01 and 02 too
            want |= set(by_nb["01-derive-eq6"]) | set(by_nb["02-isotherms"])
        assert set(deps[r.name]) == want, (r.name, sorted(set(deps[r.name]) ^ want))


@pytest.mark.parametrize("name", ["smoke", "default"])
def test_cpu_profiles_give_every_run_one_torch_thread(name):
    """Results must not depend on ``--jobs``. A run's torch thread count is its ``threads`` under
    ``--jobs 1`` and min(threads, cores // N) under ``--jobs N`` (``runtime.cpu_threads``), and float32
    reductions depend on it: the default profile with ``threads: 2`` trained different weights under
    ``--jobs 1`` (2 threads) than under ``--jobs 2`` (1 thread). Only ``threads: 1`` is the same for every N.
    (The paper profile, for a GPU, leaves torch's default.)"""
    from adsorbstudy.study.profile import load_profile

    for run in load_profile(name).runs:
        values = run.values()
        if "threads" in values:
            assert values["threads"] == 1, (run.name, values["threads"])
