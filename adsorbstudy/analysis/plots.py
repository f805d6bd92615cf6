"""Figures shared by the chapters: thermodynamics against temperature beside the exact references.

Conventions: temperature in units of J/k_B; energy and magnetization per spin;
C per spin in units of k_B; χ per spin in units of 1/J. Monte Carlo is drawn with
error bars, models with error bands, the exact finite-size curve at the data's L
as a solid black line, Onsager's infinite lattice as a dashed grey line, and the
training range as a grey band. Spin configurations are drawn by :func:`spin_image`:
black σ = −1, white σ = +1 (:data:`SPIN_LEGEND`), in every chapter.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

QUANTITIES = (
    ("e", "energy per spin $e$ [J]"),
    ("m_abs", r"$\langle|m|\rangle$ per spin"),
    ("C", r"specific heat $C$ per spin [$k_B$]"),
    ("chi", r"susceptibility $\chi$ per spin [1/J]"),
)


MODEL_COLORS = {"MC": "k", "adsorption": "C0", "adsorption-nolateral": "C1", "ddpm": "C2", "gan": "C3",
                "gan-m": "C4", "adsorption-fine": "C5", "ddpm-fine": "C6", "adsorption-checkerboard": "C8",
                "ddpm-matched": "C9"}


#: The colour map of every spin snapshot: σ = −1 → black, σ = +1 → white (with vmin=−1, vmax=+1).
SPIN_CMAP = "gray"
#: The convention in words, for a caption or title (the snapshots carry no colour bar).
SPIN_LEGEND = "black = spin −1 (empty site), white = spin +1 (occupied site)"


def spin_image(ax, config, *, title: str | None = None, fontsize: float = 8):
    """Draw one Ising configuration on ``ax`` in the book's convention: black σ = −1, white σ = +1.

    ``config``: a 2-D array of spins σ ∈ {−1, +1} (values in [−1, 1] are shown in grey
    between; lattice-gas occupancies s ∈ {0, 1} must be converted first, σ = 2s − 1, so
    an occupied site is white). Pixels are drawn with ``vmin=-1, vmax=1`` and no
    interpolation, so the colour of a spin never depends on the rest of the picture; the
    axis ticks are removed. No colour bar is drawn: put :data:`SPIN_LEGEND` (or the same
    words) in the figure's caption or title. Returns the ``AxesImage``.
    """
    a = np.asarray(config)
    if a.ndim != 2:
        raise ValueError(f"config must be a 2-D array of spins; got shape {a.shape}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)) or a.min(initial=0.0) < -1.0 or a.max(initial=0.0) > 1.0:
        raise ValueError("config must hold spins in [-1, 1] (convert occupancies s with 2*s - 1)")
    im = ax.imshow(a, cmap=SPIN_CMAP, vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize, loc="left")
    return im


def color_of(name: str) -> str:
    """One colour per model in every figure: its own entry, else the longest known prefix (seed runs)."""
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    base = max((k for k in MODEL_COLORS if name.startswith(k)), key=len, default=None)
    return MODEL_COLORS[base] if base else f"C{7 + sum(map(ord, name)) % 3}"


def shade_training(ax, train_range: tuple[float, float] | None, label: bool = True) -> None:
    """Grey band over the training temperatures."""
    if train_range is None:
        return
    ax.axvspan(*train_range, color="0.88", zorder=0, label="training range" if label else None)


def stats_table(stats: Sequence[Mapping[str, float]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, value, error) arrays of one quantity from a list of per-temperature statistics dicts."""
    rows = sorted(stats, key=lambda s: s["T"])
    T = np.array([s["T"] for s in rows], float)
    v = np.array([s[key] for s in rows], float)
    err = np.array([s.get(f"{key}_err", np.nan) for s in rows], float)
    return T, v, err


