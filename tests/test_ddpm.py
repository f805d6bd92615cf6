"""DDPM baseline: the forward process, DDIM against its ODE definition, sampling, and learning."""
import math

import numpy as np
import pytest
import torch

from adsorbstudy.generators.blocks import n_params
from adsorbstudy.generators.ddpm import ddim_timesteps, DDPM
from adsorbstudy.generators.families import build
from adsorbstudy.generators.schedules import ddpm_linear_beta
from conftest import metropolis



def test_schedule_is_seed_004():
    b = ddpm_linear_beta(1000)
    assert b.shape == (1000,) and float(b[0]) == 1e-4 and float(b[-1]) == pytest.approx(0.02, abs=1e-15)
    m = DDPM(8, base=4, depth=1, emb_dim=8)
    assert float(m.abar[1000]) == pytest.approx(float(np.prod(1 - b.numpy())), rel=1e-12)
    assert float(m.abar[1000]) < 1e-4


def test_forward_statistics_match_the_schedule():
    # chain the single-step kernel x_t = √(1−β_t) x_{t−1} + √β_t ε and compare with q(x_t | x_0)
    m = DDPM(8, base=4, depth=1, emb_dim=8)
    g = torch.Generator().manual_seed(0)
    n = 20000
    x0 = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    x = x0.clone()
    for t in range(1, 301):
        b = float(m.beta[t])
        x = math.sqrt(1 - b) * x + math.sqrt(b) * torch.randn(n, generator=g, dtype=torch.float64)
        if t in (10, 100, 300):
            ab = float(m.abar[t])
            resid = x - math.sqrt(ab) * x0
            direct = m.q_sample(x0.float().view(-1, 1, 1, 1), torch.full((n,), t),
                                torch.randn((n, 1, 1, 1), generator=g)).view(-1).double() - math.sqrt(ab) * x0
            for r in (resid, direct):
                # mean 0 and variance 1 − ᾱ_t, to 5 standard errors
                assert abs(float(r.mean())) < 5 * math.sqrt((1 - ab) / n)
                assert abs(float(r.var()) / (1 - ab) - 1) < 5 * math.sqrt(2 / n)


def test_ddim_with_all_steps_is_the_ddim_ode():
    torch.manual_seed(0)
    m = DDPM(8, base=4, depth=1, emb_dim=8).eval()
    torch.nn.init.normal_(m.net.out.weight, std=0.3)
    assert ddim_timesteps(1000) == list(range(1000, 0, -1))
    # every subsequence starts from pure noise (t = n) and is strictly descending
    for k in (1, 2, 3, 7, 50):
        ts = ddim_timesteps(k)
        assert ts[0] == 1000 and len(ts) == k and all(a > b for a, b in zip(ts, ts[1:])), (k, ts)
    assert ddim_timesteps(1) == [1000] and ddim_timesteps(2) == [1000, 1]
    # DDIM (η = 0) is the Euler discretization, in x̄ = x/√ᾱ and σ = √((1−ᾱ)/ᾱ), of dx̄ = ε_θ dσ
    # (Song et al. 2021, Eq. 14): an independent statement of the same trajectory
    g = torch.Generator().manual_seed(4)
    n, T = 3, torch.full((3,), 2.0)
    x = torch.randn((n, 1, 8, 8), generator=g)
    with torch.no_grad():
        xbar = x.double() / math.sqrt(float(m.abar[1000]))
        for t in range(1000, 0, -1):
            ab, abp = float(m.abar[t]), float(m.abar[t - 1])
            xt = (xbar * math.sqrt(ab)).float()
            eps = m.eps(xt, torch.full((n,), t), T).double()
            xbar = xbar + (math.sqrt((1 - abp) / abp) - math.sqrt((1 - ab) / ab)) * eps
    ref = torch.where(xbar[:, 0] >= 0, 1, -1).to(torch.int8)
    got = m.sample(n, 2.0, seed=4, steps=1000)
    assert torch.equal(got, ref)
    assert m.nfe_for(1000) == 1000 and m.nfe == 1000 and m.nfe_for(50) == 50


