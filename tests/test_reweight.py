"""Exact correction of the adsorption generator (adsorbstudy.analysis.reweight, DESIGN §3 "Trajectory likelihood").

The trajectory log-probabilities are checked by enumerating every trajectory of an L = 2 model
(4 sites, K = 2: 2¹² trajectories); the KL bound against the exact model marginal; SNIS, ln Z and
IMH statistically against the exact enumeration of the L = 4 (2¹⁶ states) and L = 2 tori. Seeds are
derived from the test names.
"""
import json
import math
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import chisquare

from adsorbstudy.analysis import reweight
from adsorbstudy.generators import train
from adsorbstudy.generators.families import build
from adsorbstudy.physics import exact, lattice

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def all_spins(L: int) -> np.ndarray:
    """Every ±1 configuration of the L×L torus, (2^(L²), L, L), state index = binary code."""
    N = L * L
    bits = (np.arange(2**N)[:, None] >> np.arange(N)) & 1
    return (2 * bits - 1).reshape(-1, L, L).astype(np.int8)


def state_index(spins: np.ndarray) -> np.ndarray:
    N = spins.shape[1] * spins.shape[2]
    return (((np.asarray(spins).reshape(len(spins), N) > 0).astype(np.int64)) << np.arange(N)).sum(1)


def boltzmann(L: int, T: float) -> np.ndarray:
    """π over all states from the library's own energy function (total energy N·e)."""
    lw = -L * L * lattice.energy(all_spins(L)) / T
    return np.exp(lw - logsumexp(lw))


def tiny_model(kind="adsorption", L=2, K=2, seed=0, std=0.4):
    """An untrained model with a random output head, so every logit differs and the lateral solve iterates."""
    torch.manual_seed(seed)
    m = build(kind, L, K=K, base=4, depth=1, emb_dim=8).eval()
    torch.nn.init.normal_(m.net.out.weight, std=std)
    torch.nn.init.normal_(m.net.out.bias, std=std)
    return m


def all_paths(L: int, K: int) -> torch.Tensor:
    """Every trajectory (s_0, …, s_K) of occupancies, (2^(N(K+1)), K+1, L, L)."""
    N = L * L
    n_var = N * (K + 1)
    bits = (torch.arange(2**n_var)[:, None] >> torch.arange(n_var)) & 1
    return bits.reshape(-1, K + 1, L, L).to(torch.float32)


# --------------------------------------------------------------------------- the sampler's bookkeeping
def test_torch_rand_is_on_the_24_bit_grid():
    """sampled_bernoulli_log_prob assumes float32 uniforms j·2⁻²⁴; guard it against a torch change."""
    u = torch.rand(1_000_000, generator=torch.Generator().manual_seed(seed_of("grid"))).to(torch.float64) * 2**24
    assert torch.equal(u, torch.floor(u)) and float(u.max()) < 2**24


