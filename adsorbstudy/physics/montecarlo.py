"""Monte Carlo ground truth for the 2D Ising model (J = 1, k_B = 1, periodic L×L lattice).

Samplers (all seeded and deterministic on CPU for a given seed):

* **Metropolis, numba** (default on CPU): single-spin Metropolis on many independent
  chains at once. Chains are stored as lanes, spins ``int8[block, L, L, lane]``, so the
  update of one site in 64 chains is a SIMD loop; each chain has its own
  xorshift128+ generator and a precomputed integer acceptance threshold
  (exact to 2⁻³²). Sites are visited in typewriter order; each single-site
  update obeys detailed balance, so the sweep leaves the Boltzmann distribution
  invariant. Blocks of lanes run in parallel (``prange``); the result does not
  depend on the number of threads.
* **Metropolis, torch checkerboard** (the GPU path, any torch device): both
  sublattices updated alternately with ``torch.roll`` neighbour sums and a seeded
  ``torch.Generator``. Needs even L (the two-colouring of an odd torus is not proper).
* **Wolff, numba**: single-cluster updates, bond probability 1 − e^(−2/T), chains in
  parallel. One Wolff "sweep" is as many cluster flips as it takes to flip at least
  N = L² spins in total, so τ_int is in comparable units for both samplers.

The ensembles drawn with them, thermalized and decorrelated, are in :mod:`adsorbstudy.physics.ensembles`.
"""
from __future__ import annotations

import abc
import math
import time

import numpy as np
from numba import njit, prange

from ..study.validate import check_int, check_L, check_T
from .exact import TC
from .lattice import _lane_observables, energy, magnetization


METHODS = ("auto", "metropolis", "wolff")


#: Above this temperature ``method="auto"`` uses Metropolis: the correlation length is
#: ≲ 2 lattice spacings there, Metropolis τ_int is a few sweeps and Wolff clusters are
#: so small that a Wolff sweep costs several Metropolis sweeps.
AUTO_WOLFF_BELOW = 2.75


LANES = 64


_U = np.uint64


# --------------------------------------------------------------------------- validation
def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def resolve_method(method: str, T: float) -> str:
    """The sampler ``method`` stands for at temperature T ("auto": Wolff below AUTO_WOLFF_BELOW)."""
    _check_method(method)
    if method == "auto":
        return "wolff" if T < AUTO_WOLFF_BELOW else "metropolis"
    return method


# --------------------------------------------------------------------------- numba kernels
@njit(cache=True, inline="never")
def _metro_lanes(c0, cu, cd, cr, cl, s0, s1, t2, t4):
    """Metropolis update of one site in every lane (chain); arguments are 1-D lane vectors.

    Kept as a separate, non-inlined function with 1-D arguments so that LLVM
    vectorizes the lane loop (about 3× faster than the same loop inlined in the sweep).
    """
    for w in range(c0.shape[0]):
        a = s0[w]
        c = s1[w]
        s0[w] = c
        a ^= a << _U(23)
        a ^= a >> _U(17)
        a ^= c ^ (c >> _U(26))
        s1[w] = a
        r = np.uint32((a + c) >> _U(32))
        s = np.int32(c0[w])
        x = s * (np.int32(cu[w]) + np.int32(cd[w]) + np.int32(cr[w]) + np.int32(cl[w]))
        thr = np.uint32(4294967295) if x <= 0 else (t2 if x == 2 else t4)
        acc = np.int32(r < thr) | np.int32(x <= 0)
        c0[w] = np.int8(s - 2 * s * acc)


