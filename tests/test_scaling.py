"""adsorbstudy.analysis.scaling: power-law fits, crossovers, Monte Carlo cost arithmetic and generator timing."""
import math
import zlib

import numpy as np
import pytest
import torch

from adsorbstudy.analysis import scaling
from adsorbstudy.generators.families import build


def _rng(name: str) -> np.random.Generator:
    """A generator seeded from the test's name (no hand-chosen seed)."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def test_fit_cost_recovers_exact_power_laws_and_predicts_outside_the_range():
    rng = _rng("fit_cost")
    for _ in range(5):
        A, a = float(rng.uniform(1e-6, 1e-2)), float(rng.uniform(0.5, 4.5))
        L = np.array([16, 32, 64, 128])
        f = scaling.fit_cost(L, A * L**a)
        assert f["p"] == pytest.approx(a, rel=1e-10)
        assert f["A"] == pytest.approx(A, rel=1e-8)
        y, err = scaling.power_law_at(f, [8, 1024])
        np.testing.assert_allclose(y, A * np.array([8.0, 1024.0]) ** a, rtol=1e-8)


def test_power_law_at_error_is_the_delta_method_of_the_fit_covariance():
    # a noisy fit, then the prediction error against the delta method computed independently
    rng = _rng("power_law_at")
    L = np.array([8.0, 16, 32, 64])
    y = 0.3 * L**2.2 * np.exp(rng.normal(0, 0.05, 4))
    f = scaling.fit_cost(L, y, 0.05 * y)
    J = np.array([1.0, math.log(256.0)])  # d ln y / d (ln A, p) at L = 256
    expect = math.sqrt(J @ np.asarray(f["cov"]) @ J)
    val, err = scaling.power_law_at(f, 256.0)
    assert float(err) / float(val) == pytest.approx(expect, rel=1e-10)
    assert math.sqrt(f["cov"][1][1]) == pytest.approx(f["p_err"], rel=1e-12)


def test_crossover_of_two_exact_power_laws_is_the_analytic_one():
    rng = _rng("crossover_analytic")
    for _ in range(20):
        a, b = float(rng.uniform(1e-4, 10)), float(rng.uniform(1e-9, 1e-3))
        p, q = float(rng.uniform(1.5, 2.5)), float(rng.uniform(2.6, 5.0))
        iv = scaling.cheaper_interval(a, p, b, q)
        L_star = (a / b) ** (1 / (q - p))
        assert iv[0] == pytest.approx(L_star, rel=1e-10) and iv[1] == math.inf
        # on either side of L*, the costs are ordered as the interval says
        assert a * (1.01 * L_star) ** p < b * (1.01 * L_star) ** q
        assert a * (0.99 * L_star) ** p > b * (0.99 * L_star) ** q
        # the other way round: the steeper law is cheaper only below L*
        assert scaling.cheaper_interval(b, q, a, p) == pytest.approx((0.0, L_star), rel=1e-10)
    assert scaling.cheaper_interval(1.0, 2.0, 2.0, 2.0) == (0.0, math.inf)
    assert scaling.cheaper_interval(2.0, 2.0, 1.0, 2.0) is None


#: The regimes of the crossover brute-force scans: the generator's cost exponent below Monte Carlo's and
#: dearer at L = 1 (a window, if any, opens at a crossing above 1); below and cheaper at L = 1 (the
#: window opens at a crossing below 1, found by the root search's downward bracket); at or above it
#: (cheaper, if at all, only below one crossing: "from the smallest L", 0.0). Each regime is drawn on
#: purpose, so every branch of ``cheaper_interval`` is exercised whatever the random stream. The grid
#: starts at L = 1e-3: the function is a formula in L, and its crossings below 1 are checked too.
REGIMES = ("dearer at L = 1", "cheaper at L = 1", "exponent ≥ Monte Carlo's")


def _draw_costs(rng, regime: str):
    a, p = float(10 ** rng.uniform(-4, 1)), float(rng.uniform(1.5, 2.5))
    if regime == "dearer at L = 1":
        return a, p, float(10 ** rng.uniform(-9, -4)), float(rng.uniform(2.6, 5.0))
    if regime == "cheaper at L = 1":
        return a, p, a * float(10 ** rng.uniform(0.1, 3)), float(rng.uniform(2.6, 5.0))
    return a, p, a * float(10 ** rng.uniform(-1, 3)), float(rng.uniform(1.0, p))


def _check_against_grid(Lg, cheaper, iv) -> str:
    """``iv`` from cheaper_interval against the grid's verdict; returns which case it was."""
    if not cheaper.any():  # never, or only where the grid does not reach
        assert iv is None or iv[1] <= Lg[0] * (1 + 1e-4) or iv[0] >= Lg[-1] * (1 - 1e-4), iv
        return "never" if iv is None else "outside the grid"
    inside = Lg[cheaper]
    if cheaper[0]:  # cheaper at the grid's first L: the window opens at or below it
        assert iv[0] <= Lg[0] * (1 + 1e-4)
    else:
        assert iv[0] == pytest.approx(inside[0], rel=1e-4)
    if inside[-1] < Lg[-1]:
        assert iv[1] == pytest.approx(inside[-1], rel=1e-4)
    return "from the first L" if cheaper[0] else "window"


