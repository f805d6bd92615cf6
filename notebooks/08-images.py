# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Images from a prompt
#
# Seed 000 proposes the adsorption model for one concrete job: generate a monochrome image from a
# text input, pixel by pixel and layer by layer, each layer an adsorption equilibrium (its Fig. 3).
# The rest of this book tests the model on Ising configurations. This chapter gives it seed 000's own
# job, at a size a laptop can train: the 8×8 handwritten digits that ship with scikit-learn
# (`sklearn.datasets.load_digits`, 1,797 images, loaded offline), binarised at half intensity, each
# generated from a prompt such as "three" or "7". The same generators as in the Ising chapters
# compete, all conditioned on the prompt: the adsorption generator, its no-lateral ablation, the
# matched DDPM (the adsorption generator's cosine schedule at the same K levels, sampled ancestrally)
# with the same U-Net trunk, and, as labelled variants, seed 004's DDPM-1000 sampled by DDIM-K and the
# conditional WGAN. They are measured the way image generators
# are measured, with a classifier as the judge. The methods page derives the classifier-free guidance
# used here ({doc}`../methods`, "Images from a prompt").

# %% tags=["parameters"]
profile = "smoke"        # str           injected by the study runner
device = "auto"          # {auto, cpu, cuda}
split_seed = 0           # [0, 2147483647] seed of the stratified train/validation/test split
clf_steps = 60           # [10, 100000] optimizer steps of the judge (the classifier)
seeds = [0, 1]           # [0, 2147483647] training seeds of the adsorption generator, its ablation and both DDPMs
gan_seeds = [0]          # [0, 2147483647] training seeds of the GAN
steps = 40               # [1, 10000000] optimizer steps of every model (GAN: generator steps); equal budgets
budget_steps = [20]      # int each: [1, 10000000] other budgets of the training-budget sweep (every model but the GAN)
budget_seeds = [0]       # [0, 2147483647] the seeds (from seeds) trained at every budget_steps
batch = 64               # [1, 100000] images per step
lr = 0.002               # (0, 1) AdamW learning rate of the adsorption models and DDPM (cosine decay to 10 %)
gan_lr = 0.001           # (0, 1) learning rate of the GAN (as in the Ising profiles)
val_every = 20           # [1, 10000000] validation (best-model check) interval, steps
base = 8                 # [1, 1024] U-Net channels at full resolution (adsorption, DDPM)
depth = 2                # [1, 3] U-Net resolutions (8 must be divisible by 2**(depth-1))
emb_dim = 32             # [2, 1024] step / class embedding width
K = 5                    # [1, 10000] adsorption layers (NFE) = the matched DDPM's levels; DDPM-1000 samples with DDIM-K
p_uncond = 0.1           # [0, 1) probability that the prompt is dropped in training (classifier-free guidance)
ngf = 16                 # [1, 1024] GAN generator base width
ndf = 16                 # [1, 1024] GAN critic base width
n_critic = 2             # [1, 100] GAN critic steps per generator step
clip = 0.05              # (0, 10] GAN critic weight clip
n_per_prompt = 10        # [2, 100000] generated images per prompt for the metric table
guidance_weights = [0.0, 2.0]  # [0, 100] classifier-free guidance weights w of the guidance sweep
n_guidance_per_prompt = 5  # [2, 100000] images per prompt and weight in the guidance sweep
n_elbo_train = 50        # [2, 100000] training images (a seeded subset) whose −ELBO shows the train/test gap
n_boot = 10              # [2, 100000] bootstrap resamples of every error bar
threads = 1              # [0, 64] torch CPU threads; 0 = the torch default

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from adsorbstudy.analysis import comparisons, plots
from adsorbstudy.analysis.wording import fmt_pm
from adsorbstudy.physics.lattice import to_spins
from adsorbstudy.study.runtime import pick_device, repo_root, results_dir, use_cpu_threads
from adsorbstudy.study.store import atomic_write, atomic_write_json, atomic_write_text, study_store
from adsorbstudy.tasks import digits as im

