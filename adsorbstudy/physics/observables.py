"""Ensemble statistics used to judge every sampler and generative model against the Ising ground truth.

Conventions (identical for Monte Carlo and models): J = 1, k_B = 1, per-spin energy e
with each bond counted once, per-configuration magnetization m = Σ s_i / N and its
absolute value |m| *per configuration* (seed 004's convention for its models; for MC
it differs from |Σ_k m_k| / n below Tc, where MC chains do not flip). Error bars are
bootstrap standard errors over configurations, which assumes the configurations are
independent (the Monte Carlo ensembles are spaced by ≥ 2 τ_int for that reason).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import wasserstein_distance

from ..study.validate import check_T
from .lattice import check_spins, energy, magnetization


def thermo_stats(spins, T: float, n_boot: int = 200, seed: int = 0) -> dict:
    """Thermodynamic averages of an ensemble at temperature ``T``, with bootstrap errors.

    ``spins``: (n, L, L) of ±1 (numpy or torch). Returns floats:
    ``n``; ``e`` = <e>; ``m_abs`` = <|m|> (|m| per configuration);
    ``C`` = N(<e²> − <e>²)/T² (specific heat per spin, k_B);
    ``chi`` = N(<m²> − <|m|>²)/T (susceptibility per spin with the |m| convention);
    ``U4`` = 1 − <m⁴>/(3<m²>²) (Binder cumulant, signed m; invariant under m → −m);
    each with ``*_err``, the standard deviation over ``n_boot`` bootstrap resamples of the
    configurations (NaN when n = 1). The point estimates use all configurations.
    """
    x = check_spins(spins)
    T = check_T(T)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    n, L1, L2 = x.shape
    N = L1 * L2
    e = energy(x)
    m = magnetization(x)

    def stats(idx):
        ee, mm = e[idx], m[idx]
        ma = np.abs(mm)
        m2 = (mm**2).mean(-1)
        m4 = (mm**4).mean(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            U4 = 1 - m4 / (3 * m2**2)
        return {
            "e": ee.mean(-1),
            "m_abs": ma.mean(-1),
            "C": N * ee.var(-1) / T**2,
            "chi": N * (m2 - ma.mean(-1) ** 2) / T,
            "U4": U4,
        }

    point = stats(np.arange(n))
    out: dict = {"n": int(n)}
    if n > 1:
        rng = np.random.default_rng(seed)
        boot = stats(rng.integers(0, n, size=(n_boot, n)))
    for k, v in point.items():
        out[k] = float(v)
        out[k + "_err"] = float(np.nanstd(boot[k], ddof=1)) if n > 1 else float("nan")
    return out


def correlation(spins):
    """Spin–spin correlation G(r) = <s_i s_{i+r}> along the lattice axes, r = 1 … ⌊L/2⌋.

    ``spins``: (n, L, L) ±1, periodic. G(r) is averaged over all sites, both axes and
    all configurations. Following Eq. 13 with the Z₂ symmetry of the Boltzmann
    distribution, <s_i> = 0, so nothing is subtracted: the result is invariant under
    flipping any configuration, hence identical in convention for MC chains (which
    keep their sign below Tc) and for generative models (which do not). Below Tc it
    therefore tends to m² at large r. Returns (r, G, G_err) with G_err the standard
    error over configurations.
    """
    r, per = correlation_per_config(spins)
    n = per.shape[0]
    G = per.mean(0)
    G_err = per.std(0, ddof=1) / math.sqrt(n) if n > 1 else np.full(len(r), np.nan)
    return r, G, G_err


def correlation_per_config(spins):
    """(r, g) with g[k, j] = site- and axis-averaged s_i s_{i+r_j} of configuration k, r = 1 … ⌊L/2⌋."""
    x = check_spins(spins).astype(np.float64)
    n, L, L2 = x.shape
    rmax = min(L, L2) // 2
    r = np.arange(1, rmax + 1)
    per = np.empty((n, rmax))
    for k, d in enumerate(r):
        per[:, k] = 0.5 * ((x * np.roll(x, d, 1)).mean((1, 2)) + (x * np.roll(x, d, 2)).mean((1, 2)))
    return r, per


def eta_bootstrap(spins, rmax=None, n_boot: int = 200, seed: int = 0) -> dict:
    """η and ξ of :func:`fit_eta_xi` with errors from a bootstrap over configurations.

    The G(r) at different r come from the same configurations and are strongly
    correlated, so the covariance errors of a fit that treats them as independent are
    unreliable (χ²/dof ≪ 1 at T_c is the symptom). Here the whole fit is repeated on
    ``n_boot`` resamples of the configurations; ``eta_err`` and ``kappa_err`` are the
    bootstrap standard deviations, ``xi_err`` propagated from κ (inf when κ ≤ 0).
    Other keys as in :func:`fit_eta_xi` (from the full sample); ``n_failed``: resamples
    that could not be fitted.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    r, per = correlation_per_config(spins)
    n = per.shape[0]
    if n < 2:
        raise ValueError(f"spins must hold at least 2 configurations; got {n}")

    def fit(rows):
        g = per[rows]
        return fit_eta_xi(r, g.mean(0), g.std(0, ddof=1) / math.sqrt(len(rows)), rmax=rmax)

    full = fit(np.arange(n))
    rng = np.random.default_rng(seed)
    etas, kappas, failed = [], [], 0
    for _ in range(n_boot):
        try:
            f = fit(rng.integers(0, n, size=n))
        except ValueError:
            failed += 1
            continue
        etas.append(f["eta"])
        kappas.append(f["kappa"])
    if len(etas) < 2:
        raise ValueError("the fit failed on almost every bootstrap resample")
    k_err = float(np.std(kappas, ddof=1))
    kappa = full["kappa"]
    out = dict(full)
    out.update({"eta_err": float(np.std(etas, ddof=1)), "kappa_err": k_err,
                "xi_err": k_err / kappa**2 if kappa > 0 else float("inf"), "n_failed": failed})
    return out


