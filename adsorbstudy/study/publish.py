"""Published results: a finished study's machine-readable results, copied with their provenance.

Some profiles take hours (``long``) or a GPU node (``paper``); a reader should not have to rerun them to
read the book. ``adsorbstudy publish --profile P`` copies what the book needs from ``results/<P>/`` into
``published/<P>/`` (committed to the repository):

- every CSV and JSON file (the verdict, the tables, the model records);
- the saved test-grid and exact-statistics samples (``samples/*.npz``) as packed bits (one bit per spin,
  ``np.packbits`` of σ > 0, with the shape beside them): the samples from which every summary row can be
  recomputed;
- the generated digits with their prompts (``images/*.npz``), as written, for rescoring;
- not the training-budget snapshot samples, the checkpoints or anything under ``artifacts/``.

Beside them it writes ``manifest.json``: the git commit and whether the tree was clean (it refuses a dirty
tree), the code versions of every producer (``adsorbstudy.study.codeversion``'s registry), the SHA-256 of
the profile file, the SHA-256 of every published file, each run's commit, finish time and wall time, and
the machine (cores, CPU model, torch version and device). It refuses a study with a run that has no
record of finishing or whose last execution failed. The tree is written next to its final place and
renamed into it, so a reader never sees half a publication.

:func:`verify` checks a published tree against its manifest (the book's chapter on published results
calls it, so a file changed after publishing fails the build naming the file); :func:`staleness` compares
the manifest's code versions with the current registry.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from . import codeversion
from .profile import load_profile, profile_path
from .provenance import git_state
from .runtime import artifacts_dir, pick_device, repo_root, results_dir
from .store import atomic_write_json, sha256_file

PUBLISHED = "published"
MANIFEST = "manifest.json"
#: results/<P>/ subdirectories never published (snapshot samples of the budget curves)
EXCLUDED_DIRS = ("budget",)


class PublishError(ValueError):
    """A study that cannot be published, or a published tree that does not match its manifest: the
    message is one line naming the problem."""


def published_dir(profile: str, root: Path | str | None = None) -> Path:
    return Path(root or repo_root()) / PUBLISHED / profile


def pack_spins(spins: np.ndarray) -> dict[str, np.ndarray]:
    """±1 spins (n, L, L) → {"bits": uint8 packed σ > 0 along the flattened array, "shape": int64}."""
    x = np.asarray(spins)
    if x.size and not np.isin(x, (-1, 1)).all():
        raise PublishError("samples: spins must be ±1 to be packed")
    return {"bits": np.packbits((x > 0).ravel()), "shape": np.asarray(x.shape, np.int64)}


def unpack_spins(bits: np.ndarray, shape) -> np.ndarray:
    """The inverse of :func:`pack_spins`: int8 ±1 of ``shape``."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape))
    return np.where(np.unpackbits(np.asarray(bits, np.uint8))[:n].reshape(shape) > 0, 1, -1).astype(np.int8)


def load_packed(path: Path | str) -> dict[str, np.ndarray]:
    """A published samples file → {key: int8 ±1 array} (keys as in the study's own npz, e.g. ``T=2.30``)."""
    z = np.load(path)
    keys = sorted({k.rsplit("/", 1)[0] for k in z.files})
    return {k: unpack_spins(z[f"{k}/bits"], z[f"{k}/shape"]) for k in keys}


def _machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(pick_device("auto"))}


def check_publishable(profile: str, root: Path | str | None = None) -> dict:
    """The checks :func:`publish` makes before copying anything; returns the git state and the runs'
    provenance. Raises :class:`PublishError` (one line) for a dirty or unknown tree, a run of the profile
    without a record of finishing, or a run whose last execution failed."""
    root = Path(root or repo_root())
    git = git_state(root, ignore=(PUBLISHED,))  # a publication is the output, not an input
    if git["commit"] is None:
        raise PublishError("publish: not a git checkout: the manifest needs the commit")
    if git["dirty"]:
        raise PublishError(f"publish: the working tree has uncommitted changes ({', '.join(git['changed'][:3])}); "
                           "commit them and rerun the study first")
    prof = load_profile(profile)
    prov_path = results_dir(profile) / "provenance.json"
    runs = json.loads(prov_path.read_text())["runs"] if prov_path.exists() else {}
    failed_dir = artifacts_dir(profile) / "failed"
    failed = [r.name for r in prof.runs if (failed_dir / f"{r.name}.ipynb").exists()]
    if failed:
        raise PublishError(f"publish: profile {profile!r} has failed runs ({', '.join(failed)}); rerun the study")
    missing = [r.name for r in prof.runs if r.name not in runs]
    if missing:
        raise PublishError(f"publish: profile {profile!r} is incomplete: no finished run {', '.join(missing[:5])}"
                           + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                           + f"; run `python -m adsorbstudy study --profile {profile}` to the end")
    return {"git": git, "runs": {r.name: runs[r.name] for r in prof.runs}}


