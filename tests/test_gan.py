"""The conditional WGAN baselines: architecture, weight clipping, the M⊂L loss, sampling, learning."""
import numpy as np
import pytest
import torch

from adsorbstudy.generators.families import build
from adsorbstudy.generators.gan import WGAN
from adsorbstudy.generators.train import fit
from conftest import metropolis



def test_architecture_matches_seed_004_at_L64():
    m = WGAN(64, ngf=64, ndf=64)
    convT = [l for l in m.G.net if isinstance(l, torch.nn.ConvTranspose2d)]
    assert len(convT) == 5 and convT[0].in_channels == 200  # 100 noise + 100 temperature embedding
    assert sum(isinstance(l, torch.nn.BatchNorm2d) for l in m.G.net) == 4
    assert any(isinstance(l, torch.nn.LeakyReLU) for l in m.D.trunk)
    assert all(l.padding_mode == "circular" for l in m.D.trunk if isinstance(l, torch.nn.Conv2d))
    assert m.G.temb.net[0].in_features == 1 and m.G.temb.net[2].out_features == 100
    x = m.G(torch.randn(2, 100), torch.tensor([1.0, 3.0]))
    assert x.shape == (2, 1, 64, 64) and m.D(x, torch.tensor([1.0, 3.0])).shape == (2,)


def test_critic_weights_are_clipped_after_a_step():
    torch.manual_seed(0)
    m = build("gan", 8, ngf=8, ndf=8, clip=0.01, n_critic=2)
    opts = m.make_optimizers(1e-2, 0.0)
    x = torch.as_tensor(metropolis(8, 2.0, 16, sweeps=5))
    T = torch.full((16,), 2.0)
    m.train_step(lambda: (x, T), opts)
    mx = max(float(p.detach().abs().max()) for p in m.D.parameters())
    assert mx <= 0.01 and mx == pytest.approx(0.01)  # lr 1e-2 pushes some weights to the bound


def test_magnetization_mse_by_hand():
    fake = torch.stack([torch.full((4, 4), 0.5), torch.full((4, 4), -0.3), torch.full((4, 4), 1.0)])
    real = torch.stack([torch.ones(4, 4), torch.zeros(4, 4), -torch.ones(4, 4)])
    T = torch.tensor([1.0, 1.0, 3.0])
    # T=1: ⟨|m|⟩_fake = 0.4, ⟨|m|⟩_real = 0.5; T=3: 1.0 vs 1.0
    assert float(WGAN.magnetization_mse(fake, real, T)) == pytest.approx(0.01)


def test_sample_interface_and_bad_input():
    m = build("gan-m", 16, ngf=8, ndf=8)
    assert m.kind == "gan-m" and m.lambda_m == 1.0 and m.nfe == 1 and m.nfe_for(50) == 1
    s = m.sample(5, np.array([1.0, 1.5, 2.0, 2.5, 3.0]), seed=2)
    assert s.dtype == torch.int8 and s.shape == (5, 16, 16) and set(s.unique().tolist()) <= {-1, 1}
    assert torch.equal(s, m.sample(5, np.array([1.0, 1.5, 2.0, 2.5, 3.0]), seed=2))
    assert m.trajectory(4, 2.0)["step"].tolist() == [1]
    for bad_L in (6, 12, 24):
        with pytest.raises(ValueError, match="L must"):
            build("gan", bad_L)
    with pytest.raises(ValueError, match="lambda_m"):
        build("gan", 8, lambda_m=1.0)
    with pytest.raises(ValueError, match="n must"):
        m.sample(0, 2.0)
    with pytest.raises(ValueError, match="T must"):
        m.sample(2, 0.0)


@pytest.fixture(scope="module")
def two_temperatures():
    return {1.5: metropolis(8, 1.5, 300, seed=1), 3.5: metropolis(8, 3.5, 300, seed=2)}


def _mabs(c) -> float:
    return float(np.abs(np.asarray(c, float).mean(axis=(1, 2))).mean())