def fit_eta_xi(r, G, G_err, rmax=None) -> dict:
    """Fit G(r) = A r^(−η) e^(−r/ξ) by weighted least squares on ln G.

    ln G = ln A − η ln r − κ r with κ = 1/ξ, weights 1/σ², σ = G_err/G. Points with
    r > ``rmax`` or G ≤ 2 G_err (not significantly positive) are left out; at least
    4 points must remain. Returns ``eta``, ``eta_err``, ``xi``, ``xi_err``, ``A``,
    ``kappa`` (= 1/ξ), ``kappa_err``, ``chi2_dof``, ``n_points``. Errors are from the
    covariance, scaled by √(χ²/dof) when that exceeds 1. κ ≤ 0 (no measurable
    exponential decay, e.g. at Tc on a small torus) gives ξ = inf.
    """
    r = np.asarray(r, dtype=float)
    G = np.asarray(G, dtype=float)
    s = np.asarray(G_err, dtype=float)
    if not (r.shape == G.shape == s.shape) or r.ndim != 1:
        raise ValueError("r, G and G_err must be 1-D arrays of the same length")
    if rmax is not None and (not np.isfinite(rmax) or rmax < 4):
        raise ValueError(f"rmax must be >= 4 (lattice spacings); got {rmax!r}")
    ok = (r > 0) & (G > 2 * s) & (s > 0)
    if rmax is not None:
        ok &= r <= rmax
    if ok.sum() < 4:
        raise ValueError(f"need at least 4 points with G > 2·G_err (and r <= rmax) to fit; got {int(ok.sum())}")
    rr, y, sy = r[ok], np.log(G[ok]), s[ok] / G[ok]
    X = np.stack([np.ones_like(rr), -np.log(rr), -rr], axis=1)
    w = 1 / sy**2
    A_ = X.T @ (X * w[:, None])
    cov = np.linalg.inv(A_)
    beta = cov @ (X.T @ (w * y))
    resid = y - X @ beta
    dof = len(y) - 3
    chi2 = float((w * resid**2).sum() / dof) if dof > 0 else float("nan")
    if dof > 0 and chi2 > 1:
        cov = cov * chi2
    lnA, eta, kappa = beta
    err = np.sqrt(np.diag(cov))
    xi = 1 / kappa if kappa > 0 else float("inf")
    xi_err = err[2] / kappa**2 if kappa > 0 else float("inf")
    return {"eta": float(eta), "eta_err": float(err[1]), "xi": float(xi), "xi_err": float(xi_err),
            "A": float(math.exp(lnA)), "kappa": float(kappa), "kappa_err": float(err[2]),
            "chi2_dof": chi2, "n_points": int(len(y))}


