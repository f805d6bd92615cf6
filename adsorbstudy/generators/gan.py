"""The conditional Wasserstein GAN of seed 004 (§2.4), with weight clipping, and its "GAN M⊂L" variant.

Generator: 100 Gaussian noise values concatenated with a 100-wide temperature embedding (seed
004's 1→100→100 ReLU MLP, fed the raw T in J/k_B) → transposed convolutions (4×4 kernels; the
first maps 1×1 → 4×4, each next one doubles the side) with BatchNorm and ReLU, tanh output.
At L = 64 and ``ngf`` = 64 this is seed 004's five transposed convolutions. Spins are sign(output).

Critic: strided 4×4 convolutions with LeakyReLU(0.2) and circular padding down to 4×4 (features
φ(x)), then ``heads`` 4×4 convolutions to one score each, mixed by fixed piecewise-linear "hat"
weights of T: D(x, T) = Σ_k w_k(T) head_k(φ(x)), the heads centred on ``heads`` temperatures evenly
spaced over [t_min, t_max] (w = linear interpolation between the two nearest centres, the end
heads outside the range). Every critic weight is clipped to [−c, c] after each critic step
(WGAN); a convex mix of clipped heads keeps the critic Lipschitz in x.

Why this design departs from seed 004's critic (a diagnosis on small Metropolis ensembles at one
low and one high temperature; ``tests/test_gan.py`` trains on such a set-up, and the training and
fidelity chapters show what each profile's GANs learn):

- **Temperature enters the critic as a projection on hat weights, not through a clipped MLP.**
  With the MLP embedding inside the critic, clipping scales the temperature signal by a factor of
  order c³ (three clipped layers), so the clipped critic learned little or no T-dependence and the
  WGAN gave both temperatures one mixture of ordered and disordered frames. Left unclipped, the
  embedding (as an input channel or a per-layer bias) can push the LeakyReLU units into their
  linear range at one T, where the critic turns blind to order and stays so; a learned softmax
  gate over critic heads separated the temperatures in only some seeds. Fixed hat weights give
  each temperature its own heads at once, as two separate critics would, with no unclipped
  parameter.
- **The critic sees ±1 spins (straight-through sign).** Fed tanh values, even a perfectly
  conditioned critic (one critic per temperature) learned to reward large |values|, which at
  high T pays the generator for ordering. The generator output is sign(tanh(·)) in the forward
  pass, tanh's gradient in the backward pass, so training compares exactly the spins that
  sampling returns; the M⊂L loss uses the same spins.
- **Circular padding** in the critic: the lattice is a torus (zero padding marks the edges).
- Kept from the original WGAN: weight clipping, ``n_critic`` critic steps per generator step.
  AdamW with β = (0.5, 0.9) is kept: Arjovsky et al.'s RMSprop learned slower and less reliably
  within the study's budgets. The clip ``clip`` and ``lambda_m`` are profile parameters
  (``params/*.yaml``).
- **Widths and critic steps** (``ngf``, ``ndf``, ``n_critic``) are profile parameters too; the
  small profiles use narrower networks and fewer critic steps than seed 004, the set-up that
  learned temperature-dependent order most often on small lattices. The weight-clipped WGAN stays
  seed-sensitive there: a failed seed gives every temperature the same frames, which the results
  page names through each model's temperature response of ⟨e⟩.

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

from ..study.validate import check_L
from .blocks import check_classes, check_n, GeneratorBase, randn, spins_energy_mabs, TemperatureEmbedding

#: Version of the code that determines this family's checkpoints (part of their cache key; see
#: adsorbstudy.study.codeversion). Bump it with any change that alters the trained numbers.
VERSION = 3

NOISE = 100
TEMB = 100


def _n_up(L) -> int:
    m = math.log2(check_L(L, 8) / 4)
    if m != int(m):
        raise ValueError(f"L must be 4·2^m (8, 16, 32, 64, ...) for the GAN's transposed convolutions; got L={L}")
    return int(m)


class Generator(nn.Module):
    def __init__(self, L: int, ngf: int, n_classes: int = 0):
        super().__init__()
        n = _n_up(L)
        # the condition's 100-wide embedding: seed 004's temperature MLP, or a class lookup for images
        self.temb = nn.Embedding(n_classes, TEMB) if n_classes else TemperatureEmbedding(TEMB)
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
    """Conv trunk (circular padding, LeakyReLU) and temperature-mixed 4×4 heads; see the module docstring."""

    def __init__(self, L: int, ndf: int, heads: int = 4, t_min: float = 1.0, t_max: float = 4.0,
                 padding: str = "circular", n_classes: int = 0):
        super().__init__()
        n = _n_up(L)
        self.n_classes = n_classes
        layers: list[nn.Module] = []
        cin = 1
        for i in range(n):
            cout = ndf * 2 ** i
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, padding_mode=padding), nn.LeakyReLU(0.2)]
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleList([nn.Conv2d(cin, 1, 4, 1, 0) for _ in range(heads)])
        self.register_buffer("centres", torch.linspace(t_min, t_max, heads), persistent=False)

    def weights(self, T: torch.Tensor) -> torch.Tensor:
        """Hat weights (B, heads) of the temperatures: linear interpolation between neighbouring centres;
        for a class-conditional critic the one-hot label (one head per class, a projection critic)."""
        if self.n_classes:
            return nn.functional.one_hot(T, self.n_classes).to(torch.float32)
        c = self.centres
        if c.numel() == 1:
            return torch.ones(T.shape[0], 1, device=T.device)
        t = T.to(torch.float32)[:, None].clamp(float(c[0]), float(c[-1]))
        return (1 - (t - c).abs() / (c[1] - c[0])).clamp_min(0)

    def forward(self, x: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        d = torch.cat([head(h).view(-1, 1) for head in self.heads], dim=1)
        return (self.weights(T) * d).sum(dim=1)


class WGAN(GeneratorBase):
    """Conditional WGAN with weight clipping (seed 004); ``lambda_m`` > 0 gives "GAN M⊂L".

    Hyperparameters: ``L`` (4·2^m), ``ngf``, ``ndf`` base widths, ``n_critic`` critic steps per
    generator step, ``clip`` weight-clipping bound, ``lambda_m`` magnetization-loss weight,
    ``heads`` critic heads centred on temperatures evenly spaced over [``t_min``, ``t_max``] (J/k_B;
    the study sets them to its training range, so no head is centred where there is no training data).

    Images (DESIGN §6): ``n_classes`` > 0 conditions on a class label (the argument ``T`` then holds int
    labels): the generator concatenates a 100-wide label embedding to the noise (seed 004's layout with
    a lookup in place of the temperature MLP), the critic has one head per class, and ``padding``
    "zeros" gives the critic the image boundary. No null prompt: the GAN is not guided.
    """

    kind = "gan"

    def __init__(self, L: int, ngf: int = 32, ndf: int = 32, n_critic: int = 5, clip: float = 0.01,
                 lambda_m: float = 0.0, heads: int = 4, t_min: float = 1.0, t_max: float = 4.0,
                 padding: str = "circular", n_classes: int = 0):
        super().__init__()
        _n_up(L)
        check_classes(n_classes, 0.0)
        if padding not in ("circular", "zeros"):
            raise ValueError(f"padding must be one of ('circular', 'zeros'); got {padding!r}")
        if n_classes and lambda_m:
            raise ValueError("lambda_m must be 0 for a class-conditional GAN (the magnetization loss is for Ising)")
        if not (isinstance(n_critic, int) and n_critic >= 1):
            raise ValueError(f"n_critic must be an integer ≥ 1; got {n_critic!r}")
        if not clip > 0:
            raise ValueError(f"clip must be > 0; got {clip!r}")
        if not lambda_m >= 0:
            raise ValueError(f"lambda_m must be ≥ 0; got {lambda_m!r}")
        if not (isinstance(heads, int) and not isinstance(heads, bool) and heads >= 1):
            raise ValueError(f"heads must be an integer ≥ 1; got {heads!r}")
        if not (0 < t_min < t_max if heads > 1 else 0 < t_min <= t_max):
            raise ValueError(f"need 0 < t_min < t_max; got t_min={t_min!r}, t_max={t_max!r}")
        self.L, self.n_critic, self.clip, self.lambda_m = L, n_critic, float(clip), float(lambda_m)
        self.kind = "gan-m" if lambda_m > 0 else "gan"
        self.hparams = dict(L=L, ngf=ngf, ndf=ndf, n_critic=n_critic, clip=clip, lambda_m=lambda_m,
                            heads=heads, t_min=t_min, t_max=t_max)
        self._set_classes(n_classes, null=False)
        if n_classes:
            heads = n_classes
            self.hparams |= {"padding": padding, "heads": heads}
        self.G = Generator(L, ngf, n_classes)
        self.D = Critic(L, ndf, heads, t_min, t_max, padding, n_classes)
        self.last_sample_stats: dict[str, Any] = {}

    def n_params(self) -> int:
        """Parameters of the generator (the network that samples); the critic is reported separately."""
        return sum(p.numel() for p in self.G.parameters())

    # -- training (used by adsorbstudy.generators.train) --------------------------------------
    def make_optimizers(self, lr: float, weight_decay: float) -> dict[str, torch.optim.Optimizer]:
        """AdamW for both nets with β = (0.5, 0.9) and no weight decay (the clip already bounds the critic)."""
        return {"G": torch.optim.AdamW(self.G.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=0.0),
                "D": torch.optim.AdamW(self.D.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=0.0)}

    def _fake(self, T: torch.Tensor, generator=None) -> torch.Tensor:
        """Generated spins ±1 (sign of the tanh output) with tanh's gradient (straight-through)."""
        z = randn((T.shape[0], NOISE), generator, T.device)
        y = self.G(z, T)
        return y + (torch.where(y >= 0, 1.0, -1.0) - y).detach()

    def train_step(self, draw, opts: dict) -> float:
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
        """Σ over temperatures in the batch of (⟨|m|⟩_fake − ⟨|m|⟩_real)², |m| per frame (fake: the
        straight-through spins of ``_fake`` in training; any real values work)."""
        mf = fake.mean(dim=(-1, -2)).abs()
        mr = real.mean(dim=(-1, -2)).abs()
        total = fake.new_zeros(())
        for t in torch.unique(T):
            sel = T == t
            total = total + (mf[sel].mean() - mr[sel].mean()) ** 2
        return total

    #: Model selection takes the last checkpoint (read by ``train.fit``): the validation score below is the
    #: critic's Wasserstein estimate, and every checkpoint has its own critic, so the scores of two
    #: checkpoints are not on one scale (DESIGN §4). The score is still recorded, as a training curve.
    selects_last_checkpoint = True

    @torch.no_grad()
    def val_loss(self, x: torch.Tensor, T: torch.Tensor, generator: torch.Generator | None = None) -> float:
        """Validation curve: the critic's Wasserstein estimate on held-out frames, mean over validation
        temperatures of E[D(x_MC, T)] − E[D(G(z), T)].

        This is the quantity the WGAN minimises, measured on frames it never trained on. It is not a
        selection score (:attr:`selects_last_checkpoint`): the critic that measures it changes from one
        checkpoint to the next. ``x`` (B, L, L) ±1 held-out MC frames at
        temperatures ``T`` (B,) (class-conditional: images and int labels, the mean over classes);
        ``generator`` fixes the noise, so successive calls differ only through the weights."""
        was = self.training
        self.eval()
        fake = torch.where(self.G(randn((T.shape[0], NOISE), generator, T.device), T) >= 0, 1.0, -1.0)
        d_fake = self.D(fake, T)
        d_real = self.D(x.to(torch.float32)[:, None], T)
        self.train(was)
        score = [float(d_real[T == t].mean() - d_fake[T == t].mean()) for t in torch.unique(T)]
        return float(np.mean(score))

    # -- sampling ------------------------------------------------------------------
    def nfe_for(self, steps: int | None = None) -> int:
        return 1

    @torch.no_grad()
    def sample(self, n: int, T, seed: int | None = None, steps: int | None = None, progress: bool = False,
               guidance: float = 0.0) -> torch.Tensor:
        """n configurations (n, L, L) int8 ±1 = sign(G(z, T)), generator in eval mode (BatchNorm running
        statistics); ``steps`` is ignored (one network evaluation); ``guidance`` must be 0 (no null prompt)."""
        check_n(n)
        self.check_guidance(guidance)
        Ts = self.cond_tensor(T, n).to(self.device)
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
