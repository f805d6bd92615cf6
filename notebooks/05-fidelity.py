# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Thermodynamic fidelity
#
# Every model of the training chapters generated configurations on the test grid. Here they are
# measured the way {cite:t}`lee2024thermodynamic` measured diffusion models and GANs, but against an
# independent Monte Carlo ensemble (a different seed from the training data) and against the exact
# finite-size solution of the same $L\times L$ torus. Every point carries a bootstrap error bar; the
# training range is shaded. The test grid is split three ways: **seen** temperatures (the training
# temperatures themselves), **unseen** ones between them (interpolation, never trained on) and
# **outside** the training range (extrapolation). Every model and training seed is scored on the same
# number of samples per temperature, and the noise floor (a second, independent Monte Carlo ensemble)
# at that same number.

# %% tags=["parameters"]
profile = "smoke"          # str
device = "auto"            # {auto, cpu, cuda}
L = 8                      # [4, 256] lattice side
models = ["adsorption", "adsorption-nolateral", "adsorption-checkerboard", "ddpm-matched", "ddpm", "gan", "gan-m"]  # str each: trained runs shown in the figures (results/<profile>/models/<name>.json)
seed_models = []           # str each: further training seeds of the same kinds, used for the seed spread of the verdict
fine_models = []           # str each: runs trained on the fine grid (DiffIsing2), compared with their coarse-grid kind
subset_models = []         # str each: runs sampled only on a subset of the test grid (the ancestral DDPM-1000 seeds)
budget_models = []         # str each: runs whose training snapshots were sampled (results/<profile>/budget/<name>.npz)
grid = "coarse"            # {coarse, fine} the training grid of the models (its range is shaded)
test_start = 1.0           # [0.1, 20] first test temperature, J/k_B
test_stop = 4.0            # [0.1, 20] last test temperature, J/k_B
test_step = 1.0            # (0, 5] test grid spacing, J/k_B
n_test = 200               # [10, 1000000] Monte Carlo configurations per test temperature
method = "auto"            # {auto, metropolis, wolff} Monte Carlo sampler of the reference ensembles
mc_backend = "numba"       # {numba, torch} as in the Monte Carlo chapter (selects the cached ensembles)
seed = 0                   # [0, 2147483647] root Monte Carlo seed (adsorbstudy.study.seeds: one stream per purpose)
n_boot = 100               # [10, 10000] bootstrap resamples
rmax = 0                   # [0, 1000] largest r of the G(r) fit; 0 = L/2
trajectory_T = [1.8, 2.3, 2.8]  # [0.1, 20] temperatures of the generative-step trajectories
n_trajectory = 16          # [1, 10000] chains averaged per trajectory (seed 004 used 100)
n_heldout = 64             # [1, 100000] held-out configurations per T for the KL bound
n_tc = 200                 # [10, 100000] configurations at T_c itself for G(r) and η (MC and each model)

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from adsorbstudy.analysis import comparisons, decision, plots, reweight, tables, wording
from adsorbstudy.generators.families import ADSORPTION_KINDS
from adsorbstudy.generators.train import load_trained
from adsorbstudy.physics import ensembles, exact, grids, lattice, montecarlo, observables
from adsorbstudy.study.profile import load_profile, training_seeds
from adsorbstudy.study.runtime import pick_device, repo_root, results_dir
from adsorbstudy.study.seeds import seed_for
from adsorbstudy.study.store import atomic_write, atomic_write_text, load_npz, save_npz, study_store

store = study_store(profile)
dev = pick_device(device)
out = results_dir(profile)
temps = grids.test_grid(test_start, test_stop, test_step)
mc_device = None if mc_backend == "numba" else str(dev)
train_T = grids.TRAIN_GRIDS[grid]
train_range = (min(train_T), max(train_T))
every = list(dict.fromkeys(models + seed_models + fine_models + subset_models))
missing = [m for m in every if not (out / "models" / f"{m}.json").exists()]
if missing:
    raise ValueError(f"models: no trained run {missing} in {out / 'models'}; run the training chapters first")
specs = {m: json.loads((out / "models" / f"{m}.json").read_text()) for m in every}
# Runs pooled as training seeds must differ in the seed only, and every run on the full test grid is
# scored on the same number of samples per temperature.
arms = comparisons.check_poolable({m: specs[m] for m in dict.fromkeys(models + seed_models)})
if subset_models:
    comparisons.check_poolable({m: specs[m] for m in subset_models})
