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
                   "w1_e", "w1_m", "nfe", "seconds_per_1000", "exact_e", "exact_c", "w1_e_err", "w1_m_err"]


def write_summary_csv(path: Path | str, rows: Iterable[Mapping[str, object]],
                      columns: Sequence[str] = SUMMARY_COLUMNS) -> Path:
    """Write the summary table (or another table with ``columns``) atomically; missing values are written empty."""
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


def verdict(rows: Sequence[Mapping], train_range: tuple[float, float], *,
            extras: Mapping[str, Mapping[str, object]] | None = None, reference: str = "MC") -> dict:
    """Per model: inside/outside the training range, mean |Δe|, |Δ|m||, relative errors of C (scaled
    by the exact finite-size c) and χ (scaled by MC's χ), each with an error bar, mean W1 of e (J per
    spin) and of |m| with their propagated bootstrap errors (``w1_e_err``, ``w1_m_err``), and NFE and
    seconds per 1000 samples.

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
            for key in ("w1_e", "w1_m"):
                reg[key], reg[f"{key}_err"] = _mean_with_err(sub, key)
            entry[region] = reg
        entry["e_response"], entry["e_response_err"] = temperature_response(mrows, list(mc.values()))
        entry["nfe"] = mrows[0].get("nfe")
        entry["seconds_per_1000"] = mrows[0].get("seconds_per_1000")
        entry.update((extras or {}).get(model, {}))
        out["models"][model] = entry
    return out


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
            label = model + (f" [{sampler_name(entry['sampler'])}]" if entry.get("sampler") not in (None, "native") else "")
            lines.append("| " + " | ".join([
                label, f"{region} ({reg['n_T']})",
                fmt_pm(reg["d_e"], reg["d_e_err"]), fmt_pm(reg["d_m_abs"], reg["d_m_abs_err"]),
                fmt_pm(reg["rel_C"], reg["rel_C_err"]), fmt_pm(reg["rel_chi"], reg["rel_chi_err"]),
                fmt_pm(reg["w1_e"], reg.get("w1_e_err")), fmt_pm(reg["w1_m"], reg.get("w1_m_err")),
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
                 seconds_per_1000: float | None = None, stats_cache: dict | None = None) -> list[dict]:
    """One ``summary.csv`` row per temperature of ``ensembles``: bootstrap statistics, W1 distances of
    the e (J per spin) and |m| distributions to the ``reference`` ensemble at the same T with bootstrap
    errors that resample both ensembles (``w1_e_err``, ``w1_m_err``; ``n_boot`` resamples from
    ``seed``), and the exact finite-size e and c at this L. ``stats_cache`` (T → stats) skips
    recomputing known statistics.
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
                                                  "chi", "chi_err")},
                     **{k: float(w[k]) for k in ("w1_e", "w1_e_err", "w1_m", "w1_m_err")},
                     "nfe": nfe, "seconds_per_1000": seconds_per_1000,
                     "exact_e": float(np.ravel(e_x)[0]), "exact_c": float(np.ravel(c_x)[0])})
    return rows


CLAIM_METRICS = (("d_e", r"mean $\lvert\Delta e\rvert$ inside the training range [J]"),
                 ("d_m_abs", r"mean $\lvert\Delta\langle\lvert m\rvert\rangle\rvert$ inside the training range"),
                 ("w1_e", r"mean $W_1(e)$ inside the training range [J]"))


def claims(v: Mapping, pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """The decisive comparisons between model kinds (e.g. ("adsorption", "ddpm")), over training seeds.

    Each model entry of ``v`` must carry ``kind``; every model of a kind is one training seed. Each
    comparison also names the sampler of each side's test-grid samples (``sampler_a``, ``sampler_b``).
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
            c = compare(a, b, ka, kb, what, a_err=err(ma), b_err=err(mb))
            out.append(c | {"sampler_a": _kind_sampler(ma), "sampler_b": _kind_sampler(mb)})
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
    return f"- **{c['a']} vs {c['b']}**, {c['what']}: {side('a')} vs {side('b')} ({what_err}): {c['outcome']}."


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
    parts += [claim_line(c) for c in v.get("claims", [])]
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
              r"distance of the $e$ and $\lvert m\rvert$ distributions (error: bootstrap resampling both ensembles; W1 of two finite samples is positive even for one distribution, so compare with the MC-independent row); the sampler is in brackets after the "
              "model; s/1000: wall seconds per 1000 samples while sampling the test grid in the training chapter "
              "(the cost chapter re-times every sampler side by side). The row MC-independent is a second, "
              "independent Monte Carlo ensemble of the models' sample size: the floor that finite samples set "
              "on every column.")
