"""Eq. 6 of seed 000: every root, stability, hysteresis and the Maxwell construction.

Seed 000's adsorption isotherm (its Eq. 6), with all energies in units of
k_B T and **negative = attractive**::

    log((1 - x_a) x_b / ((1 - x_b) x_a)) = eps_s + eps_a (z_a x_a - z_b x_b)

x_b in (0, 1) is the bulk site occupancy (a parameter), x_a in (0, 1) the
adsorbed-layer occupancy (the unknown), eps_s the surface-adsorbate energy,
eps_a the adsorbate-adsorbate (lateral) energy per neighbour pair, z_a and z_b
the coordination numbers of the adsorbed (2-D) layer and of the (3-D) bulk.

Everything here works in logit space, u = logit(x_a), where Eq. 6 reads

    F(u) = u + g sigmoid(u) - h = 0,   g = eps_a z_a,
                                       h = logit(x_b) - eps_s + eps_a z_b x_b.

h is the effective field the bulk exerts on the layer and g the layer's own
mean-field coupling. F is strictly increasing (one root) unless g < -4; then F
has a local maximum at u_- = -2 artanh(q) and a local minimum at u_+ = -u_-,
q = sqrt(1 + 4/g), and three roots exist exactly when h_lo < h < h_hi with
h_hi = F(u_-) + h and h_lo = F(u_+) + h (closed forms in ``spinodal``). Every
root lies in [h - max(g, 0), h - min(g, 0)], and F is monotone on each of
(-inf, u_-], [u_-, u_+], [u_+, inf), so each root is found by a safeguarded
Newton iteration on a bracket that provably contains exactly one root: no root
can be missed, even when two roots nearly merge at a spinodal, near the
critical point g = -4, or at |u| ~ 30 (x_a within 1e-12 of 0 or 1).

The grand potential per site (Bragg-Williams; k_B T per site),

    Omega(x_a) = x_a ln x_a + (1 - x_a) ln(1 - x_a) - h x_a + g x_a^2 / 2 + const,

has dOmega/dx_a = F(logit x_a), so its stationary points are Eq. 6. In terms
of m = 2 x_a - 1 it is an even function of m plus -(h - g/2) m / 2: the
lattice-gas <-> Ising map with field (h - g/2)/2 and coupling -g/4 (the Curie
point g = -4 is the critical point) and the Maxwell (equal-Omega) transition
is exactly h = g/2.

Note on the bulk term: h(x_b) is itself non-monotone in x_b when
eps_a z_b < -4 (the bulk, a mean-field lattice gas with coupling eps_a z_b, is
then inside its own spinodal for some x_b). With z_b > z_a this happens at a
weaker attraction than the layer's own transition, so a sweep of x_b can cross
the same h several times; ``hysteresis`` and ``maxwell_xb`` handle that by
solving for every crossing exactly.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import expit, xlogy

from .eq6_kernels import _BRANCHES, _all_roots, _coupling, _field, _high, _logit, _low, _solve_kernel, _spin

__all__ = [
    "residual",
    "residual_logit",
    "roots",
    "critical_eps_a",
    "spinodal",
    "grand_potential",
    "is_stable",
    "effective_field",
    "xb_for_field",
    "solve",
    "hysteresis",
    "maxwell_xb",
    "phase_diagram",
    "surface_excess",
    "Branch",
    "Hysteresis",
    "Maxwell",
    "Spinodal",
    "PhaseDiagram",
]

# --------------------------------------------------------------------------- validation


def _as_float(name: str, value, *, scalar: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array of real numbers; got {value!r}") from None
    if scalar and arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar; got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf); got {value!r}")
    return arr


def _check_open_unit(name: str, arr: np.ndarray) -> None:
    if np.any(arr <= 0.0) or np.any(arr >= 1.0):
        bad = arr[(arr <= 0.0) | (arr >= 1.0)].ravel()[0]
        raise ValueError(f"{name} must lie in the open interval (0, 1); got {bad!r}")


def _check_coordination(za, zb) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, z in (("za", za), ("zb", zb)):
        arr = _as_float(name, z)
        if np.any(arr <= 0.0):
            raise ValueError(f"{name} (coordination number) must be > 0; got {z!r}")
        out.append(arr)
    return out[0], out[1]


def _broadcast(named: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The arrays broadcast together; ValueError naming the first argument whose shape does not fit."""
    shape: tuple[int, ...] = ()
    seen: list[str] = []
    for name, arr in named.items():
        try:
            shape = np.broadcast_shapes(shape, np.shape(arr))
        except ValueError:
            raise ValueError(f"mismatched shapes: {name} has shape {tuple(np.shape(arr))}, which does not broadcast "
                             f"with the shape {shape} of {', '.join(seen)}") from None
        seen.append(name)
    return np.broadcast_arrays(*named.values())


