"""The K sweep table (adsorbstudy.analysis.ksweep) against a hand computation on a fixture."""
import numpy as np
import pytest

from adsorbstudy.analysis import ksweep


def _spins(rng, n, p_up):
    return np.where(rng.random((n, 4, 4)) < p_up, 1, -1).astype(np.int8)


def _e(x):
    return -(x * (np.roll(x, 1, 1) + np.roll(x, 1, 2))).sum((1, 2)) / 16.0


def test_rows_by_region_equal_a_hand_computation(tmp_path):
    rng = np.random.default_rng(11)
    temps = [1.5, 2.0, 2.5, 3.0, 4.0]          # train_T = 2.0, 3.0: 1.5 and 4.0 outside, 2.5 unseen
    ref = {T: _spins(rng, 200, 0.5 + 0.4 / T) for T in temps}
    runs = {f"k{K}": {"kind": "adsorption", "K": K, "seed": 0, "samples": {T: _spins(rng, 50, 0.5 + 0.3 / T) for T in temps}}
            for K in (5, 10)}
    table = ksweep.rows(runs, ref, [2.0, 3.0])
    assert [(r["model"], r["region"]) for r in table] == [(m, g) for m in ("k5", "k10") for g in ("seen", "unseen", "outside")]
    for r in table:
        Ts = {"seen": [2.0, 3.0], "unseen": [2.5], "outside": [1.5, 4.0]}[r["region"]]
        x = runs[r["model"]]["samples"]
        d = [abs(_e(x[T]).mean() - _e(ref[T]).mean()) for T in Ts]
        se = np.sqrt(sum(_e(x[T]).var(ddof=1) / 50 + _e(ref[T]).var(ddof=1) / 200 for T in Ts)) / len(Ts)
        assert r["abs_de"] == pytest.approx(np.mean(d), abs=1e-12) and r["abs_de_se"] == pytest.approx(se, rel=1e-12)
        assert r["n_T"] == len(Ts) and r["K"] == int(r["model"][1:])
    assert ksweep.plot(table, tmp_path / "k.png").exists()
    with pytest.raises(ValueError, match="no ensemble at T = 9"):
        ksweep.rows({"k": {"kind": "a", "K": 1, "seed": 0, "samples": {9.0: ref[1.5]}}}, ref, [2.0])
