"""The study runner: a profile's notebooks executed in batch by papermill.

Each run converts ``notebooks/<notebook>.py`` (jupytext py:percent) to a
notebook, executes it with the run's parameters from the repository root, and
moves the executed notebook to ``book/generated/<name>.ipynb`` (a chapter) or
``artifacts/<profile>/notebooks/<name>.ipynb`` (``in_book: false``) only when it
succeeded: a failing run leaves every earlier output intact, saves its partial
notebook under ``artifacts/<profile>/failed/`` and raises a ``StudyError``
naming the notebook and the failing cell.

Runs follow the dependencies of ``NEEDS`` (Monte Carlo before training,
training before the chapters that read the models); ``--jobs N`` executes up to
N independent runs at once, each in its own process with its share of the cores
(``job_threads``). A failing run stops the runs that need it, not the others.

A run is skipped when nothing it depends on changed since it last succeeded:
its notebook, its parameters and the source of the library modules it imports,
directly or through other modules (``run_key``), and the runs it needs.
Cached artifacts carry the versions of the code that made them
(``adsorbstudy.study.codeversion``), and the runner refuses to start while a
producer's source changed without its version.

Every batch, finished or failed, prints the time each run took and records it
in ``artifacts/<profile>/timings.json`` with the machine, the git commit and
the versions of the packages that produced the numbers (:func:`package_versions`).
"""
from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .profile import load_profile, notebook_path, Profile, Run
from .provenance import RUN_ENV
from .runtime import artifacts_dir, repo_root, results_dir, THREADS_ENV
from .store import atomic_write, atomic_write_json, atomic_write_text, FORCE_ENV, params_key, sha256_file


class StudyError(RuntimeError):
    """A notebook failed; the message names the run, the notebook and the cell.

    ``seconds``: how long the failing run executed before it stopped (for the batch's time table).
    """

    def __init__(self, message: str, seconds: float = 0.0):
        super().__init__(message)
        self.seconds = seconds


@dataclass
class RunResult:
    """One run of a batch: ``status`` is "ran", "cached" (skipped, unchanged), "failed" or "skipped" (not
    started because the runs in ``needs`` failed or were skipped);
    ``seconds`` is wall-clock execution time (0 for a cached run); ``output`` the executed notebook
    (for a failed run, its partial notebook under ``artifacts/<profile>/failed/``, if one was saved)."""

    name: str
    notebook: str
    seconds: float
    output: Path | None
    status: str = "ran"
    needs: list[str] = field(default_factory=list)