def _validate(xb, eps_s, eps_a, za, zb, *, scalar: bool = False):
    """Checked float arrays (xb, eps_s, eps_a, za, zb), not yet broadcast."""
    xb_ = _as_float("xb", xb, scalar=scalar)
    _check_open_unit("xb", xb_)
    es = _as_float("eps_s", eps_s, scalar=scalar)
    ea = _as_float("eps_a", eps_a, scalar=scalar)
    za_, zb_ = _check_coordination(za, zb)
    if scalar:
        for name, z in (("za", za_), ("zb", zb_)):
            if z.ndim:
                raise ValueError(f"{name} must be a scalar; got an array of shape {z.shape}")
    return xb_, es, ea, za_, zb_




# --------------------------------------------------------------------------- public API


def critical_eps_a(za: float = 4) -> float:
    """The critical lateral energy eps_a* = -4 / z_a (units of k_B T).

    For eps_a < eps_a* (stronger attraction) Eq. 6 has three roots for a range of
    x_b; for eps_a >= eps_a* it has exactly one for every x_b. Derivation: with
    u = logit(x_a), dF/du = 1 + eps_a z_a x_a (1 - x_a) and max x_a(1-x_a) = 1/4,
    so F is monotone iff eps_a z_a >= -4 (the mean-field Curie point).
    """
    za_, _ = _check_coordination(za, 1.0)
    if za_.ndim:
        raise ValueError("za must be a scalar")
    return -4.0 / float(za_)


class Spinodal(NamedTuple):
    """Spinodal of the layer for one coupling g = eps_a z_a < -4.

    xa_lo, xa_hi: the x_a where dF/du = 0 (the low branch ends at xa_lo, the high at xa_hi).
    h_hi: field at which the low branch ends (adsorption jump); h_lo: where the high branch ends.
    """

    xa_lo: float
    xa_hi: float
    h_hi: float
    h_lo: float


def spinodal(eps_a: float, za: float = 4) -> Spinodal:
    """The layer's spinodal for eps_a < critical_eps_a(za); fields in units of k_B T.

    Raises ValueError when eps_a >= -4/za (no spinodal: one root everywhere).
    """
    ea = float(_as_float("eps_a", eps_a, scalar=True))
    za_, _ = _check_coordination(za, 1.0)
    g = ea * float(za_)
    if not g < -4.0:
        raise ValueError(f"eps_a must be < critical_eps_a(za) = {-4.0 / float(za_)!r} for a spinodal; got {ea!r}")
    up, hhi, hlo = _spin(g)
    q = math.sqrt(1.0 + 4.0 / g)
    omq = (-4.0 / g) / (1.0 + q)
    return Spinodal(xa_lo=0.5 * omq, xa_hi=1.0 - 0.5 * omq, h_hi=hhi, h_lo=hlo)


def effective_field(xb, eps_s, eps_a, zb=6):
    """h = logit(x_b) - eps_s + eps_a z_b x_b (k_B T): the field the bulk exerts on the layer.

    Eq. 6 is logit(x_a) + eps_a z_a x_a = h. Broadcasts; validates like ``solve``.
    """
    xb_, es, ea, _, zb_ = _validate(xb, eps_s, eps_a, 1.0, zb)
    _broadcast({"xb": xb_, "eps_s": es, "eps_a": ea, "zb": zb_})
    return _field(xb_, es, ea, zb_)


