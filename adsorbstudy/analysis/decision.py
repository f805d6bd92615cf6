"""The decision rule for the decisive comparisons (DESIGN §5, "Decision rule"): pure functions, no I/O.

The rule it replaces ("better" when the difference of the seed means exceeds the larger seed SD) says
"better" in about 21 % of 3-seed comparisons with no true difference. Here:

1. **One interval per claim** (:func:`difference`). Each arm has, per training seed, a metric at every
   temperature of a region (e.g. |Δe| of that seed's samples at T, with its sampling error). Each
   seed's values are averaged over the region's temperatures (the *per-seed region mean*), and the
   difference of the two arms' means of those gets Welch's t interval with the Welch–Satterthwaite
   degrees of freedom. The difference equals the mean over the region's temperatures of the per-T
   differences of the seed means, which are returned too.

   Why Welch on per-seed region means, and how the sampling error enters: a seed's region mean differs
   from the arm's true value by its training randomness *and* by the sampling error of its finite
   sample, so the spread of the region means across seeds already contains each seed's sampling
   error; adding the reported sampling errors on top would count it twice. Averaging within a seed
   first keeps the temperatures of one seed together: they share one set of weights, so they are not
   independent replicates (treating seed × T cells as independent would shrink the interval by up to
   √n_T). The sampling errors are used to report which part of the seed spread they explain
   (``sampling_share_*``: near 1, more samples per seed would narrow the interval; near 0, only more
   seeds will). A hierarchical bootstrap (seeds, then samples) was not chosen: with 3 seeds there are
   10 distinct seed resamples, and percentile intervals from so few undercover badly, while Welch's
   interval is exact for normal seed means with equal variances up to the Satterthwaite
   approximation (at 3 seeds per arm and equal spreads it is slightly conservative, coverage ≈ 96.5 %).

2. **One declared family** (:func:`holm`, :func:`decide`, :func:`family`): one declared primary claim
   per decisive pair, Holm's step-down correction over the family. Holm adjusts p-values; the interval
   shown for the claim at step j (p-values in increasing order, j = 1..m) is the Welch interval at the
   matching Bonferroni-type level α/(m − j + 1) while every earlier step was rejected, and at α/m
   after the first retained step (Holm stops there). So the interval excludes 0 exactly when Holm
   rejects. These stepwise intervals are not simultaneous confidence intervals; they are the
   intervals consistent with the test.

3. **Words.** "better" only when the corrected interval excludes 0; otherwise "not resolved with n
   seeds"; "no difference" only where an equivalence margin was declared in advance and the whole
   corrected interval lies inside ±margin.

4. **Power** (:func:`power`): the probability of "better" for a true difference in units of the seed
   SD, by simulation through the same functions.

Sign convention everywhere: difference = arm a − arm b, in the metric's units. With
``lower_is_better`` (errors such as |Δe|), a negative difference favours a.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def _per_seed(x, name: str, Ts=None) -> tuple[np.ndarray, list | None]:
    """(..., n_seeds, n_T) float array from an array or a mapping {T: per-seed values}, and the T keys."""
    if isinstance(x, Mapping):
        keys = sorted(x) if Ts is None else Ts
        if sorted(x) != sorted(keys):
            raise ValueError(f"{name}: temperatures {sorted(x)} differ from the other arm's {sorted(keys)}")
        cols = [np.asarray(x[T], float) for T in keys]
        if len({c.shape for c in cols}) != 1:
            raise ValueError(f"{name}: every temperature needs the same seeds; got shapes {[c.shape for c in cols]}")
        return np.stack(cols, axis=-1), list(keys)
    a = np.asarray(x, float)
    if a.ndim == 0:
        raise ValueError(f"{name} must hold one value per seed (and per temperature); got a scalar")
    return (a[:, None] if a.ndim == 1 else a), Ts


def difference(a, b, a_err=None, b_err=None, level: float = 0.95) -> dict:
    """The difference a − b of a metric between two arms over their training seeds, pooled over a region.

    ``a``, ``b``: per-seed values of the metric, shape (..., n_seeds, n_T) (n_T temperatures of the
    region; a 1-d array is one value per seed), or mappings {T: sequence over seeds} with the same
    temperatures; the arms may have different numbers of seeds. Leading axes ``...`` are independent
    studies (vectorised simulation). ``a_err``, ``b_err``: each seed's sampling (standard) error at
    each T, same shapes, or None; used only for ``sampling_share_*`` (see the module docstring).
    ``level``: the confidence level of ``low``/``high``.

    Returns (floats for one study, arrays of shape ``...`` otherwise):

    - ``diff``: mean over seeds of a's per-seed region means minus b's (metric units);
    - ``se``, ``dof``: Welch's standard error and Welch–Satterthwaite degrees of freedom;
    - ``low``, ``high``: the two-sided ``level`` interval diff ± t_{dof} se; ``p``: the two-sided Welch
      p-value for "no difference"; all nan (no claim) when an arm has one seed, or when every seed of
      each arm gave the same value (no seed spread to build an interval from);
    - ``n_a``, ``n_b``: seeds per arm; ``per_T``: (..., n_T) differences of the seed means at each T;
      ``T``: the temperatures when mappings were given, else None;
    - ``sampling_share_a``, ``sampling_share_b``: the mean squared sampling error of a per-seed region
      mean (Σ_T err² / n_T², temperatures independent) over the seed variance of the region means
      (nan without errors or with one seed).
    """
    if not (isinstance(level, float) and 0 < level < 1):
        raise ValueError(f"level must be a float in (0, 1); got {level!r}")
    A, Ts = _per_seed(a, "a")
    B, _ = _per_seed(b, "b", Ts)
    if A.shape[-1] != B.shape[-1] or A.shape[:-2] != B.shape[:-2]:
        raise ValueError(f"a and b must have the same temperatures and study axes; got shapes {A.shape} and {B.shape}")
    for name, x in (("a", A), ("b", B)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite (a missing seed is left out, not filled in)")
    ma, mb = A.mean(axis=-1), B.mean(axis=-1)  # per-seed region means, (..., n_seeds)
    na, nb = ma.shape[-1], mb.shape[-1]
    diff = ma.mean(-1) - mb.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        va = ma.var(-1, ddof=1) if na > 1 else np.full(diff.shape, np.nan)
        vb = mb.var(-1, ddof=1) if nb > 1 else np.full(diff.shape, np.nan)
        wa, wb = va / na, vb / nb
        se = np.sqrt(wa + wb)
        dof = (wa + wb) ** 2 / (wa**2 / (na - 1) + wb**2 / (nb - 1))
        # both arms without spread (every seed of each arm gave the same value, as a coarse metric can at
        # few seeds): the seeds then say nothing about how far another seed would fall, so no interval
        # (nan, like one seed) rather than a zero-width one that would call any difference "better"
        # (tested on the values, not on se: the variance of equal floats can come out at 1e-35, not 0)
        flat = (np.ptp(ma, axis=-1) == 0) & (np.ptp(mb, axis=-1) == 0)
        se = np.where(flat, np.nan, se)
        tq = stats.t.ppf(0.5 + level / 2, dof)
        p = 2 * stats.t.sf(np.abs(diff) / se, dof)
        low, high = diff - tq * se, diff + tq * se

        def share(err, X, v):
            if err is None:
                return np.full(diff.shape, np.nan)
            E, _ = _per_seed(err, "err", Ts)
            if E.shape != X.shape:
                raise ValueError(f"sampling errors must have the values' shape {X.shape}; got {E.shape}")
            return (np.sum(E**2, axis=-1) / E.shape[-1] ** 2).mean(-1) / v

        out = {"diff": diff, "se": se, "dof": dof, "low": low, "high": high, "p": p,
               "sampling_share_a": share(a_err, A, va), "sampling_share_b": share(b_err, B, vb)}
    scalar = diff.ndim == 0
    out = {k: float(v) if scalar else np.asarray(v, float) for k, v in out.items()}
    return out | {"n_a": na, "n_b": nb, "per_T": A.mean(-2) - B.mean(-2), "T": Ts, "level": level}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values along the last axis (same order as given; nan counts as 1).

    p̃_(j) = max_{k ≤ j} min(1, (m − k + 1) p_(k)) for the p-values in increasing order; a claim is
    rejected at family-wise level α when p̃ ≤ α. Controls the family-wise error rate at α under any
    dependence between the claims."""
    p = np.nan_to_num(np.asarray(p_values, float), nan=1.0)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ps = np.take_along_axis(p, order, -1)
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ps), axis=-1)
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, -1)
    return out


