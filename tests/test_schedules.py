"""One noise schedule for every diffusion (adsorbstudy.generators.schedules): the adsorption generator's numbers kept bit
for bit, the DDPM's linear schedule unchanged, and the cosine DDPM on the adsorption generator's ᾱ with a
sampler and a loss that stay finite at the pure-noise last level."""
import math

import numpy as np
import pytest
import torch

from adsorbstudy.generators import ddpm
from adsorbstudy.generators.ddpm import DDPM
from adsorbstudy.generators.families import build, hparams_from
from adsorbstudy.generators.schedules import (betas_from_alpha_bar, cosine_alpha_bar, ddpm_linear_beta, linear_alpha_bar,
                                   posterior_variance)

TINY = dict(base=4, depth=1, emb_dim=8)


def old_adsorption_schedule(K, schedule):
    """The adsorption generator's own formula before the schedule module existed (written out here)."""
    k = torch.arange(K + 1, dtype=torch.float64)
    abar = torch.cos(0.5 * math.pi * k / K) ** 2 if schedule == "cosine" else 1.0 - k / K
    abar[0], abar[-1] = 1.0, 0.0
    beta = torch.ones(K + 1, dtype=torch.float64)
    beta[1:] = 1.0 - abar[1:] / abar[:-1]
    return abar, beta


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_adsorption_generator_keeps_its_numbers_bit_for_bit(schedule):
    for K in (1, 2, 20, 50, 100, 1000):
        abar, beta = old_adsorption_schedule(K, schedule)
        new = cosine_alpha_bar(K) if schedule == "cosine" else linear_alpha_bar(K)
        assert torch.equal(new, abar) and new.dtype == torch.float64
        assert torch.equal(betas_from_alpha_bar(new), beta[1:])
    m = build("adsorption", 4, K=20, schedule=schedule, **TINY)
    abar, beta = old_adsorption_schedule(20, schedule)
    assert torch.equal(m.abar, abar) and torch.equal(m.beta, beta)
    assert float(m.abar[-1]) == 0.0 and float(m.beta[-1]) == 1.0


@pytest.mark.parametrize("K", [20, 50, 100])
def test_cosine_ddpm_has_the_adsorption_generators_alpha_bar(K):
    d = DDPM(8, n_steps=K, schedule="cosine", **TINY)
    a = build("adsorption", 8, K=K, **TINY)
    assert d.abar.shape == a.abar.shape == (K + 1,)
    assert torch.allclose(d.abar[1:], a.abar[1:], rtol=0, atol=1e-12) and float(d.abar[K]) == 0.0
    assert torch.allclose(d.beta[1:], 1 - d.abar[1:] / d.abar[:-1], rtol=0, atol=1e-12)
    bt = d.beta[1:] * (1 - d.abar[:-1]) / (1 - d.abar[1:])
    assert torch.allclose(d.beta_tilde[1:], bt, rtol=0, atol=1e-15) and float(d.beta_tilde[1]) == 0.0
    assert d.nfe == K and d.hparams["schedule"] == "cosine"


def test_linear_schedule_is_hos_rescaled():
    """Ho et al.'s β_t = 1e-4 + (0.02 − 1e-4)(t − 1)/(n − 1) for n = 1000, both ends times 1000/n for a
    shorter chain; the linear DDPM's ᾱ is their running product and its hparams carry no schedule (the
    cached checkpoints of the linear runs keep their keys)."""
    for n in (1000, 50, 21):
        t = np.arange(1, n + 1)
        ho = 1000 / n * (1e-4 + (0.02 - 1e-4) * (t - 1) / (n - 1))
        assert np.allclose(ddpm_linear_beta(n).numpy(), ho, rtol=1e-13, atol=0)
        m = DDPM(8, n_steps=n, **TINY)
        assert np.allclose(m.abar[1:].numpy(), np.cumprod(1 - ho), rtol=1e-12, atol=0)
        assert m.beta[0] == 0 and m.abar[0] == 1 and "schedule" not in m.hparams
    p = dict(model="ddpm", n_steps=50, **TINY)
    assert hparams_from(p) == hparams_from(p | {"schedule": "linear"}) == dict(n_steps=50, **TINY)
    assert hparams_from(p | {"schedule": "cosine"}) == dict(n_steps=50, schedule="cosine", **TINY)