def fit_power_law(x, y, y_err, rel_err_floor: float = 1e-3) -> dict:
    """Fit y = A x^p by weighted least squares on ln y (finite-size scaling: ⟨m²⟩ ∝ L^(−η), τ_int ∝ L^z).

    ln y = ln A + p ln x with weights 1/σ², σ = y_err / y floored at ``rel_err_floor`` (points whose
    replicas all agree would otherwise get infinite weight). The error of p is from the covariance,
    scaled by √(χ²/dof) when that exceeds 1. Returns ``p``, ``p_err``, ``A``, ``chi2_dof`` (nan with
    two points), ``local_slopes`` (the slope between successive x, which shows how far the
    smallest sizes are from the asymptotic regime) and ``cov``, the 2×2 covariance of (ln A, p) with
    the same scaling (for predictions outside the fitted x, e.g. ``scaling.power_law_at``).
    """
    x, y, s = (np.asarray(v, dtype=float) for v in (x, y, y_err))
    if not (x.shape == y.shape == s.shape) or x.ndim != 1 or len(x) < 2:
        raise ValueError("x, y and y_err must be 1-D arrays of the same length ≥ 2")
    if not (np.all(x > 0) and np.all(y > 0) and np.all(s >= 0)):
        raise ValueError("x and y must be > 0 and y_err ≥ 0 for a fit on log scales")
    order = np.argsort(x)
    lx, ly = np.log(x[order]), np.log(y[order])
    sy = np.maximum(s[order] / y[order], rel_err_floor)
    X = np.stack([np.ones_like(lx), lx], axis=1)
    w = 1 / sy**2
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    lnA, p = cov @ (X.T @ (w * ly))
    dof = len(lx) - 2
    chi2 = float((w * (ly - lnA - p * lx) ** 2).sum() / dof) if dof > 0 else float("nan")
    scale = chi2 if dof > 0 and chi2 > 1 else 1.0
    p_err = float(np.sqrt(cov[1, 1] * scale))
    return {"p": float(p), "p_err": p_err, "A": float(math.exp(lnA)), "chi2_dof": chi2,
            "local_slopes": (np.diff(ly) / np.diff(lx)).tolist(), "cov": (cov * scale).tolist()}


def hamming(spins, flip_symmetric: bool, max_pairs: int = 200_000, seed: int = 0):
    """Mean pairwise Hamming distance of an ensemble, as a fraction of sites, with its standard error.

    d(a, b) = fraction of sites where a and b differ = (1 − q_ab)/2 with the overlap
    q_ab = Σ s_a s_b / N. ``flip_symmetric=True`` factors out the global spin flip:
    min(d(a, b), d(a, −b)) = (1 − |q_ab|)/2. All pairs of a random subset of m
    configurations are used, m the largest with m(m−1)/2 ≤ ``max_pairs`` (all
    configurations when they fit). The error is the U-statistic standard error
    √(4 Var(h̄_a)/m), h̄_a the mean distance of configuration a to the others.
    Returns (mean, err).
    """
    x = check_spins(spins)
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) or max_pairs < 1:
        raise ValueError(f"max_pairs must be an integer >= 1; got {max_pairs!r}")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"spins must hold at least 2 configurations for pairwise distances; got {n}")
    m = min(n, int((1 + math.sqrt(1 + 8 * max_pairs)) / 2))
    m = max(m, 2)
    if m < n:
        x = x[np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))]
    flat = x.reshape(m, -1).astype(np.float32)
    q = (flat @ flat.T) / flat.shape[1]
    d = (1 - (np.abs(q) if flip_symmetric else q)) / 2
    iu = np.triu_indices(m, 1)
    mean = float(d[iu].mean())
    np.fill_diagonal(d, 0.0)
    hbar = d.sum(1) / (m - 1)
    err = float(math.sqrt(4 * hbar.var(ddof=1) / m)) if m > 2 else float("nan")
    return mean, err


