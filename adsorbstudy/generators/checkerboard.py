"""Correlated (checkerboard) adsorption layers (DESIGN §3, "Correlated (checkerboard) layers"; issue 21).

The mean-field generator (``adsorption``) couples a site to its neighbours' *densities* x_a and then
draws every site of a layer independently; a U-Net can produce any such smoothing itself, so its lateral
term adds no expressive power. Here the lateral term acts on *sampled* neighbours. The reverse step
k → k−1 from s_k uses the same U-Net energies ε_s, ε_a of s_k (one evaluation per layer: NFE = K):

1. the sublattice drawn first, "A" = the sites of parity (i + j) ≡ k + phase (mod 2): Eq. 6 is solved
   self-consistently over the whole lattice, exactly as in the mean-field model, and the A sites are
   drawn from Bern(x_a) of that solution;
2. the other sublattice "B": every in-plane neighbour of a B site lies on A and has just been drawn, so
   Eq. 6 is closed form with the sampled neighbours in place of their densities::

       logit x_a,i = logit x_b,i − ε_s,i − ε_a,i (z_a n̂_a,i − z_b n_b,i),  n̂_a,i = (1/4) Σ_{j∼i} s_{k−1,j}

   (n̂_a the mean of the four sampled A occupancies 0/1; zero padding: a neighbour outside counts 0;
   ε in units of k_B T, a negative ε attracts, as in Eq. 6 and the mean-field model).

The parity of A alternates from one layer to the next, so neither sublattice is privileged. Periodic
lattices (Ising) need an even L, the checkerboard being then a proper two-colouring of the torus.

Likelihood. p_θ(s_{k−1}|s_k) = Π_A Bern(s_i | x_a,i) · Π_B Bern(s_i | x_a,i(s_A)): two factorised Bernoulli
terms with known logits, so log p_θ(s_{0:K}) is exact and ``adsorbstudy.analysis.reweight`` (SNIS, IMH, the KL
bound) applies unchanged. The sampler books each factor from the probabilities its draws were compared with.

ELBO. q(s_{k−1}|s_k, s_0) factorises over sites, so the term of layer k is exactly
KL(q_A ‖ p_A) + E_{s_A∼q_A} KL(q_B ‖ p_B(·|s_A)). The first is in closed form; the second is estimated
with one draw of s_A from q (unbiased). q does not depend on θ, so the gradient of the one-draw
estimate is unbiased too (no score-function term).

Heat bath. With z_a = 4, ε_a = −4J/T and ε_s,i = logit x_b,i + ε_a (z_b n_b,i − z_a/2), the B logit is
−ε_a z_a (n̂_a − 1/2) = (16J/T)·(Σ_j σ_j)/8 = 2βJ Σ_j σ_j (σ_j = 2 s_j − 1): the exact heat-bath update
of B given A.

Physics guidance (after seed 003's force-field guidance): at sampling time, λ·(2J/T)·Σ_{j∼i} σ_j (J = 1,
the sampled A neighbour spins; a neighbour outside a zero-padded lattice contributes 0) is added to the
B logits of the last ``guide_layers`` reverse steps, k ≤ guide_layers (default: all K). It changes the
proposal, not the target: the trajectory log-probability includes the term, so the corrected statistics
stay exact. λ = 0 is the unguided sampler, bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .adsorption import _nbr_sum, AdsorptionGenerator, bulk_mean, solve_equilibrium_logits
from .blocks import rand

#: Version of the checkerboard code behind its checkpoints (part of their key with the mean-field
#: model's ``adsorption.VERSION``, whose class this one extends; see adsorbstudy.study.codeversion).
VERSION = 1

KIND = "adsorption-checkerboard"


class CheckerboardGenerator(AdsorptionGenerator):
    """Bernoulli adsorption diffusion with checkerboard-correlated layers (module docstring).

    Hyperparameters as ``AdsorptionGenerator`` (always with lateral coupling), plus ``phase`` ∈ {0, 1}:
    at reverse step k → k−1 the sites of parity (i + j) ≡ k + phase (mod 2) are drawn first. With periodic
    boundaries L must be even. The U-Net, its inputs (σ_k, k, T or a class label) and outputs (ε_s, ε_a)
    are those of the mean-field model, so its weights load into this model and back.
    """

    kind = KIND
    #: dtype of x_b, ε and the logits (the U-Net itself runs in float32). float64 lets the tests check
    #: identities to 1e-12; set it on an instance (``model.logit_dtype = torch.float64``).
    logit_dtype = torch.float32

    def __init__(self, L: int, K: int = 50, base: int = 16, depth: int = 2, emb_dim: int = 64,
                 schedule: str = "cosine", za: float = 4.0, zb: float = 6.0, max_iter: int = 100, tol: float = 1e-4,
                 padding: str = "circular", n_classes: int = 0, p_uncond: float = 0.0, phase: int = 0):
        if isinstance(phase, bool) or phase not in (0, 1):
            raise ValueError(f"phase must be 0 or 1; got {phase!r}")
        super().__init__(L, K=K, base=base, depth=depth, emb_dim=emb_dim, lateral=True, schedule=schedule, za=za,
                         zb=zb, max_iter=max_iter, tol=tol, padding=padding, n_classes=n_classes, p_uncond=p_uncond)
        if self.circular and L % 2:
            raise ValueError(f"L must be even with periodic boundaries (a checkerboard two-colours the torus); got {L}")
        self.phase = phase
        self.kind = KIND
        self.hparams = {k: v for k, v in self.hparams.items() if k != "lateral"} | {"phase": phase}
        self._order: list[tuple[int, int]] = []

    # -- the two half-steps ----------------------------------------------------------
    def first_sites(self, k: torch.Tensor) -> torch.Tensor:
        """The sublattice drawn first at reverse step k → k−1: bool (B, 1, L, L), True where
        (i + j) ≡ k + phase (mod 2), for k (B,) (each sample its own step)."""
        i = torch.arange(self.L, device=k.device)
        parity = (i[:, None] + i[None, :]) % 2
        return parity == ((k + self.phase) % 2).view(-1, 1, 1, 1)

    def bulk(self, sk: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """x_b = (1 − β_k) s_k + β_k / 2, computed in float64, in :attr:`logit_dtype` (the mean-field
        model rounds it to float32 for its network path; float64 here only when asked)."""
        b = self.beta[k].view(-1, 1, 1, 1)
        return ((1 - b) * sk.to(torch.float64) + b / 2).to(self.logit_dtype)

    def energies(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U-Net energies (ε_s, ε_a), each (B, 1, L, L), in :attr:`logit_dtype`."""
        eps_s, eps_a = super().energies(sk, k, T)
        return eps_s.to(self.logit_dtype), eps_a.to(self.logit_dtype)

    def _solve(self, sk, k, cond):
        """The layer's one U-Net evaluation and its mean-field Eq. 6 solve: (x_b, ε_s, ε_a, logit x_a, |residual|)."""
        eps_s, eps_a = self.energies(sk, k, cond)
        xb = self.bulk(sk, k)
        u, res = solve_equilibrium_logits(xb, eps_s, eps_a, self.za, self.zb, self.max_iter, self.tol, self.circular)
        return xb, eps_s, eps_a, u, res

    def second_logits(self, xb: torch.Tensor, eps_s: torch.Tensor, eps_a: torch.Tensor, s_prev: torch.Tensor,
                      first: torch.Tensor) -> torch.Tensor:
        """Eq. 6 with sampled neighbours: logit x_b − ε_s − ε_a (z_a n̂_a − z_b n_b), (B, 1, L, L).

        n̂_a = (1/4) Σ_{j∼i} s_j over the occupancies ``s_prev`` read on the ``first`` sites only (the
        others count 0), so the value is the B logit wherever ``first`` is False."""
        na_hat = _nbr_sum(torch.where(first, s_prev, 0.0), self.circular) / 4.0
        return torch.logit(xb) - eps_s - eps_a * (self.za * na_hat - self.zb * bulk_mean(xb, self.circular))

    def physics_field(self, s_prev: torch.Tensor, first: torch.Tensor, cond: torch.Tensor, k: torch.Tensor,
                      physics: float, guide_layers: int) -> torch.Tensor:
        """The guidance term λ·(2J/T)·Σ_{j∼i} σ_j in logit units (J = 1, σ_j = 2 s_j − 1 of ``s_prev`` on the
        ``first`` sites) where k ≤ ``guide_layers`` (None: every layer), else 0; (B, 1, L, L) in
        :attr:`logit_dtype`; T = ``cond`` (B,) in J/k_B. λ > 0 favours aligning with the neighbours."""
        guide_layers = self.K if guide_layers is None else guide_layers
        field = _nbr_sum(torch.where(first, 2 * s_prev - 1, 0.0), self.circular).to(self.logit_dtype)
        on = (k <= guide_layers).view(-1, 1, 1, 1)
        return torch.where(on, physics * 2.0 / cond.to(self.logit_dtype).view(-1, 1, 1, 1) * field, 0.0)

    def path_logits(self, sk: torch.Tensor, k: torch.Tensor, T: torch.Tensor, s_prev: torch.Tensor,
                    physics: float = 0.0, guide_layers: int | None = None) -> torch.Tensor:
        """logit p_θ(s_{k−1,i} = 1 | s_k, s_{k−1} on A) at every site, (B, 1, L, L): the mean-field solve on the
        first sublattice, the closed form given ``s_prev``'s first-sublattice values on the second (plus the
        physics guidance term when λ = ``physics`` ≠ 0). ``s_prev`` may also hold densities in [0, 1] (the
        tests' biased variant of the ELBO)."""
        first = self.first_sites(k)
        xb, eps_s, eps_a, la, _ = self._solve(sk, k, T)
        lb = self.second_logits(xb, eps_s, eps_a, s_prev, first)
        if physics:
            lb = lb + self.physics_field(s_prev, first, T, k, physics, guide_layers)
        return torch.where(first, la, lb)

    def elbo_logits(self, sk, k, T, lq, generator=None):
        """:meth:`path_logits` at one draw of s_{k−1} ~ q(·|s_k, s_0) = Bern(σ(``lq``)) (read on A only): with
        the closed-form A part, an unbiased estimate of the layer's KL term (module docstring, "ELBO")."""
        s_draw = (rand(lq.shape, generator, lq.device, torch.float64) < torch.sigmoid(lq)).to(torch.float32)
        return self.path_logits(sk, k, T, s_draw)

    # -- sampling ------------------------------------------------------------------
    def _step(self, s, k, cond, w, u, physics=0.0, guide_layers=None):
        """The sampler's step k → k−1: A from the solve, then B given the sampled A, both with the same
        uniforms ``u`` (one per site, as the mean-field sampler). Under classifier-free guidance w > 0 each
        half mixes the conditional and null logits, B given the same sampled A."""
        first = self.first_sites(k)
        halves = [self._solve(s, k, cond)]
        if w:
            halves.append(self._solve(s, k, torch.full_like(cond, self.null_class)))
        mix = (lambda ls: ls[0]) if not w else (lambda ls: (1 + w) * ls[0] - w * ls[1])  # noqa: E731
        la = mix([h[3] for h in halves])
        s_first = (u < torch.sigmoid(la)).to(torch.float32)  # the draw of A (its other entries are never read)
        lb = mix([self.second_logits(*h[:3], s_first, first) for h in halves])
        if physics:
            lb = lb + self.physics_field(s_first, first, cond, k, physics, guide_layers)
        p = torch.sigmoid(torch.where(first, la, lb))
        # recorded from the mask actually used: the parity of the sites drawn first
        self._order.append((int(k[0]), 0 if bool(first[0, 0, 0, 0]) else 1))
        return p, (u < p).to(torch.float32), [h[4] for h in halves]

    def _run(self, *args, **kw):
        self._order = []
        out = super()._run(*args, **kw)
        self.last_sample_stats["first_sublattice"] = list(self._order)
        return out

    def _guide(self, physics, guide_layers) -> dict:
        """Validated physics-guidance options: λ finite (0 = off), ``guide_layers`` in [1, K] (None = K)."""
        if isinstance(physics, bool) or not isinstance(physics, (int, float, np.integer, np.floating)) \
                or not math.isfinite(physics):
            raise ValueError(f"physics must be a finite guidance strength λ; got {physics!r}")
        if physics and self.n_classes:
            raise ValueError("physics guidance λ ≠ 0 needs a temperature-conditioned (Ising) model")
        guide_layers = self.K if guide_layers is None else guide_layers
        if isinstance(guide_layers, bool) or not isinstance(guide_layers, (int, np.integer)) \
                or not 1 <= guide_layers <= self.K:
            raise ValueError(f"guide_layers must be an integer in [1, K={self.K}] or None (all); got {guide_layers!r}")
        return {"physics": float(physics), "guide_layers": int(guide_layers)}

    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False,
               guidance: float = 0.0, physics: float = 0.0, guide_layers: int | None = None) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1, as ``AdsorptionGenerator.sample``, with optional physics
        guidance λ = ``physics`` on the B logits of the reverse steps k ≤ ``guide_layers`` (None: all K).
        ``last_sample_stats["first_sublattice"]``: (k, parity of the sites drawn first) per step, in order."""
        return self._run(n, T, seed, steps, progress, record=False, guidance=guidance,
                         **self._guide(physics, guide_layers))[0]

    def sample_with_logprob(self, n: int, T, seed: int | None = None, progress: bool = False,
                            return_path: bool = False, physics: float = 0.0, guide_layers: int | None = None):
        """As ``AdsorptionGenerator.sample_with_logprob``; with λ ≠ 0 the guided proposal's exact
        log p (the weights then correct to the unguided target π)."""
        return super().sample_with_logprob(n, T, seed, progress, return_path, **self._guide(physics, guide_layers))

    def trajectory_log_prob(self, path: torch.Tensor, T, sampled: bool = True, physics: float = 0.0,
                            guide_layers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """As ``AdsorptionGenerator.trajectory_log_prob``, with the B logits given the path's own A
        sites, and the guidance of :meth:`sample_with_logprob` (the same λ and ``guide_layers``)."""
        return super().trajectory_log_prob(path, T, sampled, **self._guide(physics, guide_layers))


# --------------------------------------------------------------------------- the estimator's variance
@torch.no_grad()
def loss_variance(model: CheckerboardGenerator, mean_field: AdsorptionGenerator, spins, T, repeats: int = 8,
                  draws: int = 8, seed: int = 0) -> dict:
    """The variance of the checkerboard's one-draw loss estimate against the mean-field model's closed form.

    ``spins`` (B, L, L) ±1 and ``T`` (B,) or a scalar: the data. ``repeats`` times, both models'
    ``AdsorptionGenerator.loss_terms`` (per-sample K·KL_k/L², nats per spin) are drawn with the same
    generator seed, so they share k and s_k (common random numbers). Returns floats: ``var_checkerboard``
    and ``var_mean_field`` (variance over samples and repeats), ``ratio`` of the two, and ``var_draw``,
    the part due to the s_A draw alone (mean over the data of the variance over ``draws`` draws of s_A at
    a fixed (k, s_k)); ``mean_checkerboard``, ``mean_mean_field``.
    """
    x = torch.as_tensor(np.asarray(spins)).to(model.device)
    Ts = model.cond_tensor(T, x.shape[0]).to(model.device)
    cb, mf, cond = [], [], []
    for r in range(repeats):
        cb.append(model.loss_terms(x, Ts, torch.Generator().manual_seed(seed + r)).cpu().numpy())
        mf.append(mean_field.loss_terms(x, Ts, torch.Generator().manual_seed(seed + r)).cpu().numpy())
        g = torch.Generator().manual_seed(seed + repeats + r)
        k = torch.randint(1, model.K + 1, (x.shape[0],), generator=g).to(model.device)
        s0 = ((x.to(torch.float32) + 1) / 2)[:, None]
        sk = model.q_sample(s0, k, g)
        cond.append(np.stack([(model.K * model.layer_kl(s0, sk, k, Ts, g) / model.L ** 2).cpu().numpy()
                              for _ in range(draws)]).var(axis=0, ddof=1))
    cb, mf = np.concatenate(cb), np.concatenate(mf)
    v_cb, v_mf = float(cb.var(ddof=1)), float(mf.var(ddof=1))
    return {"var_checkerboard": v_cb, "var_mean_field": v_mf, "ratio": v_cb / v_mf, "var_draw": float(np.mean(cond)),
            "mean_checkerboard": float(cb.mean()), "mean_mean_field": float(mf.mean())}
