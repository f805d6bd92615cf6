"""Eq. 6 solver checked against brute force, closed forms and an independent root finder (scipy)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, logit

from adsorbstudy.physics import isotherm as iso


def _h(xb, eps_s, eps_a, zb):
    return logit(xb) - eps_s + eps_a * zb * xb


def _F(u, g, h):
    return u + g * expit(u) - h


def _scan_roots(g, h, n=40001):
    """Brute force: sign changes of F on a dense grid of u = logit(x_a) over the root bracket."""
    lo, hi = h - max(g, 0.0), h - min(g, 0.0)
    pad = 1.0 + 1e-9 * abs(h)
    u = np.linspace(lo - pad, hi + pad, n)
    f = _F(u, g, h)
    found = [u[i] for i in np.flatnonzero(f == 0.0)]
    idx = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)
    found += [brentq(_F, u[i], u[i + 1], args=(g, h), xtol=1e-14, rtol=1e-15) for i in idx]
    return np.sort(np.array(found)), u[1] - u[0]


def _xb_for_field(h_target, eps_s, eps_a, zb):
    """Some x_b with h(x_b) = h_target, via eps_s: returns (xb, eps_s') with xb = 0.3 fixed."""
    xb = 0.3
    return xb, logit(xb) + eps_a * zb * xb - h_target


# --------------------------------------------------------------------------- roots vs brute force


@settings(max_examples=300, deadline=None)
@given(
    uxb=st.floats(-30, 30),
    eps_s=st.floats(-20, 20),
    eps_a=st.floats(-6, 3),
    za=st.floats(0.5, 12),
    zb=st.floats(0.5, 12),
)
def test_roots_match_dense_scan(uxb, eps_s, eps_a, za, zb):
    xb = float(expit(uxb))
    if not 0.0 < xb < 1.0:
        return
    g, h = eps_a * za, _h(xb, eps_s, eps_a, zb)
    got = iso.roots(xb, eps_s, eps_a, za, zb, space="logit")
    assert got.ndim == 1 and np.all(np.diff(got) > 0) and got.size in (1, 2, 3)
    scale = abs(h) + abs(g) + abs(got).max() + 1.0
    assert np.all(np.abs(_F(got, g, h)) <= 1e-13 * scale)
    assert np.all(np.abs(iso.residual_logit(got, xb, eps_s, eps_a, za, zb)) <= 1e-9)
    ref, du = _scan_roots(g, h)
    # every root the scan sees is found
    for r in ref:
        assert np.min(np.abs(got - r)) <= 1e-9 * (1 + abs(r))
    # roots the scan cannot see must be a pair closer than its resolution (nearly merging at a spinodal)
    extra = [r for r in got if np.min(np.abs(ref - r), initial=np.inf) > 1e-9 * (1 + abs(r))]
    assert len(extra) in (0, 2)
    if extra:
        assert abs(extra[1] - extra[0]) < 2 * du
    # x-space output is the same roots
    np.testing.assert_allclose(iso.roots(xb, eps_s, eps_a, za, zb), expit(got), rtol=1e-15, atol=0)


def test_three_root_values_against_scipy_on_each_monotone_piece():
    eps_a, za, zb, xb = -1.5, 4, 6, 0.008
    eps_s = -2.0
    g, h = eps_a * za, _h(xb, eps_s, eps_a, zb)
    sp = iso.spinodal(eps_a, za)
    ul, uh = logit(sp.xa_lo), logit(sp.xa_hi)
    ref = [brentq(_F, h, ul, args=(g, h), xtol=1e-15), brentq(_F, ul, uh, args=(g, h), xtol=1e-15),
           brentq(_F, uh, h - g, args=(g, h), xtol=1e-15)]
    np.testing.assert_allclose(iso.roots(xb, eps_s, eps_a, za, zb, space="logit"), ref, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------- hard cases


@pytest.mark.parametrize("target", [1e-12, 1e-14, 1 - 1e-12, 1 - 1e-14])
def test_roots_near_zero_and_one(target):
    eps_a, za, zb, xb = 0.7, 4, 6, 0.4
    u = float(logit(target))
    # choose eps_s so that u is the exact root: h = u + g sigmoid(u)
    eps_s = logit(xb) + eps_a * zb * xb - (u + eps_a * za * expit(u))
    r = iso.roots(xb, eps_s, eps_a, za, zb, space="logit")
    assert r.size == 1
    assert abs(r[0] - u) <= 1e-12 * abs(u)
    x = iso.roots(xb, eps_s, eps_a, za, zb)[0]
    assert 0.0 < x < 1.0
    assert abs(x - target) <= 1e-9 * min(target, 1 - target) or abs(x - target) <= 2 * np.spacing(target)
    # the float x_a is the best representable root: the residual changes sign across its neighbours
    res = iso.residual(np.array([np.nextafter(x, 0), np.nextafter(x, 1)]), xb, eps_s, eps_a, za, zb)
    assert res[0] * res[1] <= 0 or np.min(np.abs(res)) <= 1e-9
    if min(x, 1 - x) > 1e-7 or x < 0.5:
        assert abs(iso.residual(x, xb, eps_s, eps_a, za, zb)) <= 1e-9


def test_three_roots_with_the_outer_ones_within_1e12_of_0_and_1():
    # strong attraction: g = -60 puts the spinodal fields at ~-5.1 and ~-54.9
    eps_a, za, zb = -15.0, 4, 6
    g = eps_a * za
    xb, eps_s = _xb_for_field(g / 2, 0.0, eps_a, zb)
    r = iso.roots(xb, eps_s, eps_a, za, zb, space="logit")
    assert r.size == 3
    assert expit(r[0]) < 1e-12 and 1 - expit(r[2]) < 1e-12
    assert np.all(np.abs(_F(r, g, g / 2)) <= 1e-12)


def test_critical_value_one_root_above_three_below():
    for za in (4, 6, 2.5):
        ec = iso.critical_eps_a(za)
        assert ec == -4.0 / za
        for rel, n in ((1 - 1e-6, 1), (1 + 1e-6, 3)):
            eps_a = ec * rel
            # the three-root window is centred on h = g/2 (the Maxwell field); sit exactly there
            xb, eps_s = _xb_for_field(eps_a * za / 2, 0.0, eps_a, 6)
            assert iso.roots(xb, eps_s, eps_a, za, 6).size == n
        # brute force: just above the critical value F is strictly monotone (dF/du > 0 everywhere)
        u = np.linspace(-5, 5, 200001)
        s = expit(u)
        assert np.min(1 + ec * (1 - 1e-6) * za * s * (1 - s)) > 0
        assert np.min(1 + ec * (1 + 1e-6) * za * s * (1 - s)) < 0


def test_near_critical_roots_are_distinct_and_accurate():
    za = 4
    g = -4 * (1 + 1e-8)
    xb, eps_s = _xb_for_field(g / 2, 0.0, g / za, 6)
    r = iso.roots(xb, eps_s, g / za, za, 6, space="logit")
    assert r.size == 3
    # symmetric about u = 0 (h = g/2 is the Ising zero field), +-m* with m* ~ sqrt(3 * 1e-8)*2
    assert abs(r[1]) < 1e-8 and abs(r[0] + r[2]) < 1e-8
    np.testing.assert_allclose(r[2], 2 * math.atanh(math.sqrt(3e-8)) * 1.0, rtol=1e-3)
    assert np.all(np.abs(_F(r, g, g / 2)) <= 1e-14)


@pytest.mark.parametrize("delta", [1e-6, 1e-9, 1e-12])
def test_near_spinodal_two_roots_almost_merging(delta):
    eps_a, za, zb = -1.5, 4, 6
    g = eps_a * za
    sp = iso.spinodal(eps_a, za)
    # just inside the window: three roots, two within ~sqrt(delta) of the spinodal u_-
    xb, eps_s = _xb_for_field(sp.h_hi - delta, 0.0, eps_a, zb)
    r = iso.roots(xb, eps_s, eps_a, za, zb, space="logit")
    assert r.size == 3
    ul = logit(sp.xa_lo)
    assert r[0] < ul < r[1] and r[1] - r[0] < 10 * math.sqrt(delta)
    assert np.all(np.abs(iso.residual_logit(r, xb, eps_s, eps_a, za, zb)) <= 1e-9)
    # just outside: one root, on the high branch
    xb, eps_s = _xb_for_field(sp.h_hi + delta, 0.0, eps_a, zb)
    r = iso.roots(xb, eps_s, eps_a, za, zb, space="logit")
    assert r.size == 1 and r[0] > logit(sp.xa_hi)


def test_spinodal_closed_form_against_numerics():
    for eps_a in (-1.01, -1.5, -3.0, -50.0):
        za = 4
        g = eps_a * za
        sp = iso.spinodal(eps_a, za)
        for xs in (sp.xa_lo, sp.xa_hi):
            assert abs(1 / (xs * (1 - xs)) + g) <= 1e-9 * abs(g)  # curvature of Omega vanishes
        # h_hi is the local max of u + g sigmoid(u), h_lo the local min
        res = minimize_scalar(lambda u: -(u + g * expit(u)), bounds=(-60, 0), method="bounded",
                              options={"xatol": 1e-10})
        assert abs(-res.fun - sp.h_hi) <= 1e-8
        res = minimize_scalar(lambda u: u + g * expit(u), bounds=(0, 60), method="bounded",
                              options={"xatol": 1e-10})
        assert abs(res.fun - sp.h_lo) <= 1e-8


def test_extreme_but_finite_parameters():
    for xb, es, ea in ((1e-300, 0.0, 0.0), (1 - 1e-16, 300.0, -200.0), (0.5, 1e6, -1e4), (0.2, -1e5, -0.9)):
        r = iso.roots(xb, es, ea, space="logit")
        g, h = ea * 4, logit(xb) - es + ea * 6 * xb
        assert r.size in (1, 3)
        assert np.all(np.abs(_F(r, g, h)) <= 1e-14 * (abs(h) + abs(g) + np.abs(r).max() + 1))


# --------------------------------------------------------------------------- potential, stability, vectorized solve


def test_grand_potential_is_stationary_at_roots_and_stability_matches_curvature():
    xb, eps_s, eps_a = 0.008, -2.0, -1.5
    r = iso.roots(xb, eps_s, eps_a)
    assert r.size == 3
    d = 1e-6
    for x in r:
        dom = (iso.grand_potential(x + d, xb, eps_s, eps_a) - iso.grand_potential(x - d, xb, eps_s, eps_a)) / (2 * d)
        assert abs(dom) < 1e-8
    # dOmega/dx = -residual everywhere (central differences on a grid)
    x = np.linspace(0.05, 0.95, 19)
    dom = (iso.grand_potential(x + d, xb, eps_s, eps_a) - iso.grand_potential(x - d, xb, eps_s, eps_a)) / (2 * d)
    np.testing.assert_allclose(dom, -iso.residual(x, xb, eps_s, eps_a), atol=1e-7)
    st_ = iso.is_stable(r, xb, eps_s, eps_a)
    assert st_.tolist() == [True, False, True]
    curv = (iso.grand_potential(r + 1e-4, xb, eps_s, eps_a) + iso.grand_potential(r - 1e-4, xb, eps_s, eps_a)
            - 2 * iso.grand_potential(r, xb, eps_s, eps_a)) / 1e-8
    assert ((curv > 0) == st_).all()


def test_vectorized_solve_matches_roots_and_global_minimum():
    rng = np.random.default_rng(1)
    n = 400
    xb = expit(rng.uniform(-8, 8, n))
    es = rng.uniform(-6, 6, n)
    ea = rng.uniform(-3, 1, n)
    low = iso.solve(xb, es, ea, branch="low")
    high = iso.solve(xb, es, ea, branch="high")
    eq = iso.solve(xb, es, ea)
    mid = iso.solve(xb, es, ea, branch="middle")
    n3 = 0
    for i in range(n):
        r = iso.roots(xb[i], es[i], ea[i])
        assert low[i] == r[0] and high[i] == r[-1]
        if r.size == 3:
            n3 += 1
            assert mid[i] == r[1]
        else:
            assert np.isnan(mid[i])
        om = iso.grand_potential(r, xb[i], es[i], ea[i])
        # equilibrium is the global minimum of Omega (brute force over the roots and a dense grid)
        grid = np.linspace(1e-9, 1 - 1e-9, 20001)
        og = iso.grand_potential(grid, xb[i], es[i], ea[i])
        assert iso.grand_potential(eq[i], xb[i], es[i], ea[i]) <= min(om.min(), og.min()) + 1e-12
    assert n3 > 20  # the sample exercises the three-root case
    # broadcasting and shape
    out = iso.solve(np.array([[0.1], [0.2]]), np.array([-1.0, 0.0, 1.0]), -0.5)
    assert out.shape == (2, 3)
    assert out[1, 0] == iso.roots(0.2, -1.0, -0.5)[0]


# --------------------------------------------------------------------------- hysteresis and Maxwell


def _check_branch_solves(H, eps_s, eps_a, za, zb):
    for br in (H.adsorption, H.desorption):
        u = logit(br.xa)
        assert np.all(np.abs(iso.residual_logit(u, H.xb, eps_s, eps_a, za, zb)) <= 1e-9)
        assert np.all(iso.is_stable(br.xa, H.xb, eps_s, eps_a, za, zb))


def test_hysteresis_simple_loop_monotone_bulk():
    # zb small so the bulk field h(x_b) is monotone: a single classic loop
    eps_s, eps_a, za, zb = 2.0, -1.5, 4, 2
    xb = np.linspace(0.02, 0.98, 4001)
    H = iso.hysteresis(xb, eps_s, eps_a, za, zb)
    A, D = H.adsorption, H.desorption
    assert A.jump_xb.size == 1 and D.jump_xb.size == 1
    up, down = A.jump_xb[0], D.jump_xb[0]
    assert down < up
    sp = iso.spinodal(eps_a, za)
    # the jumps are exact spinodals: h(up) = h_hi, h(down) = h_lo, and from/to are the merging/landing roots
    assert abs(_h(up, eps_s, eps_a, zb) - sp.h_hi) <= 1e-12
    assert abs(_h(down, eps_s, eps_a, zb) - sp.h_lo) <= 1e-12
    assert A.jump_from[0] == pytest.approx(sp.xa_lo, abs=1e-15) and D.jump_from[0] == pytest.approx(sp.xa_hi, abs=1e-15)
    assert A.jump_to[0] == pytest.approx(iso.roots(up, eps_s, eps_a, za, zb)[-1], abs=1e-7)
    assert D.jump_to[0] == pytest.approx(iso.roots(down, eps_s, eps_a, za, zb)[0], abs=1e-7)
    _check_branch_solves(H, eps_s, eps_a, za, zb)
    # adsorption continuous until its jump: the only large step is across the jump
    step = np.abs(np.diff(A.xa))
    k = np.searchsorted(xb, up) - 1
    assert step[k] > 0.3
    assert np.delete(step, k).max() < 0.01
    # inside the loop the branches differ (low vs high), outside they coincide: the loop closes
    inside = (xb > down) & (xb < up)
    assert np.all(D.xa[inside] - A.xa[inside] > 0.3)
    np.testing.assert_array_equal(A.xa[~inside], D.xa[~inside])
    # the adsorption branch is the lowest root, the desorption branch the highest, on the whole grid
    for i in range(0, xb.size, 97):
        r = iso.roots(xb[i], eps_s, eps_a, za, zb)
        assert A.xa[i] == pytest.approx(r[0] if xb[i] < up else r[-1], abs=1e-15)
        assert D.xa[i] == pytest.approx(r[-1] if xb[i] > down else r[0], abs=1e-15)
    # Maxwell: equal Omega, between the jumps
    M = iso.maxwell_xb(eps_s, eps_a, za, zb)
    assert M.xb.size == 1 and down < M.xb[0] < up
    om = iso.grand_potential(np.array([M.xa_low, M.xa_high]), M.xb[0], eps_s, eps_a, za, zb)
    assert abs(om[0] - om[1]) <= 1e-12
    assert M.xa_high == pytest.approx(1 - M.xa_low, abs=1e-14)


def test_maxwell_against_independent_equal_potential_search():
    eps_s, eps_a, za, zb = 1.0, -2.0, 4, 1.5

    def gap(xb):
        r = iso.roots(xb, eps_s, eps_a, za, zb)
        om = iso.grand_potential(r, xb, eps_s, eps_a, za, zb)
        return om[-1] - om[0] if r.size == 3 else np.nan

    H = iso.hysteresis(np.linspace(0.01, 0.99, 201), eps_s, eps_a, za, zb)
    down, up = H.desorption.jump_xb[0], H.adsorption.jump_xb[0]
    lo, hi = down + 1e-9 * (up - down), up - 1e-9 * (up - down)
    xm = brentq(gap, lo, hi, xtol=1e-15)
    M = iso.maxwell_xb(eps_s, eps_a, za, zb)
    assert M.xb.size == 1 and abs(M.xb[0] - xm) <= 1e-10


def test_hysteresis_with_non_monotone_bulk_field():
    # seed's za=4, zb=6: eps_a z_b < -4 so h(x_b) rises, falls, rises: the upward sweep jumps up, down, up
    eps_s, eps_a, za, zb = -2.0, -1.5, 4, 6
    xb = expit(np.linspace(-8, 8, 3001))
    H = iso.hysteresis(xb, eps_s, eps_a, za, zb)
    A, D = H.adsorption, H.desorption
    _check_branch_solves(H, eps_s, eps_a, za, zb)
    sp = iso.spinodal(eps_a, za)
    assert A.jump_xb.size == 3 and np.all(np.diff(A.jump_xb) > 0)
    assert D.jump_xb.size == 3 and np.all(np.diff(D.jump_xb) < 0)
    for x, frm in zip(A.jump_xb, A.jump_from):
        target = sp.h_hi if frm < 0.5 else sp.h_lo
        assert abs(_h(x, eps_s, eps_a, zb) - target) <= 1e-12
    # each branch is piecewise continuous: large steps only across its own jumps
    for br in (A, D):
        step = np.abs(np.diff(br.xa))
        ks = np.searchsorted(xb, br.jump_xb) - 1
        assert np.all(step[ks] > 0.3) and np.delete(step, ks).max() < 0.05
    # the loops close: branches agree wherever Eq. 6 has a single root
    single = np.array([iso.roots(x, eps_s, eps_a, za, zb).size == 1 for x in xb])
    np.testing.assert_array_equal(A.xa[single], D.xa[single])
    M = iso.maxwell_xb(eps_s, eps_a, za, zb)
    assert M.xb.size == 3
    for x in M.xb:
        om = iso.grand_potential(np.array([M.xa_low, M.xa_high]), x, eps_s, eps_a, za, zb)
        assert abs(om[0] - om[1]) <= 1e-12
    # each Maxwell point lies between a pair of opposite jumps (in the field h: h_lo < g/2 < h_hi)
    jumps = np.sort(np.concatenate([A.jump_xb, D.jump_xb]))
    for x in M.xb:
        assert np.any(jumps < x) and np.any(jumps > x)
    assert sp.h_lo < eps_a * za / 2 < sp.h_hi


def test_no_hysteresis_above_critical():
    xb = np.linspace(0.01, 0.99, 101)
    H = iso.hysteresis(xb, 0.0, -0.9, 4, 6)
    assert H.adsorption.jump_xb.size == 0 and H.desorption.jump_xb.size == 0
    np.testing.assert_array_equal(H.adsorption.xa, H.desorption.xa)
    with pytest.raises(ValueError, match="eps_a"):
        iso.maxwell_xb(0.0, -0.9)


def test_phase_diagram_points_are_exact():
    P = iso.phase_diagram(np.array([-0.5, -1.2, -2.0]), -1.0, 4, 6)
    assert np.all(np.isnan(P.binodal[0])) and P.critical_eps_a == -1.0
    sp = iso.spinodal(-2.0, 4)
    for x in P.spinodal_up[2][~np.isnan(P.spinodal_up[2])]:
        assert abs(_h(x, -1.0, -2.0, 6) - sp.h_hi) <= 1e-12
    for x in P.binodal[2][~np.isnan(P.binodal[2])]:
        assert abs(_h(x, -1.0, -2.0, 6) - (-4.0)) <= 1e-12
    for x in P.critical_xb:
        assert abs(_h(x, -1.0, -1.0, 6) + 2.0) <= 1e-12
    # inverse of the bulk field: three preimages inside the bulk loop, one outside (brute-force count)
    grid = expit(np.linspace(-20, 20, 400001))
    for c, n in ((-3.0, 3), (3.0, 1)):
        xs = iso.xb_for_field(c, -1.0, -2.0, 6)
        hg = _h(grid, -1.0, -2.0, 6) - c
        assert xs.size == n == np.count_nonzero(np.sign(hg[1:]) != np.sign(hg[:-1]))
        # tolerance: the field's change over one ulp of x_b (x_b near 1 resolves logit(x_b) only coarsely)
        ulp_h = np.abs(1 / (xs * (1 - xs)) - 12.0) * np.spacing(xs)
        assert np.all(np.abs(_h(xs, -1.0, -2.0, 6) - c) <= 1e-12 + 2 * ulp_h)


def test_surface_excess():
    np.testing.assert_allclose(iso.surface_excess([0.9, 0.2], [0.1, 0.3], 2.5), [2.0, -0.25], rtol=1e-15)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(xb=0.0), "xb"),
        (dict(xb=1.0), "xb"),
        (dict(xb=-0.1), "xb"),
        (dict(xb=float("nan")), "xb"),
        (dict(eps_s=float("nan")), "eps_s"),
        (dict(eps_s=float("inf")), "eps_s"),
        (dict(eps_a=-float("inf")), "eps_a"),
        (dict(za=0), "za"),
        (dict(zb=-6), "zb"),
        (dict(za=float("nan")), "za"),
        (dict(eps_s=1e308, eps_a=-1e308), "eps_a"),
        (dict(eps_s=1.7e308, eps_a=-3e307), "eps_s"),
    ],
)
def test_invalid_input_raises_naming_argument(kwargs, name):
    args = dict(xb=0.3, eps_s=0.0, eps_a=-1.0, za=4, zb=6) | kwargs
    for fn in (iso.roots, iso.solve):
        with pytest.raises(ValueError, match=name):
            fn(**args)


