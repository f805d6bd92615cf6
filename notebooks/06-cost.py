# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Cost against fidelity
#
# Seed 000 claims the adsorption model is faster than diffusion. Here every sampler is timed side by
# side in one run on the same machine, and its speed is set against its fidelity: the mean absolute
# error of ⟨e⟩ against the exact finite-size value and the Wasserstein-1 distance of the energy
# distribution to an independent Monte Carlo ensemble, at a few temperatures. Monte Carlo is costed
# as the time per *effectively independent* configuration: the sweep time times the measured
# integrated autocorrelation time τ_int.

# %% tags=["parameters"]
profile = "smoke"          # str
device = "auto"            # {auto, cpu, cuda}
L = 8                      # [4, 256] lattice side
models = ["adsorption", "adsorption-nolateral", "ddpm", "gan", "gan-m"]  # str each: trained runs to time (adsorption runs at several K are separate runs)
ddpm_steps = [1000, 50, 10]  # [1, 1000] DDPM sampling steps: 1000 = ancestral DDPM, fewer = DDIM
cost_T = [1.8, 2.3, 2.8]   # [0.1, 20] temperatures of the comparison
n_cost = 64                # [8, 100000] samples per temperature and sampler
n_test = 200               # [10, 1000000] Monte Carlo configurations per test temperature (reference)
method = "auto"            # {auto, metropolis, wolff} Monte Carlo sampler of the reference ensembles
mc_backend = "numba"       # {numba, torch} as in the Monte Carlo chapter
seed = 0                   # [0, 2147483647] base Monte Carlo seed; the reference ensembles use seed + 1

# %%
import os
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from adsorbstudy import exact, ising, metrics
from adsorbstudy.runtime import pick_device, repo_root, results_dir
from adsorbstudy.store import atomic_write, atomic_write_text, study_store
from adsorbstudy.train import load_trained

dev = pick_device(device)
store = study_store(profile)
out = results_dir(profile)
print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
      f"torch {torch.__version__} with {torch.get_num_threads()} threads, device {dev}")

# %%
e_exact = {T: float(np.ravel(exact.finite_size(L, np.array([T]))[0])[0]) for T in cost_T}
mc_device = None if mc_backend == "numba" else str(dev)
ref = ising.cached_ensembles(store, L, cost_T, n_test, method=method, seed=seed + 1, device=mc_device)


def fidelity(ens):
    """Mean over cost_T of |⟨e⟩ − e_exact| and of W1(e) to the Monte Carlo reference."""
    d_e = np.mean([abs(ising.energy(ens[T]).mean() - e_exact[T]) for T in cost_T])
    w1 = np.mean([metrics.w1(ising.energy(ens[T]), ising.energy(ref[T].configs)) for T in cost_T])
    return float(d_e), float(w1)


rows = []
for m in models:
    model = load_trained(m, profile, device=str(dev))
    variants = ddpm_steps if model.kind == "ddpm" else [None]
    for steps in variants:
        steps = None if steps == 1000 else steps
        model.sample(2, cost_T[0], seed=0, steps=steps)  # warm-up outside the timed region
        t0 = time.perf_counter()
        ens = {T: model.sample(n_cost, T, seed=1 + i, steps=steps).numpy() for i, T in enumerate(cost_T)}
        seconds = time.perf_counter() - t0
        d_e, w1e = fidelity(ens)
        if model.kind == "ddpm":
            label = "DDPM-1000 (ancestral)" if steps is None else f"DDIM-{steps} ({m})"
        elif model.kind.startswith("adsorption"):
            label = f"{m} (K={model.nfe()})"
        else:
            label = m
        rows.append({"sampler": label, "model": m, "nfe": model.nfe(steps),
                     "seconds_per_1000": 1000 * seconds / (n_cost * len(cost_T)), "d_e": d_e, "w1_e": w1e})

