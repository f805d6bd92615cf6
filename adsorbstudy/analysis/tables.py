"""The results tables: the summary CSV (one row per model and temperature), CSV input and output,
temperature regions (seen / unseen / outside the training range) and sample files.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..study.store import atomic_write_text


SUMMARY_COLUMNS = ["model", "T", "n", "e", "e_err", "m_abs", "m_abs_err", "C", "C_err", "chi", "chi_err",
                   "w1_e", "w1_m", "nfe", "seconds_per_1000", "exact_e", "exact_c", "w1_e_err", "w1_m_err",
                   "U4", "U4_err", "region"]


#: The parts of the test grid a result is split into: ``seen`` (a training temperature), ``unseen``
#: (inside the training range, between training temperatures: interpolation) and ``outside``
#: (extrapolation); ``inside`` is seen and unseen together.
REGIONS = ("inside", "seen", "unseen", "outside")


CLAIM_REGIONS_TABLE = ("seen", "unseen", "outside")


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(x))


def region_of(T: float, train_T: Sequence[float]) -> str:
    """``seen``, ``unseen`` or ``outside`` for a test temperature T (J/k_B) and the training temperatures.

    Temperatures within 1e-6 of a training temperature are seen; within 1e-9 of the range's ends, inside."""
    if not len(train_T):
        raise ValueError("train_T: need at least one training temperature")
    if any(abs(T - t) <= 1e-6 for t in train_T):
        return "seen"
    return "unseen" if min(train_T) - 1e-9 <= T <= max(train_T) + 1e-9 else "outside"


def write_summary_csv(path: Path | str, rows: Iterable[Mapping[str, object]],
                      columns: Sequence[str] = SUMMARY_COLUMNS) -> Path:
    """Write the summary table (or another table with ``columns``) atomically; missing values are written empty."""
    return write_csv(path, rows, columns)


def write_csv(path: Path | str, rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> Path:
    """Write rows with exactly ``columns`` atomically; missing values (None, nan) are written empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="raise", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


def read_csv(path: Path | str, text_columns: Sequence[str]) -> list[dict]:
    """Rows of a results table: ``text_columns`` kept as strings, every other cell a float (empty → nan)."""
    with open(path, newline="") as f:
        return [{k: (v if k in text_columns else (float(v) if v != "" else math.nan)) for k, v in r.items()}
                for r in csv.DictReader(f)]


def read_summary_csv(path: Path | str) -> list[dict]:
    """Rows of ``summary.csv`` with numbers parsed (empty cells → nan)."""
    return read_csv(path, ("model", "region"))


def temperature_key(T: float) -> str:
    """The key of one temperature in ``samples/<model>.npz``: ``T=2.30``."""
    return f"T={T:.2f}"


def load_samples(path: Path | str) -> dict[float, np.ndarray]:
    """``samples/<model>.npz`` as {T: int8 (n, L, L)}."""
    with np.load(path, allow_pickle=False) as z:
        return {float(k.split("=", 1)[1]): z[k] for k in z.files if k.startswith("T=")}


def summary_rows(model: str, ensembles: Mapping[float, np.ndarray], reference: Mapping[float, np.ndarray],
                 L: int, *, n_boot: int = 200, seed: int = 0, nfe: float | None = None,
                 seconds_per_1000: float | None = None, stats_cache: dict | None = None,
                 train_T: Sequence[float] | None = None) -> list[dict]:
    """One ``summary.csv`` row per temperature of ``ensembles``: bootstrap statistics, W1 distances of
    the e (J per spin) and |m| distributions to the ``reference`` ensemble at the same T with bootstrap
    errors that resample both ensembles (``w1_e_err``, ``w1_m_err``; ``n_boot`` resamples from
    ``seed``), the Binder cumulant ``U4`` of the signed m with its bootstrap error, the exact
    finite-size e and c at this L, and the ``region`` of T (:func:`region_of`) when the training
    temperatures ``train_T`` are given. ``stats_cache`` (T → stats) skips recomputing known statistics.
    """
    from ..physics import exact, observables

    rows = []
    for T in sorted(ensembles):
        configs = np.asarray(ensembles[T])
        if configs.ndim != 3 or configs.shape[1:] != (L, L):
            raise ValueError(f"ensembles[{T}]: expected shape (n, {L}, {L}); got {configs.shape}")
        st = (stats_cache or {}).get(T) or observables.thermo_stats(configs, T, n_boot=n_boot, seed=seed)
        ref = reference.get(T)
        w = (observables.w1_e_m_bootstrap(configs, ref, n_boot=n_boot, seed=seed) if ref is not None
             else dict.fromkeys(("w1_e", "w1_e_err", "w1_m", "w1_m_err"), math.nan))
        e_x, c_x = exact.finite_size(L, np.array([T]))
        rows.append({"model": model, "T": float(T), "n": int(configs.shape[0]),
                     **{k: float(st[k]) for k in ("e", "e_err", "m_abs", "m_abs_err", "C", "C_err",
                                                  "chi", "chi_err", "U4", "U4_err")},
                     "region": region_of(float(T), train_T) if train_T is not None else None,
                     **{k: float(w[k]) for k in ("w1_e", "w1_e_err", "w1_m", "w1_m_err")},
                     "nfe": nfe, "seconds_per_1000": seconds_per_1000,
                     "exact_e": float(np.ravel(e_x)[0]), "exact_c": float(np.ravel(c_x)[0])})
    return rows
