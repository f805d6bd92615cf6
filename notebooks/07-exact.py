# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Making the generator exact
#
# Every generator of the fidelity chapter is biased, by an amount we can only measure against Monte
# Carlo. The Bernoulli adsorption generator, and its no-lateral ablation, differ from the DDPM and
# the GANs in one respect: the probability $p_\theta(s_{0:K})$ of the whole trajectory that produced
# a sample is a product of factorised Bernoulli probabilities that the sampler has in hand when it
# draws. With the forward chain $q(s_{1:K}\mid s_0)$, the weight
#
# $$\log w = -\frac{E(s_0)}{T} + \log q(s_{1:K}\mid s_0) - \log p_\theta(s_{0:K}),
#   \qquad \mathbb{E}_{p_\theta}[w] = Z,$$
#
# turns the generator into an exact sampler: self-normalised importance sampling (SNIS) and an
# independence Metropolis–Hastings chain (IMH) converge to Boltzmann averages, and the mean weight
# estimates $\ln Z$ {cite:p}`nicoli2020asymptotically,sanokowski2025`. The methods page gives the
# derivation. The price is variance, measured by the effective sample size
# $\mathrm{ESS} = (\sum w)^2/\sum w^2$, which cannot exceed about $n\,e^{-N\cdot\mathrm{KL}}$, with
# KL the per-spin bound of the fidelity chapter.
#
# **Why DDPM, DDIM and the GANs cannot be corrected this way.** DDPM and DDIM move a continuous
# latent and output the sign of $x_0$; the probability of a given spin configuration is an integral
# of the continuous path density over the whole orthant that rounds to it, which no one can evaluate.
# The GAN's generator is a deterministic map of Gaussian noise, with no density on the discrete
# configurations at all. Neither gives a weight. What every model admits is the *hybrid arm*: a few
# Metropolis sweeps started from its samples. The sweeps leave the Boltzmann distribution invariant,
# so they can only move an ensemble towards it, but after a finite number of sweeps the result is
# still approximate.

# %% tags=["parameters"]
profile = "smoke"          # str
device = "auto"            # {auto, cpu, cuda}
L = 8                      # [4, 256] lattice side
models = ["adsorption", "adsorption-nolateral"]  # str each: Bernoulli generators corrected exactly (trained runs)
hybrid_models = ["ddpm", "gan", "gan-m"]  # str each: further runs in the hybrid arm, from their saved test-grid samples
grid = "coarse"            # {coarse, fine} the training grid of the models (its range is shaded)
test_start = 1.0           # [0.1, 20] first test temperature, J/k_B
test_stop = 4.0            # [0.1, 20] last test temperature, J/k_B
test_step = 1.0            # (0, 5] test grid spacing, J/k_B
exact_T = []               # float each: [0.1, 20] temperatures of this chapter (on the test grid); empty = the whole grid
n_exact = 500              # [10, 1000000] generated samples per model and temperature
sweeps = [1, 4, 16, 64]    # [0, 100000] Metropolis sweeps of the hybrid arm
n_test = 200               # [10, 1000000] Monte Carlo configurations per test temperature (as the fidelity chapter)
method = "auto"            # {auto, metropolis, wolff} Monte Carlo sampler of the reference ensembles
mc_backend = "numba"       # {numba, torch} as in the Monte Carlo chapter (selects the cached ensembles)
seed = 0                   # [0, 2147483647] root Monte Carlo seed (streams by purpose: adsorbstudy.study.seeds)
sample_seed = 70000        # [0, 2147483647] seed of this chapter's generated samples, IMH and sweeps
n_heldout = 64             # [1, 100000] held-out Monte Carlo configurations per T for the KL bound
threads = 0                # [0, 64] torch CPU threads; 0 = torch's default

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from adsorbstudy.analysis import comparisons, plots, reweight, tables
from adsorbstudy.generators.train import load_trained
from adsorbstudy.physics import ensembles, exact, grids
from adsorbstudy.study.runtime import pick_device, repo_root, results_dir, use_cpu_threads
from adsorbstudy.study.store import atomic_write, atomic_write_json, atomic_write_text, study_store