def test_crossover_with_kl_matches_a_brute_force_scan():
    """With ESS/n = exp(−KL·L²) the generator is cheaper on a bounded window (or never): compare with a fine grid."""
    rng = _rng("crossover_kl")
    Lg = np.exp(np.linspace(math.log(1e-3), math.log(1e5), 400001))
    seen = {r: set() for r in REGIMES}
    for regime in REGIMES:
        for _ in range(15):
            a, p, b, q = _draw_costs(rng, regime)
            kl = float(10 ** rng.uniform(-7, -2))
            cheaper = math.log(a) + p * np.log(Lg) + kl * Lg**2 < math.log(b) + q * np.log(Lg)
            iv = scaling.cheaper_interval(a, p, b, q, kl)
            seen[regime].add(_check_against_grid(Lg, cheaper, iv))
            if iv is not None:
                assert math.isfinite(iv[1])  # the exponential always wins in the end
                assert (iv[0] == 0.0) == (q <= p)  # "from the smallest L" only when MC's exponent is not larger
    assert seen["dearer at L = 1"] == {"window", "never"} and "window" in seen["cheaper at L = 1"]
    assert "from the first L" in seen["exponent ≥ Monte Carlo's"]
    # kl = 0 is the uncorrected crossover
    assert scaling.cheaper_interval(1.0, 2.0, 1e-3, 4.0, 0.0)[0] == pytest.approx(1e3 ** 0.5)


def test_crossover_with_a_kl_trend_matches_a_brute_force_scan():
    """KL per spin kl·L^q (the trend over lattice sizes): the window of L where the generator is cheaper
    equals a fine grid scan of A_g L^p exp(kl L^(2+q)) < A_m L^p_m, for q on both sides of 0."""
    rng = _rng("crossover_kl_trend")
    Lg = np.exp(np.linspace(math.log(1e-3), math.log(1e5), 400001))
    seen = {r: set() for r in REGIMES}
    for regime in REGIMES:
        for _ in range(15):
            a, p, b, pm = _draw_costs(rng, regime)
            kl, q = float(10 ** rng.uniform(-6, -2)), float(rng.uniform(-1.5, 1.0))
            cheaper = math.log(a) + p * np.log(Lg) + kl * Lg ** (2 + q) < math.log(b) + pm * np.log(Lg)
            seen[regime].add(_check_against_grid(Lg, cheaper, scaling.cheaper_interval(a, p, b, pm, kl, q)))
    assert "window" in seen["dearer at L = 1"] and "window" in seen["cheaper at L = 1"]
    assert "from the first L" in seen["exponent ≥ Monte Carlo's"]
    with pytest.raises(ValueError, match="kl_exponent"):
        scaling.cheaper_interval(1.0, 2.0, 1.0, 4.0, 1e-3, -2.0)
    # a KL fit with a negligible covariance reproduces the central interval in every draw
    fit_g = {"A": 1e-3, "p": 2.0, "cov": np.diag([1e-14, 1e-14])}
    fit_m = {"A": 1e-8, "p": 4.2, "cov": np.diag([1e-14, 1e-14])}
    kl_fit = {"A": 1e-4, "p": -0.5, "cov": np.diag([1e-14, 1e-14])}
    c = scaling.crossover_draws(fit_g, fit_m, n_draws=50, kl_fit=kl_fit, seed=0)
    assert c["interval"] == pytest.approx(scaling.cheaper_interval(1e-3, 2.0, 1e-8, 4.2, 1e-4, -0.5))
    assert c["L_from_q"][1] == pytest.approx(c["interval"][0], rel=1e-5)