def train_final(kind, seed, steps, data, ckpt_dir):
    """A GAN built with every constructor argument explicit (so the test does not follow the defaults), its
    critic's hat centres spanning the training temperatures (what the study does with its training grid),
    trained for ``steps``; returns ⟨|m|⟩ per T of 400 samples of the FINAL weights: the only validation is
    at the last step, so no checkpoint is selected."""
    torch.manual_seed(seed)
    model = WGAN(8, ngf=16, ndf=16, n_critic=2, clip=0.05, lambda_m=1.0 if kind == "gan-m" else 0.0,
                 heads=4, t_min=min(data), t_max=max(data))
    h = fit(model, data, dict(steps=steps, batch=64, lr=1e-3, val_every=steps, ckpt_every=steps, seed=seed),
            ckpt_dir, progress=False)
    assert h["best_step"] == steps
    return {T: _mabs(model.sample(400, T, seed=seed + 1)) for T in data}


@pytest.mark.parametrize("kind", ["gan", "gan-m"])
def test_gan_learns_temperature_dependent_order(kind, two_temperatures, tmp_path):
    # Catches a GAN that gives both temperatures one ensemble (lost or clipped-away temperature
    # conditioning, the failure DESIGN and the module docstring describe) or that does not learn |m|.
    # The seed is a hash of the test name, nobody's choice. The old criterion "closer to MC than the
    # untrained net" failed in 4 of 16 runs (seeds 0-7), each time because the untrained net's
    # T-independent |m| happened to lie within 0.05 of MC at T = 3.5 while the trained one was off by
    # 0.05-0.07: the untrained net's luck, not learning, decided it. The absolute bounds below held in
    # those runs. Measured with this set-up (final weights, centres on the training temperatures),
    # ⟨|m|⟩ at T = 1.5 / 3.5 against MC 0.986 / 0.256:
    #   gan   seed 60868 (this test's): 0.935 / 0.264;  seed 10: 0.982 / 0.306
    #   gan-m seed 60871 (this test's): 0.979 / 0.269
    #   deliberate break, the generator fed a constant T: 0.615 / 0.615 (fails the order and both bounds)
    # Only these runs could be afforded (10-25 min each on the loaded machine): the failure rate of
    # the absolute criterion with this critic is not measured; if it fails, measure it over more seeds.
    from test_adsorption import name_seed

    seed = name_seed(f"test_gan_learns_temperature_dependent_order[{kind}]")
    after = train_final(kind, seed, 1200, two_temperatures, tmp_path)
    mc = {T: _mabs(x) for T, x in two_temperatures.items()}
    assert after[1.5] > after[3.5] + 0.3, (seed, after, mc)   # MC: 0.99 and 0.26
    for T in two_temperatures:
        assert abs(after[T] - mc[T]) < 0.1, (seed, T, after, mc)