full = [m for m in every if m not in subset_models]
n_eval = {specs[m]["n_samples_per_T"] for m in full}
if len(n_eval) != 1:
    raise ValueError(f"n_samples: every run on the test grid must have the same number of samples per temperature; "
                     + ", ".join(f"{m}: {specs[m]['n_samples_per_T']}" for m in full))
n_eval = n_eval.pop()
figdir = repo_root() / "book" / "generated" / "figures"


def keep_figure(fig, name):
    """Save a figure for the results page (atomically), beside showing it here."""
    atomic_write(figdir / name, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))


print(f"L = {L}, {len(temps)} test temperatures {temps[0]}…{temps[-1]}, training range {train_range}")

# %% [markdown]
# ## The reference ensembles and every model's statistics
#
# The Monte Carlo test ensembles are independent of the training data (their own random stream, as in the Monte Carlo chapter). Each
# model's samples were saved by its training chapter in `results/<profile>/samples/<model>.npz`.

# %%
mc = {T: ens.configs for T, ens in ensembles.cached_ensembles(store, L, temps, n_test, method=method, seed=seed_for(seed, "mc-test"),
                                                          device=mc_device).items()}
samples = {m: tables.load_samples(out / "samples" / f"{m}.npz") for m in every}
lost = {m: sorted(set(temps) - set(samples[m])) for m in full if set(temps) - set(samples[m])}
if lost:
    raise ValueError(f"test grid: the samples of {lost} lack these temperatures; retrain with the same test grid")
subset_T = sorted(samples[subset_models[0]]) if subset_models else []
if any(T not in temps for T in subset_T) or any(sorted(samples[m]) != subset_T for m in subset_models):
    raise ValueError(f"subset_models: every subset run must sample the same test-grid temperatures; got "
                     + ", ".join(f"{m}: {sorted(samples[m])}" for m in subset_models))
samples = {m: {T: samples[m][T] for T in (subset_T if m in subset_models else temps)} for m in every}
# A second, independent Monte Carlo ensemble of the models' sample size: the floor that finite
# samples alone put under every distance in the table.
n_floor = n_eval
mc_floor = {T: ens.configs for T, ens in ensembles.cached_ensembles(store, L, temps, n_floor, method=method,
                                                                seed=seed_for(seed, "mc-independent"), device=mc_device).items()}
# Both Monte Carlo ensembles are saved beside the models' samples, so every row of summary.csv
# can be recomputed from results/<profile>/samples alone.
for name, ens in (("MC", mc), ("MC-independent", mc_floor)):
    save_npz(out / "samples" / f"{name}.npz", {tables.temperature_key(T): ens[T] for T in temps})
rows = tables.summary_rows("MC", mc, mc, L, n_boot=n_boot, train_T=train_T)
rows += tables.summary_rows("MC-independent", mc_floor, mc, L, n_boot=n_boot, train_T=train_T)
for m in full:
    rows += tables.summary_rows(m, samples[m], mc, L, n_boot=n_boot, nfe=specs[m].get("nfe"),
                                seconds_per_1000=specs[m].get("seconds_per_1000"), train_T=train_T)
tables.write_summary_csv(out / "summary.csv", rows)
by_model = {name: [r for r in rows if r["model"] == name] for name in ["MC", "MC-independent", *full]}
regions = {T: tables.region_of(T, train_T) for T in temps}
display(Markdown(f"Wrote `summary.csv` with {len(rows)} rows ({len(full)} trained runs and MC × {len(temps)} temperatures; "
                 f"{n_eval} samples per temperature for every run). Test temperatures: "
                 + "; ".join(f"{reg} {sum(r == reg for r in regions.values())}" for reg in comparisons.CLAIM_REGIONS) + "."))

# %% [markdown]
# ## Energy, magnetization, specific heat and susceptibility
#
# The seed-004 Figure 3 for all models at once. Black circles are the Monte Carlo test ensembles,
# the solid black line the exact finite-size result at the same $L$, the dashed grey line Onsager's
# infinite lattice; the dotted vertical line is $T_c$.

# %%
fig = plots.thermo_panels({k: by_model[k] for k in ["MC", *models]}, L, train_range=train_range,
                          title=f"All models, L = {L}")