def test_bad_schedule_names_the_field_and_the_choices():
    for bad in ("quadratic", "Cosine", None):
        with pytest.raises(ValueError, match=r"schedule must be one of linear, cosine; got"):
            DDPM(8, schedule=bad, **TINY)
    with pytest.raises(ValueError, match=r"hyperparameters for kind 'ddpm'|schedule must be one of"):
        build("ddpm", 8, schedule="sigmoid", **TINY)
    with pytest.raises(ValueError, match=r"n_steps must be an integer in \[2, 10000\]"):
        DDPM(8, n_steps=1, schedule="cosine", **TINY)
    with pytest.raises(ValueError, match="n_steps"):
        DDPM(8, n_steps=20, **TINY)  # the linear schedule needs n_steps > 20; the cosine one does not
    assert DDPM(8, n_steps=2, schedule="cosine", **TINY).abar.tolist() == [1.0, 0.5000000000000001, 0.0]
    with pytest.raises(ValueError, match="abar"):
        betas_from_alpha_bar(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))


def point_mass_denoiser(m, c):
    """The exact network output for data that are the single image ``c`` (broadcastable to x): per sample of
    level t, ε̂ = (x_t − √ᾱ_t c)/√(1−ᾱ_t), and x̂_0 = c at the pure-noise level, where the model predicts x_0."""
    def out(x, t, T):
        ab = m.abar[t].to(x.dtype)
        ab = ab.view(-1, *([1] * (x.dim() - 1))) if x.dim() > 1 else ab
        cc = c.to(x.dtype)
        return torch.where(ab == 0, cc.expand_as(x), (x - ab.sqrt() * cc) / (1 - ab).sqrt())
    return out


def test_posterior_variance_reproduces_every_forward_marginal_of_a_point_mass():
    """With the exact denoiser of a point mass x_0 = c, the β̃ ancestral sampler draws x_{t−1} from
    q(x_{t−1} | x_t, c), so every level has the forward marginal N(√ᾱ_t c, 1 − ᾱ_t) and x_0 = c exactly.
    σ_t² = β_t (the linear DDPM's choice) leaves x_0 with variance ≈ β_1 + ... instead (checked too, so the
    test can tell the two apart). 20000 pixels, float64, K = 50 levels; bounds are 5 standard errors."""
    K, n = 50, 20000
    m = DDPM(8, n_steps=K, schedule="cosine", **TINY)
    g = torch.Generator().manual_seed(0)
    c = 1.0
    den = point_mass_denoiser(m, torch.tensor(c, dtype=torch.float64))
    x = torch.randn(n, dtype=torch.float64, generator=g)
    for t in range(K, 0, -1):
        x = m.reverse_step(x, den(x, torch.tensor([t]), None), t,
                           torch.randn(n, dtype=torch.float64, generator=g) if t > 1 else None)
        ab = float(m.abar[t - 1])
        if t > 1:
            assert abs(float(x.mean()) - math.sqrt(ab) * c) < 5 * math.sqrt((1 - ab) / n), t
            assert abs(float(x.var()) / (1 - ab) - 1) < 5 * math.sqrt(2 / n), t
    assert torch.allclose(x, torch.full_like(x, c), rtol=0, atol=1e-9)
    # the per-step noise is √β̃_t (cosine) and √β_t (linear, seed 004): the coefficients themselves
    z = torch.ones(3, dtype=torch.float64)
    for t in (K, K - 1, 2):
        zero = torch.zeros(3, dtype=torch.float64)
        assert torch.allclose(m.reverse_step(zero, zero, t, z), z * math.sqrt(float(m.beta_tilde[t])), atol=1e-15)
    lin = DDPM(8, n_steps=K + 1, **TINY)
    zero = torch.zeros(3, dtype=torch.float64)
    assert torch.allclose(lin.reverse_step(zero, zero, 2, z), z * math.sqrt(float(lin.beta[2])), atol=1e-15)


