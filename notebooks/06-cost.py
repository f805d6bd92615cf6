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
ddpm_steps = [1000, 50, 10]  # [1, 10000] DDPM sampling steps: a DDPM's own n_steps = its ancestral chain, fewer = DDIM, more = skipped
cost_T = [1.8, 2.3, 2.8]   # [0.1, 20] temperatures of the comparison
n_cost = 64                # [8, 100000] samples per temperature and sampler (also the Monte Carlo row's ensemble size)
n_test = 200               # [10, 1000000] Monte Carlo configurations per test temperature (reference)
method = "auto"            # {auto, metropolis, wolff} Monte Carlo sampler of the reference and Monte Carlo row ensembles
mc_backend = "numba"       # {numba, torch} as in the Monte Carlo chapter
seed = 0                   # [0, 2147483647] root seed; the reference, the Monte Carlo row and the samples draw their own streams (adsorbstudy.study.seeds)
n_boot = 200               # [2, 100000] bootstrap resamples of the W1 error bars
scaling_L = [16, 32, 64, 128]  # [8, 1024] lattice sides (4·2^m) of the cost-against-L comparison at T_c
scaling_models = ["adsorption", "adsorption-K10", "ddpm", "gan"]  # str each: trained runs whose networks are timed against L
scaling_ddpm_steps = [1000, 50]  # [1, 1000] DDPM samplers timed against L: 1000 = ancestral, fewer = DDIM
scaling_matched_nfe = 50   # [0, 1000] NFE of the matched DDPM (that many diffusion steps), timed as that many ancestral steps; 0: none
scaling_pixels = 65536     # [256, 16777216] pixels per timed batch: batch = max(2, scaling_pixels // L²)
scaling_max_nfe = 50       # [1, 1000] network evaluations timed per sampler and L; a longer sampler's time is scaled to its NFE
scaling_repeats = 1        # [1, 10] timed calls per sampler and L; the fastest counts (raise it on a shared machine)
tau_L = [8, 16, 32, 64]    # [4, 512] sizes where τ_int(T_c) is measured (chapter 03's fss_sizes: its cached scan is reused)
tau_chains = 64            # [8, 4096] chains per τ_int run and per sweep timing (chapter 03's tau_chains)
tau_replicas = 4           # [2, 64] independent τ_int runs per size (chapter 03's tau_replicas)
kl_per_spin = None         # float [0, 10] KL per spin (nats) of the corrected generator; None: from results (exact.csv, else verdict.json)
kl_scan = [0.001, 0.0001, 0.00001]  # [0, 10] further KL values per spin, to show how the crossover moves
kl_L_models = []           # str each: adsorption runs trained at ≥ 2 lattice sides (same budget): their KL bound per spin at T_c gives its trend in L; [] = none
n_kl = 256                 # [16, 100000] Boltzmann samples (Wolff) per lattice side for the KL bound of kl_L_models

# %%
import csv
import io
import math
import os
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np
import torch
from IPython.display import Markdown, display

