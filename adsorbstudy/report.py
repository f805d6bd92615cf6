"""The study's machine-readable results and the text the book renders from them.

- ``results/<profile>/summary.csv``: one row per (model, T) (``SUMMARY_COLUMNS``).
- ``results/<profile>/verdict.json``: per model, inside and outside the training
  range, the errors against Monte Carlo with error bars (``verdict``).
- ``book/generated/verdict.md``: the table and sentences of the results page,
  rendered from ``verdict.json`` by ``verdict_markdown`` (no number typed by hand).

Error bars of averaged differences propagate the per-temperature bootstrap errors
of model and Monte Carlo in quadrature: for a mean over n temperatures of
|x_model − x_MC|, the error is sqrt(Σ σ²)/n with σ² = σ_model² + σ_MC². The W1 distances carry
per-temperature bootstrap errors that resample both ensembles (``metrics.w1_e_m_bootstrap``);
their means over temperatures combine them the same way, sqrt(Σ σ²)/n.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .store import atomic_write_text

SUMMARY_COLUMNS = ["model", "T", "n", "e", "e_err", "m_abs", "m_abs_err", "C", "C_err", "chi", "chi_err",
                   "w1_e", "w1_m", "nfe", "seconds_per_1000", "exact_e", "exact_c", "w1_e_err", "w1_m_err",
                   "U4", "U4_err", "region"]

#: The parts of the test grid a result is split into: ``seen`` (a training temperature), ``unseen``
#: (inside the training range, between training temperatures: interpolation) and ``outside``
#: (extrapolation); ``inside`` is seen and unseen together.
REGIONS = ("inside", "seen", "unseen", "outside")
CLAIM_REGIONS_TABLE = ("seen", "unseen", "outside")


def region_of(T: float, train_T: Sequence[float]) -> str:
    """``seen``, ``unseen`` or ``outside`` for a test temperature T (J/k_B) and the training temperatures.

    Temperatures within 1e-6 of a training temperature are seen; within 1e-9 of the range's ends, inside."""
    if not len(train_T):
        raise ValueError("train_T: need at least one training temperature")
    if any(abs(T - t) <= 1e-6 for t in train_T):
        return "seen"
    return "unseen" if min(train_T) - 1e-9 <= T <= max(train_T) + 1e-9 else "outside"


def write_summary_csv(path: Path | str, rows: Iterable[Mapping[str, object]],
                      columns: Sequence[str] = SUMMARY_COLUMNS) -> Path:
    """Write the summary table (or another table with ``columns``) atomically; missing values are written empty."""
    return write_csv(path, rows, columns)


