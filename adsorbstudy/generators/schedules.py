"""Noise schedules of the diffusion models, kept apart from the networks (as diffusers does).

Both chains are indexed by the noise level k = 0..K (k = 0: the data, k = K: pure noise) and described by
ᾱ_k, the fraction of signal left at level k (ᾱ_0 = 1), and β_k = 1 − ᾱ_k / ᾱ_{k−1}, the fraction the
step k−1 → k removes:

* the adsorption generator (Bernoulli chain, DESIGN §3): q(s_k | s_0) = Bern(ᾱ_k s_0 + (1 − ᾱ_k)/2);
* the DDPM (Gaussian chain, DESIGN §4): x_k = √ᾱ_k x_0 + √(1 − ᾱ_k) ε.

In both, ᾱ is the same quantity (the weight of the clean signal in the noised state), which is why the
matched DDPM can share the adsorption generator's ᾱ sequence level for level.

The word "linear" means different things for the two families, for historical reasons, and this
module names them apart: the adsorption generator's ``"linear"`` schedule is linear in ᾱ
(:func:`linear_alpha_bar`, Sohl-Dickstein et al.'s binomial diffusion), the DDPM's ``"linear"``
schedule is linear in β (:func:`ddpm_linear_beta`, Ho et al. 2020). ``"cosine"`` is
:func:`cosine_alpha_bar` for both.

All tensors are float64: ᾱ near 1 and β near 0 (the first levels of a long chain) need the precision.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _check_levels(K, name: str, lo: int = 1) -> int:
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not lo <= K <= 10000:
        raise ValueError(f"{name} must be an integer in [{lo}, 10000]; got {K!r}")
    return int(K)


def cosine_alpha_bar(K: int) -> torch.Tensor:
    """ᾱ_k = cos²(πk / 2K) for k = 0..K, shape (K+1,), float64, with ᾱ_0 = 1 and ᾱ_K = 0 set exactly.

    The cosine schedule of Nichol & Dhariwal (2021) without their offset s (s = 0), so the last level is
    pure noise: the prior term of the ELBO vanishes, and s_K (x_K) is independent of the data. Index k
    holds level k. These are the adsorption generator's numbers, bit for bit.
    """
    K = _check_levels(K, "K")
    k = torch.arange(K + 1, dtype=torch.float64)
    abar = torch.cos(0.5 * math.pi * k / K) ** 2
    # cos(π/2)² is 3.7e-33 in floating point, not 0: pin the ends so that level K is exactly noise
    abar[0], abar[-1] = 1.0, 0.0
    return abar


def linear_alpha_bar(K: int) -> torch.Tensor:
    """ᾱ_k = 1 − k/K for k = 0..K, shape (K+1,), float64 (the adsorption generator's ``"linear"`` schedule:
    β_k = 1/(K − k + 1), Sohl-Dickstein et al.'s binomial diffusion). ᾱ_0 = 1 and ᾱ_K = 0 exactly."""
    K = _check_levels(K, "K")
    k = torch.arange(K + 1, dtype=torch.float64)
    abar = 1.0 - k / K
    abar[0], abar[-1] = 1.0, 0.0
    return abar


def betas_from_alpha_bar(abar: torch.Tensor) -> torch.Tensor:
    """β_k = 1 − ᾱ_k / ᾱ_{k−1} for k = 1..K from ᾱ_0..ᾱ_K: shape (K,), index 0 holds k = 1.

    ᾱ_K = 0 gives β_K = 1 (the last step erases what was left). ᾱ_{k−1} must be > 0 for k ≤ K, which
    holds for every schedule here (only the last level is 0)."""
    abar = torch.as_tensor(abar, dtype=torch.float64)
    if abar.dim() != 1 or abar.numel() < 2 or float(abar[0]) != 1.0 or not bool((abar[:-1] > 0).all()):
        raise ValueError("abar must be a 1-d sequence ᾱ_0 = 1, ..., ᾱ_K with every level but the last > 0")
    return 1.0 - abar[1:] / abar[:-1]


def ddpm_linear_beta(n: int, beta_1: float = 1e-4, beta_n: float = 0.02, n_ref: int = 1000) -> torch.Tensor:
    """The DDPM's ``"linear"`` schedule: β_t for t = 1..n (index 0 holds t = 1), shape (n,), float64.

    Ho et al.'s ends ``beta_1``, ``beta_n`` are given for a chain of ``n_ref`` = 1000 steps; for a chain
    of n steps both are multiplied by n_ref / n (Nichol & Dhariwal 2021), so that every chain length
    ends near pure noise (n = 1000: ᾱ_n ≈ 4e-5; n = 50: β from 0.002 to 0.4, ᾱ_50 ≈ 4e-5). ᾱ_n is never
    exactly 0 here. Raises ValueError naming ``n_steps`` when n is not an integer in [2, 10000] or the
    rescaled β_n would reach 1.
    """
    n = _check_levels(n, "n_steps", lo=2)
    scale = n_ref / n
    if not scale * beta_n < 1:
        raise ValueError(f"n_steps: the rescaled schedule needs β < 1, i.e. n_steps > {n_ref * beta_n:g}; got {n}")
    return torch.linspace(scale * beta_1, scale * beta_n, n, dtype=torch.float64)


def posterior_variance(abar: torch.Tensor) -> torch.Tensor:
    """β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) for t = 1..K, shape (K,), float64 (index 0 holds t = 1).

    The variance of the Gaussian forward posterior q(x_{t−1} | x_t, x_0) per pixel (Ho et al. 2020,
    Eq. 7). β̃_1 = 0 (ᾱ_0 = 1: the last reverse step is deterministic given x̂_0), and at an exactly
    pure-noise last level (ᾱ_K = 0, β_K = 1) β̃_K = 1 − ᾱ_{K−1}, the variance of q(x_{K−1} | x_0).
    """
    abar = torch.as_tensor(abar, dtype=torch.float64)
    beta = betas_from_alpha_bar(abar)
    return beta * (1.0 - abar[:-1]) / (1.0 - abar[1:])
