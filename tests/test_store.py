"""The artifact store: keyed by parameters, atomic, corrupt files detected and recomputed."""
import numpy as np
import pytest

from adsorbstudy.study.store import FORCE_ENV, force_since, params_key, Store


def test_keys_are_canonical():
    assert params_key({"a": 1, "b": [1.0, 2]}) == params_key({"b": [1, 2.0], "a": 1})
    assert params_key({"T": 2.3}) != params_key({"T": 2.3000001})
    assert params_key({"x": np.float64(0.5), "y": np.arange(2)}) == params_key({"x": 0.5, "y": [0, 1]})


def test_reuse_and_recompute_on_change(tmp_path):
    store, calls = Store(tmp_path), []

    def compute(v):
        calls.append(v)
        return {"x": np.full(3, v)}

    assert store.arrays("a", {"v": 1}, lambda: compute(1))["x"].tolist() == [1, 1, 1]
    assert store.arrays("a", {"v": 1}, lambda: compute(1))["x"].tolist() == [1, 1, 1]
    store.arrays("a", {"v": 2}, lambda: compute(2))
    assert calls == [1, 2]


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-meta"])
def test_corrupt_artifacts_are_recomputed(tmp_path, damage):
    store, calls = Store(tmp_path), []
    compute = lambda: calls.append(1) or {"x": np.arange(1000)}  # noqa: E731
    store.arrays("a", {"v": 1}, compute)
    path = store.path("a", {"v": 1}, "npz")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:-30] + bytes([data[-30] ^ 0xFF]) + data[-29:])
    else:
        path.with_name(path.name.split(".")[0] + ".meta.json").unlink()
    out = store.arrays("a", {"v": 1}, compute)
    assert len(calls) == 2 and out["x"].tolist() == list(range(1000))
    assert store.valid(path)


def test_force_since_recomputes_only_older_artifacts(tmp_path, monkeypatch):
    store, calls = Store(tmp_path), []
    store.json("j", {"k": 1}, lambda: calls.append("old") or {"v": 1})
    import time
    time.sleep(0.02)
    monkeypatch.setenv(FORCE_ENV, repr(time.time()))
    time.sleep(0.02)
    store.json("j", {"k": 1}, lambda: calls.append("new") or {"v": 2})
    assert store.json("j", {"k": 1}, lambda: calls.append("again") or {"v": 3}) == {"v": 2}
    assert calls == ["old", "new"]


def test_stale_follows_the_force_time_or_the_flag(tmp_path, monkeypatch):
    import os
    import time

    f = tmp_path / "any.file"  # not a store artifact: training checkpoints use the same rule
    f.write_bytes(b"x")
    now = time.time()
    os.utime(f, (now - 10, now - 10))
    monkeypatch.delenv(FORCE_ENV, raising=False)
    assert force_since() is None and not Store(tmp_path).stale(f)
    monkeypatch.setenv(FORCE_ENV, repr(now - 20))
    assert force_since() == now - 20 and not Store(tmp_path).stale(f)  # written after the batch began
    monkeypatch.setenv(FORCE_ENV, repr(now - 5))
    assert Store(tmp_path).stale(f)
    assert not Store(tmp_path, force=False).stale(f) and Store(tmp_path, force=True).stale(f)
    monkeypatch.setenv(FORCE_ENV, "yesterday")
    with pytest.raises(ValueError, match=f"{FORCE_ENV}: expected a time in seconds"):
        force_since()


def test_failed_compute_leaves_nothing(tmp_path):
    store = Store(tmp_path)

    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        store.arrays("a", {"v": 1}, boom)
    assert not list(tmp_path.rglob("*.npz"))
