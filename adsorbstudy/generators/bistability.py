"""Bistability of the mean-field Eq. 6 layers (issue 21): could a layer's solve depend on where it starts?

At a uniform site Eq. 6 has three roots only when ε_a z_a < −4 (DESIGN §1: the van der Waals loop,
``isotherm.critical_eps_a``); ε_a z_a > 4 is the strongly repulsive side, where the red-black iteration
may settle on a sublattice-ordered solution or cycle. The generator solves from x_a = x_b (the adsorption
branch). Over the pixel-steps (pixels × layers × samples × temperatures) of sampled trajectories this
module reports

- the distribution of ε_a·z_a (a histogram on fixed edges, with mean, std, min and max);
- the fractions of pixel-steps with ε_a z_a < −4 ("attractive") and ε_a z_a > 4 ("repulsive");
- the fraction where a solve started on the desorption side (x_a = 1 − x_b) converges to another root:
  both solves converged (max-norm residual check per pixel, |residual| ≤ tol in logit units) and
  |x_a(desorption start) − x_a(adsorption start)| > ``root_tol``. Pixel-steps where either solve did
  not converge are counted apart ("nonconverged"), never as a root.

Both solves are lattice-wide (the coupling makes the solution one object), so "another root" at a pixel
means the two lattice solutions differ there.
"""
from __future__ import annotations

import numpy as np
import torch

from .adsorption import AdsorptionGenerator, _check_solver_inputs, _solve_logits

_COUNTS = ("attractive", "repulsive", "other_root", "nonconverged")
#: Default histogram edges of ε_a z_a (dimensionless); the outer bins are open (−inf, −12) and [12, inf).
EDGES = np.concatenate([[-np.inf], np.linspace(-12.0, 12.0, 49), [np.inf]])


@torch.no_grad()
def branch_solutions(xb: torch.Tensor, eps_s: torch.Tensor, eps_a: torch.Tensor, za: float = 4.0, zb: float = 6.0,
                     max_iter: int = 200, tol: float = 1e-4, circular: bool = True):
    """Eq. 6 solved from both sides: (u_ads, res_ads, u_des, res_des), logit x_a and per-pixel |residual|
    (logit units), each (B, 1, H, W). ``u_ads`` starts at x_a = x_b, the generator's own solve
    (:func:`adsorption.solve_equilibrium_logits`), ``u_des`` at x_a = 1 − x_b. Inputs as that function."""
    _check_solver_inputs(xb, eps_s, eps_a, za, zb, max_iter, tol)
    lxb = torch.logit(xb)
    u_a, r_a = _solve_logits(lxb, xb, eps_s, eps_a, float(za), float(zb), max_iter, tol, circular)
    u_d, r_d = _solve_logits(lxb, xb, eps_s, eps_a, float(za), float(zb), max_iter, tol, circular, start=-lxb)
    return u_a, r_a, u_d, r_d


def layer_counts(xb: torch.Tensor, eps_s: torch.Tensor, eps_a: torch.Tensor, za: float = 4.0, zb: float = 6.0,
                 max_iter: int = 200, tol: float = 1e-4, circular: bool = True, root_tol: float = 1e-3,
                 edges=EDGES) -> dict:
    """Counts over the pixels of a batch of layers (B, 1, H, W) (module docstring): ints ``n`` (pixel-steps),
    ``attractive`` (ε_a z_a < −4), ``repulsive`` (ε_a z_a > 4), ``other_root``, ``nonconverged``;
    ``hist`` (counts of ε_a z_a in ``edges``), and ``sum``, ``sum2``, ``min``, ``max`` of ε_a z_a."""
    if not root_tol > 0:
        raise ValueError(f"root_tol must be > 0; got {root_tol}")
    u_a, r_a, u_d, r_d = branch_solutions(xb, eps_s, eps_a, za, zb, max_iter, tol, circular)
    ok = (r_a <= tol) & (r_d <= tol)
    other = ok & ((torch.sigmoid(u_d) - torch.sigmoid(u_a)).abs() > root_tol)
    ez = (eps_a.to(torch.float64) * za).flatten().cpu().numpy()
    return {"n": ez.size, "attractive": int((ez < -4).sum()), "repulsive": int((ez > 4).sum()),
            "other_root": int(other.sum()), "nonconverged": int((~ok).sum()),
            "hist": np.histogram(ez, bins=edges)[0], "sum": float(ez.sum()), "sum2": float((ez ** 2).sum()),
            "min": float(ez.min()), "max": float(ez.max())}


def _merge(a: dict | None, b: dict) -> dict:
    if a is None:
        return dict(b)
    out = {k: a[k] + b[k] for k in (*_COUNTS, "hist", "sum", "sum2")}
    return out | {"n": a["n"] + b["n"], "min": min(a["min"], b["min"]), "max": max(a["max"], b["max"])}


def summary(counts: dict, edges=EDGES) -> dict:
    """Fractions and moments from (merged) ``layer_counts``: ``n``, ``frac_attractive``,
    ``frac_repulsive``, ``frac_other_root``, ``frac_nonconverged`` (each over all n pixel-steps),
    ``eps_a_za`` = {"mean", "std", "min", "max", "edges", "counts"}."""
    n = counts["n"]
    mean = counts["sum"] / n
    return {"n": int(n), **{f"frac_{k}": counts[k] / n for k in _COUNTS},
            "eps_a_za": {"mean": mean, "std": float(np.sqrt(max(counts["sum2"] / n - mean ** 2, 0.0))),
                         "min": counts["min"], "max": counts["max"], "edges": np.asarray(edges).tolist(),
                         "counts": np.asarray(counts["hist"]).tolist()}}


@torch.no_grad()
def bistability(model: AdsorptionGenerator, n: int, temperatures, seed: int = 0, root_tol: float = 1e-3,
                max_iter: int | None = None, edges=EDGES) -> dict:
    """The diagnostic over n sampled trajectories per temperature of an adsorption generator (mean-field).

    For each T in ``temperatures`` (J/k_B), n trajectories are drawn (``AdsorptionGenerator.sample_with_logprob``,
    seed from ``seed`` and the temperature's index); at every layer k the model's energies of s_k are
    evaluated again (K more network evaluations per sample) and Eq. 6 is solved from both sides with the
    model's z_a, z_b, tol and ``max_iter`` (None: the model's). Returns :func:`summary` over all
    pixel-steps, plus ``per_T``: {T: summary at that T} and ``root_tol``.
    """
    iters = model.max_iter if max_iter is None else max_iter
    total, per_T = None, {}
    dev = model.device
    for i, T in enumerate(temperatures):
        sub = int(np.random.SeedSequence([int(seed), i]).generate_state(1)[0] >> 1)
        path = model.sample_with_logprob(n, float(T), seed=sub, return_path=True)[3].to(dev)[:, :, None]
        Ts = model.cond_tensor(float(T), n).to(dev)
        here = None
        for kk in range(1, model.K + 1):
            k = torch.full((n,), kk, dtype=torch.long, device=dev)
            eps_s, eps_a = model.energies(path[:, kk], k, Ts)
            c = layer_counts(model.bulk(path[:, kk], k), eps_s, eps_a, model.za, model.zb, iters, model.tol,
                             model.circular, root_tol, edges)
            here = _merge(here, c)
        per_T[float(T)] = summary(here, edges)
        total = _merge(total, here)
    return summary(total, edges) | {"per_T": per_T, "root_tol": root_tol}