use_cpu_threads(threads)  # capped by the study runner's share of the cores under --jobs
if 0.0 not in guidance_weights:
    raise ValueError("guidance_weights: must include 0 (the conditional sampler every table uses)")
if 8 % 2 ** (depth - 1):
    raise ValueError(f"depth: 8 must be divisible by 2**(depth-1); got depth = {depth}")
if not set(budget_seeds) <= set(seeds):
    raise ValueError(f"budget_seeds: each must be one of seeds = {seeds}; got {budget_seeds}")
if steps in budget_steps:
    raise ValueError(f"budget_steps: the other budgets, without steps = {steps}; got {budget_steps}")
t_start = time.perf_counter()
dev = pick_device(device)
store = study_store(profile)
out = results_dir(profile)
figdir = repo_root() / "book" / "generated" / "figures"


def keep_figure(fig, name):
    """Save a figure for the results page (atomically), beside showing it here."""
    atomic_write(figdir / name, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))


def montage(stack, gap=1, fill=0.5):
    """Tile images (rows, cols, 8, 8) with values in [0, 1] into one array, grey gaps between them."""
    r, c, h, w = stack.shape
    canvas = np.full((r * (h + gap) - gap, c * (w + gap) - gap), fill)
    for i in range(r):
        for j in range(c):
            canvas[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = stack[i, j]
    return canvas


def show_montage(ax, stack, title=None):
    """A montage in the book's spin convention (plots.spin_image): white = ink (s = 1), black = empty."""
    plots.spin_image(ax, 2 * montage(stack) - 1)
    if title:
        ax.set_title(title, fontsize=9, loc="left")

# %% [markdown]
# ## The data, the split and the prompt
#
# Each pixel of `load_digits` has an intensity from 0 to 16. A pixel of intensity 8 or more is
# ink (occupied, s = 1); below 8 it is empty (s = 0). This is the model's occupancy s₀, and the
# generators see it as spins σ = 2s − 1, exactly like an Ising configuration, with one difference:
# images have edges, so every network and every Eq. 6 solve uses zero padding (a neighbour outside
# the frame counts as empty, DESIGN §3). The split is stratified and seeded: 60 % of each digit
# class for training, 20 % for validation (which picks each model's checkpoint) and 20 % for test
# (which every metric uses). Its indices are in `results/<profile>/images_split.csv`.

# %%
x_all, y_all = im.load_binary_digits()
split = im.split_indices(y_all, seed=split_seed)
atomic_write_text(out / "images_split.csv", im.split_csv(split, y_all))
data = {k: (x_all[split[k]], y_all[split[k]]) for k in im.SPLITS}
counts = {k: np.bincount(data[k][1], minlength=10) for k in im.SPLITS}
display(Markdown("| split | images | per class (0–9) |\n|---|---|---|\n" + "\n".join(
    f"| {k} | {len(split[k])} | {', '.join(map(str, counts[k]))} |" for k in im.SPLITS)))
fig, ax = plt.subplots(figsize=(6.4, 2.2))
show_montage(ax, np.stack([data["train"][0][data["train"][1] == c][:3] for c in range(10)], 1),
             "real training digits, binarised: one column per class 0–9")
ax.set(xlabel="class (prompt)", ylabel="examples")
fig.suptitle(plots.SPIN_LEGEND.replace("spin −1 (empty site)", "empty pixel").replace("spin +1 (occupied site)", "ink"),
             fontsize=8)
plt.show()

# %% [markdown]
# Seed 000 asks for a text input. With ten classes, a lookup is the honest text encoder: the prompt,
# a digit's name or numeral, selects one row of a learned class embedding, and a language model would
# add nothing but parameters. The parser ignores case and surrounding whitespace and rejects anything
# else with the list of accepted prompts:

# %%
for text in ("three", "  Seven ", "0", "twelve"):
    try:
        display(Markdown(f"`{text!r}` → class **{im.parse_prompt(text)}**"))
    except ValueError as exc:
        display(Markdown(f"`{text!r}` → ValueError: {exc}"))

# %% [markdown]
# ## The judge
#
# A small convolutional classifier (`adsorbstudy.tasks.digits.DigitClassifier`), trained on the real
# binarised training split, judges every generator. Its accuracy on the real test split is the
# ceiling of prompt accuracy. Its 64 penultimate-layer features define the Fréchet distance, and the
# distance between the real training and the real test split is the floor a perfect generator would
# reach at these sample sizes.

# %%
clf = im.cached_classifier(store, *data["train"], seed=split_seed, steps=clf_steps, key_extra={"split_seed": split_seed})
judge = {"clf": clf, "test": data["test"][0], "train": data["train"][0]}
ref_rows = im.reference_rows(judge, data, n_boot=n_boot, seed=split_seed)
ref = {r["model"]: r for r in ref_rows}
display(Markdown(
    f"Classifier accuracy on the real test split (the ceiling): **{fmt_pm(ref['real-test']['acc'], ref['real-test']['acc_err'])}**; "
    f"on Bernoulli(½) noise it assigns the prompt's class to {fmt_pm(ref['noise']['acc'], ref['noise']['acc_err'])} "
    f"of the images (chance is 0.1). Fréchet distance real-train vs real-test (the floor): "
    f"**{fmt_pm(ref['real-test']['fd'], ref['real-test']['fd_err'])}**; noise vs real-test: "
    f"{fmt_pm(ref['noise']['fd'], ref['noise']['fd_err'])} (squared feature units)."))

# %% [markdown]
# ## Training
#
# Every model gets the same optimizer budget: `steps` steps of `batch` images (the GAN: `steps`
# generator steps with `n_critic` critic steps each, as in the Ising chapters). The adsorption
# generator, its ablation and both DDPMs share the U-Net trunk, are conditioned on the class through an
# 11-row embedding (ten digits and a "null" prompt) in place of the temperature MLP, and see the prompt
# dropped to "null" with probability `p_uncond` in training, for classifier-free guidance. Each is
# trained with every seed in `seeds`; the GAN with `gan_seeds`, and the chapter says so below. Each
# keeps the checkpoint with the lowest validation loss on the validation split, except the GAN, which
# keeps its last checkpoint: its only score is its critic's Wasserstein estimate, and every checkpoint
# has its own critic, so two checkpoints' estimates are not on one scale. Checkpoints are cached by
# parameters.

# %%
unet = dict(base=base, depth=depth, emb_dim=emb_dim, p_uncond=p_uncond)
# model name -> (kind, hyperparameters, sampling steps: None = the model's own sampler)
specs = {"adsorption": ("adsorption", unet | {"K": K}, None),
         "adsorption-nolateral": ("adsorption-nolateral", unet | {"K": K}, None),
         "ddpm-matched": ("ddpm", unet | {"n_steps": K, "schedule": "cosine"}, None),
         "ddpm": ("ddpm", unet, K),
         "gan": ("gan", dict(ngf=ngf, ndf=ndf, n_critic=n_critic, clip=clip), None)}
train_data = {k: (to_spins(data[k][0]), data[k][1]) for k in ("train", "val")}
sub = np.sort(np.random.default_rng(split_seed).permutation(len(split["train"]))[:n_elbo_train])
elbo_train = (data["train"][0][sub], data["train"][1][sub])


def train(name, s, n_steps):
    kind, hp, _ = specs[name]
    cfg = dict(steps=n_steps, batch=batch, lr=gan_lr if kind == "gan" else lr, val_every=val_every,
               ckpt_every=max(val_every, min(1000, n_steps)), seed=s)
    return im.train_image_model(kind, hp, cfg, train_data, store, device=dev, progress=False,
                                key_extra={"split_seed": split_seed})


runs = {(name, s): train(name, s, steps) for name in specs for s in (gan_seeds if name == "gan" else seeds)}
display(Markdown("| model | seed | parameters | training (s) | selected checkpoint: validation loss (step) |\n|---|---|---|---|---|\n" + "\n".join(
    f"| {k} | {s} | {info['n_params']:,} | {info['seconds']:.1f} | {info['best_val']:.4g} ({info['best_step']}) |"
    for (k, s), (_, info) in runs.items())))
if len(gan_seeds) == 1:
    display(Markdown(f"The GAN is trained with one seed ({gan_seeds[0]}); it enters no decisive comparison."))

# %% [markdown]
# ## Samples for every prompt
#
# Every model draws `n_per_prompt` images for each of the ten prompts with its conditional sampler
# (guidance w = 0). The matched DDPM samples ancestrally through its K levels; DDPM-1000 with DDIM at
# the adsorption generator's K steps; all three make K network evaluations per image. Each row of a
# panel below is one sample per prompt, from the first training seed. Every image is saved with its
# prompt in `results/<profile>/images/<model>-s<seed>.npz` (`images`: uint8 (n, 8, 8), 1 = ink;
# `prompts`: (n,) class labels), so that anyone can rescore them with another classifier.

# %%
prompts = im.balanced_prompts(n_per_prompt)
rows, samples = [], {}
for (name, s), (model, info) in runs.items():
    kind, _, st = specs[name]
    row, imgs = im.evaluate(model, prompts, seed=10_000 + 1000 * s, steps=st, guidance=0.0, judge=judge, n_boot=n_boot)
    if kind.startswith("adsorption"):
        row |= im.likelihood_columns(model, data["test"], elbo_train, seed=split_seed, n_boot=n_boot)
    rows.append({"model": name, "kind": kind, "seed": s, **row, "n_params": info["n_params"], "train_seconds": info["seconds"]})
    samples[(name, s)] = imgs
    im.save_generated(out / "images" / f"{name}-s{s}.npz", imgs, prompts)
show = min(4, n_per_prompt)
fig, axes = plt.subplots(1, len(specs) + 1, figsize=(2.6 * (len(specs) + 1), 2.6), constrained_layout=True)
real_stack = np.stack([data["test"][0][data["test"][1] == c][:show] for c in range(10)], 1)
show_montage(axes[0], real_stack, "real test digits")
for ax, name in zip(axes[1:], specs):
    s0 = (gan_seeds if name == "gan" else seeds)[0]
    imgs = samples[(name, s0)]
    show_montage(ax, np.stack([imgs[prompts == c][:show] for c in range(10)], 1), f"{name} (seed {s0})")
for ax in axes:
    ax.set(xlabel="prompt 0 … 9")
axes[0].set_ylabel("samples")
fig.suptitle("Generated for each prompt, w = 0; white = ink, black = empty", fontsize=9)
keep_figure(fig, "images-samples.png")
plt.show()

# %% [markdown]
# ## From noise to digit, layer by layer
#
# Seed 000's Fig. 3 sketches generation as a stack of adsorbed layers. Here is that stack for the
# trained adsorption generator: each row is one prompt, each column a layer, from the Bernoulli(½)
# noise s_K on the left to the sample s₀ on the right. The top panel shows the binary occupancies
# s_k; the bottom panel the adsorbed density x_a of the Eq. 6 solve that produced each layer, in grey
# levels from 0 (black) to 1 (white). The last column of the bottom panel is seed 000's picture, a
# pixel value in (0, 1) per site.

# %%
ads = runs[("adsorption", seeds[0])][0]
lay = ads.layers(10, np.arange(10), seed=123)
cols = np.unique(np.round(np.linspace(0, K, min(K + 1, 9))).astype(int))
fig, axes = plt.subplots(2, 1, figsize=(1.0 * len(cols) + 1, 11), constrained_layout=True)
show_montage(axes[0], np.transpose(lay["s"][cols], (1, 0, 2, 3)), "occupancy s_k (binary)")
xa_cols = [c - 1 for c in cols if c >= 1]
show_montage(axes[1], np.transpose(lay["x_a"][xa_cols], (1, 0, 2, 3)), "adsorbed density x_a (grey levels 0–1)")
axes[0].set(xlabel=f"generative step (0 = noise s_{K}, {K} = sample s₀): {', '.join(map(str, cols))}",
            ylabel="prompt 0 (top) … 9 (bottom)")
axes[1].set(xlabel=f"the solve that produced step {', '.join(str(c + 1) for c in xa_cols)}",
            ylabel="prompt 0 (top) … 9 (bottom)")
keep_figure(fig, "images-layers.png")
plt.show()

# %% [markdown]
# ## The metric table
#
# The matched DDPM (cosine schedule, K levels, ancestral) is the decisive DDPM, as in the Ising
# chapters; seed 004's DDPM-1000 (linear schedule) sampled by DDIM-K is a labelled variant.
# Each number is the mean over training seeds ± the spread across seeds (standard deviation); the
# column "± sample" is the mean bootstrap error over the images of one seed. Prompt accuracy: the
# share of images the judge assigns to the prompt. FD: Fréchet distance to the real test digits in
# the judge's feature space. NN: mean Hamming distance (pixels of 64) to the nearest training image.
# Diversity: mean pairwise Hamming distance within a prompt, as a fraction of pixels. Seconds per 1000
# images are wall time on this machine, timed as in the cost chapter.

# %%
all_rows = ref_rows + rows


def cell(model, key, w=0.0):
    s = im.seed_summary(all_rows, model, key, w)
    if not s["seeds"]:
        return "–"
    txt = fmt_pm(s["mean"], s["spread"]) if np.isfinite(s["spread"]) else f"{s['mean']:.3g}"
    return txt + (f" (± {s['err']:.2g})" if np.isfinite(s["err"]) else "")


table = ("| model | seeds | prompt accuracy (± sample) | FD (± sample) | NN Hamming | copies | diversity | NFE | s / 1000 |\n"
         "|---|---|---|---|---|---|---|---|---|\n")
table += "\n".join(
    f"| {m} | {im.seed_summary(all_rows, m, 'acc')['seeds']} | {cell(m, 'acc')} | {cell(m, 'fd')} | {cell(m, 'nn_hamming')} | "
    f"{cell(m, 'copies')} | {cell(m, 'diversity')} | {cell(m, 'nfe')} | {cell(m, 'seconds_per_1000')} |" for m in specs)
r = ref["real-test"]
table += (f"\n| *real test digits* | – | {fmt_pm(r['acc'], r['acc_err'])} (ceiling) | {fmt_pm(r['fd'], r['fd_err'])} "
          f"(floor: real train vs test) | {fmt_pm(r['nn_hamming'], r['nn_hamming_err'])} | "
          f"{fmt_pm(r['copies'], r['copies_err'])} | {fmt_pm(r['diversity'], r['diversity_err'])} | – | – |")
r = ref["noise"]
table += (f"\n| *Bernoulli(½) noise* | – | {fmt_pm(r['acc'], r['acc_err'])} | {fmt_pm(r['fd'], r['fd_err'])} | "
          f"{fmt_pm(r['nn_hamming'], r['nn_hamming_err'])} | – | {fmt_pm(r['diversity'], r['diversity_err'])} | – | – |")
display(Markdown(table))

# %% [markdown]
# ### Likelihood
#
# The adsorption generator and its ablation have a tractable bound: the negative ELBO, in bits per
# pixel, of the real test digits given their prompts, beside the same on `n_elbo_train` images of the
# training split (a gap shows overfitting) and the per-pixel Bernoulli marginals fitted on the training split (without and
# with the class), the baseline any model must beat. Lower is better; 1 bit per pixel is a coin flip.

# %%
lik = "| model | seeds | test −ELBO (bits/pixel) | train −ELBO (bits/pixel) |\n|---|---|---|---|\n"
lik += "\n".join(f"| {m} | {im.seed_summary(all_rows, m, 'nll_test_bits')['seeds']} | {cell(m, 'nll_test_bits')} | "
                 f"{cell(m, 'nll_train_bits')} |" for m in ("adsorption", "adsorption-nolateral"))
for m, what in (("bernoulli-marginal", "per-pixel Bernoulli marginal"), ("bernoulli-marginal-class", "per-pixel marginal per class")):
    r = ref[m]
    lik += (f"\n| *{what}* | – | {fmt_pm(r['nll_test_bits'], r['nll_test_bits_err'])} | "
            f"{fmt_pm(r['nll_train_bits'], r['nll_train_bits_err'])} |")
display(Markdown(lik))

# %% [markdown]
# ## Does the ranking change with the training budget?
#
# The table above is at one budget, `steps` optimizer steps. Each model but the GAN is trained again
# with the seeds `budget_seeds` at the other budgets `budget_steps`, with everything else unchanged
# (data, split, selection rule, sampler, `n_per_prompt` images per prompt at w = 0), and scored like
# the table. Lines join the mean over those seeds; bars are their spread where there are several.

# %%
budget_rows = [r | {"steps": steps} for r in rows if r["seed"] in budget_seeds and r["kind"] != "gan"]
for n_steps in budget_steps:
    for name, (kind, _, st) in specs.items():
        if kind == "gan":
            continue
        for s in budget_seeds:
            model, info = train(name, s, n_steps)
            row, _ = im.evaluate(model, prompts, seed=10_000 + 1000 * s, steps=st, guidance=0.0, judge=judge,
                                 n_boot=n_boot)
            budget_rows.append({"model": f"{name}@{n_steps}", "kind": kind, "seed": s, **row,
                                "n_params": info["n_params"], "train_seconds": info["seconds"], "steps": n_steps})
budgets = sorted(set(budget_steps) | {steps})
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
for name in (n for n, (k, _, _) in specs.items() if k != "gan"):
    for ax, key in zip(axes, ("acc", "fd")):
        ss = [im.seed_summary(budget_rows, name if b == steps else f"{name}@{b}", key) for b in budgets]
        ax.errorbar(budgets, [x["mean"] for x in ss], yerr=[np.nan_to_num(x["spread"]) for x in ss], marker="o",
                    capsize=3, color=plots.color_of(name), label=name, ls="--" if name == "ddpm" else "-")
axes[0].axhline(ref["real-test"]["acc"], color="k", ls="--", lw=1, label="ceiling: real test digits")
axes[1].axhline(ref["real-test"]["fd"], color="k", ls="--", lw=1, label="floor: real train vs test")
axes[0].set(xlabel="optimizer steps", ylabel="prompt accuracy (fraction)", ylim=(0, 1.02), xscale="log")
axes[1].set(xlabel="optimizer steps", ylabel="Fréchet distance (squared feature units)", xscale="log", yscale="log")
for ax in axes:
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.legend(fontsize=7)
fig.suptitle(f"Training-budget sweep, seeds {', '.join(map(str, budget_seeds))}, w = 0", fontsize=9)
keep_figure(fig, "images-budget.png")
plt.show()
order = {b: sorted((n for n, (k, _, _) in specs.items() if k != "gan"),
                   key=lambda n: -im.seed_summary(budget_rows, n if b == steps else f"{n}@{b}", "acc")["mean"])
         for b in budgets}
display(Markdown("Ranking by prompt accuracy (seed means, best first): " + "; ".join(
    f"at {b} steps {' > '.join(order[b])}" for b in budgets)
    + (". The ranking is the same at every budget." if len({tuple(o) for o in order.values()}) == 1
       else ". The ranking changes with the budget.")
    + f" With {len(budget_seeds)} seed{'s' if len(budget_seeds) > 1 else ''} per point this is descriptive, "
    "not a decision."))
im.write_images_csv(out / "images_budget.csv", budget_rows, extra=["steps"])

# %% [markdown]
# ## Quality against guidance weight
#
# Classifier-free guidance sharpens each reverse step towards the prompt: the Bernoulli models sample
# from the logits (1 + w)·l_cond − w·l_null of each step, the DDPMs from ε = (1 + w)·ε_cond − w·ε_null
# (derivation on the methods page). w = 0 is the conditional sampler. Guidance doubles the NFE. The
# GAN has no null prompt and is not guided. Points are means over training seeds, bars the seed spread.

# %%
gw = [w for w in guidance_weights if w > 0]
gprompts = im.balanced_prompts(n_guidance_per_prompt)
for (name, s), (model, info) in runs.items():
    kind, _, st = specs[name]
    if kind == "gan":
        continue
    for w in [0.0] + gw:
        row, _ = im.evaluate(model, gprompts, seed=20_000 + 1000 * s, steps=st, guidance=w, judge=judge, n_boot=n_boot)
        # the w = 0 point of the sweep is drawn with the sweep's sample size, kept under its own name
        all_rows.append({"model": f"{name}@sweep", "kind": kind, "seed": s, **row, "n_params": info["n_params"]})
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
for name in ("adsorption", "adsorption-nolateral", "ddpm-matched", "ddpm"):
    for ax, key in zip(axes, ("acc", "fd")):
        ss = [im.seed_summary(all_rows, f"{name}@sweep", key, w) for w in [0.0] + gw]
        ax.errorbar([0.0] + gw, [x["mean"] for x in ss], yerr=[np.nan_to_num(x["spread"]) for x in ss],
                    marker="o", capsize=3, color=plots.color_of(name), label=name,
                    ls="--" if name == "ddpm" else "-")
axes[0].axhline(ref["real-test"]["acc"], color="k", ls="--", lw=1, label="ceiling: real test digits")
axes[0].axhline(0.1, color="0.5", ls=":", lw=1, label="chance")
axes[1].axhline(ref["real-test"]["fd"], color="k", ls="--", lw=1, label="floor: real train vs test")
axes[0].set(xlabel="guidance weight w", ylabel="prompt accuracy (fraction)", ylim=(0, 1.02))
axes[1].set(xlabel="guidance weight w", ylabel="Fréchet distance (squared feature units)")
axes[1].set_yscale("log")
for ax in axes:
    ax.legend(fontsize=7)
keep_figure(fig, "images-guidance.png")
plt.show()

# %% [markdown]
# ## Memorisation: the nearest training image
#
# A generator that copies its training set would score well on accuracy and FD. The histogram shows,
# for every generated image (all seeds, w = 0), the Hamming distance to its nearest training image,
# against the same for real test digits, which the models never saw. Below it, generated images beside
# their nearest training image.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), constrained_layout=True, gridspec_kw={"width_ratios": [1.3, 1]})
bins = np.arange(0, 25) - 0.5
axes[0].hist(im.nearest_hamming(data["test"][0], data["train"][0]), bins=bins, density=True, histtype="step",
             color="k", lw=2, label="real test digits")
for name in specs:
    d = np.concatenate([im.nearest_hamming(v, data["train"][0]) for (k, _), v in samples.items() if k == name])
    axes[0].hist(d, bins=bins, density=True, histtype="step", color=plots.color_of(name), label=name)
axes[0].set(xlabel="Hamming distance to the nearest training image (pixels of 64)", ylabel="fraction of images")
axes[0].legend(fontsize=7)
imgs = samples[("adsorption", seeds[0])][::max(1, n_per_prompt)][:10]
tr_flat = data["train"][0].reshape(len(data["train"][0]), -1).astype(int)
nearest = np.stack([data["train"][0][np.argmin(np.abs(tr_flat - g.reshape(-1)).sum(1))] for g in imgs])
show_montage(axes[1], np.stack([imgs, nearest]), "adsorption samples (top), nearest training image (bottom)")
axes[1].set(xlabel="prompt 0 … 9")
plt.show()

# %% [markdown]
# ## The results file and the verdict
#
# `results/<profile>/images.csv` holds one row per model, training seed and guidance weight (the
# guidance sweep under the name `<model>@sweep`) and the reference rows; the sentences below are
# generated from it by `adsorbstudy.tasks.digits.verdict_entries` and `verdict_markdown`, which also write
# `results/<profile>/images_verdict.json` for the results page.

# %%
im.write_images_csv(out / "images.csv", all_rows)
rows_read = im.read_images_csv(out / "images.csv")
v = im.verdict_entries(rows_read, steps=steps)
atomic_write_json(out / "images_verdict.json", v)
comparisons.update_verdict(out / "verdict.json", "images", v)  # beside the Ising verdict, whichever chapter ends first
text = im.verdict_markdown(v)
atomic_write_text(repo_root() / "book" / "generated" / "images-verdict.md", text + "\n")
display(Markdown(text))
print(f"chapter wall time: {time.perf_counter() - t_start:.0f} s on {torch.get_num_threads()} torch threads")