def test_crossover_draws_follow_an_uncertain_kl_exponent():
    """Only the KL exponent q is uncertain (q ~ N(q0, s²), the cost laws exact): the generator is never
    cheaper exactly when q > q* (found by bisection on :func:`cheaper_interval`), L_from rises and L_to
    falls with q, so the draws' never-fraction and quantiles follow from the normal distribution of q.
    About 4 % of the draws fall at q ≤ −2 and must be clipped, not refused."""
    from statistics import NormalDist

    fit_g = {"A": 1e-3, "p": 2.0, "cov": np.diag([1e-14, 1e-14])}
    fit_m = {"A": 1e-8, "p": 4.2, "cov": np.diag([1e-14, 1e-14])}
    q0, sq, n = -0.6, 0.8, 4000
    kl_fit = {"A": 1e-4, "p": q0, "cov": np.diag([1e-14, sq ** 2])}

    def iv(q):
        return scaling.cheaper_interval(1e-3, 2.0, 1e-8, 4.2, 1e-4, q)

    grid = np.linspace(-1.99, 1.0, 60)
    never = np.array([iv(q) is None for q in grid])
    assert 0 < never.sum() < len(grid) and not np.diff(never.astype(int)).min() < 0  # one threshold q*
    lo, hi = -1.99, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if iv(mid) is None else (mid, hi)
    F, qstar = NormalDist(q0, sq), lo
    c = scaling.crossover_draws(fit_g, fit_m, n_draws=n, kl_fit=kl_fit, seed=0)

    def se(a):
        return 4 * math.sqrt(a * (1 - a) / n)

    p_never = 1 - F.cdf(qstar)
    assert abs(c["never_fraction"] - p_never) < se(p_never)
    Fs = F.cdf(qstar)
    for k, a in enumerate((0.16, 0.5, 0.84)):
        # L_from's a-quantile is L_from at q's a-quantile while that is below q*; never-draws sort last (inf)
        if a + se(a) < Fs:
            band = [iv(F.inv_cdf(a + d))[0] for d in (-se(a), se(a))]
            assert min(band) * (1 - 1e-6) <= c["L_from_q"][k] <= max(band) * (1 + 1e-6), (a, band, c["L_from_q"])
        elif a - se(a) > Fs:
            assert c["L_from_q"][k] == math.inf
        # L_to falls with q: P(L_to ≤ h) = F(q*) − F(q_h), and beyond F(q*) the quantile is a never-draw
        if a + se(a) < Fs - F.cdf(-2):
            band = [iv(F.inv_cdf(Fs - a + d))[1] for d in (-se(a), se(a))]
            assert min(band) * (1 - 1e-6) <= c["L_to_q"][k] <= max(band) * (1 + 1e-6), (a, band, c["L_to_q"])
        elif a - se(a) > Fs:
            assert c["L_to_q"][k] == math.inf
    assert sum(math.isinf(v) for v in c["L_from_q"] + c["L_to_q"]) >= 2  # both branches were exercised


def test_kl_trend_recovers_a_power_law_and_refuses_one_size():
    L = np.array([8.0, 12.0, 16.0])
    fit = scaling.kl_trend(L, 3e-3 * L ** -0.7, 1e-6 * np.ones(3))
    assert (fit["A"], fit["p"]) == pytest.approx((3e-3, -0.7), rel=1e-9)
    assert fit["fit_L"] == [8, 12, 16] and fit["dropped_L"] == []
    with pytest.raises(ValueError, match="≥ 2 lattice sizes"):
        scaling.kl_trend([16, 16], [1e-3, 2e-3], [1e-5, 1e-5])


