"""Ensemble metrics against exact values, brute-force loops and known configurations."""
import math

import numpy as np
import pytest
import torch
from scipy.special import comb

from adsorbstudy.physics import observables
from adsorbstudy.physics.lattice import energy, magnetization


def _all_states(L):
    N = L * L
    codes = np.arange(2**N)
    return (2 * ((codes[:, None] >> np.arange(N)) & 1) - 1).reshape(-1, L, L).astype(np.int8)


def _random(n, L, seed=0):
    return (2 * np.random.default_rng(seed).integers(0, 2, size=(n, L, L)) - 1).astype(np.int8)


def test_thermo_stats_on_the_uniform_ensemble_is_exact():
    # every state of the 4×4 torus exactly once = the infinite-temperature ensemble
    L, N, T = 4, 16, 3.0
    st = observables.thermo_stats(_all_states(L), T, n_boot=50)
    assert st["n"] == 2**N
    assert st["e"] == pytest.approx(0, abs=1e-12)
    # the 2N bond variables are pairwise independent: Var(E) = 2N
    assert st["C"] == pytest.approx(N * (2 * N / N**2) / T**2, rel=1e-12)
    k = np.arange(N + 1)
    p = comb(N, k) / 2**N
    m_abs = float((p * np.abs(2 * k - N)).sum() / N)
    assert st["m_abs"] == pytest.approx(m_abs, rel=1e-12)
    assert st["chi"] == pytest.approx(N * (1 / N - m_abs**2) / T, rel=1e-12)
    assert st["U4"] == pytest.approx(2 / (3 * N), rel=1e-10)    # 1 − (3N² − 2N)/(3N²)


def test_thermo_stats_point_values_and_bootstrap_errors():
    x = _random(4000, 6, seed=3)
    x[:1500] = 1                                     # a mixture so e and m really fluctuate
    T = 2.0
    st = observables.thermo_stats(x, T, n_boot=400, seed=1)
    e, m = energy(x), magnetization(x)
    assert st["e"] == pytest.approx(e.mean())
    assert st["m_abs"] == pytest.approx(np.abs(m).mean())
    assert st["C"] == pytest.approx(36 * e.var() / T**2)
    assert st["chi"] == pytest.approx(36 * ((m**2).mean() - np.abs(m).mean() ** 2) / T)
    assert st["U4"] == pytest.approx(1 - (m**4).mean() / (3 * (m**2).mean() ** 2))
    # bootstrap SE of a mean ≈ the analytic SE
    assert st["e_err"] == pytest.approx(e.std() / math.sqrt(len(e)), rel=0.15)
    assert st["m_abs_err"] == pytest.approx(np.abs(m).std() / math.sqrt(len(m)), rel=0.15)
    for k in ("C", "chi", "U4"):
        assert 0 < st[k + "_err"] < abs(st[k])
    # invariant under flipping any configuration; torch input gives the same numbers
    flip = np.where(np.arange(len(x))[:, None, None] % 3 == 0, -x, x)
    assert observables.thermo_stats(flip, T, n_boot=400, seed=1) == st
    assert observables.thermo_stats(torch.as_tensor(x), T, n_boot=400, seed=1) == st


def test_thermo_stats_ordered_ensemble():
    x = np.ones((10, 5, 5), np.int8)
    x[::2] *= -1
    st = observables.thermo_stats(x, 1.0, n_boot=20)
    assert st["e"] == -2 and st["m_abs"] == 1 and st["C"] == 0 and st["chi"] == 0
    assert st["U4"] == pytest.approx(2 / 3)
    assert st["e_err"] == 0


def test_correlation_on_handmade_configurations():
    L = 8
    i, j = np.indices((L, L))
    up = np.ones((L, L), np.int8)
    checker = np.where((i + j) % 2 == 0, 1, -1).astype(np.int8)
    stripes = np.where(i % 2 == 0, 1, -1).astype(np.int8)
    r, G, G_err = observables.correlation(up[None])
    np.testing.assert_array_equal(r, [1, 2, 3, 4])
    np.testing.assert_allclose(G, 1)
    _, G, _ = observables.correlation(checker[None])
    np.testing.assert_allclose(G, (-1.0) ** r)
    _, G, _ = observables.correlation(np.stack([stripes, -stripes]))
    np.testing.assert_allclose(G, (1 + (-1.0) ** r) / 2)