@pytest.mark.parametrize("kind", ["adsorption", "adsorption-nolateral"])
def test_sample_with_logprob_keeps_samples_and_books_the_path(kind):
    m = tiny_model(kind, L=4, K=3, seed=seed_of(kind) % 1000)
    s = m.sample(40, 2.3, seed=7)
    s2, lp, lq, path = m.sample_with_logprob(40, 2.3, seed=7, return_path=True)
    assert torch.equal(s, s2), "sample_with_logprob must draw exactly what sample() draws"
    assert torch.equal(path[:, 0], (s.to(torch.float32) + 1) / 2)
    # the one-pass accumulation equals the teacher-forced evaluation of the same trajectories
    lp2, lq2 = m.trajectory_log_prob(path, 2.3)
    np.testing.assert_allclose(lp.numpy(), lp2.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(lq.numpy(), lq2.numpy(), rtol=0, atol=1e-9)
    assert lp.dtype == torch.float64 and lq.dtype == torch.float64


@pytest.mark.parametrize("kind", ["adsorption", "adsorption-nolateral"])
def test_enumerated_trajectories_sum_to_one_and_weights_to_z(kind):
    """L = 2, depth 1, K = 2: Σ p_θ(traj) = 1 and Σ p_θ w = Z over all 2¹² trajectories, to 1e-10."""
    L, K, T = 2, 2, 2.1
    m = tiny_model(kind, L, K, seed=seed_of(kind) % 1000)
    paths = all_paths(L, K)
    lp, lq = m.trajectory_log_prob(paths, T)
    assert abs(math.exp(logsumexp(lp.numpy())) - 1) < 1e-10
    spins = (2 * paths[:, 0] - 1).to(torch.int8).numpy()
    lw = reweight.log_weights(spins, lp, lq, T)
    logZ = logsumexp(-L * L * lattice.energy(all_spins(L)) / T)  # the library's own energy, enumerated
    assert abs(math.exp(logsumexp(lp.numpy() + lw) - logZ) - 1) < 1e-10
    # the same with the ideal Bernoulli (the ELBO's model)
    lpi, _ = m.trajectory_log_prob(paths, T, sampled=False)
    assert abs(math.exp(logsumexp(lpi.numpy())) - 1) < 1e-10
    # the forward chain alone is normalised for every s_0
    per_s0 = logsumexp(lq.numpy().reshape(2 ** (L * L * K), 2 ** (L * L)), axis=0)
    np.testing.assert_allclose(per_s0, 0.0, atol=1e-12)


def test_sampled_s0_follow_the_enumerated_marginal():
    """The density booked is the one sampled: the s_0 histogram of 40000 draws against Σ_{s_1:K} p_θ."""
    L, K, T = 2, 2, 2.1
    m = tiny_model("adsorption", L, K, seed=3)
    lp, _ = m.trajectory_log_prob(all_paths(L, K), T)
    marg = np.exp(logsumexp(lp.numpy().reshape(-1, 2 ** (L * L)), axis=0))
    s = m.sample(40_000, T, seed=seed_of("marginal")).numpy()
    counts = np.bincount(state_index(s), minlength=16)
    assert chisquare(counts, marg * counts.sum()).pvalue > 1e-4
    assert chisquare(counts, boltzmann(L, T) * counts.sum()).pvalue < 1e-6, "the test needs p_θ ≠ π to have power"


# --------------------------------------------------------------------------- the KL bound
def test_kl_bound_is_the_exact_path_kl_and_bounds_the_marginal_kl():
    L, K, T = 2, 2, 2.1
    N = L * L
    m = tiny_model("adsorption", L, K, seed=5)
    paths = all_paths(L, K)
    lp, lq = m.trajectory_log_prob(paths, T, sampled=False)
    lp, lq = lp.numpy().reshape(-1, 2**N), lq.numpy().reshape(-1, 2**N)  # (s_1:K, s_0)
    pi = boltzmann(L, T)
    neg_elbo = (np.exp(lq) * (lq - lp)).sum(0)                     # E_q[log q − log p], exactly, per s_0
    marg = np.exp(logsumexp(lp, axis=0))                           # p_θ(s_0)
    H = -(pi * np.log(pi)).sum()
    kl_exact = (pi * np.log(pi / marg)).sum()
    configs = all_spins(L)
    bound, _ = reweight.kl_bound_from_nll(neg_elbo / N, configs, T, weights=pi)
    target = ((pi * neg_elbo).sum() - H) / N
    assert bound == pytest.approx(target, abs=1e-10)
    assert bound >= kl_exact / N - 1e-12 and kl_exact > 0
    # the two classic slips give other numbers, by far more than the tolerance above
    e = lattice.energy(configs)
    lnZ = float(exact.log_partition(L, T))
    wrong_z = pi @ (neg_elbo / N - e / T - lnZ)
    wrong_t = pi @ (neg_elbo / N - e * T - lnZ / N)
    assert abs(wrong_z - target) > 1e-2 and abs(wrong_t - target) > 1e-2
    # the library's one-draw −ELBO (nll_bound) averages to the exact one
    draws = np.stack([m.nll_bound(configs, T, seed=s) for s in range(100)])
    z = (draws.mean(0) - neg_elbo / N) / (draws.std(0, ddof=1) / math.sqrt(len(draws)) + 1e-15)
    assert np.all(np.abs(z) < 5)
    # the model-level call is that arithmetic
    b2, err2 = reweight.kl_bound(m, configs, T, seed=1)
    b3, _ = reweight.kl_bound_from_nll(m.nll_bound(configs, T, seed=1), configs, T)
    assert b2 == b3 and err2 > 0


# --------------------------------------------------------------------------- SNIS and ln Z against L = 4 enumeration
@pytest.fixture(scope="module")
def trained_l4():
    """An adsorption model briefly trained (200 steps) on exact L = 4 Boltzmann samples at T = 2.5 and 3.5."""
    rng = np.random.default_rng(seed_of("trained_l4"))
    states = all_spins(4)
    data = {T: states[rng.choice(len(states), size=2000, p=boltzmann(4, T))] for T in (2.5, 3.5)}
    torch.manual_seed(seed_of("trained_l4") % 10_000)
    m = build("adsorption", 4, K=4, base=8, depth=1, emb_dim=16)
    with tempfile.TemporaryDirectory() as d:
        train.fit(m, data, dict(steps=200, batch=64, lr=3e-3, val_every=100, ckpt_every=1000,
                                seed=seed_of("fit") % 10_000), d, progress=False)
    return m.eval()


@pytest.mark.parametrize("T", [2.5, 3.5])
def test_snis_reproduces_exact_l4_and_raw_does_not(trained_l4, T):
    ex = exact.enumerate_exact(4, T)
    for rep in range(2):
        seed = seed_of(f"snis-{T}-{rep}")
        s, lp, lq = trained_l4.sample_with_logprob(4000, T, seed=seed)
        lw = reweight.log_weights(s, lp, lq, T)
        st = reweight.weighted_stats(s, T, lw)
        raw = reweight.weighted_stats(s, T)
        lz, lz_err = reweight.log_partition(lw)
        assert st["ess"] > 50, "the test needs a usable ESS"
        assert st["ess"] == pytest.approx(reweight.ess(lw))
        for key, ref in (("e", ex["e"]), ("C", ex["c"]), ("m_abs", ex["m_abs"]), ("chi", ex["chi"]), ("U4", ex["U4"])):
            assert abs(st[key] - float(ref)) < 4 * st[f"{key}_err"], (key, st[key], st[f"{key}_err"], float(ref))
        assert abs(lz - float(ex["log_z"])) < 4 * lz_err
        # the uncorrected samples are demonstrably wrong
        assert abs(raw["e"] - float(ex["e"])) > 10 * raw["e_err"]


def test_weighted_stats_equal_weights_match_metrics():
    """Equal weights: the same point values as metrics.thermo_stats, and σ/√n for e."""
    from adsorbstudy.physics import observables

    x = np.where(np.random.default_rng(seed_of("eq")).random((300, 4, 4)) < 0.6, 1, -1).astype(np.int8)
    a = reweight.weighted_stats(x, 2.0)
    b = observables.thermo_stats(x, 2.0, n_boot=50)
    for k in reweight.OBSERVABLES:
        assert a[k] == pytest.approx(b[k], rel=1e-12)
    assert a["e_err"] == pytest.approx(lattice.energy(x).std() / math.sqrt(300), rel=1e-12)
    assert reweight.weighted_stats(x, 2.0, np.zeros(300))["C"] == pytest.approx(a["C"], rel=1e-12)


def test_delta_method_errors_match_the_bootstrap():
    """Equal weights: every delta-method error agrees with metrics' bootstrap error (independent method)."""
    from adsorbstudy.physics import observables

    rng = np.random.default_rng(seed_of("delta"))
    p_up = rng.uniform(0.5, 1.0, size=(2000, 1, 1))           # from ordered to random: ⟨e⟩ and ⟨m⟩ far from 0
    x = np.where(rng.random((2000, 6, 6)) < p_up, 1, -1).astype(np.int8)
    a = reweight.weighted_stats(x, 2.0)
    b = observables.thermo_stats(x, 2.0, n_boot=400, seed=seed_of("boot"))
    for k in reweight.OBSERVABLES:
        assert a[f"{k}_err"] == pytest.approx(b[f"{k}_err"], rel=0.2), k


def test_log_partition_error_is_the_delta_method():
    lw = np.random.default_rng(seed_of("lz")).normal(size=500)
    w = np.exp(lw)
    val, err = reweight.log_partition(lw)
    assert val == pytest.approx(math.log(w.mean()))
    assert err == pytest.approx(w.std(ddof=1) / math.sqrt(500) / w.mean(), rel=1e-9)
    assert reweight.ess(np.zeros(10)) == pytest.approx(10)


# --------------------------------------------------------------------------- IMH
def forward_chain(s0: torch.Tensor, m, gen: torch.Generator) -> torch.Tensor:
    """s_1 … s_K by the forward chain q(s_k|s_{k−1}) (flip each site with probability β_k/2): (n, K+1, L, L)."""
    path = [s0]
    for k in range(1, m.K + 1):
        flip = torch.rand(s0.shape, generator=gen, dtype=torch.float64) < float(m.beta[k]) / 2
        path.append(torch.where(flip, 1 - path[-1], path[-1]))
    return torch.stack(path, 1)


def test_imh_leaves_boltzmann_invariant():
    """Chains started in the stationary law π q; after 40 IMH steps the s_0 are still Boltzmann (chi-square)."""
    L, K, T, chains, steps = 2, 2, 2.1, 3000, 40
    m = tiny_model("adsorption", L, K, seed=9)
    seed = seed_of("imh")
    gen = torch.Generator().manual_seed(seed % 2**31)
    pi = boltzmann(L, T)
    states = all_spins(L)
    start0 = torch.as_tensor((states[np.random.default_rng(seed).choice(16, size=chains, p=pi)] + 1) // 2,
                             dtype=torch.float32)
    start = forward_chain(start0, m, gen)
    lp0, lq0 = m.trajectory_log_prob(start, T)
    lw0 = reweight.log_weights((2 * start0 - 1).to(torch.int8), lp0, lq0, T)
    s, lp, lq = m.sample_with_logprob(chains * steps, T, seed=seed % 2**31)
    lw = reweight.log_weights(s, lp, lq, T).reshape(chains, steps)
    allx = s.numpy().reshape(chains, steps, L, L)
    final, accs = [], []
    for c in range(chains):
        idx, acc = reweight.imh(np.concatenate([[lw0[c]], lw[c]]), seed=seed + c)
        accs.append(acc)
        final.append(start0[c].numpy() * 2 - 1 if idx[-1] == 0 else allx[c, idx[-1] - 1])
    counts = np.bincount(state_index(np.array(final)), minlength=16)
    assert 0.05 < np.mean(accs) < 0.95
    assert chisquare(counts, pi * chains).pvalue > 1e-4
    # the proposals themselves are not Boltzmann: the test has power
    cp = np.bincount(state_index(allx[:, -1]), minlength=16)
    assert chisquare(cp, pi * chains).pvalue < 1e-6


def test_imh_chain_and_stats():
    lw = np.array([0.0, -50.0, 0.0, 50.0, -1.0])
    chain, acc = reweight.imh(lw, seed=0)
    assert chain[0] == 0 and chain[1] == 0 and chain[3] == 3 and chain[4] in (3, 4)
    x = np.where(np.random.default_rng(seed_of("imhs")).random((200, 4, 4)) < 0.5, 1, -1).astype(np.int8)
    st = reweight.imh_stats(x, 2.5, np.zeros(200), seed=1)
    assert st["acceptance"] == 1.0 and st["tau_int"] < 2
    with pytest.raises(ValueError, match="log_w"):
        reweight.imh(np.array([0.0, np.nan]))


# --------------------------------------------------------------------------- hybrid arm
@pytest.mark.parametrize("device", [None, "cpu"])
def test_hybrid_moves_towards_boltzmann_and_zero_is_identity(device):
    L, T = 4, 2.5
    rng = np.random.default_rng(seed_of(f"hybrid-{device}"))
    x = np.where(rng.random((2000, L, L)) < 0.5, 1, -1).astype(np.int8)     # infinite-temperature start
    out = reweight.hybrid(x, T, sweeps=(0, 1, 64), seed=seed_of("h"), device=device)
    assert np.array_equal(out[0][0], x)
    ex = float(exact.enumerate_exact(L, T)["e"])
    d = {n: abs(lattice.energy(c).mean() - ex) for n, (c, _) in out.items()}
    assert d[1] < 0.8 * d[0] and d[64] < d[1]
    st = reweight.weighted_stats(out[64][0], T)
    assert abs(st["e"] - ex) < 4 * st["e_err"]
    assert out[64][1] >= out[1][1] >= 0


# --------------------------------------------------------------------------- results file and verdict
def test_exact_csv_round_trip_and_verdict(tmp_path):
    L, T = 4, 2.5
    x = np.where(np.random.default_rng(seed_of("csv")).random((100, L, L)) < 0.5, 1, -1).astype(np.int8)
    st = reweight.weighted_stats(x, T)
    mc = dict(st)
    rows = [reweight.exact_row("m", T, "raw", st, L, mc, seconds=2.0),
            reweight.exact_row("m", T, "snis", st, L, mc, seconds=2.0, logz=(float(exact.log_partition(L, T)), 0.1),
                               kl=(0.01, 0.001))]
    p = reweight.write_exact_csv(tmp_path / "exact.csv", rows)
    back = reweight.read_exact_csv(p)
    assert back[1]["logz"] == pytest.approx(float(exact.log_partition(L, T)) / L**2)
    assert back[1]["z_logz"] == pytest.approx(0.0, abs=1e-12)
    assert back[0]["seconds_per_effective_sample"] == pytest.approx(0.02)
    assert back[1]["ess_ceiling"] == pytest.approx(math.exp(-0.16))
    assert back[0]["z_m_abs"] == pytest.approx(0.0)
    v = reweight.exact_verdict(back, (2.0, 3.0))
    assert v["m"]["snis"]["inside"]["ess_frac_min"] == 1.0
    assert v["m"]["bar"]["abs_z_e_c_le_3_inside"] is False          # raw-like rows: e is far from exact
    assert v["m"]["bar"]["abs_z_logz_le_3"] is True


def test_bad_input_raises():
    x = np.ones((3, 4, 4), np.int8)
    with pytest.raises(ValueError, match="log_p"):
        reweight.log_weights(x, np.zeros(2), np.zeros(3), 2.0)
    with pytest.raises(ValueError, match="T must"):
        reweight.log_weights(x, np.zeros(3), np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="sweeps"):
        reweight.hybrid(x, 2.0, sweeps=(-1,))
    m = tiny_model("adsorption", 4, 2)
    with pytest.raises(ValueError, match="path"):
        m.trajectory_log_prob(torch.zeros(2, 2, 4, 4), 2.0)


# --------------------------------------------------------------------------- benchmark
def test_reweight_overhead_benchmark_quick():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reweight_overhead.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["quick"] is True
    for r in out["results"]:
        for k in ("seconds_plain", "seconds_logprob", "ratio"):
            assert math.isfinite(r[k]) and r[k] > 0
        assert r["same_samples"] is True


def test_imh_ess_and_error_bars_assume_one_tau():
    """The IMH row's ESS is n/(2τ) with the τ that widens its error bars: the e error equals the
    equal-weight error of the chain's states × √(2τ), and τ = max(τ_e, τ_|m|), computed here by hand."""
    from adsorbstudy.physics.autocorr import integrated_autocorr_time

    rng = np.random.default_rng(seed_of("imh-tau"))
    # proposals in two blocks, 12 and then 8 up-spins of 16 at random places: |m| steps from 0.5 to 0 along
    # the chain while e stays noisy, so τ_|m| > τ_e and a row that used τ_e alone would differ
    ups = np.r_[np.full(200, 12), np.full(200, 8)]
    x = -np.ones((400, 16), np.int8)
    for i, u in enumerate(ups):
        x[i, rng.permutation(16)[:u]] = 1
    x = x.reshape(400, 4, 4)
    lw = rng.normal(0.0, 1.5, 400)  # rejections make the chain sticky, so τ > 1/2
    st = reweight.imh_stats(x, 2.5, lw, seed=3)
    states = x[st["chain"]]
    tau = max(integrated_autocorr_time(lattice.energy(states))[0],
              integrated_autocorr_time(np.abs(lattice.magnetization(states)))[0])
    assert st["tau_int_m"] > st["tau_int_e"] and st["tau_int"] == pytest.approx(tau)
    assert st["ess"] == pytest.approx(400 / (2 * tau))
    plain = reweight.weighted_stats(states, 2.5)
    for k in ("e", "m_abs"):
        assert st[f"{k}_err"] == pytest.approx(plain[f"{k}_err"] * np.sqrt(2 * tau), rel=1e-9)


def test_corrected_rows_hybrid_arm_on_the_first_n_hybrid_samples():
    """With n_hybrid the hybrid rows are those of hybrid_rows on the first n_hybrid samples (same seed),
    with n = n_hybrid, while raw/SNIS/IMH keep every sample."""
    rng = np.random.default_rng(seed_of("nhyb"))
    x = np.where(rng.random((60, 4, 4)) < 0.5, 1, -1).astype(np.int8)
    lw = rng.normal(0.0, 0.3, 60)
    mc = reweight.weighted_stats(x, 2.5)
    rows = reweight.corrected_rows("m", x, lw, 2.5, mc, 6.0, sweeps=(1, 4), seed=5, n_hybrid=20)
    by = {r["method"]: r for r in rows}
    assert by["raw"]["n"] == by["snis"]["n"] == 60
    ref = {r["method"]: r for r in reweight.hybrid_rows("m", x[:20], 2.5, mc, 2.0, sweeps=(1, 4), seed=5)}
    for k in ("hybrid-1", "hybrid-4"):
        assert by[k]["n"] == 20 and by[k]["e"] == ref[k]["e"] and by[k]["e_err"] == ref[k]["e_err"]
    with pytest.raises(ValueError, match="n_hybrid"):
        reweight.corrected_rows("m", x, lw, 2.5, mc, 6.0, sweeps=(1,), n_hybrid=61)


def test_small_ess_bias_matches_simulated_studies_with_known_weights():
    """The stated shortfalls against 20,000 simulated SNIS estimates with known answers: observable
    e ~ N(0, 1) independent of log-normal weights (σ = 1), so the weighted plug-in variance has
    expectation exactly 1 − E[Σw̄²], and Z = E[w] = exp(σ²/2) is known for ln Ẑ."""
    rng = np.random.default_rng(seed_of("small-ess"))
    R, n, sig = 20000, 40, 1.0
    lw = rng.normal(0.0, sig, (R, n))
    e = rng.normal(0.0, 1.0, (R, n))
    w = np.exp(lw - lw.max(1, keepdims=True))
    wbar = w / w.sum(1, keepdims=True)
    var_w = (wbar * e ** 2).sum(1) - (wbar * e).sum(1) ** 2
    ess_r = 1.0 / (wbar ** 2).sum(1)
    stated = np.array([reweight.small_ess_bias(float(x), n)["c_chi_shortfall"] for x in ess_r])
    # variance shortfall: mean(1 - var_w) against the mean stated 1/ESS, within 4 standard errors
    short = 1.0 - var_w
    assert abs(short.mean() - stated.mean()) < 4 * short.std() / np.sqrt(R)
    # ln Z: the mean of ln Ẑ - ln Z against minus the mean stated rel²/2 (delta method: within 15 %)
    logz_hat = np.log(np.exp(lw).mean(1))
    observed = sig ** 2 / 2 - logz_hat.mean()
    lz = np.mean([reweight.small_ess_bias(float(x), n)["logz_shortfall"] for x in ess_r])
    assert observed > 0 and abs(observed - lz) < 0.15 * lz + 4 * logz_hat.std() / np.sqrt(R)
    with pytest.raises(ValueError, match="ess must"):
        reweight.small_ess_bias(0.5, 40)
