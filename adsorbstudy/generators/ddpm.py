"""The DDPM baseline of seed 004 (§2.2): spins ±1 as a continuous image, ε-prediction.

T_diff = 1000 steps, linear β from 1e-4 to 0.02 (Ho et al.), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, loss
‖ε − ε_θ(x_t, t, T)‖² (mean over pixels). Ancestral sampling with Σ = β_t I (seed 004), or
deterministic DDIM (η = 0) on an evenly spaced subset of ``steps`` steps.

The *matched* DDPM (DESIGN §4) trains and samples a shorter chain of ``n_steps`` noise levels (50 to
match the adsorption generator at K = 50: the same noise-level count, NFE and optimizer budget).
Its linear schedule is the usual rescaling of Ho et al.'s to a shorter chain (Nichol & Dhariwal
2021): both ends are multiplied by 1000 / n_steps, so β runs from 1e-4·1000/n to 0.02·1000/n and
ᾱ at the last step stays near zero (for n = 50: β from 0.002 to 0.4, ᾱ_50 ≈ 4e-5). Final spins are the
sign of the generated x_0 (a zero maps to +1). Same U-Net trunk as the adsorption generator.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .blocks import check_classes, check_n, GeneratorBase, randint, randn, spins_energy_mabs, UNet

#: Version of the code that determines this family's checkpoints (part of their cache key; see
#: adsorbstudy.study.codeversion). Bump it with any change that alters the trained numbers.
VERSION = 2

N_STEPS = 1000


def linear_schedule(n: int = N_STEPS, beta_1: float = 1e-4, beta_n: float = 0.02) -> torch.Tensor:
    """β_t for t = 1..n (index 0 holds t = 1), float64: Ho et al.'s ends ``beta_1``, ``beta_n`` (given for
    a 1000-step chain) rescaled by 1000 / n, so that every chain length ends near pure noise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 10000:
        raise ValueError(f"n_steps must be an integer in [2, 10000]; got {n!r}")
    scale = N_STEPS / n
    if not scale * beta_n < 1:
        raise ValueError(f"n_steps: the rescaled schedule needs β < 1, i.e. n_steps > {N_STEPS * beta_n:g}; got {n}")
    return torch.linspace(scale * beta_1, scale * beta_n, n, dtype=torch.float64)