def test_correlation_brute_force_and_errors():
    x = _random(30, 6, seed=5)
    r, G, G_err = observables.correlation(x)
    L = 6
    for k, d in enumerate(r):
        tot, cnt = 0.0, 0
        for c in x:
            for a in range(L):
                for b in range(L):
                    tot += c[a, b] * c[(a + d) % L, b] + c[a, b] * c[a, (b + d) % L]
                    cnt += 2
        assert G[k] == pytest.approx(tot / cnt)
    big = _random(3000, 8, seed=6)
    _, G, G_err = observables.correlation(big)
    assert np.all(np.abs(G) < 4 * G_err)              # independent spins: no correlation
    assert G_err[0] == pytest.approx(1 / math.sqrt(2 * 64 * 3000), rel=0.2)


def test_fit_eta_xi_recovers_synthetic_parameters():
    rng = np.random.default_rng(0)
    r = np.arange(1, 33, dtype=float)
    A, eta, xi = 0.9, 0.25, 8.0
    G0 = A * r**-eta * np.exp(-r / xi)
    sig = 0.01 * G0
    pulls_eta = []
    for k in range(30):
        G = G0 + sig * rng.normal(size=r.size)
        fit = observables.fit_eta_xi(r, G, sig)
        pulls_eta.append((fit["eta"] - eta) / fit["eta_err"])
    assert fit["A"] == pytest.approx(A, rel=0.05)
    assert abs(np.mean(pulls_eta)) < 0.6 and 0.5 < np.std(pulls_eta) < 1.6   # errors are calibrated
    assert fit["xi"] == pytest.approx(xi, abs=4 * fit["xi_err"])
    # pure power law: no exponential decay
    G = r**-0.25
    fit = observables.fit_eta_xi(r, G, 1e-3 * G)
    assert fit["eta"] == pytest.approx(0.25, abs=1e-9) and fit["kappa"] == pytest.approx(0, abs=1e-9)
    # rmax restricts the points used
    assert observables.fit_eta_xi(r, G0, sig, rmax=10)["n_points"] == 10


def test_fit_eta_xi_bad_input():
    r = np.arange(1, 6, dtype=float)
    with pytest.raises(ValueError, match="at least 4 points"):
        observables.fit_eta_xi(r, np.array([1, 0.5, -0.1, 0.0, 0.01]), np.full(5, 0.05))
    with pytest.raises(ValueError, match="same length"):
        observables.fit_eta_xi(r, r[:3], r)
    with pytest.raises(ValueError, match="rmax"):
        observables.fit_eta_xi(r, r, r, rmax=2)


def test_hamming_exact_cases_and_brute_force():
    a = _random(1, 6, seed=1)[0]
    pair = np.stack([a, -a])
    assert observables.hamming(pair, flip_symmetric=False)[0] == 1.0
    assert observables.hamming(pair, flip_symmetric=True)[0] == 0.0
    x = _random(25, 5, seed=2)
    x[:5] = 1
    for sym in (False, True):
        tot, cnt = 0.0, 0
        for p in range(len(x)):
            for q in range(p + 1, len(x)):
                d = np.mean(x[p] != x[q])
                tot += min(d, 1 - d) if sym else d
                cnt += 1
        mean, err = observables.hamming(x, flip_symmetric=sym)
        assert mean == pytest.approx(tot / cnt, abs=1e-6) and err > 0
    # random ensembles: raw distance 1/2, subsampling of pairs is seeded and close to the full value
    big = _random(600, 8, seed=3)
    full, full_err = observables.hamming(big, flip_symmetric=False)
    sub, sub_err = observables.hamming(big, flip_symmetric=False, max_pairs=5000, seed=1)
    assert abs(full - 0.5) < 4 * full_err and abs(sub - full) < 4 * sub_err
    assert observables.hamming(big, False, max_pairs=5000, seed=1) == (sub, sub_err)
    with pytest.raises(ValueError, match="at least 2"):
        observables.hamming(big[:1], False)


