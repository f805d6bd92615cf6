"""The study's machine-readable results and the text the book renders from them.

- ``results/<profile>/summary.csv``: one row per (model, T) (``SUMMARY_COLUMNS``).
- ``results/<profile>/verdict.json``: per model, inside and outside the training
  range, the errors against Monte Carlo with error bars (``verdict``).
- ``book/generated/verdict.md``: the table and sentences of the results page,
  rendered from ``verdict.json`` by ``verdict_markdown`` (no number typed by hand).

Error bars of averaged differences propagate the per-temperature bootstrap errors
of model and Monte Carlo in quadrature: for a mean over n temperatures of
|x_model − x_MC|, the error is sqrt(Σ σ²)/n with σ² = σ_model² + σ_MC².
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
                   "w1_e", "w1_m", "nfe", "seconds_per_1000", "exact_e", "exact_c"]


def write_summary_csv(path: Path | str, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write the summary table atomically; missing values are written empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, extrasaction="raise", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in SUMMARY_COLUMNS})
    return atomic_write_text(path, buf.getvalue())


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


def read_summary_csv(path: Path | str) -> list[dict]:
    """Rows of ``summary.csv`` with numbers parsed (empty cells → nan)."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.append({k: (v if k == "model" else (float(v) if v != "" else math.nan)) for k, v in r.items()})
    return out


def _mean_abs_diff(model: Sequence[Mapping], mc: Mapping[float, Mapping], key: str,
                   relative: bool = False) -> tuple[float, float]:
    """Mean over temperatures of |model − MC| (or relative to |MC|), with the propagated error."""
    vals, var = [], []
    for r in model:
        ref = mc.get(round(r["T"], 6))
        if ref is None or not np.isfinite(r[key]) or not np.isfinite(ref[key]):
            continue
        d = abs(r[key] - ref[key])
        s2 = r.get(f"{key}_err", 0.0) ** 2 + ref.get(f"{key}_err", 0.0) ** 2
        if relative:
            scale = abs(ref[key])
            if scale == 0:
                continue
            d, s2 = d / scale, s2 / scale**2
        vals.append(d)
        var.append(s2)
    if not vals:
        return math.nan, math.nan
    return float(np.mean(vals)), float(math.sqrt(sum(var)) / len(vals))


def verdict(rows: Sequence[Mapping], train_range: tuple[float, float], *,
            extras: Mapping[str, Mapping[str, object]] | None = None, reference: str = "MC") -> dict:
    """Per model: inside/outside the training range, mean |Δe|, |Δ|m||, relative errors of C and χ
    (each with an error bar), mean W1 of e and m, and NFE and seconds per 1000 samples.

    ``extras`` adds per-model entries (η, the KL bound, seeds, ...). Temperatures within 1e-9 of
    the training range's ends count as inside.
    """
    mc = {round(r["T"], 6): r for r in rows if r["model"] == reference}
    lo, hi = train_range
    out: dict = {"train_range": [lo, hi], "reference": reference, "models": {}}
    for model in dict.fromkeys(r["model"] for r in rows if r["model"] != reference):
        mrows = [r for r in rows if r["model"] == model]
        entry: dict = {}
        for region, sel in (("inside", lambda T: lo - 1e-9 <= T <= hi + 1e-9),
                            ("outside", lambda T: not (lo - 1e-9 <= T <= hi + 1e-9))):
            sub = [r for r in mrows if sel(r["T"])]
            if not sub:
                continue
            reg = {"n_T": len(sub)}
            for name, key, rel in (("d_e", "e", False), ("d_m_abs", "m_abs", False),
                                   ("rel_C", "C", True), ("rel_chi", "chi", True)):
                reg[name], reg[f"{name}_err"] = _mean_abs_diff(sub, mc, key, rel)
            reg["w1_e"] = float(np.nanmean([r["w1_e"] for r in sub]))
            reg["w1_m"] = float(np.nanmean([r["w1_m"] for r in sub]))
            entry[region] = reg
        entry["nfe"] = mrows[0].get("nfe")
        entry["seconds_per_1000"] = mrows[0].get("seconds_per_1000")
        entry.update((extras or {}).get(model, {}))
        out["models"][model] = entry
    return out