from adsorbstudy.analysis import comparisons, reweight, scaling, wording
from adsorbstudy.generators.train import load_trained
from adsorbstudy.physics import ensembles, exact, montecarlo, observables
from adsorbstudy.study.runtime import pick_device, repo_root, results_dir
from adsorbstudy.study.seeds import seed_for
from adsorbstudy.study.store import atomic_write, atomic_write_json, atomic_write_text, study_store


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux); platform.processor() is empty there."""
    p = Path("/proc/cpuinfo")
    if p.exists():
        for line in p.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


scaling_L = scaling.check_sizes(scaling_L)  # before any work: every generator must take every size
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
ref_ens = ensembles.cached_ensembles(store, L, cost_T, n_test, method=method, seed=seed_for(seed, "mc-test"), device=mc_device)
# cached_ensembles keys temperatures rounded to 6 decimals, in the order given: re-key by cost_T
ref = {T: e.configs for T, e in zip(cost_T, ref_ens.values())}


def fidelity(ens):
    """energy_fidelity of {T: configs} against e_exact and the reference ensembles (mean over cost_T)."""
    return observables.energy_fidelity(ens, e_exact, ref, n_boot=n_boot, seed=seed)


rows = []
for m in models:
    model = load_trained(m, profile, device=str(dev))
    # a DDPM's own chain (n_steps noise levels) is its ancestral sampler; shorter step counts are DDIM
    variants = [k for k in ddpm_steps if k <= model.n_steps] if model.kind == "ddpm" else [None]
    for steps in variants:
        steps = None if model.kind == "ddpm" and steps == model.n_steps else steps
        model.sample(2, cost_T[0], seed=0, steps=steps)  # warm-up outside the timed region
        t0 = time.perf_counter()
        ens = {T: model.sample(n_cost, T, seed=seed_for(seed, "sample-cost", i), steps=steps).numpy() for i, T in enumerate(cost_T)}
        seconds = time.perf_counter() - t0
        if model.kind == "ddpm":
            label = f"DDPM-{model.n_steps} (ancestral, {m})" if steps is None else f"DDIM-{steps} ({m})"
        elif model.kind.startswith("adsorption"):
            label = f"{m} (K={model.nfe})"
        else:
            label = m
        rows.append({"sampler": label, "model": m, "kind": model.kind, "T": float("nan"),
                     "nfe": model.nfe_for(steps), "seconds_per_1000": 1000 * seconds / (n_cost * len(cost_T)),
                     **fidelity(ens), "tau_int": float("nan"), "tau_reliable": ""})

# Monte Carlo, scored like a generator: an independent ensemble of n_cost configurations per T
mc_ens = ensembles.cached_ensembles(store, L, cost_T, n_cost, method=method, seed=seed_for(seed, "mc-cost"), device=mc_device)
mc_fid = fidelity({T: e.configs for T, e in zip(cost_T, mc_ens.values())})
# and costed per (method, T): an effectively independent configuration of one chain costs 2 τ_int sweeps
scan = ensembles.tau_scan(L, cost_T, methods=("metropolis", "wolff"), seed=seed_for(seed, "mc-cost-tau"), n_chains=32, progress=False)
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
    return wording.fmt_pm(v, e)


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
auto_note = f": Wolff below T = {montecarlo.AUTO_WOLFF_BELOW:g}, Metropolis above" if method == "auto" else ""
tau_note = (f"Monte Carlo τ_int (sweeps) at T = {', '.join(f'{T:g}' for T in cost_T)}: " + "; ".join(
    f"{meth} {', '.join(f'{t:.2f}' + ('' if ok else ' (unreliable: series < 50 τ_int)') for t, ok in zip(d['tau_int'], d['reliable']))}"
    for meth, d in scan.items())
    + ". The cost of one effectively independent configuration is 2 τ_int sweeps × the time of one sweep. "
      "The Monte Carlo rows share one fidelity: that of an independent exact-in-expectation ensemble of "
      f"{n_cost} configurations per T (sampler `{method}`{auto_note}, its own random stream) scored against the "
      f"reference ({n_test} per T, the test ensembles' stream), i.e. the noise floor of the fidelity axes at this sample size.")
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
# ## Cost against lattice size
#
# At the training size Monte Carlo is far cheaper per independent configuration than any generator.
# The argument for generative samplers rests on how the two costs grow with L near T_c. A local
# Monte Carlo sampler needs 2 τ_int sweeps per independent configuration, each sweep costs ∝ L², and
# τ_int ∝ L^z at T_c (chapter 03 measures z), so its cost grows like L^(2+z). A generator's cost is a
# fixed number of network evaluations (NFE) of a convolutional network, ∝ L² per sample.
#
# Both sides are measured here, in this run, on this machine:
#
# - **generators**: each network of `scaling_models`, with its trained weights carried over to every
#   L of `scaling_L` (the U-Nets are fully convolutional, so the Eq. 6 solve iterates as it does after
#   training; the GAN's generator has one layer per doubling of L, so it is timed untrained, which
#   costs the same), runs its real sampler at T_c on a batch of `scaling_pixels` pixels
#   (max(2, pixels // L²) samples), so every network evaluation does the same work at every L. A
#   sampler with more than `scaling_max_nfe` NFE is stopped after that many evaluations of its loop and
#   its time scaled to its full NFE (DDPM-1000 and the matched DDPM, a DDPM with `scaling_matched_nfe`
#   diffusion steps, whose cost is that many steps of the same network);
# - **Monte Carlo**: τ_int(L) at T_c for Metropolis and Wolff from chapter 03's scan (`tau_L`, the
#   same artifact when the sizes, chains and replicas agree), the sweep time of one chain measured now
#   at every size (amortised over `tau_chains` chains), cost = 2 τ_int × sweep time. Where L lies beyond
#   the measured τ_int, τ_int comes from the fitted L^z (open squares).
#
# Each cost is fitted with a power law cost ∝ L^a (weighted least squares on the logarithms; Monte
# Carlo over the sizes with measured τ_int). An uncorrected generator's samples (DDPM, GAN) are biased,
# and no number of them equals an independent Boltzmann configuration, so they get a cost per sample
# and **no crossover**. The fair count is per **effective** sample: the adsorption generator can be
# reweighted to exact Boltzmann statistics, at an effective sample size ESS/n ≈ exp(−N·KL) with N = L²
# spins and KL the divergence per spin, so its cost per effective sample is time / (ESS/n) and grows
# like L^a · exp(KL·L²): a second crossover where the exponential overtakes Monte Carlo's power law,
# so the generator wins at most in a window of L, or never. KL is max(−ln(ESS/n)/N, the KL bound per
# spin): a measured ESS/n above the bound's ceiling exp(−N·KL bound) is a finite-sample overestimate
# and is flagged. **Every crossover below is an extrapolation**: of the fitted laws beyond the timed
# sizes, and of the models' fidelity, which is measured only at the training size L.

# %%
from tqdm.auto import tqdm

# --- Monte Carlo: τ_int(L) at T_c (chapter 03's cached scan) and sweep times measured now
lscan = ensembles.cached_tau_size_scan(store, tau_L, exact.TC, replicas=tau_replicas, n_chains=tau_chains,
                                   seed=seed_for(seed, "mc-tau-size"))
mc_L = sorted(set(lscan["metropolis"]["L"]) | set(scaling_L))
sc_rows, sc_fits, tau_fits = [], {}, {}
for meth in ("metropolis", "wolff"):
    d = lscan[meth]
    tau = tau_fits[meth] = scaling.tau_at(mc_L, d["L"], d["tau_int"], d["tau_err"], d["reliable"])
    # the fastest of scaling_repeats timings: interference from other processes only ever adds time
    sweep = np.array([min(montecarlo.time_sweeps(meth, Ls, exact.TC, tau_chains, seed=seed + r)
                          for r in range(scaling_repeats)) for Ls in mc_L])
    cost, err = scaling.mc_cost(sweep, tau["tau_int"], tau["tau_err"])
    ok = np.array(tau["measured"])
    sc_fits[f"MC {meth}"] = scaling.fit_cost(np.array(mc_L)[ok], cost[ok], err[ok])
    sc_fits[f"MC {meth}"]["z"] = tau["fit"]["p"], tau["fit"]["p_err"]
    for i, Ls in enumerate(mc_L):
        sc_rows.append({"sampler": f"MC {meth}", "side": "mc", "L": Ls, "cost_seconds": float(cost[i]),
                        "cost_err": float(err[i]), "batch": tau_chains, "nfe": "", "timed_nfe": "",
                        "nfe_extrapolated": "", "trained_weights": "", "tau_int": tau["tau_int"][i],
                        "tau_err": tau["tau_err"][i], "tau_measured": bool(ok[i]), "sweep_seconds": float(sweep[i])})

# --- generators, timed one after another right after the Monte Carlo sweeps
samplers = []  # (label, model name, model, steps, nfe)
for m in scaling_models:
    model = load_trained(m, profile, device=str(dev))
    if model.kind == "ddpm" and model.nfe_for(None) == 1000:
        for st in scaling_ddpm_steps:
            st = None if st == 1000 else st
            samplers.append((f"DDPM-1000 (ancestral, {m})" if st is None else f"DDIM-{st} ({m})", m, model, st, None))
        if scaling_matched_nfe:
            samplers.append((f"DDPM-{scaling_matched_nfe} (matched, {m})", m, model, None, scaling_matched_nfe))
    elif model.kind.startswith("adsorption"):
        samplers.append((f"{m} (K={model.nfe})", m, model, None, None))
    else:
        samplers.append((m, m, model, None, None))
gen_kind = {}
for label, m, model, st, nfe in tqdm(samplers, desc="timing generators against L"):
    r = scaling.time_generator(model, scaling_L, steps=st, nfe=nfe, pixels=scaling_pixels,
                               max_timed_nfe=scaling_max_nfe, seed=seed, repeats=scaling_repeats)
    gen_kind[label] = (m, model.kind)
    sc_fits[label] = scaling.fit_cost(r["L"], r["seconds_per_sample"])
    for i, Ls in enumerate(r["L"]):
        sc_rows.append({"sampler": label, "side": "generator", "L": Ls, "cost_seconds": r["seconds_per_sample"][i],
                        "cost_err": "", "batch": r["batch"][i], "nfe": r["nfe"][i], "timed_nfe": r["timed_nfe"][i],
                        "nfe_extrapolated": r["extrapolated"][i], "trained_weights": r["trained_weights"][i],
                        "tau_int": "", "tau_err": "", "tau_measured": "", "sweep_seconds": ""})

sc_cols = ["sampler", "side", "L", "cost_seconds", "cost_err", "batch", "nfe", "timed_nfe", "nfe_extrapolated",
           "trained_weights", "tau_int", "tau_err", "tau_measured", "sweep_seconds"]
buf = io.StringIO()
w = csv.DictWriter(buf, fieldnames=sc_cols, lineterminator="\n")
w.writeheader()
w.writerows(sc_rows)
atomic_write_text(out / "scaling.csv", buf.getvalue())

# --- crossovers: only the reweightable (importance-corrected) adsorption generators, per effective sample
# with ESS/n = exp(-N KL), against both Monte Carlo samplers; the uncorrected ones get a cost per sample only
corrected = [lab for lab, (m, kind) in gen_kind.items() if kind.startswith("adsorption")]
kl_known = {}
for label in corrected:
    got = ({"kl": kl_per_spin, "source": "the chapter parameter kl_per_spin", "ess_above_ceiling": False}
           if kl_per_spin is not None else scaling.kl_from_results(out, gen_kind[label][0], L))
    if got is not None:
        kl_known[label] = got
main_ads = next((lab for lab, (m, kind) in gen_kind.items() if kind == "adsorption"), None)
# --- the KL bound per spin against L: models trained at several sides, each bounded at T_c on Boltzmann
# samples of its own L, fitted with a power law and extrapolated (labelled) beyond the largest side
kl_rows, kl_fit = [], None
for m in kl_L_models:
    km = load_trained(m, profile, device=str(dev))
    # the cost chapter's own streams, split by (1000 + L) so they share nothing with its other draws
    ens = ensembles.sample_ensemble(km.L, exact.TC, n_kl, method="wolff", seed=seed_for(seed, "mc-cost", 1000 + km.L))
    b, b_err = reweight.kl_bound(km, ens.configs, exact.TC, seed=seed_for(seed, "sample-cost", 1000 + km.L))
    kl_rows.append({"model": m, "L": km.L, "kl_bound": b, "kl_bound_err": b_err})
if kl_rows:
    # None when fewer than two sizes give a bound > 0 (a noisy estimate can come out ≤ 0): no trend then
    kl_fit = scaling.kl_trend([r["L"] for r in kl_rows], [r["kl_bound"] for r in kl_rows],
                              [r["kl_bound_err"] for r in kl_rows])
if kl_fit is not None:
    kl_fit_text = (f"the KL bound per spin fitted over L = {', '.join(map(str, kl_fit['fit_L']))} "
                   f"({', '.join(r['model'] for r in kl_rows if r['L'] in kl_fit['fit_L'])}): ∝ L^q, "
                   f"q = {kl_fit['p']:.2f} ± {kl_fit['p_err']:.2f}, extrapolated beyond L = {max(kl_fit['fit_L'])}")
crossings = []
for label in corrected:
    kls = [kl_known[label]] if label in kl_known else []
    if label == main_ads:
        kls += [{"kl": float(k), "source": "hypothetical (kl_scan)", "ess_above_ceiling": False} for k in kl_scan]
        if kl_fit is not None and kl_fit["p"] > -2:
            kls.append({"kl": kl_fit["A"], "kl_exponent": kl_fit["p"], "source": kl_fit_text,
                        "ess_above_ceiling": False, "fit": kl_fit})
    for meth in ("MC metropolis", "MC wolff"):
        for k in kls:
            c = scaling.crossover_draws(sc_fits[label], sc_fits[meth], k["kl"], n_draws=1000, seed=seed,
                                        kl_fit=k.get("fit"))
            iv = c["interval"]
            crossings.append({"generator": label, "mc": meth, "kl_per_spin": k["kl"], "kl_source": k["source"],
                              "kl_exponent": k.get("kl_exponent", 0.0),
                              "ess_above_ceiling": k["ess_above_ceiling"],
                              "L_from": None if iv is None else iv[0], "L_to": None if iv is None else iv[1],
                              "L_from_q": c["L_from_q"], "never_fraction": c["never_fraction"]})
gen_fits = {k: v for k, v in sc_fits.items() if not k.startswith("MC")}
mc_fits = {k: v for k, v in sc_fits.items() if k.startswith("MC")}
scaling_summary = scaling.verdict_entry(gen_fits, mc_fits, crossings, L, scaling_L, lscan["metropolis"]["L"],
                                        corrected=corrected)
scaling_summary["kl_trend"] = None if not kl_rows else {
    "L": [r["L"] for r in kl_rows], "models": [r["model"] for r in kl_rows], "T": exact.TC, "n": n_kl,
    "kl_bound": [r["kl_bound"] for r in kl_rows], "kl_bound_err": [r["kl_bound_err"] for r in kl_rows],
    **({"A": None, "q": None, "q_err": None, "fit_L": [], "extrapolation_beyond_L": None} if kl_fit is None else
       {"A": kl_fit["A"], "q": kl_fit["p"], "q_err": kl_fit["p_err"], "fit_L": kl_fit["fit_L"],
        "extrapolation_beyond_L": max(kl_fit["fit_L"])})}
scaling_summary["tau_fit_L"] = {meth: tau_fits[meth]["fit_L"] for meth in ("metropolis", "wolff")}
atomic_write_json(out / "scaling.json", scaling_summary)
verdict_now = comparisons.update_verdict(out / "verdict.json", "scaling", scaling_summary)
# The answer first: this chapter runs after the fidelity and exact-statistics chapters (NEEDS), so
# verdict.json now holds all three entries the short answer on the results page is generated from.
_ = atomic_write_text(repo_root() / "book" / "generated" / "answer.md", wording.answer_markdown(verdict_now) + "\n")

# %% [markdown]
# The figure: cost per (effectively) independent sample at T_c against L, both axes logarithmic.
# Points are measured; lines are the fitted power laws, continued (thin) beyond the timed sizes. The
# dashed curve is the reweighted adsorption generator's cost per effective sample when its KL per
# spin is known. The dotted vertical line is the training size, the only L at which any model's
# fidelity was measured.

# %%
fig, ax = plt.subplots(figsize=(12, 5.6))
measured_rows = [c for c in crossings if c["kl_source"] != "hypothetical (kl_scan)"]  # the KL of kl_known
finite_from = [c["L_from"] for c in measured_rows if c["L_from"] and np.isfinite(c["L_from"])]
L_hi = float(min(1e5, max([4 * max(mc_L)] + [1.5 * v for v in finite_from])))
Lg = np.exp(np.linspace(np.log(min(mc_L) / 1.2), np.log(L_hi), 200))
for i, (label, f) in enumerate(gen_fits.items()):
    pts = [r for r in sc_rows if r["sampler"] == label]
    c = f"C{i}"
    ax.plot([r["L"] for r in pts], [r["cost_seconds"] for r in pts], "o", color=c,
            label=f"{label}: a = {f['p']:.2f} ± {f['p_err']:.2f}")
    ax.plot(Lg, f["A"] * Lg ** f["p"], "-", lw=0.8, color=c)
    if label in kl_known:
        kl = kl_known[label]["kl"]
        with np.errstate(over="ignore"):
            ax.plot(Lg, f["A"] * Lg ** f["p"] * np.exp(kl * Lg**2), "--", lw=1.2, color=c,
                    label=f"{label} per effective sample, KL = {kl:.2g} nats/spin")
    if label == main_ads and kl_fit is not None and kl_fit["p"] > -2:
        with np.errstate(over="ignore"):
            ax.plot(Lg, f["A"] * Lg ** f["p"] * np.exp(kl_fit["A"] * Lg ** (2 + kl_fit["p"])), "-.", lw=1.2, color=c,
                    label=f"{label} per effective sample, KL per spin ∝ L^{kl_fit['p']:.2f} (fitted, extrapolated)")
for meth, c in (("MC metropolis", "0.2"), ("MC wolff", "0.55")):
    f = mc_fits[meth]
    pts = [r for r in sc_rows if r["sampler"] == meth]
    for measured in (True, False):
        sel = [r for r in pts if r["tau_measured"] == measured]
        if sel:
            ax.errorbar([r["L"] for r in sel], [r["cost_seconds"] for r in sel], [r["cost_err"] for r in sel],
                        fmt="s", mfc=c if measured else "none", color=c, capsize=2,
                        label=(f"{meth}: a = {f['p']:.2f} ± {f['p_err']:.2f} (z = {f['z'][0]:.2f} ± {f['z'][1]:.2f})"
                               if measured else f"{meth}, τ_int from the fitted L^z"))
    ax.plot(Lg, f["A"] * Lg ** f["p"], "-", lw=1.2, color=c)
for cr in measured_rows:
    if cr["L_from"] and np.isfinite(cr["L_from"]) and cr["L_from"] <= L_hi:
        y = sc_fits[cr["mc"]]["A"] * cr["L_from"] ** sc_fits[cr["mc"]]["p"]
        ax.plot(cr["L_from"], y, "x", color="k", ms=8, mew=1.5)
ax.axvline(L, ls=":", color="k", lw=1)
ax.annotate(f"training L = {L}\n(fidelity measured only here)", (L, 0.02), xycoords=("data", "axes fraction"),
            fontsize=7, xytext=(4, 0), textcoords="offset points")
ax.axvspan(max(scaling_L), L_hi, color="0.93", zorder=0, label="beyond the timed sizes: extrapolated")
lo_y = min(r["cost_seconds"] for r in sc_rows) / 3
hi_y = max(r["cost_seconds"] for r in sc_rows) * 1e3
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlim(min(mc_L) / 1.2, L_hi)
ax.set_ylim(lo_y, hi_y)
ax.set_xlabel("lattice side L [lattice spacings]")
ax.set_ylabel("wall time per independent sample at T_c [s]")
ax.set_title("Cost against L at T_c, measured side by side on this machine; × = crossover of the fitted laws", fontsize=9)
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the points stay visible
fig.tight_layout()
atomic_write(repo_root() / "book" / "generated" / "figures" / "cost-scaling.png",
             lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))
plt.show()

# %%
def fmt_L(v):
    return "∞" if v is None or not np.isfinite(v) else f"{v:.3g}"


def crossing_text(c):
    """One sentence fragment: where the generator is cheaper than the Monte Carlo sampler, with the spread."""
    lo, hi = c["L_from"], c["L_to"]
    if lo is None or hi < 1:  # an interval below L = 1 holds no lattice
        s = "never cheaper" + ("" if lo is None else " at L ≥ 1")
    elif not np.isfinite(lo):
        s = "cheaper only beyond L ~ 10^300 (never, in practice)"
    elif lo == 0 and hi == math.inf:
        s = "cheaper at every L"
    elif lo == 0:
        s = f"cheaper only below L ≈ {fmt_L(hi)}"
    else:
        s = f"cheaper from L ≈ {fmt_L(lo)}" + ("" if hi == math.inf else f" up to L ≈ {fmt_L(hi)}")
    q16, q50, q84 = c["L_from_q"]
    if lo is not None and 0 < lo < math.inf:
        s += f" (fit uncertainty: 16–84 % of draws {fmt_L(q16)}–{fmt_L(q84)}"
        s += f"; {100 * c['never_fraction']:.0f} % of draws never cross)" if c["never_fraction"] else ")"
    elif c["never_fraction"] and lo is not None:
        s += f" ({100 * c['never_fraction']:.0f} % of draws never cheaper)"
    return s


exp_rows = ["| sampler | fitted a (cost ∝ L^a) | cost at L = " + f"{max(scaling_L)} [s] | local slopes |", "|---|---|---|---|"]
for name, f in sc_fits.items():
    at = [r["cost_seconds"] for r in sc_rows if r["sampler"] == name and r["L"] == max(scaling_L)]
    exp_rows.append(f"| {name} | {wording.fmt_pm(f['p'], f['p_err'])} | {at[0]:.3g} | "
                    f"{', '.join(f'{v:.2f}' for v in f['local_slopes'])} |")
cross_rows = ["| generator | against | KL per spin [nats] | where the generator costs less per effective sample |",
              "|---|---|---|---|"]
for c in crossings:
    kl_cell = (f"{c['kl_per_spin']:.3g} ({c['kl_source']})" if not c["kl_exponent"] else
               f"{c['kl_per_spin']:.3g} · L^{c['kl_exponent']:.2f} ({c['kl_source']})")
    cross_rows.append(f"| {c['generator']} | {c['mc']} | {kl_cell} | {crossing_text(c)} |")
ext = [r["sampler"] for r in sc_rows if r["side"] == "generator" and r["nfe_extrapolated"] is True]
extr_note = ("" if not ext else "Samplers timed over fewer network evaluations than they make and scaled: "
             + ", ".join(sorted(set(ext))) + f" (timed over {scaling_max_nfe} NFE). ")
kl_note = ("; ".join(f"{lab}: KL = {k['kl']:.3g} nats per spin from {k['source']}" for lab, k in kl_known.items())
           if kl_known else "No KL per spin of the adsorption generator is available (neither `kl_per_spin` nor "
           "`exact.csv` nor a KL bound in `verdict.json`): only the crossovers at the hypothetical `kl_scan` "
           "values are shown")
if kl_rows:
    kl_note += (". KL bound per spin at T_c against L (one model per side, " + f"{n_kl} Wolff samples each): "
                + ", ".join(f"L = {r['L']} ({r['model']}): {wording.fmt_pm(r['kl_bound'], r['kl_bound_err'])}"
                            for r in kl_rows)
                + ("; fewer than two sizes gave a bound > 0, so no trend is fitted or extrapolated" if kl_fit is None else
                   (f"; fitted over L = {', '.join(map(str, kl_fit['fit_L']))} ∝ L^q with "
                    f"q = {wording.fmt_pm(kl_fit['p'], kl_fit['p_err'])}, an **extrapolation** beyond L = {max(kl_fit['fit_L'])}"
                    + (f" (left out, bound ≤ 0 or not finite: L = {', '.join(map(str, kl_fit['dropped_L']))}; a bound ≤ 0 "
                       "says the KL there is small, so leaving it out biases the fit upward)" if kl_fit["dropped_L"] else "")
                    + ("" if kl_fit["p"] > -2 else " (q ≤ −2: a total KL that does not grow with L; no crossover drawn from it)"))))
zm, zw = mc_fits["MC metropolis"]["z"], mc_fits["MC wolff"]["z"]
scaling_text = (
    f"Timed at T_c on L = {', '.join(map(str, scaling_L))} ({scaling_pixels} pixels per batch), τ_int measured at "
    f"L = {', '.join(map(str, lscan['metropolis']['L']))} (z = {wording.fmt_pm(*zm)} Metropolis over the reliable "
    f"sizes L = {', '.join(map(str, scaling_summary['tau_fit_L']['metropolis']))}, {wording.fmt_pm(*zw)} Wolff over "
    f"L = {', '.join(map(str, scaling_summary['tau_fit_L']['wolff']))}); each time the fastest of {scaling_repeats} "
    f"repeat{'s' if scaling_repeats > 1 else ''}; machine: {hardware}. {extr_note}{kl_note}. "
    "**All crossovers are extrapolations** of the fitted power laws beyond the timed sizes, and of the "
    f"models' fidelity, which was measured only at L = {L}. Uncorrected samplers ("
    f"{', '.join(scaling_summary['per_sample_only']) or 'none'}) draw biased samples: they get a cost per "
    "sample (the exponents above) and no crossover; only the reweighted adsorption generator's cost per "
    "effective sample compares like with like with Monte Carlo's independent configurations.")
display(Markdown("\n".join(exp_rows) + "\n\n" + "\n".join(cross_rows) + "\n\n" + scaling_text))
_ = atomic_write_text(repo_root() / "book" / "generated" / "scaling.md", "\n".join([
    "Cost against lattice size, rendered from `results/" + profile + "/scaling.csv` and `scaling.json`.", "",
    "\n".join(exp_rows), "", "\n".join(cross_rows), "", scaling_text, "",
    "```{figure} generated/figures/cost-scaling.png", ":width: 100%", "",
    "Wall time per independent sample at T_c against L (log-log): generators per sample (circles), the reweighted "
    "adsorption generator per effective sample (dashed), Monte Carlo per independent configuration, 2 τ_int sweeps "
    "(squares; open where τ_int comes from the fitted L^z). Lines: fitted power laws; ×: crossovers; dotted: the "
    "training size.", "```", ""]))

# ## Provenance
#
# The git commit of the source that made the results of this book, and whether the working tree
# had uncommitted changes then, as the study runner recorded them for each notebook run.

# %%
from adsorbstudy.study.provenance import provenance_markdown

display(Markdown(provenance_markdown(out / "provenance.json")))
