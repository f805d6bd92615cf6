"""The DDPM baseline of seed 004 (§2.2): spins ±1 as a continuous image, ε-prediction.

T_diff = 1000 steps, linear β from 1e-4 to 0.02 (Ho et al.), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, loss
‖ε − ε_θ(x_t, t, T)‖² (mean over pixels). Ancestral sampling with Σ = β_t I (seed 004), or
deterministic DDIM (η = 0) on an evenly spaced subset of ``steps`` steps.

``schedule="cosine"`` (DESIGN §4, the matched DDPM) takes the adsorption generator's ᾱ sequence level
for level (:func:`adsorbstudy.generators.schedules.cosine_alpha_bar`, ᾱ_n = 0 exactly) and samples ancestrally
with the posterior variance β̃_t; see :class:`DDPM` for how the pure-noise last level is treated.

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

from .blocks import check_classes, check_n, GeneratorBase, randint, randn, spins_energy_mabs, UNet
from .schedules import betas_from_alpha_bar, cosine_alpha_bar, ddpm_linear_beta, posterior_variance

#: Version of the code that determines this family's checkpoints (part of their cache key; see
#: adsorbstudy.study.codeversion). Bump it with any change that alters the trained numbers.
VERSION = 3

N_STEPS = 1000
#: Noise schedules of the DDPM: "linear" (Ho et al.'s β, rescaled to n_steps; the default) and "cosine"
#: (the adsorption generator's ᾱ; adsorbstudy.generators.schedules).
SCHEDULES = ("linear", "cosine")


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
    noise levels of the chain (1000 = seed 004; 50 = the matched DDPM); ``schedule``:

    - ``"linear"`` (default; seed 004): β from :func:`adsorbstudy.generators.schedules.ddpm_linear_beta` (n_steps >
      20), ancestral sampling with Σ_t = β_t I, ε-prediction at every level;
    - ``"cosine"`` (the matched DDPM, DESIGN §4): ᾱ_t = cos²(πt / 2n) for t = 1..n, the adsorption
      generator's ᾱ_k at K = n_steps bit for bit, with ᾱ_n = 0 exactly (any n_steps ≥ 2), and
      β_t = 1 − ᾱ_t/ᾱ_{t−1} (β_n = 1). Ancestral sampling with the posterior variance
      β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t): the variance of q(x_{t−1} | x_t, x_0), the optimal choice when
      x_0 given x_t is (nearly) a point mass (Ho et al. 2020 §3.2; Nichol & Dhariwal 2021), which the
      ±1 spins become in the last steps, where β_t would add noise the posterior does not have
      (β̃_1 = 0 < β_1; β̃_t/β_t differs from 1 only at small t, and a short chain has few levels).

    The pure-noise last level of ``"cosine"``: x_n = ε holds no information about x_0, so ε-prediction is
    trivial there (ε = x_n) and x̂_0 = (x_n − √(1−ᾱ_n) ε̂)/√ᾱ_n is 0/0; the ε-form ancestral mean,
    (x_n − β_n ε̂/√(1−ᾱ_n))/√α_n, divides by √α_n = 0. At t = n only, the network therefore predicts x_0
    itself (loss ‖x_0 − f_θ(x_n, n, T)‖² weighted by SNR_{n−1}, see :meth:`level_weights`; minimised by
    E[x_0 | T]), and the step uses the posterior mean
    written with x̂_0, μ̃_n = √ᾱ_{n−1} x̂_0 (the x_n coefficient √α_n (1−ᾱ_{n−1})/(1−ᾱ_n) is 0), and
    variance β̃_n = 1 − ᾱ_{n−1}: x_{n−1} = √ᾱ_{n−1} x̂_0 + √(1−ᾱ_{n−1}) z, the Gaussian closest to
    q(x_{n−1}). Every other level is the usual ε-prediction; DDIM from t = n uses x̂_0 = f_θ and ε̂ = x_n.
    Nothing divides by zero and NFE stays n_steps. (Clipping β_n to 0.999, Nichol & Dhariwal's fix,
    would leave ᾱ_n ≠ 0 and break the level-for-level match with the adsorption generator.)

    ``sample(steps=None)`` is the full ``n_steps`` ancestral sampler; ``steps=k`` is DDIM-k.

    Images (DESIGN §6): ``n_classes`` > 0 conditions on a class label instead of the temperature (the
    argument ``T`` then holds int labels), with a null prompt (label ``n_classes``) that replaces the
    label with probability ``p_uncond`` in training, for classifier-free guidance on ε.
    """

    kind = "ddpm"

    def __init__(self, L: int, base: int = 16, depth: int = 2, emb_dim: int = 64, padding: str = "circular",
                 n_steps: int = N_STEPS, n_classes: int = 0, p_uncond: float = 0.0, schedule: str = "linear"):
        super().__init__()
        self._check_L(L, depth)
        check_classes(n_classes, p_uncond)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
        self.schedule = schedule
        if schedule == "linear":
            beta = ddpm_linear_beta(n_steps)
            abar = torch.cumprod(1 - beta, 0)
        else:
            if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or not 2 <= n_steps <= 10000:
                raise ValueError(f"n_steps must be an integer in [2, 10000]; got {n_steps!r}")
            abar_all = cosine_alpha_bar(int(n_steps))
            beta, abar = betas_from_alpha_bar(abar_all), abar_all[1:]
        self.L, self.n_steps = L, int(n_steps)
        self.hparams = dict(L=L, base=base, depth=depth, emb_dim=emb_dim, padding=padding, n_steps=self.n_steps)
        if schedule != "linear":
            # only a non-default schedule enters hparams, so the linear models keep their checkpoint keys
            self.hparams["schedule"] = schedule
        self._set_classes(n_classes, p_uncond)
        self.net = UNet(1, 1, base=base, depth=depth, emb_dim=emb_dim, padding=padding, **self._unet_cond())
        # index t (1..n_steps); index 0 is "no noise" (ᾱ_0 = 1)
        self.register_buffer("beta", torch.cat([torch.zeros(1, dtype=torch.float64), beta]), persistent=False)
        self.register_buffer("abar", torch.cat([torch.ones(1, dtype=torch.float64), abar]), persistent=False)
        # β̃_t (index t); used by the cosine sampler only (the linear one keeps seed 004's Σ_t = β_t)
        self.register_buffer("beta_tilde", torch.cat([torch.zeros(1, dtype=torch.float64),
                                                      posterior_variance(self.abar)]), persistent=False)
        self.last_sample_stats: dict[str, Any] = {}

    def predicts_x0(self, t: int) -> bool:
        """Whether the network output at level t is x̂_0 rather than ε̂: only at a pure-noise level (ᾱ_t = 0,
        the last level of the cosine schedule), where ε-prediction carries no information."""
        return float(self.abar[t]) == 0.0

    def reverse_step(self, x: torch.Tensor, out: torch.Tensor, t: int, noise: torch.Tensor | None) -> torch.Tensor:
        """One ancestral step x_t → x_{t−1} from the network output ``out`` at level t (ε̂, or x̂_0 where
        :meth:`predicts_x0`) and standard normal ``noise`` (None at t = 1, where no noise is added).

        ``"linear"``: seed 004's step, mean (x_t − β_t ε̂/√(1−ᾱ_t))/√α_t, variance β_t. ``"cosine"``: the
        same mean (the posterior mean μ̃_t written with ε̂) and variance β̃_t; at ᾱ_t = 0 the mean
        √ᾱ_{t−1} x̂_0 (see the class docstring). Shapes of ``x``, ``out``, ``noise`` agree."""
        b, a, ab = float(self.beta[t]), 1 - float(self.beta[t]), float(self.abar[t])
        if self.schedule == "linear":
            x = (x - b / np.sqrt(1 - ab) * out) / np.sqrt(a)
            return x if noise is None else x + np.sqrt(b) * noise
        if self.predicts_x0(t):
            x = np.sqrt(float(self.abar[t - 1])) * out
        else:
            x = (x - b / np.sqrt(1 - ab) * out) / np.sqrt(a)
        return x if noise is None else x + np.sqrt(float(self.beta_tilde[t])) * noise

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
        """Classifier-free guidance (Ho & Salimans 2022): (1 + w) ε_θ(x, t, c) − w ε_θ(x, t, ∅); w = 0 is ε_θ(x, t, c).
        At a level where the network predicts x_0 (:meth:`predicts_x0`) the same combination is taken of the x̂_0."""
        e = self.eps(x, t, T)
        if not w:
            return e
        return (1 + w) * e - w * self.eps(x, t, torch.full_like(T, self.null_class))

    def level_weights(self) -> torch.Tensor:
        """The loss weight of each level t = 0..n_steps, shape (n_steps + 1,), float64 (index 0 unused).

        1 at every ε-prediction level (Ho et al.'s L_simple). At a pure-noise level (:meth:`predicts_x0`)
        the weight is SNR_{t−1} = ᾱ_{t−1}/(1 − ᾱ_{t−1}). Why: L_simple weighs errors of x̂_0 by the level's
        signal-to-noise ratio (‖ε̂ − ε‖² = SNR_t ‖x̂_0 − x_0‖²), which is 0 at ᾱ_t = 0; unweighted, the x_0
        target there has an irreducible MSE Var(x_0 | T) (about 1 per pixel for spins, ten times the ε
        levels' loss), and its gradient noise slowed the whole shared network (the matched DDPM learned the
        temperature dependence far more slowly). SNR_{t−1}, the weight of the level the step produces, is
        the smallest non-zero weight of the chain: the level is still trained, without dominating."""
        w = torch.ones(self.n_steps + 1, dtype=torch.float64)
        for t in range(1, self.n_steps + 1):
            if self.predicts_x0(t):
                ab = float(self.abar[t - 1])
                w[t] = ab / (1.0 - ab)
        return w

    def loss_at(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """The weighted MSE (mean over pixels and batch) at given levels: x0 (B, 1, L, L) ±1 floats, t (B,)
        in [1, n_steps], noise (B, 1, L, L). The target is ε, or x_0 at a pure-noise level, and each sample
        is weighted by :meth:`level_weights` at its t."""
        target = noise
        if self.predicts_x0(self.n_steps):
            target = torch.where((t == self.n_steps).view(-1, 1, 1, 1), x0, noise)
        err = (self.eps(self.q_sample(x0, t, noise), t, T) - target) ** 2
        w = self.level_weights().to(device=t.device, dtype=err.dtype)[t]
        return (w.view(-1, 1, 1, 1) * err).mean()

    def loss(self, spins: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The training loss: t uniform in 1..n_steps, then :meth:`loss_at` (ε-prediction MSE; at a
        pure-noise level, cosine t = n_steps, the x_0 MSE weighted by SNR_{n−1})."""
        x0 = spins.to(torch.float32)[:, None]
        t = randint(1, self.n_steps + 1, x0.shape[0], generator, x0.device)
        noise = randn(x0.shape, generator, x0.device)
        T = self.drop_condition(T, self.p_uncond, generator)
        return self.loss_at(x0, t, noise, T)

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
                x = self.reverse_step(x, e, t, randn(x.shape, g, dev) if t > 1 else None)
        else:
            ts = ddim_timesteps(steps, self.n_steps)
            for i, t in enumerate(progress_bar(ts, disable=not progress, desc=f"DDIM-{len(ts)}")):
                if record:
                    rec.append((i, *spins_energy_mabs(_sign(x[:, 0]))))
                tprev = ts[i + 1] if i + 1 < len(ts) else 0
                tt = torch.full((n,), t, dtype=torch.long, device=dev)
                out = self.guided_eps(x, tt, Ts, w)
                if self.predicts_x0(t):  # pure noise: x̂_0 from the network, and ε̂ = x_t exactly
                    x = np.sqrt(float(self.abar[tprev])) * out + np.sqrt(1 - float(self.abar[tprev])) * x
                else:
                    x = ddim_step(x, out, float(self.abar[t]), float(self.abar[tprev]))
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