def test_sample_interface_and_bad_input():
    m = build("ddpm", 8, base=4, depth=2, emb_dim=8)
    s = m.sample(4, [1.0, 2.0, 3.0, 4.0], seed=1, steps=10)
    assert s.dtype == torch.int8 and s.shape == (4, 8, 8) and set(s.unique().tolist()) <= {-1, 1}
    tr = m.trajectory(3, 2.0, seed=0, steps=10)
    assert len(tr["step"]) == 11 and np.all(tr["m_abs"] >= 0)
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match="steps"):
            m.sample(2, 2.0, steps=bad)
    with pytest.raises(ValueError, match="n must"):
        m.sample(0, 2.0)
    with pytest.raises(ValueError, match="T must"):
        m.sample(2, -2.0)
    with pytest.raises(ValueError, match="divisible"):
        build("ddpm", 12, depth=4)


def test_same_trunk_as_the_adsorption_generator():
    # Each generator's parameter count must be the U-Net formula of tests/test_nn.py (written out layer by
    # layer) for its output channels: the DDPM predicts ε (1 channel), the adsorption generator ε_s and ε_a
    # (2 channels), its ablation ε_s only. Catches a generator that adds, drops or resizes layers around
    # the shared trunk (the old check compared two models built from the same U-Net and could not fail).
    from test_nn import unet_param_formula

    for L, base, depth, emb_dim in ((16, 16, 2, 64), (64, 64, 4, 64), (8, 8, 1, 32)):
        kw = dict(base=base, depth=depth, emb_dim=emb_dim)
        assert n_params(build("ddpm", L, **kw)) == unet_param_formula(1, 1, base, depth, emb_dim)
        assert n_params(build("adsorption", L, **kw)) == unet_param_formula(1, 2, base, depth, emb_dim)
        assert n_params(build("adsorption-nolateral", L, **kw)) == unet_param_formula(1, 1, base, depth, emb_dim)


DDPM_LEARN = dict(base=16, depth=2, emb_dim=32, n_steps=100)


def train_and_measure(kind, seed, data, ckpt_dir, steps=800):
    """test_adsorption.train_and_measure for the DDPM: 800 steps, 200 samples by the ancestral sampler
    (``kind`` is "ddpm"). The chain has 100 levels (Ho et al.'s linear β rescaled, as the study's short
    DDPM chains are), not seed 004's 1000: sampling 2 × 200 configurations through 1000 levels was three
    quarters of this test's time. The 1000-level schedule and its samplers have exact tests of their own
    (test_schedules.py, and the DDIM and schedule tests above); this test is about learning."""
    import test_adsorption

    return test_adsorption.train_and_measure(kind, seed, data, ckpt_dir, steps=steps, hparams=DDPM_LEARN,
                                             n_samples=200)


# |⟨e⟩ − e_MC| bounds (J per spin) for train_and_measure (800 steps, 200 ancestral samples of the 100-level
# chain). Measured ⟨e⟩ − e_MC at T = 1.5, 3.5 (MC e = −1.949, −0.676) on a loaded 2-core machine:
# seed 91195 (this test's): +0.026, +0.025; seed 0: −0.022, +0.049; seed 1: +0.055, +0.059;
# seed 2: +0.008, +0.081. Bound 0.15: nearly twice the largest measured |Δe|, and above it by more than
# four statistical errors of one Δe (200 samples against 300 MC frames: about 0.01 at T = 1.5, 0.02 at
# T = 3.5). It rejects an untrained DDPM (random signs: off by 1.95 and 0.68) and the deliberate break
# of feeding ε_θ a constant T = 2.5 (measured with this set-up, seed 91195: +0.775, −0.498; |m| 0.596 at
# both temperatures, which also fails the order check). (The 1000-level version took 20.5 s of a 2-core
# run; this one about 8 s.)
DE_BOUND = {1.5: 0.15, 3.5: 0.15}


def test_learns_the_energy_at_two_temperatures(tmp_path):
    # Catches a DDPM that does not learn the energy at both temperatures (e.g. lost temperature
    # conditioning, a wrong noise schedule in training or sampling). The seed is a hash of the test name.
    from test_adsorption import name_seed

    data = {1.5: metropolis(8, 1.5, 300, seed=1), 3.5: metropolis(8, 3.5, 300, seed=2)}
    seed = name_seed("test_learns_the_energy_at_two_temperatures[ddpm]")
    de, mabs = train_and_measure("ddpm", seed, data, tmp_path)
    for T in data:
        assert abs(de[T]) < DE_BOUND[T], (seed, T, de)
    assert mabs[1.5] > mabs[3.5] + 0.3, mabs   # MC: 0.99 and 0.26
