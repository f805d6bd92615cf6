"""The checkerboard adsorption generator (adsorbstudy.generators.checkerboard, DESIGN §3 "Correlated layers").

Exactness is checked by enumeration: every trajectory of an L = 2, K = 2 model (2¹² of them) for the
normalisation and E_p[w] = Z, every first-sublattice draw s_A of an L = 4 layer (2⁸) for the ELBO
term the one-draw estimator must average to. Seeds are fixed or derived from the test names.
"""
import math
import zlib

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import chisquare

from adsorbstudy.analysis import reweight
from adsorbstudy.generators.adsorption import bernoulli_kl_logits
from adsorbstudy.generators.bistability import bistability, layer_counts, summary
from adsorbstudy.generators.checkerboard import CheckerboardGenerator, loss_variance
from adsorbstudy.generators.families import ADSORPTION_KINDS, build, hparams_from, KINDS
from adsorbstudy.physics import lattice

torch.set_num_threads(1)
CB = "adsorption-checkerboard"


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode()) % 100_000


def tiny(L=2, K=2, seed=0, std=0.4, phase=0, ea_bias=0.0, dtype=torch.float32, **hp):
    """An untrained checkerboard model with a random output head (every logit differs, ε_a ≠ 0)."""
    torch.manual_seed(seed)
    m = build(CB, L, K=K, base=4, depth=1, emb_dim=8, phase=phase, **hp).eval()
    torch.nn.init.normal_(m.net.out.weight, std=std)
    torch.nn.init.normal_(m.net.out.bias, std=std)
    with torch.no_grad():
        m.net.out.bias[1] += ea_bias
    m.logit_dtype = dtype
    return m


def all_paths(L: int, K: int) -> torch.Tensor:
    """Every trajectory (s_0, …, s_K) of occupancies, (2^(N(K+1)), K+1, L, L); index k = s_k."""
    n_var = L * L * (K + 1)
    bits = (torch.arange(2**n_var)[:, None] >> torch.arange(n_var)) & 1
    return bits.reshape(-1, K + 1, L, L).to(torch.float32)


def state_index(occ: torch.Tensor) -> np.ndarray:
    """Binary code of occupancies (n, L, L), as ``all_paths`` orders a layer."""
    n = occ.shape[0]
    flat = occ.reshape(n, -1).to(torch.int64)
    return (flat << torch.arange(flat.shape[1])).sum(1).numpy()


def log_z(L: int, T: float) -> float:
    """ln Z of the L×L torus by enumeration with the library's energy (total N·e, bonds once)."""
    N = L * L
    bits = (np.arange(2**N)[:, None] >> np.arange(N)) & 1
    spins = (2 * bits - 1).reshape(-1, L, L)
    return float(logsumexp(-N * lattice.energy(spins) / T))


def pooled(counts, probs, least: float = 5.0):
    """(observed, expected) with the cells expected below ``least`` pooled into one (χ² needs ~5 per cell)."""
    e = probs * counts.sum()
    big = e >= least
    return np.append(counts[big], counts[~big].sum()), np.append(e[big], e[~big].sum())


def random_occ(shape, seed) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5).to(torch.float32)