def test_w1_and_w1_e_m():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(1.0, 1.0, size=500)
    assert observables.w1(a, b) == pytest.approx(np.abs(np.sort(a) - np.sort(b)).mean(), rel=1e-12)
    assert observables.w1(a, a + 0.3) == pytest.approx(0.3, rel=1e-12)
    x = _random(200, 6, seed=4)
    x[:50] = 1
    d = observables.w1_e_m(x, x[::-1])
    assert d == {"w1_e": 0.0, "w1_m": 0.0}
    assert observables.w1_e_m(x, -x)["w1_m"] == 0.0   # |m| per configuration
    up = np.ones((10, 6, 6), np.int8)
    checker = np.where(np.indices((6, 6)).sum(0) % 2 == 0, 1, -1).astype(np.int8)
    d = observables.w1_e_m(up, np.repeat(checker[None], 10, axis=0))
    assert d["w1_e"] == pytest.approx(4.0) and d["w1_m"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lattice shape"):
        observables.w1_e_m(x, _random(10, 4))
    with pytest.raises(ValueError, match="at least one sample"):
        observables.w1([], [1.0])


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 4)), np.full((3, 4, 4), 2), np.ones((4, 4)), np.ones((0, 4, 4))])
def test_bad_spins_raise(bad):
    with pytest.raises(ValueError, match="spins"):
        observables.thermo_stats(bad, 2.0)
    with pytest.raises(ValueError, match="spins"):
        observables.correlation(bad)


def test_bad_temperature_and_nboot_raise():
    x = np.ones((3, 4, 4))
    with pytest.raises(ValueError, match="T must"):
        observables.thermo_stats(x, 0.0)
    with pytest.raises(ValueError, match="n_boot"):
        observables.thermo_stats(x, 1.0, n_boot=1)



