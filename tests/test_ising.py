"""Monte Carlo samplers against exact enumeration and the exact finite torus; observables; caching."""
import math

import numba
import numpy as np
import pytest
import torch

from adsorbstudy.physics import autocorr, ensembles, exact, grids, lattice, montecarlo
from adsorbstudy.physics.observables import thermo_stats
from adsorbstudy.study.store import Store

SAMPLERS = [("metropolis", None), ("wolff", None), ("metropolis", "cpu")]  # None: numba kernels


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # torch's CPU thread pool spin-waits badly when other test processes share the two
    # cores; the torch sampler is the GPU path, so one CPU thread is plenty here
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --------------------------------------------------------------------------- observables
def _handmade(L=8):
    i, j = np.indices((L, L))
    up = np.ones((L, L), np.int8)
    checker = np.where((i + j) % 2 == 0, 1, -1).astype(np.int8)
    stripes1 = np.where(i % 2 == 0, 1, -1).astype(np.int8)         # rows alternate
    stripes2 = np.where((j // 2) % 2 == 0, 1, -1).astype(np.int8)  # columns in pairs
    one_flip = up.copy()
    one_flip[3, 5] = -1
    configs = np.stack([up, -up, checker, stripes1, stripes2, one_flip])
    N = L * L
    e = np.array([-2.0, -2.0, 2.0, 0.0, -1.0, -2.0 + 8.0 / N])
    m = np.array([1.0, -1.0, 0.0, 0.0, 0.0, 1.0 - 2.0 / N])
    return configs, e, m


def test_observables_on_handmade_configurations():
    configs, e, m = _handmade()
    np.testing.assert_allclose(lattice.energy(configs), e, atol=1e-15)
    np.testing.assert_allclose(lattice.magnetization(configs), m, atol=1e-15)
    # single configuration (L, L) gives a scalar
    assert float(lattice.energy(configs[2])) == 2.0


def test_observables_accept_torch_and_match_numpy():
    configs, e, m = _handmade()
    t = torch.as_tensor(configs)
    assert isinstance(lattice.energy(t), torch.Tensor)
    np.testing.assert_allclose(lattice.energy(t).numpy(), e, atol=1e-6)
    np.testing.assert_allclose(lattice.magnetization(t.float()).numpy(), m, atol=1e-6)
    rng = np.random.default_rng(0)
    x = (2 * rng.integers(0, 2, size=(20, 6, 6)) - 1).astype(np.int8)
    np.testing.assert_allclose(lattice.energy(torch.as_tensor(x)).double().numpy(), lattice.energy(x), atol=1e-6)


def test_energy_is_a_bond_sum_counted_once():
    # direct double loop over bonds (i,j)-(i+1,j) and (i,j)-(i,j+1)
    rng = np.random.default_rng(1)
    for L in (2, 3, 5):
        s = (2 * rng.integers(0, 2, size=(L, L)) - 1)
        E = 0
        for a in range(L):
            for b in range(L):
                E -= s[a, b] * (s[(a + 1) % L, b] + s[a, (b + 1) % L])
        assert lattice.energy(s.astype(np.int8)) == pytest.approx(E / L**2)


def _brute_totals(s):
    """E = −Σ bonds (each once) and M = Σ s of one (L1, L2) configuration by a plain double loop."""
    L1, L2 = s.shape
    E = -sum(int(s[a, b]) * (int(s[(a + 1) % L1, b]) + int(s[a, (b + 1) % L2])) for a in range(L1) for b in range(L2))
    return E, int(s.sum())


def test_one_bond_sum_for_numpy_torch_and_every_sampler_recorder():
    # e and m have one numba implementation (the samplers' kernel) for numpy callers and the Wolff
    # recorder, and one torch twin (TorchMetropolis, the models); all must give the brute-force
    # integers exactly. Catches a bond counted twice or missed, a wrong wrap on non-square lattices,
    # and a recorder that drifts from the configurations it returns.
    rng = np.random.default_rng(int.from_bytes(b"one-bond-sum", "little") % 2**32)
    for shape in [(3, 2, 2), (4, 3, 5), (5, 6, 6), (2, 1, 7)]:
        s = (2 * rng.integers(0, 2, size=shape) - 1).astype(np.int8)
        want = np.array([_brute_totals(c) for c in s])
        E, M = lattice.lattice_totals(s)
        np.testing.assert_array_equal(np.stack([E, M], 1), want)
        N = shape[1] * shape[2]
        t = torch.as_tensor(s)
        np.testing.assert_array_equal(torch.round(lattice.energy(t) * N).numpy().astype(np.int64), want[:, 0])
        np.testing.assert_array_equal(torch.round(lattice.magnetization(t) * N).numpy().astype(np.int64), want[:, 1])
        from adsorbstudy.generators.blocks import spins_energy_mabs
        e_m = spins_energy_mabs(t)
        assert e_m == pytest.approx((want[:, 0].mean() / N, np.abs(want[:, 1]).mean() / N), abs=1e-12)
    for sampler in (montecarlo.NumbaMetropolis(6, 2.5, 5, seed=1), montecarlo.NumbaWolff(6, 2.0, 3, seed=2),
                    montecarlo.TorchMetropolis(6, 2.5, 3, seed=3)):
        E, M = sampler.run(3, record=True)
        want = np.array([_brute_totals(c) for c in sampler.configs()])
        np.testing.assert_array_equal(np.stack([E[-1], M[-1]], 1), want)


# --------------------------------------------------------------------------- samplers vs exact
@pytest.mark.parametrize("method,device", SAMPLERS)
def test_samplers_match_enumeration_L4(method, device):
    for T in (1.5, 2.27, 3.5):
        ens = ensembles.sample_ensemble(4, T, 12000, method, seed=11, device=device)
        assert ens.configs.shape == (12000, 4, 4) and ens.configs.dtype == np.int8
        assert set(np.unique(ens.configs)) == {-1, 1}
        st = thermo_stats(ens.configs, T)
        en = exact.enumerate_exact(4, T)
        for k, ke in (("e", "e"), ("C", "c"), ("m_abs", "m_abs"), ("chi", "chi"), ("U4", "U4")):
            z = (st[k] - float(en[ke])) / st[k + "_err"]
            assert abs(z) < 4, f"{method}/{device} T={T} {k}: MC {st[k]:.5f} ± {st[k + '_err']:.5f} vs exact {float(en[ke]):.5f}"


@pytest.mark.parametrize("method,device", SAMPLERS)
def test_samplers_match_finite_size_L16(method, device):
    for T in (1.8, exact.TC, 3.0):
        ens = ensembles.sample_ensemble(16, T, 3000, method, seed=5, device=device)
        st = thermo_stats(ens.configs, T)
        e, c = exact.finite_size(16, T)
        assert abs(st["e"] - e) < 4 * st["e_err"], (method, T, st["e"], st["e_err"], float(e))
        assert abs(st["C"] - c) < 4 * st["C_err"], (method, T, st["C"], st["C_err"], float(c))
        assert ens.tau_reliable and ens.tau_int >= 0.5
        assert ens.spacing == max(1, math.ceil(2 * ens.tau_int))
        assert ens.thermalization >= 50 * ens.tau_int


def test_wolff_decorrelates_faster_than_metropolis_at_tc():
    met = ensembles.sample_ensemble(16, exact.TC, 200, "metropolis", seed=3)
    wol = ensembles.sample_ensemble(16, exact.TC, 200, "wolff", seed=3)
    # Metropolis τ_int(|m|) at Tc grows like L^2.17 (≈ 10 sweeps at L = 16); Wolff's stays O(1)
    assert met.tau_int > 3 * wol.tau_int
    assert wol.extra["flips_per_sweep"] >= 1 and 0.2 < wol.extra["mean_cluster_fraction"] < 0.9


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("method,device", SAMPLERS)
def test_same_seed_same_configurations(method, device):
    a = ensembles.sample_ensemble(8, 2.4, 100, method, seed=7, device=device)
    b = ensembles.sample_ensemble(8, 2.4, 100, method, seed=7, device=device)
    c = ensembles.sample_ensemble(8, 2.4, 100, method, seed=8, device=device)
    assert np.array_equal(a.configs, b.configs)
    assert a.tau_int == b.tau_int and a.spacing == b.spacing
    assert not np.array_equal(a.configs, c.configs)


def test_result_independent_of_thread_count():
    old = numba.get_num_threads()
    try:
        out = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out.append([ensembles.sample_ensemble(8, 2.3, 300, m, seed=2).configs for m in ("metropolis", "wolff")])
    finally:
        numba.set_num_threads(old)
    for x, y in zip(*out):
        assert np.array_equal(x, y)


# --------------------------------------------------------------------------- autocorrelation
def test_integrated_autocorr_time_of_ar1():
    # AR(1) x_t = φ x_{t-1} + noise has ρ(t) = φ^t and τ_int = (1 + φ) / (2 (1 − φ))
    rng = np.random.default_rng(0)
    phi, n, chains = 0.8, 20000, 8
    x = np.zeros((n, chains))
    eps = rng.normal(size=(n, chains))
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    tau, reliable = autocorr.integrated_autocorr_time(x)
    assert tau == pytest.approx((1 + phi) / (2 * (1 - phi)), rel=0.05)
    assert reliable
    tau_w, _ = autocorr.integrated_autocorr_time(rng.normal(size=5000))
    assert tau_w == pytest.approx(0.5, abs=0.05)
    assert autocorr.integrated_autocorr_time(np.ones(100)) == (0.5, True)


# --------------------------------------------------------------------------- grids and caching
def test_training_and_test_grids():
    coarse = grids.TRAIN_GRIDS["coarse"]
    assert coarse == [1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2, 3.4]
    fine = grids.TRAIN_GRIDS["fine"]
    extra = [2.05, 2.1, 2.15, 2.25, 2.3, 2.35, 2.45, 2.5]
    assert fine == sorted(coarse + extra) and len(fine) == 18
    assert grids.test_grid(1.0, 4.0, 0.2) == [round(1.0 + 0.2 * k, 2) for k in range(16)]
    assert len(grids.test_grid(1.0, 4.0, 0.1)) == 31
    with pytest.raises(ValueError, match="step"):
        grids.test_grid(1.0, 4.0, 0)
    with pytest.raises(ValueError, match="stop"):
        grids.test_grid(2.0, 1.0, 0.1)


def test_cached_ensembles_reuse_and_per_temperature_seed(tmp_path, monkeypatch):
    store = Store(tmp_path)
    first = ensembles.cached_ensembles(store, 8, [2.0, 3.0], 64, seed=4, progress=False)
    assert set(first) == {2.0, 3.0}
    assert first[2.0].method == "wolff" and first[3.0].method == "metropolis"

    def boom(*a, **k):
        raise AssertionError("recomputed a cached ensemble")

    monkeypatch.setattr(ensembles, "sample_ensemble", boom)
    again = ensembles.cached_ensembles(store, 8, [2.0, 3.0], 64, seed=4, progress=False)
    for T in (2.0, 3.0):
        assert np.array_equal(first[T].configs, again[T].configs)
        assert first[T].tau_int == again[T].tau_int and first[T].spacing == again[T].spacing
        assert again[T].configs.dtype == np.int8
    monkeypatch.undo()
    # a temperature's ensemble does not depend on which other temperatures were asked for
    alone = ensembles.cached_ensembles(Store(tmp_path / "other"), 8, [3.0], 64, seed=4, progress=False)
    assert np.array_equal(alone[3.0].configs, first[3.0].configs)
    assert ensembles.temperature_seed(4, 2.0) != ensembles.temperature_seed(4, 3.0)
    assert ensembles.temperature_seed(4, 2.0) != ensembles.temperature_seed(5, 2.0)


# --------------------------------------------------------------------------- relaxation
def test_metropolis_relaxation():
    L, n_sweeps = 16, 60
    out = montecarlo.metropolis_relaxation(L, 5.0, 200, n_sweeps, seed=1)
    for k in ("e", "m_abs", "e_err", "m_abs_err"):
        assert out[k].shape == (n_sweeps + 1,)
    # random start: e = 0 and |m| ~ sqrt(2/(πN)) on average
    assert abs(out["e"][0]) < 4 * out["e_err"][0]
    assert out["m_abs"][0] == pytest.approx(math.sqrt(2 / (math.pi * L * L)), rel=0.15)
    # at T = 5 relaxation is fast: the tail equals the exact finite-size energy
    e_exact, _ = exact.finite_size(L, 5.0)
    tail, tail_err = out["e"][20:].mean(), out["e_err"][20:].mean() / math.sqrt(4)
    assert abs(tail - e_exact) < 4 * tail_err + 1e-3
    cold = montecarlo.metropolis_relaxation(L, 1.5, 50, 50, seed=1)
    assert cold["e"][-1] < -1.7 and np.all(np.diff(cold["e"][:10]) < 0)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(L=1, T=2.0, n=10), "L must"),
    (dict(L=2.5, T=2.0, n=10), "L must"),
    (dict(L=8, T=0.0, n=10), "T must"),
    (dict(L=8, T=-1.0, n=10), "T must"),
    (dict(L=8, T=float("nan"), n=10), "T must"),
    (dict(L=8, T=2.0, n=0), "n must"),
    (dict(L=8, T=2.0, n=10, method="heatbath"), "method must"),
    (dict(L=8, T=2.0, n=10, spacing=0), "spacing must"),
    (dict(L=7, T=2.0, n=10, method="metropolis", device="cpu"), "even"),
])
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ensembles.sample_ensemble(**kwargs)