def test_critic_hat_weights_interpolate_between_centres():
    D = WGAN(8, ndf=8, heads=4, t_min=1.0, t_max=4.0).D
    w = D.weights(torch.tensor([0.5, 1.0, 1.5, 2.2, 4.0, 9.0]))
    expected = torch.tensor([[1, 0, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0.8, 0.2, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    assert torch.allclose(w, expected, atol=1e-6)
    # the critic is the same mix of its heads' scores
    x = torch.where(torch.randn(3, 1, 8, 8) > 0, 1.0, -1.0)
    T = torch.tensor([1.5, 2.2, 3.7])
    h = D.trunk(x)
    scores = torch.cat([head(h).view(-1, 1) for head in D.heads], dim=1)
    assert torch.allclose(D(x, T), (D.weights(T) * scores).sum(1), atol=1e-6)
    with pytest.raises(ValueError, match="heads"):
        WGAN(8, heads=0)
    with pytest.raises(ValueError, match="t_min"):
        WGAN(8, t_min=3.0, t_max=2.0)


def test_generator_output_is_spins_with_tanh_gradient():
    torch.manual_seed(0)
    m = WGAN(8, ngf=8, ndf=8)
    T = torch.tensor([1.5, 3.5])
    fake = m._fake(T, torch.Generator().manual_seed(1))
    assert set(fake.detach().unique().tolist()) <= {-1.0, 1.0}
    fake.sum().backward()
    g_st = [p.grad.clone() for p in m.G.parameters()]
    m.G.zero_grad()
    m.G(torch.randn((2, 100), generator=torch.Generator().manual_seed(1)), T).sum().backward()
    assert all(torch.allclose(a, p.grad) for a, p in zip(g_st, m.G.parameters()))


def test_hparams_from_takes_each_familys_own_arguments():
    """``models.hparams_from`` maps a training run's parameters to its family's constructor: the built
    model carries exactly those values, the other families' keys are left out, and the GAN's heads span
    the training grid's range (seed 004's grids: 1.6 … 3.4 J/k_B)."""
    from adsorbstudy.generators.families import hparams_from, KINDS
    from adsorbstudy.physics.grids import TRAIN_GRIDS

    p = dict(K=7, base=4, depth=2, emb_dim=6, n_steps=50, ngf=5, ndf=3, n_critic=2, clip=0.03, heads=3,
             lambda_m=2.5, grid="coarse", seed=11, lr=0.1)
    expect = {"adsorption": {"K", "base", "depth", "emb_dim"}, "adsorption-nolateral": {"K", "base", "depth", "emb_dim"},
              "adsorption-checkerboard": {"K", "base", "depth", "emb_dim"},
              "ddpm": {"base", "depth", "emb_dim", "n_steps"},
              "gan": {"ngf", "ndf", "n_critic", "clip", "heads", "t_min", "t_max"},
              "gan-m": {"ngf", "ndf", "n_critic", "clip", "heads", "t_min", "t_max", "lambda_m"}}
    for kind in KINDS:
        hp = hparams_from(p | {"model": kind})
        assert set(hp) == expect[kind], kind
        model = build(kind, 8, **hp)
        assert {k: model.hparams[k] for k in hp} == hp, kind
    for grid in TRAIN_GRIDS:
        gan = hparams_from(p | {"model": "gan", "grid": grid})
        assert (gan["t_min"], gan["t_max"]) == pytest.approx((1.6, 3.4)), grid
    with pytest.raises(ValueError, match="model must be one of"):
        hparams_from(p | {"model": "vae"})


@pytest.mark.parametrize("scales", [(1.0, 1.0, 1.0, 1.0), (1.0, 1e3, 1e-3, 50.0), (1e-3, 1.0, 1e3, 1e-6)])
def test_gan_selection_never_compares_two_critics(scales, two_temperatures, tmp_path, monkeypatch):
    """Every checkpoint of a WGAN has its own critic, so their Wasserstein estimates are not on one scale.
    Four checkpoints whose critics report their estimates on wildly different scales (and signs of
    'improvement'): the selected checkpoint is the last, whatever the scales, and it holds the final
    weights. A DDPM-like model (no such attribute) still keeps the lowest score, so the rule is per model."""
    model = WGAN(8, ngf=8, ndf=8, n_critic=1, clip=0.05, heads=2, t_min=1.5, t_max=3.5)
    scores = iter(s * v for s, v in zip(scales, (0.4, 0.1, 0.3, 0.2)))
    monkeypatch.setattr(WGAN, "val_loss", lambda self, x, T, g=None: next(scores))
    h = fit(model, two_temperatures, dict(steps=4, batch=16, lr=1e-3, val_every=1, ckpt_every=4, seed=3),
            tmp_path / "gan", progress=False)
    assert h["best_step"] == 4 and h["val_step"] == [1, 2, 3, 4]
    best = torch.load(tmp_path / "gan" / "best.pt", weights_only=True)
    assert best["step"] == 4
    final = {k: v for k, v in model.state_dict().items()}
    assert all(torch.equal(best["model"][k], final[k]) for k in final)
    # the rule is the GAN's: with the attribute off, the same scores pick their minimum
    monkeypatch.setattr(WGAN, "selects_last_checkpoint", False)
    scores = iter(s * v for s, v in zip(scales, (0.4, 0.1, 0.3, 0.2)))
    h = fit(WGAN(8, ngf=8, ndf=8, n_critic=1, clip=0.05, heads=2, t_min=1.5, t_max=3.5), two_temperatures,
            dict(steps=4, batch=16, lr=1e-3, val_every=1, ckpt_every=4, seed=3), tmp_path / "min", progress=False)
    vals = [s * v for s, v in zip(scales, (0.4, 0.1, 0.3, 0.2))]
    assert h["best_step"] == 1 + int(np.argmin(vals))
