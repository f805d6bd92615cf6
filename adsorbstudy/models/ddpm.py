"""The DDPM baseline of seed 004 (§2.2): spins ±1 as a continuous image, ε-prediction.

T_diff = 1000 steps, linear β from 1e-4 to 0.02 (Ho et al.), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, loss
‖ε − ε_θ(x_t, t, T)‖² (mean over pixels). Ancestral sampling with Σ = β_t I (seed 004), or
deterministic DDIM (η = 0) on an evenly spaced subset of ``steps`` steps. Final spins are the
sign of the generated x_0 (a zero maps to +1). Same U-Net trunk as the adsorption generator.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..nn import (GeneratorBase, UNet, check_n, randn, spins_energy_mabs, temperatures_tensor)

#: Version of the code that determines this family's checkpoints (part of their cache key; see
#: adsorbstudy.codeversion). Bump it with any change that alters the trained numbers.
VERSION = 1

N_STEPS = 1000


def linear_schedule(n: int = N_STEPS, beta_1: float = 1e-4, beta_n: float = 0.02) -> torch.Tensor:
    """β_t for t = 1..n (index 0 holds t = 1), float64."""
    return torch.linspace(beta_1, beta_n, n, dtype=torch.float64)


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

    Hyperparameters: ``L``; ``base``, ``depth``, ``emb_dim`` U-Net widths; ``padding``.
    ``sample(steps=None)`` is the full 1000-step ancestral sampler; ``steps=k`` is DDIM-k.
    """

    kind = "ddpm"

    def __init__(self, L: int, base: int = 16, depth: int = 2, emb_dim: int = 64, padding: str = "circular"):
        super().__init__()
        self._check_L(L, depth)
        self.L = L
        self.hparams = dict(L=L, base=base, depth=depth, emb_dim=emb_dim, padding=padding)
        self.net = UNet(1, 1, base=base, depth=depth, emb_dim=emb_dim, padding=padding)
        beta = linear_schedule()
        abar = torch.cumprod(1 - beta, 0)
        # index t (1..1000); index 0 is "no noise" (ᾱ_0 = 1)
        self.register_buffer("beta", torch.cat([torch.zeros(1, dtype=torch.float64), beta]), persistent=False)
        self.register_buffer("abar", torch.cat([torch.ones(1, dtype=torch.float64), abar]), persistent=False)
        self.last_sample_stats: dict[str, Any] = {}

    def _coef(self, t: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return table[t].to(torch.float32).view(-1, 1, 1, 1)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for x0 (B, 1, L, L), t (B,) in [1, 1000]."""
        a = self._coef(t, self.abar)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def eps(self, x: torch.Tensor, t: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """ε_θ(x_t, t, T)."""
        return self.net(x, t.to(torch.float32), T)

    def loss(self, spins: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """ε-prediction MSE (mean over pixels and batch), t uniform in 1..1000."""
        x0 = spins.to(torch.float32)[:, None]
        t = torch.randint(1, N_STEPS + 1, (x0.shape[0],), generator=generator).to(x0.device)
        noise = randn(x0.shape, generator, x0.device)
        return F.mse_loss(self.eps(self.q_sample(x0, t, noise), t, T), noise)

    def nfe_for(self, steps: int | None = None) -> int:
        return N_STEPS if steps is None else len(ddim_timesteps(steps))

    @torch.no_grad()
    def _run(self, n, T, seed, steps, progress, record):
        check_n(n)
        if steps is not None:
            ddim_timesteps(steps)
        Ts = temperatures_tensor(T, n).to(self.device)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        dev = self.device
        x = randn((n, 1, self.L, self.L), g, dev)
        rec = []
        from tqdm.auto import tqdm
        if steps is None:
            ts = list(range(N_STEPS, 0, -1))
            for i, t in enumerate(tqdm(ts, disable=not progress, desc="DDPM")):
                if record:
                    rec.append((i, *spins_energy_mabs(_sign(x[:, 0]))))
                tt = torch.full((n,), t, dtype=torch.long, device=dev)
                e = self.eps(x, tt, Ts)
                b, a, ab = float(self.beta[t]), 1 - float(self.beta[t]), float(self.abar[t])
                x = (x - b / np.sqrt(1 - ab) * e) / np.sqrt(a)
                if t > 1:
                    x = x + np.sqrt(b) * randn(x.shape, g, dev)
        else:
            ts = ddim_timesteps(steps)
            for i, t in enumerate(tqdm(ts, disable=not progress, desc=f"DDIM-{len(ts)}")):
                if record:
                    rec.append((i, *spins_energy_mabs(_sign(x[:, 0]))))
                tprev = ts[i + 1] if i + 1 < len(ts) else 0
                tt = torch.full((n,), t, dtype=torch.long, device=dev)
                x = ddim_step(x, self.eps(x, tt, Ts), float(self.abar[t]), float(self.abar[tprev]))
        if record:
            rec.append((len(ts), *spins_energy_mabs(_sign(x[:, 0]))))
        self.last_sample_stats = {"sampler": "ancestral" if steps is None else f"ddim-{len(ts)}", "nfe": len(ts)}
        return _sign(x[:, 0]).to(torch.int8).cpu(), rec

    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1 = sign(x_0); steps=None: 1000-step ancestral, steps=k: DDIM-k."""
        return self._run(n, T, seed, steps, progress, record=False)[0]

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
