# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {name: python3, display_name: Python 3, language: python}
# ---

# %% [markdown]
# # Deriving the isotherm: Eq. 6 from the energy balance
#
# Seed 000 obtains its adsorption isotherm (Eq. 6) from an energy balance
# $T\,\Delta S = \Delta U$ (Eq. 1), Boltzmann's entropy (Eq. 2) and the
# entropies and energies of the two exchange events (Eqs. 3–4). This chapter
# redoes every step symbolically with sympy, states which direction of the
# exchange the balance describes, checks the result against the library's
# `adsorbstudy.physics.isotherm.residual`, and then derives what the seed leaves
# implicit: the grand potential whose stationary points are Eq. 6, the
# stability condition, and the critical condition (the mean-field Curie
# point of the equivalent Ising model).
#
# Sign convention throughout: energies are in units of $k_B T$, and a
# **negative** energy is **attractive**.

# %% tags=["parameters"]
n_check = 2000  # [10, 1000000] random parameter sets for the numerical check of Eq. 6
seed = 0  # [0, 4294967295] random seed of that check

# %%
import numpy as np
import sympy as sp
from IPython.display import Markdown, Math, display

from adsorbstudy.physics import isotherm as iso


def show(lhs, rhs=None, label=""):
    """Display ``lhs = rhs`` (or an expression) as LaTeX; a str side is taken as raw LaTeX."""
    tx = lambda e: e if isinstance(e, str) else sp.latex(e)
    tex = tx(lhs) if rhs is None else f"{tx(lhs)} = {tx(rhs)}"
    display(Math(tex + (rf"\qquad \text{{{label}}}" if label else "")))


kB, T, W0 = sp.symbols("k_B T W_0", positive=True)
xa, xb = sp.symbols("x_a x_b", positive=True)
Es, Ea = sp.symbols("E_s E_a", real=True)
za, zb = sp.symbols("z_a z_b", positive=True)

# %% [markdown]
# ## Eqs. 2–4 as written in the seed
#
# Event 1: a molecule leaves the bulk and is adsorbed. Event 2: a molecule
# leaves the adsorbed layer for the bulk. $W_0$ counts background
# configurations, $x_a, x_b \in (0,1)$ are the site occupancies, $E_s$ the
# surface–adsorbate energy, $E_a$ the adsorbate–adsorbate energy per
# neighbour, $z_a, z_b$ the coordination numbers of the layer (2-D) and the
# bulk (3-D).

# %%
S = lambda W: kB * sp.log(W)  # Eq. 2
S1 = S(W0 * (1 - xb) * xa)  # Eq. 3a
U1 = zb * Ea * xb  # Eq. 3b
S2 = S(W0 * (1 - xa) * xb)  # Eq. 4a
U2 = Es + za * Ea * xa  # Eq. 4b
for name, val, lab in (("S_1", S1, "(3a)"), ("U_1", U1, "(3b)"), ("S_2", S2, "(4a)"), ("U_2", U2, "(4b)")):
    show(sp.Symbol(name), val, lab)

# %% [markdown]
# ## The balance $T\,\Delta S = \Delta U$ (Eq. 1) and its direction
#
# The seed does not say in which order the differences are taken. We take
# $\Delta S = S_2 - S_1$ and $\Delta U = U_2 - U_1$ (event 2 minus event 1,
# the same order for both) and expand the logarithms; $W_0$ cancels.

# %%
eq5_lhs = kB * T * sp.log((1 - xa) * xb / ((1 - xb) * xa))  # Eq. 5 as printed in the seed
eq5_rhs = Es + Ea * (za * xa - zb * xb)
balance_lhs = sp.expand_log(T * (S2 - S1), force=True)
balance_rhs = sp.expand(U2 - U1)
show("T(S_2 - S_1)", sp.expand(balance_lhs), "(1) with ΔS = S₂ − S₁; W₀ cancels")
show("U_2 - U_1", balance_rhs, "(1) with ΔU = U₂ − U₁")
same_lhs = sp.simplify(sp.expand_log(eq5_lhs, force=True) - balance_lhs) == 0
same_rhs = sp.simplify(eq5_rhs - balance_rhs) == 0
show(eq5_lhs, eq5_rhs, "(5)")
display(Markdown(f"sympy: $T(S_2-S_1)$ equals the left side of Eq. 5: **{same_lhs}**; "
                 f"$U_2-U_1$ equals its right side: **{same_rhs}**."))
