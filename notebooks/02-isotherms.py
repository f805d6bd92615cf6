# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Isotherms, hysteresis and the phase diagram of Eq. 6
#
# Seed 000 sketches, in its Figure 2, the adsorption hysteresis that strong
# lateral attraction produces, without code or numbers. This chapter draws it
# exactly. `adsorbstudy.isotherm` finds every root of Eq. 6 in logit space
# (chapter 1 derives the equation, its grand potential $\Omega$ and the
# critical value $\varepsilon_a^* = -4/z_a$). Here we plot:
#
# 1. isotherms $x_a(x_b)$ and the surface excess $\Gamma = C(x_a - x_b)$ for
#    lateral energies on both sides of $\varepsilon_a^*$;
# 2. the hysteresis loop: adsorption and desorption branches, their jumps
#    (spinodals, solved exactly) and the equilibrium (Maxwell) transition;
# 3. the grand potential: the double well that appears below $\varepsilon_a^*$
#    and tilts as $x_b$ changes;
# 4. the phase diagram in the $(\varepsilon_a, x_b)$ plane.
#
# Energies are in units of $k_BT$; negative is attractive.

# %% tags=["parameters"]
eps_s = -2.0  # [-50, 50] surface-adsorbate energy, k_B T (negative = attractive)
eps_a_list = [0.0, -0.6, -1.0, -1.25, -1.5]  # [-20, 5] lateral energies of the isotherm sweep, k_B T
eps_a_loop = -1.5  # [-20, 0] lateral energy of the hysteresis loop; must be below -4/za
za = 4  # [1, 24] coordination number of the adsorbed layer
zb = 6  # [1, 24] coordination number of the bulk
capacity = 1.0  # (0, inf) monolayer capacity C; Gamma is reported in its units
n_grid = 400  # [20, 200000] points of the x_b grid
n_eps_a = 80  # [10, 20000] eps_a values of the phase diagram

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from scipy.special import expit, logit

from adsorbstudy import isotherm as iso

eps_c = iso.critical_eps_a(za)
if not eps_a_loop < eps_c:
    raise ValueError(f"eps_a_loop must be < critical_eps_a(za) = {eps_c:g} to show a loop; got {eps_a_loop!r}")
# x_b on a logit-uniform grid: the transitions of Eq. 6 can sit at x_b of 1e-3 as well as 1 - 1e-3
xb = expit(np.linspace(-9.0, 9.0, n_grid))
display(Markdown(
    f"Parameters: $\\varepsilon_s = {eps_s:g}$, $z_a = {za:g}$, $z_b = {zb:g}$, $C = {capacity:g}$, "
    f"{n_grid} values of $x_b$ in $[{xb[0]:.1e}, 1-{1 - xb[-1]:.1e}]$. "
    f"Critical lateral energy of the layer $\\varepsilon_a^* = -4/z_a = {eps_c:g}$; of the bulk, "
    f"$-4/z_b = {-4 / zb:.4g}$."))

# %% [markdown]
# ## 1. Isotherms across the critical value
#
# Solid lines: the equilibrium isotherm (the global minimum of $\Omega$ at each
# $x_b$). Below $\varepsilon_a^*$ it jumps at the Maxwell point; the thin
# lines are the metastable adsorption and desorption branches. Two references
# are drawn beside the model: the closed-form Langmuir isotherm
# $x_a = \sigma(\operatorname{logit} x_b - \varepsilon_s)$, which Eq. 6 must
# reproduce at $\varepsilon_a = 0$, and the line $x_a = x_b$ of zero excess.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
colors = plt.cm.viridis(np.linspace(0, 0.9, len(eps_a_list)))
langmuir = expit(logit(xb) - eps_s)
max_langmuir_err = None
for ea, c in zip(eps_a_list, colors):
    eq = iso.solve(xb, eps_s, ea, za, zb)
    below = ea < eps_c
    lab = rf"$\varepsilon_a = {ea:g}$" + (r" $< \varepsilon_a^*$" if below else r" $= \varepsilon_a^*$ (critical)" if ea == eps_c else "")
    ax1.plot(xb, eq, color=c, lw=2, label=lab)
    ax2.plot(xb, iso.surface_excess(eq, xb, capacity) / capacity, color=c, lw=2, label=lab)
    if below:
        H = iso.hysteresis(xb, eps_s, ea, za, zb)
        for br in (H.adsorption, H.desorption):
            ax1.plot(xb, br.xa, color=c, lw=0.8, ls="--")
            ax2.plot(xb, iso.surface_excess(br.xa, xb, capacity) / capacity, color=c, lw=0.8, ls="--")
    if ea == 0.0:
        max_langmuir_err = float(np.max(np.abs(eq - langmuir)))