def residual(xa, xb, eps_s, eps_a, za=4, zb=6):
    """Left side minus right side of Eq. 6 (dimensionless, k_B T units), vectorized.

    residual = log((1-x_a) x_b / ((1-x_b) x_a)) - eps_s - eps_a (z_a x_a - z_b x_b).
    All arguments broadcast; x_a and x_b must lie in (0, 1). Note: a float x_a
    within d of 1 resolves logit(x_a) only to ~1.1e-16/d, so for roots with
    1 - x_a < ~1e-7 use ``residual_logit`` on the logit-space root instead.
    """
    xa_ = _as_float("xa", xa)
    _check_open_unit("xa", xa_)
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb)
    _broadcast({"xa": xa_, "xb": xb_, "eps_s": es, "eps_a": ea, "za": za_, "zb": zb_})
    return _logit(xb_) - _logit(xa_) - es - ea * (za_ * xa_ - zb_ * xb_)


def residual_logit(ua, xb, eps_s, eps_a, za=4, zb=6):
    """``residual`` with the unknown given as u_a = logit(x_a) (any finite real), vectorized.

    Equals h - u_a - eps_a z_a sigmoid(u_a); exact for roots at any distance from 0 or 1.
    """
    ua_ = _as_float("ua", ua)
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb)
    _broadcast({"ua": ua_, "xb": xb_, "eps_s": es, "eps_a": ea, "za": za_, "zb": zb_})
    h = _field(xb_, es, ea, zb_)
    return h - ua_ - ea * za_ * expit(ua_)


def roots(xb, eps_s, eps_a, za=4, zb=6, *, space: str = "x") -> np.ndarray:
    """Every solution of Eq. 6 for scalar inputs, sorted ascending, as a 1-D float array.

    Returns one root, or three when eps_a z_a < -4 and h_lo < h < h_hi (see
    ``spinodal``); exactly at a spinodal (a double root, measure zero) two
    distinct values. ``space="x"`` returns x_a in (0, 1); ``space="logit"``
    returns u_a = logit(x_a), which stays exact when x_a is within 1e-16 of 0 or
    1 (x_a itself then rounds to 0.0 or 1.0; that happens only for |u_a| > ~37
    on the upper side and > ~745 on the lower side). Each logit root satisfies
    |residual_logit| <= ~1e-15 * (|u_a| + |eps_a z_a| + |h|), i.e. <= 1e-9 for any
    parameters up to ~1e5 in magnitude.
    """
    if space not in ("x", "logit"):
        raise ValueError(f"space must be one of x, logit; got {space!r}")
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb, scalar=True)
    g = float(_coupling(ea, za_))
    h = float(_field(xb_, es, ea, zb_))
    buf = np.empty(3)
    n = _all_roots(g, h, buf)
    u = np.sort(buf[:n])
    if space == "logit":
        return u
    return expit(u)


def grand_potential(xa, xb, eps_s, eps_a, za=4, zb=6):
    """Bragg-Williams grand potential per adsorption site, in k_B T, vectorized.

    Omega(x_a) = x_a ln x_a + (1-x_a) ln(1-x_a) + x_a [eps_s - eps_a z_b x_b - logit(x_b)]
                 + eps_a z_a x_a^2 / 2.

    dOmega/dx_a = -residual(x_a, ...), so the stationary points are Eq. 6; the
    equilibrium x_a is the global minimum. Defined for x_a in [0, 1] (0 ln 0 = 0).
    """
    xa_ = _as_float("xa", xa)
    if np.any(xa_ < 0.0) or np.any(xa_ > 1.0):
        bad = xa_[(xa_ < 0.0) | (xa_ > 1.0)].ravel()[0]
        raise ValueError(f"xa must lie in [0, 1]; got {bad!r}")
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb)
    _broadcast({"xa": xa_, "xb": xb_, "eps_s": es, "eps_a": ea, "za": za_, "zb": zb_})
    g = _coupling(ea, za_)  # ValueError naming eps_a if eps_a*za overflows
    h = _field(xb_, es, ea, zb_)  # ... or eps_s, eps_a if the bulk field does
    with np.errstate(over="ignore", invalid="ignore"):
        om = xlogy(xa_, xa_) + xlogy(1.0 - xa_, 1.0 - xa_) - h * xa_ + 0.5 * g * xa_**2
    if not np.all(np.isfinite(om)):
        raise ValueError("eps_s, eps_a: magnitudes too large, the grand potential overflows")
    return om


