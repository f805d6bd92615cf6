"""Results files and verdict arithmetic on hand-made rows with known answers."""
import math

import numpy as np
import pytest

from adsorbstudy.analysis.comparisons import temperature_response, verdict
from adsorbstudy.analysis.tables import read_summary_csv, SUMMARY_COLUMNS, write_summary_csv
from adsorbstudy.analysis.wording import claim_line, fmt_interval, fmt_pm, verdict_markdown, verdict_table


def rows():
    out = []
    for T in (1.0, 2.0, 3.0, 4.0):
        out.append(dict(model="MC", T=T, n=100, e=-T, e_err=0.03, m_abs=1 / T, m_abs_err=0.04, C=1.0, C_err=0.1,
                        chi=2.0, chi_err=0.0, w1_e=0.0, w1_m=0.0, nfe=None, seconds_per_1000=None,
                        exact_e=-T, exact_c=1.0, w1_e_err=0.0, w1_m_err=0.0, U4=0.6, U4_err=0.01))
        out.append(dict(model="gen", T=T, n=100, e=-T + (0.1 if T < 2.5 else -0.3), e_err=0.04,
                        m_abs=1 / T, m_abs_err=0.03, C=1.5, C_err=0.1, chi=1.0, chi_err=0.0,
                        w1_e=0.2, w1_m=0.1, nfe=50, seconds_per_1000=1.25, exact_e=-T, exact_c=1.0,
                        w1_e_err=0.02, w1_m_err=0.01 * T, U4=0.6 - 0.1 * T, U4_err=0.02))
    return out


def test_summary_roundtrip(tmp_path):
    path = write_summary_csv(tmp_path / "summary.csv", rows())
    back = read_summary_csv(path)
    assert list(back[0]) == SUMMARY_COLUMNS
    assert back[1]["model"] == "gen" and back[1]["e"] == -0.9 and math.isnan(back[0]["nfe"])


TRAIN_T = [1.5, 2.0, 3.5]  # 2.0 seen, 3.0 unseen (inside the range, not trained on), 1.0 and 4.0 outside


def test_verdict_known_numbers():
    v = verdict(rows(), TRAIN_T)
    gen = v["models"]["gen"]
    inside, outside, seen, unseen = gen["inside"], gen["outside"], gen["seen"], gen["unseen"]
    assert inside["n_T"] == 2 and outside["n_T"] == 2          # 2.0, 3.0 inside; 1.0, 4.0 outside
    assert seen["n_T"] == 1 and unseen["n_T"] == 1
    assert math.isclose(seen["d_e"], 0.1) and math.isclose(unseen["d_e"], 0.3)
    assert math.isclose(seen["d_e_err"], math.hypot(0.03, 0.04))
    # |ΔU4| = 0.1 T: 0.2 at T = 2 (seen), 0.3 at T = 3 (unseen), (0.1 + 0.4)/2 outside
    assert math.isclose(seen["d_U4"], 0.2) and math.isclose(unseen["d_U4"], 0.3)
    assert math.isclose(outside["d_U4"], 0.25) and math.isclose(outside["d_U4_err"], math.sqrt(2 * (0.01**2 + 0.02**2)) / 2)
    assert gen["n"] == 100
    assert math.isclose(inside["d_e"], (0.1 + 0.3) / 2)
    assert math.isclose(inside["d_e_err"], math.sqrt(2 * (0.03**2 + 0.04**2)) / 2)
    assert math.isclose(outside["d_e"], (0.1 + 0.3) / 2)
    assert math.isclose(inside["d_m_abs"], 0.0, abs_tol=1e-12)
    assert math.isclose(inside["rel_C"], 0.5) and math.isclose(inside["rel_chi"], 0.5)
    assert gen["nfe"] == 50 and gen["seconds_per_1000"] == 1.25
    # W1 means carry sqrt(Σ σ²)/n of the per-temperature bootstrap errors
    assert math.isclose(inside["w1_e_err"], math.sqrt(2 * 0.02**2) / 2)
    assert math.isclose(inside["w1_m_err"], math.sqrt(0.02**2 + 0.03**2) / 2)
    assert math.isclose(outside["w1_m_err"], math.sqrt(0.01**2 + 0.04**2) / 2)
    table = verdict_table(v)
    assert table.count("\n") == 2 + 2 and "0.200 ± 0.035" in table      # header, rule, 3 region rows
    assert fmt_pm(0.2, seen["w1_e_err"]) in table and fmt_pm(0.1, seen["w1_m_err"]) in table
    assert "seen (1)" in table and "unseen (1)" in table and "outside (2)" in table
    assert "0.2 |" not in table                                   # no W1 without its error bar
    # gen's ⟨e⟩ spans -0.9 (T=1) to -4.3 (T=4): 3.4 against MC's 3.0
    assert math.isclose(gen["e_response"], 3.4 / 3.0)
    assert math.isclose(gen["e_response_err"], math.hypot(math.hypot(0.04, 0.04) / 3.0, (3.4 / 3.0) * math.hypot(0.03, 0.03) / 3.0))