#: The distributions whose versions timings.json records (the numbers depend on them).
VERSIONED = ("numpy", "scipy", "torch", "numba", "papermill", "jupytext", "jupyter-book", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """{"python": "3.x.y", distribution: version or None when it is not installed} for ``VERSIONED``.

    Read from the installed metadata, not by importing: importing torch only for its version
    would cost seconds at the end of every batch."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def generated_dir() -> Path:
    return repo_root() / "book" / "generated"


def output_path(profile: Profile, run: Run) -> Path:
    if run.in_book:
        return generated_dir() / f"{run.name}.ipynb"
    return artifacts_dir(profile.name) / "notebooks" / f"{run.name}.ipynb"


def select_runs(profile: Profile, only: list[str] | None) -> list[Run]:
    """The runs named by ``only`` (run names or notebook names), in profile order."""
    if not only:
        return list(profile.runs)
    known = {r.name for r in profile.runs} | {r.notebook for r in profile.runs}
    for o in only:
        if o not in known:
            raise ValueError(f"--only: {o!r} is not a run or notebook of profile {profile.name}; "
                             f"choose from: {', '.join(sorted(known))}")
    return [r for r in profile.runs if r.name in only or r.notebook in only]


def _failing_cell(nb) -> tuple[int, str]:
    """Index (in the source notebook, 0-based) and first line of the first cell whose output is an error.

    Cells papermill added (injected parameters, the error banner) are not counted, so the index
    matches the ``# %%`` cells of ``notebooks/<name>.py``.
    """
    added = {"injected-parameters", "papermill-error-cell-tag"}
    source_cells = [c for c in nb.cells if not added & set(c.metadata.get("tags", []))]
    for i, cell in enumerate(source_cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return i, first
    return -1, ""


def _last_started_cell(nb) -> int:
    """Index (in the source notebook, 0-based) of the last cell papermill started, else -1.

    Cells run in order and only a started cell gets a ``start_time``, so when the kernel dies this
    is the cell that killed it. (Its status cannot tell: at the end papermill marks every cell
    "completed", even those it never reached.)"""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    source_cells = [c for c in nb.cells if not added & set(c.metadata.get("tags", []))]
    started = [i for i, c in enumerate(source_cells) if c.metadata.get("papermill", {}).get("start_time")]
    return started[-1] if started else -1


_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def markdown_values(run: Run) -> dict:
    """What ``{{ name }}`` in a chapter's markdown can name: the run's parameter values (the notebook's
    defaults where the profile sets none) and ``run``, the run's name."""
    return run.values() | {"run": run.name}


def fill_markdown(nb, values: dict) -> None:
    """Replace ``{{ name }}`` in markdown cells by ``values[name]`` (``markdown_values``); code is untouched.

    One notebook run several times (one training chapter per model and seed) thus gets a distinct title.
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), cell.source)


def fold_code(nb) -> None:
    """Tag every code cell but the parameters with ``hide-input``: the book shows prose and results,
    and a reader unfolds the code that made them with one click."""
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type == "code" and "parameters" not in tags and "hide-input" not in tags:
            tags.append("hide-input")


#: Caption of the one parameter cell a chapter shows: the values this run was executed with.
PARAMETERS_CAPTION = "**Parameters of this run** (the profile's values, injected by the study runner):"


def present_parameters(nb, stage: str) -> None:
    """Show a chapter's parameters once, as the values of this run.

    ``stage`` "source": tag the notebook's own ``parameters`` cell ``remove-cell`` (its defaults,
    e.g. ``profile = "smoke"``, are not what ran; papermill still finds it by its tag).
    ``stage`` "executed": put a caption before papermill's ``injected-parameters`` cell and fold it
    (``hide-input``), so the book shows "Parameters of this run" with the values one click away.
    """
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.setdefault("tags", [])
        if stage == "source" and "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if stage == "executed" and "injected-parameters" in tags:
            if "hide-input" not in tags:
                tags.append("hide-input")
            before = nb.cells[i - 1] if i else None
            if not (before is not None and before.cell_type == "markdown" and before.source == PARAMETERS_CAPTION):
                import nbformat
                nb.cells.insert(i, nbformat.v4.new_markdown_cell(PARAMETERS_CAPTION))
            return


def _kernel_config():
    """Kernel-manager configuration of the study's notebook kernels.

    Kernels talk to the runner over local IPC (Unix sockets) rather than TCP on localhost: no port
    is opened, and ipykernel has no reason for its "running over TCP without encryption" warning
    (``ipykernel.kernelapp.IPKernelApp.init_sockets``), which it printed once per notebook.
    Windows has no IPC transport and keeps TCP. Each kernel gets its own socket-path prefix: the IPC
    socket files are named prefix-<port> with ports counted from 1, so two kernels started at once
    (``--jobs``) with one prefix would bind each other's sockets.
    """
    import tempfile
    import uuid

    from traitlets.config import Config

    if os.name == "nt":
        return Config({"KernelManager": {"transport": "tcp"}})
    prefix = os.path.join(tempfile.gettempdir(), f"adsorbstudy-kernel-{uuid.uuid4().hex[:12]}")
    return Config({"KernelManager": {"transport": "ipc", "ip": prefix}})


def execute_run(profile: Profile, run: Run, log=print) -> RunResult:
    """Execute one run; raise StudyError naming the notebook and cell when it fails."""
    import jupytext
    import nbformat
    import papermill as pm

    src = notebook_path(run.notebook)
    nb = jupytext.read(src)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    fill_markdown(nb, markdown_values(run))
    fold_code(nb)
    present_parameters(nb, "source")
    out = output_path(profile, run)
    failed = artifacts_dir(profile.name) / "failed" / f"{run.name}.ipynb"
    work = artifacts_dir(profile.name) / "running" / f"{run.name}.ipynb"
    work.parent.mkdir(parents=True, exist_ok=True)
    os.environ[RUN_ENV] = run.name  # the kernel inherits it (provenance.provenance_markdown)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(nb, str(work), parameters=run.parameters, kernel_name="python3",
                            cwd=str(repo_root()), progress_bar=sys.stderr.isatty(), log_output=False,
                            config=_kernel_config())
    except pm.PapermillExecutionError as exc:
        seconds = time.perf_counter() - t0
        failed.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, failed)
        executed = nbformat.read(failed, as_version=4)
        idx, first = _failing_cell(executed)
        raise StudyError(
            f"notebook {src.name} (run {run.name}) failed in cell {idx if idx >= 0 else exc.cell_index} (0-based)"
            f" [{first.strip()[:80]}]: {exc.ename}: {exc.evalue.splitlines()[0] if exc.evalue else ''}"
            f" (partial output: {failed.relative_to(repo_root())})", seconds) from None
    except Exception as exc:
        # the kernel died (out of memory, a segfault) or could not start: papermill raises its own
        # error, not PapermillExecutionError, and no cell holds an error output
        seconds = time.perf_counter() - t0
        where, partial = "before any cell ran", ""
        if work.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work, failed)
            idx = _last_started_cell(nbformat.read(failed, as_version=4))
            if idx >= 0:
                where = f"in cell {idx} (0-based)"
            partial = f" (partial output: {failed.relative_to(repo_root())})"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise StudyError(f"notebook {src.name} (run {run.name}) stopped {where}: {type(exc).__name__}: {first}"
                         f"{partial}", seconds) from None
    seconds = time.perf_counter() - t0
    executed = nbformat.read(work, as_version=4)
    present_parameters(executed, "executed")
    atomic_write(out, lambda p: nbformat.write(executed, str(p)))
    work.unlink()
    if failed.exists():
        failed.unlink()
    log(f"  {run.name:<34s} {seconds:8.1f} s  -> {out.relative_to(repo_root())}")
    return RunResult(run.name, run.notebook, seconds, out)


# --------------------------------------------------------------------------- what a run depends on
#: What the runs of a notebook need, by notebook name: the notebooks whose runs (earlier in the
#: profile) must have succeeded before they start, and whose re-execution re-executes them. A
#: notebook not listed needs every run of a lower-numbered notebook (the safe default for a new
#: chapter; a chapter that needs less, such as one that trains its own models, adds a line here).
NEEDS: dict[str, tuple[str, ...]] = {
    "01-derive-eq6": (),
    "02-isotherms": (),
    "03-ising-monte-carlo": (),
    "04-train": ("03-ising-monte-carlo",),  # the training ensembles that chapter 03 caches
    # 05-fidelity: the default (every lower-numbered chapter). 07: the models, their samples and the MC test
    # ensembles; its verdict entry survives the fidelity chapter's write in either order, so it runs beside it
    "07-exact": ("03-ising-monte-carlo", "04-train"),
    # ... and the ESS of chapter 07 for the corrected generator's crossover
    "06-cost": ("03-ising-monte-carlo", "04-train", "05-fidelity", "07-exact"),
    "08-images": (),  # trains its own models on the digits; adds its verdict under a lock
    "10-correlated-layers": ("03-ising-monte-carlo", "04-train", "05-fidelity", "07-exact"),  # models, claims, exact rows
    "09-audit": ("04-train", "05-fidelity"),  # the saved samples: a model's (04) and the MC test ensembles (05)
    "11-beyond": ("05-fidelity", "06-cost", "07-exact"),  # this build's verdict beside the published ones
}

READS_PUBLISHED = ("11-beyond",)  #: notebooks that read published/*/: their manifests enter the run key
#: Notebooks that run alone: no other job starts while they execute, so the wall-clock costs they
#: measure are not shared with another job.
EXCLUSIVE = ("06-cost",)


def runs_alone(run: Run) -> bool:
    """Whether no other job may run beside ``run`` under ``--jobs``: an EXCLUSIVE notebook, or a training
    run under torchrun, whose ranks take the node's GPUs (``nproc: 0`` = every GPU) or share its cores."""
    return run.notebook in EXCLUSIVE or run.parameters.get("launcher") == "torchrun"


