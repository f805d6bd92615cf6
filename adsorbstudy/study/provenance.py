"""Which source made the results: the git commit and whether the working tree was dirty.

The study runner records :func:`git_state` in each run's stamp when the run executes, and keeps
``results/<profile>/provenance.json`` up to date: {"batch": the state when the running batch
started, "runs": {run name: the state when that run last executed}}. The cost chapter renders it
with :func:`provenance_markdown`, so the book says which commit its numbers come from.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

#: The name of the run a kernel executes, set by the study runner.
RUN_ENV = "ADSORBSTUDY_RUN"


def git_state(root: Path | str, ignore: tuple[str, ...] = ()) -> dict:
    """{"commit": full hash or None (not a git checkout, or git missing), "dirty": bool or None,
    "changed": up to 20 paths that differ from the commit (tracked or untracked, not ignored)}.
    Paths under the top-level directories ``ignore`` do not count (publishing ignores ``published/``,
    its own output)."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout if res.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "changed": []}
    status = git("status", "--porcelain") or ""
    changed = [ln[3:] for ln in status.splitlines() if ln.strip()]
    changed = [c for c in changed if c.strip('"').split("/", 1)[0] not in ignore]
    return {"commit": head.strip(), "dirty": bool(changed), "changed": changed[:20]}


def describe(state: dict) -> str:
    """``commit 1a2b3c4d5e6f (clean)``, ``... (uncommitted changes)``, or ``an unknown commit (not a git checkout)``."""
    if not state.get("commit"):
        return "an unknown commit (not a git checkout)"
    return f"commit {state['commit'][:12]} ({'uncommitted changes' if state.get('dirty') else 'clean'})"


def provenance_markdown(path: Path | str, run_name: str | None = None) -> str:
    """One paragraph for the book from ``provenance.json``: the commit (and dirty flag) of the runs,
    grouped by state. ``run_name`` (default ``$ADSORBSTUDY_RUN``, set by the runner), the chapter
    that renders it, executes in the current batch and counts with the batch's state."""
    rec = json.loads(Path(path).read_text())
    runs = dict(rec.get("runs", {}))
    run_name = run_name if run_name is not None else os.environ.get(RUN_ENV)
    if run_name:
        runs[run_name] = rec["batch"]
    groups: dict[str, list[str]] = {}
    for name, state in runs.items():
        groups.setdefault(describe(state), []).append(name)
    if len(groups) == 1:
        (what, names), = groups.items()
        return f"Every result in this book ({len(names)} notebook runs) was made from {what}."
    parts = [f"{what}: {', '.join(sorted(names))}" for what, names in sorted(groups.items())]
    return ("The results in this book come from more than one state of the source. "
            + "; ".join(parts) + ".")
