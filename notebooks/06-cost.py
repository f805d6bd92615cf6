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
# side in one run on the same machine, and its speed is set against its fidelity at a few temperatures:
# the mean over T of |⟨e⟩ − e_exact| against the exact finite-size value, and the mean over T of the
# Wasserstein-1 distance of the energy distribution to an independent Monte Carlo reference ensemble.
# Both come with error bars: the first from the standard error of each ⟨e⟩ (σ/√n, added in quadrature
# over T), the second from a bootstrap that resamples both ensembles.
#
# Monte Carlo is scored exactly like a generator: a further independent Monte Carlo ensemble of the
# same size as each generator's is compared with the same reference, so its row is the fidelity of
# exact sampling at this sample size, the floor no generator can beat except by chance. Its cost is
# the wall time of one *effectively independent* configuration, 2 τ_int sweeps × the time of one
# sweep of one chain (amortized over a batch of chains run together; thermalization excluded), with
# τ_int measured separately at every temperature and for both Metropolis and Wolff, so Monte Carlo
# has one point per (method, T).

# %% tags=["parameters"]
profile = "smoke"          # str
device = "auto"            # {auto, cpu, cuda}
L = 8                      # [4, 256] lattice side
models = ["adsorption", "adsorption-nolateral", "ddpm", "gan", "gan-m"]  # str each: trained runs to time (adsorption runs at several K are separate runs)
ddpm_steps = [1000, 50, 10]  # [1, 1000] DDPM sampling steps: 1000 = ancestral DDPM, fewer = DDIM
cost_T = [1.8, 2.3, 2.8]   # [0.1, 20] temperatures of the comparison
n_cost = 64                # [8, 100000] samples per temperature and sampler (also the Monte Carlo row's ensemble size)
n_test = 200               # [10, 1000000] Monte Carlo configurations per test temperature (reference)
method = "auto"            # {auto, metropolis, wolff} Monte Carlo sampler of the reference and Monte Carlo row ensembles
mc_backend = "numba"       # {numba, torch} as in the Monte Carlo chapter
seed = 0                   # [0, 2147483647] base Monte Carlo seed; the reference ensembles use seed + 1, the Monte Carlo row seed + 2
n_boot = 200               # [2, 100000] bootstrap resamples of the W1 error bars

# %%
import csv
import io
import os
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np
import torch
from IPython.display import Markdown, display