_NUMBER = re.compile(r"^(\d+)")


def _number(notebook: str) -> int | None:
    m = _NUMBER.match(notebook)
    return int(m.group(1)) if m else None


def dependencies(runs: list[Run]) -> dict[str, list[str]]:
    """{run name: the names of the earlier runs it needs} by ``NEEDS`` and the default rule
    (a notebook without a number needs every earlier run)."""
    out: dict[str, list[str]] = {}
    for i, run in enumerate(runs):
        if run.notebook in NEEDS:
            need = [r.name for r in runs[:i] if r.notebook in NEEDS[run.notebook]]
        else:
            n = _number(run.notebook)
            need = [r.name for r in runs[:i] if n is None or (_number(r.notebook) is not None and _number(r.notebook) < n)]
        out[run.name] = need
    return out


def run_key(profile: Profile, run: Run, seen: dict | None = None) -> str:
    """What an executed notebook depends on: its source, its parameters, the profile, and the source of
    the library modules it imports, directly or through other modules (not the whole package).
    ``seen``: {source: modules} shared by the runs of one batch, so each notebook is analysed once."""
    from .codeversion import all_modules, imported_modules

    source = notebook_path(run.notebook).read_text()
    seen = {} if seen is None else seen
    if source not in seen:
        seen[source] = imported_modules(source)
    modules = seen[source]
    key = {"source": source, "parameters": run.parameters, "profile": profile.name,
           "in_book": run.in_book, "modules": modules if modules is not None else all_modules()}
    if run.notebook in READS_PUBLISHED:
        # a chapter rendered from published/*/ reruns when a publication changes
        key["published"] = sorted((str(m.relative_to(repo_root())), sha256_file(m))
                                  for m in (repo_root() / "published").glob("*/manifest.json"))
    return params_key(key)