# Monte Carlo: an effectively independent configuration of one chain costs 2 τ_int sweeps.
mc_d_e, _ = fidelity({T: ref[T].configs for T in cost_T})
scan = ising.tau_scan(L, cost_T, methods=("metropolis", "wolff"), seed=seed, n_chains=32, progress=False)
for meth, d in scan.items():
    rows.append({"sampler": f"MC {meth}", "model": "MC", "nfe": float("nan"),
                 "seconds_per_1000": 1000 * float(np.mean(d["seconds_per_independent"])),
                 "d_e": mc_d_e, "w1_e": 0.0})

cost_csv = out / "cost.csv"
cols = ["sampler", "model", "nfe", "seconds_per_1000", "d_e", "w1_e"]
atomic_write_text(cost_csv, "\n".join([",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]) + "\n")
table = "\n".join(["| sampler | NFE | s / 1000 samples | mean abs(⟨e⟩ − exact) [J] | W1(e) to MC [J] |",
                   "|---|---|---|---|---|"] + [
    f"| {r['sampler']} | {'–' if not np.isfinite(r['nfe']) else int(r['nfe'])} | {r['seconds_per_1000']:.3g} "
    f"| {r['d_e']:.3g} | {r['w1_e']:.3g} |" for r in rows])
display(Markdown(table))
display(Markdown(
    f"Monte Carlo τ_int (sweeps) at T = {', '.join(f'{T:g}' for T in cost_T)}: " + "; ".join(
        f"{meth} {', '.join(f'{t:.2f}' for t in d['tau_int'])}" for meth, d in scan.items())
    + ". The Monte Carlo error against the exact value is statistical only (its ensembles are exact in "
      "expectation), so its row marks the noise floor of the fidelity axis at this sample size."))

# %% [markdown]
# ## The Pareto plot
#
# Lower left is better: cheap and faithful. Every generator was timed in this run, on this machine,
# one after another, so their ratios are comparable even when absolute times drift.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, key, lab in ((axes[0], "d_e", "mean abs(⟨e⟩ − exact) [J]"), (axes[1], "w1_e", "W1 of e to MC [J]")):
    for r in rows:
        y = max(r[key], 1e-4)
        ax.scatter(r["seconds_per_1000"], y, marker="s" if r["model"] == "MC" else "o", s=40)
        ax.annotate(r["sampler"], (r["seconds_per_1000"], y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("wall time per 1000 samples [s]"), ax.set_ylabel(lab + " (floored at 1e-4)")
fig.suptitle(f"Cost against fidelity at T = {', '.join(f'{T:g}' for T in cost_T)}, L = {L}, "
             f"{n_cost} samples per T, {torch.get_num_threads()} torch threads on {dev}")
fig.tight_layout()
atomic_write(repo_root() / "book" / "generated" / "figures" / "cost-pareto.png",
             lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
plt.show()

# %%
by = {r["sampler"]: r for r in rows}
ads = [r for r in rows if r["model"].startswith("adsorption") and "nolateral" not in r["model"]]
ddpm_full = next((r for r in rows if r["sampler"].startswith("DDPM-1000")), None)
lines = ["The cost comparison, rendered from `results/" + profile + "/cost.csv` (timed side by side in one run "
         f"on {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, device `{dev}`):", "", table, ""]
if ads and ddpm_full:
    a = min(ads, key=lambda r: r["seconds_per_1000"])
    lines.append(f"The cheapest adsorption generator ({a['sampler']}) takes {a['seconds_per_1000']:.3g} s per 1000 "
                 f"samples, {ddpm_full['seconds_per_1000'] / a['seconds_per_1000']:.3g}× less than ancestral "
                 f"DDPM-1000 ({ddpm_full['seconds_per_1000']:.3g} s), with mean abs(⟨e⟩ − exact) "
                 f"{a['d_e']:.3g} J against {ddpm_full['d_e']:.3g} J.")
lines += ["", "```{figure} generated/figures/cost-pareto.png", ":width: 100%", "",
          "Wall time per 1000 samples against fidelity; lower left is better.", "```", ""]
atomic_write_text(repo_root() / "book" / "generated" / "cost.md", "\n".join(lines))