def fmt_pm(value: float, err: float | None = None) -> str:
    """``value ± err`` with two significant digits on the error and matching decimals."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if err is None or not np.isfinite(err) or err <= 0:
        return f"{value:.3g}"
    digits = max(0, 1 - int(math.floor(math.log10(err))))
    return f"{value:.{digits}f} ± {err:.{digits}f}"


def verdict_table(v: Mapping) -> str:
    """A markdown table of ``verdict.json``: one row per model and region."""
    head = ("| model | region | mean abs Δe [J] | mean abs Δ⟨abs m⟩ | rel. error C | rel. error χ "
            "| W1(e) | W1(m) | NFE | s / 1000 samples |")
    lines = [head, "|" + "|".join(["---"] * 10) + "|"]
    for model, entry in v["models"].items():
        for region in ("inside", "outside"):
            reg = entry.get(region)
            if reg is None:
                continue
            lines.append("| " + " | ".join([
                model, f"{region} ({reg['n_T']} T)",
                fmt_pm(reg["d_e"], reg["d_e_err"]), fmt_pm(reg["d_m_abs"], reg["d_m_abs_err"]),
                fmt_pm(reg["rel_C"], reg["rel_C_err"]), fmt_pm(reg["rel_chi"], reg["rel_chi_err"]),
                fmt_pm(reg["w1_e"]), fmt_pm(reg["w1_m"]),
                "n/a" if entry.get("nfe") is None or not np.isfinite(entry["nfe"]) else f"{entry['nfe']:.0f}",
                fmt_pm(entry.get("seconds_per_1000", math.nan)),
            ]) + " |")
    return "\n".join(lines)


def compare(a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, what: str,
            lower_is_better: bool = True, a_err: float | None = None, b_err: float | None = None) -> dict:
    """Compare a metric between two model families over training seeds.

    With several seeds, the difference of the seed means counts only when it exceeds the
    seed-to-seed spread (the larger of the two sample standard deviations); otherwise the outcome
    is "no difference". With one seed there is no spread: the outcome says so, and reports how
    many statistical error bars (``a_err``, ``b_err``, combined in quadrature) apart the values are.
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
    return {"what": what, "a": name_a, "b": name_b, "mean_a": ma, "mean_b": mb, "spread": spread,
            "n_seeds": n_seeds, "outcome": outcome}


def temperature_key(T: float) -> str:
    """The key of one temperature in ``samples/<model>.npz``: ``T=2.30``."""
    return f"T={T:.2f}"


def load_samples(path: Path | str) -> dict[float, np.ndarray]:
    """``samples/<model>.npz`` as {T: int8 (n, L, L)}."""
    with np.load(path, allow_pickle=False) as z:
        return {float(k.split("=", 1)[1]): z[k] for k in z.files if k.startswith("T=")}


def summary_rows(model: str, ensembles: Mapping[float, np.ndarray], reference: Mapping[float, np.ndarray],
                 L: int, *, n_boot: int = 200, seed: int = 0, nfe: float | None = None,
                 seconds_per_1000: float | None = None, stats_cache: dict | None = None) -> list[dict]:
    """One ``summary.csv`` row per temperature of ``ensembles``: bootstrap statistics, W1 distances of
    the e and |m| distributions to the ``reference`` ensemble at the same T, and the exact finite-size
    e and c at this L. ``stats_cache`` (T → stats) skips recomputing known statistics.
    """
    from . import exact, metrics

    rows = []
    for T in sorted(ensembles):
        configs = np.asarray(ensembles[T])
        if configs.ndim != 3 or configs.shape[1:] != (L, L):
            raise ValueError(f"ensembles[{T}]: expected shape (n, {L}, {L}); got {configs.shape}")
        st = (stats_cache or {}).get(T) or metrics.thermo_stats(configs, T, n_boot=n_boot, seed=seed)
        ref = reference.get(T)
        w = metrics.w1_e_m(configs, ref) if ref is not None else {"w1_e": math.nan, "w1_m": math.nan}
        e_x, c_x = exact.finite_size(L, np.array([T]))
        rows.append({"model": model, "T": float(T), "n": int(configs.shape[0]),
                     **{k: float(st[k]) for k in ("e", "e_err", "m_abs", "m_abs_err", "C", "C_err",
                                                  "chi", "chi_err")},
                     "w1_e": float(w["w1_e"]), "w1_m": float(w["w1_m"]),
                     "nfe": nfe, "seconds_per_1000": seconds_per_1000,
                     "exact_e": float(np.ravel(e_x)[0]), "exact_c": float(np.ravel(c_x)[0])})
    return rows
