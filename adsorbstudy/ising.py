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

:func:`sample_ensemble` thermalizes, measures the integrated autocorrelation time
τ_int (of the energy and of |m|; the larger is used) and then keeps configurations
spaced by about 2τ_int sweeps, so they are effectively independent.
:func:`cached_ensembles` wraps it with the artifact store.
"""
from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from .exact import TC
from .runtime import progress_bar
from .validate import check_int, check_L, check_T

#: Version of the Monte Carlo code (part of every ensemble's cache key; see adsorbstudy.codeversion).
#: Bump it with any change that alters sampled configurations or their statistics.
VERSION = "ising-v2"
METHODS = ("auto", "metropolis", "wolff")
#: Above this temperature ``method="auto"`` uses Metropolis: the correlation length is
#: ≲ 2 lattice spacings there, Metropolis τ_int is a few sweeps and Wolff clusters are
#: so small that a Wolff sweep costs several Metropolis sweeps.
AUTO_WOLFF_BELOW = 2.75
LANES = 64

_U = np.uint64


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


# --------------------------------------------------------------------------- observables
def _as_spins(configs):
    try:
        import torch
        if isinstance(configs, torch.Tensor):
            return configs, True
    except ImportError:  # pragma: no cover - torch is a declared dependency
        pass
    return np.asarray(configs), False


def _shape_checked(x):
    if x.ndim < 2:
        raise ValueError(f"configs must have shape (..., L, L); got shape {tuple(x.shape)}")
    return x


def lattice_totals(configs) -> tuple[np.ndarray, np.ndarray]:
    """Total energy E = −Σ_<ij> s_i s_j (each bond once) and magnetization M = Σ s_i, as int64 (...).

    ``configs``: numpy (..., L1, L2) of ±1, periodic boundaries. The one implementation for numpy
    callers and the numba samplers alike: it runs the samplers' own kernel :func:`_lane_observables`.
    """
    x = _shape_checked(np.asarray(configs))
    if x.size and not np.all(np.abs(x) == 1):
        raise ValueError("configs must contain only spins -1 and +1")
    lead, (L1, L2) = x.shape[:-2], x.shape[-2:]
    lanes = np.ascontiguousarray(np.moveaxis(x.reshape(-1, L1, L2), 0, -1).astype(np.int8))
    E = np.empty(lanes.shape[-1], np.int64)
    M = np.empty_like(E)
    _lane_observables(lanes, E, M)
    return E.reshape(lead), M.reshape(lead)


def energy(configs):
    """Energy per spin of each configuration, e = −(1/N) Σ_<ij> s_i s_j, each bond counted once.

    ``configs``: (..., L, L) of ±1 (numpy of any numeric dtype, values ±1 or a ValueError; or a
    torch tensor on any device), periodic boundaries. Returns shape (...), float64 numpy or a
    float torch tensor on the same device. All up → −2; checkerboard → +2; stripes of width 1 → 0.
    numpy input goes through :func:`lattice_totals` (the samplers' numba kernel); a torch tensor
    stays on its device (the same bond sum with ``torch.roll``; tests check the two agree exactly).
    """
    x, is_torch = _as_spins(configs)
    _shape_checked(x)
    N = x.shape[-1] * x.shape[-2]
    if is_torch:
        import torch
        s = x if x.is_floating_point() else x.to(torch.float32)
        bonds = s * (torch.roll(s, 1, -1) + torch.roll(s, 1, -2))
        return -bonds.sum((-1, -2)) / N
    return lattice_totals(x)[0] / N


def magnetization(configs):
    """Signed magnetization per spin of each configuration, m = Σ s_i / N, shape (...).

    Same input conventions as :func:`energy`; the study's |m| is ``abs`` of this, per configuration.
    """
    x, is_torch = _as_spins(configs)
    _shape_checked(x)
    if is_torch:
        import torch
        s = x if x.is_floating_point() else x.to(torch.float32)
        return s.mean((-1, -2))
    return lattice_totals(x)[1] / (x.shape[-1] * x.shape[-2])


# --------------------------------------------------------------------------- autocorrelation
def integrated_autocorr_time(x, c: float = 5.0) -> tuple[float, bool]:
    """Integrated autocorrelation time τ_int = ½ + Σ_{t≥1} ρ(t) of a series, in its own time units.

    ``x``: shape (n_times,) or (n_times, n_chains); the normalized autocorrelation is
    averaged over chains (deviations from the global mean), computed by FFT, and the
    sum is truncated with Sokal's self-consistent window M ≥ c τ_int(M).
    Returns (τ_int, reliable) where ``reliable`` means the series is at least 50 τ_int long.
    A constant series (zero variance) has τ_int = 0.5.
    """
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"x must have at least 2 time steps; got {n}")
    d = a - a.mean()
    var = (d**2).mean()
    if var <= 1e-300:
        return 0.5, True
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(d, nfft, axis=0)
    acov = np.fft.irfft(f * np.conj(f), nfft, axis=0)[:n].mean(axis=1)
    acov /= np.arange(n, 0, -1)          # unbiased lag normalization
    rho = acov / acov[0]
    taus = 0.5 + np.cumsum(rho[1:])
    for M in range(1, n - 1):
        if M >= c * taus[M - 1]:
            tau = float(max(taus[M - 1], 0.5))
            return tau, n >= 50 * tau
    tau = float(max(taus[-1], 0.5))
    return tau, False


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
        return np.ascontiguousarray(c[: self.n_chains])

    def load(self, configs: np.ndarray) -> None:
        """Set the chains' current configurations to ``configs`` (n_chains, L, L) ±1 (padding lanes keep theirs)."""
        c = self.spins.transpose(0, 3, 1, 2).reshape(-1, self.L, self.L).copy()
        c[: self.n_chains] = configs
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

    def load(self, configs: np.ndarray) -> None:
        """Set the chains' current configurations to ``configs`` (n_chains, L, L) ±1."""
        import torch

        self.s = torch.as_tensor(np.asarray(configs), dtype=torch.float32, device=self.device)


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


# --------------------------------------------------------------------------- ensembles
@dataclass
class Ensemble:
    """Thermalized, decorrelated configurations at one temperature.

    ``configs``: int8 (n, L, L) of ±1. ``tau_int``: integrated autocorrelation time in
    sweeps, max(τ_int(e), τ_int(|m|)) measured after thermalization (``tau_int_e`` and
    ``tau_int_m`` separately). ``thermalization`` and ``spacing``: sweeps discarded
    per chain before the first kept configuration, and sweeps between kept
    configurations of one chain; ``*_auto`` say whether they were chosen from τ_int
    (thermalization ≥ 50 τ_int, spacing = ⌈2 τ_int⌉) or given. ``tau_reliable``: the
    measuring series was ≥ 50 τ_int long. A Wolff "sweep" flips ≥ N spins in clusters.
    ``seconds_per_sweep``: wall time of one sweep of one chain, amortized over the batch
    of chains run together (sampling phase). ``np.asarray(ensemble)`` is ``configs``.
    """

    configs: np.ndarray
    T: float
    method: str
    tau_int: float
    thermalization: int
    spacing: int
    seconds_per_sweep: float
    tau_int_e: float = float("nan")
    tau_int_m: float = float("nan")
    thermalization_auto: bool = True
    spacing_auto: bool = True
    tau_reliable: bool = True
    n_chains: int = 0
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):
        return self.configs if dtype is None else self.configs.astype(dtype)

    @property
    def L(self) -> int:
        return int(self.configs.shape[-1])