assert same_lhs and same_rhs

# %% [markdown]
# Reversing **both** differences ($S_1 - S_2$, $U_1 - U_2$) multiplies the
# balance by $-1$ and gives the same equation. Reversing only one of them
# does not: it flips the sign of the logarithm.

# %%
mixed = sp.expand_log(T * (S1 - S2), force=True) - balance_rhs
eq5_diff = sp.expand_log(eq5_lhs, force=True) - eq5_rhs
mixed_is_eq5 = sp.simplify(mixed - eq5_diff) == 0 or sp.simplify(mixed + eq5_diff) == 0
show(r"T(S_1-S_2) - (U_2-U_1)", sp.simplify(mixed))
display(Markdown(f"sympy: the mixed order $T(S_1-S_2) = U_2-U_1$ is Eq. 5 (up to an overall sign): **{mixed_is_eq5}**."))
assert not mixed_is_eq5

# %% [markdown]
# **Which exchange the balance describes.** With $\Delta X = X_2 - X_1$ for
# both quantities, Eq. 5 is
# $k_BT \ln\frac{P_2}{P_1} = E_\text{surface} - E_\text{bulk}$ with
# $P_2 = (1-x_a)\,x_b$ the probability of the configuration event 2 produces
# (molecule in the bulk, surface site empty), $P_1 = (1-x_b)\,x_a$ that of
# the configuration event 1 produces (molecule on the surface, bulk site
# empty), $E_\text{surface} = U_2 = E_s + z_a E_a x_a$ and
# $E_\text{bulk} = U_1 = z_b E_a x_b$. That is detailed balance between the
# adsorption and desorption exchanges,
# $P_2/P_1 = e^{-(E_\text{bulk}-E_\text{surface})/k_BT}$: $\Delta S$ is taken
# in the desorption direction (adsorbed → bulk configuration) and $\Delta U$
# is the energy the molecule holds on the surface minus the energy it holds
# in the bulk. (Each $U_i$ is the energy the molecule has *before* event $i$,
# each $S_i$ counts the configurations *after* it; so Eq. 1 here is a
# detailed-balance condition, not the first law for one closed system.)
# The independent check below, equal chemical potentials, confirms that this
# order gives the physically correct equation.

# %% [markdown]
# ## Normalising by $k_B T$: Eq. 6
#
# With $\varepsilon_s = E_s/k_BT$ and $\varepsilon_a = E_a/k_BT$:

# %%
eps_s, eps_a = sp.symbols("varepsilon_s varepsilon_a", real=True)
eq6_lhs = sp.log((1 - xa) * xb / ((1 - xb) * xa))
eq6_rhs = sp.expand(eq5_rhs / (kB * T)).subs({Es: eps_s * kB * T, Ea: eps_a * kB * T})
derived = sp.simplify(sp.expand_log(eq5_lhs / (kB * T), force=True) - sp.expand_log(eq6_lhs, force=True))
show(eq6_lhs, sp.factor_terms(eq6_rhs), "(6)")
display(Markdown(f"sympy: Eq. 5 divided by $k_BT$ minus the left side of Eq. 6 simplifies to **{derived}**."))
assert derived == 0 and sp.simplify(eq6_rhs - (eps_s + eps_a * (za * xa - zb * xb))) == 0

# %% [markdown]
# Solved for the unknown in log-odds form (the form the library solves,
# $\operatorname{logit} x = \ln\frac{x}{1-x}$):