def test_temperature_response_flags_a_collapsed_generator():
    ref = [dict(T=T, e=-2.0 + 0.4 * T, e_err=0.0) for T in (1.0, 2.0, 3.0, 4.0)]
    same = [dict(r) for r in ref]
    flat = [dict(T=r["T"], e=-1.1 + 0.01 * (r["T"] == 2.0), e_err=0.0) for r in ref]
    assert temperature_response(same, ref) == (pytest.approx(1.0), 0.0)
    assert temperature_response(flat, ref)[0] == pytest.approx(0.01 / 1.2)
    assert math.isnan(temperature_response(flat[:1], ref)[0])     # one temperature has no range
    v = verdict([dict(r, model="MC", m_abs=0.5, m_abs_err=0.0, C=1.0, C_err=0.0, chi=1.0, chi_err=0.0, w1_e=0.0,
                      w1_m=0.0, w1_e_err=0.0, w1_m_err=0.0, exact_c=1.0) for r in ref]
                + [dict(r, model="flat", m_abs=0.5, m_abs_err=0.0, C=1.0, C_err=0.0, chi=1.0, chi_err=0.0, w1_e=0.0,
                        w1_m=0.0, w1_e_err=0.0, w1_m_err=0.0, exact_c=1.0) for r in flat], (1.0, 4.0))
    one = _study(_gaps(0.05, 0.0, 1), _gaps(0.5, 0.0, 1))
    one["models"]["adsorption-s0"] |= {"e_response": 0.97, "e_response_err": 0.012}
    one["models"]["ddpm-50-s0"] |= {"e_response": v["models"]["flat"]["e_response"], "e_response_err": 0.0}
    text = verdict_markdown(one)
    assert "Temperature response" in text and "adsorption-s0 0.970 ± 0.012" in text and "ddpm-50-s0 0.0083" in text


def test_fmt_pm():
    assert fmt_pm(0.123456, 0.0123) == "0.123 ± 0.012"
    assert fmt_pm(12.3, 2.5) == "12.3 ± 2.5"
    assert fmt_pm(float("nan")) == "n/a"


def test_metric_pipeline_on_synthetic_ensembles():
    """An MC ensemble scores as indistinguishable from an independent MC ensemble at the same T;
    a mode-collapsed one (one configuration repeated) has zero flip-symmetric diversity and a large W1."""
    from adsorbstudy.physics import ensembles, observables

    T, L = 2.5, 8
    a = ensembles.sample_ensemble(L, T, 400, method="wolff", seed=1).configs
    b = ensembles.sample_ensemble(L, T, 400, method="wolff", seed=2).configs
    collapsed = np.repeat(a[:1], 400, axis=0)
    same = summary_rows_for(a, a, T, L)
    indep = summary_rows_for(b, a, T, L)
    bad = summary_rows_for(collapsed, a, T, L)
    assert same["w1_e"] == 0 and same["w1_m"] == 0
    assert indep["w1_e_err"] > 0 and indep["w1_m_err"] > 0 and bad["w1_m_err"] >= 0
    # independent samples of one distribution: W1 of e is a few standard errors of the mean energy at most
    assert indep["w1_e"] < 0.05 and abs(indep["e"] - same["e"]) < 4 * math.hypot(indep["e_err"], same["e_err"])
    assert bad["w1_e"] > 5 * indep["w1_e"] and bad["C"] == 0
    h_mc, _ = observables.hamming(a, flip_symmetric=True)
    h_bad, _ = observables.hamming(collapsed, flip_symmetric=True)
    assert h_bad == 0 and h_mc > 0.2


def summary_rows_for(configs, reference, T, L):
    from adsorbstudy.analysis.tables import summary_rows

    (row,) = summary_rows("x", {T: configs}, {T: reference}, L, n_boot=50)
    return row


CLAIM_TRAIN_T = [1.5, 2.0, 2.5, 3.0]
TEST_T = [1.5, 1.75, 2.0, 2.25, 3.5]  # seen 1.5, 2.0; unseen 1.75, 2.25; outside 3.5


def _row(model, T, e, n=100):
    return {"model": model, "T": T, "n": n, "e": e, "e_err": 0.004, "m_abs": 0.5, "m_abs_err": 0.01, "U4": 0.6,
            "U4_err": 0.01, "C": 1.0, "C_err": 0.1, "exact_c": 1.0, "chi": 1.0, "chi_err": 0.1, "w1_e": 0.02,
            "w1_e_err": 0.003, "w1_m": 0.02, "w1_m_err": 0.003, "nfe": 10, "seconds_per_1000": 1.0}


