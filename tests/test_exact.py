"""Exact Ising references: Onsager, Kaufman's finite torus and brute-force enumeration agree."""
import math

import numpy as np
import pytest

from adsorbstudy.physics import exact

T_GRID = np.array([0.6, 1.0, 1.5, 2.0, 2.2, exact.TC, 2.3, 2.5, 3.0, 4.0, 7.0])


def test_tc_value():
    assert exact.TC == pytest.approx(2 / math.log(1 + math.sqrt(2)), rel=1e-15)
    assert exact.TC == pytest.approx(2.269185314213022, rel=1e-14)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_finite_size_equals_enumeration(L):
    en = exact.enumerate_exact(L, T_GRID)
    e, c = exact.finite_size(L, T_GRID)
    np.testing.assert_allclose(e, en["e"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(c, en["c"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(exact.log_partition(L, T_GRID), en["log_z"], rtol=1e-13, atol=0)


def test_enumeration_limits_and_brute_force_sum():
    # independent brute force (no density of states) at L = 3
    L, T = 3, 1.7
    codes = np.arange(2 ** 9)
    s = (2 * ((codes[:, None] >> np.arange(9)) & 1) - 1).reshape(-1, 3, 3)
    E = -(s * (np.roll(s, 1, 1) + np.roll(s, 1, 2))).sum((1, 2))
    M = s.sum((1, 2)) / 9
    w = np.exp(-(E - E.min()) / T)
    w /= w.sum()
    en = exact.enumerate_exact(L, T)
    assert en["e"] == pytest.approx((w * E).sum() / 9, abs=1e-13)
    assert en["m_abs"] == pytest.approx((w * abs(M)).sum(), abs=1e-13)
    assert en["m2"] == pytest.approx((w * M**2).sum(), abs=1e-13)
    # T → 0: ground state; T → ∞: uniform
    lo = exact.enumerate_exact(4, 0.05)
    assert lo["e"] == pytest.approx(-2, abs=1e-12) and lo["m_abs"] == pytest.approx(1, abs=1e-12)
    hi = exact.enumerate_exact(4, 1e6)
    assert abs(hi["e"]) < 1e-5 and hi["log_z"] == pytest.approx(16 * math.log(2), abs=1e-4)


def test_log_partition_limits():
    # high-T expansion ln Z = N ln 2 + 2N ln cosh K + O(N tanh⁴K); low T: ln 2 + 2N/T (two ground states)
    for L in (5, 16, 64):
        N = L * L
        K = 1e-3
        assert exact.log_partition(L, 1 / K) == pytest.approx(N * math.log(2) + 2 * N * math.log(math.cosh(K)),
                                                              rel=1e-14, abs=2 * N * K**4)
        assert exact.log_partition(L, 0.3) == pytest.approx(math.log(2) + 2 * N / 0.3, rel=1e-9)


def test_onsager_energy_at_tc():
    assert float(exact.onsager_energy(exact.TC)) == pytest.approx(-math.sqrt(2), abs=1e-12)


def test_onsager_specific_heat_is_derivative_of_energy():
    T = np.array([0.8, 1.2, 1.8, 2.1, 2.2, 2.35, 2.5, 3.0, 5.0, 9.0])
    h = 1e-5
    num = (exact.onsager_energy(T + h) - exact.onsager_energy(T - h)) / (2 * h)
    np.testing.assert_allclose(exact.onsager_specific_heat(T), num, rtol=1e-6, atol=1e-8)
    assert np.isinf(exact.onsager_specific_heat(exact.TC))


def test_onsager_magnetization():
    assert exact.onsager_magnetization(exact.TC) == 0
    assert exact.onsager_magnetization(3.0) == 0
    # m^8 = 1 - sinh(2K)^-4
    T = 2.0
    assert float(exact.onsager_magnetization(T)) ** 8 == pytest.approx(1 - math.sinh(2 / T) ** -4, rel=1e-12)
    m = exact.onsager_magnetization(np.linspace(0.5, 2.26, 20))
    assert np.all(np.diff(m) < 0) and m[0] == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("T", [0.5, 1.0, 1.8, 2.8, 4.0, 10.0])
def test_finite_size_approaches_onsager(T):
    errs_e, errs_c = [], []
    for L in (8, 16, 32, 64, 128):
        e, c = exact.finite_size(L, T)
        assert np.isfinite(e) and np.isfinite(c)
        errs_e.append(abs(e - exact.onsager_energy(T)))
        errs_c.append(abs(c - exact.onsager_specific_heat(T)))
    # exponentially small corrections away from Tc: monotone (up to roundoff) and tiny at L = 128
    assert errs_e[-1] < 1e-10 and errs_c[-1] < 1e-8
    assert errs_e[1] <= errs_e[0] + 1e-14


def test_finite_size_stable_large_L_and_vectorized():
    T = np.linspace(0.5, 10, 40)
    for L in (128, 200):
        e, c = exact.finite_size(L, T)
        assert e.shape == T.shape and np.all(np.isfinite(e)) and np.all(np.isfinite(c))
        assert np.all(np.diff(e) > 0) and np.all(c > 0)
        assert np.all(np.isfinite(exact.log_partition(L, T)))
    # e at Tc: finite-size correction ~ 1/L (e_L(Tc) − (−√2) ∝ 1/L)
    d = [float(exact.finite_size(L, exact.TC)[0]) + math.sqrt(2) for L in (32, 64, 128)]
    assert d[0] / d[1] == pytest.approx(2, rel=0.02) and d[1] / d[2] == pytest.approx(2, rel=0.02)
    # c at Tc grows like (8/π) K_c² ln L
    c64, c128 = (float(exact.finite_size(L, exact.TC)[1]) for L in (64, 128))
    Kc = 1 / exact.TC
    assert c128 - c64 == pytest.approx(8 / math.pi * Kc**2 * math.log(2), rel=0.01)


def test_finite_size_matches_numerical_derivative_of_log_partition():
    L, T, h = 10, np.array([1.5, 2.3, 3.1]), 1e-4
    K = 1 / T
    lz = lambda k: exact.log_partition(L, 1 / k)  # noqa: E731
    e_num = -(lz(K + h) - lz(K - h)) / (2 * h) / L**2
    c_num = K**2 * (lz(K + h) - 2 * lz(K) + lz(K - h)) / h**2 / L**2
    e, c = exact.finite_size(L, T)
    np.testing.assert_allclose(e, e_num, atol=1e-7)
    np.testing.assert_allclose(c, c_num, atol=1e-4)


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, np.inf, [1.0, -2.0]])
def test_bad_temperature_raises(bad):
    for f in (exact.onsager_energy, exact.onsager_specific_heat, exact.onsager_magnetization):
        with pytest.raises(ValueError, match="T must"):
            f(bad)
    with pytest.raises(ValueError, match="T must"):
        exact.finite_size(4, bad)
    with pytest.raises(ValueError, match="T must"):
        exact.enumerate_exact(2, bad)


@pytest.mark.parametrize("L", [1, 0, -3, 2.5, True])
def test_bad_L_raises(L):
    with pytest.raises(ValueError, match="L must"):
        exact.finite_size(L, 2.0)
    with pytest.raises(ValueError, match="L must"):
        exact.log_partition(L, 2.0)


def test_enumeration_refuses_large_L():
    with pytest.raises(ValueError, match=r"L must be an integer \[2, 4\]"):
        exact.enumerate_exact(5, 2.0)


# --------------------------------------------------------------------------- large L (issue 23, part 3)
LARGE_L = (64, 128, 256)


def test_onsager_log_partition_is_the_integral_of_the_energy():
    # −d(ln Z/N)/dK = e: the free energy and the energy of the infinite lattice are independent formulas
    K, h = 1 / np.array([0.8, 1.5, 2.0, 2.6, 3.0, 5.0]), 1e-5
    f = lambda k: exact.onsager_log_partition(1 / k)  # noqa: E731
    np.testing.assert_allclose(-(f(K + h) - f(K - h)) / (2 * h), exact.onsager_energy(1 / K), atol=1e-8)
    # limits: ln 2 + ln cosh² K + O(K⁴) at high T; 2K (all bonds satisfied) at low T
    assert exact.onsager_log_partition(1e4) == pytest.approx(math.log(2) + 2 * math.log(math.cosh(1e-4)), abs=1e-15)
    assert exact.onsager_log_partition(0.05) == pytest.approx(2 / 0.05, rel=1e-15)


@pytest.mark.parametrize("L", LARGE_L)
def test_log_partition_large_L_meets_onsager(L):
    N = L * L
    lz = exact.log_partition(L, [exact.TC, 2.0, 3.0])
    assert np.all(np.isfinite(lz))
    d = lz / N - exact.onsager_log_partition([exact.TC, 2.0, 3.0])
    # T_c: the finite-size correction is O(1/L²); its coefficient is the critical torus's universal
    # ln[(|θ2| + |θ3| + |θ4|)/(2|η|)] at τ = i = ln[(√2 + 2·2^(1/4))/2] (Ising CFT), approached as 1/L²
    assert abs(d[0]) <= 1 / N
    assert N * d[0] == pytest.approx(math.log((math.sqrt(2) + 2 * 2**0.25) / 2), abs=0.1 / N)
    # below T_c the two ordered phases each contribute e^{N f}: ln Z = N f + ln 2 + O(e^{-L/ξ})
    assert abs(d[1] - math.log(2) / N) < 1e-10
    assert abs(d[2]) < 1e-10


@pytest.mark.parametrize("L", LARGE_L)
def test_finite_size_large_L_finite_and_at_onsager_away_from_tc(L):
    T = np.array([1.0, 1.5, 2.0, 2.2, exact.TC, 2.35, 2.5, 3.0, 4.0])
    e, c = exact.finite_size(L, T)
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(c)) and np.all(c > 0) and np.all(np.diff(e) > 0)
    far = np.abs(T - exact.TC) >= 0.7
    np.testing.assert_allclose(e[far], exact.onsager_energy(T[far]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(c[far], exact.onsager_specific_heat(T[far]), rtol=1e-8)
    assert abs(e[T == 2.0][0] - exact.onsager_energy(2.0)) < 1e-10 and abs(e[T == 3.0][0] - exact.onsager_energy(3.0)) < 1e-10
    # continuous through T_c, where the factor 2sinh(Lγ_0/2) of Z_4 changes sign
    tt = exact.TC * (1 + np.array([-1e-9, 0.0, 1e-9]))
    et, ct = exact.finite_size(L, tt)
    slopes = np.diff(et) / np.diff(tt)               # one-sided de/dT on either side of T_c: both c(T_c)
    np.testing.assert_allclose(slopes, ct[1], rtol=1e-4)
    assert np.ptp(ct) < 1e-6


def _kaufman_mp(L, T, dps=60):
    """ln Z, e, c of the L×L torus from Kaufman's products in mpmath at ``dps`` digits (derivatives by mp.diff)."""
    import mpmath as mp

    with mp.workdps(dps):
        def lnz(K):
            s2, c2 = mp.sinh(2 * K), mp.cosh(2 * K)
            g = [2 * K + mp.log(mp.tanh(K))] + [mp.acosh(c2**2 / s2 - mp.cos(mp.pi * l / L)) for l in range(1, 2 * L)]
            Z = (mp.fprod(2 * mp.cosh(L * g[l] / 2) for l in range(1, 2 * L, 2))
                 + mp.fprod(2 * mp.sinh(L * g[l] / 2) for l in range(1, 2 * L, 2))
                 + mp.fprod(2 * mp.cosh(L * g[l] / 2) for l in range(0, 2 * L, 2))
                 + mp.fprod(2 * mp.sinh(L * g[l] / 2) for l in range(0, 2 * L, 2)))
            return -mp.log(2) + L * L * mp.log(2 * s2) / 2 + mp.log(Z)

        K = 1 / mp.mpf(T)
        N = L * L
        return float(lnz(K)), float(-mp.diff(lnz, K, 1) / N), float(K**2 * mp.diff(lnz, K, 2) / N)


@pytest.mark.parametrize("T", [0.4, 0.5, 1.0, exact.TC, 2.3, 10.0])
def test_finite_size_L256_to_working_precision(T):
    """The float64 evaluation against the same formula in 60 digits: below T ≈ 0.5 the old Z''/Z − (Z'/Z)²
    lost c's leading digits at L = 256 (relative error 1.6e-7 at T = 0.5, 13 % at T = 0.3)."""
    L = 256
    lz_ref, e_ref, c_ref = _kaufman_mp(L, T)
    e, c = exact.finite_size(L, T)
    assert float(exact.log_partition(L, T)) == pytest.approx(lz_ref, rel=1e-15)
    assert float(e) == pytest.approx(e_ref, rel=0, abs=1e-13)
    assert float(c) == pytest.approx(c_ref, rel=1e-8 if T < 0.5 else 1e-11)
