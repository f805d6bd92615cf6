# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Training the {{ model }} generator (run {{ run }})
#
# This chapter runs once per model family. Each run trains one temperature-conditioned generator
# on the Monte Carlo ensembles of the training grid, or reuses the cached checkpoint when the
# parameters have not changed. It then samples the test grid for the evaluation chapter. The model families are:
#
# - **adsorption**: the Bernoulli adsorption diffusion of DESIGN §3. Each of the K reverse
#   layers solves seed 000's Eq. 6 at every site, with U-Net energies ε_s and ε_a and a
#   self-consistent lateral coupling.
# - **adsorption-nolateral**: the same model with ε_a ≡ 0, which is binomial diffusion. This
#   ablation isolates what the lateral adsorption equilibrium adds.
# - **adsorption-checkerboard**: correlated layers. One checkerboard sublattice is drawn from the Eq. 6
#   solve, the other given those sampled neighbours, so the lateral term acts on real occupancies and
#   the trajectory likelihood stays exact (the sublattice drawn first alternates from layer to layer).
# - **ddpm**: seed 004's diffusion model, with 1000 steps, Ho et al.'s linear β, ε-prediction and the
#   same U-Net trunk. The *matched* DDPM runs the same model on the adsorption generator's cosine ᾱ
#   sequence, level for level (`n_steps` = K, `schedule: cosine`), and samples ancestrally with the
#   posterior variance: the same schedule, noise-level count, NFE and optimizer budget as the adsorption
#   generator.
# - **gan** and **gan-m**: seed 004's conditional WGAN with weight clipping, and the "M⊂L" variant
#   with a magnetization loss.
#
# Conventions: spins σ = ±1, occupancies s = (σ+1)/2, and temperatures in units of J/k_B. The
# networks receive the raw temperature T, not T/Tc. The adsorption models are trained on the ELBO
# alone, with no auxiliary x₀ term. DDPM uses seed 004's ε-MSE. Every model keeps the checkpoint
# with the lowest validation loss on held-out training-grid frames, evaluated at the same interval,
# so every model has the same number of candidate checkpoints. The GAN has no likelihood: its
# validation curve is its own objective on held-out frames, the critic's Wasserstein estimate
# E[D(x_MC)] − E[D(G(z))], but every checkpoint has its own critic, so these estimates are not on one
# scale and the GAN keeps its **last** checkpoint instead. No model is selected on the evaluation
# observables (e, |m|, C, χ) or on test temperatures.