def test_kl_trend_leaves_out_bounds_at_or_below_zero():
    """A Monte Carlo KL bound can come out ≤ 0 (or nan) at a well-trained size: the power law is fitted
    over the other sizes, exactly as if the bad size had not been measured; below two sizes, no trend."""
    from adsorbstudy.physics.observables import fit_power_law

    L = np.array([8.0, 12.0, 16.0, 24.0])
    err = np.array([1e-5, 2e-5, 3e-4, 5e-5])  # unequal, so errors shifted against their sizes would show
    kl = 3e-3 * L ** -0.7 * np.array([1.02, 1.0, 0.97, 1.01])
    for bad_kl, bad_err in ((0.0, 2e-5), (-2e-4, 2e-5), (float("nan"), 2e-5), (2e-3, float("nan"))):
        got = scaling.kl_trend(L, np.where(L == 12, bad_kl, kl), np.where(L == 12, bad_err, err))
        keep = L != 12
        want = fit_power_law(L[keep], kl[keep], err[keep])  # the fit itself, on the kept sizes
        assert got["fit_L"] == [8, 16, 24] and got["dropped_L"] == [12]
        assert (got["A"], got["p"], got["p_err"]) == pytest.approx((want["A"], want["p"], want["p_err"]), rel=1e-12)
    assert scaling.kl_trend([8, 16], [1e-3, -1e-4], [1e-5, 1e-5]) is None


def test_crossover_rejects_bad_input():
    with pytest.raises(ValueError, match="kl_per_spin"):
        scaling.cheaper_interval(1.0, 2.0, 1.0, 4.0, -1e-3)
    with pytest.raises(ValueError, match="A_g"):
        scaling.cheaper_interval(0.0, 2.0, 1.0, 4.0)
    with pytest.raises(ValueError, match="ess_fraction"):
        scaling.kl_from_ess(0.0, 256)


def test_crossover_draws_centre_on_the_fit_and_spread_with_its_errors():
    rng = _rng("crossover_draws")
    L = np.array([16.0, 32, 64, 128])
    g = scaling.fit_cost(L, 1e-4 * L**2 * np.exp(rng.normal(0, 0.03, 4)))
    m = scaling.fit_cost(L, 1e-8 * L**4.2 * np.exp(rng.normal(0, 0.03, 4)))
    d = scaling.crossover_draws(g, m, 0.0, n_draws=500, seed=1)
    L_star = (g["A"] / m["A"]) ** (1 / (m["p"] - g["p"]))
    assert d["interval"][0] == pytest.approx(L_star, rel=1e-10)
    q16, q50, q84 = d["L_from_q"]
    assert q16 < L_star < q84 and q50 == pytest.approx(L_star, rel=0.1)
    assert d["never_fraction"] == 0.0


def test_mc_cost_and_tau_at_known_numbers():
    cost, err = scaling.mc_cost([1e-6, 4e-6], [10.0, 40.0], [1.0, 2.0])
    np.testing.assert_allclose(cost, [2e-5, 3.2e-4])  # 2 τ × sweep
    np.testing.assert_allclose(err, [2e-6, 1.6e-5])
    with pytest.raises(ValueError):
        scaling.mc_cost([1e-6], [0.0])
    # τ = 0.5 L^2: measured sizes pass through, others come from the fit
    t = scaling.tau_at([16, 32, 128], [8, 16, 32, 64], 0.5 * np.array([8.0, 16, 32, 64]) ** 2, [0.01] * 4)
    assert t["L"] == [16, 32, 128] and t["measured"] == [True, True, False]
    assert t["tau_int"][:2] == [128.0, 512.0]
    assert t["tau_int"][2] == pytest.approx(0.5 * 128**2, rel=1e-6)
    assert t["fit"]["p"] == pytest.approx(2.0, rel=1e-8)
    assert scaling.kl_from_ess(math.exp(-2.56), 256) == pytest.approx(0.01)


def test_tau_fit_uses_only_reliable_sizes():
    """An unreliable (biased-low) τ_int is left out of the z fit and replaced by the fit's prediction."""
    Ls = [8, 16, 32, 64]
    tau = 0.5 * np.array(Ls, float) ** 2.1
    tau_bad = tau.copy()
    tau_bad[-1] *= 0.3  # a too-short series underestimates τ_int
    t = scaling.tau_at(Ls, Ls, tau_bad, [0.01] * 4, reliable=[True, True, True, False])
    assert t["fit"]["p"] == pytest.approx(2.1, rel=1e-9) and t["fit_L"] == [8, 16, 32]
    assert t["measured"] == [True, True, True, False] and t["tau_int"][-1] == pytest.approx(tau[-1], rel=1e-9)
    with pytest.raises(ValueError, match="2 reliable"):
        scaling.tau_at(Ls, Ls, tau, [0.01] * 4, reliable=[True, False, False, False])


def test_batch_keeps_pixels_fixed():
    assert [scaling.batch_for(L, 65536) for L in (16, 32, 64, 128)] == [256, 64, 16, 4]
    assert scaling.batch_for(512, 65536, min_batch=2) == 2


