"""The training configuration of ``adsorbstudy.generators.train.fit``: its fields, their checks, and the
key a checkpoint stores to know which configuration wrote it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


def _real(x) -> bool:
    """A real number (not a bool), so the range checks below never compare None or a string."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _increasing_steps(steps, last) -> bool:
    """A tuple of integer steps, strictly increasing, each in [1, ``last``] (``last`` is checked apart)."""
    if not isinstance(steps, tuple) or not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
        return False
    ok_last = not isinstance(last, int) or all(1 <= s <= last for s in steps)
    return ok_last and all(a < b for a, b in zip(steps, steps[1:]))


#: Speed options that only CUDA has (see ``adsorbstudy.generators.train``).
CUDA_OPTIONS = ("bf16", "compile")


@dataclass
class TrainConfig:
    """Training parameters. ``steps``: optimizer (generator) steps; ``batch``: frames per step; ``lr``,
    ``weight_decay``: AdamW; ``lr_schedule``: "constant" or "cosine" (decay to 10 % of ``lr``);
    ``grad_clip``: max gradient norm (0 = off; not used by the GAN, whose critic is weight-clipped);
    ``ema``: EMA decay of the weights (0 = off; when on, validation, the best model and sampling use
    the EMA weights); ``val_fraction`` of each temperature's frames held out (at most ``val_max`` per T);
    ``val_every``, ``ckpt_every``: in steps; ``snapshot_every``: keep the (EMA) weights every this many
    steps as ``snap-<step>.pt`` beside the checkpoints, for training-budget curves (0 = off; snapshots
    are never used for selection); ``snapshot_steps``: further steps at which to keep them, strictly
    increasing within [1, ``steps``] (log-spaced budget curves; left out of the checkpoint's config key
    when empty); ``seed``; ``max_seconds``: optional wall-clock budget
    (0 = none; it stops at the next validation point, so the number of steps then depends on the
    machine — the step budget is the deterministic one); ``bf16``: bf16 autocast of the loss
    (CUDA only); ``compile``: ``torch.compile`` of the loss (CUDA only). The last two are left out of
    the checkpoint's config key when off, so checkpoints written before they existed still resume.
    """

    steps: int = 1000
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    grad_clip: float = 1.0
    ema: float = 0.0
    val_fraction: float = 0.1
    val_max: int = 200
    val_every: int = 100
    ckpt_every: int = 100
    snapshot_every: int = 0
    snapshot_steps: tuple = ()
    seed: int = 0
    max_seconds: float = 0.0
    bf16: bool = False
    compile: bool = False

    def __post_init__(self):
        if isinstance(self.snapshot_steps, list):  # as a profile or JSON gives it
            self.snapshot_steps = tuple(self.snapshot_steps)
        checks = [
            ("steps", isinstance(self.steps, int) and self.steps >= 1, "an integer ≥ 1"),
            ("batch", isinstance(self.batch, int) and self.batch >= 1, "an integer ≥ 1"),
            ("lr", _real(self.lr) and 0 < self.lr < 1, "a float in (0, 1)"),
            ("weight_decay", _real(self.weight_decay) and self.weight_decay >= 0, "≥ 0"),
            ("lr_schedule", self.lr_schedule in ("constant", "cosine"), "one of {constant, cosine}"),
            ("grad_clip", _real(self.grad_clip) and self.grad_clip >= 0, "≥ 0"),
            ("ema", _real(self.ema) and 0 <= self.ema < 1, "in [0, 1)"),
            ("val_fraction", _real(self.val_fraction) and 0 < self.val_fraction < 1, "in (0, 1)"),
            ("val_max", isinstance(self.val_max, int) and self.val_max >= 1, "an integer ≥ 1"),
            ("val_every", isinstance(self.val_every, int) and self.val_every >= 1, "an integer ≥ 1"),
            ("ckpt_every", isinstance(self.ckpt_every, int) and self.ckpt_every >= 1, "an integer ≥ 1"),
            ("snapshot_every", isinstance(self.snapshot_every, int) and self.snapshot_every >= 0, "an integer ≥ 0"),
            ("snapshot_steps", _increasing_steps(self.snapshot_steps, self.steps),
             f"a strictly increasing list of integers in [1, steps = {self.steps}]"),
            ("seed", isinstance(self.seed, int) and self.seed >= 0, "an integer ≥ 0"),
            ("max_seconds", _real(self.max_seconds) and self.max_seconds >= 0, "≥ 0"),
            ("bf16", isinstance(self.bf16, bool), "true or false"),
            ("compile", isinstance(self.compile, bool), "true or false"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"train config {name} must be {what}; got {getattr(self, name)!r}")

    def snapshot_schedule(self) -> list[int]:
        """The optimizer steps at which ``fit`` keeps snapshots: every ``snapshot_every`` and ``snapshot_steps``."""
        every = set(range(self.snapshot_every, self.steps + 1, self.snapshot_every)) if self.snapshot_every else set()
        return sorted(every | set(self.snapshot_steps))

    @classmethod
    def from_dict(cls, d: dict | "TrainConfig") -> "TrainConfig":
        if isinstance(d, TrainConfig):
            return d
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"train config: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(known))}")
        return cls(**d)


def config_key(cfg: TrainConfig) -> dict:
    """The fields a checkpoint must match to resume: all but ``max_seconds``, and the optional ones only when set
    (so checkpoints written before an option existed still resume)."""
    d = asdict(cfg)
    d.pop("max_seconds")
    if not d["snapshot_steps"]:
        d.pop("snapshot_steps")
    else:
        d["snapshot_steps"] = list(d["snapshot_steps"])  # as the checkpoint's JSON-like dict stores it
    for opt in CUDA_OPTIONS:
        if not d[opt]:
            d.pop(opt)
    return d