def write_csv(path: Path | str, rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> Path:
    """Write rows with exactly ``columns`` atomically; missing values (None, nan) are written empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="raise", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


def read_csv(path: Path | str, text_columns: Sequence[str]) -> list[dict]:
    """Rows of a results table: ``text_columns`` kept as strings, every other cell a float (empty → nan)."""
    with open(path, newline="") as f:
        return [{k: (v if k in text_columns else (float(v) if v != "" else math.nan)) for k, v in r.items()}
                for r in csv.DictReader(f)]


def read_summary_csv(path: Path | str) -> list[dict]:
    """Rows of ``summary.csv`` with numbers parsed (empty cells → nan)."""
    return read_csv(path, ("model", "region"))


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(x))


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
    """Per model and region of the test grid (:data:`REGIONS`, split by :func:`region_of` against the
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

    from .store import atomic_write_json, file_lock

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

    from .store import atomic_write_json, file_lock

    path = Path(path)
    with file_lock(path.with_name(path.name + ".lock")):
        old = json.loads(path.read_text()) if path.exists() else {}
        v = dict(v) | {k: old[k] for k in LATER_KEYS if k in old}
        atomic_write_json(path, v)
    return v


#: verdict.json keys that chapters after the fidelity chapter write, kept when the fidelity chapter rewrites it
LATER_KEYS = ("exact", "scaling", "images")


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


def fmt_pm(value: float, err: float | None = None) -> str:
    """``value ± err`` with two significant digits on the error and matching decimals."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if err is None or not np.isfinite(err) or err <= 0:
        return f"{value:.3g}"
    digits = max(0, 1 - int(math.floor(math.log10(err))))
    return f"{value:.{digits}f} ± {err:.{digits}f}"


def verdict_table(v: Mapping, regions: Sequence[str] = CLAIM_REGIONS_TABLE) -> str:
    """A markdown table of ``verdict.json``: one row per model and region (seen, unseen, outside)."""
    head = (r"| model | T range | $\lvert\Delta e\rvert$ [J] | $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$ "
            r"| $\lvert\Delta U_4\rvert$ | rel. $C$ | rel. $\chi$ | $W_1(e)$ | $W_1(\lvert m\rvert)$ | n | NFE | s/1000 |")
    lines = [head, "|" + "|".join(["---"] * 12) + "|"]
    for model, entry in v["models"].items():
        for region in regions:
            reg = entry.get(region)
            if reg is None:
                continue
            label = model + (f" [{sampler_name(entry['sampler'])}]" if entry.get("sampler") not in (None, "native") else "")
            lines.append("| " + " | ".join([
                label, f"{region} ({reg['n_T']})",
                fmt_pm(reg["d_e"], reg["d_e_err"]), fmt_pm(reg["d_m_abs"], reg["d_m_abs_err"]),
                fmt_pm(reg.get("d_U4", math.nan), reg.get("d_U4_err")),
                fmt_pm(reg["rel_C"], reg["rel_C_err"]), fmt_pm(reg["rel_chi"], reg["rel_chi_err"]),
                fmt_pm(reg["w1_e"], reg.get("w1_e_err")), fmt_pm(reg["w1_m"], reg.get("w1_m_err")),
                f"{entry['n']}" if entry.get("n") else "–",
                f"{entry['nfe']:.0f}" if _finite(entry.get("nfe")) else "–",
                fmt_pm(entry["seconds_per_1000"]) if _finite(entry.get("seconds_per_1000")) else "–",
            ]) + " |")
    return "\n".join(lines)


def compare(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, what: str,
            lower_is_better: bool = True, a_err: float | None = None, b_err: float | None = None) -> dict:
    """Compare a metric between two model families over training seeds.

    With several seeds, the difference of the seed means counts only when it exceeds the
    seed-to-seed spread (the larger of the two sample standard deviations); otherwise the outcome
    is "no difference". With one seed there is no spread: the outcome says so, and reports how
    many statistical error bars (``a_err``, ``b_err``, combined in quadrature) apart the values are.

    Besides the outcome, the result holds each side's mean, its number of seeds (``n_a``, ``n_b``),
    its seed-to-seed sample standard deviation (``spread_a``, ``spread_b``; None with one seed) and
    its statistical error (``err_a``, ``err_b``; as given).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    ma, mb = float(np.mean(a)), float(np.mean(b))
    spread = float(max(np.std(a, ddof=1) if a.size > 1 else 0.0, np.std(b, ddof=1) if b.size > 1 else 0.0))
    n_seeds = int(min(a.size, b.size))
    diff = ma - mb
    better = name_a if (diff < 0) == lower_is_better else name_b
    if n_seeds < 2:
        sig = math.hypot(a_err or 0.0, b_err or 0.0)
        apart = f"{abs(diff) / sig:.1f} statistical σ apart" if sig > 0 else "no error bar available"
        outcome = (f"one training seed only, so the seed-to-seed spread is unknown and no claim is made "
                   f"({better} is lower here, {apart})")
    elif abs(diff) <= spread:
        outcome = "no difference (smaller than the seed-to-seed spread)"
    else:
        outcome = f"{better} is better (by more than the seed-to-seed spread)"
    sd = (lambda x: float(np.std(x, ddof=1)) if x.size > 1 else None)
    return {"what": what, "a": name_a, "b": name_b, "mean_a": ma, "mean_b": mb, "spread": spread,
            "n_seeds": n_seeds, "outcome": outcome, "n_a": int(a.size), "n_b": int(b.size),
            "spread_a": sd(a), "spread_b": sd(b), "err_a": _or_none(a_err), "err_b": _or_none(b_err)}


def _or_none(x: float | None) -> float | None:
    """``x`` as a float, or None when it is missing or not finite (JSON has no nan)."""
    return float(x) if _finite(x) else None


def temperature_key(T: float) -> str:
    """The key of one temperature in ``samples/<model>.npz``: ``T=2.30``."""
    return f"T={T:.2f}"


def load_samples(path: Path | str) -> dict[float, np.ndarray]:
    """``samples/<model>.npz`` as {T: int8 (n, L, L)}."""
    with np.load(path, allow_pickle=False) as z:
        return {float(k.split("=", 1)[1]): z[k] for k in z.files if k.startswith("T=")}


def summary_rows(model: str, ensembles: Mapping[float, np.ndarray], reference: Mapping[float, np.ndarray],
                 L: int, *, n_boot: int = 200, seed: int = 0, nfe: float | None = None,
                 seconds_per_1000: float | None = None, stats_cache: dict | None = None,
                 train_T: Sequence[float] | None = None) -> list[dict]:
    """One ``summary.csv`` row per temperature of ``ensembles``: bootstrap statistics, W1 distances of
    the e (J per spin) and |m| distributions to the ``reference`` ensemble at the same T with bootstrap
    errors that resample both ensembles (``w1_e_err``, ``w1_m_err``; ``n_boot`` resamples from
    ``seed``), the Binder cumulant ``U4`` of the signed m with its bootstrap error, the exact
    finite-size e and c at this L, and the ``region`` of T (:func:`region_of`) when the training
    temperatures ``train_T`` are given. ``stats_cache`` (T → stats) skips recomputing known statistics.
    """
    from . import exact, metrics

    rows = []
    for T in sorted(ensembles):
        configs = np.asarray(ensembles[T])
        if configs.ndim != 3 or configs.shape[1:] != (L, L):
            raise ValueError(f"ensembles[{T}]: expected shape (n, {L}, {L}); got {configs.shape}")
        st = (stats_cache or {}).get(T) or metrics.thermo_stats(configs, T, n_boot=n_boot, seed=seed)
        ref = reference.get(T)
        w = (metrics.w1_e_m_bootstrap(configs, ref, n_boot=n_boot, seed=seed) if ref is not None
             else dict.fromkeys(("w1_e", "w1_e_err", "w1_m", "w1_m_err"), math.nan))
        e_x, c_x = exact.finite_size(L, np.array([T]))
        rows.append({"model": model, "T": float(T), "n": int(configs.shape[0]),
                     **{k: float(st[k]) for k in ("e", "e_err", "m_abs", "m_abs_err", "C", "C_err",
                                                  "chi", "chi_err", "U4", "U4_err")},
                     "region": region_of(float(T), train_T) if train_T is not None else None,
                     **{k: float(w[k]) for k in ("w1_e", "w1_e_err", "w1_m", "w1_m_err")},
                     "nfe": nfe, "seconds_per_1000": seconds_per_1000,
                     "exact_e": float(np.ravel(e_x)[0]), "exact_c": float(np.ravel(c_x)[0])})
    return rows


CLAIM_METRICS = (("d_e", r"mean $\lvert\Delta e\rvert$ [J]"),
                 ("d_m_abs", r"mean $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$"),
                 ("w1_e", r"mean $W_1(e)$ [J]"))
#: The regions a decisive comparison is split into.
CLAIM_REGIONS = ("seen", "unseen", "outside")
#: What a run may differ in from the other training seeds it is pooled with.
SEED_FIELDS = ("seed",)


def arm_of(spec: Mapping) -> str:
    """The model arm of a trained run's record (``results/<profile>/models/<name>.json``): its kind, with the
    DDPM's chain length appended (``ddpm-1000`` for seed 004's DDPM, ``ddpm-50`` for the matched one),
    since the two DDPMs are different arms of the comparison."""
    kind = spec["kind"]
    if kind == "ddpm":
        return f"ddpm-{int(spec.get('hparams', {}).get('n_steps', 1000))}"
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


def claims(v: Mapping, pairs: Sequence[tuple[str, str]], regions: Sequence[str] = CLAIM_REGIONS) -> list[dict]:
    """The decisive comparisons between model arms (e.g. ("adsorption", "ddpm-50")), over training seeds,
    per region of the test grid.

    Each model entry of ``v`` must carry ``arm`` (or ``kind``); every model of an arm is one training
    seed. Both sides must have been scored on the same number of samples per temperature (``n``), else
    ValueError. Each comparison names the sampler of each side (``sampler_a``, ``sampler_b``) and its
    ``region``.
    """
    out = []
    arm = (lambda e: e.get("arm") or e.get("kind"))
    for ka, kb in pairs:
        ma = [e for e in v["models"].values() if arm(e) == ka]
        mb = [e for e in v["models"].values() if arm(e) == kb]
        if not ma or not mb:
            continue
        ns = {e.get("n") for e in ma + mb}
        if len(ns) != 1 or None in ns:
            raise ValueError(f"n_samples: {ka} and {kb} must be scored on one sample count per temperature; got {sorted(map(str, ns))}")
        for region in regions:
            if not all(region in e for e in ma + mb):
                continue
            for key, what in CLAIM_METRICS:
                a = [e[region][key] for e in ma]
                b = [e[region][key] for e in mb]
                err = (lambda es: es[0][region].get(f"{key}_err") if len(es) == 1 else None)
                c = compare(a, b, ka, kb, what, a_err=err(ma), b_err=err(mb))
                out.append(c | {"region": region, "key": key, "n": next(iter(ns)),
                                "n_T": ma[0][region]["n_T"],
                                "sampler_a": _kind_sampler(ma), "sampler_b": _kind_sampler(mb)})
    return out


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


def claim_line(c: Mapping) -> str:
    """One decisive comparison as a markdown bullet: each side's mean with the sampler of its test-grid
    samples and its error (the seed-to-seed standard deviation with several seeds, the statistical
    error with one), then the outcome."""
    several = c["n_seeds"] > 1

    def side(x: str) -> str:
        err = c.get(f"spread_{x}" if several else f"err_{x}")
        return f"{c[x]} ({c.get(f'sampler_{x}') or 'sampler not recorded'}) {fmt_pm(c[f'mean_{x}'], err)}"

    counts = f"{c['n_a']} training seeds each" if c["n_a"] == c["n_b"] else f"{c['n_a']} and {c['n_b']} training seeds"
    what_err = (f"mean ± seed-to-seed standard deviation over {counts}" if several
                else "± statistical error, one training seed")
    where = f" {REGION_TEXT[c['region']]}" if c.get("region") else ""
    return (f"- **{c['a']} vs {c['b']}**, {c['what']}{where}: {side('a')} vs {side('b')} ({what_err}): "
            f"{c['outcome']}.")


REGION_TEXT = {"inside": "inside the training range", "seen": "at the training temperatures (seen)",
               "unseen": "between the training temperatures (unseen, inside the range)",
               "outside": "outside the training range (extrapolation)"}


def _short_outcome(c: Mapping) -> str:
    """``no difference``, ``<arm> better`` or ``no claim (one seed)``, from :func:`compare`'s outcome."""
    if c["n_seeds"] < 2:
        return "no claim (one seed)"
    if c["outcome"].startswith("no difference"):
        return "no difference"
    return f"**{c['outcome'].split(' is better')[0]} better**"


def claims_markdown(cs: Sequence[Mapping]) -> str:
    """The decisive comparisons as one table per pair of arms (and scope): a row per metric, a column per
    region, each cell "mean ± spread vs mean ± spread: outcome", and a sentence that names both models,
    their samplers, the seed counts and the sample count."""
    groups: dict[tuple, list[Mapping]] = {}
    for c in cs:
        groups.setdefault((c["a"], c["b"], c.get("scope", "")), []).append(c)
    out = []
    for (a, b, scope), rows in groups.items():
        c0 = rows[0]
        several = c0["n_seeds"] > 1
        counts = (f"{c0['n_a']} training seeds each" if c0["n_a"] == c0["n_b"]
                  else f"{c0['n_a']} and {c0['n_b']} training seeds")
        spread = (f"mean ± seed-to-seed standard deviation over {counts}" if several
                  else "± statistical error, one training seed")
        out += [f"**{a}** ({c0.get('sampler_a')}) **vs {b}** ({c0.get('sampler_b')})"
                + (f", {scope}" if scope else "") + f": {spread}, {c0['n']} samples per temperature for every model "
                "and seed. A difference smaller than the seed-to-seed spread is no difference.", ""]
        regions = list(dict.fromkeys(c["region"] for c in rows))
        n_T = {c["region"]: c["n_T"] for c in rows}
        out.append("| metric | " + " | ".join(f"{r} ({n_T[r]} T)" for r in regions) + " |")
        out.append("|---" * (len(regions) + 1) + "|")
        for key in dict.fromkeys(c["key"] for c in rows):
            cells = []
            for r in regions:
                c = next(x for x in rows if x["key"] == key and x["region"] == r)
                err = (lambda x: c.get(f"spread_{x}" if several else f"err_{x}"))
                cells.append(f"{fmt_pm(c['mean_a'], err('a'))} vs {fmt_pm(c['mean_b'], err('b'))}: {_short_outcome(c)}")
            out.append(f"| {next(x['what'] for x in rows if x['key'] == key)} | "
                       + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def training_seeds(profile) -> dict[str, int]:
    """Training seeds per model kind that a profile's fidelity run compares: {kind: count}.

    ``profile``: a validated :class:`adsorbstudy.profile.Profile`. Counts the runs named in the
    ``05-fidelity`` run's ``models`` and ``seed_models`` (the notebook's defaults where the profile
    gives none; ``fine_models`` are a different training grid and not counted), each mapped to its
    kind through the ``04-train`` run that trains it. Empty when the profile has no fidelity run.
    """
    from .profile import notebook_params, notebook_path

    fid = next((r for r in profile.runs if r.notebook == "05-fidelity"), None)
    if fid is None:
        return {}
    spec = notebook_params(notebook_path("05-fidelity"))
    names = [*fid.parameters.get("models", spec["models"].default),
             *fid.parameters.get("seed_models", spec["seed_models"].default)]
    kind_of = {(r.parameters.get("name") or r.parameters["model"]): r.parameters["model"]
               for r in profile.runs if r.notebook == "04-train" and "model" in r.parameters}
    out: dict[str, int] = {}
    for n in names:
        if n not in kind_of:
            raise ValueError(f"profile {profile.name}: 05-fidelity compares {n!r}, which no 04-train run trains")
        out[kind_of[n]] = out.get(kind_of[n], 0) + 1
    return out


def _seed_sentences(v: Mapping) -> list[str]:
    """The paragraph on training seeds: per compared kind, from the claims; the paper profile's counts
    from ``v['paper_seeds']`` (written by the fidelity chapter from ``params/paper.yaml``) when present."""
    seeds: dict[str, int] = {}
    for c in v.get("claims", []):
        seeds[c["a"]], seeds[c["b"]] = c.get("n_a", c["n_seeds"]), c.get("n_b", c["n_seeds"])
    n_seeds = min(seeds.values(), default=0)
    paper = {k: n for k, n in (v.get("paper_seeds") or {}).items() if k in seeds}
    paper_text = (" The paper profile (`params/paper.yaml`) trains " + ", ".join(f"{n} seeds of {k}" for k, n in paper.items())
                  + "." if paper and v.get("profile") != "paper" else "")
    if n_seeds > 1:
        return [f"Training seeds per model kind in the decisive comparisons: "
                + ", ".join(f"{k} {n}" for k, n in seeds.items()) + ". A difference smaller than the "
                "seed-to-seed spread is reported as no difference." + paper_text]
    return ["**This profile trains each model with one seed only.** The comparisons below therefore cannot "
            "separate a real difference from training-seed luck; they report which value is lower and by how "
            "many statistical error bars, and make no claim." + paper_text]


def verdict_markdown(v: Mapping, figures: Sequence[tuple[str, str]] = ()) -> str:
    """The results page's body, rendered from ``verdict.json``: context, the claims, the table, figures.

    ``figures``: (path relative to ``book/``, caption) pairs.
    """
    lo, hi = v["train_range"]
    parts = [
        f"These numbers are rendered from `results/{v['profile']}/verdict.json` (profile `{v['profile']}`, "
        f"L = {v['L']}, {v['n_test']} Monte Carlo test configurations per temperature, training range "
        f"{lo:g} ≤ T ≤ {hi:g}). Errors in the table are one standard error (bootstrap over configurations, propagated "
        f"in quadrature over temperatures). Each model is named with the sampler of its test-grid samples: "
        f"native is the model's own generative pass (the adsorption generator's layers, the GAN's single "
        f"forward pass), DDIM-k the DDIM sampler of the DDPM with k steps, ancestral DDPM-k "
        f"its ancestral chain of k steps.",
        "",
        *_seed_sentences(v),
        "",
        "## The decisive comparisons",
        "",
    ]
    parts += [claims_markdown(v.get("claims", []))]
    if v.get("budget"):
        parts += ["## Does the gap depend on the training budget?", "", budget_markdown(v["budget"]), ""]
    eta = v.get("eta_mc")
    parts += ["", "## Summary table", "", verdict_table(v), "", TABLE_NOTE, ""]
    if eta:
        etas = ", ".join(f"{m} {fmt_pm(e['eta'], e.get('eta_err'))}" for m, e in v["models"].items()
                         if e.get("eta") is not None and np.isfinite(e["eta"]))
        parts += [f"Correlation exponent $\\eta$ at $T = {v.get('T_eta', float('nan')):.4f}$ (fit of "
                  r"$G(r) = A\, r^{-\eta} e^{-r/\xi}$, " f"bootstrap errors): Monte Carlo {fmt_pm(eta['eta'], eta.get('eta_err'))}; "
                  f"{etas}. The exact infinite-lattice value at $T_c$ is 1/4; at $L = {v['L']}$ the Monte Carlo value "
                  "at the same L is the fair reference.", ""]
    resp = [(m, e) for m, e in v["models"].items() if e.get("e_response") is not None and np.isfinite(e["e_response"])]
    if resp:
        parts += [r"Temperature response: the range of $\langle e\rangle$ over the test grid divided by "
                  "Monte Carlo's (1 when a model's energy spans MC's range; near 0 when its frames hardly "
                  "depend on $T$, a collapsed conditional generator): "
                  + "; ".join(f"{m} {fmt_pm(e['e_response'], e.get('e_response_err'))}" for m, e in resp) + ".", ""]
    kl = [(m, e) for m, e in v["models"].items() if e.get("kl_bound_inside") is not None]
    if kl:
        parts += [KL_TEXT + " per spin inside the training range (nats; the "
                  "uninformed Bern(½) model scores "
                  f"{fmt_pm(v['kl_uniform_inside'])} there): " if v.get("kl_uniform_inside") is not None else
                  KL_TEXT + " per spin inside the training range (nats): "]
        parts[-1] += "; ".join(f"{m} {fmt_pm(e['kl_bound_inside'], e.get('kl_bound_inside_err'))}"
                               for m, e in kl) + "."
        parts.append("")
    nc = [(m, e) for m, e in v["models"].items() if e.get("pixel_solves")]
    if nc:
        # the tolerance is each model's own (its results file), never a number typed here
        parts += [r"Eq. 6 solves that did not reach the model's solver tolerance "
                  r"($\lvert\text{residual}\rvert \le \mathrm{tol}$, logit units) while sampling the test grid: "
                  + "; ".join(f"{m} {int(e.get('nonconverged') or 0)} of {int(e['pixel_solves']):,}"
                              + (f" (tol = {e['tol']:.0e})" if e.get("tol") is not None else "") for m, e in nc)
                  + ".", ""]
    for path, caption in figures:
        parts += [f"```{{figure}} {path}", f":width: 100%", "", caption, "```", ""]
    return "\n".join(parts)


KL_TEXT = r"Upper bound on $D_\mathrm{KL}(p_\mathrm{Boltzmann}\,\Vert\,p_\theta)$"

TABLE_NOTE = (r"T range: seen = the training temperatures, unseen = test temperatures between them (inside the "
              r"training range, never trained on), outside = beyond the training range; their number in brackets. "
              r"$\lvert\Delta e\rvert$, $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$, $\lvert\Delta U_4\rvert$: mean over those temperatures "
              r"of the absolute difference to the Monte Carlo test ensembles ($U_4 = 1 - \langle m^4\rangle/3\langle m^2\rangle^2$, "
              r"the Binder cumulant of the signed $m$); n: samples per temperature; rel. $C$: "
              r"mean $\lvert C - C_\mathrm{MC}\rvert / c_\mathrm{exact}$; rel. $\chi$: mean "
              r"$\lvert\chi - \chi_\mathrm{MC}\rvert / \chi_\mathrm{MC}$; $W_1$: mean Wasserstein-1 "
              r"distance of the $e$ and $\lvert m\rvert$ distributions (error: bootstrap resampling both ensembles; W1 of two finite samples is positive even for one distribution, so compare with the MC-independent row); the sampler is in brackets after the "
              "model; s/1000: wall seconds per 1000 samples while sampling the test grid in the training chapter "
              "(the cost chapter re-times every sampler side by side). The row MC-independent is a second, "
              "independent Monte Carlo ensemble of the models' sample size: the floor that finite samples set "
              "on every column.")


# --------------------------------------------------------------------------- training-budget curves
BUDGET_METRICS = (("d_e", "|Δe| [J]"), ("d_m_abs", "|Δ⟨|m|⟩|"), ("w1_e", "W1(e) [J]"))


def budget_curve(samples: Mapping[str, np.ndarray], reference: Mapping[float, np.ndarray]) -> dict:
    """Fidelity of one run along its training: per snapshot step, the mean over the budget temperatures
    of |⟨e⟩ − ⟨e⟩_ref| (J per spin), |⟨|m|⟩ − ⟨|m|⟩_ref| and W1 of the energy distributions (J per spin).

    ``samples``: the training chapter's ``budget/<run>.npz``, keys ``step=<step>_T=<T>`` → int8 (n, L, L);
    ``reference``: {T: MC configurations}, which must hold every budget temperature. Returns {"step": [...],
    "d_e": [...], "d_m_abs": [...], "w1_e": [...], "T": [...], "n": samples per temperature}."""
    from . import ising, metrics

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
    ref = {T: (ising.energy(reference[T]), np.abs(ising.magnetization(reference[T]))) for T in temps}
    out: dict = {"step": [], "d_e": [], "d_m_abs": [], "w1_e": [], "T": temps,
                 "n": int(next(iter(next(iter(table.values())).values())).shape[0])}
    for step in sorted(table):
        if sorted(table[step]) != temps:
            raise ValueError(f"samples: step {step} has temperatures {sorted(table[step])}, not {temps}")
        d_e, d_m, w = [], [], []
        for T in temps:
            e, m = ising.energy(table[step][T]), np.abs(ising.magnetization(table[step][T]))
            d_e.append(abs(e.mean() - ref[T][0].mean()))
            d_m.append(abs(m.mean() - ref[T][1].mean()))
            w.append(metrics.w1(e, ref[T][0]))
        out["step"].append(step)
        for k, vals in (("d_e", d_e), ("d_m_abs", d_m), ("w1_e", w)):
            out[k].append(float(np.mean(vals)))
    return out


def budget_trend(curves_a: Sequence[Mapping], curves_b: Sequence[Mapping], key: str, name_a: str,
                 name_b: str) -> dict:
    """Whether the gap in ``key`` between two arms closes, holds or grows with the training budget.

    ``curves_a``, ``curves_b``: :func:`budget_curve` results, one per training seed. The gap is the
    difference of the seed means, mean_a − mean_b, at the first and at the last snapshot step both arms
    share; it counts only where it exceeds the seed-to-seed spread there (the larger sample standard
    deviation of the two arms, as in :func:`compare`). Outcome: ``closes`` (a gap at the first step,
    none at the last), ``opens`` (the reverse), ``reverses`` (gaps of opposite sign), ``grows`` /
    ``narrows`` (a gap at both ends whose size changes by more than the larger spread), ``holds``, or
    ``no gap`` at either end. Needs at least two seeds per arm, else the outcome is ``no claim``."""
    steps = sorted(set.intersection(*[set(c["step"]) for c in [*curves_a, *curves_b]]))
    if len(steps) < 2:
        raise ValueError(f"curves: {name_a} and {name_b} share fewer than two snapshot steps")

    def at(curves, step):
        return np.array([c[key][c["step"].index(step)] for c in curves], float)

    ends = []
    for step in (steps[0], steps[-1]):
        a, b = at(curves_a, step), at(curves_b, step)
        spread = max(np.std(a, ddof=1) if a.size > 1 else np.nan, np.std(b, ddof=1) if b.size > 1 else np.nan)
        ends.append((float(a.mean() - b.mean()), float(spread)))
    (g0, s0), (g1, s1) = ends
    if not (np.isfinite(s0) and np.isfinite(s1)):
        outcome = "no claim"
    else:
        sig0, sig1 = abs(g0) > s0, abs(g1) > s1
        if sig0 and sig1 and np.sign(g0) != np.sign(g1):
            outcome = "reverses"
        elif sig0 and sig1:
            change = abs(g1) - abs(g0)
            outcome = "grows" if change > max(s0, s1) else "narrows" if -change > max(s0, s1) else "holds"
        elif sig0:
            outcome = "closes"
        elif sig1:
            outcome = "opens"
        else:
            outcome = "no gap"
    return {"a": name_a, "b": name_b, "key": key, "first_step": steps[0], "last_step": steps[-1],
            "gap_first": g0, "spread_first": s0, "gap_last": g1, "spread_last": s1, "outcome": outcome,
            "n_a": len(curves_a), "n_b": len(curves_b)}


_TREND_TEXT = {"closes": "the gap closes", "opens": "a gap opens", "reverses": "the gap reverses its sign",
               "grows": "the gap grows", "narrows": "the gap narrows but stays", "holds": "the gap holds",
               "no gap": "there is no gap at either end", "no claim": "one seed only, no claim"}


def budget_markdown(b: Mapping) -> str:
    """Sentences on the training-budget curves, from ``verdict.json``'s ``budget`` entry."""
    names = dict(BUDGET_METRICS)
    lines = [f"Fidelity was measured at training snapshots on {len(b['T'])} test temperatures "
             f"(T = {', '.join(f'{t:g}' for t in b['T'])}; {b['n']} samples per temperature and snapshot). "
             "Gap = difference of the seed means (first arm minus second); it counts where it exceeds the "
             "seed-to-seed spread at that step.", ""]
    for t in b["trends"]:
        lines.append(f"- **{t['a']} vs {t['b']}**, {names.get(t['key'], t['key'])}: gap "
                     f"{fmt_pm(t['gap_first'], t['spread_first'])} at step {t['first_step']}, "
                     f"{fmt_pm(t['gap_last'], t['spread_last'])} at step {t['last_step']}: "
                     f"{_TREND_TEXT[t['outcome']]} ({t['n_a']} and {t['n_b']} seeds).")
    return "\n".join(lines)