# %%
logit = lambda x: sp.log(x / (1 - x))
eq6_logit_rhs = logit(xb) - eps_s - eps_a * (za * xa - zb * xb)
check = sp.simplify(sp.expand_log(eq6_lhs - eq6_rhs - (eq6_logit_rhs - logit(xa)), force=True))
Lb = sp.Symbol(r"\operatorname{logit} x_b")  # display only: the check above used eq6_logit_rhs
show(r"\operatorname{logit} x_a", eq6_logit_rhs.subs(logit(xb), Lb))
display(Markdown(f"sympy: (Eq. 6 left − right) − (logit form right − logit $x_a$) = **{check}**. "
                 "This is exactly the form given in DESIGN §1."))
assert check == 0

# %% [markdown]
# **Sign convention.** With no lateral interaction ($\varepsilon_a = 0$)
# Eq. 6 gives the Langmuir form $\operatorname{logit} x_a = \operatorname{logit} x_b - \varepsilon_s$:
# a negative (attractive) $\varepsilon_s$ raises the coverage above the bulk
# density, $x_a > x_b$. A negative $\varepsilon_a$ lowers the left side's
# target as $x_a$ grows (neighbours attract, favouring a dense layer) and, via
# $-z_b x_b$, holds molecules in a dense bulk.

# %% [markdown]
# ## Numerical check against the library
#
# The sympy expression, compiled with `lambdify`, is compared with
# `iso.residual` (left minus right of Eq. 6) on random parameters, including
# occupancies close to 0 and 1.

# %%
rng = np.random.default_rng(seed)
f6 = sp.lambdify((xa, xb, eps_s, eps_a, za, zb), eq6_lhs - eq6_rhs, "numpy")
pts = dict(
    xa=1 / (1 + np.exp(-rng.uniform(-25, 25, n_check))),
    xb=1 / (1 + np.exp(-rng.uniform(-25, 25, n_check))),
    eps_s=rng.uniform(-10, 10, n_check),
    eps_a=rng.uniform(-5, 5, n_check),
    za=rng.uniform(1, 8, n_check),
    zb=rng.uniform(1, 8, n_check),
)
ref = f6(*pts.values())
lib = iso.residual(*pts.values())
scale = 1 + np.abs(ref)
err = np.max(np.abs(lib - ref) / scale)
display(Markdown(f"Max relative difference between sympy's Eq. 6 and `iso.residual` over {n_check} random points: "
                 f"**{err:.2e}** (round-off level)."))
assert err < 1e-9

# %% [markdown]
# ## Independent check: equal chemical potentials
#
# The same equation follows from treating the layer and the bulk as two
# Bragg–Williams (mean-field) lattice gases in contact. Per site, the layer's
# free energy is
# $f_a(x) = k_BT\,[x\ln x + (1-x)\ln(1-x)] + E_s x + \tfrac12 z_a E_a x^2$
# (the lateral energy $\tfrac12 z_a E_a x^2$ counts each pair once), and the
# bulk's chemical potential is $\mu_b = k_BT \operatorname{logit} x_b + z_b E_a x_b$.

# %%
x = sp.Symbol("x", positive=True)
f_a = kB * T * (x * sp.log(x) + (1 - x) * sp.log(1 - x)) + Es * x + za * Ea * x**2 / 2
mu_a = sp.diff(f_a, x).subs(x, xa)
mu_b = kB * T * logit(xb) + zb * Ea * xb
show(r"\mu_a", sp.simplify(mu_a))
show(r"\mu_b", mu_b)
eq_mu = sp.simplify(sp.expand_log((mu_b - mu_a) - (eq5_lhs - eq5_rhs), force=True))
display(Markdown(f"sympy: $(\\mu_b - \\mu_a) - (\\text{{Eq. 5 left}} - \\text{{right}})$ = **{eq_mu}**, "
                 "so Eq. 5 is exactly $\\mu_a = \\mu_b$, with the sign order chosen above."))
assert eq_mu == 0

