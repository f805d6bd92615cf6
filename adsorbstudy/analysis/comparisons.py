"""The verdict's statistics: errors against Monte Carlo per region, comparisons between model
families over training seeds, seed pooling, and the training-budget trends; verdict.json.

Error bars of averaged differences propagate the per-temperature bootstrap errors
of model and Monte Carlo in quadrature.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import decision
from .tables import REGIONS, _finite, region_of


def _mean_abs_diff(model: Sequence[Mapping], mc: Mapping[float, Mapping], key: str,
                   relative: bool = False, scale_key: str | None = None) -> tuple[float, float]:
    """Mean over temperatures of |model − MC| with the propagated error.

    ``relative`` divides each difference by a scale: the row's ``scale_key`` (e.g. the exact,
    noise-free ``exact_c``) when given, else |MC|. Temperatures without a finite value or scale are
    skipped; the caller counts them.
    """
    vals, var = [], []
    for r in model:
        ref = mc.get(round(r["T"], 6))
        if ref is None or not _finite(r.get(key)) or not _finite(ref.get(key)):
            continue
        d = abs(r[key] - ref[key])
        s2 = (r.get(f"{key}_err") or 0.0) ** 2 + (ref.get(f"{key}_err") or 0.0) ** 2
        if relative:
            scale = abs(r[scale_key]) if scale_key and _finite(r.get(scale_key)) else abs(ref[key])
            if scale == 0:
                continue
            d, s2 = d / scale, s2 / scale**2
        vals.append(d)
        var.append(s2)
    if not vals:
        return math.nan, math.nan
    return float(np.mean(vals)), float(math.sqrt(sum(var)) / len(vals))


def _mean_with_err(rows: Sequence[Mapping], key: str) -> tuple[float, float]:
    """Mean over ``rows`` of the finite ``key`` values and its error sqrt(Σ σ²)/n from ``{key}_err``.

    Rows without a finite value are skipped; a missing or non-finite error makes the result's error nan.
    """
    use = [r for r in rows if _finite(r.get(key))]
    if not use:
        return math.nan, math.nan
    errs = [r.get(f"{key}_err") for r in use]
    err = math.sqrt(sum(e**2 for e in errs)) / len(use) if all(_finite(e) for e in errs) else math.nan
    return float(np.mean([r[key] for r in use])), float(err)


def verdict(rows: Sequence[Mapping], train_T: Sequence[float], *,
            extras: Mapping[str, Mapping[str, object]] | None = None, reference: str = "MC") -> dict:
    """Per model and region of the test grid (:data:`adsorbstudy.analysis.tables.REGIONS`, split by :func:`adsorbstudy.analysis.tables.region_of` against the
    training temperatures ``train_T``): mean |Δe|, |Δ|m||, |ΔU4| (Binder cumulant), relative errors
    of C (scaled by the exact finite-size c) and χ (scaled by MC's χ), each with an error bar, mean W1
    of e (J per spin) and of |m| with their propagated bootstrap errors (``w1_e_err``, ``w1_m_err``),
    the sample count per temperature ``n``, and NFE and seconds per 1000 samples.

    ``extras`` adds per-model entries (η, the KL bound, seeds, ...).
    """
    mc = {round(r["T"], 6): r for r in rows if r["model"] == reference}
    lo, hi = min(train_T), max(train_T)
    out: dict = {"train_range": [lo, hi], "train_T": [float(t) for t in train_T], "reference": reference,
                 "models": {}}
    for model in dict.fromkeys(r["model"] for r in rows if r["model"] != reference):
        mrows = [r for r in rows if r["model"] == model]
        entry: dict = {}
        for region in REGIONS:
            sub = [r for r in mrows if region_of(r["T"], train_T) == region
                   or (region == "inside" and region_of(r["T"], train_T) != "outside")]
            if not sub:
                continue
            reg = {"n_T": len(sub)}
            # C is scaled by the exact finite-size c (noise-free); χ has no exact value, so by MC's χ
            for name, key, rel, scale in (("d_e", "e", False, None), ("d_m_abs", "m_abs", False, None),
                                          ("d_U4", "U4", False, None),
                                          ("rel_C", "C", True, "exact_c"), ("rel_chi", "chi", True, None)):
                reg[name], reg[f"{name}_err"] = _mean_abs_diff(sub, mc, key, rel, scale)
            for key in ("w1_e", "w1_m"):
                reg[key], reg[f"{key}_err"] = _mean_with_err(sub, key)
            entry[region] = reg
        entry["e_response"], entry["e_response_err"] = temperature_response(mrows, list(mc.values()))
        ns = {int(r["n"]) for r in mrows if _finite(r.get("n"))}
        entry["n"] = ns.pop() if len(ns) == 1 else None
        entry["nfe"] = mrows[0].get("nfe")
        entry["seconds_per_1000"] = mrows[0].get("seconds_per_1000")
        entry.update((extras or {}).get(model, {}))
        out["models"][model] = entry
    return out


def update_verdict(path: Path | str, key: str, entry: object) -> dict:
    """Add ``entry`` under ``key`` (one of :data:`LATER_KEYS`) to ``verdict.json`` (atomically, under a
    lock) and return the new verdict.

    The chapters other than the fidelity chapter (exact statistics, cost against L, images) add their
    summaries this way; the fidelity chapter keeps them when it rewrites the file (:func:`write_verdict`).
    A chapter that needs no trained Ising model (images) may finish before the fidelity chapter under
    ``study --jobs``: its entry then starts the file, and the fidelity chapter's write keeps it, so the
    verdict does not depend on the order the runs finish in."""
    import json

    from ..study.store import atomic_write_json, file_lock

    if key not in LATER_KEYS:
        raise ValueError(f"verdict: key {key!r} is not a later chapter's entry; allowed: {', '.join(LATER_KEYS)}")
    path = Path(path)
    with file_lock(path.with_name(path.name + ".lock")):
        v = (json.loads(path.read_text()) if path.exists() else {}) | {key: entry}
        atomic_write_json(path, v)
    return v


def write_verdict(path: Path | str, v: Mapping) -> dict:
    """Write the fidelity chapter's ``verdict.json``, keeping the entries of the later chapters
    (:data:`LATER_KEYS`) that the old file holds, under the lock of :func:`update_verdict`."""
    import json

    from ..study.store import atomic_write_json, file_lock

    path = Path(path)
    with file_lock(path.with_name(path.name + ".lock")):
        old = json.loads(path.read_text()) if path.exists() else {}
        v = dict(v) | {k: old[k] for k in LATER_KEYS if k in old}
        atomic_write_json(path, v)
    return v


#: verdict.json keys that chapters after the fidelity chapter write, kept when the fidelity chapter rewrites it
LATER_KEYS = ("exact", "scaling", "images", "layers")


def temperature_response(rows: Sequence[Mapping], reference: Sequence[Mapping]) -> tuple[float, float]:
    """How far a model's mean energy moves across the test grid, relative to the reference's.

    (max_T ⟨e⟩ − min_T ⟨e⟩) of ``rows`` divided by the same range of ``reference`` (rows with "T",
    "e", "e_err"). About 1 when the model's ⟨e⟩(T) spans the reference's range; near 0 when its
    frames hardly depend on T, the collapse of a conditional generator that mean errors alone do not
    reveal. The error propagates the per-temperature bootstrap errors of the four extreme points.
    """
    def span(rs):
        es = np.array([r["e"] for r in rs], float)
        errs = np.array([r.get("e_err", 0.0) for r in rs], float)
        hi, lo = int(np.argmax(es)), int(np.argmin(es))
        return es[hi] - es[lo], math.hypot(errs[hi], errs[lo])
    if len(rows) < 2 or len(reference) < 2:
        return math.nan, math.nan
    d, d_err = span(rows)
    d_ref, d_ref_err = span(reference)
    if not d_ref > 0:
        return math.nan, math.nan
    ratio = d / d_ref
    return float(ratio), float(math.hypot(d_err / d_ref, ratio * d_ref_err / d_ref))


def _or_none(x: float | None) -> float | None:
    """``x`` as a float, or None when it is missing or not finite (JSON has no nan)."""
    return float(x) if _finite(x) else None


CLAIM_METRICS = (("d_e", r"mean $\lvert\Delta e\rvert$ [J]"),
                 ("d_m_abs", r"mean $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$"),
                 ("w1_e", r"mean $W_1(e)$ [J]"))


#: The regions a comparison is split into.
CLAIM_REGIONS = ("seen", "unseen", "outside")

#: The declared primary claim of every decisive pair, fixed before any data: mean |Δe| at the unseen
#: temperatures (between the training temperatures, never trained on): interpolation, the task the
#: generators are trained for, and the energy, the observable every sampler must get right first.
PRIMARY = ("d_e", "unseen")


#: What a run may differ in from the other training seeds it is pooled with.
SEED_FIELDS = ("seed",)


def arm_of(spec: Mapping) -> str:
    """The model arm of a trained run's record (``results/<profile>/models/<name>.json``): its kind, with the
    DDPM's chain length appended (``ddpm-1000`` for seed 004's DDPM, ``ddpm-50`` for a 50-level one) and
    ``-cosine`` for the cosine schedule (``ddpm-50-cosine``: the matched DDPM on the adsorption generator's ᾱ),
    since DDPMs of different chains are different arms of the comparison."""
    kind = spec["kind"]
    if kind == "ddpm":
        hp = spec.get("hparams", {})
        cosine = "-cosine" if hp.get("schedule") == "cosine" else ""  # a different noise schedule is another arm
        return f"ddpm-{int(hp.get('n_steps', 1000))}{cosine}"
    return kind


def _pooled_signature(spec: Mapping) -> dict:
    """Everything about a run that must be equal for runs to be pooled as training seeds: the
    architecture, the training data and configuration (less the seed), and the sampler and sample count
    of its test-grid samples."""
    training = dict(spec.get("training", {}))
    config = {k: v for k, v in dict(training.pop("config", {})).items() if k not in SEED_FIELDS}
    return {"kind": spec.get("kind"), "L": spec.get("L"), "hparams": spec.get("hparams"), "training": training,
            "config": config, "sampler": spec.get("sampler"), "sample_steps": spec.get("sample_steps"),
            "n_samples_per_T": spec.get("n_samples_per_T"), "test_T": spec.get("test_T")}


def _first_difference(a, b, path: str = "") -> str | None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for k in sorted(set(a) | set(b), key=str):
            d = _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
            if d:
                return d
        return None
    return None if a == b else f"{path} ({a!r} against {b!r})"


def check_poolable(specs: Mapping[str, Mapping]) -> dict[str, list[str]]:
    """Group trained runs by arm (:func:`arm_of`) and refuse to pool runs that differ in anything but the seed.

    ``specs``: run name → its model record. Returns {arm: [run names]}. Raises ValueError naming the two
    runs and the first differing field (e.g. ``hparams.K``, ``config.steps``, ``n_samples_per_T``)."""
    groups: dict[str, list[str]] = {}
    for name, spec in specs.items():
        groups.setdefault(arm_of(spec), []).append(name)
    for arm, names in groups.items():
        ref = _pooled_signature(specs[names[0]])
        for other in names[1:]:
            d = _first_difference(ref, _pooled_signature(specs[other]))
            if d:
                raise ValueError(f"seeds: runs {names[0]!r} and {other!r} of arm {arm!r} cannot be pooled as training "
                                 f"seeds: they differ in {d}, not only in the seed")
        seeds = [specs[n].get("training", {}).get("config", {}).get("seed") for n in names]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: runs {names} of arm {arm!r} repeat a training seed ({seeds})")
    return groups


def per_temperature(rows: Sequence[Mapping], model: str, key: str, temps: Sequence[float],
                    reference: str = "MC") -> tuple[list[float], list[float]]:
    """A claim metric of one run at each of ``temps``: (values, standard errors). ``key`` is a
    ``CLAIM_METRICS`` key: ``d_e``/``d_m_abs`` are |model − reference| of ⟨e⟩ or ⟨|m|⟩ at that T (errors
    of both in quadrature), ``w1_e`` the run's own W1 distance of the energy distribution to the reference."""
    by_T = {round(r["T"], 6): r for r in rows if r["model"] == model}
    ref = {round(r["T"], 6): r for r in rows if r["model"] == reference}
    vals, errs = [], []
    for T in temps:
        r, m = by_T[round(T, 6)], ref[round(T, 6)]
        if key in ("d_e", "d_m_abs"):
            q = key[2:]
            vals.append(abs(r[q] - m[q]))
            errs.append(math.hypot(r.get(f"{q}_err") or 0.0, m.get(f"{q}_err") or 0.0))
        else:
            vals.append(r[key])
            errs.append(r.get(f"{key}_err") or 0.0)
    return vals, errs


def claims(rows: Sequence[Mapping], v: Mapping, pairs: Sequence[tuple[str, str]], train_T: Sequence[float], *,
           decisive: Sequence[tuple[str, str]] = (), primary: tuple[str, str] = PRIMARY,
           regions: Sequence[str] = CLAIM_REGIONS, alpha: float = 0.05) -> list[dict]:
    """The comparisons between model arms over training seeds (DESIGN §5, "Decision rule").

    ``rows``: the summary rows (``tables.summary_rows``) of every compared run and of the Monte Carlo
    reference; ``v``: the verdict of those rows (:func:`verdict`), whose model entries carry ``arm``; every
    run of an arm is one training seed. For every pair (a, b), region and metric the difference a − b is
    formed per temperature, pooled over the region's temperatures per seed, and given Welch's 95 %
    interval over the seeds (``adsorbstudy.analysis.decision.difference``). The pairs in ``decisive``
    make the declared family: one primary claim each, metric and region ``primary`` (fixed before the
    data), decided together with Holm's correction (``adsorbstudy.analysis.decision.family``): "better"
    only when the corrected interval excludes 0, else "not resolved with n seeds" (no equivalence margin
    is declared, so "no difference" is never said). Every other comparison is ``secondary``: shown with
    its uncorrected interval, never called better. Both sides must be scored on one sample count.
    """


    arm = (lambda e: e.get("arm") or e.get("kind"))
    out, family = [], []
    for ka, kb in pairs:
        ma = [m for m, e in v["models"].items() if arm(e) == ka]
        mb = [m for m, e in v["models"].items() if arm(e) == kb]
        if not ma or not mb:
            continue
        ns = {v["models"][m].get("n") for m in ma + mb}
        if len(ns) != 1 or None in ns:
            raise ValueError(f"n_samples: {ka} and {kb} must be scored on one sample count per temperature; "
                             f"got {sorted(map(str, ns))}")
        temps_of = {m: {round(r["T"], 6) for r in rows if r["model"] == m} for m in ma + mb}
        for region in regions:
            temps = sorted(T for T in set.intersection(*temps_of.values()) if region_of(T, train_T) == region)
            if not temps:
                continue
            for key, what in CLAIM_METRICS:
                a = [per_temperature(rows, m, key, temps) for m in ma]
                b = [per_temperature(rows, m, key, temps) for m in mb]
                d = decision.difference([x[0] for x in a], [x[0] for x in b], [x[1] for x in a], [x[1] for x in b])
                ra, rb = np.mean([x[0] for x in a], axis=1), np.mean([x[0] for x in b], axis=1)
                c = {"a": ka, "b": kb, "region": region, "key": key, "what": what, "n": next(iter(ns)),
                     "n_T": len(temps), "T": temps, "n_a": len(ma), "n_b": len(mb),
                     "mean_a": float(ra.mean()), "mean_b": float(rb.mean()),
                     "spread_a": float(ra.std(ddof=1)) if len(ma) > 1 else None,
                     "spread_b": float(rb.std(ddof=1)) if len(mb) > 1 else None,
                     "diff": _or_none(d["diff"]), "low": _or_none(d["low"]), "high": _or_none(d["high"]), "p": _or_none(d["p"]),
                     "dof": _or_none(d["dof"]), "per_T": [float(x) for x in np.atleast_1d(d["per_T"])],
                     "sampling_share_a": _or_none(d["sampling_share_a"]),
                     "sampling_share_b": _or_none(d["sampling_share_b"]),
                     "sampler_a": _kind_sampler([v["models"][m] for m in ma]),
                     "sampler_b": _kind_sampler([v["models"][m] for m in mb]),
                     "role": "secondary", "outcome": "secondary: interval shown, no claim"}
                if (ka, kb) in decisive and (key, region) == primary:
                    c["role"] = "primary"
                    family.append((c, d))
                out.append(c)
    if family:
        decided = decision.family([{"name": f"{c['a']} vs {c['b']}", "a": c["a"], "b": c["b"], "difference": d}
                                   for c, d in family], alpha)
        for (c, _), f in zip(family, decided):
            c.update(low=_or_none(f["low"]), high=_or_none(f["high"]), p_adj=f["p_adj"], alpha_step=f["alpha_step"],
                     family_size=f["family_size"], outcome=f["outcome"])
    return out


# --------------------------------------------------------------------------- training-budget curves
BUDGET_METRICS = (("d_e", "|Δe| [J]"), ("d_m_abs", "|Δ⟨|m|⟩|"), ("w1_e", "W1(e) [J]"))


def budget_curve(samples: Mapping[str, np.ndarray], reference: Mapping[float, np.ndarray]) -> dict:
    """Fidelity of one run along its training: per snapshot step, the mean over the budget temperatures
    of |⟨e⟩ − ⟨e⟩_ref| (J per spin), |⟨|m|⟩ − ⟨|m|⟩_ref| and W1 of the energy distributions (J per spin).

    ``samples``: the training chapter's ``budget/<run>.npz``, keys ``step=<step>_T=<T>`` → int8 (n, L, L);
    ``reference``: {T: MC configurations}, which must hold every budget temperature. Returns {"step": [...],
    "d_e": [...], "d_m_abs": [...], "w1_e": [...], "T": [...], "n": samples per temperature}."""
    from ..physics import lattice, observables

    table: dict[int, dict[float, np.ndarray]] = {}
    for key, cfgs in samples.items():
        step_part, t_part = key.split("_T=")
        table.setdefault(int(step_part.split("=")[1]), {})[float(t_part)] = np.asarray(cfgs)
    if not table:
        raise ValueError("samples: no snapshot samples (keys step=<step>_T=<T>)")
    temps = sorted(next(iter(table.values())))
    missing = [T for T in temps if T not in reference]
    if missing:
        raise ValueError(f"budget_T: the reference has no ensemble at {missing}; use test-grid temperatures")
    ref = {T: (lattice.energy(reference[T]), np.abs(lattice.magnetization(reference[T]))) for T in temps}
    out: dict = {"step": [], "d_e": [], "d_m_abs": [], "w1_e": [], "T": temps,
                 "n": int(next(iter(next(iter(table.values())).values())).shape[0])}
    for step in sorted(table):
        if sorted(table[step]) != temps:
            raise ValueError(f"samples: step {step} has temperatures {sorted(table[step])}, not {temps}")
        d_e, d_m, w = [], [], []
        for T in temps:
            e, m = lattice.energy(table[step][T]), np.abs(lattice.magnetization(table[step][T]))
            d_e.append(abs(e.mean() - ref[T][0].mean()))
            d_m.append(abs(m.mean() - ref[T][1].mean()))
            w.append(observables.w1(e, ref[T][0]))
        out["step"].append(step)
        for k, vals in (("d_e", d_e), ("d_m_abs", d_m), ("w1_e", w)):
            out[k].append(float(np.mean(vals)))
    return out


def log_slope(steps, y) -> float:
    """The least-squares slope of ``y`` against ln(``steps``): the change of y per e-fold of optimizer
    steps (y's units). ``steps`` > 0, at least two distinct."""
    x = np.log(np.asarray(steps, dtype=float))
    y = np.asarray(y, dtype=float)
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


def budget_trend(curves_a: Sequence[Mapping], curves_b: Sequence[Mapping], key: str, name_a: str,
                 name_b: str, level: float = 0.95) -> dict:
    """How the gap in ``key`` between two arms moves with the training budget, with intervals.

    ``curves_a``, ``curves_b``: :func:`budget_curve` results, one per training seed, over the snapshot
    steps they all share (≥ 2). Each seed's curve is regressed on ln(optimizer steps) over every shared
    snapshot (:func:`log_slope`); the trend of the gap is the difference of the arms' mean slopes, with
    Welch's ``level`` interval over the seeds (``adsorbstudy.analysis.decision.difference``, which
    carries each seed's own noise in its spread). The gap at the last shared snapshot gets its Welch
    interval too. Outcome, descriptive (secondary, never Holm-corrected): ``narrows`` or ``widens``
    when the slope's interval excludes 0 and moves the gap toward or away from 0 (judged against the sign
    of the last gap), ``no trend resolved`` otherwise, ``no claim`` when an arm has one seed.
    Returns the steps, ``gap`` (difference of the seed means at every step), ``slope`` (per e-fold of
    steps) with ``slope_low``/``slope_high``, ``gap_last`` with ``gap_last_low``/``gap_last_high``,
    ``outcome``, ``n_a``, ``n_b``."""
    steps = sorted(set.intersection(*[set(c["step"]) for c in [*curves_a, *curves_b]]))
    if len(steps) < 2:
        raise ValueError(f"curves: {name_a} and {name_b} share fewer than two snapshot steps")

    def table(curves):
        return np.array([[c[key][c["step"].index(s)] for s in steps] for c in curves], float)

    ya, yb = table(curves_a), table(curves_b)
    slope = decision.difference(np.array([log_slope(steps, y) for y in ya]),
                                np.array([log_slope(steps, y) for y in yb]), level=level)
    last = decision.difference(ya[:, -1], yb[:, -1], level=level)
    if not (np.isfinite(slope["low"]) and np.isfinite(slope["high"])):
        outcome = "no claim"
    elif slope["low"] > 0 or slope["high"] < 0:
        outcome = "narrows" if np.sign(slope["diff"]) != np.sign(last["diff"]) else "widens"
    else:
        outcome = "no trend resolved"
    return {"a": name_a, "b": name_b, "key": key, "steps": steps, "first_step": steps[0], "last_step": steps[-1],
            "gap": (ya.mean(0) - yb.mean(0)).tolist(), "slope": slope["diff"], "slope_low": _or_none(slope["low"]),
            "slope_high": _or_none(slope["high"]), "gap_last": last["diff"], "gap_last_low": _or_none(last["low"]),
            "gap_last_high": _or_none(last["high"]), "level": level, "outcome": outcome, "n_a": len(curves_a), "n_b": len(curves_b)}


def sampler_name(raw: str | None) -> str:
    """The book's name of a sampler as recorded by the training chapter: ``ddim-50`` → ``DDIM-50``,
    ``ancestral-1000`` → ``ancestral DDPM-1000``, ``native`` (or missing) → ``native``."""
    if raw in (None, "", "native"):
        return "native"
    if raw.startswith("ddim-"):
        return "DDIM-" + raw[5:]
    if raw.startswith("ancestral-"):
        return "ancestral DDPM-" + raw[10:]
    return raw


def _kind_sampler(entries: Sequence[Mapping]) -> str:
    """The samplers (with NFE) of the seeds of one kind, e.g. ``DDIM-50 sampler, NFE 50``; distinct ones
    joined by '; '."""
    names = []
    for e in entries:
        nfe = e.get("nfe")
        names.append(sampler_name(e.get("sampler")) + " sampler" + (f", NFE {nfe:.0f}" if _finite(nfe) else ""))
    return "; ".join(dict.fromkeys(names))
