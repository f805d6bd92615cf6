# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Ising ground truth: Monte Carlo against exact results
#
# Every generative model in this study is judged against equilibrium ensembles of the
# 2D Ising model (J = 1, k_B = 1, periodic L×L lattice, energy per spin with each bond
# counted once). This chapter generates those ensembles and checks them before anyone
# trusts them:
#
# 1. the training ensembles (seed 004's coarse and fine grids) and the test ensembles
#    (the grid `test_start`…`test_stop` in steps of `test_step`; this run's values are
#    printed below), cached in the artifact store, from which every later chapter reads;
# 2. ⟨e⟩, ⟨|m|⟩, C and χ against T with bootstrap error bars, beside the **exact**
#    finite-size result at the same L (Kaufman 1949; Ferdinand & Fisher 1969) and
#    Onsager's infinite lattice;
# 3. the residuals (MC − exact)/σ, which should look like unit-variance noise;
# 4. the correlation function G(r) at and around T_c, with the fitted exponent η
#    compared with the exact 1/4;
# 5. the integrated autocorrelation time τ_int of Metropolis and Wolff against T,
#    which is what sets the spacing of the kept configurations, and against L at T_c,
#    where it gives the dynamic exponent z of each sampler;
# 6. snapshots.
#
# |m| is taken per configuration, the same convention the models get (seed 004 used
# |Σ_k m_k| for its MC chains, which differs below T_c when a chain never flips).

# %% tags=["parameters"]
profile = "smoke"  # str
device = "auto"  # {auto, cpu, cuda}
L = 16  # [4, 256] lattice side
train_grids = ["coarse", "fine"]  # {coarse, fine} training grids to generate (seed 004 DiffIsing1, DiffIsing2)
test_start = 1.0  # [0.1, 20] first test temperature, J/k_B
test_stop = 4.0  # [0.1, 20] last test temperature, J/k_B
test_step = 0.2  # (0, 5] test grid spacing, J/k_B
n_train = 1000  # [10, 1000000] configurations per training temperature
n_test = 1000  # [10, 1000000] configurations per test temperature
method = "auto"  # {auto, metropolis, wolff} sampler; auto: Wolff below ising.AUTO_WOLFF_BELOW, Metropolis above
mc_backend = "numba"  # {numba, torch} numba CPU kernels, or the torch checkerboard (Metropolis) on `device`
seed = 0  # [0, 2147483647] root seed: every ensemble draws its own stream from it by purpose (adsorbstudy.study.seeds)
corr_temperatures = [2.2, 2.3, 2.4]  # [0.1, 20] temperatures of the G(r) figure besides Tc
n_corr = 1000  # [10, 1000000] configurations per temperature for G(r) at Tc
fss_sizes = [8, 16, 32, 64]  # [4, 512] lattice sides of the finite-size scaling of m² at Tc
n_fss = 1000  # [10, 1000000] configurations per size for the finite-size scaling
tau_temperatures = [1.6, 2.0, 2.2, 2.3, 2.5, 3.0, 3.5]  # [0.1, 20] temperatures of the tau_int scan
tau_chains = 64  # [8, 4096] chains per sampler (per run in the L scan) in the tau_int scans
tau_replicas = 4  # [2, 64] independent runs per sampler and size for tau_int(L) at Tc; their spread is the error
n_boot = 200  # [20, 100000] bootstrap resamples for error bars

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from scipy.stats import chi2 as chi2_dist
from scipy.stats import norm as norm_dist

from adsorbstudy.physics import ensembles, exact, grids, lattice, montecarlo, observables
from adsorbstudy.study.runtime import pick_device, results_dir
from adsorbstudy.study.seeds import seed_for
from adsorbstudy.study.store import atomic_write_json, study_store

if test_stop < test_start:
    raise ValueError(f"test_stop must be >= test_start ({test_start}); got {test_stop!r}")
if mc_backend == "torch" and L % 2:
    raise ValueError(f"L must be even for mc_backend='torch' (checkerboard); got {L}")