keep_figure(fig, "fidelity-thermo.png")
plt.show()

# %% [markdown]
# ### What the lateral coupling adds: the adsorption generator against its no-lateral ablation

# %%
pair = [m for m in ("adsorption", "adsorption-nolateral") if m in models]
if pair:
    fig = plots.thermo_panels({k: by_model[k] for k in ["MC", *pair]}, L, train_range=train_range,
                              title="adsorption generator vs binomial diffusion (ε_a ≡ 0)")
    keep_figure(fig, "fidelity-ablation.png")
    plt.show()

# %% [markdown]
# ### Coarse against fine training grid (seed 004's DiffIsing1 against DiffIsing2)
#
# The fine grid adds temperatures every 0.05 between 2.0 and 2.5, around $T_c$. Runs listed in
# `fine_models` are drawn beside the coarse-grid run of the same kind.

# %%
for fm in fine_models:
    coarse = next((m for m in models if specs[m]["kind"] == specs[fm]["kind"]), None)
    curves = {"MC": by_model["MC"], **({f"{coarse} (coarse grid)": by_model[coarse]} if coarse else {}),
              f"{fm} (fine grid)": by_model[fm]}
    fig = plots.thermo_panels(curves, L, train_range=train_range,
                              title=f"{specs[fm]['kind']}: coarse vs fine training grid (dense band hatched)")
    for ax in fig.axes:
        ax.axvspan(2.0, 2.5, fill=False, hatch="//", edgecolor="0.6", lw=0)
    keep_figure(fig, f"fidelity-grid-{fm}.png")
    plt.show()
if not fine_models:
    display(Markdown("This profile trains no fine-grid runs (`fine_models` is empty); the paper profile does."))

# %% [markdown]
# ### The GANs (seed 004's GAN figure)

# %%
gans = [m for m in models if specs[m]["kind"].startswith("gan")]
if gans:
    fig = plots.thermo_panels({k: by_model[k] for k in ["MC", *gans]}, L, train_range=train_range,
                        title="conditional WGAN with and without the magnetization loss")
    plt.show()

# %% [markdown]
# ### The Binder cumulant
#
# $U_4 = 1 - \langle m^4\rangle / 3\langle m^2\rangle^2$ of the signed magnetization tends to 2/3 in
# the ordered phase and to 0 in the disordered one, and its finite-size curves cross at $T_c$. It tests
# the shape of the magnetization distribution, not only its mean: a model whose $|m|$ is right
# on average but whose distribution is too narrow or too broad misses it.

# %%
fig = plots.thermo_panels({k: by_model[k] for k in ["MC", *models]}, L, train_range=train_range,
                          quantities=[("U4", r"Binder cumulant $U_4$ (signed $m$)")], log_keys=(),
                          title=f"Binder cumulant, L = {L}")
keep_figure(fig, "fidelity-binder.png")
plt.show()

# %% [markdown]
# ## How fidelity depends on the training budget
#
# Every seed of the adsorption generator, its ablation and both DDPMs kept its weights at regular
# optimizer steps (the training chapter's `snapshot_every`); each snapshot was sampled at a few fixed
# test temperatures with a fixed sample count and the sampler of the run's test-grid samples. Lines are
# the seed means, bands the seed-to-seed standard deviation; triangles mark each seed's selected
# checkpoint (the validation-loss rule) on its own curve. The snapshots play no part in model selection.
# Below the figure, each gap is stated at the last snapshot with its interval, and its trend is the
# regression of every seed's curve on ln(optimizer steps) over all snapshots, with Welch's interval.

# %%
budget, arm_run, selected = {}, {}, {}
for m in budget_models:
    arm_run.setdefault(comparisons.arm_of(specs[m]), m)
    budget.setdefault(comparisons.arm_of(specs[m]), []).append(
        comparisons.budget_curve(load_npz(out / "budget" / f"{m}.npz"), mc))
    # the checkpoint the selection rule kept (validation loss), marked on its own seed's curve
    selected.setdefault(comparisons.arm_of(specs[m]), []).append((specs[m]["best_step"], budget[comparisons.arm_of(specs[m])][-1]))