# %% tags=["parameters"]
profile = "smoke"        # str           injected by the study runner
device = "auto"          # {auto, cpu, cuda}
model = "adsorption"     # {adsorption, adsorption-nolateral, adsorption-checkerboard, ddpm, gan, gan-m} model family
name = ""                # str           results name (results/<profile>/models/<name>.json); "" = the model family
L = 8                    # [4, 256] lattice side
grid = "coarse"          # {coarse, fine} training grid (seed 004 DiffIsing1 / DiffIsing2)
n_train = 200            # [10, 1000000] MC configurations per training temperature (as the Monte Carlo chapter)
method = "auto"          # {auto, metropolis, wolff} MC sampler of the training ensembles (as the Monte Carlo chapter)
mc_backend = "numba"     # {numba, torch} MC backend (as the Monte Carlo chapter, so its cache is reused)
mc_seed = 0              # [0, 2147483647] base seed of the training ensembles (the Monte Carlo chapter's seed)
seed = 0                 # [0, 2147483647] training seed (weights, batches, noise)
steps = 60               # [1, 10000000] optimizer steps (GAN: generator steps)
batch = 64               # [1, 100000] configurations per step
lr = 0.002               # (0, 1) AdamW learning rate (cosine decay to 10 %)
ema = 0.0                # [0, 1) EMA decay of the weights; 0 = off
val_every = 20           # [1, 10000000] validation (and best-model check) interval, steps
base = 8                 # [1, 1024] U-Net channels at full resolution (adsorption, DDPM)
depth = 1                # [1, 6] U-Net resolutions; L must be divisible by 2**(depth-1)
emb_dim = 32             # [2, 1024] step / temperature embedding width
K = 20                   # [1, 10000] adsorption layers (NFE of the adsorption generator)
n_steps = 1000           # [2, 10000] DDPM noise levels (1000 = seed 004; 50 = the matched DDPM)
schedule = "linear"      # {linear, cosine} DDPM noise schedule: linear = Ho et al.'s β (seed 004, n_steps > 20); cosine = the adsorption generator's ᾱ at K = n_steps (the matched DDPM)
ngf = 16                 # [1, 1024] GAN generator base width
ndf = 16                 # [1, 1024] GAN critic base width
n_critic = 2             # [1, 100] GAN critic steps per generator step
clip = 0.05              # (0, 10] GAN critic weight clip
lambda_m = 1.0           # (0, 1000] weight of the magnetization loss of gan-m
heads = 4                # [1, 64] GAN critic heads, centred on temperatures evenly spaced over the training range
test_start = 1.0         # [0.1, 20] first test temperature, J/k_B
test_stop = 4.0          # [0.1, 20] last test temperature, J/k_B
test_step = 1.5          # (0, 5] test grid spacing, J/k_B
n_samples = 50           # [1, 1000000] generated configurations per test temperature
sample_steps = 0         # [0, 10000] sampling steps: 0 = the model default (DDPM: its n_steps ancestral chain); DDPM k < n_steps = DDIM-k
sample_T = []            # [0.1, 20] each: sample only at these temperatures (J/k_B) instead of the test grid; [] = the test grid
snapshot_every = 0       # [0, 10000000] keep the weights every this many steps for the training-budget curves; 0 = off
snapshot_steps = []      # int each: [1, 10000000] further steps (strictly increasing, ≤ steps) at which to keep the weights, e.g. log-spaced
budget_T = []            # [0.1, 20] each: temperatures (J/k_B) at which every snapshot is sampled
n_budget = 100           # [1, 100000] configurations per snapshot and budget temperature
threads = 2              # [0, 64] torch CPU threads; 0 = the torch default
launcher = "none"        # {none, torchrun} torchrun: data-parallel training in nproc processes (U-Net models)
nproc = 1                # [0, 1024] training processes under torchrun, one per GPU; 0 = one per visible GPU; must divide batch
bf16 = False             # bool CUDA only: bf16 autocast in training (refused on the CPU)
torch_compile = False    # bool CUDA only: torch.compile the training loss (refused on the CPU)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from adsorbstudy.analysis import wording
from adsorbstudy.generators import distributed, train as tr
from adsorbstudy.generators.families import ADSORPTION_KINDS, build, hparams_from
from adsorbstudy.physics import exact, grids, observables
from adsorbstudy.study.runtime import pick_device, results_dir, use_cpu_threads
from adsorbstudy.study.seeds import seed_for
from adsorbstudy.study.store import save_npz

use_cpu_threads(threads)  # capped by the study runner's share of the cores under --jobs
run_name = name or model
dev = pick_device(device)
hparams = hparams_from(globals())  # this family's constructor arguments from the parameters above
if model == "ddpm":
    steps_arg = None if sample_steps in (0, n_steps) else sample_steps
elif model in ADSORPTION_KINDS:
    if sample_steps not in (0, K):
        raise ValueError(f"sample_steps: the adsorption generator samples with its K = {K} layers; use 0 (got {sample_steps})")
    steps_arg = None
else:
    steps_arg = None
build(model, L, **hparams)  # validates the architecture against L before any work
test_T = sorted(float(T) for T in sample_T) if sample_T else grids.test_grid(test_start, test_stop, test_step)
params = {"kind": model, "L": L, "grid": grid, "n_per_T": n_train, "mc_seed": mc_seed, "method": method,
          "mc_backend": mc_backend, "hparams": hparams,
          "train": dict(steps=steps, batch=batch, lr=lr, ema=ema, val_every=val_every,
                        ckpt_every=max(val_every, min(1000, steps)), snapshot_every=snapshot_every, seed=seed)
                   | ({"snapshot_steps": [int(s) for s in snapshot_steps]} if snapshot_steps else {})
                   | ({"bf16": True} if bf16 else {}) | ({"compile": True} if torch_compile else {})}