def is_stable(xa, xb, eps_s, eps_a, za=4, zb=6):
    """True where x_a is a local minimum of Omega: 1/(x_a(1-x_a)) + eps_a z_a > 0.

    (x_b and eps_s do not enter the curvature; they are accepted, validated and
    broadcast so the call mirrors ``grand_potential``.) Vectorized, boolean array.
    """
    xa_ = _as_float("xa", xa)
    _check_open_unit("xa", xa_)
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb)
    b = _broadcast({"xa": xa_, "xb": xb_, "eps_s": es, "eps_a": ea, "za": za_, "zb": zb_})
    return 1.0 / (b[0] * (1.0 - b[0])) + b[3] * b[4] > 0.0


def solve(xb, eps_s, eps_a, za=4, zb=6, *, branch: str = "equilibrium", space: str = "x") -> np.ndarray:
    """Vectorized root of Eq. 6 over broadcast arrays of (xb, eps_s, eps_a, za, zb).

    branch:
      - "equilibrium": the global minimum of Omega (for three roots: the high
        root when h > eps_a z_a / 2, else the low one; at the exact Maxwell tie
        the low root);
      - "low": the lowest root (the adsorption branch's metastable continuation);
      - "high": the highest root;
      - "middle": the unstable middle root where three exist, else NaN.

    Returns an array of the broadcast shape: x_a (space="x") or logit(x_a)
    (space="logit"). Runs a compiled single-threaded kernel (~10^7 points/s).
    """
    if branch not in _BRANCHES:
        raise ValueError(f"branch must be one of {', '.join(_BRANCHES)}; got {branch!r}")
    if space not in ("x", "logit"):
        raise ValueError(f"space must be one of x, logit; got {space!r}")
    xb_, es, ea, za_, zb_ = _validate(xb, eps_s, eps_a, za, zb)
    xb_, es, ea, za_, zb_ = _broadcast({"xb": xb_, "eps_s": es, "eps_a": ea, "za": za_, "zb": zb_})
    h = np.ascontiguousarray(_field(xb_, es, ea, zb_), dtype=float).ravel()
    g = np.ascontiguousarray(_coupling(ea, za_), dtype=float).ravel()
    u = np.empty_like(h)
    _solve_kernel(g, h, _BRANCHES[branch], u)
    u = u.reshape(xb_.shape)
    if space == "logit":
        return u
    return expit(u)


def surface_excess(xa, xb, capacity):
    """Surface excess Gamma = C (x_a - x_b), in the units of the monolayer capacity C (> 0). Vectorized."""
    xa_ = _as_float("xa", xa)
    _check_open_unit("xa", xa_)
    xb_ = _as_float("xb", xb)
    _check_open_unit("xb", xb_)
    c = _as_float("capacity", capacity)
    if np.any(c <= 0.0):
        raise ValueError(f"capacity must be > 0; got {capacity!r}")
    _broadcast({"xa": xa_, "xb": xb_, "capacity": c})
    return c * (xa_ - xb_)


def xb_for_field(h, eps_s, eps_a, zb=6) -> np.ndarray:
    """Every x_b in (0, 1) whose effective field equals ``h`` (k_B T), ascending, 1-D.

    Inverts h(x_b) = logit(x_b) - eps_s + eps_a z_b x_b exactly: one value, or up
    to three when eps_a z_b < -4 (non-monotone bulk field). Scalars only.
    """
    hh = float(_as_float("h", h, scalar=True))
    _, es, ea, _, zb_ = _validate(0.5, eps_s, eps_a, 1.0, zb, scalar=True)
    return expit(_xb_where_field(hh, float(es), float(ea), float(zb_))[:, 0])


def _xb_where_field(c: float, eps_s: float, eps_a: float, zb: float) -> np.ndarray:
    """Every v = logit(x_b) with h(x_b) = c, ascending, and the sign of dh/dx_b there ((n, 2) array).

    h(x_b) = c is v + (eps_a z_b) sigmoid(v) = c + eps_s with v = logit(x_b):
    the same equation as Eq. 6, so the same exact all-roots kernel applies.
    """
    gb = eps_a * zb
    buf = np.empty(3)
    n = _all_roots(gb, c + eps_s, buf)
    v = np.sort(buf[:n])
    s = expit(v)
    slope = 1.0 + gb * s * (1.0 - s)  # sign of dh/dv, same as dh/dx_b
    return np.column_stack([v, np.sign(slope)])