def publish(profile: str, root: Path | str | None = None) -> Path:
    """Copy ``results/<profile>/`` into ``published/<profile>/`` with its manifest (module docstring);
    returns the published directory."""
    root = Path(root or repo_root())
    state = check_publishable(profile, root)
    src = results_dir(profile)
    dest = published_dir(profile, root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile}-", dir=dest.parent))
    try:
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src)
            if not f.is_file() or rel.parts[0] in EXCLUDED_DIRS:
                continue
            if f.suffix in (".csv", ".json") and not f.name.endswith(".lock"):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, tmp / rel)
            elif f.suffix == ".npz" and rel.parts[0] == "images":  # generated digits with prompts: already small
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, tmp / rel)
            elif f.suffix == ".npz" and rel.parts[0] == "samples":
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                with np.load(f) as z:
                    arrays = {f"{k}/{part}": v for k in z.files for part, v in pack_spins(z[k]).items()}
                np.savez_compressed(tmp / rel, **arrays)
        files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "profile": profile, "commit": state["git"]["commit"], "clean": not state["git"]["dirty"],
            "published": time.strftime("%Y-%m-%d %H:%M:%S"),
            "code_versions": {k: v["version"] for k, v in codeversion.read_registry().items()},
            "profile_sha256": sha256_file(profile_path(profile)),
            "runs": {name: {"commit": r.get("commit"), "finished": r.get("finished"), "seconds": r.get("seconds")}
                     for name, r in state["runs"].items()},
            "machine": _machine(), "files": files,
            "reproduce": [f"make book PROFILE={profile}", f"python -m adsorbstudy publish --profile {profile}"],
        }
        atomic_write_json(tmp / MANIFEST, manifest)
        old = None
        if dest.exists():
            old = dest.with_name(f".{profile}-old-{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def verify(path: Path | str) -> dict:
    """Check a published directory against its manifest; return the manifest. Raises
    :class:`PublishError` naming the first file that is missing, unlisted or whose SHA-256 differs."""
    path = Path(path)
    mf = path / MANIFEST
    if not mf.exists():
        raise PublishError(f"{path}: no {MANIFEST}")
    manifest = json.loads(mf.read_text())
    for rel, digest in manifest["files"].items():
        f = path / rel
        if not f.exists():
            raise PublishError(f"{f}: listed in the manifest but missing")
        if sha256_file(f) != digest:
            raise PublishError(f"{f}: SHA-256 does not match the manifest (changed after publishing)")
    extra = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name != MANIFEST
             and str(p.relative_to(path)) not in manifest["files"]]
    if extra:
        raise PublishError(f"{path / extra[0]}: not in the manifest (added after publishing)")
    return manifest


def staleness(manifest: dict, registry: dict | None = None) -> dict:
    """{producer: (published version, current version)} for every producer whose code version changed
    since publishing (empty: the published results are current). ``registry``: the current registry
    (default: ``adsorbstudy.study.codeversion.read_registry()``)."""
    reg = codeversion.read_registry() if registry is None else registry
    now = {k: v["version"] for k, v in reg.items()}
    pub = manifest.get("code_versions", {})
    return {k: (pub.get(k), now.get(k)) for k in sorted(set(pub) | set(now)) if pub.get(k) != now.get(k)}


def banner(manifest: dict, registry: dict | None = None) -> str:
    """The chapter's banner: current or stale (naming each changed version), the commit and the exact
    commands that reproduce the published results."""
    changed = staleness(manifest, registry)
    p = manifest["profile"]
    head = (f"**Current.** These are the `{p}` profile's results published from commit `{manifest['commit'][:12]}`; "
            "every code version they were computed with is the current one."
            if not changed else
            f"**Stale.** These are the `{p}` profile's results published from commit `{manifest['commit'][:12]}`; "
            "since then these code versions changed: "
            + ", ".join(f"{k} {a} → {b}" for k, (a, b) in changed.items())
            + ". They describe the code of that commit, not the current code.")
    return head + " Reproduce them with `" + "` then `".join(manifest["reproduce"]) + "`."
