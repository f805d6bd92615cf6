"""The artifact store: results keyed by a hash of the parameters that produced them.

Layout: ``<root>/<name>/<key>.<ext>`` with a sidecar ``<key>.meta.json`` that
records the parameters and the SHA-256 of the data file. An artifact is used
only when its sidecar exists and the checksum matches, so a truncated or
corrupt file (an interrupted write, a damaged disk) is detected and recomputed,
never silently used. Every write goes to a temporary file in the same
directory and is renamed into place (atomic on POSIX).

``--force`` on the study runner sets ``ADSORBSTUDY_FORCE_SINCE`` to the start
time of the batch (seconds since the epoch): artifacts written before it are
recomputed, artifacts the same batch already rewrote are reused. "Written" is
the file's modification time, so the rule also covers files that are not
store artifacts, such as training checkpoints (:meth:`Store.stale`).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

FORCE_ENV = "ADSORBSTUDY_FORCE_SINCE"


def force_since() -> float | None:
    """The start time of the running ``--force`` batch (``$ADSORBSTUDY_FORCE_SINCE``), or None."""
    since = os.environ.get(FORCE_ENV)
    if not since:
        return None
    try:
        return float(since)
    except ValueError:
        raise ValueError(f"${FORCE_ENV}: expected a time in seconds since the epoch; got {since!r}") from None


def canonical(params: Any) -> Any:
    """Parameters as plain JSON types (numpy scalars and arrays, tuples, Paths converted)."""
    if isinstance(params, dict):
        return {str(k): canonical(v) for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))}
    if isinstance(params, (list, tuple)):
        return [canonical(v) for v in params]
    if isinstance(params, np.ndarray):
        return canonical(params.tolist())
    if isinstance(params, np.generic):
        return canonical(params.item())
    if isinstance(params, Path):
        return str(params)
    if isinstance(params, float):
        if not np.isfinite(params):
            return None  # JSON has no NaN or inf: a missing value
        # repr round-trips, so 0.1 and 0.1000000001 get different keys, 2.0 and 2 the same
        return int(params) if params.is_integer() else float(repr(params))
    return params


def params_key(params: Any) -> str:
    """A 16-hex-digit key: SHA-256 of the canonical JSON of ``params``."""
    blob = json.dumps(canonical(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def file_lock(path: Path | str):
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the ``with`` block.

    Parallel study jobs (``adsorbstudy study --jobs N``) take it around a read-modify-write of a
    shared file and around training a checkpoint that two runs share (runs with identical training
    parameters), so the second waits for the first and then reuses its result."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def atomic_write_json(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(canonical(obj), indent=2) + "\n")


def save_npz(path: Path | str, arrays: dict[str, np.ndarray]) -> Path:
    """Write a compressed ``.npz`` atomically."""
    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        tmp.write_bytes(buf.getvalue())
    return atomic_write(path, write)


def load_npz(path: Path | str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class Store:
    """A directory of parameter-keyed artifacts.

    >>> store = Store(tmp_path)
    >>> arrays = store.arrays("ising", {"L": 8, "T": 2.0}, lambda: {"configs": sample()})

    ``force=True`` recomputes everything; by default it follows ``$ADSORBSTUDY_FORCE_SINCE``.
    """

    def __init__(self, root: Path | str, force: bool | None = None):
        self.root = Path(root)
        self._force = force

    # -- paths -----------------------------------------------------------------
    def path(self, name: str, params: Any, ext: str) -> Path:
        """Where the artifact ``name`` for ``params`` lives (``ext`` without the dot)."""
        return self.root / name / f"{params_key(params)}.{ext}"

    def _meta(self, path: Path) -> Path:
        return path.with_name(path.name.split(".")[0] + ".meta.json")

    # -- validity --------------------------------------------------------------
    def stale(self, path: Path) -> bool:
        """True when the existing file ``path`` must be recomputed because of a forced run: always
        with ``force=True``, else when it was last modified before ``$ADSORBSTUDY_FORCE_SINCE``."""
        if self._force is not None:
            return self._force
        since = force_since()
        return since is not None and path.stat().st_mtime < since

    def valid(self, path: Path) -> bool:
        """True when ``path`` and its sidecar exist, the checksum matches and it is not forced stale."""
        meta = self._meta(path)
        if not (path.exists() and meta.exists()):
            return False
        try:
            recorded = json.loads(meta.read_text())["sha256"]
        except (ValueError, KeyError):
            return False
        return recorded == sha256_file(path) and not self.stale(path)

    def commit(self, path: Path, params: Any, **extra: Any) -> None:
        """Record the sidecar of a data file already written (atomically) at ``path``."""
        atomic_write_json(self._meta(path), {"params": params, "sha256": sha256_file(path),
                                             "written": time.time(), **extra})

    # -- typed helpers -----------------------------------------------------------
    def arrays(self, name: str, params: Any,
               compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Load the ``.npz`` for ``params`` or compute, save and return it."""
        path = self.path(name, params, "npz")
        if self.valid(path):
            return load_npz(path)
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        save_npz(path, arrays)
        self.commit(path, params)
        return arrays

    def json(self, name: str, params: Any, compute: Callable[[], Any]) -> Any:
        """Load the ``.json`` for ``params`` or compute, save and return it."""
        path = self.path(name, params, "json")
        if self.valid(path):
            return json.loads(path.read_text())
        obj = canonical(compute())
        atomic_write_json(path, obj)
        self.commit(path, params)
        return obj


def study_store(profile: str) -> Store:
    """The store of a profile: ``artifacts/<profile>/`` under the repository root."""
    from .runtime import artifacts_dir

    return Store(artifacts_dir(profile))