ax1.plot(xb, langmuir, "k:", lw=1.5, label=r"Langmuir reference ($\varepsilon_a = 0$, closed form)")
ax1.plot(xb, xb, color="0.5", ls="-.", lw=1, label=r"$x_a = x_b$ (no excess)")
ax2.axhline(0, color="0.5", ls="-.", lw=1)
for ax in (ax1, ax2):
    ax.set_xscale("logit")
    ax.set_xlabel(r"bulk occupancy $x_b$ (fraction of sites, logit scale)")
ax1.set_ylabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax2.set_ylabel(r"surface excess $\Gamma / C = x_a - x_b$")
ax1.set_title(rf"Isotherms, $\varepsilon_s = {eps_s:g}$, critical $\varepsilon_a^* = {eps_c:g}$")
ax2.set_title("Surface excess (dashed: metastable branches)")
fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
plt.show()
if max_langmuir_err is not None:
    display(Markdown(f"At $\\varepsilon_a = 0$ the solver matches the closed-form Langmuir isotherm to "
                     f"{max_langmuir_err:.1e} (max abs difference in $x_a$)."))

# %% [markdown]
# Above $\varepsilon_a^*$ the coverage rises continuously with $x_b$; lateral
# attraction steepens the rise. Below it the isotherm has a discontinuity.
# The isotherms are **not monotone** in $x_b$: Eq. 6 contains the bulk's own
# lateral energy $-\varepsilon_a z_b x_b$, which holds molecules in a dense
# bulk, so once the bulk is dense the layer empties again (the excess turns
# negative) before it refills as $x_b \to 1$. This is the seed's model as
# written ("in the bulk phases the lateral interaction prefers the molecules
# to stay in the bulk phase"); for $z_b > z_a$ it is unavoidable, because the
# bulk, a mean-field lattice gas with coupling $\varepsilon_a z_b$, is itself
# past its critical point ($\varepsilon_a z_b < -4$) before the layer is.

# %% [markdown]
# ## 2. The hysteresis loop (seed 000, Figure 2, exactly)
#
# The adsorption branch starts at the lowest $x_b$ on the lowest root and
# follows it as $x_b$ rises until the root disappears at a spinodal, then
# jumps; the desorption branch starts at the highest $x_b$ on the highest root
# and sweeps down. Each jump $x_b$ is the exact solution of
# $h(x_b) = h_\text{hi}$ or $h_\text{lo}$, where
# $h = \operatorname{logit} x_b - \varepsilon_s + \varepsilon_a z_b x_b$ is the
# field the bulk exerts on the layer. The vertical black lines are the
# Maxwell construction: where the two minima of $\Omega$ are equal, the
# equilibrium state switches. The right panel plots the same states against
# $h$: every loop of the left panel is the same van der Waals loop in $h$.

# %%
H = iso.hysteresis(xb, eps_s, eps_a_loop, za, zb)
M = iso.maxwell_xb(eps_s, eps_a_loop, za, zb)
S = iso.spinodal(eps_a_loop, za)
g = eps_a_loop * za
low = iso.solve(xb, eps_s, eps_a_loop, za, zb, branch="low")
mid = iso.solve(xb, eps_s, eps_a_loop, za, zb, branch="middle")
high = iso.solve(xb, eps_s, eps_a_loop, za, zb, branch="high")
h = iso.effective_field(xb, eps_s, eps_a_loop, zb)