def ddim_timesteps(steps: int, n: int = N_STEPS) -> list[int]:
    """The DDIM subsequence, descending, from t = n (pure noise) to t = 1, ``steps`` values evenly
    spaced; one step is the single jump from t = n straight to x_0."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= n:
        raise ValueError(f"steps must be an integer in [1, {n}]; got {steps!r}")
    # spaced from n downwards, so every subsequence starts at the noise end (linspace(1, n, 1) = [1] would not)
    ts = np.unique(np.round(np.linspace(n, 1, steps)).astype(int))[::-1]
    return [int(t) for t in ts]


class DDPM(GeneratorBase):
    """Temperature-conditioned DDPM on ±1 spin images (seed 004 DiffIsing).

    Hyperparameters: ``L``; ``base``, ``depth``, ``emb_dim`` U-Net widths; ``padding``; ``n_steps``
    noise levels of the chain (1000 = seed 004; 50 = the matched DDPM), see :func:`linear_schedule`.
    ``sample(steps=None)`` is the full ``n_steps`` ancestral sampler; ``steps=k`` is DDIM-k.

    Images (DESIGN §6): ``n_classes`` > 0 conditions on a class label instead of the temperature (the
    argument ``T`` then holds int labels), with a null prompt (label ``n_classes``) that replaces the
    label with probability ``p_uncond`` in training, for classifier-free guidance on ε.
    """

    kind = "ddpm"

    def __init__(self, L: int, base: int = 16, depth: int = 2, emb_dim: int = 64, padding: str = "circular",
                 n_steps: int = N_STEPS, n_classes: int = 0, p_uncond: float = 0.0):
        super().__init__()
        self._check_L(L, depth)
        check_classes(n_classes, p_uncond)
        beta = linear_schedule(n_steps)
        self.L, self.n_steps = L, int(n_steps)
        self.hparams = dict(L=L, base=base, depth=depth, emb_dim=emb_dim, padding=padding, n_steps=self.n_steps)
        self._set_classes(n_classes, p_uncond)
        self.net = UNet(1, 1, base=base, depth=depth, emb_dim=emb_dim, padding=padding, **self._unet_cond())
        abar = torch.cumprod(1 - beta, 0)
        # index t (1..n_steps); index 0 is "no noise" (ᾱ_0 = 1)
        self.register_buffer("beta", torch.cat([torch.zeros(1, dtype=torch.float64), beta]), persistent=False)
        self.register_buffer("abar", torch.cat([torch.ones(1, dtype=torch.float64), abar]), persistent=False)
        self.last_sample_stats: dict[str, Any] = {}

    def _coef(self, t: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return table[t].to(torch.float32).view(-1, 1, 1, 1)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for x0 (B, 1, L, L), t (B,) in [1, n_steps]."""
        a = self._coef(t, self.abar)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def eps(self, x: torch.Tensor, t: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """ε_θ(x_t, t, T) (T: temperatures, or labels for a class-conditional model)."""
        return self.net(x, t.to(torch.float32), *self.net_cond(T))

    def guided_eps(self, x: torch.Tensor, t: torch.Tensor, T: torch.Tensor, w: float) -> torch.Tensor:
        """Classifier-free guidance (Ho & Salimans 2022): (1 + w) ε_θ(x, t, c) − w ε_θ(x, t, ∅); w = 0 is ε_θ(x, t, c)."""
        e = self.eps(x, t, T)
        if not w:
            return e
        return (1 + w) * e - w * self.eps(x, t, torch.full_like(T, self.null_class))

    def loss(self, spins: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """ε-prediction MSE (mean over pixels and batch), t uniform in 1..n_steps."""
        x0 = spins.to(torch.float32)[:, None]
        t = randint(1, self.n_steps + 1, x0.shape[0], generator, x0.device)
        noise = randn(x0.shape, generator, x0.device)
        T = self.drop_condition(T, self.p_uncond, generator)
        return F.mse_loss(self.eps(self.q_sample(x0, t, noise), t, T), noise)

    def nfe_for(self, steps: int | None = None) -> int:
        return self.n_steps if steps is None else len(ddim_timesteps(steps, self.n_steps))

    @torch.no_grad()
    def _run(self, n, T, seed, steps, progress, record, guidance=0.0):
        check_n(n)
        if steps is not None:
            ddim_timesteps(steps, self.n_steps)
        w = self.check_guidance(guidance)
        Ts = self.cond_tensor(T, n).to(self.device)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        dev = self.device
        x = randn((n, 1, self.L, self.L), g, dev)
        rec = []
        from ..study.runtime import progress_bar
        if steps is None:
            ts = list(range(self.n_steps, 0, -1))
            for i, t in enumerate(progress_bar(ts, disable=not progress, desc=f"DDPM-{self.n_steps}")):
                if record:
                    rec.append((i, *spins_energy_mabs(_sign(x[:, 0]))))
                tt = torch.full((n,), t, dtype=torch.long, device=dev)
                e = self.guided_eps(x, tt, Ts, w)
                b, a, ab = float(self.beta[t]), 1 - float(self.beta[t]), float(self.abar[t])
                x = (x - b / np.sqrt(1 - ab) * e) / np.sqrt(a)
                if t > 1:
                    x = x + np.sqrt(b) * randn(x.shape, g, dev)
        else:
            ts = ddim_timesteps(steps, self.n_steps)
            for i, t in enumerate(progress_bar(ts, disable=not progress, desc=f"DDIM-{len(ts)}")):
                if record:
                    rec.append((i, *spins_energy_mabs(_sign(x[:, 0]))))
                tprev = ts[i + 1] if i + 1 < len(ts) else 0
                tt = torch.full((n,), t, dtype=torch.long, device=dev)
                x = ddim_step(x, self.guided_eps(x, tt, Ts, w), float(self.abar[t]), float(self.abar[tprev]))
        if record:
            rec.append((len(ts), *spins_energy_mabs(_sign(x[:, 0]))))
        self.last_sample_stats = {"sampler": f"ancestral-{self.n_steps}" if steps is None else f"ddim-{len(ts)}",
                                  "nfe": (2 if w else 1) * len(ts)}
        return _sign(x[:, 0]).to(torch.int8).cpu(), rec

    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False,
               guidance: float = 0.0) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1 = sign(x_0); steps=None: the n_steps ancestral chain, steps=k: DDIM-k.
        ``guidance`` w ≥ 0 (class-conditional models): ε = (1 + w) ε_cond − w ε_null, twice the NFE."""
        return self._run(n, T, seed, steps, progress, record=False, guidance=guidance)[0]

    def trajectory(self, n: int, T, seed: int | None = 0, steps: int | None = None) -> dict[str, np.ndarray]:
        """Mean energy per spin and |m| of sign(x_t), the current noisy state, along the generative steps."""
        rec = self._run(n, T, seed, steps, False, record=True)[1]
        a = np.array(rec, dtype=float)
        return {"step": a[:, 0].astype(int), "e": a[:, 1], "m_abs": a[:, 2]}


def ddim_step(x: torch.Tensor, eps: torch.Tensor, abar_t: float, abar_prev: float) -> torch.Tensor:
    """Deterministic DDIM update (Song et al. 2021, η = 0): x_prev = √ᾱ' x̂_0 + √(1−ᾱ') ε̂,
    x̂_0 = (x − √(1−ᾱ) ε̂)/√ᾱ."""
    x0 = (x - np.sqrt(1 - abar_t) * eps) / np.sqrt(abar_t)
    return np.sqrt(abar_prev) * x0 + np.sqrt(1 - abar_prev) * eps


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0)
