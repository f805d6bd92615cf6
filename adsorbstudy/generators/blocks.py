"""The shared U-Net trunk of the adsorption generator and the DDPM baseline (seed 004, §2.3).

Architecture (seed 004, Fig. 1c, scaled by ``base`` and ``depth``):

- ``depth`` resolutions: level ``i`` works at side ``L / 2**i`` with ``base * 2**i`` channels;
  downsampling is a 2×2 average pool, upsampling nearest-neighbour ×2 followed by a skip
  concatenation. The input side must therefore be divisible by ``2**(depth-1)``.
- Every block is the seed's double convolution, conv3×3 → GroupNorm → GELU → conv3×3 →
  GroupNorm, wrapped in a residual connection and a GELU (the residual keeps small, briefly
  trained nets well conditioned; it adds no parameters when the widths match). GroupNorm
  uses up to 8 groups of at least 4 channels.
- Conditioning: a sinusoidal embedding of the step (Vaswani et al., seed 004 Eq. 7), plus the
  temperature embedding of seed 004 (Linear 1→d, ReLU, Linear d→d, ReLU) fed the raw
  temperature T in units of J/k_B (not T/Tc), plus an optional class embedding for images.
  The sum goes through SiLU → Linear to one bias per channel, added to the feature map of
  every block (seed 004: "added to the image in each layer of UNET").
- Padding: ``"circular"`` (periodic boundaries, the Ising torus) or ``"zeros"`` (images).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..physics.lattice import energy, magnetization
from ..study.validate import check_int, check_L, check_temperatures

PADDINGS = ("circular", "zeros")


def _groups(ch: int, max_groups: int = 8) -> int:
    """The largest group count ≤ ``max_groups`` that divides ``ch`` with at least 4 channels per group."""
    return max(g for g in range(1, max(1, min(max_groups, ch // 4)) + 1) if ch % g == 0)


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer positional encoding of integer (or real) steps ``t``: (B,) → (B, dim).

    PE(t, 2i) = sin(t / 10000^(2i/dim)), PE(t, 2i+1) = cos(t / 10000^(2i/dim)) (seed 004 Eq. 7),
    stored as [sin..., cos...] halves, which is the same set of features in another order.
    """
    if dim % 2:
        raise ValueError(f"dim must be even; got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) * 2 / dim)
    ang = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


class TemperatureEmbedding(nn.Module):
    """Seed 004's conditioning MLP: T (B,) → ReLU(W2 ReLU(W1 T)) (B, d). T in J/k_B, fed raw."""

    def __init__(self, d: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU())

    def forward(self, T: torch.Tensor) -> torch.Tensor:
        return self.net(T.to(torch.float32)[:, None])


class DoubleConv(nn.Module):
    """conv → GroupNorm → GELU → conv → GroupNorm, then + embedding bias + residual, GELU.

    The embedding is added after the second GroupNorm: added before a normalization, a
    per-channel constant would be largely removed by it (entirely so with one channel per group).
    """

    def __init__(self, cin: int, cout: int, emb_dim: int, padding: str):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding)
        self.norm1 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, padding_mode=padding)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, cout))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h)) + self.emb(emb)[:, :, None, None]
        return F.gelu(h + self.skip(x))