def test_bad_input_other_entry_points(tmp_path):
    with pytest.raises(ValueError, match="method must"):
        ensembles.cached_ensembles(Store(tmp_path), 8, [2.0], 10, method="sw", progress=False)
    with pytest.raises(ValueError, match="T must"):
        ensembles.cached_ensembles(Store(tmp_path), 8, [2.0, -1.0], 10, progress=False)
    with pytest.raises(ValueError, match="n_starts"):
        montecarlo.metropolis_relaxation(8, 2.0, 0, 10)
    with pytest.raises(ValueError, match="spins must"):
        lattice.energy(np.ones(5))


def test_tau_scan_and_ensemble_array_protocol():
    scan = ensembles.tau_scan(8, [2.27, 4.0], seed=1, n_chains=16, samples_per_chain=2, progress=False,
                          min_seconds=0.01)
    for m in ("metropolis", "wolff"):
        d = scan[m]
        assert d["T"] == [2.27, 4.0] and all(t >= 0.5 for t in d["tau_int"])
        assert all(s > 0 for s in d["seconds_per_sweep"])
        np.testing.assert_allclose(d["seconds_per_independent"], 2 * np.array(d["tau_int"]) * d["seconds_per_sweep"])
    # Metropolis slows down at Tc relative to T = 4
    assert scan["metropolis"]["tau_int"][0] > scan["metropolis"]["tau_int"][1]
    ens = ensembles.sample_ensemble(6, 3.0, 10, "metropolis", seed=0)
    assert np.asarray(ens) is ens.configs and ens.L == 6
    assert montecarlo.resolve_method("auto", 2.0) == "wolff" and montecarlo.resolve_method("auto", 3.0) == "metropolis"
    with pytest.raises(ValueError, match="methods"):
        ensembles.tau_scan(8, [2.0], methods=("glauber",), progress=False)