def _pair_sum_G(x):
    """G(r) per configuration by a direct O(N²) sum over all ordered site pairs (i, j), written independently
    of metrics.correlation: a pair counts at distance r when its periodic minimum-image displacement lies
    along one lattice axis with length r (metrics.correlation's convention, r = 1 … L/2). Returns (r, g) with
    g[k, j] = mean of s_i s_j over the pairs at distance r_j in configuration k."""
    n, L, _ = x.shape
    a, b = np.divmod(np.arange(L * L), L)
    da = np.abs(a[:, None] - a[None, :])
    db = np.abs(b[:, None] - b[None, :])
    da, db = np.minimum(da, L - da), np.minimum(db, L - db)
    flat = x.reshape(n, L * L).astype(np.float64)
    r = np.arange(1, L // 2 + 1)
    g = np.empty((n, len(r)))
    for k, d in enumerate(r):
        pairs = (((da == d) & (db == 0)) | ((da == 0) & (db == d))).astype(np.float64)  # (N, N) 0/1 mask
        g[:, k] = np.einsum("ni,ij,nj->n", flat, pairs, flat) / pairs.sum()
    return r, g


def _curve_fit_eta(r, G, G_err):
    """The stated model, ln G = ln A − η ln r − r/ξ, weighted by σ = G_err/G, fitted by scipy's curve_fit on
    the points fit_eta_xi documents (G > 2 G_err); returns (η, η_err, κ) or None below 4 points. η_err is the
    covariance error scaled by √(χ²/dof) when that exceeds 1, as documented."""
    from scipy.optimize import curve_fit

    ok = G > 2 * G_err
    if ok.sum() < 4:
        return None
    rr, y, sy = r[ok].astype(float), np.log(G[ok]), G_err[ok] / G[ok]
    model = lambda rv, lnA, eta, kappa: lnA - eta * np.log(rv) - kappa * rv
    p, cov = curve_fit(model, rr, y, p0=(0.0, 0.2, 0.1), sigma=sy, absolute_sigma=True)
    chi2 = float((((y - model(rr, *p)) / sy) ** 2).sum() / (len(y) - 3)) if len(y) > 3 else float("nan")
    return p[1], math.sqrt(cov[1, 1]) * math.sqrt(max(chi2, 1.0)), p[2]


def test_eta_bootstrap_matches_independent_pair_sum_and_curve_fit():
    # Configurations with a known correlated structure: random fields smoothed over a plaquette plus a
    # shared per-frame offset give a decaying positive G(r). Everything this test compares with is computed
    # here: G(r) by a direct pair sum (not metrics.correlation) and the fit by scipy's curve_fit (not
    # fit_eta_xi). Catches a wrong distance convention or normalization of G(r) (e.g. r off by one, one
    # axis only), a mis-weighted or wrongly selected fit, and a wrong bootstrap spread (e.g. ddof).
    rng = np.random.default_rng(4)
    raw = rng.normal(size=(400, 12, 12))
    sm = raw + np.roll(raw, 1, 1) + np.roll(raw, 1, 2) + np.roll(np.roll(raw, 1, 1), 1, 2)
    sm = sm + 0.6 * sm.mean((1, 2), keepdims=True) * 12
    x = np.where(sm > 0, 1, -1).astype(np.int8)
    r_ind, g = _pair_sum_G(x)
    G, G_err = g.mean(0), g.std(0, ddof=1) / math.sqrt(len(g))
    r, G_lib, G_err_lib = observables.correlation(x)
    np.testing.assert_array_equal(r, r_ind)
    np.testing.assert_allclose(G_lib, G, rtol=0, atol=1e-12)
    np.testing.assert_allclose(G_err_lib, G_err, rtol=1e-9, atol=1e-15)
    assert np.all(np.diff(G) < 0) and G[-1] > 2 * G_err[-1]   # a decaying, fittable G(r)

    eta, eta_err, kappa = _curve_fit_eta(r_ind, G, G_err)
    boot = observables.eta_bootstrap(x, n_boot=100, seed=1)
    assert boot["eta"] == pytest.approx(eta, rel=1e-6) and boot["kappa"] == pytest.approx(kappa, rel=1e-6)
    assert observables.fit_eta_xi(r_ind, G, G_err)["eta_err"] == pytest.approx(eta_err, rel=1e-6)
    # the bootstrap spread: the same resamples (eta_bootstrap draws rng.integers(0, n, n) per replicate from
    # default_rng(seed)), each with the pair-sum G(r) and the curve_fit
    etas = []
    rs = np.random.default_rng(1)
    for _ in range(100):
        gi = g[rs.integers(0, len(g), size=len(g))]
        f = _curve_fit_eta(r_ind, gi.mean(0), gi.std(0, ddof=1) / math.sqrt(len(gi)))
        if f is not None:
            etas.append(f[0])
    assert len(etas) == 100 - boot["n_failed"]
    assert boot["eta_err"] == pytest.approx(np.std(etas, ddof=1), rel=1e-6)
    with pytest.raises(ValueError, match="n_boot"):
        observables.eta_bootstrap(x, n_boot=1)


# ----------------------------------------------------------------- energy_fidelity
_EF_T = (2.5, 3.5)


def _boltzmann_4x4():
    """All 2^16 states of the 4×4 torus, their energies per spin, and the exact Boltzmann weights at _EF_T."""
    S = _all_states(4)
    E = energy(S)
    P = {}
    for T in _EF_T:
        w = np.exp(-16 * (E - E.min()) / T)
        P[T] = w / w.sum()
    return S, E, P


def _exact_draw(S, P, n, seed, temps=_EF_T, labels=_EF_T):
    rng = np.random.default_rng(seed)
    return {lab: S[rng.choice(len(S), size=n, p=P[T])] for T, lab in zip(temps, labels)}


def _w1_floor(E, P, n_a, n_b):
    """Expected W1 between two independent samples of the exact e distribution (CLT: E|F_a − F_b| per gap)."""
    vals = np.unique(E)
    out = []
    for T in _EF_T:
        F = np.array([P[T][E <= v].sum() for v in vals[:-1]])
        out.append(np.sum(np.diff(vals) * math.sqrt(2 / math.pi) * np.sqrt(F * (1 - F) * (1 / n_a + 1 / n_b))))
    return float(np.mean(out))


def test_energy_fidelity_exact_boltzmann_sample_scores_the_noise_floor():
    # both ensembles drawn exactly from the Boltzmann distribution by enumeration of the 4×4 torus
    S, E, P = _boltzmann_4x4()
    ex = {T: float(P[T] @ E) for T in _EF_T}
    n = 400
    r = observables.energy_fidelity(_exact_draw(S, P, n, 1), ex, _exact_draw(S, P, n, 2), n_boot=200, seed=0)
    assert set(r) == {"d_e", "d_e_err", "w1_e", "w1_e_err"}
    # the propagated error is the exact standard error of the mean of the two ⟨e⟩ within sampling noise
    var = [P[T] @ (E - ex[T]) ** 2 for T in _EF_T]
    assert r["d_e_err"] == pytest.approx(math.sqrt(sum(var) / n) / 2, rel=0.15)
    assert r["d_e"] <= 3 * r["d_e_err"]
    floor = _w1_floor(E, P, n, n)
    assert 0 < r["w1_e"] < 2 * floor
    # over independent repeats, the mean W1 is the CLT floor and its spread is what the bootstrap estimates
    reps = [observables.energy_fidelity(_exact_draw(S, P, n, 10 + 2 * k), ex, _exact_draw(S, P, n, 11 + 2 * k),
                                    n_boot=2)["w1_e"] for k in range(40)]
    assert np.mean(reps) == pytest.approx(floor, rel=0.2)
    assert 0.5 < r["w1_e_err"] / np.std(reps, ddof=1) < 2
    # a sampler at the wrong temperatures (2.0, 3.0 labelled 2.5, 3.5) is far outside both error bars
    P2 = {}
    for T in (2.0, 3.0):
        w = np.exp(-16 * (E - E.min()) / T)
        P2[T] = w / w.sum()
    wrong = {lab: S[np.random.default_rng(5).choice(len(S), size=n, p=P2[T])] for T, lab in zip((2.0, 3.0), _EF_T)}
    bad = observables.energy_fidelity(wrong, ex, _exact_draw(S, P, n, 2), n_boot=50)
    assert bad["d_e"] > 10 * bad["d_e_err"]
    assert bad["w1_e"] > 5 * floor
    assert bad["w1_e"] - r["w1_e"] > 5 * math.hypot(bad["w1_e_err"], r["w1_e_err"])


def test_energy_fidelity_all_up_against_a_hot_ensemble_is_exact():
    S, E, P = _boltzmann_4x4()
    T = 3.5
    ref = _exact_draw(S, P, 500, 3)[T]
    e_ref = energy(ref)
    up = np.ones((64, 4, 4), dtype=np.int8)          # e = −2 exactly, no spread
    ex = float(P[T] @ E)
    r = observables.energy_fidelity({T: up}, {T: ex}, {T: ref}, n_boot=400, seed=1)
    assert r["d_e"] == pytest.approx(abs(-2 - ex), rel=1e-12)
    assert r["d_e_err"] == 0
    # every reference energy is ≥ −2, so W1 to the point mass at −2 is ⟨e_ref⟩ + 2, and its bootstrap
    # error is the standard error of ⟨e_ref⟩ (the all-up side does not vary under resampling)
    assert r["w1_e"] == pytest.approx(e_ref.mean() + 2, rel=1e-12)
    assert r["w1_e_err"] == pytest.approx(e_ref.std(ddof=1) / math.sqrt(len(e_ref)), rel=0.2)
    # torch input, and the same seed, give identical numbers
    assert observables.energy_fidelity({T: torch.as_tensor(up)}, {T: ex}, {T: torch.as_tensor(ref)},
                                   n_boot=400, seed=1) == r


def test_energy_fidelity_bad_input_raises():
    x = _random(8, 4)
    good = ({2.0: x}, {2.0: -1.0}, {2.0: x})
    with pytest.raises(ValueError, match="ensembles"):
        observables.energy_fidelity({}, *good[1:])
    with pytest.raises(ValueError, match="e_exact"):
        observables.energy_fidelity(good[0], {3.0: -1.0}, good[2])
    with pytest.raises(ValueError, match="reference"):
        observables.energy_fidelity(good[0], good[1], {2.0: _random(8, 6)})
    with pytest.raises(ValueError, match="e_exact"):
        observables.energy_fidelity(good[0], {2.0: float("nan")}, good[2])
    with pytest.raises(ValueError, match="at least 2"):
        observables.energy_fidelity({2.0: x[:1]}, *good[1:])
    with pytest.raises(ValueError, match="n_boot"):
        observables.energy_fidelity(*good, n_boot=1)
    with pytest.raises(ValueError, match="T must be"):
        observables.energy_fidelity({-1.0: x}, {-1.0: -1.0}, {-1.0: x})


# ----------------------------------------------------------------- bootstrap errors of W1
def _biased(n, L, p_up, seed):
    """n configurations of independent spins, each +1 with probability p_up."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, L, L)) < p_up, 1, -1).astype(np.int8)


def test_w1_bootstrap_matches_brute_force_resampling():
    # the same index draws as the replicates, W1 by scipy on each resampled pair
    from scipy.stats import wasserstein_distance

    a = energy(_biased(60, 4, 0.6, 1))
    b = energy(_biased(90, 4, 0.5, 2))
    reps = observables.w1_bootstrap(a, b, 30, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    ia, ib = rng.integers(0, 60, size=(30, 60)), rng.integers(0, 90, size=(30, 90))
    brute = [wasserstein_distance(a[i], b[j]) for i, j in zip(ia, ib)]
    np.testing.assert_allclose(reps, brute, rtol=0, atol=1e-12)
    d = observables.w1_e_m_bootstrap(_biased(60, 4, 0.6, 1), _biased(90, 4, 0.5, 2), n_boot=30, seed=5)
    assert d["w1_e_err"] == pytest.approx(np.std(brute, ddof=1), rel=1e-9)
    assert d["w1_e"] == observables.w1(a, b)


def test_w1_bootstrap_error_is_the_sampling_spread_and_shrinks_like_one_over_sqrt_n():
    L, p_a, p_b = 6, 0.62, 0.55
    errs = {n: observables.w1_e_m_bootstrap(_biased(n, L, p_a, 1), _biased(n, L, p_b, 2), n_boot=300, seed=0)
            for n in (200, 800)}
    for key in ("w1_e", "w1_m"):
        # four times the samples: half the error
        assert 1.5 < errs[200][f"{key}_err"] / errs[800][f"{key}_err"] < 2.7, key
        # the bootstrap error matches the spread of W1 over fresh independent sample pairs
        fresh = [observables.w1_e_m(_biased(200, L, p_a, 10 + 2 * k), _biased(200, L, p_b, 11 + 2 * k))[key]
                 for k in range(60)]
        assert 0.78 < errs[200][f"{key}_err"] / np.std(fresh, ddof=1) < 1.3, key  # one-sided resampling: ≈ 0.7
    with pytest.raises(ValueError, match="n_boot"):
        observables.w1_e_m_bootstrap(_biased(10, 4, 0.5, 0), _biased(10, 4, 0.5, 1), n_boot=1)


def test_fit_power_law_recovers_a_known_exponent_and_its_error():
    from adsorbstudy.physics.observables import fit_power_law

    L = np.array([8.0, 16, 32, 64])
    exact = fit_power_law(L, 3.0 * L ** -0.25, 1e-6 * np.ones(4))
    assert exact["p"] == pytest.approx(-0.25, abs=1e-9) and exact["A"] == pytest.approx(3.0, rel=1e-9)
    assert np.allclose(exact["local_slopes"], -0.25)
    # with 5 % noise, the fitted exponent scatters by its reported error (z-scores of unit width)
    rng = np.random.default_rng(0)
    z = []
    for _ in range(400):
        y = 2.0 * L**2.1 * (1 + 0.05 * rng.standard_normal(4))
        f = fit_power_law(L, y, 0.05 * 2.0 * L**2.1)
        z.append((f["p"] - 2.1) / f["p_err"])
    assert abs(np.mean(z)) < 0.2 and 0.8 < np.std(z) < 1.6
    with pytest.raises(ValueError, match="> 0"):
        fit_power_law([1, 2], [1, -1], [0.1, 0.1])
