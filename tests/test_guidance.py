"""The guidance curve (adsorbstudy.analysis.guidance): λ = 0 is the unguided sampler bit for bit, and each
row's numbers equal an independent computation from the same samples."""
import numpy as np
import pytest
import torch

from adsorbstudy.analysis import guidance
from adsorbstudy.analysis.reweight import sample_weighted
from adsorbstudy.generators.families import build
from adsorbstudy.physics import exact


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    m = build("adsorption-checkerboard", 4, K=4, base=4, depth=1, emb_dim=8)
    with torch.no_grad():  # a visible temperature dependence, so guided and unguided proposals differ
        for p in m.parameters():
            p.mul_(3.0)
    return m.eval()


def test_lambda_zero_is_the_unguided_sampler_and_rows_match_an_independent_computation(model):
    n, T = 96, 2.3
    rows = guidance.guidance_curve(model, [T], [0.0, 0.5], n, guide_layers=2, seed=11, batch=40)
    assert [r["lambda"] for r in rows] == [0.0, 0.5] and set(rows[0]) == set(guidance.COLUMNS)
    for r in rows:
        kw = {} if r["lambda"] == 0 else {"physics": r["lambda"], "guide_layers": 2}
        spins, log_w, _ = sample_weighted(model, n, T, seed=11, batch=40, **kw)
        e = -(spins * (np.roll(spins, 1, 1) + np.roll(spins, 1, 2))).sum((1, 2)) / 16.0
        w = np.exp(log_w - log_w.max())
        wbar = w / w.sum()
        e_ex = float(exact.finite_size(4, T)[0])
        assert r["e_exact"] == e_ex
        assert r["e_raw"] == pytest.approx(e.mean(), abs=1e-12)
        assert r["de_raw"] == pytest.approx(e.mean() - e_ex, abs=1e-12)
        assert r["e_raw_err"] == pytest.approx(e.std() / np.sqrt(n), rel=1e-9)
        assert r["e_snis"] == pytest.approx(wbar @ e, abs=1e-12)
        assert r["ess_n"] == pytest.approx(1.0 / np.sum(wbar ** 2) / n, rel=1e-12)
    # the unguided call (no proposal arguments at all) gives the λ = 0 row's samples exactly
    s0, lw0, _ = sample_weighted(model, n, T, seed=11, batch=40)
    s1, lw1, _ = sample_weighted(model, n, T, seed=11, batch=40, physics=0.0, guide_layers=2)
    assert np.array_equal(s0, s1) and np.array_equal(lw0, lw1)
    # guidance changes the proposal: other samples or other weights
    sg, lwg, _ = sample_weighted(model, n, T, seed=11, batch=40, physics=0.5, guide_layers=2)
    assert not (np.array_equal(sg, s0) and np.allclose(lwg, lw0))


def test_bad_lambdas_are_refused_before_sampling(model):
    for bad in ([], [-0.1], [float("nan")]):
        with pytest.raises(ValueError, match="lambdas must be"):
            guidance.guidance_curve(model, [2.0], bad, 8)