use_cpu_threads(threads)  # capped by the study runner's share of the cores under --jobs
store = study_store(profile)
dev = pick_device(device)
out = results_dir(profile)
grid_T = grids.test_grid(test_start, test_stop, test_step)
temps = sorted({round(float(T), 2) for T in exact_T}) or grid_T
off = [T for T in temps if T not in grid_T]
if off:
    raise ValueError(f"exact_T: {off} are not on the test grid {grid_T}; pick test temperatures")
train_T = grids.TRAIN_GRIDS[grid]
train_range = (min(train_T), max(train_T))
inside = {T: train_range[0] - 1e-9 <= T <= train_range[1] + 1e-9 for T in temps}
every = list(dict.fromkeys(models + hybrid_models))
missing = [m for m in every if not (out / "models" / f"{m}.json").exists()]
if missing:
    raise ValueError(f"models: no trained run {missing} in {out / 'models'}; run the training chapters first")
specs = {m: json.loads((out / "models" / f"{m}.json").read_text()) for m in every}
not_bernoulli = [m for m in models if not specs[m]["kind"].startswith("adsorption")]
if not_bernoulli:
    raise ValueError(f"models: {not_bernoulli} have no trajectory likelihood; put them in hybrid_models")
figdir = repo_root() / "book" / "generated" / "figures"
N = L * L


from adsorbstudy.study.seeds import seed_for

exact_runs = list(dict.fromkeys(models + hybrid_models))


def run_seed(name, i):
    """An independent seed per (model, temperature index): with shared seeds, Metropolis chains of
    different models driven by the same random numbers coalesce at low T, correlating the models."""
    return seed_for(sample_seed, "sample-exact", exact_runs.index(name), i)


def keep_figure(fig, name):
    """Save a figure for the results page (atomically), beside showing it here."""
    atomic_write(figdir / name, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))


print(f"L = {L}, temperatures {temps} (inside the training range {train_range}: "
      f"{[T for T in temps if inside[T]]}), {n_exact} samples per model and T, sweeps {sweeps}")

# %% [markdown]
# ## The references: Monte Carlo and the exact torus
#
# The Monte Carlo test ensembles are those of the fidelity chapter (the same random stream, read from the
# cache). $e$, $c$ and $\ln Z$ are exact for the $L\times L$ torus (Kaufman); $\langle|m|\rangle$,
# $\chi$ and $U_4$ are compared with Monte Carlo.

# %%
mc_device = None if mc_backend == "numba" else str(dev)
mc = {T: ens.configs for T, ens in ensembles.cached_ensembles(store, L, temps, n_test, method=method, seed=seed_for(seed, "mc-test"),
                                                          device=mc_device).items()}
mc_stats = {T: reweight.weighted_stats(mc[T], T) for T in temps}

# %% [markdown]
# ## Raw, SNIS, IMH and hybrid estimates
#
# Each Bernoulli model draws `n_exact` samples per temperature with `sample_with_logprob`, which books
# $\log p_\theta$ and $\log q$ in the same pass as the draws. The same samples give the raw
# estimate, the SNIS estimate, an IMH chain (proposals in the order drawn) and the hybrid arm (each
# sample relaxed by $n$ Metropolis sweeps). The hybrid arm relaxes the same number of samples for every
# model, the DDPMs' and GANs' saved test-grid samples and as many of each Bernoulli model's, so that its
# error bars compare like with like. Errors are delta-method errors of the self-normalised
# estimators (the IMH ones inflated by $2\tau_\mathrm{int}$); see `adsorbstudy.analysis.reweight`.

# %%
# The hybrid arm scores every model on the same n: the hybrid models' saved test-grid samples (the
# smallest count among them), and as many of each Bernoulli model's samples.
saved_n = {m: min(len(x) for x in tables.load_samples(out / "samples" / f"{m}.npz").values()) for m in hybrid_models}
n_hybrid = min([n_exact, *saved_n.values()])
rows = []
for m in models:
    model = load_trained(m, profile, device=str(dev))
    for i, T in enumerate(temps):
        s, lw, secs = reweight.sample_weighted(model, n_exact, T, seed=run_seed(m, i), progress=True)
        kl = reweight.kl_bound(model, mc[T][:n_heldout], T)
        rows += reweight.corrected_rows(m, s, lw, T, mc_stats[T], secs, sweeps=sweeps, seed=run_seed(m, i), kl=kl,
                                        n_hybrid=n_hybrid)
    del model