def holm_levels(p_values, alpha: float = 0.05) -> np.ndarray:
    """The error level of each claim's corrected interval, along the last axis (same order as given).

    At step j of Holm's order (j = 1..m, increasing p) the level is α/(m − j + 1) while every earlier
    step was rejected, and α/m from the first retained step on (the procedure stops there). The
    interval at that level excludes 0 exactly when Holm rejects the claim."""
    p = np.nan_to_num(np.asarray(p_values, float), nan=1.0)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ps = np.take_along_axis(p, order, -1)
    step_alpha = alpha / (m - np.arange(m))
    still = np.cumprod(ps <= step_alpha, axis=-1).astype(bool)  # every step up to j rejected
    # the first retained step keeps its own level (its interval contains 0); later ones get α/m
    prev = np.concatenate([np.ones(p.shape[:-1] + (1,), bool), still[..., :-1]], axis=-1)
    lev = np.where(prev, step_alpha, alpha / m)
    out = np.empty_like(lev)
    np.put_along_axis(out, order, lev, -1)
    return out


def _check_alpha(alpha):
    if not (isinstance(alpha, float) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float in (0, 1); got {alpha!r}")


def decide(diffs: Sequence[dict], alpha: float = 0.05, margins=None, lower_is_better=True) -> dict:
    """Holm over a declared family of claims: arrays with the claims on the last axis.

    ``diffs``: one :func:`difference` result per declared claim (all with the same study axes);
    ``margins``: per claim, an equivalence margin declared in advance (metric units, > 0) or None;
    ``lower_is_better``: per claim (or one bool). Returns arrays of shape (..., m): ``p_adj`` (Holm),
    ``alpha_step`` (the interval's error level, :func:`holm_levels`), ``low``, ``high`` (the corrected
    interval), ``better`` (it excludes 0), ``a_better`` (better, and in a's favour), ``equivalent``
    (inside ±margin; False without a margin).
    """
    _check_alpha(alpha)
    m = len(diffs)
    if m < 1:
        raise ValueError("the family must declare at least one claim")
    margins = [None] * m if margins is None else list(margins)
    lib = [lower_is_better] * m if isinstance(lower_is_better, bool) else list(lower_is_better)
    if len(margins) != m or len(lib) != m:
        raise ValueError(f"margins and lower_is_better must give one value per claim ({m})")
    for i, mg in enumerate(margins):
        if mg is not None and not (math.isfinite(mg) and mg > 0):
            raise ValueError(f"margins[{i}] must be a finite number > 0 or None; got {mg!r}")
    stack = {k: np.stack([np.asarray(d[k], float) for d in diffs], axis=-1) for k in ("diff", "se", "dof", "p")}
    lev = holm_levels(stack["p"], alpha)
    with np.errstate(invalid="ignore"):
        tq = stats.t.ppf(1 - lev / 2, stack["dof"])
        low = np.where(stack["se"] == 0, stack["diff"], stack["diff"] - tq * stack["se"])
        high = np.where(stack["se"] == 0, stack["diff"], stack["diff"] + tq * stack["se"])
    better = (low > 0) | (high < 0)  # nan (one seed) compares False: never "better"
    favours_a = np.where(np.asarray(lib, bool), stack["diff"] < 0, stack["diff"] > 0)
    mg = np.array([np.inf if x is None else x for x in margins], float)
    equivalent = np.isfinite(mg) & (low > -mg) & (high < mg)
    return {"p_adj": holm(stack["p"]), "alpha_step": lev, "low": low, "high": high, "better": better,
            "a_better": better & favours_a, "equivalent": equivalent & ~better}


def family(claims: Sequence[dict], alpha: float = 0.05) -> list[dict]:
    """The verdicts of one study's declared family, in words.

    ``claims``: one dict per declared primary claim, at most one per pair of arms (else ValueError):
    ``name`` (str), ``a``, ``b`` (the arms' names), ``difference`` (a :func:`difference` result for one
    study, a − b), and optionally ``lower_is_better`` (default True) and ``margin`` (an equivalence
    margin declared in advance, metric units; default None: "no difference" is never said). Returns
    one dict per claim, in the given
    order: the claim's fields, ``diff``, ``p``, ``p_adj``, ``alpha_step``, ``low``/``high`` (the
    corrected interval), ``n_a``, ``n_b``, ``family_size`` and ``outcome``: "<a|b> is better",
    "no difference (within ±margin)" or "not resolved with n seeds".
    """
    for i, c in enumerate(claims):
        missing = {"name", "a", "b", "difference"} - set(c)
        if missing:
            raise ValueError(f"claims[{i}] misses {sorted(missing)}")
        if np.ndim(c["difference"]["diff"]) != 0:
            raise ValueError(f"claims[{i}]: family() takes one study; use decide() for batches")
    pairs = [frozenset((c["a"], c["b"])) for c in claims]
    twice = sorted({tuple(sorted(p)) for p in pairs if pairs.count(p) > 1})
    if twice:
        # a second claim on the same pair would be a second look at the data, chosen after the first
        raise ValueError(f"claims: one declared primary claim per pair; {twice} declared more than once")
    d = decide([c["difference"] for c in claims], alpha, [c.get("margin") for c in claims],
               [c.get("lower_is_better", True) for c in claims])
    out = []
    for i, c in enumerate(claims):
        diff = c["difference"]
        n = sorted({diff["n_a"], diff["n_b"]})
        seeds = f"{n[0]} seed{'s' if n[0] != 1 else ''}" if len(n) == 1 else f"{n[0]} and {n[1]} seeds"
        if d["better"][i]:
            outcome = f"{c['a'] if d['a_better'][i] else c['b']} is better"
        elif d["equivalent"][i]:
            outcome = f"no difference (within ±{c['margin']:g})"
        else:
            outcome = f"not resolved with {seeds}"
        out.append({k: v for k, v in c.items() if k != "difference"}
                   | {"diff": diff["diff"], "p": diff["p"], "p_adj": float(d["p_adj"][i]),
                      "alpha_step": float(d["alpha_step"][i]), "low": float(d["low"][i]),
                      "high": float(d["high"][i]), "n_a": diff["n_a"], "n_b": diff["n_b"],
                      "family_size": len(claims), "outcome": outcome})
    return out


def simulate_family(effects_sd, n_seeds: int, n_sim: int, rng: np.random.Generator, n_T: int = 1,
                    sampling_sd: float = 0.0, alpha: float = 0.05) -> dict:
    """``n_sim`` simulated studies of a declared family, decided by :func:`difference` and :func:`decide`.

    Claim i compares arm a with arm b, ``n_seeds`` seeds each; a seed's value at each of ``n_T``
    temperatures is μ + u + e with a seed effect u ~ N(0, σ_u²) shared by its temperatures and a
    sampling error e ~ N(0, ``sampling_sd``²) per temperature; σ_u is set so that the *per-seed region
    mean* has SD 1 (σ_u² = 1 − sampling_sd²/n_T): ``effects_sd[i]`` (μ_b − μ_a, so > 0 favours a with
    lower-is-better) is in units of that seed SD. Returns :func:`decide`'s arrays, (n_sim, m), and
    ``diff_true`` (m,) = −effects_sd.
    """
    eff = np.asarray(effects_sd, float)
    if eff.ndim != 1 or eff.size < 1:
        raise ValueError(f"effects_sd must be a 1-d sequence of one effect per claim; got {effects_sd!r}")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 2:
        raise ValueError(f"n_seeds must be an integer ≥ 2 (one seed has no spread); got {n_seeds!r}")
    if not 0 <= sampling_sd**2 / n_T < 1:
        raise ValueError(f"sampling_sd must satisfy sampling_sd²/n_T < 1 (the seed SD is 1); got {sampling_sd!r}")
    m = eff.size
    su = math.sqrt(1 - sampling_sd**2 / n_T)

    def arm(mu):
        u = su * rng.standard_normal((n_sim, m, n_seeds, 1))
        return mu[None, :, None, None] + u + sampling_sd * rng.standard_normal((n_sim, m, n_seeds, n_T))

    A, B = arm(np.zeros(m)), arm(eff)
    diffs = [difference(A[:, i], B[:, i]) for i in range(m)]
    return decide(diffs, alpha) | {"diff_true": -eff}


def power(effect_sd: float, n_seeds: int, family_size: int, alpha: float = 0.05, n_sim: int = 4000,
          seed: int = 0, n_T: int = 1, sampling_sd: float = 0.0) -> dict:
    """The probability that a claim with a true difference of ``effect_sd`` seed SDs comes out "better"
    (for the right arm), with ``n_seeds`` seeds per arm, in a declared family of ``family_size`` claims
    whose other claims are null; by simulation through :func:`simulate_family` (normal per-seed region
    means, equal spreads). Returns {"power", "power_se" (Monte Carlo standard error), "n_sim",
    "false_better" (fraction of studies with "better" on some null claim)}."""
    if isinstance(family_size, bool) or not isinstance(family_size, int) or family_size < 1:
        raise ValueError(f"family_size must be an integer ≥ 1; got {family_size!r}")
    if isinstance(n_sim, bool) or not isinstance(n_sim, int) or n_sim < 100:
        raise ValueError(f"n_sim must be an integer ≥ 100; got {n_sim!r}")
    eff = np.zeros(family_size)
    eff[0] = effect_sd
    d = simulate_family(eff, n_seeds, n_sim, np.random.default_rng(seed), n_T, sampling_sd, alpha)
    pw = float(d["a_better"][:, 0].mean())
    fb = float(d["better"][:, 1:].any(-1).mean()) if family_size > 1 else 0.0
    return {"power": pw, "power_se": math.sqrt(pw * (1 - pw) / n_sim), "n_sim": n_sim, "false_better": fb}
