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
# exactly. `adsorbstudy.physics.isotherm` finds every root of Eq. 6 in logit space
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
eps_a_list = [0.0, -0.6, -1.0, -1.25, -1.5]  # [-20, 5] lateral energies of the sweep, k_B T; some above, some below -4/za
eps_a_loop = -1.5  # [-20, 0] lateral energy of the hysteresis loop; must be below -4/za
za = 4  # [1, 24] coordination number of the adsorbed layer
zb = 6  # [1, 24] coordination number of the bulk
capacity = 1.0  # (0, inf) monolayer capacity C, in capacity_unit; Gamma = C (x_a - x_b) is plotted in that unit
capacity_unit = "monolayers"  # str unit of the capacity C (and of Gamma), e.g. "mmol/g"
n_grid = 400  # [20, 200000] points of the x_b grid
n_eps_a = 80  # [10, 20000] eps_a values of the phase diagram

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from scipy.special import expit, logit

from adsorbstudy.physics import isotherm as iso

eps_c = iso.critical_eps_a(za)
# the chapter is about crossing the critical value: check that before any work
if not (eps_a_list and min(eps_a_list) < eps_c < max(eps_a_list)):
    raise ValueError(f"eps_a_list must cross the critical value -4/za = {eps_c:g} (at least one value above it and "
                     f"one below it); got {eps_a_list!r}")
if not eps_a_loop < eps_c:
    raise ValueError(f"eps_a_loop must be < critical_eps_a(za) = -4/za = {eps_c:g} to show a loop; got {eps_a_loop!r}")
if not capacity > 0:
    raise ValueError(f"capacity must be > 0; got {capacity!r}")