class UNet(nn.Module):
    """Conditional U-Net: (x (B, in_ch, H, W), step (B,), T (B,), label (B,) or None) → (B, out_ch, H, W).

    ``base``: channels at full resolution; ``depth``: number of resolutions (≥ 1);
    ``emb_dim``: width of the step / temperature / class embeddings; ``n_classes``: 0 for none.
    The last 1×1 convolution starts at zero, so an untrained net outputs exactly 0 (the
    generators then start from their neutral element: x_a = x_b, ε̂ = 0).
    """

    def __init__(self, in_ch: int = 1, out_ch: int = 1, base: int = 16, depth: int = 2,
                 emb_dim: int = 64, padding: str = "circular", n_classes: int = 0,
                 temperature: bool = True):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}; got {padding!r}")
        if not (isinstance(depth, int) and 1 <= depth <= 6):
            raise ValueError(f"depth must be an integer in [1, 6]; got {depth!r}")
        if not (isinstance(base, int) and base >= 1):
            raise ValueError(f"base must be a positive integer; got {base!r}")
        if not (isinstance(emb_dim, int) and emb_dim >= 2 and emb_dim % 2 == 0):
            raise ValueError(f"emb_dim must be an even integer ≥ 2; got {emb_dim!r}")
        self.depth, self.emb_dim = depth, emb_dim
        self.temb = TemperatureEmbedding(emb_dim) if temperature else None
        self.cemb = nn.Embedding(n_classes, emb_dim) if n_classes else None
        widths = [base * 2 ** i for i in range(depth)]
        self.inc = DoubleConv(in_ch, widths[0], emb_dim, padding)
        self.down = nn.ModuleList(DoubleConv(widths[i - 1], widths[i], emb_dim, padding) for i in range(1, depth))
        self.up = nn.ModuleList(DoubleConv(widths[i] + widths[i - 1], widths[i - 1], emb_dim, padding)
                                for i in range(depth - 1, 0, -1))
        self.out = nn.Conv2d(widths[0], out_ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def factor(self) -> int:
        """The input side must be a multiple of this (2**(depth-1))."""
        return 2 ** (self.depth - 1)

    def embed(self, step: torch.Tensor, T: torch.Tensor | None, label: torch.Tensor | None) -> torch.Tensor:
        e = sinusoidal_embedding(step, self.emb_dim)
        if self.temb is not None:
            e = e + self.temb(T)
        if self.cemb is not None:
            if label is None:
                raise ValueError("label is required: this U-Net is class-conditional")
            e = e + self.cemb(label)
        return e

    def forward(self, x: torch.Tensor, step: torch.Tensor, T: torch.Tensor | None = None,
                label: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"input side {tuple(x.shape[-2:])} must be divisible by 2**(depth-1) = {self.factor}")
        emb = self.embed(step, T, label)
        h = self.inc(x, emb)
        skips = [h]
        for blk in self.down:
            h = blk(F.avg_pool2d(h, 2), emb)
            skips.append(h)
        skips.pop()
        for blk in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = blk(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)


def n_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- generator plumbing
class RankSlice:
    """A random stream for one rank of a data-parallel step: draws are made for the whole global batch
    (``world`` × the local batch, from ``generator``, or the global RNG when None) and the rank's rows
    ``[rank·b, (rank+1)·b)`` are kept.

    Every rank thus consumes the same random numbers as a single process drawing for the global
    batch, and the ranks' slices together are exactly that process's draws (``adsorbstudy.generators.distributed``).
    """

    def __init__(self, generator: torch.Generator | None, rank: int, world: int):
        if not (isinstance(world, int) and world >= 1 and isinstance(rank, int) and 0 <= rank < world):
            raise ValueError(f"RankSlice: rank must be in [0, world) and world ≥ 1; got rank={rank!r}, world={world!r}")
        self.generator, self.rank, self.world = generator, rank, world

    def draw(self, fn, shape, **kw) -> torch.Tensor:
        """``fn((world·shape[0], *shape[1:]), generator=..., **kw)``, this rank's rows."""
        shape = tuple(shape)
        b = shape[0]
        full = fn((self.world * b, *shape[1:]), generator=self.generator, **kw)
        return full[self.rank * b:(self.rank + 1) * b]


def _draw(fn, shape, generator, **kw) -> torch.Tensor:
    if isinstance(generator, RankSlice):
        return generator.draw(fn, shape, **kw)
    return fn(shape, generator=generator, **kw)


def rand(shape, generator: torch.Generator | RankSlice | None, device, dtype=torch.float32) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator`` (a CPU generator, a :class:`RankSlice`, or the global RNG
    when None), moved to ``device``.

    Drawing on the CPU keeps every model's randomness identical across devices for a given seed.
    """
    return _draw(torch.rand, shape, generator, dtype=dtype).to(device)


def randn(shape, generator: torch.Generator | RankSlice | None, device, dtype=torch.float32) -> torch.Tensor:
    """Standard normal draws, as :func:`rand`."""
    return _draw(torch.randn, shape, generator, dtype=dtype).to(device)


def randint(low: int, high: int, n: int, generator: torch.Generator | RankSlice | None, device) -> torch.Tensor:
    """n integers uniform in [low, high) (int64, shape (n,)), drawn as :func:`rand`."""
    return _draw(lambda shape, **kw: torch.randint(low, high, shape, **kw), (n,), generator).to(device)


def check_n(n) -> None:
    check_int("n", n)


def check_steps_none(steps, full: int, why: str) -> None:
    if steps is not None and steps != full:
        raise ValueError(f"steps must be None or {full} ({why}); got {steps!r}")


def check_classes(n_classes, p_uncond) -> None:
    """Validate a generator's class conditioning: ``n_classes`` ≥ 0 (0 = temperature), ``p_uncond`` in [0, 1)."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 0:
        raise ValueError(f"n_classes must be an integer ≥ 0 (0 = temperature-conditioned); got {n_classes!r}")
    if isinstance(p_uncond, bool) or not isinstance(p_uncond, (int, float)) or not 0 <= p_uncond < 1:
        raise ValueError(f"p_uncond must be in [0, 1); got {p_uncond!r}")
    if p_uncond and not n_classes:
        raise ValueError("p_uncond > 0 needs n_classes > 0 (the prompt that is dropped)")


def labels_tensor(labels, n: int, n_classes: int, allow_null: bool = False) -> torch.Tensor:
    """A class label per sample as int64 (n,); ``labels`` is one int or n ints in [0, n_classes).

    ``allow_null`` also accepts ``n_classes`` itself: the "null" (unconditional) class of
    classifier-free guidance, which a model trained with its prompt dropped has learned.
    """
    hi = n_classes + 1 if allow_null else n_classes
    a = np.asarray(labels)
    if a.dtype.kind not in "iu" or not np.all((a >= 0) & (a < hi)):
        raise ValueError(f"labels must be integers in [0, {hi - 1}]" + (f" ({n_classes} = the null class)" if allow_null else "")
                         + f"; got {labels!r}")
    t = torch.as_tensor(a.astype(np.int64))
    if t.dim() == 0:
        t = t.expand(n).clone()
    if t.shape != (n,):
        raise ValueError(f"labels must be a scalar or have shape ({n},); got shape {tuple(t.shape)}")
    return t


def temperatures_tensor(T, n: int) -> torch.Tensor:
    """A temperature per sample as a float32 tensor (n,); T is a scalar or n values, each > 0 and finite."""
    t = torch.as_tensor(check_temperatures(T), dtype=torch.float32)
    if t.dim() == 0:
        t = t.expand(n).clone()
    if t.shape != (n,):
        raise ValueError(f"T must be a scalar or have shape ({n},); got shape {tuple(t.shape)}")
    return t


def spins_energy_mabs(spins: torch.Tensor) -> tuple[float, float]:
    """Mean energy per spin (J = 1, each bond once, periodic) and mean |m| of spins (n, L, L) ±1,
    from :func:`adsorbstudy.physics.lattice.energy` and ``magnetization`` (on the tensor's device, float64)."""
    s = spins.to(torch.float64)
    return float(energy(s).mean()), float(magnetization(s).abs().mean())


class GeneratorBase(nn.Module, ABC):
    """Common interface of the generators: ``sample``, ``nfe``/``nfe_for``, ``trajectory``, ``loss``, ``hparams``."""

    kind = "base"

    @property
    def nfe(self) -> int:
        """Network evaluations per sample of the default sampler (``sample`` with ``steps=None``)."""
        return self.nfe_for(None)

    @abstractmethod
    def nfe_for(self, steps: int | None = None) -> int:
        """Network evaluations per sample when sampling with ``steps`` (None: the default sampler)."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- the condition: a temperature (Ising) or a class label (images, ``n_classes`` > 0) ----------
    n_classes = 0
    null_class: int | None = None  # the label of the unconditional class, when the model has one

    def _set_classes(self, n_classes: int, p_uncond: float = 0.0, null: bool = True) -> None:
        """Record the class conditioning (after ``hparams`` is set; a temperature model's hparams stay as they were)."""
        self.n_classes, self.p_uncond = n_classes, float(p_uncond)
        self.null_class = n_classes if (n_classes and null) else None
        if n_classes:
            self.hparams |= {"n_classes": n_classes} | ({"p_uncond": p_uncond} if null else {})

    def _unet_cond(self) -> dict:
        """UNet arguments of the condition: the temperature MLP, or n_classes + 1 label embeddings (the last
        one, label n_classes, is the null prompt)."""
        return {"n_classes": self.n_classes + 1, "temperature": False} if self.n_classes else {}

    def check_guidance(self, guidance) -> float:
        """The classifier-free guidance weight w as a float: finite, ≥ 0, and 0 unless the model has a null class."""
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float, np.integer, np.floating)) \
                or not math.isfinite(guidance) or guidance < 0:
            raise ValueError(f"guidance must be a finite weight w ≥ 0; got {guidance!r}")
        if guidance and self.null_class is None:
            raise ValueError("guidance w > 0 needs a class-conditional model trained with a null prompt (n_classes > 0)")
        return float(guidance)

    def cond_tensor(self, cond, n: int) -> torch.Tensor:
        """The condition of n samples: temperatures float32 (n,) in J/k_B, or with ``n_classes`` > 0
        class labels int64 (n,) (the null class accepted when the model has one)."""
        if self.n_classes:
            return labels_tensor(cond, n, self.n_classes, allow_null=self.null_class is not None)
        return temperatures_tensor(cond, n)

    def net_cond(self, cond: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The (T, label) arguments of :meth:`UNet.forward` for a condition tensor."""
        return (None, cond) if self.n_classes else (cond, None)

    def drop_condition(self, cond: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
        """Classifier-free guidance training: each label becomes the null class with probability ``p``
        (in training mode only; validation and sampling keep the prompt). Temperatures pass unchanged."""
        if not (self.n_classes and p > 0 and self.training):
            return cond
        drop = rand(cond.shape, generator, cond.device) < p
        return torch.where(drop, torch.full_like(cond, self.null_class), cond)

    @staticmethod
    def _check_L(L, depth: int, lo: int = 4) -> None:
        f = 2 ** (depth - 1) if isinstance(depth, int) and depth >= 1 else 1
        check_L(L, lo, divisor=f, why=f"the U-Net's downsampling factor 2**(depth-1) = {f}")

    def n_params(self) -> int:
        return n_params(self)