mc_device = None if mc_backend == "numba" else str(pick_device(device))
store = study_store(profile)
train_T = sorted({T for g in train_grids for T in grids.TRAIN_GRIDS[g]})
test_T = grids.test_grid(test_start, test_stop, test_step)
TC = exact.TC
display(Markdown(
    f"L = {L} (N = {L * L} spins); {len(train_T)} training temperatures × {n_train} configurations "
    f"(grids: {', '.join(train_grids) or 'none'}); {len(test_T)} test temperatures "
    f"{', '.join(f'{T:g}' for T in test_T)} × {n_test} configurations; sampler `{method}`"
    f"{f' (Wolff below T = {montecarlo.AUTO_WOLFF_BELOW:g}, Metropolis above)' if method == 'auto' else ''} on "
    f"{'numba (CPU)' if mc_device is None else 'torch/' + mc_device}; T_c = {TC:.6f}."))

# %% [markdown]
# ## 1. The ensembles
#
# Each temperature is sampled by many independent chains. Each chain is thermalized
# and its integrated autocorrelation time τ_int (of e and of |m|, the larger one) is
# measured on a pilot run that is at least 50 τ_int long; the chain then keeps one
# configuration every ⌈2 τ_int⌉ sweeps. The training and the test ensembles draw from
# independent random streams, spawned from the root `seed` by purpose (`adsorbstudy.study.seeds`),
# so a model is never tested on the configurations it was trained on. Everything is cached
# per temperature.

# %%
train = ensembles.cached_ensembles(store, L, train_T, n_train, method=method, seed=seed_for(seed, "mc-train"),
                               device=mc_device) if train_T else {}
test = ensembles.cached_ensembles(store, L, test_T, n_test, method=method, seed=seed_for(seed, "mc-test"), device=mc_device)
rows = ["| set | T | sampler | τ_int (sweeps) | thermalization | spacing | reliable τ |", "|---|---|---|---|---|---|---|"]
for name, ens_set in (("train", train), ("test", test)):
    for T, ens in ens_set.items():
        rows.append(f"| {name} | {T:g} | {ens.method} | {ens.tau_int:.2f} | {ens.thermalization} | {ens.spacing} | "
                    f"{'yes' if ens.tau_reliable else 'NO'} |")
display(Markdown("\n".join(rows)))
unreliable = [(T, e.method) for s in (train, test) for T, e in s.items() if not e.tau_reliable]
display(Markdown("All τ_int estimates come from series at least 50 τ_int long." if not unreliable else
                 f"**Warning:** τ_int is not reliably measured at {unreliable}."))

# %% [markdown]
# ## 2. Thermodynamics against the exact results
#
# Points: MC with bootstrap standard errors (test ensembles, circles; training
# ensembles, crosses). Black line: the exact finite-size result at the same L (for e
# and C; no closed form exists for |m| and χ on a finite torus). Dashed grey: Onsager's
# infinite lattice (spontaneous magnetization for |m|). The training range is shaded.

# %%
def stats_of(ens_set):
    return {T: observables.thermo_stats(e.configs, T, n_boot=n_boot, seed=0) for T, e in ens_set.items()}


st_test, st_train = stats_of(test), stats_of(train)
lo, hi = min(test_T + train_T), max(test_T + train_T)
Tf = np.linspace(lo, hi, 400)
e_fs, c_fs = exact.finite_size(L, Tf)
fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
panels = [("e", "⟨e⟩ [J per spin]"), ("m_abs", "⟨|m|⟩"), ("C", "C [k_B per spin]"), ("chi", "χ [1/J per spin]")]
for ax, (k, lab) in zip(axes.ravel(), panels):
    if train_T:
        ax.axvspan(min(train_T), max(train_T), color="0.92", zorder=0, label="training range")
    for st, mk, name in ((st_test, "o", "MC (test)"), (st_train, "x", "MC (train)")):
        if st:
            Ts = np.array(list(st))
            ax.errorbar(Ts, [st[T][k] for T in Ts], [st[T][k + "_err"] for T in Ts], fmt=mk, ms=4, capsize=2, label=name)
    if k == "e":
        ax.plot(Tf, e_fs, "k-", lw=1, label=f"exact, L = {L}")
        ax.plot(Tf, exact.onsager_energy(Tf), "--", color="0.5", lw=1, label="Onsager, L = ∞")
    elif k == "C":
        ax.plot(Tf, c_fs, "k-", lw=1, label=f"exact, L = {L}")
        c_inf = exact.onsager_specific_heat(Tf)
        ax.plot(Tf, np.where(np.isfinite(c_inf), c_inf, np.nan), "--", color="0.5", lw=1, label="Onsager, L = ∞")
    elif k == "m_abs":
        ax.plot(Tf, exact.onsager_magnetization(Tf), "--", color="0.5", lw=1, label="Onsager (spontaneous), L = ∞")
    ax.axvline(TC, color="0.7", lw=0.6, ls=":")
    ax.set_ylabel(lab)
