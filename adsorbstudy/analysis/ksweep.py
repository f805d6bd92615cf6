"""The K sweep (issue 21): fidelity against the number of layers K for each Bernoulli generator.

The no-lateral, mean-field and checkerboard generators are trained at several K (one seed per point, the
same budget); each run's saved test-grid samples are compared with the Monte Carlo test ensembles.
:func:`rows` gives one row per run and region of the test grid (seen, unseen, outside:
:func:`adsorbstudy.analysis.tables.region_of`), the columns of ``ksweep.csv`` (:data:`COLUMNS`); :func:`plot`
draws |Δe| against K per kind.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..physics import lattice
from .tables import REGIONS, region_of

COLUMNS = ("model", "kind", "K", "seed", "region", "n_T", "abs_de", "abs_de_se")


def rows(runs: Mapping[str, Mapping], reference: Mapping[float, np.ndarray], train_T: Sequence[float]) -> list[dict]:
    """``runs``: {run name: {"kind", "K", "seed", "samples": {T: int8 ±1 (n, L, L)}}}; ``reference``: {T: MC
    configurations} holding every sampled T; ``train_T``: the training temperatures (J/k_B).

    Per run and region: ``abs_de`` = the mean over the region's temperatures of |⟨e⟩_model − ⟨e⟩_MC| (J
    per spin) and ``abs_de_se`` = the standard error of that mean from the two ensembles' standard errors
    of ⟨e⟩ (std/√n, temperatures independent, the |·| ignored: a first-order error away from 0)."""
    out = []
    for name, r in runs.items():
        per = {reg: [] for reg in REGIONS}
        for T, x in sorted(r["samples"].items()):
            if T not in reference:
                raise ValueError(f"{name}: the reference has no ensemble at T = {T:g}")
            e, e_ref = lattice.energy(np.asarray(x)), lattice.energy(np.asarray(reference[T]))
            se2 = e.var(ddof=1) / e.size + e_ref.var(ddof=1) / e_ref.size
            per[region_of(T, train_T)].append((abs(e.mean() - e_ref.mean()), se2))
        for reg in REGIONS:
            if per[reg]:
                d = np.array(per[reg])
                out.append({"model": name, "kind": r["kind"], "K": int(r["K"]), "seed": int(r["seed"]), "region": reg,
                            "n_T": len(d), "abs_de": float(d[:, 0].mean()),
                            "abs_de_se": float(np.sqrt(d[:, 1].sum()) / len(d))})
    return out


def plot(table: Sequence[Mapping], path, region: str = "unseen", title: str | None = None):
    """|Δe| (J per spin, ± its standard error) against K on a log axis, one line per kind, for ``region``.
    ``table``: :func:`rows` (or ``ksweep.csv`` read back). Saves to ``path`` and returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import color_of, save

    fig, ax = plt.subplots(figsize=(5.8, 3.6))
    sel = [r for r in table if r["region"] == region]
    for kind in sorted({r["kind"] for r in sel}):
        rs = sorted((r for r in sel if r["kind"] == kind), key=lambda r: int(r["K"]))
        ax.errorbar([int(r["K"]) for r in rs], [float(r["abs_de"]) for r in rs],
                    yerr=[float(r["abs_de_se"]) for r in rs], marker="o", capsize=3, color=color_of(kind), label=kind)
    ax.axhline(0.0, color="k", lw=0.8, label="Monte Carlo")
    ax.set_xscale("log")
    ax.set_xlabel("layers K (network evaluations per sample)")
    ax.set_ylabel(f"mean |Δe| [J per spin], {region} T")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)
