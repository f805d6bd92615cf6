"""Results files and verdict arithmetic on hand-made rows with known answers."""
import math

import numpy as np
import pytest

from adsorbstudy.analysis.comparisons import claims, compare, temperature_response, verdict
from adsorbstudy.analysis.tables import read_summary_csv, SUMMARY_COLUMNS, write_summary_csv
from adsorbstudy.analysis.wording import claim_line, fmt_pm, verdict_markdown, verdict_table


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
    one = _verdict_with(1)
    one["models"]["adsorption-s0"] |= {"e_response": 0.97, "e_response_err": 0.012}
    one["models"]["ddpm-s0"] |= {"e_response": v["models"]["flat"]["e_response"], "e_response_err": 0.0}
    text = verdict_markdown(one)
    assert "Temperature response" in text and "adsorption-s0 0.970 ± 0.012" in text and "ddpm-s0 0.0083" in text


def test_fmt_pm():
    assert fmt_pm(0.123456, 0.0123) == "0.123 ± 0.012"
    assert fmt_pm(12.3, 2.5) == "12.3 ± 2.5"
    assert fmt_pm(float("nan")) == "n/a"


def test_compare_respects_seed_spread():
    close = compare([1.0, 1.2, 0.8], [1.1, 1.3, 0.9], "a", "b", "mean |Δe|")
    assert close["outcome"].startswith("no difference")
    far = compare([0.1, 0.12, 0.11], [0.5, 0.52, 0.49], "a", "b", "mean |Δe|")
    assert far["outcome"].startswith("a is better")
    one = compare([0.1], [0.5], "a", "b", "x", a_err=0.1, b_err=0.1)["outcome"]
    assert one.startswith("one training seed only") and "a is lower here, 2.8 statistical σ apart" in one
    assert np.isclose(far["spread"], np.std([0.5, 0.52, 0.49], ddof=1))


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


KEYS = ("d_e", "d_m_abs", "rel_C", "rel_chi", "w1_e", "w1_m")


def _verdict_with(n_seeds):
    """A verdict of two kinds with ``n_seeds`` models each, and hand-set numbers (seen and unseen regions)."""
    models = {}
    for kind, sampler, nfe, base in (("adsorption", "native", 10, 0.10), ("ddpm", "ddim-50", 50, 0.30)):
        for s in range(n_seeds):
            models[f"{kind}-s{s}"] = {"kind": kind, "sampler": sampler, "nfe": nfe, "seconds_per_1000": 1.0, "n": 100,
                                      **{region: {"n_T": 2, **{k: base + 0.01 * s for k in KEYS},
                                                  **{f"{k}_err": 0.004 for k in KEYS}} for region in ("seen", "unseen")}}
    v = {"profile": "unit", "L": 8, "n_test": 100, "train_range": [1.5, 3.0], "models": models,
         "paper_seeds": {"adsorption": 3, "ddpm": 4, "gan": 1}}
    v["claims"] = claims(v, [("adsorption", "ddpm")])
    return v


def test_claims_name_samplers_and_print_errors_next_to_means():
    one = _verdict_with(1)
    c = one["claims"][0]
    assert c["sampler_a"] == "native sampler, NFE 10" and c["sampler_b"] == "DDIM-50 sampler, NFE 50"
    line = claim_line(c)
    assert f"adsorption (native sampler, NFE 10) {fmt_pm(0.10, 0.004)} vs ddpm (DDIM-50 sampler, NFE 50) " \
           f"{fmt_pm(0.30, 0.004)}" in line and "one training seed" in line
    two = _verdict_with(2)
    c = two["claims"][0]
    sd = float(np.std([0.10, 0.11], ddof=1))
    assert c["n_a"] == c["n_b"] == 2 and math.isclose(c["spread_a"], sd)
    assert f"{fmt_pm(0.105, sd)} vs ddpm (DDIM-50 sampler, NFE 50) {fmt_pm(0.305, sd)}" in claim_line(c)


def test_verdict_markdown_renders_seed_counts_from_the_file():
    md = verdict_markdown(_verdict_with(1))
    assert "one seed only" in md and "three" not in md
    assert "trains 3 seeds of adsorption, 4 seeds of ddpm." in md and "gan" not in md.split("## The decisive")[0]
    md2 = verdict_markdown(_verdict_with(2))
    assert "adsorption 2, ddpm 2" in md2 and "DDIM-50 sampler" in md2 and "ddpm-s0 [DDIM-50]" in md2
    no_paper = _verdict_with(1)
    del no_paper["paper_seeds"]
    assert "paper profile" not in verdict_markdown(no_paper)


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
    one = _verdict_with(1)
    one["models"]["adsorption-s0"] |= {"pixel_solves": 6400, "nonconverged": 3, "tol": 3e-5}
    text = verdict_markdown(one)
    assert "adsorption-s0 3 of 6,400 (tol = 3e-05)" in text and "10^{-4}" not in text
    del one["models"]["adsorption-s0"]["tol"]
    assert "adsorption-s0 3 of 6,400." in verdict_markdown(one)