for m in hybrid_models:
    saved = tables.load_samples(out / "samples" / f"{m}.npz")
    lost = [T for T in temps if T not in saved]
    if lost:
        raise ValueError(f"hybrid_models: the saved samples of {m!r} lack T = {lost}; retrain with the same test grid")
    for i, T in enumerate(temps):
        x = saved[T][:n_hybrid]
        secs = specs[m]["seconds_per_1000"] / 1000 * len(x)
        rows.append(reweight.exact_row(m, T, "raw", reweight.weighted_stats(x, T), L, mc_stats[T], seconds=secs))
        rows += reweight.hybrid_rows(m, x, T, mc_stats[T], secs, sweeps=sweeps, seed=run_seed(m, i))
reweight.write_exact_csv(out / "exact.csv", rows)
rows = reweight.read_exact_csv(out / "exact.csv")   # everything below is drawn from the file
summary = reweight.exact_verdict(rows, train_range)
atomic_write_json(out / "exact.json", {"L": L, "profile": profile, "train_range": list(train_range),
                                        "temperatures": temps, "n_exact": n_exact, "models": summary})
display(Markdown(f"Wrote `exact.csv` ({len(rows)} rows) and `exact.json`."))


def pick(model, method):
    return sorted((r for r in rows if r["model"] == model and r["method"] == method), key=lambda r: r["T"])


# %% [markdown]
# ## Observables against temperature
#
# For each Bernoulli model: raw, SNIS, IMH and the longest hybrid arm against Monte Carlo (circles)
# and the exact torus (line). The training range is shaded.

# %%
QTY = [("e", "energy per spin $e$ [J]"), ("C", r"specific heat $C$ per spin [$k_B$]"),
       ("m_abs", r"$\langle|m|\rangle$"), ("chi", r"susceptibility $\chi$ per spin [1/J]"),
       ("U4", r"Binder cumulant $U_4$")]
last = f"hybrid-{max(sweeps)}"
styles = {"raw": dict(color="C3", marker="x"), "snis": dict(color="C0", marker="o"),
          "imh": dict(color="C2", marker="s"), last: dict(color="C4", marker="^")}
Tf = np.linspace(min(temps) - 0.05, max(temps) + 0.05, 200)
e_fs, c_fs = exact.finite_size(L, Tf)
for m in models:
    fig, axes = plt.subplots(1, len(QTY), figsize=(4.0 * len(QTY), 3.6))
    for ax, (key, lab) in zip(axes, QTY):
        plots.shade_training(ax, train_range)
        if key in ("e", "C"):
            ax.plot(Tf, e_fs if key == "e" else c_fs, "k-", lw=1, label=f"exact torus L = {L}")
        ax.errorbar(temps, [mc_stats[T][key] for T in temps], [mc_stats[T][f"{key}_err"] for T in temps],
                    fmt="o", color="k", mfc="white", ms=4, capsize=2, label="MC (±1σ)")
        for j, (meth, st) in enumerate(styles.items()):
            rr = pick(m, meth)
            ax.errorbar(np.array([r["T"] for r in rr]) + 0.015 * (j - 1.5), [r[key] for r in rr],
                        [r[f"{key}_err"] for r in rr], fmt="-", lw=0.8, ms=4, capsize=2, label=meth, **st)
        ax.set_xlabel("temperature T [J/k_B]"), ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{m}: raw, importance-corrected (SNIS, IMH) and relaxed ({last}) estimates")
    fig.tight_layout()
    keep_figure(fig, f"exact-observables-{m}.png")
    plt.show()

# %% [markdown]
# ### z-scores
#
# $z = (\text{estimate} - \text{reference})/\sigma$: against the exact torus for $e$, $C$ and
# $\ln Z/N$; against Monte Carlo (errors combined) for $\langle|m|\rangle$, $\chi$ and $U_4$.

