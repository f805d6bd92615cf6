# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Correlated layers: the lateral term on sampled neighbours
#
# Seed 000's generator draws every site of a layer independently from the mean-field solve of Eq. 6.
# Its lateral term then acts on the neighbours' *densities*, a smoothing the U-Net's per-pixel
# energies can produce by themselves. So the mean-field lateral term adds no expressive power, and the
# fidelity chapter cannot tell the adsorption generator from its no-lateral ablation.
#
# The **checkerboard** generator (`adsorption-checkerboard`) keeps the U-Net and Eq. 6 but splits each
# layer in two. The sites of one checkerboard sublattice are drawn from the mean-field solve. The sites
# of the other are drawn given those *sampled* neighbours, in closed form:
# $\operatorname{logit} x_{a,i} = \operatorname{logit} x_{b,i} - \varepsilon_{s,i} - \varepsilon_{a,i}
# (z_a \hat n_{a,i} - z_b n_{b,i})$, with $\hat n_{a,i}$ the mean of the four sampled neighbours. The
# sublattice drawn first alternates from layer to layer. The layer's probability is a product of two
# factorised Bernoulli terms, so the trajectory likelihood, SNIS, IMH and the KL bound stay exact, and
# the U-Net still runs once per layer. With $\varepsilon_a = -4J/T$ the second half-step is the exact
# heat-bath update of the Ising model, so one layer can represent half a Gibbs sweep.
#
# This chapter shows the checkerboard arm's place in the verdict, the variance of its training loss,
# whether the trained mean-field generator ever enters the bistable regime of Eq. 6 that seed 000's
# symmetry-breaking mechanism needs, and what physics guidance does to the checkerboard sampler.

# %% tags=["parameters"]
profile = "smoke"          # str
device = "auto"            # {auto, cpu, cuda}
checkerboard = "adsorption-checkerboard"  # str the trained checkerboard run (seed 0)
mean_field = "adsorption"  # str the trained mean-field run (seed 0) of the same budget
guidance_T = [1.8, 2.3, 3.0]   # float each: temperatures of the guidance curve (J/k_B)
lambdas = [0.0, 0.25, 0.5, 1.0]  # float each: guidance strengths λ ≥ 0 (0 = the unguided sampler)
guide_layers = 10          # [1, 10000] guidance acts on the last guide_layers layers (≤ K)
n_guidance = 256           # [8, 1000000] samples per (λ, T)
bistability_T = [1.8, 2.3, 3.0]  # float each: temperatures of the bistability diagnostic
n_bistability = 32         # [1, 100000] sampled trajectories per temperature in the diagnostic
n_loss = 128               # [8, 100000] Monte Carlo frames for the loss-variance measurement
loss_repeats = 8           # [2, 1000] repeated loss evaluations per frame
ksweep_models = []         # str each: trained runs of the K sweep (one seed per kind and K); [] = show the published one
seed = 0                   # [0, 2147483647] root seed (streams by purpose: adsorbstudy.study.seeds)
threads = 0                # [0, 64] torch CPU threads; 0 = torch's default

# %%
import json

import numpy as np
import torch
from IPython.display import Image, Markdown, display

from adsorbstudy.analysis import comparisons, guidance, ksweep, wording
from adsorbstudy.analysis.tables import load_samples, read_csv, write_csv
from adsorbstudy.study.publish import banner, verify
from adsorbstudy.analysis.reweight import exact_markdown, read_exact_csv
from adsorbstudy.generators.bistability import bistability
from adsorbstudy.generators.checkerboard import loss_variance
from adsorbstudy.generators.train import load_trained
from adsorbstudy.study.runtime import repo_root, results_dir, use_cpu_threads
from adsorbstudy.study.seeds import seed_for

use_cpu_threads(threads)  # capped by the study runner's share of the cores under --jobs
out = results_dir(profile)
figdir = repo_root() / "book" / "generated" / "figures"
figdir.mkdir(parents=True, exist_ok=True)
verdict = json.loads((out / "verdict.json").read_text())
cb = load_trained(checkerboard, profile, device)
mf = load_trained(mean_field, profile, device)
if not 1 <= guide_layers <= cb.K:
    raise ValueError(f"guide_layers must be an integer in [1, K={cb.K}]; got {guide_layers}")
lo, hi = verdict["train_range"]

# %% [markdown]
# ## The checkerboard arm in the verdict
#
# The decisive family of the fidelity chapter includes checkerboard against mean-field (does sampling
# the neighbours change anything?) and checkerboard against no-lateral (does the lateral term help once
# it acts on real neighbours?). Both are decided like the others: Welch's interval over the training
# seeds, Holm's correction over the declared family, "better" only when the corrected interval
# excludes 0.

# %%
mine = [c for c in verdict["claims"] if checkerboard in (c["a"], c["b"])]
if not any(c.get("role") == "primary" for c in mine):
    raise ValueError(f"checkerboard: no primary claim with {checkerboard!r} in verdict.json; "
                     "put it among the fidelity chapter's models")