class Branch(NamedTuple):
    """One sweep of x_b. xa[i] is the branch at xb[i]; each jump is a spinodal.

    jump_xb: exact x_b of each jump, in sweep order; jump_from: the x_a where the
    followed root disappears (a double root); jump_to: the x_a of the root the
    system lands on.
    """

    xa: np.ndarray
    jump_xb: np.ndarray
    jump_from: np.ndarray
    jump_to: np.ndarray


class Hysteresis(NamedTuple):
    """Adsorption (x_b swept upward) and desorption (x_b swept downward) branches on a grid."""

    xb: np.ndarray
    adsorption: Branch
    desorption: Branch


def _sweep(xb: np.ndarray, h: np.ndarray, g: float, eps_s: float, eps_a: float, zb: float, upward: bool):
    n = xb.size
    if not g < -4.0:
        xa = expit(_low_vec(g, h))
        empty = np.empty(0)
        return Branch(xa, empty, empty.copy(), empty.copy())
    up, hhi, hlo = _spin(g)
    # events: x_b where the field crosses a turning value in the sweep direction
    events = []
    for c, kind in ((hhi, "up"), (hlo, "down")):
        for v, slope in _xb_where_field(c, eps_s, eps_a, zb):
            x = float(expit(v))
            if xb[0] < x < xb[-1] and slope != 0:
                # in sweep direction the field increases iff slope*(+1 if upward) > 0
                rising = (slope > 0) == upward
                if (kind == "up" and rising) or (kind == "down" and not rising):
                    events.append((x, kind))
    events.sort(key=lambda e: e[0], reverse=not upward)
    start = 0 if upward else n - 1
    state = ("high" if h[start] >= hhi else "low") if upward else ("high" if h[start] > hlo else "low")
    order = range(n) if upward else range(n - 1, -1, -1)
    states = np.empty(n, dtype=bool)  # True = high
    jx, jf, jt = [], [], []
    k = 0
    for i in order:
        while k < len(events) and ((events[k][0] < xb[i]) if upward else (events[k][0] > xb[i])):
            x, kind = events[k]
            k += 1
            if kind == "up" and state == "low":
                state = "high"
                jx.append(x)
                jf.append(expit(-up))
                jt.append(expit(_high(g, hhi)))
            elif kind == "down" and state == "high":
                state = "low"
                jx.append(x)
                jf.append(expit(up))
                jt.append(expit(_low(g, hlo)))
        states[i] = state == "high"
    # events beyond the last grid point in sweep order are outside (xb[0], xb[-1]) by construction
    xa = np.where(states, expit(_high_vec(g, h)), expit(_low_vec(g, h)))
    return Branch(xa, np.asarray(jx, dtype=float), np.asarray(jf, dtype=float), np.asarray(jt, dtype=float))


def _low_vec(g: float, h: np.ndarray) -> np.ndarray:
    out = np.empty(h.size)
    _solve_kernel(np.full(h.size, g), np.ascontiguousarray(h, dtype=float).ravel(), 1, out)
    return out.reshape(h.shape)


def _high_vec(g: float, h: np.ndarray) -> np.ndarray:
    out = np.empty(h.size)
    _solve_kernel(np.full(h.size, g), np.ascontiguousarray(h, dtype=float).ravel(), 2, out)
    return out.reshape(h.shape)


def hysteresis(xb_grid, eps_s, eps_a, za=4, zb=6) -> Hysteresis:
    """Adsorption and desorption branches of Eq. 6 over an increasing grid of x_b.

    Adsorption: start at xb_grid[0] on the lowest root and sweep x_b upward,
    following the current root until it disappears at a spinodal (the field h
    crosses h_hi while rising), then jump to the high root; symmetrically the
    high branch is left when h falls through h_lo. Desorption: start at
    xb_grid[-1] on the highest root and sweep downward. The jump x_b are solved
    exactly (h(x_b) = h_hi or h_lo has the form of Eq. 6 in logit x_b), not read
    off the grid. Because h(x_b) can be non-monotone (eps_a z_b < -4), a sweep
    may jump more than once, including downward jumps on an upward sweep.

    xb_grid: 1-D, strictly increasing, inside (0, 1), at least 2 points. eps_s,
    eps_a, za, zb: scalars (k_B T units, negative = attractive).
    """
    xb_ = _as_float("xb_grid", xb_grid)
    if xb_.ndim != 1 or xb_.size < 2:
        raise ValueError(f"xb_grid must be a 1-D array of at least 2 points; got shape {xb_.shape}")
    _check_open_unit("xb_grid", xb_)
    if np.any(np.diff(xb_) <= 0):
        raise ValueError("xb_grid must be strictly increasing")
    _, es, ea, za_, zb_ = _validate(0.5, eps_s, eps_a, za, zb, scalar=True)
    es, ea, za_, zb_ = float(es), float(ea), float(za_), float(zb_)
    h = _field(xb_, es, ea, zb_)
    g = ea * za_
    ads = _sweep(xb_, h, g, es, ea, zb_, upward=True)
    des = _sweep(xb_, h, g, es, ea, zb_, upward=False)
    return Hysteresis(xb_, ads, des)