# %% [markdown]
# ## Training
#
# Training is deterministic on the CPU for a given seed. It is checkpointed regularly and resumes
# where it stopped. A finished run is cached under a hash of all the parameters above, so a rerun
# with unchanged parameters reuses the checkpoint and does not train again.

# %%
rec = distributed.launch(run_name, params, profile, device=device, progress=True, launcher=launcher, nproc=nproc)
display(Markdown(
    f"**{run_name}** ({model}, {rec['n_params']:,} parameters in the sampling network) was trained for "
    f"{rec['steps']} steps in {rec['train_seconds']:.1f} s on `{rec['device']}` "
    f"({rec['steps'] / max(rec['train_seconds'], 1e-9):.1f} steps/s). "
    f"Its best validation loss was {rec['best_val_loss']:.4g} at step {rec['best_step']}, "
    f"and its final validation loss was {rec['final_val_loss']:.4g}."))

# %%
hist = tr.training_history(run_name, profile)
loss = np.asarray(hist["loss"], float)
w = max(1, len(loss) // 50)
smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.plot(hist["step"], loss, color="0.8", lw=0.6, label="training loss (per step)")
ax.plot(np.asarray(hist["step"])[w - 1:], smooth, color="C0", label=f"training loss ({w}-step mean)")
ax.plot(hist["val_step"], hist["val_loss"], "o-", color="C3", ms=3, label="validation")
ax.axvline(rec["best_step"], color="C3", ls=":", lw=1, label="kept (best validation)")
ylabel = {kind: "−ELBO (nats per spin)" for kind in ADSORPTION_KINDS} | {"ddpm": "ε-prediction MSE"}
ylabel = ylabel.get(model, "generator loss / critic's Wasserstein estimate")
ax.set(xlabel="optimizer step", ylabel=ylabel, title=f"{run_name}: training")
if model in ("ddpm",):
    ax.set_yscale("log")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The loss is a one-sample estimate per step, so it is noisy; the smoothed curve shows the trend.
# For the adsorption models the validation loss is the negative ELBO per spin, an upper bound on
# the model's negative log-likelihood per spin. The GAN's validation curve is the critic's
# Wasserstein estimate on held-out frames; since the critic trains alongside, it is a moving yardstick.

# %% [markdown]
# ## Samples on the test grid
#
# The evaluation chapter reads these samples. The wall time covers the sampling calls only,
# on this machine and device.

# %%
net = tr.load_trained(run_name, profile, device=device)
samples, sec_per_1000, stats = tr.sample_grid(net, test_T, n_samples, seed=seed_for(seed, "sample-test-grid"),
                                           steps=steps_arg)
save_npz(results_dir(profile) / "samples" / f"{run_name}.npz", samples)
sampler = {"ddpm": f"ancestral-{n_steps}" if steps_arg is None else f"ddim-{net.nfe_for(steps_arg)}"}.get(model, "native")
extra = {"seconds_per_1000": sec_per_1000, "nfe": net.nfe_for(steps_arg), "sampler": sampler,
         "sample_steps": steps_arg, "n_samples_per_T": n_samples, "test_T": test_T,
         "sample_device": str(dev), "torch_threads": torch.get_num_threads()}
if model.startswith("adsorption"):
    extra |= {"nonconverged": int(stats.get("nonconverged", 0)), "pixel_solves": int(stats.get("pixel_solves", 0)),
              "tol": float(net.tol),
              "max_residual": float(stats.get("max_residual", 0.0))}
rec = tr.update_model_json(run_name, profile, **extra)
msg = (f"Sampled {n_samples} configurations at each of {len(test_T)} test temperatures "
       f"({test_T[0]:.2f} to {test_T[-1]:.2f}) with the {sampler} sampler, NFE = {rec['nfe']}: "
       f"{sec_per_1000:.2f} s per 1000 samples.")
if model.startswith("adsorption"):
    msg += (f" Eq. 6 solves that did not converge to |residual| ≤ {net.tol:g}: {rec['nonconverged']} of "
            f"{rec['pixel_solves']:,} (max |residual| {rec['max_residual']:.2e} in logit units).")
display(Markdown(msg))

# %% [markdown]
# ## Samples along training, for the training-budget curves
#
# When the profile asks for it, the run kept its weights every `snapshot_every` optimizer steps
# (when > 0) and at the steps listed in `snapshot_steps` (log-spaced in the long profile). Each snapshot is sampled here at the budget temperatures with the
# same sampler and the same random stream, so the fidelity chapter can draw the error against the
# optimizer steps spent. The snapshots are never used to choose a model.

# %%
if (snapshot_every or snapshot_steps) and budget_T:
    budget = {}
    for step_k, snap in tr.snapshots(run_name, profile, device=device):
        for T in budget_T:
            budget[f"step={step_k:09d}_T={float(T):.2f}"] = snap.sample(n_budget, float(T), seed=seed_for(seed, "sample-budget"),
                                                                       steps=steps_arg).numpy()
    save_npz(results_dir(profile) / "budget" / f"{run_name}.npz", budget)
    steps_kept = sorted({int(k[5:14]) for k in budget})
    display(Markdown(f"Sampled {len(steps_kept)} snapshots (steps {steps_kept[0]} to {steps_kept[-1]}) at "
                     f"T = {', '.join(f'{float(T):g}' for T in budget_T)}, {n_budget} configurations each, "
                     f"with the {sampler} sampler."))
else:
    display(Markdown("This run samples no training snapshots (`snapshot_every` = 0 and no `snapshot_steps`, or no `budget_T`)."))

# %% [markdown]
# ## Snapshots beside Monte Carlo
#
# The panels below show two model samples and two MC configurations at three training
# temperatures: the lowest one, the one nearest Tc, and the highest one, drawn with
# `plots.spin_image`, the convention of every chapter (stated in the figure title).

# %%
from adsorbstudy.analysis import plots

ens = tr.training_ensembles(params, profile, device=device, progress=False)
grid_T = sorted(ens)
snap_T = sorted({grid_T[0], min(grid_T, key=lambda t: abs(t - exact.TC)), grid_T[-1]})
fig, axes = plt.subplots(2, 2 * len(snap_T), figsize=(2.0 * 2 * len(snap_T), 4.4), constrained_layout=True)
rows = []
for j, T in enumerate(snap_T):
    gen = net.sample(max(64, n_samples), T, seed=seed_for(seed, "sample-snapshots", j), steps=steps_arg).numpy()
    mc = np.asarray(ens[T].configs)
    for r, (src, cfgs) in enumerate((("model", gen), ("MC", mc))):
        for c in range(2):
            plots.spin_image(axes[r, 2 * j + c], cfgs[c], title=f"{src}, T = {T:.2f}" if c == 0 else None)
    rows.append((T, observables.thermo_stats(gen, T), observables.thermo_stats(mc, T)))
fig.suptitle(f"{run_name} (top) and Monte Carlo (bottom), L = {L}; {plots.SPIN_LEGEND}",
             fontsize=9)
plt.show()
pm = lambda st, k: wording.fmt_pm(st[k], st[k + "_err"])  # noqa: E731
table = "| T (J/k_B) | ⟨e⟩ model | ⟨e⟩ MC | ⟨\\|m\\|⟩ model | ⟨\\|m\\|⟩ MC |\n|---|---|---|---|---|\n" + "\n".join(
    f"| {T:.2f} | {pm(g, 'e')} | {pm(r, 'e')} | {pm(g, 'm_abs')} | {pm(r, 'm_abs')} |" for T, g, r in rows)
display(Markdown("A first look at these training temperatures, with energy per spin (J) and |m| per spin, each "
                 "± its bootstrap standard error (the evaluation chapter adds the test grid):\n\n" + table))
