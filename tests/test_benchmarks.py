"""Smoke tests of the benchmark scripts: each runs with ``--quick`` and prints its JSON last line.

These check the scripts run and report every required quantity as a finite positive number;
they assert nothing about speed (speed is measured by the benchmarks, never in tests).
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing"
    out = json.loads(lines[-1])
    assert isinstance(out, dict)
    return out


def positive(d: dict, *keys: str, where: str = "") -> None:
    for k in keys:
        assert k in d, f"{where}: missing {k!r}"
        v = d[k]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{where}{k}: {v!r} is not a number"
        assert math.isfinite(v) and v > 0, f"{where}{k}: {v!r} is not finite and positive"


def test_isotherm_solve_quick():
    out = run_quick("isotherm_solve.py")
    positive(out, "points_per_s", "n_points", "seconds", "reference_points_per_s", "speedup_vs_reference",
             "threads")
    assert out["threads"] == 1 and out["quick"] is True
    # The vectorized solver must agree with the per-point brentq reference to rounding level (both solve
    # to ~1e-14 in logit units) and satisfy Eq. 6 itself: a solver off by 1 %, or one that returns another
    # root or a root of a mis-signed equation, fails here (a bare "is finite" check let them through).
    assert 0 <= out["max_rel_diff_vs_reference"] <= 1e-9, out["max_rel_diff_vs_reference"]
    assert 0 <= out["max_abs_residual_logit"] <= 1e-9, out["max_abs_residual_logit"]
    assert 0 <= out["three_root_fraction"] <= 1 and out["three_root_fraction"] > 0  # the hard case is exercised


def test_mc_throughput_quick():
    out = run_quick("mc_throughput.py")
    assert out["quick"] is True
    for L in (64, 256):
        positive(out["metropolis_numba"][f"L{L}"], "chains", "flips_per_ns_1thread", "flips_per_ns_all_threads",
                 "flips_per_ns_per_core", where=f"metropolis L{L} ")
    positive(out["metropolis_reference"], "numpy_checkerboard_1thread_L64", "torch_checkerboard_cpu_1thread_L64")
    positive(out["ratios"], "numba_over_numpy_1thread_L64", "numba_over_torch_cpu_1thread_L64")
    for L in (16, 64):
        positive(out["wolff_at_tc"][f"L{L}"], "clusters_per_s_1thread", "clusters_per_s_all_threads",
                 where=f"wolff L{L} ")
        for method in ("metropolis", "wolff"):
            c = out["cost_at_tc"][f"{method}_L{L}"]
            positive(c, "tau_int", "sweep_seconds_per_chain", "seconds_per_independent_tau",
                     "seconds_per_independent_2tau", where=f"{method} L{L} ")
            assert isinstance(c["tau_reliable"], bool)
        positive(out["wolff_over_metropolis_cost_at_tc"], f"L{L}")


def test_sampling_throughput_quick():
    out = run_quick("sampling_throughput.py")
    assert out["quick"] is True
    positive(out, "batch", "threads")
    rows = out["results"]
    for r in rows:
        where = f"L{r['L']} {r['sampler']} "
        positive(r, "samples_per_s", "seconds_per_nfe", "seconds_per_1000", "nfe", "timed_nfe", "batch",
                 "n_params", where=where)
        assert r["batch"] == out["batch"]
        assert isinstance(r["extrapolated"], bool)
        if r["extrapolated"]:
            assert r["timed_nfe"] < r["nfe"], where
        else:
            assert r["timed_nfe"] == r["nfe"], where
        assert r["samples_per_s"] == pytest.approx(r["batch"] / (r["nfe"] * r["seconds_per_nfe"]), rel=1e-9)
    got = {(r["L"], r["kind"], r["sampler"]) for r in rows}
    for L in (16, 64):
        for kind in ("adsorption", "adsorption-nolateral", "ddpm", "gan", "gan-m"):
            assert any(k == kind and ll == L for ll, k, _ in got), f"no {kind} row at L={L}"
        assert (L, "ddpm", "ancestral-1000") in got
        assert sum(ll == L and s.startswith("ddim-") for ll, _, s in got) >= 2, f"DDIM step counts at L={L}"
    assert sum(ll == 16 and k == "adsorption" for ll, k, _ in got) >= 3, "the adsorption generator at several K"
    nfe = {(r["L"], r["sampler"]): r["nfe"] for r in rows}
    assert nfe[(64, "ancestral-1000")] == 1000 and nfe[(64, "gan")] == 1 and nfe[(64, "gan-m")] == 1
    # both timing paths ran: a whole sampler and an extrapolated one
    assert any(r["extrapolated"] for r in rows) and not all(r["extrapolated"] for r in rows)
    for L in (16, 64):
        d = out["ratios"][f"L{L}"]
        assert d, f"no ratios at L={L}"
        positive(d, *d, where=f"ratios L{L} ")
    for s in out["eq6_solve_L16"]:
        positive(s, "seconds", where="eq6 ")


def test_paper_profile_estimate_counts_the_profiles_work():
    """The work is counted from the profile: checked by hand for the paper profile's adsorption run, and
    runs that share a checkpoint (the default profile's ancestral DDPM-1000 runs) add no training."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import paper_profile_estimate as ppe
    finally:
        sys.path.pop(0)
    rows = {r["run"]: r for r in ppe.work("paper")}
    ads = rows["04-train-adsorption"]
    # 1000 samples × 31 test temperatures × K = 100, plus 46875 // 5000 = 9 snapshots × 3 T × 256 × 100
    assert (ads["steps"], ads["nfe_per_sample"], ads["n_T"]) == (46875, 100, 31)
    assert ads["sample_config_nfe"] == 1000 * 31 * 100 + 9 * 3 * 256 * 100
    assert rows["04-train-ddpm"]["nfe_per_sample"] == 1000
    from adsorbstudy.study.profile import load_profile

    # the long profile holds the ancestral DDPM-1000 subset beside the DDIM-50 runs
    default = {r["run"]: r for r in ppe.work("long")}
    p = {r.name: r.parameters for r in load_profile("long").runs}
    anc, ddpm = p["04-train-ddpm-anc"], p["04-train-ddpm"]
    assert default["04-train-ddpm-anc"]["steps"] == 0 and default["04-train-ddpm"]["steps"] == ddpm["steps"]
    # sample_T with the ancestral 1000-step chain; the grid with DDIM-50 plus the snapshots
    assert default["04-train-ddpm-anc"]["sample_config_nfe"] == anc["n_samples"] * len(anc["sample_T"]) * 1000
    assert default["04-train-ddpm"]["sample_config_nfe"] == (
        ddpm["n_samples"] * 31 * 50
        + len(ddpm["snapshot_steps"]) * len(ddpm["budget_T"]) * ddpm["n_budget"] * 50)
    assert "snapshot_every" not in ddpm and ddpm["snapshot_steps"] == [250, 500, 1000, 2000, 3000]


def test_paper_profile_estimate_quick():
    out = run_quick("paper_profile_estimate.py")
    assert out["quick"] is True and out["profile"] == "paper"
    positive(out["hours_here"], "train", "sample", "total")
    assert out["hours_here"]["total"] == pytest.approx(out["hours_here"]["train"] + out["hours_here"]["sample"])
    assert out["estimate_hours_gpu_node"] == pytest.approx(out["hours_here"]["total"] / out["assumed_gpu_speedup"])
    for shape in out["per_shape"].values():
        positive(shape, "step_seconds", "nfe_seconds_per_config")
    assert sum(r["train_hours_here"] for r in out["runs"]) == pytest.approx(out["hours_here"]["train"])
