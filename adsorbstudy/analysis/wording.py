"""Markdown rendering of the verdict, the claims and the budget trends for the book.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .comparisons import BUDGET_METRICS, sampler_name
from .tables import CLAIM_REGIONS_TABLE, _finite


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


def fmt_interval(c: Mapping) -> str:
    """``diff [low, high]`` of a comparison, with the decimals of the interval's width."""
    if c.get("diff") is None:
        return "n/a"
    if c.get("low") is None or c.get("high") is None:
        why = "one seed" if min(c.get("n_a", 1), c.get("n_b", 1)) < 2 else "every seed of each arm gave the same value"
        return f"{c['diff']:+.3g} (no interval: {why})"
    width = max(c["high"] - c["low"], 1e-12)
    d = max(0, 2 - int(math.floor(math.log10(width))))
    return f"{c['diff']:+.{d}f} [{c['low']:+.{d}f}, {c['high']:+.{d}f}]"


def _seeds(c: Mapping) -> str:
    return f"{c['n_a']} seeds each" if c["n_a"] == c["n_b"] else f"{c['n_a']} and {c['n_b']} seeds"


def claim_line(c: Mapping) -> str:
    """One comparison as a sentence: the pair, the metric and region, the difference a − b with its
    interval (Holm-corrected for a primary claim, 95 % for a secondary one), the seeds, and the words."""
    where = REGION_TEXT.get(c.get("region"), c.get("region", ""))
    if c.get("role") == "primary":
        level = f"Holm-corrected interval over the family of {c['family_size']}, level {1 - c['alpha_step']:.4g}"
    else:
        level = "95 % interval, secondary: not part of the declared family"
    return (f"- **{c['a']} vs {c['b']}**, {c['what']} {where}: difference {c['a']} − {c['b']} = "
            f"{fmt_interval(c)} ({level}; {_seeds(c)}, {c['n']} samples per temperature): {c['outcome']}.")


REGION_TEXT = {"inside": "inside the training range", "seen": "at the training temperatures (seen)",
               "unseen": "between the training temperatures (unseen, inside the range)",
               "outside": "outside the training range (extrapolation)"}


def answer_markdown(v: Mapping) -> str:
    """The answer first, in plain words, from ``verdict.json``: one sentence per declared primary claim,
    then the exact-statistics outcome and the cost against Monte Carlo at the measured KL (the cost
    chapter writes it once the fidelity, exact-statistics and cost entries are all in the file)."""
    prim = [c for c in v.get("claims", []) if c.get("role") == "primary"]
    lines = []
    if prim:
        c0 = prim[0]
        lines.append(f"**The short answer** (profile `{v.get('profile')}`, {_seeds(c0)}, {c0['n']} samples per "
                     f"temperature; declared primary metric: {c0['what']} "
                     f"{REGION_TEXT.get(c0['region'], c0['region'])}; Holm's correction over the {len(prim)} "
                     "declared comparisons; negative differences favour the first model):")
        lines.append("")
        trends = {(t["a"], t["b"]): t for t in (v.get("budget") or {}).get("trends", []) if t["key"] == c0["key"]}
        if trends:
            lines[-2] = lines[-2][:-2] + (f"; at {max(t['last_step'] for t in trends.values())} optimizer steps, "
                                          "the budget of every model here):")
        for c in prim:
            t = trends.get((c["a"], c["b"]))
            trend = "" if t is None else (
                f" With the budget, the gap's trend is "
                f"{fmt_interval({'diff': t['slope'], 'low': t['slope_low'], 'high': t['slope_high']})} J per e-fold "
                f"of optimizer steps: {_TREND_TEXT[t['outcome']]}.")
            lines.append(f"- {c['a']} vs {c['b']}: {fmt_interval(c)} J, so **{c['outcome']}**.{trend}")
        pw = v.get("power")
        if pw:
            lines.append(f"- Power of this design: a true difference of {pw['effect_sd']:g} seed-to-seed standard "
                         f"deviations is called better in {100 * pw['power']:.0f} % of studies "
                         f"({pw['n_seeds']} seeds per arm, family of {pw['family_size']}; simulated through the same "
                         "decision code). \"Not resolved\" means the data cannot tell, not that there is no difference.")
    for model, e in ((v.get("exact") or {}).get("models") or {}).items():
        snis, raw = (e.get("snis") or {}).get("inside"), (e.get("raw") or {}).get("inside")
        if snis and raw:
            lines.append(f"- Exact statistics ({model}, inside the training range, {snis['n_T']} temperature"
                         f"{'s' if snis['n_T'] != 1 else ''}): raw samples "
                         f"max |z_e| = {raw['max_abs_z_e']:.1f} against the exact torus; reweighted (SNIS) "
                         f"max |z_e| = {snis['max_abs_z_e']:.1f}, max |z_C| = {snis['max_abs_z_c']:.1f}, mean ESS/n = "
                         f"{snis['ess_frac_mean']:.3f}.")
    measured = [c for c in ((v.get("scaling") or {}).get("crossovers") or [])
                if c.get("kl_source") != "hypothetical (kl_scan)"]
    for c in measured:
        when = ("never cheaper than Monte Carlo at any L" if c.get("never")
                else f"cheaper than Monte Carlo from L ≈ {c['L_from']:.0f}" if c.get("L_from") else "no crossover found")
        lines.append(f"- Cost against {c['mc']}: {c['generator']} at its measured KL per spin "
                     f"({c['kl_per_spin']:.3g}): {when} (an extrapolation of the timed sizes).")
    return "\n".join(lines)