# %% [markdown]
# ## The grand potential and stability
#
# Eq. 6 is the stationarity condition of the layer's grand potential per
# site at fixed bulk chemical potential, $\Omega = (f_a - \mu_b x_a)/k_BT$:
#
# $\Omega(x_a) = x_a\ln x_a + (1-x_a)\ln(1-x_a) + x_a[\varepsilon_s - \varepsilon_a z_b x_b - \operatorname{logit} x_b] + \tfrac12\varepsilon_a z_a x_a^2.$

# %%
Omega = (x * sp.log(x) + (1 - x) * sp.log(1 - x) + x * (eps_s - eps_a * zb * xb - logit(xb))
         + eps_a * za * x**2 / 2)
dOmega = sp.diff(Omega, x)
stationary = sp.simplify(sp.expand_log(dOmega.subs(x, xa) + (eq6_lhs - eq6_rhs), force=True))
d2Omega = sp.simplify(sp.diff(Omega, x, 2))
show(r"\partial\Omega/\partial x_a", sp.simplify(sp.expand_log(dOmega.subs(x, xa), force=True)))
display(Markdown(f"sympy: $\\partial\\Omega/\\partial x_a + (\\text{{Eq. 6 left}} - \\text{{right}})$ = **{stationary}**: "
                 "the stationary points of $\\Omega$ are exactly the solutions of Eq. 6."))
show(r"\partial^2\Omega/\partial x_a^2", sp.apart(d2Omega.subs(x, xa), xa))
assert stationary == 0
grid = np.linspace(0.01, 0.99, 99)
om_sym = sp.lambdify((x, xb, eps_s, eps_a, za, zb), Omega, "numpy")
om_err = np.max(np.abs(om_sym(grid, 0.3, -1.0, -1.5, 4, 6) - iso.grand_potential(grid, 0.3, -1.0, -1.5, 4, 6)))
display(Markdown(f"Max difference between sympy's $\\Omega$ and `iso.grand_potential` on a grid: **{om_err:.1e}**."))
assert om_err < 1e-12

# %% [markdown]
# A root is **stable** (a local minimum of $\Omega$, a state the layer can
# sit in) where $1/(x_a(1-x_a)) + \varepsilon_a z_a > 0$, and unstable (a
# barrier top) otherwise. The entropy term $1/(x_a(1-x_a))$ always
# stabilises; only an attractive lateral energy ($\varepsilon_a < 0$) can
# make the curvature negative.
#
# ## The critical condition
#
# $1/(x(1-x))$ has its minimum, 4, at $x = 1/2$. So the curvature can vanish,
# and Eq. 6 can have three roots (two minima and the barrier between them),
# only if $\varepsilon_a z_a < -4$. The spinodal occupancies, where the
# curvature vanishes, are:

# %%
g = sp.Symbol("g", real=True)  # g = eps_a z_a
spinodal_x = sp.solve(sp.Eq(1 / (x * (1 - x)) + g, 0), x)
for s_ in spinodal_x:
    show(r"x_\mathrm{sp}", sp.simplify(s_))
x_min = sp.solve(sp.diff(1 / (x * (1 - x)), x), x)
crit_g = sp.solve(sp.Eq((1 / (x * (1 - x))).subs(x, x_min[0]) + g, 0), g)[0]
eps_a_star = sp.solve(sp.Eq(eps_a * za, crit_g), eps_a)[0]
show(r"\varepsilon_a^*", eps_a_star, "(critical energy)")
show(r"z_a^*", sp.solve(sp.Eq(eps_a * za, crit_g), za)[0], "(critical coordination, for ε_a < 0)")
lib_ok = all(abs(iso.critical_eps_a(z) - float(eps_a_star.subs(za, z))) < 1e-15 for z in (2, 3, 4, 6, 8))
display(Markdown(f"The spinodal is real and inside $(0,1)$ only for $g = \\varepsilon_a z_a \\le {sp.latex(crit_g)}$. "
                 f"`iso.critical_eps_a` agrees with $\\varepsilon_a^* = {sp.latex(eps_a_star)}$: **{lib_ok}**."))