if budget:
    fig, axes = plt.subplots(1, len(comparisons.BUDGET_METRICS), figsize=(4.4 * len(comparisons.BUDGET_METRICS), 3.6))
    for ax, (key, label) in zip(axes, comparisons.BUDGET_METRICS):
        for arm_name, curves in budget.items():
            steps_b = curves[0]["step"]
            vals = np.array([c[key] for c in curves])
            mean, sd = vals.mean(0), (vals.std(0, ddof=1) if len(curves) > 1 else np.zeros(vals.shape[1]))
            ax.plot(steps_b, mean, ".-", color=plots.color_of(arm_run[arm_name]),
                    label=f"{arm_name} ({len(curves)} seeds)")
            ax.fill_between(steps_b, mean - sd, mean + sd, color=plots.color_of(arm_run[arm_name]),
                            alpha=0.2, lw=0)
            for step, curve in selected[arm_name]:
                if step in curve["step"]:
                    ax.plot(step, curve[key][curve["step"].index(step)], "v", ms=6, mfc="none",
                            color=plots.color_of(arm_run[arm_name]))
        ax.plot([], [], "v", mfc="none", color="k", label="selected checkpoint (one per seed)")
        ax.set_xlabel("optimizer steps (log scale)"), ax.set_ylabel(f"{label} (mean over T)")
        ax.set_xscale("log"), ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    T_b = next(iter(budget.values()))[0]["T"]
    fig.suptitle(f"Fidelity along training at T = {', '.join(f'{t:g}' for t in T_b)} "
                 f"({next(iter(budget.values()))[0]['n']} samples per T and snapshot)", fontsize=10)
    fig.tight_layout()
    keep_figure(fig, "fidelity-budget.png")
    plt.show()
else:
    display(Markdown("This profile samples no training snapshots (`budget_models` is empty)."))

# %% [markdown]
# ## Correlations at and around $T_c$
#
# $G(r)$ along the lattice axes, fitted with $G(r) = A\,r^{-\eta}e^{-r/\xi}$. The exact exponent of the
# infinite lattice is $\eta = 1/4$; on a small torus the fit is biased by the periodic images, so the
# Monte Carlo value at the same $L$ is the fair reference.

# %%
below = max((T for T in temps if T < exact.TC), default=None)
above = min((T for T in temps if T > exact.TC), default=None)
T_eta = round(exact.TC, 6)
corr_T = [T for T in (below, T_eta, above) if T is not None]
r_max = rmax or L // 2
loaded = {m: load_trained(m, profile, device=str(dev)) for m in models}
# T_c is not on the test grid: sample it directly, every model with the sampler of its test-grid samples
mc_tc = ensembles.cached_ensembles(store, L, [T_eta], n_tc, method="wolff", seed=seed_for(seed, "mc-eta"), device=None)[T_eta].configs
at_tc = {"MC": mc_tc} | {m: loaded[m].sample(n_tc, T_eta, seed=seed_for(seed, "sample-eta"), steps=specs[m].get("sample_steps")).numpy()
                         for m in models}


def ensemble_at(name, T):
    if T == T_eta:
        return at_tc[name]
    return mc[T] if name == "MC" else samples[name][T]


def eta_fit(configs):
    """η, ξ with bootstrap errors; NaN where G(r) has too few significant points to fit."""
    try:
        return observables.eta_bootstrap(configs, rmax=r_max, n_boot=min(n_boot, 100), seed=0)
    except ValueError:
        return {"eta": float("nan"), "eta_err": float("nan"), "xi": float("nan"), "xi_err": float("nan")}


corr_rows = []
fig, axes = plt.subplots(1, len(corr_T), figsize=(4.2 * len(corr_T), 3.6), squeeze=False)
for ax, T in zip(axes[0], corr_T):
    for name in ["MC", *models]:
        configs = ensemble_at(name, T)
        r, G, G_err = observables.correlation(configs)
        fit = eta_fit(configs)
        corr_rows.append({"model": name, "T": T, **fit})
        style = (dict(fmt="o", color="k", mfc="white", ms=4, capsize=2) if name == "MC"
                 else dict(fmt=".-", ms=4, color=plots.color_of(name)))
        keep = G > 2 * G_err  # the points the fit uses; the others are not significantly positive
        ax.errorbar(r[keep], G[keep], yerr=G_err[keep],
                    label=f"{name}: η = {wording.fmt_pm(fit['eta'], fit['eta_err'])}", **style)
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("distance r [lattice units]"), ax.set_ylabel("G(r) = ⟨σ_0 σ_r⟩")
    ax.set_title(f"T = {T:.3f}" + (" = T_c" if T == T_eta else "")), ax.legend(fontsize=7)