@pytest.mark.parametrize("kind,hp,steps,nfe", [
    ("adsorption", dict(K=6, base=4, depth=2, emb_dim=8), None, None),
    ("ddpm", dict(base=4, depth=2, emb_dim=8), None, 5),   # a 5-step DDPM: the ancestral loop stopped and scaled
    ("ddpm", dict(base=4, depth=2, emb_dim=8), 4, None),   # DDIM-4, run in full
    ("gan", dict(ngf=4, ndf=4), None, None),
])
def test_time_generator_shape_and_values(kind, hp, steps, nfe):
    torch.set_num_threads(1)
    m = build(kind, 8, **hp).eval()
    r = scaling.time_generator(m, [16, 8], steps=steps, nfe=nfe, pixels=256, max_timed_nfe=3, repeats=2)
    assert r["L"] == [8, 16] and r["batch"] == [4, 2]
    full = m.nfe_for(steps) if nfe is None else nfe
    assert r["nfe"] == [full, full] and r["timed_nfe"] == [min(full, 3)] * 2
    assert r["extrapolated"] == [full > 3] * 2
    sps = np.array(r["seconds_per_sample"])
    assert sps.shape == (2,) and np.all(np.isfinite(sps)) and np.all(sps > 0)
    np.testing.assert_allclose(sps, np.array(r["seconds"]) / np.array(r["batch"]) * full / min(full, 3))
    # the U-Net generators carry their weights to the other L; the GAN only to its own
    assert r["trained_weights"] == [True, kind != "gan"]


def test_model_at_L_transplants_u_net_weights():
    m = build("adsorption", 8, K=3, base=4, depth=2, emb_dim=8)
    torch.nn.init.normal_(m.net.out.weight, std=0.1)
    m2, ok = scaling.model_at_L(m, 16)
    assert ok and m2.L == 16
    assert torch.equal(m2.net.out.weight, m.net.out.weight)


def test_time_generator_rejects_bad_input_before_timing():
    m = build("gan", 8, ngf=4, ndf=4)
    with pytest.raises(ValueError, match="L must be"):
        scaling.time_generator(m, [12], pixels=256)
    with pytest.raises(ValueError, match="nfe"):
        scaling.time_generator(m, [8], nfe=2)
    with pytest.raises(ValueError, match="pixels"):
        scaling.time_generator(m, [8], pixels=0)
    with pytest.raises(ValueError, match="repeats"):
        scaling.time_generator(m, [8], repeats=0)


def test_kl_from_results_prefers_measured_ess_then_the_bound(tmp_path):
    import json

    assert scaling.kl_from_results(tmp_path, "adsorption", 16) is None
    (tmp_path / "verdict.json").write_text(json.dumps({"models": {"adsorption": {"kl_bound_inside": 0.02}}}))
    got = scaling.kl_from_results(tmp_path, "adsorption", 16)
    assert got["kl"] == 0.02 and "verdict.json" in got["source"] and got["ess_above_ceiling"] is False
    assert scaling.kl_from_results(tmp_path, "gan", 16) is None
    # exact.csv: the SNIS row nearest T_c wins (ESS/n = 0.2 at T = 2.3, not 0.5 at T = 3.0 or the raw row)
    (tmp_path / "exact.csv").write_text("model,T,method,n,ess\nadsorption,2.3,raw,1000,1000\n"
                                        "adsorption,3.0,snis,1000,500\nadsorption,2.3,snis,1000,200\n")
    got = scaling.kl_from_results(tmp_path, "adsorption", 16)
    assert got["kl"] == pytest.approx(-math.log(0.2) / 256) and "exact.csv" in got["source"]
    assert got["ess_above_ceiling"] is False


