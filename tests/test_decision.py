"""The decision rule (adsorbstudy.analysis.decision), tested by simulating whole studies through the library's own code.

Every rate is a Monte Carlo estimate from a fixed seed; each bound sits at least 3 Monte Carlo standard
errors from the value the rule is expected to give, so the tests hold for any seed, not a chosen one.
Simulated data: per arm and seed, a metric at n_T temperatures = μ + u_seed + e_{seed,T}, normal, with the
per-seed region mean's SD equal to 1 (the "seed SD"), a share of which is sampling error.
"""
import math

import numpy as np
import pytest

from adsorbstudy.analysis.decision import decide, difference, family, holm, holm_levels, power, simulate_family

N_T, SAMPLING_SD = 4, 0.8  # 4 temperatures, sampling error 0.8 per T: 16 % of the seed variance


def mc_se(p, n):
    return math.sqrt(p * (1 - p) / n)


def seeds(rng, n_sim, n_seeds, mu=0.0, sd=1.0):
    """(n_sim, n_seeds, N_T) per-seed values whose per-seed region mean has SD ``sd``."""
    su = math.sqrt(1 - SAMPLING_SD**2 / N_T)
    u = su * rng.standard_normal((n_sim, n_seeds, 1))
    return mu + sd * (u + SAMPLING_SD * rng.standard_normal((n_sim, n_seeds, N_T)))


def test_a_null_family_says_better_in_at_most_one_study_in_twenty():
    """Family of 5 claims, 3 seeds per arm, no true difference anywhere: "better" comes out somewhere in
    the family in ≤ 6.5 % of studies (Holm controls it at 5 %; Welch at 3 seeds is slightly conservative)."""
    n = 4000
    d = simulate_family([0.0] * 5, 3, n, np.random.default_rng(1), n_T=N_T, sampling_sd=SAMPLING_SD)
    rate = float(d["better"].any(-1).mean())
    print(f"null family of 5, 3 seeds: 'better' somewhere in {100 * rate:.2f} % of {n} studies")
    assert rate <= 0.065 and 0.05 - rate < 0.05  # the second: it is a rate, not 0 by a bug
    assert rate > 0.005


def test_the_old_rule_says_better_in_a_fifth_of_null_comparisons():
    """The rule this module replaces, written out in three lines, on 3-seed comparisons with no true
    difference: "better" in ≈ 21 % (the test can see the defect); the new rule, one claim: ≤ 5 %."""
    rng = np.random.default_rng(2)
    n = 8000
    a, b = seeds(rng, n, 3), seeds(rng, n, 3)
    ma, mb = a.mean(-1), b.mean(-1)  # per-seed region means
    old = np.abs(ma.mean(-1) - mb.mean(-1)) > np.maximum(ma.std(-1, ddof=1), mb.std(-1, ddof=1))
    rate_old = float(old.mean())
    new = decide([difference(a, b)])["better"][:, 0]
    rate_new = float(new.mean())
    print(f"old rule: 'better' in {100 * rate_old:.2f} %, Welch: {100 * rate_new:.2f} % of {n} null comparisons")
    assert abs(rate_old - 0.213) < 3 * mc_se(0.213, n) + 0.005
    assert rate_new <= 0.05 + 3 * mc_se(0.05, n)


def test_five_seeds_find_a_three_sd_difference_in_four_studies_of_five():
    """5 seeds per arm, declared family of 5, a true difference of 3 seed SDs on one claim and the others
    null: that claim comes out "better" for the right arm in ≥ 80 % of studies (Welch with Holm: ≈ 82 %)."""
    n = 10000
    d = simulate_family([3.0, 0, 0, 0, 0], 5, n, np.random.default_rng(3), n_T=N_T, sampling_sd=SAMPLING_SD)
    pw = float(d["a_better"][:, 0].mean())
    print(f"power, 5 seeds, family of 5, 3 seed SDs: {100 * pw:.2f} % of {n} studies")
    assert pw >= 0.80
    assert float(d["better"][:, 0].mean()) == pytest.approx(pw, abs=1e-3)  # (almost) never the wrong way
    assert float(d["better"][:, 1:].any(-1).mean()) <= 0.05 + 3 * mc_se(0.05, n)