def w1(a, b) -> float:
    """1-D Wasserstein-1 (earth mover's) distance between the empirical distributions of samples a and b."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("a and b must each contain at least one sample")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must be finite")
    return float(wasserstein_distance(a, b))


def w1_e_m(spins_a, spins_b) -> dict:
    """W1 distances between two ensembles' per-spin energy and |m| distributions.

    ``w1_e``: W1 of e (J per spin); ``w1_m``: W1 of |m| per configuration (so a model
    whose samples come in both signs is compared fairly with an MC chain that keeps one).
    """
    a, b = check_spins(spins_a, "spins_a"), check_spins(spins_b, "spins_b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"spins_a and spins_b must have the same lattice shape; got {a.shape[1:]} and {b.shape[1:]}")
    return {"w1_e": w1(energy(a), energy(b)),
            "w1_m": w1(np.abs(magnetization(a)), np.abs(magnetization(b)))}


def w1_bootstrap(a, b, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """W1 between bootstrap resamples of the 1-D samples ``a`` and ``b``: an array of ``n_boot`` replicates.

    Replicate k resamples *both* samples with replacement (``a`` first, then ``b``, each drawn from
    ``rng`` as an (n_boot, n) index array) and computes W1 of the two resampled empirical
    distributions, in the units of the samples. The standard deviation of the replicates is the
    bootstrap error of :func:`w1`; their mean also carries the finite-sample bias of W1 (positive
    even for identical distributions), so only the spread is meaningful as an error bar.
    W1 is computed exactly from the resampled CDFs on the sorted union of the observed values,
    W1 = Σ_k |F_a(u_k) − F_b(u_k)| (u_{k+1} − u_k), identical to ``scipy.stats.wasserstein_distance``.
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("a and b must each contain at least one sample")
    u, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = rng.integers(0, b.size, size=(n_boot, b.size))
    Fa = _resampled_cdf(inv[: a.size][ia], u.size)
    Fb = _resampled_cdf(inv[a.size:][ib], u.size)
    return (np.abs(Fa - Fb)[:, :-1] * np.diff(u)).sum(1)


def _resampled_cdf(codes: np.ndarray, n_values: int) -> np.ndarray:
    """Empirical CDFs (n_rows, n_values) of rows of value indices ``codes`` (n_rows, n) into a sorted support."""
    rows, n = codes.shape
    counts = np.bincount((codes + n_values * np.arange(rows)[:, None]).ravel(), minlength=rows * n_values)
    return np.cumsum(counts.reshape(rows, n_values), axis=1) / n