assert lib_ok

# %% [markdown]
# **Physical meaning.** For a given attraction $\varepsilon_a < 0$, a layer
# whose coordination exceeds $z_a^* = -4/\varepsilon_a$ (or, at fixed
# coordination, a temperature low enough that $\varepsilon_a < -4/z_a$) can
# hold two states at once, a dilute and a dense layer: that is what produces
# the jump and the hysteresis of seed 000's Figure 2. Above it, coverage
# rises smoothly with $x_b$.
#
# ## Lattice gas ↔ Ising: the critical condition is the mean-field Curie point
#
# With $x_a = (1+m)/2$ (occupancy ↔ spin $\sigma = 2s-1$), the pair energy
# $E_a s_i s_j = \tfrac{E_a}{4}(1 + \sigma_i + \sigma_j + \sigma_i\sigma_j)$
# is an Ising coupling $J = -E_a/4$. Expanding $\Omega$ in $m$:

# %%
m, hfield = sp.symbols("m h", real=True)
# Omega written with the effective field h = logit(x_b) - eps_s + eps_a z_b x_b
Omega_h = x * sp.log(x) + (1 - x) * sp.log(1 - x) - hfield * x + g * x**2 / 2
Om_m = sp.expand(Omega_h.subs(x, (1 + m) / 2))
series = sp.series(Om_m, m, 0, 5).removeO()
series = sp.collect(sp.expand(sp.expand_log(series, force=True)), m)
show(r"\Omega(m)", series)
c1 = sp.simplify(series.coeff(m, 1))
c2 = sp.simplify(series.coeff(m, 2))
show(r"[m^1]\,\Omega", sp.factor(c1))
show(r"[m^2]\,\Omega", sp.factor(c2))
g_c = sp.solve(sp.Eq(c2, 0), g)[0]
h_M = sp.solve(sp.Eq(c1, 0), hfield)[0]
odd = sp.simplify(sp.expand_log(Om_m.subs(hfield, h_M) - Om_m.subs(hfield, h_M).subs(m, -m), force=True))
display(Markdown(
    f"The $m^2$ coefficient vanishes at $g = {sp.latex(g_c)}$, i.e. $z_a J/k_BT = -\\varepsilon_a z_a/4 = 1$: "
    f"the mean-field (Bragg–Williams) Curie point $k_B T_c = z J$. The linear coefficient is an Ising field "
    f"$H/k_BT = (h - g/2)/2$; it vanishes at $h = {sp.latex(h_M)}$, where $\\Omega(m) - \\Omega(-m)$ simplifies to "
    f"**{odd}**: the two minima are exactly equal there. This is the Maxwell (equilibrium) transition that "
    f"`iso.maxwell_xb` solves for."))
assert g_c == -4 and sp.simplify(h_M - g / 2) == 0 and odd == 0

# %% [markdown]
# Mean field is only an approximation to the lattice model: on the exact
# 2-D square lattice ($z = 4$) Onsager's critical coupling is
# $J/k_BT_c = \tfrac12\ln(1+\sqrt2)$, stronger than mean field's $1/4$.

# %%
Jc_exact = float(sp.log(1 + sp.sqrt(2)) / 2)
display(Markdown(
    f"Critical lateral energy for $z_a = 4$: mean field $\\varepsilon_a^* = {iso.critical_eps_a(4):.4f}$; "
    f"exact 2-D Ising (Onsager) $-4 J_c/k_BT = {-4 * Jc_exact:.4f}$. "
    "Eq. 6 is a mean-field isotherm, so it predicts the transition at weaker attraction than the exact lattice gas. "
    "Likewise the seed's remark that $z \\le 2$ cannot show a phase split is true of the exact 1-D chain "
    "(no transition at any finite temperature) but not of Eq. 6, whose mean-field critical coordination is "
    "$z_a^* = -4/\\varepsilon_a$ for any attraction."))