fig.tight_layout()
keep_figure(fig, "fidelity-correlation.png")
plt.show()
eta_at = {row["model"]: row for row in corr_rows if row["T"] == T_eta}
display(Markdown("\n".join([f"| ensemble | η at T_c = {T_eta:.4f} | ξ [lattice units] |", "|---|---|---|"] + [
    f"| {m} | {wording.fmt_pm(r['eta'], r['eta_err'])} | {wording.fmt_pm(r['xi'], r['xi_err'])} |"
    for m, r in eta_at.items()])))

# %% [markdown]
# ## Diversity: mean pairwise Hamming distance (seed 004's Figure 6)
#
# With the global spin flip factored out (the distance to the nearer of a configuration and its
# flip), a collapsed model shows up at every temperature; the raw distance mostly measures the sign
# balance below $T_c$.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, sym in zip(axes, (False, True)):
    plots.shade_training(ax, train_range)
    for name, ens in [("MC", mc), *((m, samples[m]) for m in models)]:
        h = np.array([observables.hamming(ens[T], flip_symmetric=sym, seed=0) for T in temps])
        style = (dict(fmt="o", color="k", mfc="white", ms=4, capsize=2) if name == "MC"
                 else dict(fmt=".-", color=plots.color_of(name)))
        ax.errorbar(temps, h[:, 0], yerr=h[:, 1], label=name, **style)
    ax.set_xlabel("temperature T [J/k_B]")
    ax.set_ylabel("mean Hamming distance [fraction of sites]")
    ax.set_title("flip factored out" if sym else "raw")
axes[0].legend(fontsize=8)
fig.tight_layout()
keep_figure(fig, "fidelity-hamming.png")
plt.show()

# %% [markdown]
# ## Distributions of e and m at a low T, near $T_c$ and at a high T
#
# Broad low-temperature energy distributions are where seed 004 found its spurious specific-heat
# excess; a single narrow peak in m where Monte Carlo is bimodal is mode collapse.