@njit(parallel=True, cache=True)
def _metro_run(spins, state, t2, t4, n_sweeps, record, E_out, M_out):
    """``n_sweeps`` typewriter sweeps of every block; if ``record``, totals after each sweep."""
    nbk, L, _, W = spins.shape
    for b in prange(nbk):
        s0 = state[b, 0].copy()
        s1 = state[b, 1].copy()
        sp = spins[b]
        Eb = np.empty(W, np.int64)
        Mb = np.empty(W, np.int64)
        for t in range(n_sweeps):
            for i in range(L):
                ip = i + 1 if i + 1 < L else 0
                im = i - 1 if i > 0 else L - 1
                for j in range(L):
                    jp = j + 1 if j + 1 < L else 0
                    jm = j - 1 if j > 0 else L - 1
                    _metro_lanes(sp[i, j], sp[ip, j], sp[im, j], sp[i, jp], sp[i, jm], s0, s1, t2, t4)
            if record:
                _lane_observables(sp, Eb, Mb)
                for w in range(W):
                    E_out[t, b * W + w] = Eb[w]
                    M_out[t, b * W + w] = Mb[w]
        state[b, 0] = s0
        state[b, 1] = s1


@njit(cache=True)
def _next(st):
    a = st[0]
    c = st[1]
    st[0] = c
    a ^= a << _U(23)
    a ^= a >> _U(17)
    a ^= c ^ (c >> _U(26))
    st[1] = a
    return (a + c) >> _U(32)


@njit(parallel=True, cache=True)
def _wolff_run(spins, state, p_thr, n_sweeps, flips_per_sweep, record, E_out, M_out, flipped_total):
    """``n_sweeps`` × ``flips_per_sweep`` Wolff cluster flips on every chain ``spins[B, L, L]``.

    The number of clusters per sweep is fixed: stopping once a random total of spins
    has been flipped would make the stopping time depend on the state and bias it.
    Cluster sites are flipped when they join, so "aligned with s" means "not yet in the cluster".
    """
    B, L, _ = spins.shape
    N = L * L
    for b in prange(B):
        sp = spins[b]
        st = state[b]
        si = np.empty(N, np.int64)
        sj = np.empty(N, np.int64)
        e = np.empty(1, np.int64)
        m = np.empty(1, np.int64)
        flipped = 0
        for t in range(n_sweeps):
            for _c in range(flips_per_sweep):
                site = np.int64((_next(st) * _U(N)) >> _U(32))
                i0 = site // L
                j0 = site - i0 * L
                s = sp[i0, j0]
                sp[i0, j0] = -s
                si[0] = i0
                sj[0] = j0
                top = 1
                size = 0
                while top > 0:
                    top -= 1
                    size += 1
                    i = si[top]
                    j = sj[top]
                    for d in range(4):
                        if d == 0:
                            ni = i + 1 if i + 1 < L else 0
                            nj = j
                        elif d == 1:
                            ni = i - 1 if i > 0 else L - 1
                            nj = j
                        elif d == 2:
                            ni = i
                            nj = j + 1 if j + 1 < L else 0
                        else:
                            ni = i
                            nj = j - 1 if j > 0 else L - 1
                        # branch-free: the two tests are coin flips for the branch predictor,
                        # which made the branchy version ~3x slower
                        v = sp[ni, nj]
                        add = (v == s) & (_next(st) < p_thr)
                        sp[ni, nj] = -s if add else v
                        si[top] = ni
                        sj[top] = nj
                        top += np.int64(add)
                flipped += size
            if record:
                _lane_observables(sp.reshape((L, L, 1)), e, m)
                E_out[t, b] = e[0]
                M_out[t, b] = m[0]
        flipped_total[b] += flipped


# --------------------------------------------------------------------------- samplers
def _rng_states(seed_seq: np.random.SeedSequence, shape) -> np.ndarray:
    st = seed_seq.generate_state(int(np.prod(shape)), dtype=np.uint64).reshape(shape)
    st[st == 0] = 1  # xorshift128+ must not start from an all-zero state
    return st


def _initial(L: int, n: int, T: float, start: str, rng: np.random.Generator) -> np.ndarray:
    """Initial configurations (n, L, L) int8: "hot" random, "cold" all up, "auto" cold below Tc.

    Cold starts below Tc avoid the long-lived stripe states a quench from random produces.
    """
    if start == "auto":
        start = "cold" if T < TC else "hot"
    if start == "cold":
        return np.ones((n, L, L), np.int8)
    if start == "hot":
        return (2 * rng.integers(0, 2, size=(n, L, L), dtype=np.int8) - 1).astype(np.int8)
    raise ValueError(f"start must be one of auto, hot, cold; got {start!r}")