def test_invalid_input_other_kinds():
    with pytest.raises(ValueError, match="shape"):
        iso.solve(np.ones(3) * 0.5, np.zeros(4), -1.0)
    with pytest.raises(ValueError, match="xb"):
        iso.roots(np.array([0.2, 0.3]), 0.0, -1.0)
    with pytest.raises(ValueError, match="xa"):
        iso.residual(1.2, 0.3, 0.0, -1.0)
    with pytest.raises(ValueError, match="xa"):
        iso.residual(np.ones(2) * 0.5, np.ones(3) * 0.5, 0.0, -1.0)
    with pytest.raises(ValueError, match="branch"):
        iso.solve(0.3, 0.0, -1.0, branch="metastable")
    with pytest.raises(ValueError, match="xb_grid"):
        iso.hysteresis([0.5, 0.4], 0.0, -1.5)
    with pytest.raises(ValueError, match="xb_grid"):
        iso.hysteresis([0.5, 1.0], 0.0, -1.5)
    with pytest.raises(ValueError, match="capacity"):
        iso.surface_excess(0.5, 0.3, 0.0)
    with pytest.raises(ValueError, match="za"):
        iso.critical_eps_a(0)
    with pytest.raises(ValueError, match="eps_a"):
        iso.spinodal(-0.5, 4)