# x_b on a logit-uniform grid: the transitions of Eq. 6 can sit at x_b of 1e-3 as well as 1 - 1e-3
xb = expit(np.linspace(-9.0, 9.0, n_grid))
display(Markdown(
    f"Parameters: $\\varepsilon_s = {eps_s:g}$, $z_a = {za:g}$, $z_b = {zb:g}$, $C = {capacity:g}$ {capacity_unit}, "
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
eq_of = {}  # eps_a -> equilibrium isotherm on the grid, for the text below
for ea, c in zip(eps_a_list, colors):
    eq = eq_of[ea] = iso.solve(xb, eps_s, ea, za, zb)
    below = ea < eps_c
    lab = rf"$\varepsilon_a = {ea:g}$" + (r" $< \varepsilon_a^*$" if below else r" $= \varepsilon_a^*$ (critical)" if ea == eps_c else "")
    ax1.plot(xb, eq, color=c, lw=2, label=lab)
    ax2.plot(xb, iso.surface_excess(eq, xb, capacity), color=c, lw=2, label=lab)
    if below:
        H = iso.hysteresis(xb, eps_s, ea, za, zb)
        for br in (H.adsorption, H.desorption):
            ax1.plot(xb, br.xa, color=c, lw=0.8, ls="--")
            ax2.plot(xb, iso.surface_excess(br.xa, xb, capacity), color=c, lw=0.8, ls="--")
    if ea == 0.0:
        max_langmuir_err = float(np.max(np.abs(eq - langmuir)))
ax1.plot(xb, langmuir, "k:", lw=1.5, label=r"Langmuir reference ($\varepsilon_a = 0$, closed form)")
ax1.plot(xb, xb, color="0.5", ls="-.", lw=1, label=r"$x_a = x_b$ (no excess)")
ax2.axhline(0, color="0.5", ls="-.", lw=1)
for ax in (ax1, ax2):
    ax.set_xscale("logit")
    ax.set_xlabel(r"bulk occupancy $x_b$ (fraction of sites, logit scale)")
ax1.set_ylabel(r"adsorbed occupancy $x_a$ (fraction of sites)")
ax2.set_ylabel(rf"surface excess $\Gamma = C\,(x_a - x_b)$ [{capacity_unit}]")
ax1.set_title(rf"Isotherms, $\varepsilon_s = {eps_s:g}$, critical $\varepsilon_a^* = {eps_c:g}$")
ax2.set_title(rf"Surface excess, $C = {capacity:g}$ {capacity_unit} (dashed: metastable branches)")
fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
plt.show()
if max_langmuir_err is not None:
    display(Markdown(f"At $\\varepsilon_a = 0$ the solver matches the closed-form Langmuir isotherm to "
                     f"{max_langmuir_err:.1e} (max abs difference in $x_a$)."))

# %% [markdown]
# Two facts hold for any parameters. Above $\varepsilon_a^*$ Eq. 6 has one
# root at every $x_b$, so the equilibrium isotherm is continuous; below it the
# equilibrium isotherm jumps wherever the field the bulk exerts on the layer,
# $h(x_b) = \operatorname{logit} x_b - \varepsilon_s + \varepsilon_a z_b x_b$,
# crosses the Maxwell value $\varepsilon_a z_a/2$ (section 2). And the
# equilibrium $x_a$ never decreases as $h$ rises, so an isotherm can fall as
# $x_b$ rises only where $h$ falls, which happens exactly when
# $\varepsilon_a z_b < -4$: Eq. 6 contains the bulk's own lateral energy
# $-\varepsilon_a z_b x_b$, which holds molecules in a dense bulk (seed 000:
# "in the bulk phases the lateral interaction prefers the molecules to stay in
# the bulk phase"), and the bulk, a mean-field lattice gas with coupling
# $\varepsilon_a z_b$, is then past its own critical point. What this sweep
# shows is measured from the curves above:

# %%
def listing(vals):
    return ", ".join(f"{v:g}" for v in vals) or "none"


def count(n, word, plural=None):
    """'1 jump', '3 jumps'."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def inside(x):
    """The values of x inside the plotted x_b range."""
    x = np.atleast_1d(x)
    return x[(x > xb[0]) & (x < xb[-1])]


ea_above = [ea for ea in eps_a_list if ea >= eps_c]
ea_below = [ea for ea in eps_a_list if ea < eps_c]
n_jumps = {ea: inside(iso.maxwell_xb(eps_s, ea, za, zb).xb).size for ea in ea_below}
drop = {ea: float(np.max(np.maximum.accumulate(eq) - eq)) for ea, eq in eq_of.items()}  # largest fall of x_a
falling = [ea for ea in eps_a_list if drop[ea] > 1e-6]
excess = {ea: iso.surface_excess(eq, xb, capacity) for ea, eq in eq_of.items()}
negative = [ea for ea in eps_a_list if excess[ea].min() < 0]
text = [f"For $\\varepsilon_a$ = {listing(ea_above)} (at or above $\\varepsilon_a^* = {eps_c:g}$) the equilibrium "
        f"isotherm is continuous. For $\\varepsilon_a$ = {listing(ea_below)} (below it) it jumps wherever $h$ crosses the "
        "Maxwell value; the plotted range of $x_b$ contains "
        + ", ".join(f"{count(n_jumps[ea], 'such jump', 'such jumps')} at $\\varepsilon_a = {ea:g}$" for ea in ea_below)
        + "."]
if falling:
    worst = max(falling, key=drop.get)
    text.append(f"The {'isotherm' if len(falling) == 1 else 'isotherms'} for $\\varepsilon_a$ = {listing(falling)} "
                f"{'is' if len(falling) == 1 else 'are'} **not monotone** in $x_b$: the coverage "
                f"falls by up to {drop[worst]:.3g} as the bulk fills ($\\varepsilon_a = {worst:g}$); for these "
                f"$\\varepsilon_a z_b$ = {listing(ea * zb for ea in falling)}, below $-4$.")
else:
    text.append("Every isotherm of this sweep rises monotonically with $x_b$ "
                f"($\\varepsilon_a z_b \\ge -4$ for $\\varepsilon_a$ = "
                f"{listing(ea for ea in eps_a_list if ea * zb >= -4)}).")
if negative:
    worst = min(negative, key=lambda ea: excess[ea].min())
    i = int(np.argmin(excess[worst]))
    text.append(f"The surface excess turns **negative** (the layer is less dense than the bulk) for "
                f"$\\varepsilon_a$ = {listing(negative)}; its minimum is $\\Gamma = {excess[worst][i]:.3g}$ {capacity_unit} "
                f"at $x_b = {xb[i]:.3g}$ ($\\varepsilon_a = {worst:g}$).")
else:
    text.append(f"The surface excess stays positive on the whole grid for every $\\varepsilon_a$ of the sweep "
                f"(smallest $\\Gamma$ = {min(g.min() for g in excess.values()):.3g} {capacity_unit}).")
if zb > za:
    text.append(f"Because $z_b = {zb:g} > z_a = {za:g}$, every $\\varepsilon_a$ below the layer's critical value "
                f"$-4/z_a = {eps_c:.4g}$ is also below the bulk's, $-4/z_b = {-4 / zb:.4g}$: the bulk is past its own "
                "critical point before the layer is, so with these coordination numbers every isotherm that shows "
                "the layer's transition is also non-monotone.")
else:
    text.append(f"Because $z_b = {zb:g} \\le z_a = {za:g}$, the layer can condense ($\\varepsilon_a < {eps_c:.4g}$) "
                f"while the bulk field is still monotone ($\\varepsilon_a \\ge -4/z_b = {-4 / zb:.4g}$).")
display(Markdown(" ".join(text)))

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
mid = iso.solve(xb, eps_s, eps_a_loop, za, zb, branch="middle")
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
# every root with h in the plotted window has u in [h, h - g] (g < 0)
u = np.linspace(S.h_lo - 3, S.h_hi + 3 - g, 2000)
hs = u + g * expit(u)
stable = 1.0 + g * expit(u) * expit(-u) > 0  # curvature of Omega in u, sign-exact even where x_a rounds to 1
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

# %%
A, D = H.adsorption, H.desorption
m_in = inside(M.xb)
text = []
if (A.jump_xb.size and D.jump_xb.size and m_in.size and A.jump_to[0] > A.jump_from[0]
        and D.jump_to[-1] < D.jump_from[-1] and D.jump_xb[-1] < m_in[0] < A.jump_xb[0]):
    text.append(
        f"Reading the loop: starting at $x_b = {xb[0]:.2g}$ on the dilute branch, the layer passes the equilibrium "
        f"transition at $x_b = {m_in[0]:.4g}$ without condensing (it is metastable there) until that branch ends at "
        f"the spinodal $x_b = {A.jump_xb[0]:.4g}$, where $x_a$ jumps from {A.jump_from[0]:.3g} to {A.jump_to[0]:.3g}. "
        f"On the way back the dense layer survives down to $x_b = {D.jump_xb[-1]:.4g}$, where $x_a$ drops from "
        f"{D.jump_from[-1]:.3g} to {D.jump_to[-1]:.3g}. Between these two jumps the state depends on history: this is "
        "the path dependence seed 000 describes.")
elif not (A.jump_xb.size or D.jump_xb.size):
    text.append("Neither branch jumps inside the plotted range of $x_b$: for these parameters the loop lies at bulk "
                "occupancies outside it.")
else:
    text.append(f"In the plotted range the adsorption branch jumps at $x_b$ = {fmt(A.jump_xb)} and the desorption "
                f"branch at {fmt(D.jump_xb)}; the equilibrium transition is at {fmt(m_in)}.")
text.append(f"In $h$ the Maxwell field $g/2 = {g / 2:.4g}$ lies between the spinodal fields $h_\\mathrm{{lo}} = {S.h_lo:.4g}$ "
            f"and $h_\\mathrm{{hi}} = {S.h_hi:.4g}$ (it always does).")
gb = eps_a_loop * zb
if gb < -4:
    text.append(f"Because $\\varepsilon_a z_b = {gb:.3g} < -4$, the bulk field $h(x_b)$ rises, falls and rises again: "
                f"in the plotted range the adsorption sweep makes {count(A.jump_xb.size, 'jump')}, the desorption "
                f"sweep {count(D.jump_xb.size, 'jump')}, and $h$ passes the Maxwell field at "
                f"{count(m_in.size, 'bulk occupancy', 'bulk occupancies')}, where the equilibrium state switches "
                "(left panel), while in $h$ all of it is one loop (right panel).")
else:
    text.append(f"Because $\\varepsilon_a z_b = {gb:.3g} \\ge -4$, the bulk field $h(x_b)$ rises monotonically, so "
                "the loop appears once along $x_b$ and is the same single loop in $h$ (right panel).")
display(Markdown(" ".join(text)))

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
# bistable (hysteresis) region, with the binodal between them (in $h$,
# $h_\text{lo} < \varepsilon_a z_a/2 < h_\text{hi}$ for every
# $\varepsilon_a < \varepsilon_a^*$). A line can fold back only where the bulk
# field $h(x_b)$ turns around, which is the edge of the grey band; there one
# layer field $h$ corresponds to up to three bulk occupancies (and there can be
# up to three critical points). Far below $\varepsilon_a^*$ the loop widens:
# from the closed forms of `iso.spinodal`, its width in $h$ is
# $h_\text{hi} - h_\text{lo} = |g| - 2\ln|g| - 2 + o(1)$ with
# $g = \varepsilon_a z_a$, so it grows like $|\varepsilon_a| z_a$.

# %%
n_per_line = np.max([np.sum(~np.isnan(a), axis=1) for a in (P.spinodal_up, P.spinodal_down, P.binodal)], axis=0)
folded = ea_grid[n_per_line > 1]
S0 = iso.spinodal(ea_grid[0], za)
w0, g0 = S0.h_hi - S0.h_lo, abs(ea_grid[0] * za)
text = [(f"In this diagram the lines fold back: for $\\varepsilon_a$ from {folded.min():.3g} to {folded.max():.3g} "
         f"({folded.size} of the {ea_grid.size} values) one line has up to {n_per_line.max()} bulk occupancies.")
        if folded.size else
        "In this diagram no line folds back: every $\\varepsilon_a$ has at most one $x_b$ on each line."]
text.append(f"At the most attractive $\\varepsilon_a = {ea_grid[0]:.3g}$ of the diagram the loop is {w0:.3g} $k_BT$ "
            f"wide in $h$, {w0 / g0:.2f} $|\\varepsilon_a| z_a$.")
display(Markdown(" ".join(text)))