for ax in axes[1]:
    ax.set_xlabel("T [J/k_B]")
axes[0, 0].legend(fontsize=8)
axes[0, 1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Residuals against the exact finite-size result
#
# z = (MC − exact)/σ for e and C at every temperature. If the ensembles are in
# equilibrium, independent and correctly weighted, z is unit-variance noise: about 95 %
# of the points within ±2 and none far outside ±4. A systematic excursion near T_c would
# mean the chains are too short or too correlated there.

# %%
rows, zs = [], {"e": [], "C": []}
for name, st in (("test", st_test), ("train", st_train)):
    for T, s in st.items():
        e_x, c_x = (float(v) for v in exact.finite_size(L, T))
        ze, zc = (s["e"] - e_x) / s["e_err"], (s["C"] - c_x) / s["C_err"]
        zs["e"].append((T, ze, name))
        zs["C"].append((T, zc, name))
        rows.append({"set": name, "T": T, **s, "e_exact": e_x, "C_exact": c_x, "z_e": ze, "z_C": zc})
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.axhspan(-2, 2, color="0.9", label="±2σ")
for k, mk in (("e", "o"), ("C", "s")):
    a = np.array([(T, z) for T, z, _ in zs[k]])
    ax.plot(a[:, 0], a[:, 1], mk, ms=4, label=f"{k}: (MC − exact)/σ")
ax.axhline(0, color="k", lw=0.6)
ax.axvline(TC, color="0.7", lw=0.6, ls=":")
ax.set_xlabel("T [J/k_B]")
ax.set_ylabel("z")
ax.legend(fontsize=8, ncol=3)
fig.tight_layout()
plt.show()
allz = np.array([z for k in zs for _, z, _ in zs[k]])
worst = max((abs(z), k, T) for k in zs for T, z, _ in zs[k])
# two checks of "pure noise": χ² of all z (e and C at one T are correlated, so this is
# approximate) and the largest |z| against the Gaussian maximum of that many draws
p_chi2 = float(chi2_dist.sf((allz**2).sum(), len(allz)))
p_max = float(1 - (1 - 2 * norm_dist.sf(worst[0])) ** len(allz))
ok = p_chi2 > 0.001 and p_max > 0.001
display(Markdown(
    f"{len(allz)} residuals: {np.mean(np.abs(allz) < 2):.0%} within ±2σ, {np.mean(np.abs(allz) < 3):.0%} within ±3σ; "
    f"mean z = {allz.mean():+.2f}, standard deviation {allz.std():.2f} (1 for pure noise); "
    f"Σz² = {(allz**2).sum():.1f} for {len(allz)} values (p = {p_chi2:.3f}); largest |z| = {worst[0]:.2f} "
    f"({worst[1]} at T = {worst[2]:g}; probability of a maximum at least this large in pure noise: {p_max:.3f}). "
    + ("The Monte Carlo data are consistent with the exact finite-size result within their error bars."
       if ok else "**The residuals are larger than statistical noise: the ensembles are not yet trustworthy.**")))

# %% [markdown]
# ## 4. Correlation function and η at and around T_c
#
# G(r) = ⟨s_i s_{i+r}⟩ along the lattice axes, r ≤ L/2 (nothing is subtracted: the
# Boltzmann distribution is symmetric under a global flip, so ⟨s_i⟩ = 0; below T_c
# G(r) therefore levels off at about m²). At T_c the infinite lattice has
# G(r) ∝ r^(−1/4). On the torus the periodic images add to G and flatten it towards
# r = L/2, so the fitted form A r^(−η) e^(−r/ξ) is only approximate and its η depends
# on the fitting range: we show it for r ≤ L/4 and r ≤ L/2. Errors come from a
# bootstrap of the whole fit over configurations (the G(r) at different r share
# configurations and are strongly correlated, so a least-squares covariance would not
# be trustworthy).

# %%
corr_T = sorted(set(round(float(T), 6) for T in corr_temperatures) | {round(TC, 6)})
corr = ensembles.cached_ensembles(store, L, corr_T, n_corr, method=method, seed=seed_for(seed, "mc-correlation"),
                              device=mc_device)
fig, ax = plt.subplots(figsize=(7, 4.5))
fits = {}
rmaxes = sorted({max(4, L // 4), L // 2})
for T, ens in corr.items():
    r, G, G_err = observables.correlation(ens.configs)
    line = ax.errorbar(r, G, G_err, fmt="o", ms=4, capsize=2, label=f"T = {T:g}")
    fits[T] = {}
    for rmax in rmaxes:
        try:
            fits[T][rmax] = observables.eta_bootstrap(ens.configs, rmax=rmax, n_boot=n_boot, seed=0)
        except ValueError as exc:  # too few significantly positive points (far above Tc)
            fits[T][rmax] = {"error": str(exc)}
    f = fits[T][L // 2]
    if "eta" in f:
        rr = np.linspace(1, r.max(), 100)
        ax.plot(rr, f["A"] * rr ** -f["eta"] * np.exp(-rr * f["kappa"]), "-", color=line[0].get_color(), lw=0.8)
G1_tc = observables.correlation(corr[round(TC, 6)].configs)[1][0]
rr = np.linspace(1, L // 2, 100)
ax.plot(rr, G1_tc * rr ** -0.25, "k--", lw=1, label="G(1) r^(−1/4) (exact η at T_c, L = ∞)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("r [lattice spacings]")
ax.set_ylabel("G(r)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
rows_eta = ["| T | " + " | ".join(f"η (r ≤ {rm})" for rm in rmaxes) + f" | ξ (r ≤ {L // 2}) |",
            "|---" * (len(rmaxes) + 2) + "|"]
for T in corr_T:
    cells = []
    for rmax in rmaxes:
        f = fits[T][rmax]
        cells.append(f"{f['eta']:.3f} ± {f['eta_err']:.3f}" if "eta" in f else "no fit")
    f = fits[T][L // 2]
    xi = "—" if "eta" not in f else ("∞ (no decay)" if not np.isfinite(f["xi"]) else f"{f['xi']:.2f} ± {f['xi_err']:.2f}")
    rows_eta.append(f"| {T:g}{' (T_c)' if abs(T - TC) < 1e-5 else ''} | " + " | ".join(cells) + f" | {xi} |")
display(Markdown("\n".join(rows_eta)))

# %% [markdown]
# The fit of G(r) on one lattice mixes the exponent with the boundary. A cleaner
# finite-size route uses several sizes at T_c: ⟨m²⟩ = N⁻² Σ_ij G(r_ij) ∝ L^(−η) (in 2D
# η = 2β/ν = 1/4), so the slope of ln⟨m²⟩ against ln L is −η, with only small
# corrections to scaling. Each size is a Wolff ensemble at T_c (cached like the others).

# %%
fss_L = sorted(set(int(x) for x in fss_sizes))
fss = {}
for Ls in fss_L:
    ens = ensembles.cached_ensembles(store, Ls, [round(TC, 6)], n_fss, method="wolff", seed=seed_for(seed, "mc-fss"),
                                progress=False)
    m = lattice.magnetization(ens[round(TC, 6)].configs)
    fss[Ls] = ((m**2).mean(), (m**2).std(ddof=1) / np.sqrt(len(m)))
fit = observables.fit_power_law(fss_L, [fss[x][0] for x in fss_L], [fss[x][1] for x in fss_L])
eta_fss, eta_fss_err, local = -fit["p"], fit["p_err"], [-v for v in fit["local_slopes"]]
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.errorbar(fss_L, [fss[x][0] for x in fss_L], [fss[x][1] for x in fss_L], fmt="o", capsize=2, label="MC (Wolff) at T_c")
Lg = np.linspace(min(fss_L), max(fss_L), 50)
ax.plot(Lg, fit["A"] * Lg ** -eta_fss, "-", lw=1, label=f"fit: η = {eta_fss:.3f}")
ax.plot(Lg, fss[fss_L[0]][0] * (Lg / fss_L[0]) ** -0.25, "k--", lw=1, label="slope −1/4 (exact)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("L [lattice spacings]")
ax.set_ylabel("⟨m²⟩ at T_c")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

fc = fits[round(TC, 6)]
etas_c = [fc[rm] for rm in rmaxes if "eta" in fc[rm]]
if len(etas_c) == 2:
    d_eta = etas_c[1]["eta"] - etas_c[0]["eta"]
    sig = float(np.hypot(etas_c[0]["eta_err"], etas_c[1]["eta_err"]))
    range_sentence = (f"Changing the G(r) fitting window from r ≤ {rmaxes[0]} to r ≤ {rmaxes[1]} moves η at T_c by "
                      f"{d_eta:+.3f} ({abs(d_eta) / sig:.1f}σ of the combined errors, which are not independent). ")
else:
    range_sentence = ""
neg = [T for T in corr_T if "kappa" in fits[T][L // 2] and fits[T][L // 2]["kappa"] <= 0]
neg_below = [T for T in neg if T < TC - 1e-6]
neg_above = [T for T in neg if T >= TC - 1e-6]
if neg_below:
    range_sentence += (f"At T = {', '.join(f'{T:g}' for T in neg_below)} (below T_c) G(r) levels off at m² "
                       "(long-range order), which a decaying form cannot describe: the fitted 1/ξ is ≤ 0. ")
if neg_above:
    range_sentence += (f"At T = {', '.join(f'{T:g}' for T in neg_above)} the fitted decay rate 1/ξ is ≤ 0: on a "
                       f"{L}×{L} torus the periodic images flatten G(r) before any exponential decay shows, "
                       "so ξ is not measurable there and the exponential factor only absorbs that flattening. ")
sentences = []
for rmax in rmaxes:
    f = fc[rmax]
    if "eta" in f:
        sentences.append(f"the G(r) fit for r ≤ {rmax} gives η = {f['eta']:.3f} ± {f['eta_err']:.3f} "
                         f"({(f['eta'] - 0.25) / f['eta_err']:+.1f}σ from 1/4)")
display(Markdown(
    f"At T_c on the {L}×{L} torus ({n_corr} configurations) " + "; ".join(sentences) + ". "
    f"Finite-size scaling of ⟨m²⟩ over L = {', '.join(map(str, fss_L))} gives η = {eta_fss:.3f} ± {eta_fss_err:.3f} "
    f"({(eta_fss - 0.25) / eta_fss_err:+.1f}σ from the exact 1/4; successive-size slopes "
    f"{', '.join(f'{v:.3f}' for v in local)}). "
    + range_sentence +
    "Seed 004 reports η = 0.308 from a G(r) fit of its L = 64 MC and quotes finite-size "
    "literature values from 0.14 to 0.4, a spread of the size that such choices of "
    "fitting form, window and boundary can produce."))

# %% [markdown]
# ## 5. Autocorrelation time of the two samplers
#
# τ_int in sweeps (a Wolff sweep is the number of cluster flips that flips N spins on
# average) for the slower of e and |m|, at this chapter's L. Local Metropolis dynamics
# slows down critically near T_c (τ ∝ L^z at T_c; published estimates are z ≈ 2.17 for
# Metropolis and z ≈ 0.25 for Wolff in sweep units); the L scan below measures z for
# both samplers on this code. The right panel is the cost that matters: wall time per
# effectively independent configuration, 2 τ_int × sweep time (per chain, amortized over
# a batch of chains on this machine). The factor 2: the variance of a mean over
# n ≫ τ_int consecutive sweeps is 2 τ_int σ²/n, so n sweeps are worth n/(2 τ_int)
# independent configurations.

# %%
tau_seed = seed_for(seed, "mc-tau-scan")
scan = store.json("ising_tau_scan", {"L": L, "T": [round(float(t), 6) for t in tau_temperatures],
                                      "chains": tau_chains, "seed": tau_seed, "version": ensembles.VERSION},
                  lambda: ensembles.tau_scan(L, tau_temperatures, seed=tau_seed, n_chains=tau_chains))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for m, mk in (("metropolis", "o-"), ("wolff", "s-")):
    d = scan[m]
    axes[0].plot(d["T"], d["tau_int"], mk, ms=4, label=m)
    axes[1].plot(d["T"], np.array(d["seconds_per_independent"]) * 1e6, mk, ms=4, label=m)
for ax in axes:
    ax.axvline(TC, color="0.7", lw=0.6, ls=":")
    ax.set_xlabel("T [J/k_B]")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
axes[0].set_ylabel("τ_int [sweeps]")
axes[1].set_ylabel("time per independent configuration [µs]")
fig.tight_layout()
plt.show()
iT = int(np.argmin(np.abs(np.array(scan["metropolis"]["T"]) - TC)))
tm, tw = scan["metropolis"]["tau_int"][iT], scan["wolff"]["tau_int"][iT]
cm, cw = scan["metropolis"]["seconds_per_independent"][iT], scan["wolff"]["seconds_per_independent"][iT]


def cheaper(c_met, c_wolff):
    """Which sampler costs less per independent configuration, and by what factor."""
    if c_met > 1.2 * c_wolff:
        return f"Wolff is {c_met / c_wolff:.1f}× cheaper"
    if c_met > c_wolff / 1.2:
        return "the two cost about the same"
    return f"Metropolis is {c_wolff / c_met:.1f}× cheaper"


auto_T = montecarlo.AUTO_WOLFF_BELOW
hot = [k for k, T in enumerate(scan["metropolis"]["T"]) if T >= auto_T]
low_T = [T for T in test_T if T < TC and test[T].method == "wolff"]
neg_frac = {T: float(np.mean(lattice.magnetization(test[T].configs) < 0)) for T in low_T}
text = (f"Closest to T_c (T = {scan['metropolis']['T'][iT]:g}) at L = {L}: Metropolis τ_int = {tm:.1f} sweeps, "
        f"Wolff τ_int = {tw:.2f} sweeps; per independent configuration Metropolis costs {cm * 1e6:.1f} µs and "
        f"Wolff {cw * 1e6:.1f} µs, so {cheaper(cm, cw)} there. ")
if hot:
    text += (f"`method=\"auto\"` uses Metropolis at T ≥ {auto_T:g}; at the scan temperatures in that range "
             + "; ".join(f"T = {scan['metropolis']['T'][k]:g}: "
                         + cheaper(scan["metropolis"]["seconds_per_independent"][k],
                                   scan["wolff"]["seconds_per_independent"][k]) for k in hot) + ". ")
if neg_frac:
    text += ("Below T_c `auto` uses Wolff, whose cluster flips reverse the global sign, so the MC ensembles, "
             "like the models', contain both signs of m: the fraction with m < 0 is "
             + ", ".join(f"{f:.2f} at T = {T:g}" for T, f in neg_frac.items()) + " (test ensembles; 0.5 expected).")
display(Markdown(text))

# %% [markdown]
# ### τ_int against L at T_c: the dynamic exponents
#
# For every size of the finite-size scan above (`fss_sizes`), each sampler runs
# `tau_replicas` independent times at T_c, each run with its own seed, `tau_chains`
# chains, and its own thermalization and pilot series at least 50 τ_int long (the
# procedure of the ensembles). τ_int is that of the slower of e and |m|; the
# mean over the runs is the estimate and their standard deviation / √runs its error.
# A weighted least-squares fit of ln τ_int against ln L gives z (error from the fit
# covariance, inflated by √(χ²/dof) when that exceeds 1), and the slope between
# successive sizes shows how far the small sizes are from the asymptotic regime.
# Each size's sweep time is measured too (with `tau_chains` chains, as in the T
# scan), so the cost per independent configuration, 2 τ_int × sweep time, is compared
# at every L. Cached in the artifact store.

# %%
TC6 = round(TC, 6)
tau_L = sorted(set(int(x) for x in fss_sizes))
# the numba kernel is fastest with 64 chains side by side, so runs are not split smaller
lscan = ensembles.cached_tau_size_scan(store, tau_L, TC6, replicas=tau_replicas, n_chains=tau_chains,
                                   seed=seed_for(seed, "mc-tau-size"))


zfit = {}
for m, d in lscan.items():
    if len(tau_L) >= 2:
        zfit[m] = observables.fit_power_law(tau_L, d["tau_int"], d["tau_err"])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for m, mk in (("metropolis", "o"), ("wolff", "s")):
    d = lscan[m]
    lab = m + (f": z = {zfit[m]['p']:.2f} ± {zfit[m]['p_err']:.2f}" if m in zfit else "")
    line = axes[0].errorbar(tau_L, d["tau_int"], d["tau_err"], fmt=mk, ms=4, capsize=2, label=lab)
    if m in zfit:
        Lg = np.linspace(min(tau_L), max(tau_L), 50)
        axes[0].plot(Lg, zfit[m]["A"] * Lg ** zfit[m]["p"], "-", lw=1, color=line[0].get_color())
    axes[1].plot(tau_L, np.array(d["seconds_per_independent"]) * 1e6, mk + "-", ms=4, label=m)
for ax in axes:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("L [lattice spacings]")
    ax.legend(fontsize=8)
axes[0].set_ylabel(f"τ_int at T_c [sweeps] (±1σ over {tau_replicas} runs)")
axes[1].set_ylabel("time per independent configuration at T_c [µs]")
fig.tight_layout()
plt.show()

rows_L = ["| L | τ_int Metropolis | τ_int Wolff | Metropolis / Wolff cost per independent configuration |",
          "|---|---|---|---|"]
for k, Ls in enumerate(tau_L):
    dm, dw = lscan["metropolis"], lscan["wolff"]
    rows_L.append(f"| {Ls} | {dm['tau_int'][k]:.3g} ± {dm['tau_err'][k]:.2g} | {dw['tau_int'][k]:.3g} ± "
                  f"{dw['tau_err'][k]:.2g} | {dm['seconds_per_independent'][k] / dw['seconds_per_independent'][k]:.2f} |")
display(Markdown("\n".join(rows_L)))
bad = [(m, Ls) for m, d in lscan.items() for Ls, ok_ in zip(tau_L, d["reliable"]) if not ok_]
text = ("" if not bad else f"**Warning:** τ_int is not reliably measured (series shorter than 50 τ_int) for {bad}. ")
if len(zfit) == 2:
    (zm, szm), (zw, szw) = ((zfit[m]["p"], zfit[m]["p_err"]) for m in ("metropolis", "wolff"))
    dz, sdz = zm - zw, float(np.hypot(szm, szw))
    slopes = {m: zfit[m]["local_slopes"] for m in zfit}
    text += (f"Fitted over L = {', '.join(map(str, tau_L))}: Metropolis z = {zm:.2f} ± {szm:.2f}, Wolff z = "
             f"{zw:.2f} ± {szw:.2f} (in sweeps; successive-size slopes: Metropolis "
             f"{', '.join(f'{v:.2f}' for v in slopes['metropolis'])}, Wolff "
             f"{', '.join(f'{v:.2f}' for v in slopes['wolff'])}). ")
    if dz > 2 * sdz:
        text += (f"The ratio of the two autocorrelation times grows like L^({dz:.2f} ± {sdz:.2f}), "
                 f"{dz / sdz:.1f}σ above zero: over these sizes Metropolis's τ_int grows faster with L than Wolff's. ")
    else:
        text += (f"The difference of the exponents, {dz:.2f} ± {sdz:.2f}, is not significantly positive over "
                 "these sizes, so they do not show the ratio of autocorrelation times growing with L. ")
    ratio = [dm_ / dw_ for dm_, dw_ in zip(lscan["metropolis"]["seconds_per_independent"],
                                            lscan["wolff"]["seconds_per_independent"])]
    trend = ("rises with every size" if np.all(np.diff(ratio) > 0) else
             "falls with every size" if np.all(np.diff(ratio) < 0) else "is not monotone in L")
    text += (f"In wall time per independent configuration on this machine the Metropolis/Wolff ratio "
             f"(above 1: Wolff is cheaper) goes from {ratio[0]:.2f} at L = {tau_L[0]} to {ratio[-1]:.2f} at "
             f"L = {tau_L[-1]} and {trend}")
    cross = [k for k in range(len(ratio) - 1) if (ratio[k] - 1) * (ratio[k + 1] - 1) < 0]
    text += ("; it crosses 1 between " + " and between ".join(f"L = {tau_L[k]} and {tau_L[k + 1]}" for k in cross)
             if cross else "") + " (sweep times are single measurements, without error bars)."
else:
    text += f"Only one size (L = {tau_L[0]}): no exponent can be fitted."
display(Markdown(text))

# %% [markdown]
# ## 6. Snapshots
#
# Two test configurations per temperature, drawn with `plots.spin_image` (the colour
# convention of every chapter, stated in the figure title), at the lowest test
# temperature, the ones nearest T_c and 2.6, and the highest.

# %%
from adsorbstudy.analysis import plots

snap_T = [test_T[0], min(test_T, key=lambda T: abs(T - TC)), min(test_T, key=lambda T: abs(T - 2.6)), test_T[-1]]
snap_T = list(dict.fromkeys(snap_T))
fig, axes = plt.subplots(2, len(snap_T), figsize=(2.4 * len(snap_T), 5.4), constrained_layout=True)
axes = np.atleast_2d(axes).reshape(2, len(snap_T))
shown = {}
for j, T in enumerate(snap_T):
    cfgs = [test[T].configs[i * (len(test[T].configs) // 2)] for i in range(2)]
    shown[T] = [float(lattice.magnetization(c)) for c in cfgs]
    for i in range(2):
        plots.spin_image(axes[i, j], cfgs[i], title=f"T = {T:g}, m = {shown[T][i]:+.2f}", fontsize=9)
fig.suptitle(plots.SPIN_LEGEND, fontsize=9)
plt.show()
display(Markdown("Magnetization per spin of the configurations shown: " + "; ".join(
    f"T = {T:g} ({'below' if T < TC else 'above'} T_c): " + ", ".join(f"{v:+.2f}" for v in ms)
    for T, ms in shown.items()) + f". Test-ensemble ⟨|m|⟩ at these temperatures: "
    + ", ".join(f"{st_test[T]['m_abs']:.2f} ± {st_test[T]['m_abs_err']:.2f}" for T in snap_T) + "."))

# %% [markdown]
# ## Results file
#
# The per-temperature statistics, the exact values, the η fits and the τ_int scan go to
# `results/<profile>/03-ising-monte-carlo.json` for the later chapters and the book text.

# %%
out = {
    "L": L, "TC": TC, "n_train": n_train, "n_test": n_test, "method": method, "backend": mc_backend,
    "train_T": train_T, "test_T": test_T, "rows": rows,
    "ensembles": {f"{name}:{T:g}": {"method": e.method, "tau_int": e.tau_int, "tau_int_e": e.tau_int_e,
                                    "tau_int_m": e.tau_int_m, "thermalization": e.thermalization,
                                    "spacing": e.spacing, "seconds_per_sweep": e.seconds_per_sweep,
                                    "tau_reliable": e.tau_reliable}
                  for name, s in (("train", train), ("test", test)) for T, e in s.items()},
    "eta_fits": {f"{T:g}": {str(k): v for k, v in f.items()} for T, f in fits.items()},
    "residual_tests": {"p_chi2": p_chi2, "p_max": p_max, "consistent": bool(ok)},
    "eta_fss": {"L": fss_L, "m2": [fss[x][0] for x in fss_L], "m2_err": [fss[x][1] for x in fss_L],
                "eta": float(eta_fss), "eta_err": eta_fss_err, "local_slopes": [float(v) for v in local]},
    "tau_scan": scan,
    "tau_vs_L": {"T": TC6, "runs": tau_replicas, "chains_per_run": tau_chains, **lscan,
                 "z": {m: {"z": v["p"], "z_err": v["p_err"], "chi2_dof": v["chi2_dof"]} for m, v in zfit.items()}},
    "residuals": {"n": int(len(allz)), "frac_within_2sigma": float(np.mean(np.abs(allz) < 2)),
                  "max_abs_z": float(worst[0]), "mean_z": float(allz.mean()), "std_z": float(allz.std())},
}
path = results_dir(profile) / "03-ising-monte-carlo.json"
atomic_write_json(path, out)
print(f"wrote {path}")