def test_three_seeds_have_little_power():
    """power() at 3 seeds, a family of 3 and 3 seed SDs: about a third of studies say "better" (the
    number the results page states); more seeds raise it, a larger family lowers it."""
    p3 = power(3.0, 3, 3, n_sim=4000, seed=4)
    print(f"power, 3 seeds, family of 3, 3 seed SDs: {100 * p3['power']:.2f} ± {100 * p3['power_se']:.2f} %")
    assert 0.25 < p3["power"] < 0.45 and p3["power_se"] < 0.01
    assert power(3.0, 5, 3, n_sim=4000, seed=5)["power"] > p3["power"] + 0.3
    assert power(3.0, 3, 1, n_sim=4000, seed=6)["power"] > p3["power"] + 3 * p3["power_se"]
    assert p3["false_better"] <= 0.05 + 3 * mc_se(0.05, 4000)


@pytest.mark.parametrize("n_a, n_b, sd_b, lo, hi", [(3, 3, 2.0, 0.935, 0.965), (5, 5, 1.0, 0.935, 0.965),
                                                    (3, 5, 1.0, 0.935, 0.965),
                                                    # equal spreads at 3 seeds: Welch's estimated dof are ≤ 4,
                                                    # so the interval is a little wide (≈ 96.5 %), never narrow
                                                    (3, 3, 1.0, 0.950, 0.975)])
def test_the_95_interval_covers_the_true_difference(n_a, n_b, sd_b, lo, hi):
    n = 20000
    rng = np.random.default_rng(7)
    a, b = seeds(rng, n, n_a, mu=1.0), seeds(rng, n, n_b, mu=0.3, sd=sd_b)
    d = difference(a, b)
    cover = float(((d["low"] <= 0.7) & (0.7 <= d["high"])).mean())
    print(f"coverage {n_a} vs {n_b} seeds, SD ratio {sd_b}: {100 * cover:.2f} % of {n}")
    assert lo <= cover <= hi, cover


def test_holm_adjusts_and_the_interval_excludes_zero_exactly_when_holm_rejects():
    # a textbook example: sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1, then the running maximum
    assert np.allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(holm_levels([0.01, 0.04, 0.03, 0.005], 0.05), [0.05 / 3, 0.05 / 4, 0.05 / 2, 0.05 / 4])
    # all rejected up to the last step, which keeps its own level α/1; a retained step 2: α/2, then α/m
    assert np.allclose(holm_levels([0.001, 0.2, 0.015], 0.05), [0.05 / 3, 0.05, 0.05 / 2])
    assert np.allclose(holm_levels([0.001, 0.2, 0.3], 0.05), [0.05 / 3, 0.05 / 2, 0.05 / 3])
    d = simulate_family([2.0, 1.0, 0, 0, 0], 4, 3000, np.random.default_rng(8), n_T=N_T, sampling_sd=SAMPLING_SD)
    assert np.array_equal(d["better"], d["p_adj"] <= 0.05)
    # both outcomes occur, and two rejections in one study, so the equality above is informative
    assert 0.1 < d["better"][:, 0].mean() < 0.9 and d["better"][:, :2].all(-1).any()


