"""Compiled root-finding kernels for Eq. 6 in logit space (used by :mod:`adsorbstudy.physics.isotherm`).

F(u) = u + g σ(u) − h with g = ε_a z_a and h the bulk's effective field (see the isotherm module).
Each root is found by a safeguarded Newton iteration on a bracket that contains exactly one root.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_BRANCHES = {"equilibrium": 0, "low": 1, "high": 2, "middle": 3}


def _coupling(eps_a, za):
    """g = eps_a z_a, checked for overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        g = eps_a * za
    if not np.all(np.isfinite(g)):
        raise ValueError("eps_a: magnitude too large, eps_a*za overflows")
    return g


def _logit(x):
    return np.log(x) - np.log1p(-x)


def _field(xb, eps_s, eps_a, zb):
    """h = logit(x_b) - eps_s + eps_a z_b x_b, checked for overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        h = _logit(xb) - eps_s + eps_a * zb * xb
    if not np.all(np.isfinite(h)):
        raise ValueError("eps_s, eps_a: magnitudes too large, logit(xb) - eps_s + eps_a*zb*xb overflows")
    return h


@njit(cache=True)
def _sig(u):
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


@njit(cache=True)
def _spin(g):
    """(u_plus, h_hi, h_lo) for g < -4: spinodal logit and the two turning fields."""
    q = math.sqrt(1.0 + 4.0 / g)
    omq = (-4.0 / g) / (1.0 + q)  # 1 - q without cancellation as g -> -inf
    up = math.log((1.0 + q) / omq)  # 2 artanh(q)
    c = 2.0 / (1.0 + q)  # = -g (1 - q) / 2
    return up, -up - c, up + g + c


@njit(cache=True)
def _bracketed(g, h, a, b, s, x0):
    """The root of F(u) = u + g sig(u) - h in [a, b], where s*F is increasing and
    s*F(a) <= 0 <= s*F(b). Safeguarded Newton (Newton step when it stays in the
    bracket and shrinks fast enough, else bisection)."""
    if not (a < x0 < b):
        x0 = 0.5 * (a + b)
    x = x0
    dxold = b - a
    dx = dxold
    for _ in range(400):
        sg = _sig(x)
        f = s * (x + g * sg - h)
        if f == 0.0:
            return x
        if f < 0.0:
            a = x
        else:
            b = x
        # roundoff floor of F at x: below it the sign of f is noise
        if abs(f) <= 4.0 * 2.220446049250313e-16 * (abs(x) + abs(g * sg) + abs(h)):
            return x
        df = s * (1.0 + g * sg * (1.0 - sg))
        xn = x - f / df if df > 0.0 else a - 1.0
        if not (a < xn < b) or abs(2.0 * f) > abs(dxold * df):
            xn = 0.5 * (a + b)
        dxold = dx
        dx = xn - x
        tol = 2.220446049250313e-16 * max(abs(x), 1.0)
        if abs(dx) <= tol or b - a <= 2.0 * tol:
            return xn
        x = xn
    return x


@njit(cache=True)
def _low(g, h):
    """Lowest root (logit space)."""
    if g >= -4.0:
        a = h - max(g, 0.0)
        b = h - min(g, 0.0)
        if a == b:
            return h
        return _bracketed(g, h, a, b, 1.0, h - g * _sig(h))
    up, hhi, hlo = _spin(g)
    if h <= hhi:  # a root on the left monotone piece (-inf, u_-]
        if h == hhi:
            return -up
        return _bracketed(g, h, h, -up, 1.0, h - g * _sig(h))
    return _bracketed(g, h, max(up, h), h - g, 1.0, h - g * _sig(h - g))


@njit(cache=True)
def _high(g, h):
    """Highest root (logit space)."""
    if g >= -4.0:
        return _low(g, h)
    up, hhi, hlo = _spin(g)
    if h >= hlo:  # a root on the right monotone piece [u_+, inf)
        if h == hlo:
            return up
        return _bracketed(g, h, up, h - g, 1.0, h - g * _sig(h - g))
    return _bracketed(g, h, h, min(-up, h - g), 1.0, h - g * _sig(h))


@njit(cache=True)
def _all_roots(g, h, out):
    """Every distinct root, ascending, written to out[:n]; returns n (1, 2 at an exact tangency, or 3)."""
    if g >= -4.0:
        out[0] = _low(g, h)
        return 1
    up, hhi, hlo = _spin(g)
    if h < hlo or h > hhi:
        out[0] = _low(g, h)
        return 1
    if h == hhi:  # double root at u_- (exact tangency)
        out[0] = -up
        out[1] = _high(g, h)
        return 2
    if h == hlo:
        out[0] = _low(g, h)
        out[1] = up
        return 2
    out[0] = _bracketed(g, h, h, -up, 1.0, h - g * _sig(h))
    out[1] = _bracketed(g, h, -up, up, -1.0, 0.0)  # F decreasing between the spinodals
    out[2] = _bracketed(g, h, up, h - g, 1.0, h - g * _sig(h - g))
    return 3


@njit(cache=True)
def _solve_kernel(g, h, branch, out):
    for i in range(g.shape[0]):
        gi = g[i]
        hi = h[i]
        if branch == 1:
            out[i] = _low(gi, hi)
        elif branch == 2:
            out[i] = _high(gi, hi)
        elif branch == 3:
            out[i] = math.nan
            if gi < -4.0:
                up, hhi, hlo = _spin(gi)
                if hlo < hi < hhi:
                    out[i] = _bracketed(gi, hi, -up, up, -1.0, 0.0)
        else:
            # Omega(m) = even(m) - (h - g/2) m / 2: the global minimum is the high root for h > g/2
            out[i] = _high(gi, hi) if hi > 0.5 * gi else _low(gi, hi)