def test_kl_eff_is_the_bound_where_the_measured_ess_exceeds_its_ceiling(tmp_path):
    """ESS/n ≤ exp(−N·KL bound) for large n (reweight.ess_ceiling); a measured ESS/n above it is a
    finite-sample overestimate: kl_eff = max(−ln(ESS/n)/N, bound) is then the bound, and the row is flagged."""
    from adsorbstudy.analysis.reweight import ess_ceiling

    N, bound = 256, 0.01
    ceiling = float(ess_ceiling(bound, N))  # exp(−2.56) ≈ 0.077
    above = scaling.kl_effective(0.2, N, bound)
    assert above["kl_eff"] == bound and above["above_ceiling"] and above["ess_ceiling"] == pytest.approx(ceiling)
    assert above["kl_measured"] == pytest.approx(-math.log(0.2) / N) and above["kl_measured"] < bound
    below = scaling.kl_effective(0.05, N, bound)
    assert below["kl_eff"] == pytest.approx(-math.log(0.05) / N) and below["kl_eff"] > bound
    assert not below["above_ceiling"]
    assert scaling.kl_effective(0.2, N)["kl_eff"] == above["kl_measured"]  # no bound: the measurement
    with pytest.raises(ValueError, match="kl_bound"):
        scaling.kl_effective(0.2, N, -1.0)
    # through the results file: the SNIS row's own bound (same L and T)
    (tmp_path / "exact.csv").write_text("model,T,method,n,ess,kl_bound\nadsorption,2.3,snis,1000,200,0.01\n"
                                        "adsorption-nolateral,2.3,snis,1000,50,0.01\n")
    got = scaling.kl_from_results(tmp_path, "adsorption", 16)
    assert got["kl"] == bound and got["ess_above_ceiling"] and "ceiling" in got["source"]
    got = scaling.kl_from_results(tmp_path, "adsorption-nolateral", 16)
    assert got["kl"] == pytest.approx(-math.log(0.05) / N) and not got["ess_above_ceiling"]


def test_check_sizes():
    assert scaling.check_sizes([32, 16, 16]) == [16, 32]
    for bad in ([16, 24], [4, 8], [16], [16, True]):
        with pytest.raises(ValueError, match="scaling_L"):
            scaling.check_sizes(bad)


def test_verdict_entry_is_strict_json_with_the_crossover():
    import json

    L = np.array([16.0, 32, 64])
    g, m = scaling.fit_cost(L, 1e-3 * L**2), scaling.fit_cost(L, 1e-7 * L**4)
    m["z"] = (2.1, 0.1)
    c = scaling.crossover_draws(g, m, 0.0, n_draws=50)
    row = {"generator": "g", "mc": "m", "kl_per_spin": 0.0, "kl_source": "none", "L_from": c["interval"][0],
           "L_to": c["interval"][1], "L_from_q": c["L_from_q"], "never_fraction": c["never_fraction"]}
    gens = {"g": g, "ddpm": g}
    v = json.loads(json.dumps(scaling.verdict_entry(gens, {"m": m}, [row], 16, [16, 32, 64], [8, 16], corrected=["g"]),
                              allow_nan=False))
    assert v["crossovers"][0]["L_from"] == pytest.approx(100.0) and v["crossovers"][0]["L_to"] is None
    assert v["exponents"]["g"]["a"] == pytest.approx(2.0) and v["exponents"]["m"]["z"] == 2.1
    assert v["crossovers"][0]["ess_above_ceiling"] is False and v["per_sample_only"] == ["ddpm"]
    flagged = scaling.verdict_entry(gens, {"m": m}, [row | {"ess_above_ceiling": True}], 16, [16], [8], corrected=["g"])
    assert flagged["crossovers"][0]["ess_above_ceiling"] is True


def test_uncorrected_samplers_get_no_crossover():
    """A DDPM or GAN draws biased samples: the entry refuses a crossover row for any generator not declared
    importance-corrected, and lists it as cost per sample only."""
    L = np.array([16.0, 32, 64])
    g, m = scaling.fit_cost(L, 1e-3 * L**2), scaling.fit_cost(L, 1e-7 * L**4)
    row = {"generator": "ddpm", "mc": "m", "kl_per_spin": 0.0, "kl_source": "uncorrected", "L_from": 100.0,
           "L_to": math.inf, "L_from_q": (90.0, 100.0, 110.0), "never_fraction": 0.0}
    with pytest.raises(ValueError, match="'ddpm' is not importance-corrected"):
        scaling.verdict_entry({"ddpm": g, "adsorption": g}, {"m": m}, [row], 16, [16], [8], corrected=["adsorption"])
    with pytest.raises(ValueError, match="corrected"):
        scaling.verdict_entry({"ddpm": g}, {"m": m}, [], 16, [16], [8], corrected=["adsorption"])
    v = scaling.verdict_entry({"ddpm": g, "gan": g}, {"m": m}, [], 16, [16], [8], corrected=[])
    assert v["crossovers"] == [] and v["per_sample_only"] == ["ddpm", "gan"]