# %%
zcols = ["z_e", "z_c", "z_m_abs", "z_chi", "z_U4", "z_logz"]
lines = ["| model | T | method | ESS/n | " + " | ".join(zcols) + " |", "|---" * (4 + len(zcols)) + "|"]
for r in rows:
    if r["model"] in models and r["method"] in styles:
        lines.append(f"| {r['model']} | {r['T']:g}{'' if inside[r['T']] else ' (out)'} | {r['method']} | "
                     f"{r['ess'] / r['n']:.3f} | " + " | ".join("" if not np.isfinite(r[c]) else f"{r[c]:+.1f}"
                                                            for c in zcols) + " |")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Efficiency: ESS, IMH acceptance and the KL ceiling
#
# The dashed line is $\exp(-N\cdot\mathrm{KL}_\mathrm{bound})$ from held-out Monte Carlo
# configurations: in the limit of many samples ESS/$n$ cannot exceed it (up to the noise of the bound).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax in axes:
    plots.shade_training(ax, train_range)
for m in models:
    c = plots.color_of(m)
    sn, im = pick(m, "snis"), pick(m, "imh")
    Ts = [r["T"] for r in sn]
    axes[0].plot(Ts, [r["ess"] / r["n"] for r in sn], "o-", color=c, label=f"{m}: SNIS ESS/n")
    axes[0].plot(Ts, [r["ess_ceiling"] for r in sn], "--", color=c, label=f"{m}: exp(−N·KL bound)")
    axes[1].plot(Ts, [r["acceptance"] for r in im], "s-", color=c, label=f"{m}: IMH acceptance")
    axes[1].plot(Ts, [r["ess"] / r["n"] for r in im], "^:", color=c, label=f"{m}: IMH 1/(2τ_int)")
axes[0].axhline(1 / n_exact, color="0.5", lw=0.8, ls=":", label="1/n: the floor (one sample carries all weight)")
for ax, lab in zip(axes, ["ESS / n", "acceptance rate, 1/(2τ_int)"]):
    ax.set_yscale("log"), ax.set_xlabel("temperature T [J/k_B]"), ax.set_ylabel(lab), ax.legend(fontsize=7)
fig.tight_layout()
keep_figure(fig, "exact-ess.png")
plt.show()

# %% [markdown]
# ## The partition function
#
# $\ln\hat Z/N$ from the mean weight, minus Kaufman's exact value for the same torus, with its
# delta-method error.

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
plots.shade_training(ax, train_range)
for m in models:
    sn = pick(m, "snis")
    ax.errorbar([r["T"] for r in sn], [r["logz"] - r["exact_logz"] for r in sn], [r["logz_err"] for r in sn],
                fmt="o-", capsize=2, color=plots.color_of(m), label=m)
ax.axhline(0, color="k", lw=0.8, label="exact (Kaufman)")
ax.set_xlabel("temperature T [J/k_B]"), ax.set_ylabel(r"$\ln\hat Z/N - \ln Z_\mathrm{exact}/N$ [nats per spin]")
ax.legend()
keep_figure(fig, "exact-logz.png")
plt.show()

# %% [markdown]
# ## Cost per effective sample
#
# Wall time behind a model's samples divided by their ESS (SNIS), by $n/2\tau_\mathrm{int}$ (IMH),
# or by $n$ (raw, hybrid: not exact); against Monte Carlo's time per independent configuration,
# $2\tau_\mathrm{int}$ sweeps (from the Monte Carlo chapter's $\tau_\mathrm{int}$ scan where it has the
# temperature, measured here otherwise).

# %%
mcres = out / "03-ising-monte-carlo.json"
scan = json.loads(mcres.read_text())["tau_scan"] if mcres.exists() else {}
mc_cost = {}
for meth in ("metropolis", "wolff"):
    d = scan.get(meth, {"T": [], "seconds_per_independent": []})
    known = {round(float(T), 2): s for T, s in zip(d["T"], d["seconds_per_independent"])}
    need = [T for T in temps if T not in known]
    if need:
        tau_seed = seed_for(seed, "mc-exact-tau")
        extra = store.json("exact_tau_scan", {"L": L, "T": need, "method": meth, "seed": tau_seed, "version": ensembles.VERSION},
                           lambda: ensembles.tau_scan(L, need, methods=(meth,), seed=tau_seed, n_chains=32, progress=False))
        known |= {round(float(T), 2): s for T, s in zip(extra[meth]["T"], extra[meth]["seconds_per_independent"])}
    mc_cost[meth] = [known[T] for T in temps]
