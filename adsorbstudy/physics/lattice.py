"""The 2D Ising lattice: energy and magnetisation per spin of ±1 configurations, and the
lattice-gas map between spins σ ∈ {−1, +1} and occupancies s = (σ + 1)/2 ∈ {0, 1}.

Conventions (J = 1, k_B = 1, periodic L×L torus): H = −Σ_<ij> σ_i σ_j with every
nearest-neighbour bond counted once; e = H / N and m = Σ σ_i / N with N = L².
A ±1 array is called ``spins`` (shape (n, L, L) or (L, L)); a 0/1 array ``occupancy``.
"""
from __future__ import annotations

import numpy as np
from numba import njit


# --------------------------------------------------------------------------- observables
def _as_spins(spins):
    try:
        import torch
        if isinstance(spins, torch.Tensor):
            return spins, True
    except ImportError:  # pragma: no cover - torch is a declared dependency
        pass
    return np.asarray(spins), False


def _shape_checked(x):
    if x.ndim < 2:
        raise ValueError(f"spins must have shape (..., L, L); got shape {tuple(x.shape)}")
    return x


@njit(cache=True)
def _lane_observables(sp, E, M):
    """Total energy and magnetization of every lane of one block ``sp[L1, L2, W]`` into E[W], M[W].

    E = −Σ_<ij> s_i s_j over the periodic lattice, each bond counted once; M = Σ s_i (integers).
    The study's single implementation of e and m for numpy data (see :func:`lattice_totals`)."""
    L1, L2, W = sp.shape
    for w in range(W):
        E[w] = 0
        M[w] = 0
    for i in range(L1):
        ip = i + 1 if i + 1 < L1 else 0
        for j in range(L2):
            jp = j + 1 if j + 1 < L2 else 0
            for w in range(W):
                s = np.int64(sp[i, j, w])
                E[w] -= s * (np.int64(sp[ip, j, w]) + np.int64(sp[i, jp, w]))
                M[w] += s


def lattice_totals(spins) -> tuple[np.ndarray, np.ndarray]:
    """Total energy E = −Σ_<ij> s_i s_j (each bond once) and magnetization M = Σ s_i, as int64 (...).

    ``spins``: numpy (..., L1, L2) of ±1, periodic boundaries. The one implementation for numpy
    callers and the numba samplers alike: it runs the samplers' own kernel :func:`_lane_observables`.
    """
    x = _shape_checked(np.asarray(spins))
    if x.size and not np.all(np.abs(x) == 1):
        raise ValueError("spins must contain only spins -1 and +1")
    lead, (L1, L2) = x.shape[:-2], x.shape[-2:]
    lanes = np.ascontiguousarray(np.moveaxis(x.reshape(-1, L1, L2), 0, -1).astype(np.int8))
    E = np.empty(lanes.shape[-1], np.int64)
    M = np.empty_like(E)
    _lane_observables(lanes, E, M)
    return E.reshape(lead), M.reshape(lead)


def energy(spins):
    """Energy per spin of each configuration, e = −(1/N) Σ_<ij> s_i s_j, each bond counted once.

    ``spins``: (..., L, L) of ±1 (numpy of any numeric dtype, values ±1 or a ValueError; or a
    torch tensor on any device), periodic boundaries. Returns shape (...), float64 numpy or a
    float torch tensor on the same device. All up → −2; checkerboard → +2; stripes of width 1 → 0.
    numpy input goes through :func:`lattice_totals` (the samplers' numba kernel); a torch tensor
    stays on its device (the same bond sum with ``torch.roll``; tests check the two agree exactly).
    """
    x, is_torch = _as_spins(spins)
    _shape_checked(x)
    N = x.shape[-1] * x.shape[-2]
    if is_torch:
        import torch
        s = x if x.is_floating_point() else x.to(torch.float32)
        bonds = s * (torch.roll(s, 1, -1) + torch.roll(s, 1, -2))
        return -bonds.sum((-1, -2)) / N
    return lattice_totals(x)[0] / N


def magnetization(spins):
    """Signed magnetization per spin of each configuration, m = Σ s_i / N, shape (...).

    Same input conventions as :func:`energy`; the study's |m| is ``abs`` of this, per configuration.
    """
    x, is_torch = _as_spins(spins)
    _shape_checked(x)
    if is_torch:
        import torch
        s = x if x.is_floating_point() else x.to(torch.float32)
        return s.mean((-1, -2))
    return lattice_totals(x)[1] / (x.shape[-1] * x.shape[-2])


def to_spins(occupancy) -> np.ndarray:
    """Occupancies {0, 1} → int8 spins ±1 (σ = 2s − 1), the generators' input convention."""
    return (2 * np.asarray(occupancy, dtype=np.int8) - 1).astype(np.int8)


def to_occupancy(spins) -> np.ndarray:
    """Spins ±1 → uint8 occupancies {0, 1}."""
    return (np.asarray(spins) > 0).astype(np.uint8)


def check_spins(spins, name: str = "spins") -> np.ndarray:
    """``spins`` as a numpy array of shape (n ≥ 1, L ≥ 2, L) holding only −1 and +1 (torch tensors are
    moved to the CPU); ValueError naming ``name`` otherwise. The one input check of every ensemble statistic."""
    try:
        import torch
        if isinstance(spins, torch.Tensor):
            spins = spins.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a declared dependency
        pass
    x = np.asarray(spins)
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] != x.shape[2] or x.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n >= 1, L >= 2, L); got shape {x.shape}")
    if not np.all(np.abs(x) == 1):
        raise ValueError(f"{name} must contain only spins -1 and +1")
    return x