def _study(gaps_a, gaps_b, decisive=True):
    """Summary rows and verdict of two arms whose seeds miss the Monte Carlo energy by ``gaps_a[s][i]`` and
    ``gaps_b[s][i]`` J at the i-th test temperature (MC: e = −T), and the claims of the pair."""
    from adsorbstudy.analysis.comparisons import claims, verdict

    rows = [_row("MC", T, -T) for T in TEST_T]
    extras = {}
    for arm, sampler, gaps in (("adsorption", "native", gaps_a), ("ddpm-50", "ancestral DDPM-50", gaps_b)):
        for s, g in enumerate(gaps):
            rows += [_row(f"{arm}-s{s}", T, -T + gi) for T, gi in zip(TEST_T, g)]
            extras[f"{arm}-s{s}"] = {"arm": arm, "kind": arm.split("-")[0], "sampler": sampler}
    v = verdict(rows, CLAIM_TRAIN_T, extras=extras)
    v |= {"profile": "unit", "L": 8, "n_test": 100, "paper_seeds": {"adsorption": 3, "ddpm-50": 4, "gan": 1}}
    pair = [("adsorption", "ddpm-50")]
    v["claims"] = claims(rows, v, pair, CLAIM_TRAIN_T, decisive=pair if decisive else ())
    return v


def _gaps(base, spread, n):
    # seed s misses by base + spread*(s − mean) at every temperature, plus a fixed pattern over T
    return [[base + spread * (s - (n - 1) / 2) + 0.002 * i for i in range(len(TEST_T))] for s in range(n)]


def test_claim_interval_is_welch_on_per_seed_region_means_computed_by_hand():
    from scipy import stats

    a, b = _gaps(0.05, 0.01, 3), _gaps(0.12, 0.02, 3)
    v = _study(a, b)
    c = next(x for x in v["claims"] if x["key"] == "d_e" and x["region"] == "unseen")
    unseen = [1, 3]  # the indices of 1.75 and 2.25
    ra = np.array([np.mean([g[i] for i in unseen]) for g in a])
    rb = np.array([np.mean([g[i] for i in unseen]) for g in b])
    va, vb = ra.var(ddof=1) / 3, rb.var(ddof=1) / 3
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)  # family of one: Holm leaves α = 0.05
    assert c["role"] == "primary" and c["family_size"] == 1 and c["n_T"] == 2 and c["T"] == [1.75, 2.25]
    assert math.isclose(c["diff"], ra.mean() - rb.mean(), rel_tol=1e-9)
    assert math.isclose(c["low"], c["diff"] - half, rel_tol=1e-9) and math.isclose(c["high"], c["diff"] + half, rel_tol=1e-9)
    assert c["outcome"] == "adsorption is better" and c["high"] < 0
    assert c["sampler_a"] == "native sampler, NFE 10" and c["sampler_b"] == "ancestral DDPM-50 sampler, NFE 10"


def test_only_the_declared_claim_can_be_called_better():
    """A huge gap everywhere: the primary claim says better, every other metric and region stays secondary."""
    v = _study(_gaps(0.01, 0.001, 3), _gaps(0.5, 0.001, 3))
    prim = [c for c in v["claims"] if c["role"] == "primary"]
    assert [(c["key"], c["region"]) for c in prim] == [("d_e", "unseen")] and prim[0]["outcome"] == "adsorption is better"
    rest = [c for c in v["claims"] if c["role"] != "primary"]
    assert rest and all(c["outcome"] == "secondary: interval shown, no claim" for c in rest)
    # the same data with the pair not declared decisive: no claim at all
    assert all(c["role"] == "secondary" for c in _study(_gaps(0.01, 0.001, 3), _gaps(0.5, 0.001, 3), False)["claims"])


def test_a_gap_inside_the_seed_spread_is_not_resolved_and_never_no_difference():
    v = _study(_gaps(0.05, 0.04, 3), _gaps(0.06, 0.04, 3))
    c = next(x for x in v["claims"] if x["role"] == "primary")
    assert c["low"] < 0 < c["high"] and c["outcome"] == "not resolved with 3 seeds"
    one = _study(_gaps(0.05, 0.0, 1), _gaps(0.5, 0.0, 1))
    c1 = next(x for x in one["claims"] if x["role"] == "primary")
    assert c1["low"] is None and c1["outcome"] == "not resolved with 1 seed"
    assert "no interval: one seed" in claim_line(c1)


