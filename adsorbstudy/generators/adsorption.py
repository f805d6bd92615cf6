"""The adsorption generator of seed 000, as specified in DESIGN §3: Bernoulli adsorption diffusion.

State: site occupancies s ∈ {0,1}^(L×L); Ising spins σ = 2s − 1 (lattice gas ↔ Ising).

Forward (desorption) process over K steps::

    q(s_k | s_{k-1}) = Bern((1 − β_k) s_{k-1} + β_k / 2),   q(s_k | s_0) = Bern(ᾱ_k s_0 + (1 − ᾱ_k) / 2)

with ᾱ_k = Π_{j≤k} (1 − β_j) and ᾱ_K = 0 exactly, so s_K is exactly Bern(1/2) noise and the
prior term of the ELBO vanishes. Two schedules: ``"cosine"`` ᾱ_k = cos²(πk / 2K) (default) and
``"linear"`` ᾱ_k = 1 − k/K (β_k = 1/(K − k + 1), Sohl-Dickstein's binomial-diffusion schedule).

Reverse (adsorption) step k → k−1: the bulk is s_k with density x_b = (1 − β_k) s_k + β_k/2; a
U-Net f_θ(σ_k, k, T) gives per-pixel energies ε_s, ε_a (in k_B T units of the adsorption
model; a negative ε attracts), and the adsorbed density x_a solves seed 000's Eq. 6 with
self-consistent neighbour coupling::

    logit(x_a,i) = logit(x_b,i) − ε_s,i − ε_a,i (z_a n_a,i − z_b n_b,i)

n_a,i = mean of x_a over the 4 in-plane neighbours, n_b,i = mean of x_b over the 6 bulk
neighbours (the 4 in-plane ones and the site itself twice, for the layers above and below).
Then s_{k−1} ~ Bern(x_a). Since logit q(s_{k−1}=1 | s_k, s_0) = logit(x_b) + logit(ᾱ_{k−1} s_0 +
(1 − ᾱ_{k−1})/2), Eq. 6 is Bayes' rule in log-odds: the energies are a learned prior.

Loss: the ELBO, Σ_k KL(q(s_{k−1}|s_k,s_0) ‖ Bern(x_a)), estimated with one k drawn uniformly
per sample (times K). The k = 1 term is the reconstruction term −log p(s_0 | s_1). No auxiliary
x_0 term is used.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .blocks import (check_classes, check_n, check_steps_none, GeneratorBase, rand, randint, spins_energy_mabs,
                     temperatures_tensor, UNet)

#: Version of the code that determines this family's checkpoints (part of their cache key; see
#: adsorbstudy.study.codeversion). Bump it with any change that alters the trained numbers.
VERSION = 2

SCHEDULES = ("cosine", "linear")


# --------------------------------------------------------------------------- lattice helpers
def _nbr_sum(x: torch.Tensor, circular: bool) -> torch.Tensor:
    """Sum of the 4 in-plane neighbours of every pixel of (B, C, H, W); zeros outside unless circular."""
    if circular:
        return (torch.roll(x, 1, -1) + torch.roll(x, -1, -1) + torch.roll(x, 1, -2) + torch.roll(x, -1, -2))
    p = F.pad(x, (1, 1, 1, 1))
    return p[..., 1:-1, :-2] + p[..., 1:-1, 2:] + p[..., :-2, 1:-1] + p[..., 2:, 1:-1]


def _checkerboard(H: int, W: int, device, dtype) -> torch.Tensor:
    i = torch.arange(H, device=device)[:, None]
    j = torch.arange(W, device=device)[None, :]
    return ((i + j) % 2 == 0).to(dtype)


def bulk_mean(xb: torch.Tensor, circular: bool = True) -> torch.Tensor:
    """n_b: mean of x_b over the 6 bulk neighbours (4 in-plane + the site itself twice)."""
    return (_nbr_sum(xb, circular) + 2 * xb) / 6.0


def eq6_residual_logits(u: torch.Tensor, lxb: torch.Tensor, xb: torch.Tensor, eps_s: torch.Tensor,
                        eps_a: torch.Tensor, za: float, zb: float, circular: bool = True) -> torch.Tensor:
    """Residual of Eq. 6 in logit units for x_a = sigmoid(u): u − [logit x_b − ε_s − ε_a(z_a n_a − z_b n_b)]."""
    na = _nbr_sum(torch.sigmoid(u), circular) / 4.0
    nb = bulk_mean(xb, circular)
    return u - (lxb - eps_s - eps_a * (za * na - zb * nb))


def _sweeps(u, c, eps_a, za, circular, masks, n):
    """n red-black Gauss-Seidel sweeps of u_i ← c_i − ε_a,i z_a n_a,i(σ(u))."""
    for _ in range(n):
        for m in masks:
            new = c - eps_a * (za * _nbr_sum(torch.sigmoid(u), circular) / 4.0)
            u = torch.where(m, new, u)
    return u


def _solve_logits(lxb, xb, eps_s, eps_a, za, zb, max_iter, tol, circular, check_every=5, start=None):
    """The no-grad solve: returns (u, |residual|) with u = logit(x_a).

    ``start``: the logits the iteration starts from; None = logit x_b (x_a = x_b, the adsorption
    branch). −logit x_b (x_a = 1 − x_b) starts on the desorption side (``models.bistability``)."""
    c = lxb - eps_s + eps_a * (zb * bulk_mean(xb, circular))
    u = (lxb if start is None else start).clone()
    if not torch.any(eps_a != 0):
        # ε_a ≡ 0: the closed form, bit for bit
        u = lxb - eps_s - eps_a * (za * _nbr_sum(torch.sigmoid(u), circular) / 4.0 - zb * bulk_mean(xb, circular))
        return u, eq6_residual_logits(u, lxb, xb, eps_s, eps_a, za, zb, circular).abs()
    H, W = u.shape[-2:]
    red = _checkerboard(H, W, u.device, torch.bool)
    masks = (red, ~red)
    done = 0
    while done < max_iter:
        n = min(check_every, max_iter - done)
        u = _sweeps(u, c, eps_a, za, circular, masks, n)
        done += n
        res = eq6_residual_logits(u, lxb, xb, eps_s, eps_a, za, zb, circular).abs()
        if float(res.max()) <= tol:
            break
    return u, res


class _Equilibrium(torch.autograd.Function):
    """u* = logit(x_a) solving Eq. 6, with the implicit-function gradient.

    At the root r(u*, θ) = 0, so du*/dθ = −(∂r/∂u)^(−1) ∂r/∂θ. The adjoint system
    (∂r/∂u)^T v = g, with ∂r/∂u = I + diag(ε_a z_a/4) A diag(σ'(u)), is solved by the same
    red-black Gauss-Seidel iteration as the forward problem (for a red-black ordered matrix it
    converges exactly when the forward iteration converges linearly at the root).
    """

    @staticmethod
    def forward(ctx, xb, eps_s, eps_a, za, zb, max_iter, tol, circular):
        lxb = torch.logit(xb)
        u, res = _solve_logits(lxb, xb, eps_s, eps_a, za, zb, max_iter, tol, circular)
        ctx.save_for_backward(u, xb, eps_a)
        ctx.cfg = (za, zb, max_iter, tol, circular)
        ctx.mark_non_differentiable(res)
        return u, res

    @staticmethod
    def backward(ctx, g, _gres):
        u, xb, eps_a = ctx.saved_tensors
        za, zb, max_iter, tol, circular = ctx.cfg
        sp = torch.sigmoid(u) * torch.sigmoid(-u)
        w = eps_a * (za / 4.0)
        v = g.clone()
        if torch.any(eps_a != 0):
            H, W = u.shape[-2:]
            red = _checkerboard(H, W, u.device, torch.bool)
            # stop near rounding level relative to the incoming gradient
            thresh = 100 * torch.finfo(g.dtype).eps * float(g.abs().max())
            for it in range(max_iter):
                old = v
                for m in (red, ~red):
                    v = torch.where(m, g - sp * _nbr_sum(w * v, circular), v)
                if it % 4 == 3 and float((v - old).abs().max()) <= thresh:
                    break
        na = _nbr_sum(torch.sigmoid(u), circular) / 4.0
        nb = bulk_mean(xb, circular)
        g_eps_s = -v
        g_eps_a = -v * (za * na - zb * nb)
        g_xb = v / (xb * (1 - xb)) + (zb / 6.0) * (_nbr_sum(v * eps_a, circular) + 2 * v * eps_a)
        return g_xb, g_eps_s, g_eps_a, None, None, None, None, None


def solve_equilibrium_logits(xb: torch.Tensor, eps_s: torch.Tensor, eps_a: torch.Tensor, za: float = 4.0,
                             zb: float = 6.0, max_iter: int = 200, tol: float = 1e-4,
                             circular: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`solve_equilibrium` but returns (logit x_a, per-pixel |residual| in logit units)."""
    _check_solver_inputs(xb, eps_s, eps_a, za, zb, max_iter, tol)
    return _Equilibrium.apply(xb, eps_s, eps_a, float(za), float(zb), int(max_iter), float(tol), bool(circular))


def _check_solver_inputs(xb, eps_s, eps_a, za, zb, max_iter, tol):
    if xb.dim() != 4 or xb.shape[1] != 1:
        raise ValueError(f"xb must have shape (B, 1, H, W); got {tuple(xb.shape)}")
    if eps_s.shape != xb.shape or eps_a.shape != xb.shape:
        raise ValueError(f"eps_s and eps_a must have the shape of xb {tuple(xb.shape)}; "
                         f"got {tuple(eps_s.shape)} and {tuple(eps_a.shape)}")
    if not (za > 0 and zb > 0):
        raise ValueError(f"za and zb must be positive coordination numbers; got za={za}, zb={zb}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"max_iter must be an integer ≥ 1; got {max_iter!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0; got {tol}")
    with torch.no_grad():
        if not bool(((xb > 0) & (xb < 1)).all()):
            raise ValueError("xb must lie strictly inside (0, 1)")
        if not (bool(torch.isfinite(eps_s).all()) and bool(torch.isfinite(eps_a).all())):
            raise ValueError("eps_s and eps_a must be finite")


def solve_equilibrium(xb: torch.Tensor, eps_s: torch.Tensor, eps_a: torch.Tensor, za: float = 4.0,
                      zb: float = 6.0, max_iter: int = 200, tol: float = 1e-4,
                      circular: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve seed 000's Eq. 6 at every pixel with self-consistent neighbour coupling (DESIGN §3).

    Arguments are tensors of shape (B, 1, H, W): the bulk density ``xb`` ∈ (0, 1), the surface
    energy ``eps_s`` and the lateral energy ``eps_a`` (dimensionless, ε/k_BT; negative attracts).
    ``za`` multiplies the mean adsorbed density of the 4 in-plane neighbours, ``zb`` the mean
    bulk density over 6 bulk neighbours (4 in-plane + the site twice). ``circular``: periodic
    boundaries (Ising) or zero padding (images, neighbours outside count as empty).

    Method: red-black Gauss-Seidel (each half-sweep solves Eq. 6 exactly on one sublattice given
    the other). For a uniform ε_a this is coordinate descent on the Bragg–Williams grand
    potential, so it settles on a stable root and does not oscillate the way parallel mean-field
    updates do; with per-pixel ε_a of mixed sign the coupling has no potential and strong
    repulsion can make the sublattices cycle, which is why non-converged pixels are counted
    (even L keeps the checkerboard a proper two-colouring of the torus). Started
    from x_a = x_b (the adsorption branch), at most ``max_iter`` sweeps, stopping when the max
    |residual| ≤ ``tol``. Differentiable in all three inputs through the implicit function
    theorem (exact gradient at the root).

    Returns (x_a, residual): x_a (B, 1, H, W) and the max over pixels of |Eq. 6 residual| in logit
    units (a 0-d tensor). With ε_a ≡ 0 it is exactly sigmoid(logit(x_b) − ε_s).
    """
    u, res = solve_equilibrium_logits(xb, eps_s, eps_a, za, zb, max_iter, tol, circular)
    return torch.sigmoid(u), res.max()


# --------------------------------------------------------------------------- Bernoulli algebra
def bernoulli_kl_logits(lq: torch.Tensor, lp: torch.Tensor) -> torch.Tensor:
    """KL(Bern(σ(lq)) ‖ Bern(σ(lp))) elementwise, in nats, computed in float64.

    ``lq`` may be ±inf (a deterministic posterior); ``lp`` must be finite. Written as cross
    entropy minus entropy so no 0·∞ appears.
    """
    lq = lq.to(torch.float64)
    lp = lp.to(torch.float64)
    q1, q0 = torch.sigmoid(lq), torch.sigmoid(-lq)
    cross = q1 * F.softplus(-lp) + q0 * F.softplus(lp)
    ent = -torch.special.xlogy(q1, q1) - torch.special.xlogy(q0, q0)
    return cross - ent


def _logit_mix(a: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
    """logit(a s0 + (1 − a)/2) for s0 ∈ {0,1}: ±log((1+a)/(1−a)), ±inf at a = 1."""
    ell = torch.log1p(a) - torch.log1p(-a)
    return torch.where(s0 > 0.5, ell, -ell)


#: torch.rand draws float32 uniforms on the grid j·2⁻²⁴, j = 0 … 2²⁴ − 1 (24 mantissa bits), so a draw
#: ``u < p`` with a float32 probability p is 1 with probability exactly ceil(p·2²⁴)/2²⁴.
_U_BITS = 24
_U_GRID = float(2**_U_BITS)


def sampled_bernoulli_log_prob(p: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """log P(s) of the draw ``s = (u < p)`` with u = ``torch.rand`` float32, summed over (C, H, W): (B,) float64.

    This is the law the sampler actually draws from, not the ideal Bern(p): with u on the grid
    j·2⁻²⁴, P(s = 1) = c/2²⁴ with c = ceil(p·2²⁴) (an integer, so both outcomes' probabilities
    are exact in float64 and sum to 1 exactly). It equals log-sigmoid of the logit to ~2⁻²⁴
    relative in the bulk and differs where it matters for importance weights: a p below 2⁻²⁴
    (logit < −16.6) still yields 1 with probability 2⁻²⁴, and the ideal Bern(p) would give that
    draw a weight too large by up to a factor 2⁻²⁴/p. NaN probabilities (a diverged solve) draw 0
    with certainty, and are booked so.
    """
    c = torch.ceil(torch.nan_to_num(p.to(torch.float64), nan=0.0).clamp(0.0, 1.0) * _U_GRID)
    hit = torch.where(s > 0.5, c, _U_GRID - c)
    return (torch.log(hit) - _U_BITS * math.log(2.0)).sum(dim=(1, 2, 3))


def bernoulli_log_prob_logits(logits: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """log Bern(s | σ(logits)) summed over (C, H, W): (B,) float64, by log-sigmoid of ±logit (the ideal model of the ELBO)."""
    return F.logsigmoid(torch.where(s > 0.5, 1.0, -1.0).to(torch.float64) * logits.to(torch.float64)).sum(dim=(1, 2, 3))


class AdsorptionGenerator(GeneratorBase):
    """Bernoulli adsorption diffusion conditioned on temperature (DESIGN §3).

    Hyperparameters: ``L`` lattice side; ``K`` number of adsorption layers (NFE = K);
    ``base``, ``depth``, ``emb_dim`` U-Net widths; ``lateral`` (False = the ε_a ≡ 0 ablation,
    binomial diffusion); ``schedule`` in {"cosine", "linear"}; ``za``, ``zb`` coordination
    numbers; ``max_iter``, ``tol`` of the Eq. 6 solve; ``padding`` "circular" for Ising.

    Spins ↔ occupancy: s = (σ + 1)/2. The U-Net sees σ_k = 2 s_k − 1 and the raw temperature T.

    Images (DESIGN §6): ``n_classes`` > 0 replaces the temperature by a class label (the condition
    argument ``T`` of every method then holds int labels in [0, n_classes)), with one more
    embedding row, label ``n_classes``, for the "null" prompt of classifier-free guidance; during
    training each label is replaced by it with probability ``p_uncond``. Use ``padding="zeros"``.
    """

    kind = "adsorption"

    def __init__(self, L: int, K: int = 50, base: int = 16, depth: int = 2, emb_dim: int = 64,
                 lateral: bool = True, schedule: str = "cosine", za: float = 4.0, zb: float = 6.0,
                 max_iter: int = 100, tol: float = 1e-4, padding: str = "circular", n_classes: int = 0,
                 p_uncond: float = 0.0):
        super().__init__()
        check_classes(n_classes, p_uncond)
        if not (isinstance(K, int) and 1 <= K <= 10000):
            raise ValueError(f"K must be an integer in [1, 10000]; got {K!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
        self._check_L(L, depth, lo=2)  # L = 2 (4 sites) lets the tests enumerate whole trajectories
        self.L, self.K, self.lateral = L, K, bool(lateral)
        self.za, self.zb, self.max_iter, self.tol = float(za), float(zb), int(max_iter), float(tol)
        self.circular = padding == "circular"
        self.hparams = dict(L=L, K=K, base=base, depth=depth, emb_dim=emb_dim, lateral=self.lateral,
                            schedule=schedule, za=za, zb=zb, max_iter=max_iter, tol=tol, padding=padding)
        self.kind = "adsorption" if self.lateral else "adsorption-nolateral"
        self._set_classes(n_classes, p_uncond)
        self.net = UNet(1, 2 if self.lateral else 1, base=base, depth=depth, emb_dim=emb_dim, padding=padding,
                        **self._unet_cond())
        from .schedules import betas_from_alpha_bar, cosine_alpha_bar, linear_alpha_bar

        abar = cosine_alpha_bar(K) if schedule == "cosine" else linear_alpha_bar(K)
        # index 0 (no step) is never read; index k holds β_k
        beta = torch.cat([torch.ones(1, dtype=torch.float64), betas_from_alpha_bar(abar)])
        # float64 buffers: ᾱ near 1 and β near 0 need the precision
        self.register_buffer("abar", abar, persistent=False)
        self.register_buffer("beta", beta, persistent=False)
        self.last_sample_stats: dict[str, Any] = {}

    # -- the process ---------------------------------------------------------------
    def q_sample(self, s0: torch.Tensor, k: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw s_k ~ q(s_k | s_0) = Bern(ᾱ_k s_0 + (1 − ᾱ_k)/2); s0 (B, 1, L, L) in {0,1}, k (B,) in [0, K]."""
        a = self.abar[k].view(-1, 1, 1, 1).to(s0.device)
        p = a * s0.to(torch.float64) + (1 - a) / 2
        return (rand(s0.shape, generator, s0.device, torch.float64) < p).to(s0.dtype)

    def bulk(self, sk: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """x_b = (1 − β_k) s_k + β_k / 2, computed in float64 and handed to the float32 network path.

        The float32 rounding shifts logit x_b by ~1e-4 for K ≤ 50 (β_k ≥ ~1e-3) and by up to ~0.05
        at k = 1 for K ~ 1000 (cosine schedule): a constant the learned ε_s absorbs."""
        b = self.beta[k].view(-1, 1, 1, 1)
        return ((1 - b) * sk.to(torch.float64) + b / 2).to(torch.float32)

    def posterior_logits(self, sk: torch.Tensor, s0: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """logit q(s_{k−1}=1 | s_k, s_0) = logit(x_b) + logit(ᾱ_{k−1} s_0 + (1 − ᾱ_{k−1})/2) (float64; ±inf at k=1)."""
        b = self.beta[k].view(-1, 1, 1, 1)
        lxb = torch.where(sk > 0.5, 1.0, -1.0).to(torch.float64) * (torch.log1p(-b / 2) - torch.log(b / 2))
        return lxb + _logit_mix(self.abar[k - 1].view(-1, 1, 1, 1), s0)

    def energies(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U-Net energies (ε_s, ε_a), each (B, 1, L, L); ε_a ≡ 0 without lateral coupling."""
        out = self.net(2 * sk - 1, k.to(torch.float32), *self.net_cond(T))
        if self.lateral:
            return out[:, :1], out[:, 1:]
        return out, torch.zeros_like(out)

    def model_logits(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """logit x_a of the reverse step k → k−1 and the per-pixel |Eq. 6 residual|."""
        eps_s, eps_a = self.energies(sk, k, T)
        return solve_equilibrium_logits(self.bulk(sk, k), eps_s, eps_a, self.za, self.zb,
                                        self.max_iter, self.tol, self.circular)

    def path_logits(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor, s_prev: torch.Tensor | None) -> torch.Tensor:
        """logit p_θ(s_{k−1,i} = 1 | s_k, …) (B, 1, L, L) of the reverse step k → k−1 for a given s_{k−1}
        ``s_prev``: the hook of :meth:`trajectory_log_prob` and :meth:`layer_kl`. Every site of this model is
        drawn independently given s_k, so ``s_prev`` is not read (a subclass's step may depend on it)."""
        return self.model_logits(sk, k, T)[0]

    def elbo_logits(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor, lq: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """The model logits of the ELBO term of layer k, given the posterior logits ``lq``: here
        :meth:`path_logits` (closed form, no draw; a subclass may draw s_{k−1} from q with ``generator``)."""
        return self.path_logits(sk, k, T, None)

    def layer_kl(self, s0: torch.Tensor, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """KL(q(s_{k−1}|s_k,s_0) ‖ p_θ(s_{k−1}|s_k)) summed over pixels at a given s_k (B, 1, L, L), nats, (B,)."""
        lq = self.posterior_logits(sk, s0, k)
        return bernoulli_kl_logits(lq, self.elbo_logits(sk, k, T, lq, generator)).sum(dim=(1, 2, 3))

    def kl_terms(self, spins: torch.Tensor, T: torch.Tensor, k: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """KL(q(s_{k−1}|s_k,s_0) ‖ p_θ(s_{k−1}|s_k)) summed over pixels, nats, (B,), one draw of s_k."""
        s0 = ((spins.to(torch.float32) + 1) / 2)[:, None]
        return self.layer_kl(s0, self.q_sample(s0, k, generator), k, T, generator)

    def loss_terms(self, spins: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-sample estimates of the negative ELBO per spin (nats), (B,) float64: K · KL_k / L² with one
        uniformly drawn k each; :meth:`loss` is their batch mean (their variance is the estimator's)."""
        k = randint(1, self.K + 1, spins.shape[0], generator, spins.device)
        T = self.drop_condition(T, self.p_uncond, generator)
        return self.K * self.kl_terms(spins, T, k, generator) / self.L ** 2

    def loss(self, spins: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Negative ELBO per spin (nats), one uniformly drawn k per sample: K · KL_k / L², batch mean."""
        return self.loss_terms(spins, T, generator).mean().to(torch.float32)

    @torch.no_grad()
    def nll_bound(self, spins, T, seed: int = 0, batch: int = 256) -> np.ndarray:
        """−ELBO in nats per spin of given ±1 configurations (n, L, L) at temperature T (scalar or (n,)).

        Σ_{k=1..K} KL_k with one draw of s_k per (config, k) (an unbiased estimate of the bound)
        plus the prior term KL(q(s_K|s_0) ‖ Bern(1/2)) = 0 (ᾱ_K = 0). Returns (n,) float64.
        """
        x = torch.as_tensor(np.asarray(spins)).to(torch.float32)
        if x.dim() != 3 or x.shape[1:] != (self.L, self.L):
            raise ValueError(f"configs must have shape (n, {self.L}, {self.L}); got {tuple(x.shape)}")
        Ts = self.cond_tensor(T, x.shape[0])
        g = torch.Generator().manual_seed(seed)
        dev = self.device
        out = np.zeros(x.shape[0])
        for i in range(0, x.shape[0], batch):
            xs, ts = x[i:i + batch].to(dev), Ts[i:i + batch].to(dev)
            tot = torch.zeros(xs.shape[0], dtype=torch.float64, device=dev)
            for kk in range(1, self.K + 1):
                k = torch.full((xs.shape[0],), kk, dtype=torch.long, device=dev)
                tot += self.kl_terms(xs, ts, k, g)
            out[i:i + batch] = (tot / self.L ** 2).cpu().numpy()
        return out

    # -- sampling ------------------------------------------------------------------
    def nfe_for(self, steps: int | None = None) -> int:
        check_steps_none(steps, self.K, "the adsorption generator samples with its K layers only")
        return self.K

    def forward_log_prob(self, s_prev: torch.Tensor, s_next: torch.Tensor, k: int) -> torch.Tensor:
        """log q(s_k = ``s_next`` | s_{k−1} = ``s_prev``) summed over sites: (B,) float64, k in [1, K].

        q = Bern((1 − β_k) s_{k−1} + β_k/2): a site keeps its value with probability 1 − β_k/2 and
        flips with probability β_k/2, so log q = n_keep log1p(−β_k/2) + n_flip log(β_k/2), exact in
        float64 down to β_1 ~ 1e−6 and at β_K = 1 (ᾱ_K = 0), where both terms are −ln 2."""
        b = self.beta[k].to(torch.float64)
        flips = (s_prev != s_next).to(torch.float64).sum(dim=(1, 2, 3))
        keeps = s_prev[0].numel() - flips
        return keeps * torch.log1p(-b / 2) + flips * torch.log(b / 2)

    def _step(self, s, k, cond, w, u):
        """One reverse step k → k−1 of the sampler from s = s_k (n, 1, L, L) with the layer's uniforms ``u``:
        (p, s_{k−1}, residuals), p the probabilities the draw ``u < p`` compared with, residuals the
        per-pixel |Eq. 6 residual| maps of the solves made (two under guidance w > 0)."""
        lp, res = self.model_logits(s, k, cond)
        out = [res]
        if w:
            # classifier-free guidance on the reverse step's logits (book/methods.md, "Images from a prompt")
            lu, res_u = self.model_logits(s, k, torch.full_like(cond, self.null_class))
            lp = (1 + w) * lp - w * lu
            out.append(res_u)
        p = torch.sigmoid(lp)
        return p, (u < p).to(torch.float32), out

    @torch.no_grad()
    def _run(self, n, T, seed, steps, progress, record, logprob=False, keep_path=False, guidance=0.0, keep=None,
             **step_kw):
        check_n(n)
        check_steps_none(steps, self.K, "the adsorption generator samples with its K layers only")
        w = self.check_guidance(guidance)
        Ts = self.cond_tensor(T, n).to(self.device)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        dev = self.device
        s = (torch.rand((n, 1, self.L, self.L), generator=g) < 0.5).to(torch.float32).to(dev)
        bad, worst = 0, 0.0
        rec = []
        extra = {}
        if logprob:
            # p(s_K) = Bern(1/2)^N; the float32 draw u < 0.5 is 1 with probability exactly 1/2
            extra["log_p"] = torch.full((n,), -self.L ** 2 * math.log(2.0), dtype=torch.float64, device=dev)
            extra["log_q"] = torch.zeros(n, dtype=torch.float64, device=dev)
        path = [s] if keep_path else None
        if keep is not None:
            keep.append((s[:, 0].cpu().to(torch.uint8), None))
        from ..study.runtime import progress_bar
        for kk in progress_bar(range(self.K, 0, -1), disable=not progress, desc="adsorption"):
            if record:
                rec.append((self.K - kk, *spins_energy_mabs(2 * s[:, 0] - 1)))
            k = torch.full((n,), kk, dtype=torch.long, device=dev)
            u = torch.rand(s.shape, generator=g).to(dev)
            p, s_new, residuals = self._step(s, k, Ts, w, u, **step_kw)
            for res in residuals:
                bad += int((res > self.tol).sum())
                worst = max(worst, float(res.max()))
            if logprob:
                # booked from the very probabilities the draw compared with (guided or not): no extra NFE
                extra["log_p"] += sampled_bernoulli_log_prob(p, s_new)
                extra["log_q"] += self.forward_log_prob(s_new, s, kk)
            s = s_new
            if keep_path:
                path.append(s)
            if keep is not None:
                keep.append((s[:, 0].cpu().to(torch.uint8), p[:, 0].cpu()))
        if record:
            rec.append((self.K, *spins_energy_mabs(2 * s[:, 0] - 1)))
        self.last_sample_stats = {"nonconverged": bad, "max_residual": worst,
                                  "pixel_solves": (2 if w else 1) * n * self.K * self.L ** 2}
        if keep_path:
            extra["path"] = torch.stack(path[::-1], dim=1)[:, :, 0].cpu()  # (n, K+1, L, L), index k holds s_k
        return (2 * s[:, 0] - 1).to(torch.int8).cpu(), rec, extra

    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False,
               guidance: float = 0.0) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1 at temperature T (scalar or (n,)), by K adsorption layers from
        Bern(1/2) noise. Records ``last_sample_stats`` = {"nonconverged": pixel solves with |Eq. 6 residual| >
        tol, summed over the K layers, "max_residual": max |residual| in logit units, "pixel_solves": total}.

        ``guidance`` w ≥ 0 (class-conditional models only): each step samples from the logits
        (1 + w)·l_cond − w·l_null, two Eq. 6 solves per step (NFE 2K); w = 0 is the plain conditional
        sampler, bit for bit (the null branch is not evaluated)."""
        return self._run(n, T, seed, steps, progress, record=False, guidance=guidance)[0]

    def layers(self, n: int, T, seed: int | None = 0, guidance: float = 0.0) -> dict[str, np.ndarray]:
        """The generation layer by layer (seed 000, Fig. 3), with the random stream of :meth:`sample`:
        ``s`` uint8 (K+1, n, L, L) occupancies from the Bern(1/2) noise s_K (index 0) to the sample s_0
        (index K), and ``x_a`` float32 (K, n, L, L), the adsorbed density (Eq. 6 solution, guided when
        w > 0) from which layer i+1 was drawn; ``x_a[-1]`` is the grey-level picture of the sample."""
        keep: list = []
        self._run(n, T, seed, None, False, record=False, guidance=guidance, keep=keep)
        return {"s": torch.stack([k[0] for k in keep]).numpy(),
                "x_a": torch.stack([k[1] for k in keep[1:]]).numpy().astype(np.float32)}

    def sample_with_logprob(self, n: int, T, seed: int | None = None, progress: bool = False,
                            return_path: bool = False, **step_kw):
        """:meth:`sample` plus the exact log-probabilities of each sample's whole generation trajectory.

        Returns (spins, log_p, log_q): spins exactly as :meth:`sample` with the same seed (the same
        draws), and per sample (n,) float64 CPU tensors, in nats,

        - ``log_p`` = log p_θ(s_{0:K}) = log p(s_K) + Σ_k log p_θ(s_{k−1} | s_k), p(s_K) = Bern(½)^N;
        - ``log_q`` = log q(s_{1:K} | s_0) = Σ_k log q(s_k | s_{k−1}) of the forward (desorption) chain.

        Both are accumulated in the one sampling pass, from the same float32 probabilities the draws
        were compared with, so they cost no extra network evaluation. Each reverse factor is the
        law of the draw actually made (:func:`sampled_bernoulli_log_prob`), so the importance weight
        π̃(s_0) q / p_θ built from them is exact *whether or not an Eq. 6 solve converged*: an
        unconverged solve changes which Bernoulli was drawn from, and that is the density booked.
        ``return_path``: also return the trajectory (n, K+1, L, L) float32 occupancies, index k = s_k,
        as a fourth element (memory n·(K+1)·L² floats; for tests and diagnostics). ``step_kw``: options of
        a subclass's reverse step (none here).
        """
        spins, _, extra = self._run(n, T, seed, None, progress, record=False, logprob=True, keep_path=return_path,
                                    **step_kw)
        out = (spins, extra["log_p"].cpu(), extra["log_q"].cpu())
        return out + (extra["path"],) if return_path else out

    @torch.no_grad()
    def trajectory_log_prob(self, path: torch.Tensor, T, sampled: bool = True,
                            **step_kw) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p_θ(s_{0:K}), log q(s_{1:K}|s_0)) of given trajectories, (n,) float64 each, in nats.

        ``path``: (n, K+1, L, L) occupancies in {0, 1}, index k = s_k (as returned by
        :meth:`sample_with_logprob` with ``return_path``). The reverse logits are evaluated with the
        same network and Eq. 6 solve as the sampler, on the whole batch at once (the solve stops on the
        batch's largest residual, so the same batch gives the same logits). ``sampled=True`` books
        each reverse step with the law of the sampler's float32 draw (as :meth:`sample_with_logprob`);
        ``sampled=False`` with the ideal Bern(σ(logit)) of the ELBO (log-sigmoid in float64). ``step_kw``:
        options of a subclass's reverse step, as given to :meth:`sample_with_logprob` (none here).
        """
        x = torch.as_tensor(path).to(torch.float32)
        if x.dim() != 4 or x.shape[1:] != (self.K + 1, self.L, self.L):
            raise ValueError(f"path must have shape (n, K+1={self.K + 1}, {self.L}, {self.L}); got {tuple(x.shape)}")
        if not bool(((x == 0) | (x == 1)).all()):
            raise ValueError("path must hold occupancies 0 and 1")
        n = x.shape[0]
        dev = self.device
        x = x.to(dev)[:, :, None]
        Ts = temperatures_tensor(T, n).to(dev)
        log_p = torch.full((n,), -self.L ** 2 * math.log(2.0), dtype=torch.float64, device=dev)
        log_q = torch.zeros(n, dtype=torch.float64, device=dev)
        with torch.no_grad():
            for kk in range(self.K, 0, -1):
                k = torch.full((n,), kk, dtype=torch.long, device=dev)
                s_prev = x[:, kk - 1]
                lp = self.path_logits(x[:, kk], k, Ts, s_prev, **step_kw)
                log_p += (sampled_bernoulli_log_prob(torch.sigmoid(lp), s_prev) if sampled
                          else bernoulli_log_prob_logits(lp, s_prev))
                log_q += self.forward_log_prob(s_prev, x[:, kk], kk)
        return log_p.cpu(), log_q.cpu()

    def trajectory(self, n: int, T, seed: int | None = 0, steps: int | None = None) -> dict[str, np.ndarray]:
        """Mean energy per spin and mean |m| of the current occupancy s_k (as spins 2s−1) along the K layers.

        ``step`` counts generative steps done: 0 is the Bern(1/2) noise s_K, K is the sample s_0."""
        rec = self._run(n, T, seed, steps, False, record=True)[1]
        a = np.array(rec, dtype=float)
        return {"step": a[:, 0].astype(int), "e": a[:, 1], "m_abs": a[:, 2]}