def test_tau_size_scan_shows_critical_slowing_down_of_metropolis():
    # at T_c Metropolis τ_int grows roughly like L^2: from L = 4 to L = 16 it must grow by far more
    # than the replica error, while Wolff's stays of order one sweep
    scan = ensembles.tau_size_scan([16, 4], montecarlo.TC, replicas=2, n_chains=16,
                               seed=3, progress=False)
    for m, d in scan.items():
        assert d["L"] == [4, 16] and all(len(d[k]) == 2 for k in ("tau_runs", "tau_int", "tau_err", "reliable"))
        assert all(len(r) == 2 for r in d["tau_runs"])
        assert np.allclose(d["tau_int"], np.mean(d["tau_runs"], axis=1))
        assert np.allclose(d["seconds_per_independent"], 2 * np.array(d["tau_int"]) * np.array(d["seconds_per_sweep"]))
    met, wol = scan["metropolis"], scan["wolff"]
    assert met["tau_int"][1] > 3 * met["tau_int"][0]
    assert met["tau_int"][1] - met["tau_int"][0] > 3 * (met["tau_err"][0] + met["tau_err"][1])
    assert wol["tau_int"][1] < met["tau_int"][1] / 3
    with pytest.raises(ValueError, match="replicas"):
        ensembles.tau_size_scan([4], 2.27, replicas=1, progress=False)


@pytest.mark.parametrize("n_chains", [1, 2, 65])
def test_configs_is_a_snapshot_not_a_view_of_the_live_chain(n_chains):
    """Frames collected one sweep at a time must differ: configs() returned a view for one chain."""
    chain = montecarlo.NumbaMetropolis(8, 2.5, n_chains, seed=3, start="hot")
    first = chain.configs()
    kept = first.copy()
    chain.run(5)
    assert np.array_equal(first, kept) and not np.array_equal(chain.configs(), kept)