from adsorbstudy import exact, ising, metrics, report
from adsorbstudy.runtime import pick_device, repo_root, results_dir
from adsorbstudy.store import atomic_write, atomic_write_text, study_store
from adsorbstudy.train import load_trained


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux); platform.processor() is empty there."""
    p = Path("/proc/cpuinfo")
    if p.exists():
        for line in p.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


dev = pick_device(device)
store = study_store(profile)
out = results_dir(profile)
hardware = (f"{cpu_model()}, {os.cpu_count()} logical cores; Python {platform.python_version()}, "
            f"numpy {np.__version__}; torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads on device `{dev}` (generators); numba {numba.__version__} with "
            f"{numba.get_num_threads()} threads (Monte Carlo)")
print("machine:", hardware)

# %% [markdown]
# ## Timing and scoring every sampler
#
# Each generator draws `n_cost` configurations at each temperature after a warm-up call outside the
# timed region; its cost is the wall time of those calls per 1000 samples, independent of T.

# %%
e_exact = {T: float(np.ravel(exact.finite_size(L, np.array([T]))[0])[0]) for T in cost_T}
mc_device = None if mc_backend == "numba" else str(dev)
ref_ens = ising.cached_ensembles(store, L, cost_T, n_test, method=method, seed=seed + 1, device=mc_device)
# cached_ensembles keys temperatures rounded to 6 decimals, in the order given: re-key by cost_T
ref = {T: e.configs for T, e in zip(cost_T, ref_ens.values())}


def fidelity(ens):
    """energy_fidelity of {T: configs} against e_exact and the reference ensembles (mean over cost_T)."""
    return metrics.energy_fidelity(ens, e_exact, ref, n_boot=n_boot, seed=seed)


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
        if model.kind == "ddpm":
            label = f"DDPM-1000 (ancestral, {m})" if steps is None else f"DDIM-{steps} ({m})"
        elif model.kind.startswith("adsorption"):
            label = f"{m} (K={model.nfe})"
        else:
            label = m
        rows.append({"sampler": label, "model": m, "kind": model.kind, "T": float("nan"),
                     "nfe": model.nfe_for(steps), "seconds_per_1000": 1000 * seconds / (n_cost * len(cost_T)),
                     **fidelity(ens), "tau_int": float("nan"), "tau_reliable": ""})

# Monte Carlo, scored like a generator: an independent ensemble of n_cost configurations per T
mc_ens = ising.cached_ensembles(store, L, cost_T, n_cost, method=method, seed=seed + 2, device=mc_device)
mc_fid = fidelity({T: e.configs for T, e in zip(cost_T, mc_ens.values())})
# and costed per (method, T): an effectively independent configuration of one chain costs 2 τ_int sweeps
scan = ising.tau_scan(L, cost_T, methods=("metropolis", "wolff"), seed=seed, n_chains=32, progress=False)
for meth, d in scan.items():
    for T, s_ind, tau, ok in zip(d["T"], d["seconds_per_independent"], d["tau_int"], d["reliable"]):
        rows.append({"sampler": f"MC {meth}", "model": "MC", "kind": "mc", "T": float(T), "nfe": float("nan"),
                     "seconds_per_1000": 1000 * float(s_ind), **mc_fid,
                     "tau_int": float(tau), "tau_reliable": bool(ok)})

cols = ["sampler", "model", "kind", "T", "nfe", "seconds_per_1000", "d_e", "d_e_err", "w1_e", "w1_e_err",
        "tau_int", "tau_reliable"]
buf = io.StringIO()
w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
w.writeheader()
w.writerows({c: r[c] for c in cols} for r in rows)
cost_csv = out / "cost.csv"
atomic_write_text(cost_csv, buf.getvalue())


def pm(v, e):
    """``v ± e`` as everywhere in the book (report.fmt_pm: two significant digits on the error)."""
    return report.fmt_pm(v, e)


def t_cell(r):
    return f"{r['T']:g}" if r["kind"] == "mc" else "mean over " + ", ".join(f"{T:g}" for T in cost_T)


def row_name(r):
    return r["sampler"] if r["kind"] != "mc" else f"{r['sampler']}, T = {r['T']:g}"


DE = r"mean $\lvert\langle e\rangle - e_\mathrm{exact}\rvert$"  # the two fidelity measures, as the book writes them
W1E = r"mean $W_1(e)$"
table = "\n".join([
    f"| sampler | $T$ | NFE | s / 1000 samples | {DE} [J] | {W1E} to MC reference [J] |",
    "|---|---|---|---|---|---|"] + [
    f"| {r['sampler']} | {t_cell(r)} "
    f"| {'–' if not np.isfinite(r['nfe']) else int(r['nfe'])} | {r['seconds_per_1000']:.3g} "
    f"| {pm(r['d_e'], r['d_e_err'])} | {pm(r['w1_e'], r['w1_e_err'])} |" for r in rows])
display(Markdown(table))
auto_note = f": Wolff below T = {ising.AUTO_WOLFF_BELOW:g}, Metropolis above" if method == "auto" else ""
tau_note = (f"Monte Carlo τ_int (sweeps) at T = {', '.join(f'{T:g}' for T in cost_T)}: " + "; ".join(
    f"{meth} {', '.join(f'{t:.2f}' + ('' if ok else ' (unreliable: series < 50 τ_int)') for t, ok in zip(d['tau_int'], d['reliable']))}"
    for meth, d in scan.items())
    + ". The cost of one effectively independent configuration is 2 τ_int sweeps × the time of one sweep. "
      "The Monte Carlo rows share one fidelity: that of an independent exact-in-expectation ensemble of "
      f"{n_cost} configurations per T (sampler `{method}`{auto_note}, seed {seed + 2}) scored against the reference "
      f"({n_test} per T, seed {seed + 1}), i.e. the noise floor of the fidelity axes at this sample size.")
display(Markdown(tau_note))

# %% [markdown]
# ## The Pareto plot
#
# Lower left is better: cheap and faithful. Every generator was timed in this run, on this machine,
# one after another, so their ratios are comparable even when absolute times drift. Monte Carlo has one
# square per (method, T), all at the same fidelity (one independent ensemble scored over all T; both
# samplers are exact in expectation); their spread along the time axis is the temperature dependence
# of 2 τ_int sweeps × sweep time. The shaded band is that Monte Carlo fidelity ± its error: the floor
# set by the finite sample size. Both axes are logarithmic; error bars whose lower end falls below the
# bottom of the axis (a third of the smallest value, i.e. the quantity is compatible with zero) are cut
# there. No value is floored unless it is exactly 0, which the cell would then print.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
gen = [r for r in rows if r["kind"] != "mc"]
mc_rows = [r for r in rows if r["kind"] == "mc"]
colors = {r["sampler"]: f"C{i}" for i, r in enumerate(gen)}
mc_colors = {"MC metropolis": "0.25", "MC wolff": "0.6"}
for ax, key, lab in ((axes[0], "d_e", "mean over T of |⟨e⟩ − e_exact| [J per spin]"),
                     (axes[1], "w1_e", "mean over T of W1(e) to MC reference [J per spin]")):
    vals = np.array([r[key] for r in rows])
    errs = np.array([r[key + "_err"] for r in rows])
    # bottom of the log axis: a factor 3 below the smallest positive value; lower error-bar ends below it
    # (|Δe| or W1 compatible with 0) are cut there, and a value of exactly 0 would be drawn on it
    bottom = float(np.min(vals[vals > 0])) / 3 if np.any(vals > 0) else 1e-4
    floored = [row_name(r) for r, v in zip(rows, vals) if v <= 0]
    ys = np.maximum(vals, bottom)
    lo_err = np.minimum(errs, ys - bottom)
    for r, y, lo, hi in zip(rows, ys, lo_err, errs):
        is_mc = r["kind"] == "mc"
        c = mc_colors.get(r["sampler"], "k") if is_mc else colors[r["sampler"]]
        ax.errorbar(r["seconds_per_1000"], y, yerr=[[lo], [hi]], fmt="s" if is_mc else "o", color=c,
                    ms=6, capsize=3, label=(r["sampler"] if not is_mc or r["T"] == cost_T[0] else None))
        if is_mc:  # MC squares share one fidelity: label each above its error bar, vertically
            ax.annotate(f"T = {r['T']:g}", (r["seconds_per_1000"], y + hi), fontsize=7, rotation=90,
                        ha="center", va="bottom", xytext=(0, 3), textcoords="offset points", color=c)
        else:
            ax.annotate(r["sampler"], (r["seconds_per_1000"], y), fontsize=7,
                        xytext=(4, 4), textcoords="offset points", color=c)
    if floored:
        print(f"{key}: value 0 drawn at the axis bottom {bottom:.2g} J for {', '.join(floored)}")
    ax.axhspan(max(mc_fid[key] - mc_fid[key + "_err"], bottom), mc_fid[key] + mc_fid[key + "_err"],
               color="0.85", zorder=0, label=f"exact sampling, n = {n_cost} per T (MC) ± error")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom)
    ax.set_xlabel("wall time per 1000 samples [s] (MC: per 1000 independent configurations)")
    ax.set_ylabel(lab)
handles, labels = axes[1].get_legend_handles_labels()
fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=5, bbox_to_anchor=(0.5, -0.08))
fig.suptitle(f"Cost against fidelity at T = {', '.join(f'{T:g}' for T in cost_T)} (J/k_B), L = {L}, "
             f"{n_cost} samples per T; {torch.get_num_threads()} torch threads on {dev}, "
             f"{numba.get_num_threads()} numba threads", fontsize=10)
fig.tight_layout()
atomic_write(repo_root() / "book" / "generated" / "figures" / "cost-pareto.png",
             lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
plt.show()

# %% [markdown]
# ## Matched cost and the Pareto front
#
# The fair speed comparison is at equal numbers of network evaluations (NFE): each adsorption run with
# K layers against the DDIM variant with the same NFE, both timed and scored here. A fidelity difference
# within the combined error bar sqrt(σ₁² + σ₂²) counts as no difference. A sampler is Pareto-optimal if
# no other sampler is at least as fast and at least as faithful (on the point estimates) and strictly
# better on one of the two; the front is given for each fidelity measure, once among the generators and
# once with the Monte Carlo points included.

# %%
def compare(a, b, key, name):
    """Sentence fragment comparing rows a and b on fidelity measure key, with the combined error bar."""
    diff = a[key] - b[key]
    comb = float(np.hypot(a[key + "_err"], b[key + "_err"]))
    s = f"{name} {pm(a[key], a[key + '_err'])} J against {pm(b[key], b[key + '_err'])} J"
    if abs(diff) <= comb:
        return s + f" (difference {abs(diff):.2g} J within the combined error {comb:.2g} J: no difference)"
    better = a if diff < 0 else b
    return s + f" ({better['sampler']} better by {abs(diff):.2g} J, combined error {comb:.2g} J)"


def pareto(rs, key):
    """Rows not dominated in (seconds_per_1000, key): nobody at least as good on both and better on one."""
    front = []
    for r in rs:
        dominated = any(o is not r and o["seconds_per_1000"] <= r["seconds_per_1000"] and o[key] <= r[key]
                        and (o["seconds_per_1000"] < r["seconds_per_1000"] or o[key] < r[key]) for o in rs)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: r["seconds_per_1000"])


matched = []
for a in (r for r in gen if r["kind"].startswith("adsorption")):
    for b in (r for r in gen if r["kind"] == "ddpm" and r["nfe"] == a["nfe"]):
        t_ratio = b["seconds_per_1000"] / a["seconds_per_1000"]
        faster = (f"{a['sampler']} is {t_ratio:.3g}× faster" if t_ratio > 1
                  else f"{b['sampler']} is {1 / t_ratio:.3g}× faster")
        matched.append(
            f"- **{a['sampler']} against {b['sampler']}** (both NFE = {int(a['nfe'])}): "
            f"{a['seconds_per_1000']:.3g} s against {b['seconds_per_1000']:.3g} s per 1000 samples, so {faster}; "
            + compare(a, b, "d_e", DE) + "; "
            + compare(a, b, "w1_e", W1E) + ".")
if not matched:
    nfe_a = sorted({int(r["nfe"]) for r in gen if r["kind"].startswith("adsorption")})
    nfe_d = sorted({int(r["nfe"]) for r in gen if r["kind"] == "ddpm"})
    matched.append(f"- No DDPM/DDIM variant in this profile has the NFE of an adsorption run "
                   f"(adsorption NFE {nfe_a}, DDPM/DDIM NFE {nfe_d}), so there is no matched-NFE comparison.")

front_lines = []
for key, name in (("d_e", DE), ("w1_e", W1E)):
    fg = ", ".join(r["sampler"] for r in pareto(gen, key))
    # Monte Carlo costs differ by temperature, so its points enter the front one temperature at a time
    fa = "; ".join(f"at T = {T:g}: " + ", ".join(row_name(r) for r in pareto(
        gen + [r for r in mc_rows if r["T"] == T], key)) for T in cost_T)
    front_lines.append(f"- time against {name}: among the generators {fg}; with the Monte Carlo points "
                       f"of one temperature included, {fa}.")

summary = "\n".join(["**Matched NFE.**", ""] + matched + ["", "**Pareto-optimal samplers** (point estimates):", ""]
                    + front_lines)
display(Markdown(summary))

# %%
lines = ["The cost comparison, rendered from `results/" + profile + "/cost.csv`, every sampler timed side by side in "
         f"one run on {hardware}.", "", summary, "", table, "", tau_note, "",
         "```{figure} generated/figures/cost-pareto.png", ":width: 100%", "",
         "Wall time per 1000 samples against fidelity, both axes logarithmic; lower left is better. Error bars: "
         "propagated standard errors of ⟨e⟩ (left) and bootstrap errors of W1 (right); bars reaching zero are cut "
         "at the bottom of the axis. Monte Carlo squares: one per (method, T), cost 2 τ_int sweeps × sweep time; "
         "grey band: the fidelity of exact sampling at the same sample size.", "```", ""]
_ = atomic_write_text(repo_root() / "book" / "generated" / "cost.md", "\n".join(lines))

# %% [markdown]
# ## Provenance
#
# The git commit of the source that made the results of this book, and whether the working tree
# had uncommitted changes then, as the study runner recorded them for each notebook run.

# %%
from adsorbstudy.provenance import provenance_markdown

display(Markdown(provenance_markdown(out / "provenance.json")))