# --------------------------------------------------------------------------- validation of the other public functions

_NAN, _INF = float("nan"), float("inf")
#: the valid arguments every call starts from (one is then replaced by a bad value)
_GOOD = dict(xa=0.4, xb=0.3, eps_s=0.0, eps_a=-1.5, za=4, zb=6, capacity=1.0, xb_grid=np.linspace(0.1, 0.9, 9))
_FUNCS = {
    "grand_potential": (iso.grand_potential, ("xa", "xb", "eps_s", "eps_a", "za", "zb")),
    "is_stable": (iso.is_stable, ("xa", "xb", "eps_s", "eps_a", "za", "zb")),
    "hysteresis": (iso.hysteresis, ("xb_grid", "eps_s", "eps_a", "za", "zb")),
    "maxwell_xb": (iso.maxwell_xb, ("eps_s", "eps_a", "za", "zb")),
    "surface_excess": (iso.surface_excess, ("xa", "xb", "capacity")),
}
#: (argument, bad value): NaN and inf, occupancies outside (0, 1), non-positive coordination numbers and capacity
_BAD = [
    ("xa", _NAN), ("xa", [0.2, _NAN]), ("xa", 1.5), ("xa", -0.1),
    ("xb", _NAN), ("xb", [0.2, _NAN]), ("xb", 0.0), ("xb", 1.0), ("xb", -0.2), ("xb", 1.3), ("xb", [0.5, 1.0]),
    ("xb_grid", [0.2, _NAN, 0.5]), ("xb_grid", [0.0, 0.5]), ("xb_grid", [0.5, 1.0]), ("xb_grid", [-0.1, 0.5]),
    ("eps_s", _NAN), ("eps_s", _INF), ("eps_a", _NAN), ("eps_a", -_INF),
    ("za", 0), ("za", -4), ("za", _NAN), ("zb", 0), ("zb", -6.0), ("zb", _NAN),
    ("capacity", _NAN), ("capacity", _INF), ("capacity", 0.0), ("capacity", -1.0),
]