# --------------------------------------------------------------------------- exact trajectory likelihood
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("phase", [0, 1])
def test_enumerated_trajectories_sum_to_one_and_weights_to_z(phase, dtype):
    """L = 2 torus, K = 2, both colour orders: Σ p_θ = 1 and Σ p_θ w = Z over all 2¹² trajectories to 1e-10."""
    L, K, T = 2, 2, 2.1
    m = tiny(L, K, seed=seed_of(f"enum{phase}"), phase=phase, ea_bias=-1.0, dtype=dtype)
    paths = all_paths(L, K)
    lp, lq = m.trajectory_log_prob(paths, T)
    assert abs(math.exp(logsumexp(lp.numpy())) - 1) < 1e-10
    spins = (2 * paths[:, 0] - 1).to(torch.int8).numpy()
    lw = reweight.log_weights(spins, lp, lq, T)  # w = π̃(s_0) q(s_1:K|s_0) / p_θ(s_0:K), the library's energy
    assert abs(math.exp(logsumexp(lp.numpy() + lw) - log_z(L, T)) - 1) < 1e-10
    lpi, _ = m.trajectory_log_prob(paths, T, sampled=False)  # the ideal Bernoulli of the ELBO
    assert abs(math.exp(logsumexp(lpi.numpy())) - 1) < 1e-10
    # the test has power: the second sublattice's law depends on the first's draw
    k = torch.full((2,), 1, dtype=torch.long)
    sk = paths[:2, 1, None].clone().fill_(1.0)
    s_prev = torch.stack([torch.zeros(1, L, L), torch.ones(1, L, L)])
    lo, hi = m.path_logits(sk, k, torch.full((2,), T), s_prev)
    second = ~m.first_sites(k)[0]
    assert float((lo - hi)[second].detach().abs().min()) > 1e-2 and torch.equal(lo[~second], hi[~second])