class _Sampler(abc.ABC):
    """Common interface: ``run(n_sweeps, record)`` → (E, M) totals (n_sweeps, chains) or None."""

    L: int
    n_chains: int

    @abc.abstractmethod
    def configs(self) -> np.ndarray:
        """The current configurations, int8 ±1 of shape (chains, L, L)."""


class NumbaMetropolis(_Sampler):
    """Lane-vectorized Metropolis on ``n_chains`` independent chains (CPU, numba)."""

    def __init__(self, L: int, T: float, n_chains: int, seed: int, start: str = "auto"):
        self.L, self.T, self.n_chains = L, T, n_chains
        ss = np.random.SeedSequence([int(seed), 1])
        W = min(LANES, n_chains)
        self.nb = -(-n_chains // W)
        self.W = W
        init = _initial(L, self.nb * W, T, start, np.random.default_rng(ss.spawn(1)[0]))
        self.spins = np.ascontiguousarray(init.reshape(self.nb, W, L, L).transpose(0, 2, 3, 1))
        self.state = _rng_states(ss, (self.nb, 2, W))
        self.t2 = np.uint32(min(math.floor(math.exp(-4.0 / T) * 2**32), 2**32 - 1))
        self.t4 = np.uint32(min(math.floor(math.exp(-8.0 / T) * 2**32), 2**32 - 1))

    def run(self, n_sweeps: int, record: bool = False):
        total = self.nb * self.W
        E = np.zeros((n_sweeps if record else 1, total), np.int64)
        M = np.zeros_like(E)
        _metro_run(self.spins, self.state, self.t2, self.t4, n_sweeps, record, E, M)
        return (E[:, : self.n_chains], M[:, : self.n_chains]) if record else None

    def configs(self) -> np.ndarray:
        c = self.spins.transpose(0, 3, 1, 2).reshape(-1, self.L, self.L)
        # a copy: with one lane the reshape is a view of the live chain, which the next sweep would change
        return c[: self.n_chains].copy()

    def load(self, spins: np.ndarray) -> None:
        """Set the chains' current configurations to ``spins`` (n_chains, L, L) ±1 (padding lanes keep theirs)."""
        c = self.spins.transpose(0, 3, 1, 2).reshape(-1, self.L, self.L).copy()
        c[: self.n_chains] = spins
        self.spins = np.ascontiguousarray(c.reshape(self.nb, self.W, self.L, self.L).transpose(0, 2, 3, 1))


class NumbaWolff(_Sampler):
    """Wolff single-cluster sampler on ``n_chains`` independent chains (CPU, numba).

    A "sweep" is a fixed number of cluster flips, ``flips_per_sweep`` ≈ N / <cluster size>,
    calibrated at construction by rounds of 10 sweeps until it changes by ≤ 10% (these
    also serve as burn-in; :attr:`calibration_sweeps_done` counts them in sweep units).
    """

    def __init__(self, L: int, T: float, n_chains: int, seed: int, start: str = "auto",
                 flips_per_sweep: int | None = None, max_calibration_rounds: int = 12):
        self.L, self.T, self.n_chains = L, T, n_chains
        ss = np.random.SeedSequence([int(seed), 2])
        self.spins = _initial(L, n_chains, T, start, np.random.default_rng(ss.spawn(1)[0]))
        self.state = _rng_states(ss, (n_chains, 2))
        self.p_thr = _U(min(math.floor(-math.expm1(-2.0 / T) * 2**32), 2**32))
        self.flipped = np.zeros(n_chains, np.int64)
        self.clusters = 0
        self.calibration_sweeps_done = 0.0
        N = L * L
        if flips_per_sweep is None:
            # iterate: a hot (cold) start has smaller (larger) clusters than equilibrium,
            # so repeat until the estimate settles; these flips are part of the burn-in
            fps = 1
            for k in range(max_calibration_rounds):
                before = self.flipped.sum()
                self._raw(10, fps)
                mean = (self.flipped.sum() - before) / (10 * fps * n_chains)
                self.calibration_sweeps_done += 10 * fps * mean / N
                target = max(1, int(round(N / mean)))
                settled = abs(target - fps) <= 0.1 * fps
                # grow at most 4× per round: early (hot-start) clusters are tiny and would
                # otherwise make the next round hundreds of equilibrium sweeps long
                new = min(target, 4 * fps)
                fps = new
                if settled and k >= 2:
                    break
        self.flips_per_sweep = int(flips_per_sweep or fps)

    def _raw(self, n_sweeps, fps, record=False):
        E = np.zeros((n_sweeps if record else 1, self.n_chains), np.int64)
        M = np.zeros_like(E)
        _wolff_run(self.spins, self.state, self.p_thr, n_sweeps, fps, record, E, M, self.flipped)
        self.clusters += n_sweeps * fps * self.n_chains
        return E, M

    def run(self, n_sweeps: int, record: bool = False):
        E, M = self._raw(n_sweeps, self.flips_per_sweep, record)
        return (E, M) if record else None

    def mean_cluster_size_fraction(self) -> float:
        """Average fraction of the lattice flipped per cluster so far."""
        return float(self.flipped.sum() / max(self.clusters, 1) / (self.L * self.L))

    def configs(self) -> np.ndarray:
        return self.spins.copy()


class TorchMetropolis(_Sampler):
    """Checkerboard Metropolis on a batch of chains with torch (CPU or CUDA); even L only."""

    def __init__(self, L: int, T: float, n_chains: int, seed: int, device="cpu", start: str = "auto"):
        import torch

        if L % 2:
            raise ValueError(f"L must be even for the checkerboard sampler; got {L}")
        self.L, self.T, self.n_chains = L, T, n_chains
        self.device = torch.device(device)
        ss = np.random.SeedSequence([int(seed), 3])
        init = _initial(L, n_chains, T, start, np.random.default_rng(ss.spawn(1)[0]))
        self.s = torch.as_tensor(init, dtype=torch.float32, device=self.device)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
        idx = torch.arange(L, device=self.device)
        parity = (idx[:, None] + idx[None, :]) % 2
        self.masks = [parity == 0, parity == 1]
        # acceptance probability indexed by (x + 4) / 2 with x = s·h ∈ {−4, −2, 0, 2, 4}
        x = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], device=self.device)
        self.table = torch.exp(-2.0 * x / T).clamp(max=1.0)

    def _half(self, mask, u):
        import torch

        s = self.s
        h = torch.roll(s, 1, 1) + torch.roll(s, -1, 1) + torch.roll(s, 1, 2) + torch.roll(s, -1, 2)
        p = self.table[((s * h).to(torch.long) + 4) // 2]
        self.s = torch.where((u < p) & mask, -s, s)

    def run(self, n_sweeps: int, record: bool = False):
        import torch

        Es, Ms = [], []
        for _ in range(n_sweeps):
            # each site is updated in exactly one half-sweep, so one uniform per site per sweep
            u = torch.rand(self.s.shape, generator=self.gen, device=self.device)
            self._half(self.masks[0], u)
            self._half(self.masks[1], u)
            if record:
                # totals from the per-spin observables (exact: integers ≤ 2N in float32)
                Es.append(energy(self.s) * (self.L * self.L))
                Ms.append(magnetization(self.s) * (self.L * self.L))
        if not record:
            return None
        E = torch.stack(Es).round().to(torch.int64).cpu().numpy()
        M = torch.stack(Ms).round().to(torch.int64).cpu().numpy()
        return E, M

    def configs(self) -> np.ndarray:
        import torch

        return self.s.to(torch.int8).cpu().numpy()

    def load(self, spins: np.ndarray) -> None:
        """Set the chains' current configurations to ``spins`` (n_chains, L, L) ±1."""
        import torch

        self.s = torch.as_tensor(np.asarray(spins), dtype=torch.float32, device=self.device)


def make_sampler(method: str, L: int, T: float, n_chains: int, seed: int, device=None, start: str = "auto") -> _Sampler:
    """A sampler: ``method`` "metropolis" (numba when ``device`` is None, else torch
    checkerboard on that device) or "wolff" (numba, CPU)."""
    if method == "metropolis":
        if device is None:
            return NumbaMetropolis(L, T, n_chains, seed, start)
        return TorchMetropolis(L, T, n_chains, seed, device=device, start=start)
    if method == "wolff":
        return NumbaWolff(L, T, n_chains, seed, start)
    raise ValueError(f"method must be 'metropolis' or 'wolff' here; got {method!r}")


# --------------------------------------------------------------------------- relaxation
def metropolis_relaxation(L: int, T: float, n_starts: int, n_sweeps: int, seed: int = 0) -> dict:
    """Metropolis relaxation from independent random (infinite-T) starts: seed 004's Fig. 4 reference.

    Runs ``n_starts`` chains for ``n_sweeps`` sweeps (one sweep = L² attempted flips) and
    returns arrays of length n_sweeps + 1 (index 0 = the random start): ``e`` (mean energy
    per spin), ``m_abs`` (mean |m| per spin), their standard errors over starts ``e_err``,
    ``m_abs_err``, and ``sweeps`` (0..n_sweeps).
    """
    L = check_L(L)
    T = check_T(T)
    n_starts = check_int("n_starts", n_starts)
    n_sweeps = check_int("n_sweeps", n_sweeps)
    s = NumbaMetropolis(L, T, n_starts, seed, start="hot")
    c0 = s.configs()
    E, M = s.run(n_sweeps, record=True)
    N = L * L
    e = np.concatenate([energy(c0)[None, :], E / N])
    m = np.abs(np.concatenate([magnetization(c0)[None, :], M / N]))
    err = (lambda a: a.std(axis=1, ddof=1) / math.sqrt(n_starts)) if n_starts > 1 else (lambda a: np.full(a.shape[0], np.nan))
    return {"sweeps": np.arange(n_sweeps + 1), "e": e.mean(1), "m_abs": m.mean(1), "e_err": err(e), "m_abs_err": err(m)}


def metropolis_from(spins, T: float, n_sweeps: int, seed: int = 0, device=None) -> np.ndarray:
    """``n_sweeps`` Metropolis sweeps of every configuration, each its own chain (the hybrid arm).

    ``spins``: (n, L, L) ±1, e.g. a generator's samples; returns int8 (n, L, L). One sweep is L²
    attempted single-spin flips. ``device`` None: the lane-vectorized numba kernel (typewriter
    order, the fast CPU path); a torch device: the checkerboard kernel (even L). Either leaves the
    Boltzmann distribution at ``T`` invariant, so the sweeps can only move an ensemble towards it;
    they make no ensemble exact. ``n_sweeps`` = 0 returns the configurations unchanged.
    """
    x = np.asarray(spins)
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] != x.shape[2]:
        raise ValueError(f"configs must have shape (n >= 1, L, L); got {x.shape}")
    if not np.all(np.abs(x) == 1):
        raise ValueError("configs must contain only spins -1 and +1")
    n_sweeps = check_int("n_sweeps", n_sweeps, 0)
    sampler = make_sampler("metropolis", check_L(int(x.shape[1])), check_T(T), x.shape[0], seed, device=device,
                           start="hot")
    sampler.load(x.astype(np.int8))
    sampler.run(n_sweeps)
    return sampler.configs().astype(np.int8)


def time_sweeps(method: str, L: int, T: float, n_chains: int, seed: int = 0, min_seconds: float = 0.2,
                device=None) -> float:
    """Wall seconds per sweep of one chain, amortized over ``n_chains`` chains run together.

    Equilibrates briefly, then doubles the number of sweeps in one uninterrupted call until
    the call lasts ≥ ``min_seconds``. Uses the current numba/torch thread settings.
    """
    sampler = make_sampler(method, check_L(L), check_T(T), check_int("n_chains", n_chains), seed,
                           device=device)
    sampler.run(20)
    k = 1
    while True:
        if device is not None and str(device).startswith("cuda"):
            import torch
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        sampler.run(k)
        if device is not None and str(device).startswith("cuda"):
            import torch
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if dt >= min_seconds or k >= 1 << 20:
            return dt / (k * n_chains)
        k *= 2