def _call(fname, **bad):
    fn, names = _FUNCS[fname]
    return fn(**{k: bad.get(k, _GOOD[k]) for k in names})


def test_good_arguments_are_accepted():
    for fname in _FUNCS:
        _call(fname)


@pytest.mark.parametrize("fname, arg, value", [(f, a, v) for f, (_, names) in _FUNCS.items()
                                               for a, v in _BAD if a in names])
def test_invalid_values_raise_naming_argument(fname, arg, value):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        _call(fname, **{arg: value})


@pytest.mark.parametrize("fname, bad, offender", [
    ("grand_potential", dict(xa=np.full(3, 0.4), xb=np.full(4, 0.3)), "xb"),
    ("grand_potential", dict(xb=np.full(3, 0.3), eps_a=np.full(2, -1.5)), "eps_a"),
    ("grand_potential", dict(xa=np.full(3, 0.4), za=np.full(2, 4.0)), "za"),
    ("is_stable", dict(xa=np.full(3, 0.4), xb=np.full(4, 0.3)), "xb"),
    ("is_stable", dict(xa=np.full((2, 3), 0.4), eps_s=np.zeros(2)), "eps_s"),
    ("is_stable", dict(xa=np.full(3, 0.4), zb=np.full(2, 6.0)), "zb"),
    ("surface_excess", dict(xa=np.full(3, 0.4), xb=np.full(4, 0.3)), "xb"),
    ("surface_excess", dict(xa=np.full(3, 0.4), capacity=np.ones(2)), "capacity"),
])
def test_mismatched_shapes_raise_naming_argument(fname, bad, offender):
    with pytest.raises(ValueError, match=rf"shapes: {offender} has shape"):
        _call(fname, **bad)


@pytest.mark.parametrize("fname", ["hysteresis", "maxwell_xb"])
@pytest.mark.parametrize("arg, value", [("eps_s", [0.0, 1.0]), ("eps_a", [-1.5, -2.0]), ("za", [4, 4]),
                                        ("zb", np.full((2, 1), 6.0))])
def test_scalar_only_functions_reject_arrays_naming_argument(fname, arg, value):
    with pytest.raises(ValueError, match=rf"{arg} must be a scalar"):
        _call(fname, **{arg: value})


def test_hysteresis_grid_shape_and_order():
    for grid in ([[0.2, 0.4], [0.5, 0.6]], [0.3], [0.5, 0.5]):
        with pytest.raises(ValueError, match="xb_grid"):
            iso.hysteresis(grid, 0.0, -1.5)


def test_grand_potential_overflow_raises_instead_of_nan():
    with pytest.raises(ValueError, match="eps_a"):
        iso.grand_potential(0.4, 0.3, 0.0, -1e308, 4, 6)
    with pytest.raises(ValueError, match="eps_s"):
        iso.grand_potential(0.4, 0.3, 1.7e308, -3e307, 4, 6)