@pytest.mark.parametrize("phase", [0, 1])
def test_sampler_books_what_it_draws_and_draws_the_enumerated_law(phase):
    """sample_with_logprob = sample() draw for draw, its log p equals the teacher-forced one, and the
    (s_1, s_0) histogram of 40000 draws follows the enumerated p_θ (χ²)."""
    L, K, T = 2, 2, 1.7
    m = tiny(L, K, seed=seed_of(f"draw{phase}"), phase=phase, ea_bias=-1.5)
    s = m.sample(40_000, T, seed=seed_of("hist"))
    s2, lp, lq, path = m.sample_with_logprob(40_000, T, seed=seed_of("hist"), return_path=True)
    assert torch.equal(s, s2) and torch.equal(path[:, 0], (s.to(torch.float32) + 1) / 2)
    lp2, lq2 = m.trajectory_log_prob(path[:500], T)
    np.testing.assert_allclose(lp[:500].numpy(), lp2.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(lq[:500].numpy(), lq2.numpy(), rtol=0, atol=1e-9)
    elp, _ = m.trajectory_log_prob(all_paths(L, K), T)
    # all_paths orders s_0 fastest, then s_1, then s_2: marginalise s_2
    marg = np.exp(logsumexp(elp.numpy().reshape(16, 256), axis=0))
    counts = np.bincount(state_index(path[:, 0]) + 16 * state_index(path[:, 1]), minlength=256)
    assert chisquare(*pooled(counts, marg)).pvalue > 1e-4
    # a mean-field model with the same weights draws another law: the test can tell them apart
    mf = build("adsorption", L, K=K, base=4, depth=1, emb_dim=8).eval()
    mf.load_state_dict(m.state_dict())
    lmf, _ = mf.trajectory_log_prob(all_paths(L, K), T)
    mf_marg = np.exp(logsumexp(lmf.numpy().reshape(16, 256), axis=0))
    assert chisquare(*pooled(counts, mf_marg)).pvalue < 1e-6


# --------------------------------------------------------------------------- reduction and heat bath
def test_with_zero_lateral_energy_it_is_the_nolateral_model():
    """ε_a ≡ 0: the same logits and, at a fixed seed, the same samples and log-probabilities as no-lateral."""
    L, K, T = 8, 4, 2.3
    torch.manual_seed(11)
    nl = build("adsorption-nolateral", L, K=K, base=4, depth=2, emb_dim=8).eval()
    torch.nn.init.normal_(nl.net.out.weight, std=0.5)
    torch.nn.init.normal_(nl.net.out.bias, std=0.5)
    cb = build(CB, L, K=K, base=4, depth=2, emb_dim=8).eval()
    # (a) the ε_a output forced to zero, the ε_s output the no-lateral network's: bit for bit
    cb.energies = lambda sk, k, T: (lambda e: (e[0], torch.zeros_like(e[0])))(nl.energies(sk, k, T))
    sk, k, Ts = random_occ((6, 1, L, L), 1), torch.tensor([1, 2, 3, 4, 4, 2]), torch.full((6,), T)
    s_prev = random_occ((6, 1, L, L), 2)
    assert torch.equal(cb.path_logits(sk, k, Ts, s_prev), nl.model_logits(sk, k, Ts)[0])
    a, lpa, lqa = nl.sample_with_logprob(64, T, seed=5)
    b, lpb, lqb = cb.sample_with_logprob(64, T, seed=5)
    assert torch.equal(a, b) and torch.equal(lpa, lpb) and torch.equal(lqa, lqb)
    # (b) the same through the weights: the ε_s head copied, the ε_a head zero
    cb2 = build(CB, L, K=K, base=4, depth=2, emb_dim=8).eval()
    sd = nl.state_dict()
    sd["net.out.weight"] = torch.cat([sd["net.out.weight"], torch.zeros_like(sd["net.out.weight"])])
    sd["net.out.bias"] = torch.cat([sd["net.out.bias"], torch.zeros_like(sd["net.out.bias"])])
    cb2.load_state_dict(sd)
    np.testing.assert_allclose(cb2.path_logits(sk, k, Ts, s_prev).detach(), nl.model_logits(sk, k, Ts)[0].detach(),
                               rtol=0, atol=1e-5)
    assert torch.equal(cb2.sample(64, T, seed=5), a)


def heat_bath_energies(m, sk, k, T):
    """ε_a = −4J/T and ε_s = logit x_b + ε_a (z_b n_b − z_a/2), in the model's logit dtype (z_a = 4)."""
    from adsorbstudy.generators.adsorption import bulk_mean

    xb = m.bulk(sk, k)
    eps_a = (-4.0 / T.to(xb.dtype)).view(-1, 1, 1, 1).expand_as(xb).clone()
    eps_s = torch.logit(xb) + eps_a * (m.zb * bulk_mean(xb, m.circular) - m.za / 2)
    return eps_s, eps_a


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_heat_bath_energies_give_the_heat_bath_update(dtype, tol):
    """With the hand-set energies the B logits are 2βJ Σ_j σ_j over the sampled A neighbours, which is
    also −ΔE/T from the library's energy function (the exact Boltzmann conditional of B given A)."""
    L, K, n = 4, 5, 8
    m = tiny(L, K, seed=3, dtype=dtype)
    m.energies = lambda sk, k, T: heat_bath_energies(m, sk, k, T)
    T = torch.tensor([1.0, 1.5, 2.0, 2.269, 2.5, 3.0, 4.0, 1.25])
    k = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
    sk, s_prev = random_occ((n, 1, L, L), 7), random_occ((n, 1, L, L), 8)
    logits = m.path_logits(sk, k, T, s_prev).to(torch.float64)
    first = m.first_sites(k)
    sigma = torch.where(first, 2 * s_prev - 1, 0.0).to(torch.float64)
    nsum = sum(torch.roll(sigma, s, d) for s in (1, -1) for d in (-1, -2))
    expect = 2.0 / T.to(torch.float64).view(-1, 1, 1, 1) * nsum
    assert float((logits - expect)[~first].abs().max()) <= tol
    # −ΔE/T of flipping a B spin with the library's energy function (float64 numpy)
    spins = (2 * s_prev[:, 0] - 1).numpy().astype(np.float64)
    B = (~first[:, 0]).numpy()
    for b in range(n):
        for i, j in zip(*np.nonzero(B[b])):
            up, dn = spins[b].copy(), spins[b].copy()
            up[i, j], dn[i, j] = 1, -1
            dE = L * L * (lattice.energy(up[None]) - lattice.energy(dn[None]))[0]
            assert abs(float(logits[b, 0, i, j]) - (-dE / float(T[b]))) <= tol
    # the first sublattice keeps the mean-field solve
    la, _ = m.model_logits(sk, k, T)
    assert torch.equal(logits[first], la.to(torch.float64)[first])


def test_zero_padding_counts_missing_neighbours_as_empty():
    """Images: a corner B site has two A neighbours; the two outside count 0 in n̂_a = (1/4) Σ."""
    L = 4
    m = tiny(L, 3, seed=2, padding="zeros", dtype=torch.float64)
    eps_s = torch.full((1, 1, L, L), 0.3, dtype=torch.float64)
    eps_a = torch.full((1, 1, L, L), -0.7, dtype=torch.float64)
    m.energies = lambda sk, k, T: (eps_s, eps_a)
    k = torch.tensor([2])  # phase 0: parity 0 first, so the corner (0, 3) is on B
    sk, s_prev = torch.ones(1, 1, L, L), torch.ones(1, 1, L, L)
    xb = m.bulk(sk, k)
    nb = (xb[0, 0, 0, 2] + xb[0, 0, 1, 3] + 2 * xb[0, 0, 0, 3]) / 6  # zero padding: the bulk outside is empty too
    expect = torch.logit(xb[0, 0, 0, 3]) - 0.3 + 0.7 * (4 * (2 / 4) - 6 * nb)
    got = m.path_logits(sk, k, torch.tensor([2.0]), s_prev)[0, 0, 0, 3]
    assert abs(float(got - expect)) < 1e-12


# --------------------------------------------------------------------------- the ELBO and its estimator
@torch.no_grad()
def exact_and_draws(m, s0, sk, k, T, draws, seed):
    """(exact layer KL enumerating s_A with its q-probability, the biased KL at s_A = posterior mean,
    one-draw estimates (draws,)) at a fixed s_k."""
    lq = m.posterior_logits(sk, s0, k)
    first = m.first_sites(k)[0, 0]
    idx = torch.nonzero(first.flatten()).flatten()
    nA = idx.numel()
    bits = ((torch.arange(2**nA)[:, None] >> torch.arange(nA)) & 1).to(torch.float32)
    s_prev = torch.zeros(2**nA, sk[0].numel())
    s_prev[:, idx] = bits
    s_prev = s_prev.reshape(-1, 1, sk.shape[-2], sk.shape[-1])
    rep = lambda t: t.expand(2**nA, *t.shape[1:])  # noqa: E731
    kl = bernoulli_kl_logits(rep(lq), m.path_logits(rep(sk), rep(k), rep(T), s_prev)).sum(dim=(1, 2, 3))
    q1 = torch.sigmoid(lq.flatten()[idx].to(torch.float64))
    logq = torch.where(bits > 0, torch.log(q1), torch.log1p(-q1)).sum(1)  # q may be deterministic (k = 1)
    exact = float((torch.exp(logq) * kl).sum())
    biased = float(bernoulli_kl_logits(lq, m.path_logits(sk, k, T, torch.sigmoid(lq))).sum())
    g = torch.Generator().manual_seed(seed)
    rp = lambda t: t.expand(draws, *t.shape[1:])  # noqa: E731
    return exact, biased, m.layer_kl(rp(s0), rp(sk), rp(k), rp(T), g).numpy()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_draw_estimator_averages_to_the_exact_layer_term(seed):
    """L = 4 (A has 8 sites: 256 draws enumerated), a fixed s_k: the mean of 20000 one-draw estimates is the
    exact KL(q_A‖p_A) + E_{s_A∼q_A} KL(q_B‖p_B(·|s_A)) within 4 standard errors; the biased variant (the
    posterior mean in place of the draw) lies far outside."""
    L, K, T = 4, 4, torch.tensor([1.8])
    m = tiny(L, K, seed=seed, std=0.5, ea_bias=-3.0, dtype=torch.float64)  # ε_a z_a ~ −12: strong coupling
    s0, sk = random_occ((1, 1, L, L), 10 * seed), random_occ((1, 1, L, L), 10 * seed + 1)
    k = torch.tensor([3])
    exact, biased, est = exact_and_draws(m, s0, sk, k, T, 20000, seed)
    se = est.std(ddof=1) / math.sqrt(est.size)
    assert abs(est.mean() - exact) < 4 * se, (est.mean(), exact, se)
    assert abs(biased - exact) > 10 * se, (biased, exact, se)


def test_kl_terms_average_to_the_exact_elbo_term_over_s_k_and_s_a():
    """Through kl_terms (s_k and s_A drawn inside) on the L = 2 torus: the exact term enumerates s_k (16)
    and s_A (4) with their q-probabilities."""
    L, K, T = 2, 3, 2.0
    m = tiny(L, K, seed=8, std=0.5, ea_bias=-2.0, dtype=torch.float64)
    spins = torch.tensor([[[1, -1], [1, 1]]], dtype=torch.int8)
    s0 = ((spins.to(torch.float32) + 1) / 2)[:, None]
    for kk in (1, 2, 3):
        k = torch.tensor([kk])
        a = float(m.abar[kk])
        p1 = (a * s0 + (1 - a) / 2).to(torch.float64).flatten()
        exact, biased = 0.0, 0.0
        for code in range(16):
            sk = ((code >> torch.arange(4)) & 1).to(torch.float32)
            w = float(torch.prod(torch.where(sk > 0, p1, 1 - p1)))
            e, b, _ = exact_and_draws(m, s0, sk.reshape(1, 1, L, L), k, torch.tensor([T]), 2, 0)
            exact, biased = exact + w * e, biased + w * b
        n = 20000
        est = m.kl_terms(spins.expand(n, L, L), torch.full((n,), T), k.expand(n),
                         torch.Generator().manual_seed(seed_of(f"kl{kk}"))).detach().numpy()
        se = est.std(ddof=1) / math.sqrt(n)
        assert abs(est.mean() - exact) < 4 * se, (kk, est.mean(), exact, se)
        if kk > 1:  # at k = 1 the posterior is deterministic (s_A = s_0): no draw to drop
            assert abs(biased - exact) > 10 * se, (kk, biased, exact, se)


def test_loss_terms_and_the_variance_against_the_mean_field_closed_form():
    """loss is the mean of loss_terms; loss_variance shares k and s_k between the two models, and the extra
    variance of the checkerboard is the s_A draw's (positive when ε_a ≠ 0)."""
    L, K = 4, 4
    m = tiny(L, K, seed=4, std=0.5, ea_bias=-1.0)
    mf = build("adsorption", L, K=K, base=4, depth=1, emb_dim=8).eval()
    mf.load_state_dict(m.state_dict())
    spins = (2 * random_occ((32, L, L), 3) - 1).to(torch.int8)
    T = torch.full((32,), 2.0)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert float(m.loss(spins, T, g1).detach()) == float(m.loss_terms(spins, T, g2).detach().mean().to(torch.float32))
    out = loss_variance(m, mf, spins, T, repeats=3, draws=4, seed=2)
    assert out["var_draw"] > 0 and out["var_mean_field"] > 0 and math.isfinite(out["ratio"])
    assert set(out) == {"var_checkerboard", "var_mean_field", "ratio", "var_draw", "mean_checkerboard",
                        "mean_mean_field"}


def test_gradients_flow_to_both_energy_heads():
    m = tiny(4, 3, seed=6, ea_bias=-0.5).train()
    spins = (2 * random_occ((8, 4, 4), 4) - 1).to(torch.int8)
    m.loss(spins, torch.full((8,), 2.2), torch.Generator().manual_seed(0)).backward()
    g = m.net.out.bias.grad
    assert g is not None and bool(torch.all(torch.isfinite(g))) and float(g.abs().min()) > 0


# --------------------------------------------------------------------------- alternation
@pytest.mark.parametrize("phase", [0, 1])
def test_the_sublattices_alternate_from_layer_to_layer(phase):
    """Recorded by the sampler: the parity drawn first at layer k is drawn second at layer k − 1. Checked
    against the computation too: at each layer the logits of the sites drawn first do not depend on
    s_{k−1}, those of the others depend on s_{k−1} on the first sites only."""
    L, K = 4, 5
    m = tiny(L, K, seed=5, phase=phase, ea_bias=-1.0, dtype=torch.float64)
    m.sample(3, 2.0, seed=1)
    order = m.last_sample_stats["first_sublattice"]
    assert [k for k, _ in order] == list(range(K, 0, -1))
    assert all(p != q for (_, p), (_, q) in zip(order, order[1:]))
    assert {p for _, p in order} == {0, 1}
    parity = (np.arange(L)[:, None] + np.arange(L)[None, :]) % 2
    sk = random_occ((1, 1, L, L), 2)
    for kk, par in order:
        k, T = torch.tensor([kk]), torch.tensor([2.0])
        base = random_occ((1, 1, L, L), kk)
        ref = m.path_logits(sk, k, T, base)
        moved = []
        for i, j in np.ndindex(L, L):
            flip = base.clone()
            flip[0, 0, i, j] = 1 - flip[0, 0, i, j]
            moved.append(bool((m.path_logits(sk, k, T, flip) != ref).any()))
        # flipping a first-drawn site moves logits (of its B neighbours); flipping a second-drawn one moves none
        assert np.array_equal(np.array(moved).reshape(L, L), parity == par)
        assert np.array_equal(m.first_sites(k)[0, 0].numpy(), parity == par)


# --------------------------------------------------------------------------- physics guidance
def test_zero_guidance_is_the_unguided_sampler_bit_for_bit():
    m = tiny(4, 4, seed=9, ea_bias=-1.0)
    a = m.sample_with_logprob(50, 1.8, seed=3, return_path=True)
    for kw in ({"physics": 0.0}, {"physics": 0, "guide_layers": 2}):
        b = m.sample_with_logprob(50, 1.8, seed=3, return_path=True, **kw)
        assert all(torch.equal(x, y) for x, y in zip(a, b)), kw
        assert torch.equal(m.sample(50, 1.8, seed=3, **kw), a[0])
    assert all(torch.equal(x, y) for x, y in zip(m.trajectory_log_prob(a[3], 1.8),
                                                  m.trajectory_log_prob(a[3], 1.8, physics=0.0)))


@pytest.mark.parametrize("guide_layers", [None, 1])
def test_guided_proposal_keeps_the_weights_exact(guide_layers):
    """λ > 0: Σ p_θ = 1 and Σ p_θ w = Z on the enumerable system (the term is part of the proposal), the
    sampler books the guided law it draws, and the term is really there (only at k ≤ guide_layers)."""
    L, K, T, lam = 2, 2, 2.1, 0.8
    m = tiny(L, K, seed=12, ea_bias=-1.0, dtype=torch.float64)
    paths = all_paths(L, K)
    lp, lq = m.trajectory_log_prob(paths, T, physics=lam, guide_layers=guide_layers)
    assert abs(math.exp(logsumexp(lp.numpy())) - 1) < 1e-10
    lw = reweight.log_weights((2 * paths[:, 0] - 1).to(torch.int8).numpy(), lp, lq, T)
    assert abs(math.exp(logsumexp(lp.numpy() + lw) - log_z(L, T)) - 1) < 1e-10
    lp0, _ = m.trajectory_log_prob(paths, T)
    assert float((lp - lp0).abs().max()) > 1e-2
    s, lps, _, path = m.sample_with_logprob(300, T, seed=4, return_path=True, physics=lam, guide_layers=guide_layers)
    lpt, _ = m.trajectory_log_prob(path, T, physics=lam, guide_layers=guide_layers)
    np.testing.assert_allclose(lps.numpy(), lpt.numpy(), rtol=0, atol=1e-9)
    # the term: + λ (2/T) Σ σ_j on the second sublattice, at the guided layers only
    sk, s_prev, Ts = random_occ((1, 1, L, L), 1), torch.ones(1, 1, L, L), torch.tensor([T])
    for kk in (1, 2):
        k = torch.tensor([kk])
        with torch.no_grad():
            d = m.path_logits(sk, k, Ts, s_prev, physics=lam, guide_layers=guide_layers or K) \
                - m.path_logits(sk, k, Ts, s_prev)
        on = kk <= (guide_layers or K)
        second = ~m.first_sites(k)
        expect = lam * 2 / float(Ts[0]) * 4 if on else 0.0  # the condition is float32: T as the model sees it
        np.testing.assert_allclose(d[second], expect, rtol=0, atol=1e-12)
        assert float(d[~second].abs().max()) == 0.0


def test_guidance_pulls_towards_low_energy():
    m = tiny(8, 6, seed=1, std=0.1)
    e0 = lattice.energy(m.sample(200, 1.5, seed=2).numpy()).mean()
    e1 = lattice.energy(m.sample(200, 1.5, seed=2, physics=1.0).numpy()).mean()
    assert e1 < e0 - 0.2


# --------------------------------------------------------------------------- bistability diagnostic
def test_bistability_fractions_of_a_hand_set_image():
    """ε_a z_a = −8 on the left half, +6 on one row of the right half, 0 elsewhere: the fractions exactly."""
    L = 8
    xb = torch.full((2, 1, L, L), 0.3, dtype=torch.float64)
    eps_a = torch.zeros_like(xb)
    eps_a[0, :, :, : L // 2] = -2.0
    eps_a[0, :, 0, L // 2:] = 1.5
    eps_s = torch.full_like(xb, 0.4)
    c = layer_counts(xb, eps_s, eps_a, za=4.0)
    s = summary(c)
    assert s["n"] == 2 * L * L
    assert s["frac_attractive"] == (L * L // 2) / (2 * L * L)
    assert s["frac_repulsive"] == (L // 2) / (2 * L * L)
    assert s["eps_a_za"]["min"] == -8.0 and s["eps_a_za"]["max"] == 6.0
    assert sum(s["eps_a_za"]["counts"]) == s["n"]
    edges = np.asarray(s["eps_a_za"]["edges"])
    assert s["eps_a_za"]["counts"][int(np.searchsorted(edges, -8.0, side="right")) - 1] == L * L // 2
    # at the boundary |ε_a| z_a = 4 is not counted (strictly beyond the critical point)
    c4 = layer_counts(xb[:1], eps_s[:1], torch.full_like(xb[:1], -1.0))
    assert c4["attractive"] == 0 and c4["repulsive"] == 0


def test_a_desorption_start_finds_the_other_root():
    """Uniform ε_a z_a = −8 with logit x_a = c + 8 x_a, c = −4.5: three roots; from x_a = x_b = 0.3 the solve
    reaches the low root, from x_a = 0.7 the high one, at every pixel. ε_a = 0 in the second image: one root."""
    L = 4
    xb = torch.full((2, 1, L, L), 0.3, dtype=torch.float64)
    eps_a = torch.zeros_like(xb)
    eps_a[0] = -2.0
    c = -4.5  # logit x_b − ε_s + ε_a z_b n_b with n_b = x_b (uniform)
    eps_s = torch.logit(xb) + eps_a * 6 * 0.3 - c
    s = summary(layer_counts(xb, eps_s, eps_a, max_iter=500, tol=1e-10))
    assert s["frac_other_root"] == 0.5 and s["frac_nonconverged"] == 0.0
    from adsorbstudy.generators.bistability import branch_solutions

    u_a, _, u_d, _ = branch_solutions(xb, eps_s, eps_a, max_iter=500, tol=1e-10)
    lo, hi = torch.sigmoid(u_a[0]), torch.sigmoid(u_d[0])
    for x in (lo, hi):  # both are roots of the uniform Eq. 6
        assert float((torch.logit(x) - (c + 8 * x)).abs().max()) < 1e-9
    assert float(lo.max()) < 0.05 and float(hi.min()) > 0.95


def test_bistability_over_sampled_trajectories():
    torch.manual_seed(0)
    m = build("adsorption", 8, K=3, base=4, depth=1, emb_dim=8).eval()
    torch.nn.init.normal_(m.net.out.weight, std=1.0)
    torch.nn.init.normal_(m.net.out.bias, std=1.0)
    out = bistability(m, 6, [1.5, 3.0], seed=1)
    assert out["n"] == 2 * 6 * 3 * 64 and set(out["per_T"]) == {1.5, 3.0}
    assert out["frac_attractive"] > 0 and out["frac_repulsive"] > 0
    assert sum(v["n"] for v in out["per_T"].values()) == out["n"]
    assert out["frac_attractive"] == pytest.approx(np.mean([v["frac_attractive"] for v in out["per_T"].values()]))


# --------------------------------------------------------------------------- registration and validation
def test_registered_as_its_own_kind():
    from adsorbstudy.generators import train
    from adsorbstudy.study import profile

    assert CB in KINDS and CB in ADSORPTION_KINDS and CB in profile.UNET_KINDS and CB in train.DDP_KINDS
    hp = hparams_from({"model": CB, "K": 3, "base": 4, "depth": 2, "emb_dim": 8, "n_steps": 5})
    m = build(CB, 8, **hp)
    assert isinstance(m, CheckerboardGenerator) and m.kind == CB and m.nfe == 3
    again = build(CB, 8, **m.hparams)  # a checkpoint's record rebuilds it
    assert again.hparams == m.hparams and "lateral" not in m.hparams and m.hparams["phase"] == 0
    # the mean-field model's weights load into it: the same U-Net, inputs and outputs
    build("adsorption", 8, **hp).load_state_dict(m.state_dict())
    v = train.code_versions(CB)
    from adsorbstudy.generators import adsorption, checkerboard

    assert v["model"] == checkerboard.VERSION and v["adsorption"] == adsorption.VERSION
    assert "adsorption" not in train.code_versions("adsorption")  # the mean-field keys are unchanged


def test_bad_input_raises():
    with pytest.raises(ValueError, match="even"):
        build(CB, 5, K=2, base=4, depth=1, emb_dim=8)
    build(CB, 5, K=2, base=4, depth=1, emb_dim=8, padding="zeros")  # images: any side
    with pytest.raises(ValueError, match="phase"):
        build(CB, 4, K=2, base=4, depth=1, emb_dim=8, phase=2)
    with pytest.raises(ValueError, match="lateral"):
        build(CB, 4, K=2, base=4, depth=1, emb_dim=8, lateral=False)
    m = tiny(4, 3)
    for kw in ({"physics": float("nan")}, {"physics": True}, {"physics": 1.0, "guide_layers": 0},
               {"physics": 1.0, "guide_layers": 4}):
        with pytest.raises(ValueError):
            m.sample(2, 2.0, **kw)
    img = build(CB, 4, K=2, base=4, depth=1, emb_dim=8, n_classes=3, p_uncond=0.1, padding="zeros")
    with pytest.raises(ValueError, match="temperature-conditioned"):
        img.sample(2, 1, physics=0.5)


def test_class_conditional_images_with_classifier_free_guidance():
    m = build(CB, 8, K=3, base=4, depth=2, emb_dim=8, n_classes=3, p_uncond=0.2, padding="zeros").eval()
    torch.nn.init.normal_(m.net.out.weight, std=0.5)
    s = m.sample(4, [0, 1, 2, 0], seed=1, guidance=1.5)
    assert s.shape == (4, 8, 8) and m.last_sample_stats["pixel_solves"] == 2 * 4 * 3 * 64
    assert torch.equal(m.sample(4, 2, seed=1, guidance=0.0), m.sample(4, 2, seed=1))


def test_data_parallel_ranks_draw_the_single_process_stream():
    """Under DDP each rank draws s_k and s_A as RankSlice rows of the global batch: the ranks' per-sample
    loss terms are the single process's (up to the solve's tolerance, which stops on a batch's residual)."""
    from adsorbstudy.generators.blocks import RankSlice

    m = tiny(4, 3, seed=7, ea_bias=-1.0, dtype=torch.float64)
    m.tol, m.max_iter = 1e-12, 1000
    x = (2 * random_occ((8, 4, 4), 5) - 1).to(torch.int8)
    T = torch.full((8,), 2.2)
    with torch.no_grad():
        full = m.loss_terms(x, T, torch.Generator().manual_seed(3))
        ranks = [m.loss_terms(x[4 * r:4 * r + 4], T[:4], RankSlice(torch.Generator().manual_seed(3), r, 2))
                 for r in (0, 1)]
    np.testing.assert_allclose(torch.cat(ranks).numpy(), full.numpy(), rtol=0, atol=1e-9)
