"""The conditional Wasserstein GAN of seed 004 (§2.4), with weight clipping, and its "GAN M⊂L" variant.

Generator: 100 Gaussian noise values concatenated with a 100-wide temperature embedding (seed
004's 1→100→100 ReLU MLP, fed the raw T in J/k_B) → transposed convolutions (4×4 kernels; the
first maps 1×1 → 4×4, each next one doubles the side) with BatchNorm and ReLU, tanh output.
At L = 64 and ``ngf`` = 64 this is seed 004's five transposed convolutions. Spins are sign(output).

Critic: the configuration plus one channel holding a linear map of the critic's own temperature
embedding (reshaped to L×L), strided 4×4 convolutions with LeakyReLU(0.2) down to 4×4, then a
4×4 convolution to one score. Weights are clipped to [−c, c] after every critic step (WGAN).

"GAN M⊂L" adds λ_m Σ_T (⟨|m|⟩_gen(T) − ⟨|m|⟩_MC(T))² to the generator loss, over the
temperatures present in the batch: the MSE between the mean magnetization of generated and MC
frames at each temperature (|m| per frame, because independent frames have random sign below Tc).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn import (GeneratorBase, TemperatureEmbedding, check_n, randn, spins_energy_mabs, temperatures_tensor)

NOISE = 100
TEMB = 100


def _n_up(L) -> int:
    if isinstance(L, bool) or not isinstance(L, int) or L < 8:
        raise ValueError(f"L must be an integer ≥ 8 of the form 4·2^m for the GAN; got {L!r}")
    m = math.log2(L / 4)
    if m != int(m):
        raise ValueError(f"L must be 4·2^m (8, 16, 32, 64, ...) for the GAN's transposed convolutions; got L={L}")
    return int(m)


class Generator(nn.Module):
    def __init__(self, L: int, ngf: int):
        super().__init__()
        n = _n_up(L)
        self.temb = TemperatureEmbedding(TEMB)
        chans = [ngf * 2 ** (n - 1 - i) for i in range(n)]
        layers: list[nn.Module] = [nn.ConvTranspose2d(NOISE + TEMB, chans[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(chans[0]), nn.ReLU()]
        for i in range(1, n):
            layers += [nn.ConvTranspose2d(chans[i - 1], chans[i], 4, 2, 1, bias=False), nn.BatchNorm2d(chans[i]), nn.ReLU()]
        layers += [nn.ConvTranspose2d(chans[-1], 1, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.temb(T)], dim=1)[:, :, None, None]
        return self.net(h)


class Critic(nn.Module):
    def __init__(self, L: int, ndf: int):
        super().__init__()
        n = _n_up(L)
        self.L = L
        self.temb = TemperatureEmbedding(TEMB)
        self.tmap = nn.Linear(TEMB, L * L)
        layers: list[nn.Module] = []
        cin = 2
        for i in range(n):
            cout = ndf * 2 ** i
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
            cin = cout
        layers += [nn.Conv2d(cin, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        t = self.tmap(self.temb(T)).view(-1, 1, self.L, self.L)
        return self.net(torch.cat([x, t], dim=1)).view(-1)


class WGAN(GeneratorBase):
    """Conditional WGAN with weight clipping (seed 004); ``lambda_m`` > 0 gives "GAN M⊂L".

    Hyperparameters: ``L`` (4·2^m), ``ngf``, ``ndf`` base widths, ``n_critic`` critic steps per
    generator step, ``clip`` weight-clipping bound, ``lambda_m`` magnetization-loss weight.
    """

    kind = "gan"

    def __init__(self, L: int, ngf: int = 32, ndf: int = 32, n_critic: int = 5, clip: float = 0.01,
                 lambda_m: float = 0.0):
        super().__init__()
        _n_up(L)
        if not (isinstance(n_critic, int) and n_critic >= 1):
            raise ValueError(f"n_critic must be an integer ≥ 1; got {n_critic!r}")
        if not clip > 0:
            raise ValueError(f"clip must be > 0; got {clip!r}")
        if not lambda_m >= 0:
            raise ValueError(f"lambda_m must be ≥ 0; got {lambda_m!r}")
        self.L, self.n_critic, self.clip, self.lambda_m = L, n_critic, float(clip), float(lambda_m)
        self.kind = "gan-m" if lambda_m > 0 else "gan"
        self.hparams = dict(L=L, ngf=ngf, ndf=ndf, n_critic=n_critic, clip=clip, lambda_m=lambda_m)
        self.G = Generator(L, ngf)
        self.D = Critic(L, ndf)
        self.last_sample_stats: dict[str, Any] = {}

    def n_params(self) -> int:
        """Parameters of the generator (the network that samples); the critic is reported separately."""
        return sum(p.numel() for p in self.G.parameters())

    # -- training (used by adsorbstudy.train) --------------------------------------
    def make_optimizers(self, lr: float, weight_decay: float) -> dict[str, torch.optim.Optimizer]:
        """AdamW for both nets with β = (0.5, 0.9) and no weight decay (the clip already bounds the critic)."""
        return {"G": torch.optim.AdamW(self.G.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=0.0),
                "D": torch.optim.AdamW(self.D.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=0.0)}

    def _fake(self, T: torch.Tensor, generator=None) -> torch.Tensor:
        z = randn((T.shape[0], NOISE), generator, T.device)
        return self.G(z, T)

    def train_step(self, draw, opts: dict, grad_clip: float | None = None) -> float:
        """n_critic critic steps (each on a fresh real batch from ``draw()``), weight clipping, one generator step.

        Returns the generator loss (−critic score, plus the magnetization term for M⊂L)."""
        for _ in range(self.n_critic):
            x, T = draw()
            x = x.to(torch.float32)[:, None]
            with torch.no_grad():
                fake = self._fake(T)
            loss_d = self.D(fake, T).mean() - self.D(x, T).mean()
            opts["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            opts["D"].step()
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.clip, self.clip)
        fake = self._fake(T)
        loss_g = -self.D(fake, T).mean()
        if self.lambda_m > 0:
            loss_g = loss_g + self.lambda_m * self.magnetization_mse(fake[:, 0], x[:, 0], T)
        opts["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["G"].step()
        return float(loss_g.detach())

    @staticmethod
    def magnetization_mse(fake: torch.Tensor, real: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """Σ over temperatures in the batch of (⟨|m|⟩_fake − ⟨|m|⟩_real)², |m| per frame, fake as tanh values."""
        mf = fake.mean(dim=(-1, -2)).abs()
        mr = real.mean(dim=(-1, -2)).abs()
        total = fake.new_zeros(())
        for t in torch.unique(T):
            sel = T == t
            total = total + (mf[sel].mean() - mr[sel].mean()) ** 2
        return total

    @torch.no_grad()
    def val_loss(self, x: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> float:
        """Model-selection score (lower is better): mean over validation temperatures of
        |⟨e⟩_gen − ⟨e⟩_MC| + |⟨|m|⟩_gen − ⟨|m|⟩_MC| on held-out MC frames at the training temperatures.

        A GAN has no likelihood; this moment distance replaces seed 004's minimum-loss selection."""
        was = self.training
        self.eval()
        fake = torch.where(self.G(randn((T.shape[0], NOISE), generator, T.device), T)[:, 0] >= 0, 1.0, -1.0)
        self.train(was)
        score = []
        for t in torch.unique(T):
            sel = T == t
            ef, mf = spins_energy_mabs(fake[sel])
            er, mr = spins_energy_mabs(x[sel].to(torch.float32))
            score.append(abs(ef - er) + abs(mf - mr))
        return float(np.mean(score))

    # -- sampling ------------------------------------------------------------------
    def nfe(self, steps: int | None = None) -> int:
        return 1

    @torch.no_grad()
    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1 = sign(G(z, T)), generator in eval mode (BatchNorm running
        statistics); ``steps`` is ignored (one network evaluation)."""
        check_n(n)
        Ts = temperatures_tensor(T, n).to(self.device)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        was = self.training
        self.eval()
        out = []
        for i in range(0, n, 1024):
            z = randn((min(1024, n - i), NOISE), g, self.device)
            out.append(self.G(z, Ts[i:i + 1024])[:, 0])
        self.train(was)
        self.last_sample_stats = {"nfe": 1}
        return torch.where(torch.cat(out) >= 0, 1, -1).to(torch.int8).cpu()

    def trajectory(self, n: int, T, seed: int | None = 0, steps: int | None = None) -> dict[str, np.ndarray]:
        """The GAN has one generative step: step 1 holds the energy per spin and |m| of its samples."""
        s = self.sample(n, T, seed)
        e, m = spins_energy_mabs(s)
        return {"step": np.array([1]), "e": np.array([e]), "m_abs": np.array([m])}