def _tau_of(E, M, N):
    te, re = integrated_autocorr_time(E / N)
    tm, rm = integrated_autocorr_time(np.abs(M) / N)
    return te, tm, re and rm


def sample_ensemble(L: int, T: float, n: int, method: str = "auto", seed: int = 0, *,
                    thermalization: int | None = None, spacing: int | None = None,
                    n_chains: int | None = None, device=None, start: str = "auto",
                    max_pilot: int = 1 << 17, progress: bool = False) -> Ensemble:
    """Sample ``n`` equilibrium configurations of the L×L Ising model at temperature ``T``.

    Procedure: ``n_chains`` independent chains start cold (T < Tc) or hot; each runs an
    initial burn-in, then a recorded pilot of P sweeps. τ_int of e and of |m| is measured
    on the second half of the pilot; P doubles until that half is ≥ 50 τ_int long (or
    reaches ``max_pilot``; then ``tau_reliable`` is False). The reported thermalization is
    every sweep before the first kept configuration (burn-in + whole pilot, so ≥ 100 τ_int
    when reliable); spacing is ⌈2 τ_int⌉ unless given. Each chain then keeps one
    configuration every ``spacing`` sweeps until ``n`` are collected (chain-interleaved
    order). If ``thermalization`` is given, exactly that many sweeps precede the pilot;
    the pilot still runs (to measure τ_int), so the reported thermalization is larger.
    Wolff's cluster-size calibration counts as burn-in.

    ``method``: "auto" (Wolff below T = 2.75, Metropolis above), "metropolis" or "wolff".
    ``device``: None for the numba CPU kernels; a torch device ("cpu", "cuda") runs
    Metropolis with the torch checkerboard sampler. Returns an :class:`Ensemble`.
    """
    L = check_L(L)
    T = check_T(T)
    n = check_int("n", n)
    method = resolve_method(method, T)
    if thermalization is not None:
        thermalization = check_int("thermalization", thermalization, 0)
    if spacing is not None:
        spacing = check_int("spacing", spacing)
    if n_chains is None:
        n_chains = min(n, 2 * LANES if method == "metropolis" else 16)
    n_chains = check_int("n_chains", n_chains)
    if device is not None and method == "metropolis" and L % 2:
        raise ValueError(f"L must be even for the torch checkerboard sampler (device={device!r}); got {L}")
    N = L * L
    sampler = make_sampler(method, L, T, n_chains, seed, device=device, start=start)

    burn = thermalization if thermalization is not None else (100 if method == "metropolis" else 20)
    if isinstance(sampler, NumbaWolff):
        burn = max(0, burn - int(sampler.calibration_sweeps_done))
    if burn:
        sampler.run(burn)
    pilot = 200 if method == "metropolis" else 100
    E, M = sampler.run(pilot, record=True)
    swept = burn + pilot + (int(round(sampler.calibration_sweeps_done)) if isinstance(sampler, NumbaWolff) else 0)
    while True:
        half = E.shape[0] // 2
        te, tm, reliable = _tau_of(E[half:], M[half:], N)
        tau = max(te, tm)
        if (E.shape[0] - half) >= 50 * tau or E.shape[0] >= max_pilot:
            break
        E2, M2 = sampler.run(E.shape[0], record=True)
        swept += E.shape[0]
        E, M = np.concatenate([E, E2]), np.concatenate([M, M2])
    therm = swept
    sp = spacing if spacing is not None else max(1, math.ceil(2 * tau))
    per_chain = -(-n // n_chains)
    out = np.empty((per_chain, n_chains, L, L), np.int8)
    it = range(per_chain)
    if progress:
        it = progress_bar(it, desc=f"T={T:g} {method}", leave=False)
    t0 = time.perf_counter()
    for k in it:
        sampler.run(sp)
        out[k] = sampler.configs()
    # wall time of one sweep of one chain, amortized over the batch of chains (sampling phase only)
    sec_per_sweep = (time.perf_counter() - t0) / (per_chain * sp * n_chains)
    configs = np.ascontiguousarray(out.reshape(-1, L, L)[:n])
    extra = {}
    if isinstance(sampler, NumbaWolff):
        extra["mean_cluster_fraction"] = sampler.mean_cluster_size_fraction()
        extra["flips_per_sweep"] = sampler.flips_per_sweep
    return Ensemble(configs=configs, T=T, method=method, tau_int=float(tau), thermalization=int(therm),
                    spacing=int(sp), seconds_per_sweep=float(sec_per_sweep), tau_int_e=float(te),
                    tau_int_m=float(tm), thermalization_auto=thermalization is None,
                    spacing_auto=spacing is None, tau_reliable=bool(reliable), n_chains=n_chains,
                    seed=int(seed), extra=extra)


def temperature_seed(seed: int, T: float) -> int:
    """Deterministic per-temperature seed from (seed, T); T enters rounded to 1e-6."""
    ss = np.random.SeedSequence([int(seed), int(round(float(T) * 1_000_000))])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


_SCALARS = ("tau_int", "thermalization", "spacing", "seconds_per_sweep", "tau_int_e", "tau_int_m",
            "thermalization_auto", "spacing_auto", "tau_reliable", "n_chains", "seed")


def cached_ensembles(store, L: int, temperatures, n: int, *, method: str = "auto", seed: int = 0,
                     progress: bool = True, device=None, thermalization: int | None = None,
                     spacing: int | None = None, n_chains: int | None = None) -> dict[float, Ensemble]:
    """Ensembles for each temperature, computed once and cached in ``store`` under the name "ising".

    The key of each temperature is (L, T rounded to 6 decimals, n, method, seed, VERSION,
    backend and any explicit sampler settings); the sampler seed of each temperature is
    :func:`temperature_seed`(seed, T), so adding temperatures never changes the others.
    ``device`` None (default) uses the numba CPU kernels; a torch device runs Metropolis
    on torch (a separate cache entry). Returns {T: Ensemble} in the order given.
    """
    L = check_L(L)
    n = check_int("n", n)
    _check_method(method)
    temps = [round(check_T(t), 6) for t in np.atleast_1d(np.asarray(temperatures, dtype=float)).tolist()]
    if not temps:
        raise ValueError("temperatures must contain at least one temperature")
    backend = "numba" if device is None else f"torch:{device}"
    out: dict[float, Ensemble] = {}
    it = temps
    if progress:
        it = progress_bar(temps, desc=f"Ising L={L}")
    for T in it:
        params = {"L": L, "T": T, "n": n, "method": method, "seed": seed, "version": VERSION,
                  "backend": backend, "thermalization": thermalization, "spacing": spacing,
                  "n_chains": n_chains}

        def compute(T=T):
            ens = sample_ensemble(L, T, n, method, temperature_seed(seed, T), thermalization=thermalization,
                                  spacing=spacing, n_chains=n_chains, device=device)
            arrs = {"configs": ens.configs, "method": np.array(ens.method)}
            arrs.update({k: np.array(getattr(ens, k)) for k in _SCALARS})
            arrs["mean_cluster_fraction"] = np.array(ens.extra.get("mean_cluster_fraction", np.nan))
            return arrs

        a = store.arrays("ising", params, compute)
        kw = {k: a[k].item() for k in _SCALARS}
        extra = {}
        if "mean_cluster_fraction" in a and np.isfinite(a["mean_cluster_fraction"]):
            extra["mean_cluster_fraction"] = float(a["mean_cluster_fraction"])
        out[T] = Ensemble(configs=a["configs"], T=T, method=str(a["method"]), extra=extra, **kw)
    return out


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


def metropolis_from(configs, T: float, n_sweeps: int, seed: int = 0, device=None) -> np.ndarray:
    """``n_sweeps`` Metropolis sweeps of every configuration, each its own chain (the hybrid arm).

    ``configs``: (n, L, L) ±1, e.g. a generator's samples; returns int8 (n, L, L). One sweep is L²
    attempted single-spin flips. ``device`` None: the lane-vectorized numba kernel (typewriter
    order, the fast CPU path); a torch device: the checkerboard kernel (even L). Either leaves the
    Boltzmann distribution at ``T`` invariant, so the sweeps can only move an ensemble towards it;
    they make no ensemble exact. ``n_sweeps`` = 0 returns the configurations unchanged.
    """
    x = np.asarray(configs)
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


# --------------------------------------------------------------------------- autocorrelation scan
def tau_scan(L: int, temperatures, methods=("metropolis", "wolff"), seed: int = 0, n_chains: int = 64,
             samples_per_chain: int = 8, progress: bool = True, min_seconds: float = 0.2) -> dict:
    """Measured τ_int and cost of each sampler at each temperature (for τ-vs-T figures).

    For every (method, T) runs :func:`sample_ensemble` with ``n_chains`` chains and
    ``samples_per_chain`` kept configurations per chain (numba kernels). Returns
    {method: {"T", "tau_int", "tau_int_e", "tau_int_m", "seconds_per_sweep",
    "seconds_per_independent", "reliable"}} of lists; seconds_per_independent =
    2 τ_int × seconds_per_sweep (wall time per effectively independent configuration of
    one chain, amortized over the batch), with the sweep time measured separately on a
    long uninterrupted run (≥ ``min_seconds``) so call overheads do not dominate at small L.
    """
    L = check_L(L)
    temps = [check_T(t) for t in temperatures]
    for m in methods:
        if m not in ("metropolis", "wolff"):
            raise ValueError(f"methods must contain only 'metropolis' and 'wolff'; got {m!r}")
    n_chains = check_int("n_chains", n_chains)
    samples_per_chain = check_int("samples_per_chain", samples_per_chain)
    jobs = [(m, T) for m in methods for T in temps]
    out = {m: {k: [] for k in ("T", "tau_int", "tau_int_e", "tau_int_m", "seconds_per_sweep",
                               "seconds_per_independent", "reliable")} for m in methods}
    it = jobs
    if progress:
        it = progress_bar(jobs, desc=f"tau_int L={L}")
    for m, T in it:
        ens = sample_ensemble(L, T, n_chains * samples_per_chain, m, temperature_seed(seed, T),
                              n_chains=n_chains)
        sweep_s = time_sweeps(m, L, T, n_chains, seed, min_seconds)
        d = out[m]
        d["T"].append(T)
        d["tau_int"].append(ens.tau_int)
        d["tau_int_e"].append(ens.tau_int_e)
        d["tau_int_m"].append(ens.tau_int_m)
        d["seconds_per_sweep"].append(sweep_s)
        d["seconds_per_independent"].append(2 * ens.tau_int * sweep_s)
        d["reliable"].append(ens.tau_reliable)
    return out


def tau_size_scan(sizes, T: float, methods=("metropolis", "wolff"), replicas: int = 4, n_chains: int = 64,
                  seed: int = 0, progress: bool = True) -> dict:
    """τ_int against L at one temperature, with an error from independent replicas (for z at T_c).

    For every (method, L) runs :func:`sample_ensemble` ``replicas`` times with independent seeds and
    ``n_chains`` chains each (each run thermalizes and measures its own τ_int, in sweeps, for the
    slower of e and |m|), and times one sweep with :func:`time_sweeps` on the same batch of chains.
    Returns {method: {"L", "tau_runs" (per L, the ``replicas`` values), "tau_int" (their mean),
    "tau_err" (std / sqrt(replicas)), "reliable" (every run's series ≥ 50 τ_int), "seconds_per_sweep",
    "seconds_per_independent" (2 τ_int × sweep time, per chain)}} of lists.
    """
    Ls = sorted({check_L(int(x)) for x in sizes})
    T = check_T(T)
    replicas = check_int("replicas", replicas, lo=2)
    n_chains = check_int("n_chains", n_chains)
    for m in methods:
        if m not in ("metropolis", "wolff"):
            raise ValueError(f"methods must contain only 'metropolis' and 'wolff'; got {m!r}")
    jobs = [(m, L) for m in methods for L in Ls]
    if progress:
        jobs = progress_bar(jobs, desc=f"tau_int vs L at T={T:g}")
    out = {m: {"L": Ls, "tau_runs": [], "reliable": [], "seconds_per_sweep": []} for m in methods}
    for m, L in jobs:
        runs = []
        for r in range(replicas):
            run_seed = int(np.random.SeedSequence([seed, 4, L, r]).generate_state(1)[0] >> 1)
            runs.append(sample_ensemble(L, T, n_chains, m, seed=run_seed, n_chains=n_chains))
        d = out[m]
        d["tau_runs"].append([e.tau_int for e in runs])
        d["reliable"].append(all(e.tau_reliable for e in runs))
        # the per-chain sweep cost depends on the batch, so it is timed with the same number of chains
        d["seconds_per_sweep"].append(time_sweeps(m, L, T, n_chains, seed))
    for d in out.values():
        runs = np.array(d["tau_runs"], float)
        d["tau_int"] = runs.mean(1).tolist()
        d["tau_err"] = (runs.std(1, ddof=1) / np.sqrt(runs.shape[1])).tolist()
        d["seconds_per_independent"] = (2 * runs.mean(1) * np.array(d["seconds_per_sweep"])).tolist()
    return out


def cached_tau_size_scan(store, sizes, T: float, replicas: int = 4, n_chains: int = 64, seed: int = 0) -> dict:
    """:func:`tau_size_scan` of both samplers through the artifact store (chapter 03's τ_int(L) at T_c).

    The key is (sizes, T rounded to 6 decimals, n_chains, replicas, seed, VERSION), so every chapter
    that asks for the same scan reuses one artifact.
    """
    T6 = round(check_T(T), 6)
    Ls = sorted({check_L(int(x)) for x in sizes})
    return store.json("ising_tau_vs_L", {"L": Ls, "T": T6, "chains_per_run": n_chains, "runs": replicas,
                                         "seed": seed, "version": VERSION, "layout": 2},
                      lambda: tau_size_scan(Ls, T6, replicas=replicas, n_chains=n_chains, seed=seed))


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