class Maxwell(NamedTuple):
    """Equilibrium (equal-Omega) transition: every x_b where it occurs, and the coexisting x_a.

    xb: ascending array of the x_b with h(x_b) = eps_a z_a / 2 (one, or up to
    three when the bulk field is non-monotone); xa_low, xa_high: the two
    coexisting minima (the same at every such x_b, xa_high = 1 - xa_low).
    """

    xb: np.ndarray
    xa_low: float
    xa_high: float


def maxwell_xb(eps_s, eps_a, za=4, zb=6) -> Maxwell:
    """The x_b where the two stable roots of Eq. 6 have equal grand potential.

    In m = 2 x_a - 1, Omega is even plus -(h - g/2) m / 2 (g = eps_a z_a), so the
    two minima are equal exactly at h = g/2; the coexisting x_a = (1 +- m*)/2 with
    m* = tanh(-g m*/4) > 0. Requires eps_a < critical_eps_a(za) (ValueError otherwise).
    """
    _, es, ea, za_, zb_ = _validate(0.5, eps_s, eps_a, za, zb, scalar=True)
    es, ea, za_, zb_ = float(es), float(ea), float(za_), float(zb_)
    g = ea * za_
    if not g < -4.0:
        raise ValueError(f"eps_a must be < critical_eps_a(za) = {-4.0 / za_!r} for a transition; got {ea!r}")
    xb = expit(_xb_where_field(0.5 * g, es, ea, zb_)[:, 0])
    return Maxwell(xb=xb, xa_low=float(expit(_low(g, 0.5 * g))), xa_high=float(expit(_high(g, 0.5 * g))))


class PhaseDiagram(NamedTuple):
    """Transition lines in the (eps_a, x_b) plane; each (n, 3) array is NaN-padded, rows ascending.

    spinodal_up: x_b where the low branch ends (h = h_hi); spinodal_down: where the
    high branch ends (h = h_lo); binodal: the Maxwell x_b (h = g/2).
    critical_xb: every x_b of the critical point (eps_a = -4/z_a, h = -2).
    """

    eps_a: np.ndarray
    spinodal_up: np.ndarray
    spinodal_down: np.ndarray
    binodal: np.ndarray
    critical_eps_a: float
    critical_xb: np.ndarray


def phase_diagram(eps_a_grid, eps_s, za=4, zb=6) -> PhaseDiagram:
    """Spinodal and binodal x_b for each eps_a < -4/z_a in ``eps_a_grid`` (others give NaN rows).

    Every point is an exact solution (same kernel as Eq. 6), so no line is read off a grid.
    """
    ea_ = _as_float("eps_a_grid", eps_a_grid)
    if ea_.ndim != 1:
        raise ValueError(f"eps_a_grid must be 1-D; got shape {ea_.shape}")
    _, es, _, za_, zb_ = _validate(0.5, eps_s, 0.0, za, zb, scalar=True)
    es, za_, zb_ = float(es), float(za_), float(zb_)
    n = ea_.size
    su, sd, bi = (np.full((n, 3), np.nan) for _ in range(3))
    for i, ea in enumerate(ea_):
        g = ea * za_
        if not g < -4.0:
            continue
        up, hhi, hlo = _spin(g)
        for arr, c in ((su, hhi), (sd, hlo), (bi, 0.5 * g)):
            x = expit(_xb_where_field(c, es, ea, zb_)[:, 0])
            arr[i, : x.size] = x
    ec = -4.0 / za_
    crit = expit(_xb_where_field(-2.0, es, ec, zb_)[:, 0])
    return PhaseDiagram(ea_, su, sd, bi, ec, crit)