def test_family_words_and_pooled_difference():
    """Words: "better" for a resolved claim, "no difference" only inside a margin declared in advance,
    "not resolved with n seeds" otherwise (and always with one seed); the pooled difference is the mean
    over T of the per-T differences; mappings {T: seeds} give the same numbers as arrays."""
    a = {1.5: [0.10, 0.11, 0.12], 2.3: [0.20, 0.22, 0.21]}
    b = {2.3: [0.60, 0.58, 0.62], 1.5: [0.30, 0.29, 0.31]}
    d = difference(a, b, a_err={1.5: [0.01] * 3, 2.3: [0.01] * 3}, b_err={1.5: [0.01] * 3, 2.3: [0.01] * 3})
    assert d["T"] == [1.5, 2.3] and np.allclose(d["per_T"], [-0.19, -0.39])
    assert d["diff"] == pytest.approx(-0.29) and d["low"] < d["diff"] < d["high"] < 0
    arr = difference(np.array([a[1.5], a[2.3]]).T, np.array([b[1.5], b[2.3]]).T)
    assert arr["diff"] == pytest.approx(d["diff"]) and arr["p"] == pytest.approx(d["p"]) and arr["T"] is None
    assert d["sampling_share_a"] == pytest.approx((2 * 0.01**2 / 4) / np.var([0.15, 0.165, 0.165], ddof=1))
    near = difference([0.100, 0.101, 0.099], [0.1005, 0.0995, 0.1])
    one = difference([0.1], [0.3, 0.31, 0.29])
    assert math.isnan(one["p"]) and math.isnan(one["low"])
    claims = [{"name": "fidelity", "a": "adsorption", "b": "ddpm", "difference": d},
              {"name": "ablation", "a": "adsorption", "b": "nolateral", "difference": near, "margin": 0.01},
              {"name": "K, no margin", "a": "adsorption", "b": "adsorption-K10", "difference": near},
              {"name": "one seed", "a": "adsorption", "b": "gan", "difference": one}]
    out = family(claims)
    assert [c["outcome"] for c in out] == ["adsorption is better", "no difference (within ±0.01)",
                                           "not resolved with 3 seeds", "not resolved with 1 and 3 seeds"]
    assert all(c["family_size"] == 4 for c in out) and out[0]["high"] < 0 and "difference" not in out[0]
    # higher is better: the same numbers favour b
    flip = family([{"name": "x", "a": "A", "b": "B", "difference": d, "lower_is_better": False}])
    assert flip[0]["outcome"] == "B is better"


def test_seeds_that_agree_exactly_give_no_interval_and_no_claim():
    """A coarse metric (an accuracy over few images) can give every seed of both arms the same value: the
    seeds then carry no spread to build an interval from. That is no claim, like one seed, never a
    zero-width interval that would call any difference "better"; the words say why."""
    from adsorbstudy.analysis.wording import fmt_interval

    d = difference([0.10, 0.10, 0.10], [0.09, 0.09, 0.09])
    assert d["diff"] == pytest.approx(0.01) and all(math.isnan(d[k]) for k in ("low", "high", "p", "se"))
    (c,) = family([{"name": "acc", "a": "A", "b": "B", "difference": d, "lower_is_better": False}])
    assert c["outcome"] == "not resolved with 3 seeds"
    shown = {"diff": c["diff"], "low": None, "high": None, "n_a": 3, "n_b": 3}
    assert fmt_interval(shown) == "+0.01 (no interval: every seed of each arm gave the same value)"
    assert fmt_interval(shown | {"n_a": 1}) == "+0.01 (no interval: one seed)"
    # one arm with spread is enough for Welch's interval
    half = difference([0.10, 0.10, 0.10], [0.08, 0.09, 0.10])
    assert half["low"] < half["diff"] < half["high"] and half["dof"] == pytest.approx(2.0)


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="temperatures"):
        difference({1.5: [1, 2]}, {2.0: [1, 2]})
    with pytest.raises(ValueError, match="finite"):
        difference([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        difference([1.0, 2.0], [1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="margins"):
        decide([difference([1.0, 2.0], [1.0, 2.5])], margins=[-1.0])
    with pytest.raises(ValueError, match="misses"):
        family([{"name": "x", "a": "A", "difference": difference([1.0, 2.0], [1.0, 2.5])}])
    with pytest.raises(ValueError, match="n_seeds"):
        power(3.0, 1, 3)
    d = difference([1.0, 2.0], [1.0, 2.5])
    with pytest.raises(ValueError, match="one declared primary claim per pair"):
        family([{"name": "e", "a": "A", "b": "B", "difference": d}, {"name": "m", "a": "B", "b": "A", "difference": d}])