def thermo_panels(curves: Mapping[str, Sequence[Mapping[str, float]]], L: int, *,
                  reference: str = "MC", train_range: tuple[float, float] | None = None,
                  T_range: tuple[float, float] | None = None, title: str | None = None,
                  quantities=QUANTITIES, log_keys: Sequence[str] = ("C", "chi")):
    """e, |m|, C and χ against T: the ``reference`` ensemble with error bars, each model with a band,
    and the exact finite-size (e, C at this L) and Onsager (e, |m|, C) curves.

    ``curves`` maps a label to a list of per-temperature dicts with keys ``T``, ``e``, ``e_err``,
    ``m_abs``, ``m_abs_err``, ``C``, ``C_err``, ``chi``, ``chi_err`` (as from ``metrics.thermo_stats``).
    ``quantities``: (key, y label) pairs, one panel each. ``log_keys``: panels drawn on a log y axis, so
    that a model that misses by a factor of ten (C and χ of a GAN) does not flatten the curves of the
    models that are close to the reference.
    """
    from ..physics import exact

    temps = np.concatenate([stats_table(c, "e")[0] for c in curves.values()]) if curves else np.array([1.0, 4.0])
    lo, hi = T_range or (float(temps.min()), float(temps.max()))
    Tf = np.linspace(max(lo, 0.5), hi, 400)
    e_fs, c_fs = exact.finite_size(L, Tf)
    refs = {
        "e": [(Tf, e_fs, f"exact torus L={L}"), (Tf, exact.onsager_energy(Tf), "Onsager L=∞")],
        "m_abs": [(Tf, exact.onsager_magnetization(Tf), "Onsager L=∞")],
        "C": [(Tf, c_fs, f"exact torus L={L}"), (Tf, np.minimum(exact.onsager_specific_heat(Tf), 4.0),
                                                  "Onsager L=∞")],
        "chi": [],
    }
    ncol = min(len(quantities), 2)
    nrow = (len(quantities) + 1) // 2
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.5 * ncol, 3.75 * nrow + 0.6), squeeze=False)
    for ax, (key, ylabel) in zip(axes.flat, quantities):
        shade_training(ax, train_range)
        for (Tx, y, label) in refs.get(key, []):
            ax.plot(Tx, y, "-" if "torus" in label else "--", color="k" if "torus" in label else "0.5",
                    lw=1.2, label=label, zorder=2)
        ax.axvline(exact.TC, color="0.6", lw=0.8, ls=":", zorder=1)
        for label, stats in curves.items():
            T, v, err = stats_table(stats, key)
            if label == reference:
                ax.errorbar(T, v, yerr=err, fmt="o", ms=4, color="k", mfc="white", capsize=2,
                            label=f"{label} (±1σ)", zorder=4)
            else:
                c = color_of(label.split(" ")[0])
                ax.plot(T, v, "-", marker=".", color=c, lw=1.3, label=label, zorder=3)
                ax.fill_between(T, v - err, v + err, color=c, alpha=0.25, lw=0, zorder=3)
        ax.set_xlabel("temperature $T$ [J/$k_B$]")
        ax.set_ylabel(ylabel + (" (log scale)" if key in log_keys else ""))
        if key in log_keys:
            ax.set_yscale("log")
        ax.set_xlim(lo - 0.05, hi + 0.05)
    handles, labels = {}, []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[k] for k in labels], labels, loc="lower center", ncol=min(len(labels), 4),
               frameon=False, bbox_to_anchor=(0.5, -0.01))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07 + 0.03 * (len(labels) > 4), 1, 1))
    return fig


def snapshots(rows: Mapping[str, Mapping[float, np.ndarray]], per_cell: int = 2, title: str | None = None):
    """A grid of ±1 configurations: one row per ensemble label, ``per_cell`` images per temperature.

    Each image is drawn by :func:`spin_image` (black σ = −1, white σ = +1; see :data:`SPIN_LEGEND`).
    """
    labels = list(rows)
    temps = sorted({T for r in rows.values() for T in r})
    fig, axes = plt.subplots(len(labels), len(temps) * per_cell,
                             figsize=(1.3 * len(temps) * per_cell, 1.45 * len(labels) + 0.4), squeeze=False)
    for i, label in enumerate(labels):
        for j, T in enumerate(temps):
            configs = rows[label].get(T)
            for k in range(per_cell):
                ax = axes[i, j * per_cell + k]
                ax.set_xticks([]), ax.set_yticks([])
                if configs is not None and k < len(configs):
                    spin_image(ax, configs[k])
                if i == 0 and k == 0:
                    ax.set_title(f"T = {T:.2f}", fontsize=9, loc="left")
            if j == 0:
                axes[i, 0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path, dpi: int = 110):
    """Lay out ``fig``, write it as PNG to ``path`` atomically and close it; returns ``path``."""
    from ..study.store import atomic_write

    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    plt.close(fig)
    return path