def w1_e_m_bootstrap(spins_a, spins_b, n_boot: int = 200, seed: int = 0) -> dict:
    """:func:`w1_e_m` with bootstrap errors: ``w1_e``, ``w1_e_err`` (J per spin), ``w1_m``, ``w1_m_err``.

    The point values use all configurations; each error is the standard deviation of ``n_boot``
    replicates of :func:`w1_bootstrap` that resample both ensembles (e first, then |m|, from
    ``np.random.default_rng(seed)``). Configurations are assumed independent.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    a, b = check_spins(spins_a, "spins_a"), check_spins(spins_b, "spins_b")
    out = w1_e_m(a, b)
    rng = np.random.default_rng(seed)
    for key, f in (("w1_e", energy), ("w1_m", lambda x: np.abs(magnetization(x)))):
        out[f"{key}_err"] = float(np.std(w1_bootstrap(f(a), f(b), n_boot, rng), ddof=1))
    return out


def energy_fidelity(ensembles, e_exact, reference, n_boot: int = 200, seed: int = 0) -> dict:
    """Energy fidelity of a sampler over several temperatures, with error bars.

    ``ensembles``: {T: spins (n_T, L, L) ±1} of the sampler under test (numpy or torch);
    ``e_exact``: {T: exact ⟨e⟩ in J per spin}; ``reference``: {T: spins} of an
    independent reference sampler (e.g. Monte Carlo). Every T of ``ensembles`` must be a
    key of the other two; n_T ≥ 2 configurations per temperature.

    Returns floats, all in J per spin:

    - ``d_e`` = mean over T of |⟨e⟩_T − e_exact(T)|, and ``d_e_err`` = sqrt(Σ_T σ_T²) / n_T
      with σ_T = std(e)/√n_T the standard error of ⟨e⟩_T (first-order propagation, which
      treats |·| as linear: it understates the error when ⟨e⟩_T − e_exact(T) is within
      about σ_T of 0, where |Δe| is biased upwards by ≈ σ_T √(2/π));
    - ``w1_e`` = mean over T of the Wasserstein-1 distance between the sampler's and the
      reference's distributions of e, and ``w1_e_err`` its standard deviation over
      ``n_boot`` bootstrap replicates that resample *both* ensembles (with replacement)
      at every T. W1 of two finite samples is positive even for identical distributions
      (a finite-sample floor of order σ_e/√n); the error bar is the spread, not that bias.

    The point estimates use all configurations; the bootstrap draws from
    ``np.random.default_rng(seed)``. Configurations are assumed independent.
    """
    from collections.abc import Mapping

    for name, d in (("ensembles", ensembles), ("e_exact", e_exact), ("reference", reference)):
        if not isinstance(d, Mapping) or (name == "ensembles" and len(d) == 0):
            raise ValueError(f"{name} must be a non-empty dict keyed by temperature; got {type(d).__name__}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    e_s, e_r, e_ex = [], [], []
    for T in ensembles:
        check_T(T)
        for name, d in (("e_exact", e_exact), ("reference", reference)):
            if T not in d:
                raise ValueError(f"{name} has no entry for temperature T={T!r} of ensembles")
        ex = e_exact[T]
        if isinstance(ex, bool) or not isinstance(ex, (int, float, np.integer, np.floating)) or not math.isfinite(ex):
            raise ValueError(f"e_exact[{T!r}] must be a finite energy per spin in J; got {ex!r}")
        a = check_spins(ensembles[T], f"ensembles[{T!r}]")
        b = check_spins(reference[T], f"reference[{T!r}]")
        if a.shape[0] < 2:
            raise ValueError(f"ensembles[{T!r}] must hold at least 2 configurations for a standard error; got {a.shape[0]}")
        if a.shape[1:] != b.shape[1:]:
            raise ValueError(f"ensembles[{T!r}] and reference[{T!r}] must have the same lattice shape; "
                             f"got {a.shape[1:]} and {b.shape[1:]}")
        e_s.append(energy(a))
        e_r.append(energy(b))
        e_ex.append(float(ex))
    nT = len(e_s)
    dev = [abs(float(e.mean()) - ex) for e, ex in zip(e_s, e_ex)]
    se2 = [float(e.var(ddof=1)) / len(e) for e in e_s]
    w1s = [w1(a, b) for a, b in zip(e_s, e_r)]
    rng = np.random.default_rng(seed)
    boot = np.zeros(n_boot)
    for a, b in zip(e_s, e_r):
        # both sides are resampled: the reference is a finite sample too, and its noise enters W1 as much
        boot += w1_bootstrap(a, b, n_boot, rng)
    boot /= nT
    return {"d_e": float(np.mean(dev)), "d_e_err": float(math.sqrt(sum(se2)) / nT),
            "w1_e": float(np.mean(w1s)), "w1_e_err": float(boot.std(ddof=1))}


def bootstrap_err(stat, samples, n_boot: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of ``stat(*samples)``: the standard deviation (ddof 1) of ``stat`` over
    ``n_boot`` replicates, each resampling the rows (axis 0) of every array in ``samples`` with
    replacement, independently of each other, from ``np.random.default_rng(seed)``. Rows are
    assumed independent. The error is in the units of ``stat``.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    arrs = [np.asarray(a) for a in samples]
    if not arrs or any(a.ndim == 0 or a.shape[0] < 1 for a in arrs):
        raise ValueError("samples must be a non-empty sequence of arrays with at least one row each")
    rng = np.random.default_rng(seed)
    reps = [float(stat(*[a[rng.integers(0, a.shape[0], a.shape[0])] for a in arrs])) for _ in range(n_boot)]
    return float(np.std(reps, ddof=1))
