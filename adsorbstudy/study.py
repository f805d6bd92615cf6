"""The study runner: a profile's notebooks executed in batch by papermill.

Each run converts ``notebooks/<notebook>.py`` (jupytext py:percent) to a
notebook, executes it with the run's parameters from the repository root, and
moves the executed notebook to ``book/generated/<name>.ipynb`` (a chapter) or
``artifacts/<profile>/notebooks/<name>.ipynb`` (``in_book: false``) only when it
succeeded: a failing run leaves every earlier output intact, saves its partial
notebook under ``artifacts/<profile>/failed/`` and stops the batch with a
``StudyError`` naming the notebook and the failing cell.

Every batch, finished or failed, prints the time each run took and records it
in ``artifacts/<profile>/timings.json`` with the machine and the versions of
the packages that produced the numbers (:func:`package_versions`).
"""
from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .profile import Profile, Run, load_profile, notebook_params, notebook_path
from .runtime import artifacts_dir, repo_root, results_dir
from .store import FORCE_ENV, atomic_write, atomic_write_json, atomic_write_text, params_key, sha256_file


class StudyError(RuntimeError):
    """A notebook failed; the message names the run, the notebook and the cell.

    ``seconds``: how long the failing run executed before it stopped (for the batch's time table).
    """

    def __init__(self, message: str, seconds: float = 0.0):
        super().__init__(message)
        self.seconds = seconds


@dataclass
class RunResult:
    """One run of a batch: ``status`` is "ran", "cached" (skipped, unchanged) or "failed";
    ``seconds`` is wall-clock execution time (0 for a cached run); ``output`` the executed notebook
    (for a failed run, its partial notebook under ``artifacts/<profile>/failed/``, if one was saved)."""

    name: str
    notebook: str
    seconds: float
    output: Path | None
    status: str = "ran"


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


def fill_markdown(nb, values: dict) -> None:
    """Replace ``{{ name }}`` in markdown cells by the run's parameter values.

    One notebook run several times (one training chapter per model) thus gets a distinct title.
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
    Windows has no IPC transport and keeps TCP.
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "tcp" if os.name == "nt" else "ipc"}})


def execute_run(profile: Profile, run: Run, log=print) -> RunResult:
    """Execute one run; raise StudyError naming the notebook and cell when it fails."""
    import jupytext
    import nbformat
    import papermill as pm

    src = notebook_path(run.notebook)
    nb = jupytext.read(src)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    fill_markdown(nb, {k: s.default for k, s in notebook_params(src).items()} | run.parameters)
    fold_code(nb)
    present_parameters(nb, "source")
    out = output_path(profile, run)
    failed = artifacts_dir(profile.name) / "failed" / f"{run.name}.ipynb"
    work = artifacts_dir(profile.name) / "running" / f"{run.name}.ipynb"
    work.parent.mkdir(parents=True, exist_ok=True)
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


def library_fingerprint() -> str:
    """A hash of the library's source: a change to any module invalidates every executed notebook."""
    import hashlib

    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def run_key(profile: Profile, run: Run, fingerprint: str) -> str:
    """What an executed notebook depends on: its source, its parameters, the library, the profile."""
    return params_key({"source": notebook_path(run.notebook).read_text(), "parameters": run.parameters,
                       "library": fingerprint, "profile": profile.name, "in_book": run.in_book})


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


def run_study(profile_name: str, only: list[str] | None = None, force: bool = False, log=print) -> list[RunResult]:
    """Validate the profile, then execute its runs in order. Returns the per-run timings.

    A run whose notebook, parameters and library are unchanged since it last succeeded for this
    profile is skipped, as long as every run before it in this batch was skipped too (a re-executed
    run may have changed what later runs read). ``force`` re-executes everything and recomputes
    every artifact written before this batch started.
    """
    profile = load_profile(profile_name)
    runs = select_runs(profile, only)
    for run in runs:  # a missing notebook or bad spec fails here, before any work
        notebook_path(run.notebook).stat()
    os.environ["ADSORBSTUDY_ROOT"] = str(repo_root())
    # Progress bars inside the kernels would only clutter the book; the batch shows one bar per notebook.
    os.environ["TQDM_DISABLE"] = "1"
    # papermill cannot parse our range comments in the parameters cells and warns; validation is ours.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    if force:
        os.environ[FORCE_ENV] = repr(time.time())
    log(f"study: profile {profile.name} ({len(runs)} runs)")
    marker = generated_dir() / ".profile"
    same_book = marker.exists() and marker.read_text().strip() == profile.name
    fingerprint = library_fingerprint()
    t0 = time.perf_counter()
    results, fresh = [], not force and same_book
    try:
        for run in runs:
            key = run_key(profile, run, fingerprint)
            if fresh and up_to_date(profile, run, key):
                log(f"  {run.name:<34s} {'cached':>8s}    (unchanged since its last run)")
                results.append(RunResult(run.name, run.notebook, 0.0, output_path(profile, run), "cached"))
                continue
            fresh = False
            if marker.exists() and not same_book:
                marker.unlink()  # the book now mixes profiles until this batch has re-run every chapter
            try:
                results.append(execute_run(profile, run, log=log))
            except StudyError as exc:
                failed = artifacts_dir(profile.name) / "failed" / f"{run.name}.ipynb"
                results.append(RunResult(run.name, run.notebook, exc.seconds,
                                         failed if failed.exists() else None, "failed"))
                raise
            atomic_write_json(_stamp(profile, run), {"key": key, "sha256": sha256_file(output_path(profile, run))})
        if not only:
            atomic_write_text(marker, profile.name + "\n")
    finally:
        # also after a failure: the runs done so far and the failing one, so a slow or broken step
        # is visible without rerunning the batch
        total = time.perf_counter() - t0
        log(time_table(results, total))
        write_timings(profile, results, total, only)
    return results


def write_timings(profile: Profile, results: list[RunResult], total: float, only: list[str] | None) -> Path:
    """Write ``artifacts/<profile>/timings.json``: per run name, notebook, status and seconds; the
    batch's total, status ("finished", or "failed" when a run failed, "interrupted" when the batch
    stopped otherwise), machine and package versions."""
    statuses = [r.status for r in results]
    done = len(results) == len(select_runs(profile, only))
    status = "failed" if "failed" in statuses else ("finished" if done else "interrupted")
    record = {
        "profile": profile.name, "status": status,
        "runs": [{"name": r.name, "notebook": r.notebook, "status": r.status, "seconds": r.seconds} for r in results],
        "total_seconds": total, "python": platform.python_version(), "versions": package_versions(),
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "only": only or [],
    }
    return atomic_write_json(artifacts_dir(profile.name) / "timings.json", record)


def time_table(results: list[RunResult], total: float) -> str:
    """The batch's time per run as a text table; reused (cached) and failed runs are marked."""
    lines = ["", f"{'run':<34s} {'seconds':>10s}", "-" * 45]
    lines += [f"{r.name:<34s} {r.seconds:10.1f}" + ("  reused" if r.status == "cached" else "")
              + ("  FAILED" if r.status == "failed" else "") for r in results]
    lines += ["-" * 45, f"{'total':<34s} {total:10.1f}"]
    return "\n".join(lines)