def claims_markdown(cs: Sequence[Mapping]) -> str:
    """Every comparison, one table per pair of arms (and scope): a row per metric, a column per region,
    each cell the difference a − b with its interval and the words; the primary claim is marked."""
    groups: dict[tuple, list[Mapping]] = {}
    for c in cs:
        groups.setdefault((c["a"], c["b"], c.get("scope", "")), []).append(c)
    out = []
    for (a, b, scope), rows in groups.items():
        c0 = rows[0]
        out += [f"**{a}** ({c0.get('sampler_a')}) **vs {b}** ({c0.get('sampler_b')})"
                + (f", {scope}" if scope else "") + f": difference {a} − {b} (negative favours {a}) with its "
                f"interval over {_seeds(c0)}, {c0['n']} samples per temperature for every model and seed. "
                "Cells marked *primary* are the declared claim (Holm-corrected); the others are secondary 95 % "
                "intervals, never called better.", ""]
        regions = list(dict.fromkeys(c["region"] for c in rows))
        n_T = {c["region"]: c["n_T"] for c in rows}
        out.append("| metric | " + " | ".join(f"{r} ({n_T[r]} T)" for r in regions) + " |")
        out.append("|---" * (len(regions) + 1) + "|")
        for key in dict.fromkeys(c["key"] for c in rows):
            cells = []
            for r in regions:
                c = next(x for x in rows if x["key"] == key and x["region"] == r)
                tag = f" *primary*: {c['outcome']}" if c.get("role") == "primary" else ""
                cells.append(f"{fmt_interval(c)}{tag}")
            out.append(f"| {next(x['what'] for x in rows if x['key'] == key)} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _seed_sentences(v: Mapping) -> list[str]:
    """The paragraph on training seeds: per compared arm, from the claims; the paper profile's counts
    from ``v['paper_seeds']`` (written by the fidelity chapter from ``params/paper.yaml``) when present."""
    seeds: dict[str, int] = {}
    for c in v.get("claims", []):
        seeds[c["a"]], seeds[c["b"]] = c["n_a"], c["n_b"]
    n_seeds = min(seeds.values(), default=0)
    paper = {k: n for k, n in (v.get("paper_seeds") or {}).items() if k in seeds}
    paper_text = (" The paper profile (`params/paper.yaml`) trains " + ", ".join(f"{n} seeds of {k}" for k, n in paper.items())
                  + "." if paper and v.get("profile") != "paper" else "")
    if n_seeds > 1:
        return ["Training seeds per arm in the comparisons: " + ", ".join(f"{k} {n}" for k, n in seeds.items())
                + ". Each difference gets Welch's interval over the seeds' region means, which contain each "
                "seed's sampling error; \"better\" only when the (corrected) interval excludes 0." + paper_text]
    return ["**This profile trains each model with one seed only.** The comparisons below therefore have no "
            "seed-to-seed spread and no interval: they make no claim." + paper_text]


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


_TREND_TEXT = {"narrows": "the gap narrows as the budget grows", "widens": "the gap widens as the budget grows",
               "no trend resolved": "no trend of the gap is resolved", "no claim": "one seed only, no claim"}


def budget_markdown(b: Mapping) -> str:
    """Sentences on the training-budget curves, from ``verdict.json``'s ``budget`` entry: per pair and
    metric, the gap at the last snapshot ("at N optimizer steps") and its trend per e-fold of steps, each
    with its interval (secondary statements, never called better)."""
    names = dict(BUDGET_METRICS)
    lines = [f"Fidelity was measured at training snapshots on {len(b['T'])} test temperatures "
             f"(T = {', '.join(f'{t:g}' for t in b['T'])}; {b['n']} samples per temperature and snapshot). "
             "Gap = difference of the seed means (first arm minus second). Trend = the change of the gap per "
             "e-fold of optimizer steps, from each seed's regression on ln(steps) over every snapshot; both "
             "with Welch's 95 % interval over the seeds, descriptive and uncorrected.", ""]
    for t in b["trends"]:
        lines.append(f"- **{t['a']} vs {t['b']}**, {names.get(t['key'], t['key'])}: at {t['last_step']} optimizer "
                     f"steps the gap is {fmt_interval({'diff': t['gap_last'], 'low': t['gap_last_low'], 'high': t['gap_last_high']})}; "
                     f"trend {fmt_interval({'diff': t['slope'], 'low': t['slope_low'], 'high': t['slope_high']})} "
                     f"per e-fold of steps over {len(t['steps'])} snapshots ({t['first_step']}-{t['last_step']}): "
                     f"{_TREND_TEXT[t['outcome']]} ({t['n_a']} and {t['n_b']} seeds).")
    return "\n".join(lines)