@pytest.mark.parametrize("K", [5, 50])
def test_cosine_ddpm_trains_and_samples_without_nan(K, monkeypatch):
    from adsorbstudy.generators.blocks import n_params

    torch.manual_seed(0)
    m = build("ddpm", 8, n_steps=K, schedule="cosine", **TINY)
    assert n_params(m) == n_params(build("ddpm", 8, **TINY))  # the same network; only the chain differs
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    spins = torch.where(torch.rand((32, 8, 8), generator=g) < 0.5, 1, -1).to(torch.int8)
    T = torch.full((32,), 2.3)
    for _ in range(3):
        loss = m.loss(spins, T, g)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
        opt.step()
    finals = []
    real_sign = ddpm._sign
    monkeypatch.setattr(ddpm, "_sign", lambda x: finals.append(x.clone()) or real_sign(x))
    s = m.sample(16, 2.3, seed=3)
    d = m.sample(16, 2.3, seed=3, steps=min(K, 10))
    assert s.shape == d.shape == (16, 8, 8) and set(s.unique().tolist()) <= {-1, 1}
    assert finals and all(torch.isfinite(x).all() for x in finals)
    assert m.last_sample_stats["nfe"] == min(K, 10)


def test_stub_point_mass_network_gives_zero_loss_and_its_image():
    """The loss targets ε below the last level and x_0 at the pure-noise level: the exact point-mass
    denoiser has loss 0 (an ε target at t = K would cost it ≈ 1), and the whole sampler (ancestral and
    DDIM) then returns the point mass's image exactly."""
    L, K = 8, 6
    i, j = np.indices((L, L))
    c = torch.tensor(np.where((i + j) % 2, 1.0, -1.0), dtype=torch.float32)  # a checkerboard
    for schedule, n in (("cosine", K), ("linear", 40)):
        m = DDPM(L, n_steps=n, schedule=schedule, **TINY)
        m.eps = point_mass_denoiser(m, c)
        spins = c.expand(64, L, L).to(torch.int8)
        g = torch.Generator().manual_seed(0)
        losses = [float(m.loss(spins, torch.full((64,), 2.0), g)) for _ in range(5)]
        assert max(losses) < 1e-10, (schedule, losses)
        if schedule == "cosine":
            assert torch.equal(m.sample(4, 2.0, seed=1), c.expand(4, L, L).to(torch.int8))
            assert torch.equal(m.sample(4, 2.0, seed=1, steps=3), c.expand(4, L, L).to(torch.int8))


@pytest.mark.parametrize("K", [6, 50])
def test_pure_noise_level_weighted_by_the_snr_of_the_level_it_produces(K):
    """With a network that outputs 0, the loss at the pure-noise level is SNR_{K−1}·mean(x_0²) =
    ᾱ_{K−1}/(1 − ᾱ_{K−1}) exactly (x_0 = ±1), and at every other level it is mean(ε²) (weight 1, Ho's
    L_simple), computed by hand; the linear schedule has weight 1 everywhere."""
    L, n = 8, 32
    m = DDPM(L, n_steps=K, schedule="cosine", **TINY)
    m.eps = lambda x, t, T: torch.zeros_like(x)
    g = torch.Generator().manual_seed(5)
    x0 = torch.where(torch.rand((n, 1, L, L), generator=g) < 0.5, -1.0, 1.0)
    noise = torch.randn((n, 1, L, L), generator=g)
    T = torch.full((n,), 2.0)
    ab = math.cos(0.5 * math.pi * (K - 1) / K) ** 2
    at_noise = float(m.loss_at(x0, torch.full((n,), K), noise, T))
    assert at_noise == pytest.approx(ab / (1 - ab), rel=1e-6)
    t = torch.randint(1, K, (n,), generator=g)
    assert float(m.loss_at(x0, t, noise, T)) == pytest.approx(float((noise ** 2).mean()), rel=1e-6)
    mixed = torch.where(torch.arange(n) % 2 == 0, torch.full((n,), K), t)
    by_hand = torch.where((mixed == K).view(-1, 1, 1, 1), ab / (1 - ab) * x0 ** 2, noise ** 2).mean()
    assert float(m.loss_at(x0, mixed, noise, T)) == pytest.approx(float(by_hand), rel=1e-6)
    lin = DDPM(L, n_steps=40, **TINY)
    assert torch.equal(lin.level_weights()[1:], torch.ones(40, dtype=torch.float64))
