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


def verdict(rows: Sequence[Mapping], train_range: tuple[float, float], *,
            extras: Mapping[str, Mapping[str, object]] | None = None, reference: str = "MC") -> dict:
    """Per model: inside/outside the training range, mean |Δe|, |Δ|m||, relative errors of C (scaled
    by the exact finite-size c) and χ (scaled by MC's χ), each with an error bar, mean W1 of e and m,
    and NFE and seconds per 1000 samples.

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
            # C is scaled by the exact finite-size c (noise-free); χ has no exact value, so by MC's χ
            for name, key, rel, scale in (("d_e", "e", False, None), ("d_m_abs", "m_abs", False, None),
                                          ("rel_C", "C", True, "exact_c"), ("rel_chi", "chi", True, None)):
                reg[name], reg[f"{name}_err"] = _mean_abs_diff(sub, mc, key, rel, scale)
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
    head = (r"| model | T range | $\lvert\Delta e\rvert$ [J] | $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$ "
            r"| rel. $C$ | rel. $\chi$ | $W_1(e)$ | $W_1(\lvert m\rvert)$ | NFE | s/1000 |")
    lines = [head, "|" + "|".join(["---"] * 10) + "|"]
    for model, entry in v["models"].items():
        for region in ("inside", "outside"):
            reg = entry.get(region)
            if reg is None:
                continue
            label = model + (f" [{entry['sampler']}]" if entry.get("sampler") not in (None, "native") else "")
            lines.append("| " + " | ".join([
                label, f"{region} ({reg['n_T']})",
                fmt_pm(reg["d_e"], reg["d_e_err"]), fmt_pm(reg["d_m_abs"], reg["d_m_abs_err"]),
                fmt_pm(reg["rel_C"], reg["rel_C_err"]), fmt_pm(reg["rel_chi"], reg["rel_chi_err"]),
                fmt_pm(reg["w1_e"]), fmt_pm(reg["w1_m"]),
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


CLAIM_METRICS = (("d_e", r"mean $\lvert\Delta e\rvert$ inside the training range [J]"),
                 ("d_m_abs", r"mean $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$ inside the training range"),
                 ("w1_e", r"mean $W_1(e)$ inside the training range [J]"))


def claims(v: Mapping, pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """The decisive comparisons between model kinds (e.g. ("adsorption", "ddpm")), over training seeds.

    Each model entry of ``v`` must carry ``kind``; every model of a kind is one training seed.
    """
    out = []
    for ka, kb in pairs:
        ma = [e for e in v["models"].values() if e.get("kind") == ka and "inside" in e]
        mb = [e for e in v["models"].values() if e.get("kind") == kb and "inside" in e]
        if not ma or not mb:
            continue
        for key, what in CLAIM_METRICS:
            a = [e["inside"][key] for e in ma]
            b = [e["inside"][key] for e in mb]
            err = (lambda es: es[0]["inside"].get(f"{key}_err") if len(es) == 1 else None)
            out.append(compare(a, b, ka, kb, what, a_err=err(ma), b_err=err(mb)))
    return out


def verdict_markdown(v: Mapping, figures: Sequence[tuple[str, str]] = ()) -> str:
    """The results page's body, rendered from ``verdict.json``: context, the claims, the table, figures.

    ``figures``: (path relative to ``book/``, caption) pairs.
    """
    seeds: dict[str, int] = {}
    for e in v["models"].values():
        if e.get("kind") not in (None, "MC"):
            seeds[e["kind"]] = seeds.get(e["kind"], 0) + 1
    claimed = {k for c in v.get("claims", []) for k in (c["a"], c["b"])}
    n_seeds = min((seeds[k] for k in claimed if k in seeds), default=0)
    seed_text = "; ".join(f"{k}: {n}" for k, n in seeds.items())
    lo, hi = v["train_range"]
    parts = [
        f"These numbers are rendered from `results/{v['profile']}/verdict.json` (profile `{v['profile']}`, "
        f"L = {v['L']}, {v['n_test']} Monte Carlo test configurations per temperature, training range "
        f"{lo:g} ≤ T ≤ {hi:g}). Errors are one standard error (bootstrap over configurations, propagated "
        f"in quadrature over temperatures).",
        "",
        (f"Training seeds per model kind: {seed_text}. In the decisive comparisons a difference smaller "
         "than the seed-to-seed spread is reported as no difference." if n_seeds > 1 else
         "**This profile trains each model with one seed only.** The comparisons below therefore cannot "
         "separate a real difference from training-seed luck; they report which value is lower and by how "
         "many statistical error bars, and make no claim. The paper profile repeats them over three seeds."),
        "",
        "## The decisive comparisons",
        "",
    ]
    for c in v.get("claims", []):
        parts.append(f"- **{c['a']} vs {c['b']}**, {c['what']}: {c['mean_a']:.4g} vs {c['mean_b']:.4g}"
                     + (f" (seed spread {c['spread']:.2g})" if c["n_seeds"] > 1 else "") + f": {c['outcome']}.")
    eta = v.get("eta_mc")
    parts += ["", "## Summary table", "", verdict_table(v), "", TABLE_NOTE, ""]
    if eta:
        etas = ", ".join(f"{m} {fmt_pm(e['eta'], e.get('eta_err'))}" for m, e in v["models"].items()
                         if e.get("eta") is not None and np.isfinite(e["eta"]))
        parts += [f"Correlation exponent $\\eta$ at $T = {v.get('T_eta', float('nan')):.4f}$ (fit of "
                  r"$G(r) = A\, r^{-\eta} e^{-r/\xi}$, " f"bootstrap errors): Monte Carlo {fmt_pm(eta['eta'], eta.get('eta_err'))}; "
                  f"{etas}. The exact infinite-lattice value at $T_c$ is 1/4; at $L = {v['L']}$ the Monte Carlo value "
                  "at the same L is the fair reference.", ""]
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
        parts += [r"Eq. 6 solves that did not reach $\lvert\text{residual}\rvert \le 10^{-4}$ (logit units) while sampling the test grid: "
                  + "; ".join(f"{m} {int(e.get('nonconverged') or 0)} of {int(e['pixel_solves']):,}" for m, e in nc)
                  + ".", ""]
    for path, caption in figures:
        parts += [f"```{{figure}} {path}", f":width: 100%", "", caption, "```", ""]
    return "\n".join(parts)


KL_TEXT = r"Upper bound on $D_\mathrm{KL}(p_\mathrm{Boltzmann}\,\Vert\,p_\theta)$"

TABLE_NOTE = (r"$\lvert\Delta e\rvert$, $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$: mean over the test temperatures inside or outside the training range "
              r"(their number in brackets) of the absolute difference to the Monte Carlo test ensembles; rel. $C$: "
              r"mean $\lvert C - C_\mathrm{MC}\rvert / c_\mathrm{exact}$; rel. $\chi$: mean "
              r"$\lvert\chi - \chi_\mathrm{MC}\rvert / \chi_\mathrm{MC}$; $W_1$: mean Wasserstein-1 "
              r"distance of the $e$ and $\lvert m\rvert$ distributions (no error bar); the sampler is in brackets after the "
              "model; s/1000: wall seconds per 1000 samples while sampling the test grid in the training chapter "
              "(the cost chapter re-times every sampler side by side). The row MC-independent is a second, "
              "independent Monte Carlo ensemble of the models' sample size: the floor that finite samples set "
              "on every column.")
