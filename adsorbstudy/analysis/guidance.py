"""Physics guidance of the checkerboard generator (issue 21, after seed 003): how the proposal's fidelity
and its importance weights move with the guidance strength λ.

The guided sampler adds λ·(2J/T)·Σ_{j∼i} σ_j to the logits of the second sublattice in the last
``guide_layers`` layers (``CheckerboardGenerator.physics_field``). That changes the proposal p_θ,λ, and
its exact log-probability enters the weights w = exp(−E/T) q / p_θ,λ, so self-normalised importance
sampling (SNIS) still targets the unguided Boltzmann distribution π. Two things can move with λ: the raw
samples' distance to π (guidance pulls them toward the heat-bath update), and ESS/n, the efficiency of
the correction. :func:`guidance_curve` measures both on one set of random streams for every λ, so the
λ = 0 row is the unguided sampler's, bit for bit.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..physics import exact
from .plots import save
from .reweight import ess, sample_weighted, weighted_stats

COLUMNS = ("lambda", "T", "n", "guide_layers", "e_exact", "e_raw", "e_raw_err", "de_raw", "z_raw",
           "e_snis", "e_snis_err", "z_snis", "ess_n", "seconds")


def _check_lambdas(lambdas) -> list[float]:
    lam = [float(x) for x in lambdas]
    if not lam or any(not math.isfinite(x) or x < 0 for x in lam):
        raise ValueError(f"lambdas must be a non-empty list of finite numbers >= 0; got {list(lambdas)!r}")
    return lam


def guidance_curve(model, temperatures: Sequence[float], lambdas: Sequence[float], n: int, *,
                   guide_layers: int | None = None, seed: int = 0, batch: int = 256) -> list[dict]:
    """One row per (λ, T) for a trained checkerboard generator (``adsorbstudy.generators.checkerboard``).

    ``temperatures`` in J/k_B; ``lambdas`` ≥ 0 (dimensionless guidance strengths; 0 = unguided);
    ``n`` samples per row, drawn by :func:`adsorbstudy.analysis.reweight.sample_weighted` from the same
    ``seed`` for every λ. Each row (:data:`COLUMNS`): the exact energy per spin of the L×L torus
    ``e_exact`` (J), the raw mean ``e_raw`` ± ``e_raw_err`` with ``de_raw`` = e_raw − e_exact and its
    z-score ``z_raw``; the SNIS estimate ``e_snis`` ± ``e_snis_err`` and ``z_snis``; ``ess_n`` = ESS/n of
    the weights; ``seconds`` of sampling.
    """
    lam = _check_lambdas(lambdas)
    rows = []
    for T in temperatures:
        T = float(T)
        for x in lam:
            spins, log_w, secs = sample_weighted(model, n, T, seed=seed, batch=batch, physics=x,
                                                 guide_layers=guide_layers)
            L = spins.shape[-1]
            e_ex = float(exact.finite_size(L, T)[0])
            raw, snis = weighted_stats(spins, T), weighted_stats(spins, T, log_w)
            rows.append({"lambda": x, "T": T, "n": int(n), "guide_layers": model.K if guide_layers is None else int(guide_layers),
                         "e_exact": e_ex, "e_raw": raw["e"], "e_raw_err": raw["e_err"], "de_raw": raw["e"] - e_ex,
                         "z_raw": (raw["e"] - e_ex) / raw["e_err"], "e_snis": snis["e"], "e_snis_err": snis["e_err"],
                         "z_snis": (snis["e"] - e_ex) / snis["e_err"], "ess_n": ess(log_w) / n, "seconds": secs})
    return rows


def plot(rows: Sequence[dict], path, title: str | None = None):
    """Two panels against λ, one line per temperature: the raw |e − e_exact| (J per spin, with its error)
    and ESS/n of the SNIS weights. Saves to ``path`` and returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, T in enumerate(sorted({r["T"] for r in rows})):
        rs = sorted((r for r in rows if r["T"] == T), key=lambda r: r["lambda"])
        lam = [r["lambda"] for r in rs]
        a.errorbar(lam, [abs(r["de_raw"]) for r in rs], yerr=[r["e_raw_err"] for r in rs], marker="o",
                   color=f"C{i}", capsize=3, label=f"T = {T:g}")
        b.plot(lam, [r["ess_n"] for r in rs], marker="o", color=f"C{i}", label=f"T = {T:g}")
    a.axhline(0.0, color="k", lw=0.8, label="exact torus")
    a.set_xlabel("guidance strength λ"), a.set_ylabel("raw |e − e_exact| [J per spin]")
    b.set_xlabel("guidance strength λ"), b.set_ylabel("ESS / n of the SNIS weights")
    b.set_ylim(0, max(1e-3, 1.1 * max(r["ess_n"] for r in rows)))
    a.legend(fontsize=8), b.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)


def bistability_plot(summary: dict, path, title: str | None = None):
    """The distribution of ε_a·z_a over pixel-steps (``adsorbstudy.generators.bistability.bistability``'s
    summary), with the uniform-site thresholds ±4 beyond which Eq. 6 can have several lattice roots.
    Saves to ``path`` and returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = summary["eps_a_za"]
    edges = np.asarray(h["edges"], dtype=float)
    counts = np.asarray(h["counts"], dtype=float)
    inner = edges[1:-1]
    width = inner[1] - inner[0]
    left = np.concatenate([[inner[0] - width], inner])  # the open outer bins drawn one bin wide
    frac = counts / max(counts.sum(), 1.0)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.bar(left, frac, width=width, align="edge", color="C0", label="trained mean-field generator")
    for x in (-4.0, 4.0):
        ax.axvline(x, color="C3", ls="--", lw=1)
    ax.axvspan(left[0], -4.0, color="C3", alpha=0.08, label="|ε_a| z_a > 4: several roots possible")
    ax.axvspan(4.0, left[-1] + width, color="C3", alpha=0.08)
    ax.set_yscale("log")
    ax.set_xlabel("ε_a · z_a (energies in units of k_B T)"), ax.set_ylabel("fraction of pixel-steps")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)