def test_the_answer_is_generated_from_the_file():
    from adsorbstudy.analysis.wording import answer_markdown

    v = _study(_gaps(0.01, 0.001, 3), _gaps(0.5, 0.001, 3))
    v["power"] = {"effect_sd": 3.0, "n_seeds": 3, "family_size": 1, "power": 0.71}
    v["exact"] = {"models": {"adsorption": {"raw": {"inside": {"max_abs_z_e": 12.3}},
                                            "snis": {"inside": {"n_T": 2, "max_abs_z_e": 1.04, "max_abs_z_c": 0.5,
                                                                "ess_frac_mean": 0.1234}}}}}
    v["scaling"] = {"crossovers": [
        {"generator": "adsorption (K=50)", "mc": "MC metropolis", "kl_per_spin": 0.0087, "never": True,
         "kl_source": "measured ESS/n = 0.108 of adsorption at T = 2.3, L = 16 (exact.csv)"},
        {"generator": "adsorption (K=50)", "mc": "MC metropolis", "kl_per_spin": 0.001, "never": False, "L_from": 99.0,
         "kl_source": "hypothetical (kl_scan)"}]}
    md = answer_markdown(v)
    c = next(x for x in v["claims"] if x["role"] == "primary")
    assert md.startswith("**The short answer**")
    assert f"adsorption vs ddpm-50: {fmt_interval(c)} J, so **adsorption is better**." in md
    assert "called better in 71 % of studies (3 seeds per arm, family of 1" in md
    assert "raw samples max |z_e| = 12.3" in md and "(SNIS) max |z_e| = 1.0" in md and "ESS/n = 0.123" in md
    assert "(0.0087): never cheaper than Monte Carlo" in md and "L ≈ 99" not in md  # hypothetical KLs stay out
    # with budget curves: the answer names the budget and the pair's trend with its interval
    v["budget"] = {"T": [2.0], "n": 64, "trends": [
        {"a": "adsorption", "b": "ddpm-50", "key": c["key"], "last_step": 1000, "slope": 0.041, "slope_low": 0.012,
         "slope_high": 0.07, "outcome": "narrows"},
        {"a": "adsorption", "b": "ddpm-50", "key": "d_m_abs", "last_step": 1000, "slope": 9.0, "slope_low": 8.0,
         "slope_high": 10.0, "outcome": "narrows"}]}
    for t in v["budget"]["trends"]:
        t |= {"steps": [250, 500, 1000], "first_step": 250, "gap_last": -0.2, "gap_last_low": -0.3, "gap_last_high": -0.1,
              "n_a": 3, "n_b": 3}
    md = answer_markdown(v)
    assert "favour the first model; at 1000 optimizer steps, the budget of every model here):" in md
    assert ("so **adsorption is better**. With the budget, the gap's trend is +0.0410 [+0.0120, +0.0700] J per e-fold "
            "of optimizer steps: the gap narrows as the budget grows.") in md
    assert "+9.0" not in md  # only the primary metric's trend
    text = verdict_markdown(v)
    assert "adsorption 3, ddpm-50 3" in text and "trains 3 seeds of adsorption, 4 seeds of ddpm-50." in text
    one = _study(_gaps(0.05, 0.0, 1), _gaps(0.5, 0.0, 1))
    assert "one seed only" in verdict_markdown(one)
    del one["paper_seeds"]
    assert "paper profile" not in verdict_markdown(one)


def test_training_seeds_counts_the_fidelity_runs_by_kind():
    from adsorbstudy.study.profile import training_seeds, validate_profile

    def train(model, name=None):
        return {"notebook": "04-train", "name": f"t-{name or model}",
                "parameters": {"model": model, **({"name": name} if name else {})}}

    raw = {"runs": [train("adsorption"), train("adsorption", "adsorption-s1"), train("ddpm"),
                    train("adsorption", "adsorption-fine"),
                    {"notebook": "05-fidelity", "parameters": {"models": ["adsorption", "ddpm"],
                                                               "seed_models": ["adsorption-s1"],
                                                               "fine_models": ["adsorption-fine"]}}]}
    assert training_seeds(validate_profile("unit", raw)) == {"adsorption": 2, "ddpm": 1}
    raw["runs"][-1]["parameters"]["seed_models"] = ["nobody"]
    with pytest.raises(ValueError, match="nobody"):
        training_seeds(validate_profile("unit", raw))


def test_solver_tolerance_comes_from_the_results_file():
    # catches a tolerance typed into the text: the sentence must quote each model's own tol
    one = _study(_gaps(0.05, 0.0, 1), _gaps(0.5, 0.0, 1))
    one["models"]["adsorption-s0"] |= {"pixel_solves": 6400, "nonconverged": 3, "tol": 3e-5}
    text = verdict_markdown(one)
    assert "adsorption-s0 3 of 6,400 (tol = 3e-05)" in text and "10^{-4}" not in text
    del one["models"]["adsorption-s0"]["tol"]
    assert "adsorption-s0 3 of 6,400." in verdict_markdown(one)