def arrows(ax, x, y, color, every):
    """Arrowheads along a branch in the direction of the sweep (array order)."""
    for i in range(every // 2, len(x) - 1, every):
        if abs(y[i + 1] - y[i]) < 0.2:  # not across a jump
            ax.annotate("", xy=(x[i + 1], y[i + 1]), xytext=(x[i], y[i]),
                        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.5, mutation_scale=14))


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
ax1.plot(xb, mid, color="0.6", ls=":", lw=1.5, label="unstable middle root")
ax1.plot(xb, H.adsorption.xa, color="tab:blue", lw=2, label=r"adsorption branch ($x_b$ rising)")
ax1.plot(xb, H.desorption.xa, color="tab:red", lw=2, ls="--", label=r"desorption branch ($x_b$ falling)")
every = max(n_grid // 12, 2)
arrows(ax1, xb, H.adsorption.xa, "tab:blue", every)
arrows(ax1, xb[::-1], H.desorption.xa[::-1], "tab:red", every)
for br, col in ((H.adsorption, "tab:blue"), (H.desorption, "tab:red")):
    for x, a, b in zip(br.jump_xb, br.jump_from, br.jump_to):
        ax1.annotate("", xy=(x, b), xytext=(x, a), arrowprops=dict(arrowstyle="-|>", color=col, lw=1.2))
        ax1.plot([x], [a], "o", color=col, ms=6, mfc="white")
ax1.vlines(M.xb, M.xa_low, M.xa_high, color="k", lw=1.5, label="Maxwell (equal $\\Omega$)")
ax1.plot(np.repeat(M.xb, 2), np.tile([M.xa_low, M.xa_high], M.xb.size), "ks", ms=4)
ax1.plot([], [], "o", color="0.3", mfc="white", label="spinodal (jump, exact)")
ax1.set_xscale("logit")
ax1.set_xlabel(r"bulk occupancy $x_b$ (fraction of sites, logit scale)")
ax1.set_ylabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax1.set_title(rf"Hysteresis, $\varepsilon_a = {eps_a_loop:g}$ ($\varepsilon_a^* = {eps_c:g}$), $\varepsilon_s = {eps_s:g}$")
ax1.legend(fontsize=8, loc="center left")

# in the field h the three roots trace one S-shaped curve: parametrise it by u = logit(x_a)
u = np.linspace(logit(low.min()) - 1, logit(high.max()) + 1, 2000)
hs = u + g * expit(u)
stable = iso.is_stable(expit(u), 0.5, 0.0, eps_a_loop, za, zb)
ax2.plot(np.where(stable, hs, np.nan), expit(u), "k", lw=2, label="stable roots")
ax2.plot(np.where(~stable, hs, np.nan), expit(u), color="0.6", ls=":", lw=1.5, label="unstable roots")
ax2.axvline(S.h_hi, color="tab:blue", lw=1, ls="--", label=r"$h_\mathrm{hi}$: adsorption jump")
ax2.axvline(S.h_lo, color="tab:red", lw=1, ls="--", label=r"$h_\mathrm{lo}$: desorption jump")
ax2.vlines(g / 2, M.xa_low, M.xa_high, color="k", lw=1.5, label=r"Maxwell $h = \varepsilon_a z_a/2$")
ax2.plot(h, H.adsorption.xa, ".", color="tab:blue", ms=3, label="adsorption branch on the $x_b$ grid")
ax2.set_xlim(S.h_lo - 3, S.h_hi + 3)
ax2.set_xlabel(r"effective field $h = \mathrm{logit}\,x_b - \varepsilon_s + \varepsilon_a z_b x_b$ ($k_BT$)")
ax2.set_ylabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax2.set_title("The same states against the field: one van der Waals loop")
ax2.legend(fontsize=8, loc="upper left")
plt.show()

# %%
def fmt(a):
    return ", ".join(f"{v:.5g}" for v in np.atleast_1d(a)) or "none"


rows = [
    ("adsorption-branch jumps, $x_b$ (in sweep order)", fmt(H.adsorption.jump_xb)),
    ("desorption-branch jumps, $x_b$ (in sweep order)", fmt(H.desorption.jump_xb)),
    ("Maxwell (equilibrium) transition, $x_b$", fmt(M.xb)),
    ("coexisting $x_a$ (dilute, dense)", fmt([M.xa_low, M.xa_high])),
    ("spinodal $x_a$ (low branch ends, high branch ends)", fmt([S.xa_lo, S.xa_hi])),
    ("spinodal fields $h_\\mathrm{lo}$, $h_\\mathrm{hi}$; Maxwell field $g/2$ ($k_BT$)", fmt([S.h_lo, S.h_hi, g / 2])),
]
om_gap = max(abs(float(np.diff(iso.grand_potential(np.array([M.xa_low, M.xa_high]), x, eps_s, eps_a_loop, za, zb))[0]))
             for x in M.xb)
display(Markdown("| quantity | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
                 + f"\n\nAt each Maxwell $x_b$ the two minima of $\\Omega$ differ by at most {om_gap:.1e} $k_BT$."))

# %% [markdown]
# Reading the loop: starting dilute, the layer stays on the dilute branch
# past the equilibrium transition (it is metastable there) until that
# branch ends at the spinodal, then condenses abruptly; on the way back the
# dense layer survives down to the other spinodal. Between the two jumps the
# state depends on history: this is the path dependence seed 000 describes.
# The Maxwell point always lies between the jumps. Because the bulk field
# $h(x_b)$ rises, falls and rises again, the same loop is traversed up to
# three times along the $x_b$ axis (left panel), but in $h$ it is a single
# loop (right panel).

# %% [markdown]
# ## 3. The grand potential: the double well appears and tilts
#
# Left: $\Omega(x_a)$ at the Maxwell field $h = \varepsilon_a z_a/2$ (zero Ising
# field), for the lateral energies of the sweep: a single well above
# $\varepsilon_a^*$, flat at the critical point (quartic), a symmetric double
# well below it. Right: at $\varepsilon_a = $ `eps_a_loop`, $\Omega$ at bulk
# occupancies across the first loop: increasing $x_b$ tilts the wells, the
# dense one deepens, and at the spinodal the dilute minimum merges with the
# barrier and vanishes. Filled markers: stable roots; open: unstable.
# $\Omega$ is shifted by its value at $x_a = 1/2$ so the curves share a scale.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
xa = np.linspace(1e-4, 1 - 1e-4, 1500)
ea_wells = sorted(set(eps_a_list) | {eps_c})
for ea, c in zip(ea_wells, plt.cm.viridis(np.linspace(0, 0.9, len(ea_wells)))):
    xbm = iso.xb_for_field(ea * za / 2, eps_s, ea, zb)[0]  # any x_b with h = g/2 gives the same Omega
    om = iso.grand_potential(xa, xbm, eps_s, ea, za, zb) - iso.grand_potential(0.5, xbm, eps_s, ea, za, zb)
    crit = " (critical)" if ea == eps_c else (r" $< \varepsilon_a^*$" if ea < eps_c else "")
    ax1.plot(xa, om, color=c, lw=2, ls="--" if ea == eps_c else "-", label=rf"$\varepsilon_a = {ea:g}${crit}")
    r = iso.roots(xbm, eps_s, ea, za, zb)
    st = iso.is_stable(r, xbm, eps_s, ea, za, zb)
    omr = iso.grand_potential(r, xbm, eps_s, ea, za, zb) - iso.grand_potential(0.5, xbm, eps_s, ea, za, zb)
    ax1.scatter(r, omr, color=[c], edgecolor="k", zorder=3, s=np.where(st, 40, 30),
                facecolors=[c if s_ else "white" for s_ in st])
ax1.set_xlabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax1.set_ylabel(r"$\Omega(x_a) - \Omega(1/2)$ ($k_BT$ per site)")
ax1.set_title(r"At the Maxwell field: the double well appears below $\varepsilon_a^*$")
ax1.legend(fontsize=8)

targets = [("below the loop", S.h_lo - 0.6), ("desorption spinodal", S.h_lo), ("Maxwell", g / 2),
           ("adsorption spinodal", S.h_hi), ("above the loop", S.h_hi + 0.6)]
for (name, ht), c in zip(targets, plt.cm.coolwarm(np.linspace(0, 1, len(targets)))):
    xbt = iso.xb_for_field(ht, eps_s, eps_a_loop, zb)[0]  # the first (lowest-x_b) crossing
    om = iso.grand_potential(xa, xbt, eps_s, eps_a_loop, za, zb) - iso.grand_potential(0.5, xbt, eps_s, eps_a_loop, za, zb)
    ax2.plot(xa, om, color=c, lw=2, label=rf"{name}: $x_b = {xbt:.4g}$")
    r = iso.roots(xbt, eps_s, eps_a_loop, za, zb)
    st = iso.is_stable(np.clip(r, 1e-300, 1 - 1e-16), xbt, eps_s, eps_a_loop, za, zb)
    omr = iso.grand_potential(r, xbt, eps_s, eps_a_loop, za, zb) - iso.grand_potential(0.5, xbt, eps_s, eps_a_loop, za, zb)
    ax2.scatter(r, omr, edgecolor="k", zorder=3, s=35, facecolors=[c if s_ else "white" for s_ in st])
ax2.set_xlabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax2.set_ylabel(r"$\Omega(x_a) - \Omega(1/2)$ ($k_BT$ per site)")
ax2.set_title(rf"$\varepsilon_a = {eps_a_loop:g}$: the wells tilt as $x_b$ rises")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. Phase diagram in the $(\varepsilon_a, x_b)$ plane
#
# For each $\varepsilon_a < \varepsilon_a^*$ the library solves exactly for
# every $x_b$ at which the adsorption branch jumps (spinodal, $h = h_\text{hi}$),
# the desorption branch jumps ($h = h_\text{lo}$) and the equilibrium
# transition occurs (binodal, $h = \varepsilon_a z_a/2$); each dot is one such
# solution. The binodal also has a closed form,
# $\varepsilon_a = (\varepsilon_s - \operatorname{logit} x_b)/(z_b x_b - z_a/2)$,
# drawn as a thin line beside the solver's dots. Between the two spinodals
# the layer is bistable (hysteresis). The grey band marks bulk occupancies
# at which the bulk itself is unstable ($1/(x_b(1-x_b)) + \varepsilon_a z_b < 0$),
# i.e. where the seed's single-site bulk is not a physical state.

# %%
ea_grid = np.linspace(min(min(eps_a_list), eps_a_loop) * 1.6, 0.0, n_eps_a)
P = iso.phase_diagram(ea_grid, eps_s, za, zb)
fig, ax = plt.subplots(figsize=(10, 6), constrained_layout=True)
ys = expit(np.linspace(-12, 12, 2000))
ea_bulk = -1.0 / (zb * ys * (1 - ys))  # bulk spinodal
ax.fill_betweenx(ys, ea_grid[0], np.maximum(ea_bulk, ea_grid[0]), color="0.85", label="bulk unstable")
ms = max(2.0, 6.0 - n_eps_a / 100)
for arr, col, lab in ((P.spinodal_up, "tab:blue", "spinodal: adsorption jump"),
                      (P.spinodal_down, "tab:red", "spinodal: desorption jump"),
                      (P.binodal, "k", "binodal (Maxwell), solver")):
    ax.plot(np.repeat(ea_grid, 3), arr.ravel(), "o", color=col, ms=ms, label=lab, ls="none")
eb = (eps_s - logit(ys)) / (zb * ys - za / 2)
ok = (eb < eps_c) & (eb >= ea_grid[0])
ax.plot(np.where(ok, eb, np.nan), ys, color="gold", lw=1, zorder=4, label="binodal, closed form")
ax.axvline(eps_c, color="k", ls=":", lw=1, label=rf"$\varepsilon_a^* = -4/z_a = {eps_c:g}$")
ax.plot(np.full(P.critical_xb.size, eps_c), P.critical_xb, "*", color="gold", mec="k", ms=16, label="critical point(s)")
ax.set_yscale("logit")
ax.set_ylim(ys[0], ys[-1])
ax.set_xlim(ea_grid[0], ea_grid[-1])
ax.set_xlabel(r"lateral energy $\varepsilon_a$ ($k_BT$; negative = attractive)")
ax.set_ylabel(r"bulk occupancy $x_b$ (fraction of sites, logit scale)")
ax.set_title(rf"Phase diagram of Eq. 6, $\varepsilon_s = {eps_s:g}$, $z_a = {za:g}$, $z_b = {zb:g}$")
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
plt.show()
rows = ", ".join(f"{x:.4g}" for x in P.critical_xb)
display(Markdown(
    f"Critical point(s): $\\varepsilon_a^* = {P.critical_eps_a:g}$ at $x_b$ = {rows} "
    f"(the field there is $h = -2$, the Ising zero field at the Curie point). "
    f"Binodal points off the closed form: "
    f"{np.nanmax(np.abs((eps_s - logit(P.binodal)) / (zb * P.binodal - za / 2) - ea_grid[:, None])):.1e} "
    "(max difference in $\\varepsilon_a$)."))

# %% [markdown]
# The spinodal lines fan out from the critical point and enclose the
# bistable (hysteresis) region, with the binodal between them. Where a line
# folds back, it touches the edge of the grey band: there the bulk field
# $h(x_b)$ turns around, so one layer field $h$ corresponds to up to three
# bulk occupancies, and a single loop in $h$ appears up to three times along
# $x_b$ (there can likewise be up to three critical points; their number for
# these parameters is printed above). Far below $\varepsilon_a^*$ the loop
# widens: in $h$ its width $h_\text{hi} - h_\text{lo}$ grows like
# $|\varepsilon_a| z_a$.