display(Markdown(wording.claims_markdown(mine)))
rows = read_exact_csv(out / "exact.csv")
ex_models = [m for m in (checkerboard, mean_field) if m in verdict.get("exact", {}).get("models", {})]
if ex_models:
    display(Markdown("**Exact statistics** (the exact-statistics chapter's rows for these two arms):\n\n"
                     + exact_markdown(rows, verdict["exact"]["models"], ex_models, verdict["L"],
                                      verdict["exact"]["n_exact"], (lo, hi))))

# %% [markdown]
# ## The training loss: one draw of the first sublattice
#
# The ELBO term of a layer splits into KL(q_A ‖ p_A) + E over s_A drawn from the forward posterior of
# KL(q_B ‖ p_B(· | s_A)). The first term is closed form; the second is estimated with one draw of s_A,
# which is unbiased but adds variance. Both models' per-sample loss terms are drawn here with common
# random numbers (the same layer k and noised state s_k), on Monte Carlo frames inside the training range.

# %%
mc = np.load(out / "samples" / "MC.npz")
keys = sorted((k for k in mc.files if lo <= float(k[2:]) <= hi), key=lambda k: float(k[2:]))
rng = np.random.default_rng(seed_for(seed, "layers", 0))
per = max(1, n_loss // len(keys))
frames = np.concatenate([mc[k][rng.choice(len(mc[k]), size=min(per, len(mc[k])), replace=False)] for k in keys])
temps = np.concatenate([np.full(min(per, len(mc[k])), float(k[2:])) for k in keys])
lv = loss_variance(cb, mf, frames, torch.as_tensor(temps), repeats=loss_repeats, seed=seed_for(seed, "layers", 1))
display(Markdown(
    f"On {len(frames)} frames at {len(keys)} temperatures inside the training range, {loss_repeats} evaluations "
    f"each: the variance of the per-sample loss term (nats per spin, squared) is {lv['var_checkerboard']:.3g} for the "
    f"checkerboard model and {lv['var_mean_field']:.3g} for the mean-field model's closed form, a ratio of "
    f"{lv['ratio']:.2f}. The part due to the s_A draw alone (at fixed k and s_k) is {lv['var_draw']:.3g}. The mean loss "
    f"terms are {lv['mean_checkerboard']:.4f} and {lv['mean_mean_field']:.4f} nats per spin."))

# %% [markdown]
# ## Does the trained mean-field generator ever become bistable?
#
# Chapter 02 shows where Eq. 6 has several roots: at a uniform site only when $\varepsilon_a z_a < -4$
# (seed 000's attractive case, the van der Waals loop). A strongly repulsive coupling,
# $\varepsilon_a z_a > 4$, can give sublattice-ordered roots instead. If the trained generator never
# goes there, every layer has one root and seed 000's symmetry-breaking mechanism is never used. Over
# sampled trajectories, every layer's energies are evaluated again and Eq. 6 is solved from both sides:
# from $x_a = x_b$ (the adsorption branch, what the generator does) and from $x_a = 1 - x_b$.

# %%
bi = bistability(mf, n_bistability, bistability_T, seed=seed_for(seed, "layers", 2))
h = bi["eps_a_za"]
display(Image(filename=str(guidance.bistability_plot(
    bi, figdir / "layers-bistability.png",
    title=f"{mean_field}: ε_a·z_a over {bi['n']} pixel-steps (T = {', '.join(f'{t:g}' for t in bistability_T)})"))))
per_T = "; ".join(f"T = {T:g}: attractive {s['frac_attractive']:.2e}, repulsive {s['frac_repulsive']:.2e}, "
                  f"other root {s['frac_other_root']:.2e}" for T, s in sorted(bi["per_T"].items()))
display(Markdown(
    f"Over {bi['n']} pixel-steps ({n_bistability} trajectories per temperature, every layer and pixel) ε_a·z_a has "
    f"mean {h['mean']:+.2f}, standard deviation {h['std']:.2f}, and range [{h['min']:+.2f}, {h['max']:+.2f}]. "
    f"The fraction with ε_a z_a < −4 (attractive, where several roots are possible) is {bi['frac_attractive']:.2e}, "
    f"with ε_a z_a > 4 (repulsive) {bi['frac_repulsive']:.2e}. A solve started on the desorption side reached "
    f"another root (by more than {bi['root_tol']:g} in x_a) at a fraction {bi['frac_other_root']:.2e} of pixel-steps; "
    f"{bi['frac_nonconverged']:.2e} had a solve that did not converge. Per temperature: {per_T}."))

# %% [markdown]
# ## Physics guidance
#
# After seed 003, which guides its sampler with a force field, the checkerboard sampler can add
# $\lambda\,(2J/T)\sum_{j\sim i}\sigma_j$ to the logits of the second sublattice in the last layers.
# This changes the proposal, not the target: the trajectory's log-probability includes the term, so
# SNIS and IMH stay exact. λ = 0 reproduces the unguided sampler bit for bit (the tests check it). The
# curve shows what guidance buys: the raw samples' distance to the exact energy, and the ESS/n the
# correction then needs. Every λ uses the same random streams.

# %%
g_rows = guidance.guidance_curve(cb, guidance_T, lambdas, n_guidance, guide_layers=guide_layers,
                                 seed=seed_for(seed, "layers", 3))
write_csv(out / "guidance.csv", g_rows, guidance.COLUMNS)
display(Image(filename=str(guidance.plot(
    g_rows, figdir / "layers-guidance.png",
    title=f"{checkerboard}: guidance on the last {guide_layers} of K = {cb.K} layers, {n_guidance} samples per point"))))
lines = ["| T | λ | raw e − e_exact [J] | z (raw) | SNIS z | ESS/n |", "|---|---|---|---|---|---|"]
for r in g_rows:
    lines.append(f"| {r['T']:g} | {r['lambda']:g} | {wording.fmt_pm(r['de_raw'], r['e_raw_err'])} | {r['z_raw']:+.1f} | "
                 f"{r['z_snis']:+.1f} | {r['ess_n']:.3f} |")
display(Markdown("\n".join(lines)))
best = {T: min((r for r in g_rows if r["T"] == T), key=lambda r: abs(r["de_raw"])) for T in guidance_T}
display(Markdown(" ".join(
    f"At T = {T:g} the raw energy is closest to the exact value at λ = {r['lambda']:g} "
    f"({wording.fmt_pm(r['de_raw'], r['e_raw_err'])} J), where ESS/n is {r['ess_n']:.3f} "
    f"(unguided: {next(x for x in g_rows if x['T'] == T and x['lambda'] == 0)['ess_n']:.3f})." if 0.0 in lambdas else
    f"At T = {T:g} the raw energy is closest to the exact value at λ = {r['lambda']:g}." for T, r in best.items())))

# %% [markdown]
# ## The K sweep
#
# The no-lateral, mean-field and checkerboard generators trained at several numbers of layers K (one seed
# per point, the same optimizer budget), each compared with Monte Carlo on the test grid. At K = 5 a layer
# must bridge a large noise step, where one Gibbs half-sweep per layer should matter most. The sweep takes
# twelve trainings and runs in the long profile; a build without it shows the published sweep.

# %%
ks_path = out / "ksweep.csv"
if ksweep_models:
    specs_k = {m: json.loads((out / "models" / f"{m}.json").read_text()) for m in ksweep_models}
    runs_k = {m: {"kind": sp["kind"], "K": sp["hparams"]["K"], "seed": sp["training"]["config"]["seed"],
                  "samples": load_samples(out / "samples" / f"{m}.npz")} for m, sp in specs_k.items()}
    ks_rows = ksweep.rows(runs_k, load_samples(out / "samples" / "MC.npz"), verdict["train_T"])
    write_csv(ks_path, ks_rows, ksweep.COLUMNS)
    ks_source = f"this build ({profile} profile)"
else:
    ks_rows, ks_source = [], None
    pub = repo_root() / "published" / "long" / "ksweep.csv"
    if pub.exists():
        display(Markdown(banner(verify(pub.parent))))
        ks_rows, ks_source = read_csv(pub, ("model", "kind", "region")), "the published long profile"
if ks_rows:
    display(Image(filename=str(ksweep.plot(ks_rows, figdir / "layers-ksweep.png", title=f"K sweep, {ks_source}"))))
    lines = [f"From {ks_source}:", "", "| kind | K | seen | unseen | outside |", "|---|---|---|---|---|"]
    for kind, K in sorted({(r["kind"], int(r["K"])) for r in ks_rows}):
        cell = {r["region"]: wording.fmt_pm(float(r["abs_de"]), float(r["abs_de_se"])) for r in ks_rows
                if r["kind"] == kind and int(r["K"]) == K}
        lines.append(f"| {kind} | {K} | " + " | ".join(cell.get(g, "—") for g in ("seen", "unseen", "outside")) + " |")
    display(Markdown("\n".join(lines) + "\n\nEntries: mean |Δe| [J per spin] over the region's temperatures ± its standard error."))
else:
    display(Markdown("No K sweep in this build, and none published yet: it runs in the long profile "
                     "(`make book PROFILE=long`, then `python -m adsorbstudy publish --profile long`)."))

# %%
comparisons.update_verdict(out / "verdict.json", "layers", {
    "checkerboard": checkerboard, "mean_field": mean_field,
    "loss_variance": lv,
    "bistability": {k: v for k, v in bi.items() if k != "per_T"} | {"per_T": {f"{T:g}": s for T, s in bi["per_T"].items()},
                                                                      "T": list(bistability_T), "n_per_T": n_bistability},
    "guidance": {"guide_layers": guide_layers, "n": n_guidance, "rows": g_rows},
    "ksweep": {"source": ks_source, "rows": ks_rows},
})
