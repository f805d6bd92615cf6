"""Input checks shared by every module: lattice sides, temperatures, counts.

Each raises ``ValueError`` naming the field and its allowed range, before any long work.
Temperatures are in units of J/k_B; a lattice side L is the number of spins per row of the
periodic L×L lattice.
"""
from __future__ import annotations

import math

import numpy as np


def check_int(name: str, v, lo: int = 1, hi: int | None = None) -> int:
    """``v`` as an int; it must be an integer (not a bool) in [lo, hi] (hi None: no upper bound)."""
    if (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo
            or (hi is not None and v > hi)):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {rng}; got {v!r}")
    return int(v)


def check_L(L, lo: int = 2, hi: int | None = None, divisor: int = 1, why: str = "") -> int:
    """A lattice side: an integer in [lo, hi], divisible by ``divisor`` (``why`` says what needs it)."""
    L = check_int("L", L, lo, hi)
    if L % divisor:
        raise ValueError(f"L must be divisible by {why or divisor}; got L={L}")
    return L


def check_T(T, name: str = "T") -> float:
    """One temperature (J/k_B) as a float: a finite real number > 0."""
    if (isinstance(T, bool) or not isinstance(T, (int, float, np.integer, np.floating))
            or not math.isfinite(T) or T <= 0):
        raise ValueError(f"{name} must be a finite temperature > 0 (J/k_B); got {T!r}")
    return float(T)


def check_temperatures(T, name: str = "T") -> np.ndarray:
    """A scalar or array of temperatures (J/k_B) as float64, every element finite and > 0."""
    try:
        t = np.asarray(T, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be finite temperatures > 0 (J/k_B); got {T!r}") from None
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"{name} must be finite temperatures > 0 (J/k_B); got {T!r}")
    return t


def int_option(minimum: int):
    """An argparse ``type`` for an integer command-line option ≥ ``minimum`` (argparse reports its message)."""
    import argparse

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}; got {text!r}")
        return n
    return parse