# %%
picks = [temps[0], min(temps, key=lambda T: abs(T - exact.TC)), temps[-1]]
fig, axes = plt.subplots(2, 3, figsize=(12, 6))
for j, T in enumerate(picks):
    ens_T = {"MC": mc[T]} | {m: samples[m][T] for m in models}
    e_all = np.concatenate([lattice.energy(c) for c in ens_T.values()])
    # energies are multiples of 4/N apart: bins of exactly that width, shared by every ensemble
    step = 4.0 / L**2
    e_bins = np.arange(e_all.min() - step / 2, e_all.max() + step, max(step, (e_all.max() - e_all.min()) / 40))
    m_bins = np.linspace(-1, 1, 2 * min(L * L // 2, 25) + 2)
    for name, cfgs in ens_T.items():
        kw = dict(histtype="step", lw=1.6 if name == "MC" else 1.0, color=plots.color_of(name), label=name)
        axes[0, j].hist(lattice.energy(cfgs), bins=e_bins, density=True, **kw)
        axes[1, j].hist(lattice.magnetization(cfgs), bins=m_bins, density=True, **kw)
    axes[0, j].set_title(f"T = {T:.2f}")
    axes[0, j].set_xlabel("energy per spin e [J]"), axes[1, j].set_xlabel("magnetization per spin m")
    axes[0, j].set_ylabel("density"), axes[1, j].set_ylabel("density")
axes[0, 0].legend(fontsize=7)
fig.tight_layout()
keep_figure(fig, "fidelity-histograms.png")
plt.show()

# %% [markdown]
# ## Snapshots (seed 004's Figure 7)

# %%
snap_T = sorted({temps[0], min(temps, key=lambda T: abs(T - exact.TC)), temps[-1]})
fig = plots.snapshots({name: {T: ens[T][:2] for T in snap_T}
                       for name, ens in [("MC", mc), *((m, samples[m]) for m in models)]},
                      title="two configurations per ensemble and temperature (black σ = −1, white σ = +1)")
keep_figure(fig, "fidelity-snapshots.png")
plt.show()

# %% [markdown]
# ## Along the generative steps (seed 004's Figure 4)
#
# The mean energy and $|m|$ of the current state along the reverse process, averaged over
# `n_trajectory` independent starts, against Metropolis relaxation from a random
# (infinite-temperature) start. One generative step is one network evaluation (DDPM is traced with
# the sampler of its test-grid samples); one Metropolis step is one sweep ($L^2$ attempted flips).
# The x axis counts steps from the random start on a log scale.

# %%
steppers = [m for m in models if specs[m]["kind"] in (*ADSORPTION_KINDS, "ddpm")]
fig, axes = plt.subplots(2, len(trajectory_T), figsize=(4.4 * len(trajectory_T), 6.4), squeeze=False)
for j, T in enumerate(trajectory_T):
    n_steps = 1
    for m in steppers:
        tr = loaded[m].trajectory(n_trajectory, T, seed=seed_for(seed, "sample-trajectory"), steps=specs[m].get("sample_steps"))
        x = np.asarray(tr["step"], float)  # 0 = the random start, then one per network evaluation
        n_steps = max(n_steps, int(x.max()))
        lab = f"{m} ({int(x.max())} steps)"
        axes[0, j].plot(x + 1, tr["e"], color=plots.color_of(m), label=lab)
        axes[1, j].plot(x + 1, tr["m_abs"], color=plots.color_of(m), label=lab)
    rel = montecarlo.metropolis_relaxation(L, T, n_trajectory, n_steps, seed=seed_for(seed, "mc-relaxation"))
    xs = np.asarray(rel["sweeps"], float) + 1
    for row, key in ((0, "e"), (1, "m_abs")):
        axes[row, j].plot(xs, rel[key], "k--", lw=1, label="Metropolis (1 step = 1 sweep)")
        axes[row, j].fill_between(xs, rel[key] - rel[f"{key}_err"], rel[key] + rel[f"{key}_err"], color="0.7",
                                  alpha=0.5, lw=0)
    e_x, _ = exact.finite_size(L, np.array([T]))
    axes[0, j].axhline(float(np.ravel(e_x)[0]), color="0.4", lw=0.8, ls=":", label="exact ⟨e⟩ (torus)")
    if T in mc:
        axes[1, j].axhline(float(np.abs(lattice.magnetization(mc[T])).mean()), color="0.4", lw=0.8, ls=":",
                           label="MC ⟨|m|⟩ (test ensemble)")
    axes[0, j].set_title(f"T = {T:.2f}")
    for row in (0, 1):
        axes[row, j].set_xscale("log")
        axes[row, j].set_xlabel("steps from the random start + 1")
    axes[0, j].set_ylabel("energy per spin e [J]"), axes[1, j].set_ylabel("⟨|m|⟩")
axes[0, 0].legend(fontsize=7), axes[1, 0].legend(fontsize=7)
fig.tight_layout()
keep_figure(fig, "fidelity-trajectories.png")
plt.show()

# %% [markdown]
# ## A rigorous distance to the Boltzmann distribution
#
# For the two Bernoulli models the negative ELBO, $\mathrm{NLL}(s) \ge -\ln p_\theta(s)$, bounds the
# model's log-likelihood, and the Boltzmann log-likelihood is exact with the torus' $\ln Z$:
# $\ln p_\text{B}(s) = -E(s)/T - \ln Z$. On held-out Monte Carlo configurations, per spin,
#
# $$\frac{1}{N}\mathrm{KL}(p_\text{B}\,\|\,p_\theta) \le
#   \mathbb{E}_{p_\text{B}}\Big[\frac{\mathrm{NLL}(s)}{N}\Big] - \frac{\langle e\rangle}{T} - \frac{\ln Z}{N}.$$
#
# Zero would be a perfect model. The grey line is the score of the uninformed model
# $\mathrm{Bern}(1/2)$ at every site, $\ln 2 - s(T)$ with the exact entropy per spin
# $s = \ln Z/N + e_\text{exact}/T$. The forward KL forgives a model that puts mass where the
# Boltzmann distribution has none, so it complements, not replaces, the observables above.

# %%
kl = {}
bern = [m for m in models if specs[m]["kind"].startswith("adsorption")]
for m in bern:
    model = loaded.get(m) or load_trained(m, profile, device=str(dev))
    kl[m] = np.array([reweight.kl_bound(model, mc[T][:n_heldout], T) for T in temps])
e_exact_T = np.ravel(exact.finite_size(L, np.array(temps))[0])
uniform = np.log(2) - (np.array([exact.log_partition(L, T) for T in temps]) / L**2 + e_exact_T / np.array(temps))
fig, ax = plt.subplots(figsize=(6.4, 3.8))
plots.shade_training(ax, train_range)
ax.plot(temps, uniform, color="0.6", lw=1.2, label="Bern(1/2) at every site")
for m, val in kl.items():
    ax.errorbar(temps, val[:, 0], yerr=val[:, 1], fmt=".-", capsize=2, color=plots.color_of(m), label=m)
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("temperature T [J/k_B]"), ax.set_ylabel("KL bound [nats per spin]")
ax.legend()
keep_figure(fig, "fidelity-kl.png")
plt.show()

# %% [markdown]
# ## The verdict file

# %%
extras = {"MC-independent": {"kind": "MC", "sampler": "Monte Carlo, independent stream"}}
inside = np.array([train_range[0] - 1e-9 <= T <= train_range[1] + 1e-9 for T in temps])
for m in every:
    extras[m] = {"kind": specs[m]["kind"], "arm": comparisons.arm_of(specs[m]),
                 "seed": specs[m].get("training", {}).get("config", {}).get("seed"),
                 "sampler": specs[m].get("sampler"), "nonconverged": specs[m].get("nonconverged"),
                 "pixel_solves": specs[m].get("pixel_solves"), "tol": specs[m].get("tol"),
                 "grid": specs[m].get("training", {}).get("grid")}
    if m in eta_at:
        extras[m] |= {"eta": eta_at[m]["eta"], "eta_err": eta_at[m]["eta_err"]}
    if m in kl:
        for region, sel in (("inside", inside), ("outside", ~inside)):
            if sel.any():
                extras[m][f"kl_bound_{region}"] = float(np.mean(kl[m][sel, 0]))
                extras[m][f"kl_bound_{region}_err"] = float(np.sqrt(np.sum(kl[m][sel, 1] ** 2)) / sel.sum())
v = comparisons.verdict(rows, train_T, extras=extras)
v |= {"L": L, "profile": profile, "n_test": n_test, "n_eval": n_eval, "T_eta": T_eta,
      "kl_uniform_inside": float(np.mean(uniform[inside])) if inside.any() else None,
      "eta_mc": {k: eta_at["MC"][k] for k in ("eta", "eta_err")},
      # training seeds per kind of the paper profile, so the results page can state them without typing them
      "paper_seeds": training_seeds(load_profile("paper"))}
mismatch = {m: e["grid"] for m, e in extras.items() if e.get("grid") not in (None, grid) and m not in fine_models}
if mismatch:
    raise ValueError(f"grid: the shaded training range is the {grid!r} grid, but these runs trained on another: {mismatch}")
coarse_only = {"models": {m: e for m, e in v["models"].items() if m not in fine_models}}
coarse_rows = [r for r in rows if r["model"] not in fine_models]
# the matched DDPM: the run named ddpm-matched (as many noise levels as the adsorption generator has layers,
# on its ᾱ sequence when its schedule is cosine)
matched = comparisons.arm_of(specs["ddpm-matched"]) if "ddpm-matched" in specs else None
# The declared family, fixed before the data: one primary claim per decisive pair (comparisons.PRIMARY).
# adsorption vs no-lateral isolates the lateral term; no-lateral vs the matched DDPM a Bernoulli state
# against a Gaussian one at one schedule; adsorption vs the matched DDPM both at once. DDPM-1000 (seed 004's
# protocol) is secondary: shown with its interval, never called better.
DECISIVE = [("adsorption", "adsorption-nolateral"), ("adsorption", matched), ("adsorption-nolateral", matched)]
DECISIVE += [("adsorption-checkerboard", "adsorption"), ("adsorption-checkerboard", "adsorption-nolateral")]
PAIRS = DECISIVE + [("adsorption", "ddpm-1000")]
v["claims"] = [c | {"scope": "whole test grid"}
               for c in comparisons.claims(coarse_rows, coarse_only, PAIRS, train_T, decisive=DECISIVE)]
primary = [c for c in v["claims"] if c["role"] == "primary"]
if primary:
    n_seeds = min(min(c["n_a"], c["n_b"]) for c in primary)
    if n_seeds >= 2:
        v["power"] = {"effect_sd": 3.0, "n_seeds": n_seeds, "family_size": len(primary)} | {
            k: val for k, val in decision.power(3.0, n_seeds, len(primary), seed=seed_for(seed, "verdict-power")).items()
            if k in ("power", "power_se", "false_better")}

# The ancestral DDPM-1000 is sampled on a subset of the test grid only (its 1000 network evaluations per
# sample). Its comparison scores every compared run on those temperatures with the same number of samples.
if subset_models:
    n_sub = {specs[m]["n_samples_per_T"] for m in subset_models}
    if len(n_sub) != 1 or next(iter(n_sub)) > n_eval:
        raise ValueError(f"subset_models: need one sample count ≤ {n_eval} for every subset run; got {sorted(n_sub)}")
    n_sub = n_sub.pop()
    partners = [m for m in dict.fromkeys(models + seed_models) if comparisons.arm_of(specs[m]) == "adsorption"]
    cut = lambda ens: {T: ens[T][:n_sub] for T in subset_T}
    sub_rows = tables.summary_rows("MC", {T: mc[T] for T in subset_T}, mc, L, n_boot=n_boot, train_T=train_T)
    sub_rows += tables.summary_rows("MC-independent", cut(mc_floor), mc, L, n_boot=n_boot, train_T=train_T)
    for m in partners + subset_models:
        sub_rows += tables.summary_rows(m, cut(samples[m]), mc, L, n_boot=n_boot, nfe=specs[m].get("nfe"),
                                        seconds_per_1000=specs[m].get("seconds_per_1000"), train_T=train_T)
    tables.write_summary_csv(out / "summary-subset.csv", sub_rows)
    v_sub = comparisons.verdict(sub_rows, train_T, extras={m: extras[m] for m in partners + subset_models}
                           | {"MC-independent": extras["MC-independent"]})
    v["subset"] = {"T": subset_T, "n": n_sub, "models": v_sub["models"]}
    v["claims"] += [c | {"scope": f"at T = {', '.join(f'{t:g}' for t in subset_T)} only"}
                    for c in comparisons.claims(sub_rows, v_sub, [("adsorption", "ddpm-1000")], train_T)]
if budget:
    trends = [comparisons.budget_trend(budget[a], budget[b], key, a, b)
              for a, b in PAIRS if a in budget and b in budget for key, _ in comparisons.BUDGET_METRICS]
    first = next(iter(budget.values()))[0]
    v["budget"] = {"T": first["T"], "n": first["n"], "trends": trends,
                   "curves": {arm_name: curves for arm_name, curves in budget.items()}}
v = comparisons.write_verdict(out / "verdict.json", v)  # the later chapters' entries stay until they rerun
display(Markdown(wording.verdict_table(v)))
display(Markdown(wording.claims_markdown(v["claims"])))
if budget:
    display(Markdown(wording.budget_markdown(v["budget"])))
figs = [("generated/figures/fidelity-thermo.png", f"e, ⟨|m|⟩, C and χ of every model against Monte Carlo "
         f"(circles, ±1σ), the exact torus at L = {L} and Onsager; training range shaded.")]
if pair:
    figs.append(("generated/figures/fidelity-ablation.png", "The adsorption generator against its no-lateral "
                 "ablation (binomial diffusion): what the equilibrium coupling adds."))
figs.append(("generated/figures/fidelity-correlation.png", r"$G(r)$ below, at and above $T_c$ with the fitted $\eta$."))
figs += [(f"generated/figures/fidelity-grid-{fm}.png", f"{fm}: the fine training grid against the coarse one.")
         for fm in fine_models]
figs.append(("generated/figures/fidelity-binder.png", r"The Binder cumulant $U_4$ of the signed magnetization "
             "against Monte Carlo; training range shaded."))
if budget:
    figs.append(("generated/figures/fidelity-budget.png", "Fidelity against optimizer steps at fixed test "
                 "temperatures: seed means and seed-to-seed spread of every arm."))
if kl:
    figs.append(("generated/figures/fidelity-kl.png", wording.KL_TEXT + " per spin from the "
                 "ELBO on held-out Monte Carlo configurations and the exact ln Z of the torus."))
_ = atomic_write_text(repo_root() / "book" / "generated" / "verdict.md", wording.verdict_markdown(v, figs))
