"""Temperature grids: seed 004's training grids and the evenly spaced test grid (T in J/k_B)."""
from __future__ import annotations

import math


def _rounded(values) -> list[float]:
    return sorted({round(float(v), 2) for v in values})


def test_grid(start: float, stop: float, step: float) -> list[float]:
    """Temperatures start, start+step, …, ≤ stop (inclusive up to rounding), rounded to 2 decimals, sorted."""
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number; got {v!r}")
    if start <= 0:
        raise ValueError(f"start must be > 0 (a temperature in J/k_B); got {start!r}")
    if step <= 0:
        raise ValueError(f"step must be > 0; got {step!r}")
    if stop < start:
        raise ValueError(f"stop must be >= start ({start}); got {stop!r}")
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    return _rounded(start + k * step for k in range(n))


#: Seed 004's training grids: DiffIsing1 (coarse) and DiffIsing2 (coarse plus 0.05 steps in [2.0, 2.5]).
TRAIN_GRIDS: dict[str, list[float]] = {
    "coarse": test_grid(1.6, 3.4, 0.2),
}


TRAIN_GRIDS["fine"] = _rounded(TRAIN_GRIDS["coarse"] + test_grid(2.0, 2.5, 0.05))