def _stamp(profile: Profile, run: Run) -> Path:
    return artifacts_dir(profile.name) / "stamps" / f"{run.name}.json"


def up_to_date(profile: Profile, run: Run, key: str) -> bool:
    """True when the run's output exists and was produced by this profile with this key."""
    import json

    stamp, out = _stamp(profile, run), output_path(profile, run)
    if not (stamp.exists() and out.exists() and results_dir(profile.name).exists()):
        return False
    try:
        rec = json.loads(stamp.read_text())
    except ValueError:
        return False
    return rec.get("key") == key and rec.get("sha256") == sha256_file(out)


# --------------------------------------------------------------------------- parallel jobs
#: The thread-pool sizes a job's kernel reads from its environment (BLAS, OpenMP, numba, torch via
#: OMP, and the notebooks' own ``threads`` cap, ``runtime.cpu_threads``).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", THREADS_ENV)


def cores() -> int:
    """The CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def job_threads(jobs: int) -> int:
    """Threads per job so that ``jobs`` concurrent jobs do not oversubscribe the cores: max(1, cores // jobs)."""
    return max(1, cores() // jobs)


class _Job:
    """A run executing in a child process (``python -m adsorbstudy.study.runner JOB.json``), for ``--jobs`` > 1."""

    def __init__(self, profile: Profile, run: Run, env: dict):
        import subprocess

        d = artifacts_dir(profile.name) / "running"
        d.mkdir(parents=True, exist_ok=True)
        self.run, self.result = run, d / f"{run.name}.result.json"
        self.result.unlink(missing_ok=True)
        spec = d / f"{run.name}.job.json"
        atomic_write_json(spec, {"profile": profile.name, "notebook": run.notebook, "name": run.name,
                                 "in_book": run.in_book, "parameters": run.parameters, "result": str(self.result)})
        self.t0 = time.perf_counter()
        # its own process group, so that stopping the batch stops the job's kernel too (:meth:`stop`)
        self.proc = subprocess.Popen([sys.executable, "-m", "adsorbstudy.study.runner", str(spec)], env=env,
                                     cwd=str(repo_root()), start_new_session=True)

    def stop(self) -> None:
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    def done(self) -> bool:
        return self.proc.poll() is not None

    def outcome(self) -> RunResult | StudyError:
        import json

        seconds = time.perf_counter() - self.t0
        if self.result.exists():
            rec = json.loads(self.result.read_text())
            self.result.unlink()
            if rec["status"] == "ran":
                return RunResult(self.run.name, self.run.notebook, rec["seconds"], Path(rec["output"]))
            return StudyError(rec["message"], rec["seconds"])
        return StudyError(f"notebook {self.run.notebook}.py (run {self.run.name}) stopped: its job process exited "
                          f"with status {self.proc.returncode} before reporting", seconds)


def _child(spec_path: str) -> int:
    """Entry point of a job's process: execute one run, write its outcome as JSON for the parent."""
    import json

    spec = json.loads(Path(spec_path).read_text())
    Path(spec_path).unlink()
    logging.getLogger("papermill").setLevel(logging.ERROR)
    profile = Profile(spec["profile"], "", "auto", [])
    run = Run(spec["notebook"], spec["name"], spec["in_book"], spec["parameters"])
    try:
        res = execute_run(profile, run, log=lambda *a, **k: None)
        rec = {"status": "ran", "seconds": res.seconds, "output": str(res.output)}
    except StudyError as exc:
        rec = {"status": "failed", "seconds": exc.seconds, "message": str(exc)}
    atomic_write_json(spec["result"], rec)
    return 0


class StudyFailed(StudyError):
    """Runs of a batch failed: ``failures`` holds one message per failed run (naming its notebook and
    cell), ``skipped`` the runs not started because a run they need failed."""

    def __init__(self, failures: list[str], skipped: list[str]):
        super().__init__("\n".join(failures))
        self.failures, self.skipped = failures, skipped


def run_study(profile_name: str, only: list[str] | None = None, force: bool = False, jobs: int = 1,
              log=print) -> list[RunResult]:
    """Validate the profile, then execute its runs, up to ``jobs`` at a time. Returns the per-run results
    in profile order.

    A run starts when every run it needs (``dependencies``) has succeeded or was reused; a run
    whose notebook, parameters and imported library modules are unchanged since it last succeeded
    for this profile, and none of whose needed runs executed in this batch, is skipped ("cached").
    A failing run stops the runs that need it ("skipped"), not the others; the batch then raises
    StudyFailed. ``force`` re-executes everything and recomputes every artifact written before this
    batch started. With ``jobs`` > 1 each run executes in its own process, and every job gets
    ``job_threads`` threads through ``THREAD_VARS``.
    """
    from .codeversion import check as check_code_versions
    from .provenance import git_state

    if not (isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 1):
        raise ValueError(f"--jobs: expected an integer ≥ 1; got {jobs!r}")
    profile = load_profile(profile_name)
    runs = select_runs(profile, only)
    for run in runs:  # a missing notebook or bad spec fails here, before any work
        notebook_path(run.notebook).stat()
    check_code_versions()  # a cached artifact must not outlive the code that made it
    os.environ["ADSORBSTUDY_ROOT"] = str(repo_root())
    # Progress bars inside the kernels would only clutter the book; the batch shows one bar per notebook.
    os.environ["TQDM_DISABLE"] = "1"
    # papermill cannot parse our range comments in the parameters cells and warns; validation is ours.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    if force:
        os.environ[FORCE_ENV] = repr(time.time())
    env = dict(os.environ)
    threads = job_threads(jobs) if jobs > 1 else None
    if threads is not None:
        env.update({v: str(threads) for v in THREAD_VARS})
    log(f"study: profile {profile.name} ({len(runs)} runs" + (f", {jobs} jobs of {threads} threads)" if threads else ")"))
    marker = generated_dir() / ".profile"
    same_book = marker.exists() and marker.read_text().strip() == profile.name
    batch_git = git_state(repo_root())
    needs = dependencies(profile.runs)
    selected = {r.name for r in runs}
    needs = {r.name: [n for n in needs[r.name] if n in selected] for r in runs}
    seen: dict = {}
    keys = {r.name: run_key(profile, r, seen) for r in runs}
    _write_provenance(profile, batch_git)

    t0 = time.perf_counter()
    results: dict[str, RunResult] = {}
    failures: list[str] = []
    running: dict[str, _Job] = {}
    status = {r.name: "pending" for r in runs}

    def finish(run: Run, outcome) -> None:
        if isinstance(outcome, StudyError):
            failed = artifacts_dir(profile.name) / "failed" / f"{run.name}.ipynb"
            results[run.name] = RunResult(run.name, run.notebook, outcome.seconds,
                                          failed if failed.exists() else None, "failed")
            failures.append(str(outcome))
            status[run.name] = "failed"
            return
        results[run.name] = outcome
        status[run.name] = "ran"
        out = output_path(profile, run)
        atomic_write_json(_stamp(profile, run), {"key": keys[run.name], "sha256": sha256_file(out),
                                                 "git": batch_git, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 "seconds": round(outcome.seconds, 1)})
        _write_provenance(profile, batch_git)
        if jobs > 1:
            log(f"  {run.name:<34s} {outcome.seconds:8.1f} s  -> {out.relative_to(repo_root())}")

    # a SIGTERM (kill, a CI time-out) must stop the jobs too: they run in their own sessions, so
    # nothing else reaches them; turned into SystemExit, it runs the `finally` below
    import signal
    import threading

    def _terminate(signum, frame):
        raise SystemExit(128 + signum)

    old_term = (signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread()
                else None)
    try:
        while any(s in ("pending", "running") for s in status.values()):
            progressed = False
            for run in runs:
                if status[run.name] != "pending":
                    continue
                dep = [status[n] for n in needs[run.name]]
                if any(s in ("failed", "skipped") for s in dep):
                    bad = [n for n in needs[run.name] if status[n] in ("failed", "skipped")]
                    results[run.name] = RunResult(run.name, run.notebook, 0.0, None, "skipped", bad)
                    status[run.name] = "skipped"
                    log(f"  {run.name:<34s} {'skipped':>8s}    (needs {', '.join(bad)}, which did not succeed)")
                    progressed = True
                    continue
                if any(s in ("pending", "running") for s in dep):
                    continue
                if (not force and same_book and not any(s == "ran" for s in dep)
                        and up_to_date(profile, run, keys[run.name])):
                    log(f"  {run.name:<34s} {'cached':>8s}    (unchanged since its last run)")
                    results[run.name] = RunResult(run.name, run.notebook, 0.0, output_path(profile, run), "cached")
                    status[run.name] = "cached"
                    progressed = True
                    continue
                if runs_alone(run) and running:
                    break  # drain: start nothing more until it can run alone (it would starve otherwise)
                if len(running) >= jobs or any(runs_alone(j.run) for j in running.values()):
                    continue
                if marker.exists() and not same_book:
                    marker.unlink()  # the book now mixes profiles until this batch has re-run every chapter
                if jobs == 1:
                    try:
                        outcome = execute_run(profile, run, log=log)
                    except StudyError as exc:
                        outcome = exc
                    finish(run, outcome)
                else:
                    log(f"  {run.name:<34s} {'started':>8s}")
                    running[run.name] = _Job(profile, run, env)
                    status[run.name] = "running"
                progressed = True
            for name, job in list(running.items()):
                if job.done():
                    del running[name]
                    finish(job.run, job.outcome())
                    progressed = True
            if not progressed:
                time.sleep(0.1)
        if not only and not failures:
            atomic_write_text(marker, profile.name + "\n")
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        for job in running.values():  # interrupted: stop the jobs still executing, kernels included
            job.stop()
        # also after a failure: the runs done so far and the failing one, so a slow or broken step
        # is visible without rerunning the batch
        total = time.perf_counter() - t0
        ordered = [results[r.name] for r in runs if r.name in results]
        log(time_table(ordered, total))
        write_timings(profile, ordered, total, only, jobs=jobs, threads=threads, git=batch_git)
    if failures:
        raise StudyFailed(failures, [r.name for r in ordered if r.status == "skipped"])
    return ordered


def _write_provenance(profile: Profile, batch: dict) -> Path:
    """``results/<profile>/provenance.json``: the batch's git state and, per run with a stamp, the
    git state when it last executed (:mod:`adsorbstudy.study.provenance`)."""
    import json

    runs = {}
    for stamp in sorted((artifacts_dir(profile.name) / "stamps").glob("*.json")):
        try:
            rec = json.loads(stamp.read_text())
        except ValueError:
            continue
        if stamp.stem in {r.name for r in profile.runs} and "git" in rec:
            # seconds: the wall time of the execution that finished the run (a resumed run: its last part)
            runs[stamp.stem] = rec["git"] | {"finished": rec.get("finished"), "seconds": rec.get("seconds")}
    return atomic_write_json(results_dir(profile.name) / "provenance.json", {"batch": batch, "runs": runs})


def write_timings(profile: Profile, results: list[RunResult], total: float, only: list[str] | None,
                  jobs: int = 1, threads: int | None = None, git: dict | None = None) -> Path:
    """Write ``artifacts/<profile>/timings.json``: per run name, notebook, status ("ran", "cached",
    "failed", "skipped" with the runs it needed that did not succeed) and seconds; the batch's total,
    status ("finished", or "failed" when a run failed, "interrupted" when the batch stopped otherwise),
    jobs and threads per job, git commit and dirty flag, machine and package versions."""
    statuses = [r.status for r in results]
    done = len(results) == len(select_runs(profile, only))
    status = "failed" if "failed" in statuses else ("finished" if done else "interrupted")
    record = {
        "profile": profile.name, "status": status,
        "runs": [{"name": r.name, "notebook": r.notebook, "status": r.status, "seconds": r.seconds}
                 | ({"needs": r.needs} if r.status == "skipped" else {}) for r in results],
        "total_seconds": total, "jobs": jobs, "threads_per_job": threads, "git": git,
        "python": platform.python_version(), "versions": package_versions(),
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "only": only or [],
    }
    return atomic_write_json(artifacts_dir(profile.name) / "timings.json", record)


def time_table(results: list[RunResult], total: float) -> str:
    """The batch's time per run as a text table; reused (cached), failed and skipped runs are marked."""
    def mark(r: RunResult) -> str:
        return {"cached": "  reused", "failed": "  FAILED",
                "skipped": f"  skipped (needs {', '.join(r.needs)})"}.get(r.status, "")

    lines = ["", f"{'run':<34s} {'seconds':>10s}", "-" * 45]
    lines += [f"{r.name:<34s} {r.seconds:10.1f}" + mark(r) for r in results]
    lines += ["-" * 45, f"{'total':<34s} {total:10.1f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