fig, ax = plt.subplots(figsize=(7, 4))
plots.shade_training(ax, train_range)
for meth, mk in (("metropolis", "k--"), ("wolff", "k:")):
    ax.plot(temps, mc_cost[meth], mk, label=f"{meth} per independent configuration")
for m in models:
    for meth, mk in (("snis", "o-"), ("imh", "s-."), ("raw", "x:")):
        rr = pick(m, meth)
        ax.plot([r["T"] for r in rr], [r["seconds_per_effective_sample"] for r in rr], mk, color=plots.color_of(m),
                label=f"{m} {meth}")
ax.set_yscale("log"), ax.set_xlabel("temperature T [J/k_B]"), ax.set_ylabel("seconds per effective sample")
ax.legend(fontsize=7)
keep_figure(fig, "exact-cost.png")
plt.show()

# %% [markdown]
# ## The hybrid arm for every model
#
# Mean over temperatures of $|e - e_\mathrm{exact}|$ and of $|C - c_\mathrm{exact}|/c_\mathrm{exact}$
# against the number of added sweeps (left) and against the seconds per sample (right); 0 sweeps is
# the raw model. Monte Carlo from a random start is not shown: a sweep count alone says nothing of
# a random start's equilibration, which the Monte Carlo chapter covers.

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 7))
for m in every:
    ns = [0] + sorted(set(sweeps) - {0})
    per = [pick(m, "raw")] + [pick(m, f"hybrid-{n}") for n in ns[1:]]
    de = [np.mean([abs(r["e"] - r["exact_e"]) for r in rr]) for rr in per]
    dc = [np.mean([abs(r["C"] - r["exact_c"]) / r["exact_c"] for r in rr]) for rr in per]
    sec = [np.mean([r["seconds_per_effective_sample"] for r in rr]) for rr in per]
    c = plots.color_of(m)
    for row, y in ((0, de), (1, dc)):
        axes[row, 0].plot(np.array(ns) + 1, y, "o-", color=c, label=m)
        axes[row, 1].plot(sec, y, "o-", color=c, label=m)
    for meth, mk in (("snis", "*"), ("imh", "P")):
        rr = pick(m, meth)
        if rr:
            for row, key, ref in ((0, "e", "exact_e"), (1, "C", "exact_c")):
                y = np.mean([abs(r[key] - r[ref]) / (r[ref] if key == "C" else 1) for r in rr])
                axes[row, 1].plot(np.mean([r["seconds_per_effective_sample"] for r in rr]), y, mk, ms=11, color=c,
                                  label=f"{m} {meth}")
for row, lab in ((0, "mean |e − e_exact| [J per spin]"), (1, "mean |C − c_exact| / c_exact")):
    axes[row, 0].set_xlabel("Metropolis sweeps added + 1"), axes[row, 1].set_xlabel("seconds per (effective) sample")
    for ax in axes[row]:
        ax.set_xscale("log"), ax.set_yscale("log"), ax.set_ylabel(lab)
axes[0, 0].legend(fontsize=7), axes[0, 1].legend(fontsize=6)
fig.tight_layout()
keep_figure(fig, "exact-hybrid.png")
plt.show()

# %% [markdown]
# ## What the files say

# %%
text = reweight.exact_markdown(rows, summary, models, L, n_exact, train_range)
comparisons.update_verdict(out / "verdict.json", "exact", {"L": L, "n_exact": n_exact, "temperatures": temps, "models": summary})
_ = atomic_write_text(repo_root() / "book" / "generated" / "exact.md",
                      f"Rendered from `results/{profile}/exact.csv` and `exact.json`.\n\n" + text + "\n")
display(Markdown(text))
