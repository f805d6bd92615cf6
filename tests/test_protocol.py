"""The fair-verdict protocol (issue 10): seen / unseen / outside regions, pooling only seed replicates,
equal sample counts, the training-budget trend, the Binder cumulant, the matched DDPM and the GAN's
selection rule. Each test names the wrong answer it catches."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from adsorbstudy.analysis import comparisons, tables, wording
from adsorbstudy.physics import ensembles, exact, grids, lattice, observables


# --------------------------------------------------------------------------- regions of the test grid
def test_region_of_splits_seen_unseen_outside():
    train = grids.TRAIN_GRIDS["coarse"]
    assert tables.region_of(2.2, train) == "seen"
    assert tables.region_of(2.3, train) == "unseen"           # between 2.2 and 2.4: never trained on
    assert tables.region_of(1.5, train) == "outside" and tables.region_of(3.5, train) == "outside"
    assert tables.region_of(1.6 + 1e-9, train) == "seen"      # rounding of the grid does not matter
    with pytest.raises(ValueError, match="train_T"):
        tables.region_of(2.0, [])


@pytest.mark.parametrize("profile", ["smoke", "default"])
def test_profiles_test_unseen_temperatures(profile):
    """Catches a test grid that coincides with the training grid (interpolation never tested)."""
    from adsorbstudy.study.profile import load_profile

    p = load_profile(profile)
    fid = next(r for r in p.runs if r.notebook == "05-fidelity")
    d = fid.parameters  # the profile's defaults merged in
    temps = grids.test_grid(d["test_start"], d["test_stop"], d["test_step"])
    grid = fid.parameters.get("grid", "coarse")
    regions = {tables.region_of(T, grids.TRAIN_GRIDS[grid]) for T in temps}
    assert regions == {"seen", "unseen", "outside"}


# --------------------------------------------------------------------------- pooling seeds
def _spec(seed=0, **change):
    spec = {"kind": "adsorption", "L": 8, "hparams": {"K": 20, "base": 8}, "sampler": "native", "sample_steps": None,
            "n_samples_per_T": 50, "test_T": [1.5, 2.4],
            "training": {"grid": "coarse", "n_per_T": 200, "mc_seed": 0, "config": {"steps": 200, "lr": 0.002, "seed": seed}}}
    for path, value in change.items():
        *head, last = path.split("__")
        d = spec
        for h in head:
            d = d[h]
        d[last] = value
    return spec


def test_check_poolable_accepts_seed_replicates_and_names_any_other_difference():
    groups = comparisons.check_poolable({"a": _spec(0), "a-s1": _spec(1), "d": _spec(0, kind="ddpm")})
    assert groups == {"adsorption": ["a", "a-s1"], "ddpm-1000": ["d"]}
    with pytest.raises(ValueError, match=r"'a' and 'a-s1'.*hparams\.K"):
        comparisons.check_poolable({"a": _spec(0), "a-s1": _spec(1, hparams__K=10)})
    with pytest.raises(ValueError, match=r"config\.steps"):
        comparisons.check_poolable({"a": _spec(0), "a-s1": _spec(1, training__config__steps=300)})
    with pytest.raises(ValueError, match="n_samples_per_T"):
        comparisons.check_poolable({"a": _spec(0), "a-s1": _spec(1, n_samples_per_T=200)})
    with pytest.raises(ValueError, match="repeat a training seed"):
        comparisons.check_poolable({"a": _spec(0), "a-again": _spec(0)})


def test_arm_separates_the_two_ddpms():
    assert comparisons.arm_of({"kind": "ddpm", "hparams": {"n_steps": 50}}) == "ddpm-50"
    assert comparisons.arm_of({"kind": "ddpm", "hparams": {}}) == "ddpm-1000"
    assert comparisons.arm_of({"kind": "adsorption-nolateral"}) == "adsorption-nolateral"
    # the matched DDPM on the adsorption generator's ᾱ is its own arm, not the linear 50-level DDPM
    assert comparisons.arm_of({"kind": "ddpm", "hparams": {"n_steps": 50, "schedule": "cosine"}}) == "ddpm-50-cosine"


def test_claims_refuse_unequal_sample_counts():
    """Catches a comparison of a model scored on 300 samples with one scored on 200 (small-n bias)."""
    def row(model, e, n):
        return {"model": model, "T": 2.0, "n": n, "e": e, "e_err": 0.01, "m_abs": 0.5, "m_abs_err": 0.01, "U4": 0.6,
                "U4_err": 0.01, "C": 1.0, "C_err": 0.1, "exact_c": 1.0, "chi": 1.0, "chi_err": 0.1, "w1_e": 0.1,
                "w1_e_err": 0.01, "w1_m": 0.1, "w1_m_err": 0.01, "nfe": 10, "seconds_per_1000": 1.0}

    def study(n_d):
        rows = [row("MC", -1.7, 300), row("a0", -1.6, 300), row("a1", -1.62, 300), row("d0", -1.5, n_d), row("d1", -1.52, n_d)]
        extras = {m: {"arm": "adsorption" if m[0] == "a" else "ddpm-50", "sampler": "native"} for m in ("a0", "a1", "d0", "d1")}
        return rows, comparisons.verdict(rows, [2.0, 2.5], extras=extras)

    rows, v = study(200)
    with pytest.raises(ValueError, match="n_samples"):
        comparisons.claims(rows, v, [("adsorption", "ddpm-50")], [2.0, 2.5])
    rows, v = study(300)
    cs = comparisons.claims(rows, v, [("adsorption", "ddpm-50")], [2.0, 2.5])
    assert [c["region"] for c in cs] == ["seen"] * 3 and cs[0]["n"] == 300
    md = wording.claims_markdown(cs)
    assert "300 samples per temperature" in md and "| seen (1 T) |" in md and "never called better" in md


# --------------------------------------------------------------------------- training-budget trend
def _curves(values_by_seed, steps=(250, 500, 750)):
    return [{"step": list(steps), "d_e": list(v), "d_m_abs": list(v), "w1_e": list(v)} for v in values_by_seed]


STEPS = (250, 500, 1000, 2000)


@pytest.mark.parametrize("a, b, outcome", [
    # b improves faster than a: the negative gap (a better) closes with budget
    ([[0.10, 0.09, 0.08, 0.07], [0.11, 0.10, 0.09, 0.075]], [[0.40, 0.30, 0.20, 0.10], [0.42, 0.31, 0.21, 0.11]], "narrows"),
    # a improves, b does not: the negative gap grows
    ([[0.10, 0.07, 0.05, 0.03], [0.11, 0.08, 0.05, 0.035]], [[0.30, 0.30, 0.31, 0.30], [0.31, 0.30, 0.30, 0.31]], "widens"),
    # parallel curves: no trend of the gap beyond the seeds' scatter
    ([[0.10, 0.08, 0.06, 0.04], [0.12, 0.07, 0.07, 0.03]], [[0.30, 0.29, 0.26, 0.24], [0.31, 0.27, 0.27, 0.23]], "no trend resolved"),
])
def test_budget_trend_regresses_each_seed_on_log_steps(a, b, outcome):
    t = comparisons.budget_trend(_curves(a, STEPS), _curves(b, STEPS), "d_e", "a", "b")
    assert t["outcome"] == outcome and t["steps"] == list(STEPS) and t["last_step"] == 2000
    # the slope and its interval by hand: least squares on ln(steps) per seed, then Welch over seeds
    x = np.log(STEPS)
    sl = lambda y: np.polyfit(x, y, 1)[0]  # noqa: E731
    sa, sb = np.array([sl(y) for y in a]), np.array([sl(y) for y in b])
    va, vb = sa.var(ddof=1) / 2, sb.var(ddof=1) / 2
    dof = (va + vb) ** 2 / (va ** 2 + vb ** 2)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    d = sa.mean() - sb.mean()
    assert t["slope"] == pytest.approx(d, abs=1e-12)
    assert t["slope_low"] == pytest.approx(d - half, rel=1e-9) and t["slope_high"] == pytest.approx(d + half, rel=1e-9)
    assert math.isclose(t["gap_last"], np.mean([y[-1] for y in a]) - np.mean([y[-1] for y in b]))
    md = wording.budget_markdown({"T": [2.0], "n": 64, "trends": [t]})
    assert "a vs b" in md and "at 2000 optimizer steps" in md


def test_budget_trend_interval_covers_a_zero_trend_at_the_nominal_rate():
    """2,000 simulated pairs of arms (3 seeds each, 5 snapshots) whose curves have the same true slope
    and independent noise: the slope interval covers the true difference 0 in 95 % ± 2 % of them."""
    rng = np.random.default_rng(2024)
    steps = (250, 500, 1000, 2000, 3000)
    base = 0.3 - 0.04 * np.log(np.array(steps) / 250)
    cover = 0
    for _ in range(2000):
        a = base + rng.normal(0, 0.02, (3, 5)) + rng.normal(0, 0.02, (3, 1))
        b = base + 0.1 + rng.normal(0, 0.02, (3, 5)) + rng.normal(0, 0.02, (3, 1))
        t = comparisons.budget_trend(_curves(a, steps), _curves(b, steps), "d_e", "a", "b")
        cover += t["slope_low"] <= 0 <= t["slope_high"]
    assert abs(cover / 2000 - 0.95) < 0.02


def test_budget_trend_one_seed_makes_no_claim():
    t = comparisons.budget_trend(_curves([[0.1, 0.1, 0.1]]), _curves([[0.5, 0.5, 0.5]]), "d_e", "a", "b")
    assert t["outcome"] == "no claim" and t["slope_low"] is None
    # one arm with one seed, the other with two: no claim, whichever side of the pair it stands on
    one, two = _curves([[0.1, 0.1, 0.1]]), _curves([[0.5, 0.5, 0.5], [0.51, 0.52, 0.5]])
    assert comparisons.budget_trend(one, two, "d_e", "a", "b")["outcome"] == "no claim"
    assert comparisons.budget_trend(two, one, "d_e", "b", "a")["outcome"] == "no claim"
    assert "no interval" in wording.budget_markdown({"T": [2.0], "n": 8, "trends": [t]})


def test_budget_curve_known_numbers():
    """All-up frames have e = −2 exactly and |m| = 1: the distances to a reference are known in closed form."""
    ref = ensembles.sample_ensemble(8, 3.0, 200, method="wolff", seed=5).configs
    up = np.ones((40, 8, 8), np.int8)
    c = comparisons.budget_curve({"step=000000100_T=3.00": ref[:40], "step=000000200_T=3.00": up}, {3.0: ref})
    e_ref, m_ref = lattice.energy(ref), np.abs(lattice.magnetization(ref))
    assert c["step"] == [100, 200] and c["T"] == [3.0] and c["n"] == 40
    assert math.isclose(c["d_e"][1], abs(-2.0 - e_ref.mean())) and math.isclose(c["d_m_abs"][1], 1 - m_ref.mean())
    # W1 of a point mass at −2 against the reference distribution is the mean distance to −2
    assert math.isclose(c["w1_e"][1], np.mean(np.abs(e_ref + 2.0)))
    with pytest.raises(ValueError, match="budget_T"):
        comparisons.budget_curve({"step=000000100_T=2.00": up}, {3.0: ref})


# --------------------------------------------------------------------------- the Binder cumulant
def test_binder_cumulant_reproduces_exact_enumeration():
    """U4 from exact Boltzmann samples of the 4×4 torus (drawn from the 2^16-state enumeration) matches the
    enumerated 1 − ⟨m⁴⟩/3⟨m²⟩² within 4 bootstrap errors at three temperatures. Catches |m| in place of
    the signed m only through the error bar, so it also checks the formula: ⟨m²⟩² in place of
    3⟨m²⟩², or ⟨|m|⟩ in place of ⟨m²⟩, is off by far more than 4 errors."""
    L = 4
    N = L * L
    codes = np.arange(2**N)
    spins = (2 * ((codes[:, None] >> np.arange(N)) & 1) - 1).astype(np.int8).reshape(-1, L, L)
    E = lattice.energy(spins) * N
    rng = np.random.default_rng(np.frombuffer(b"binder-U4", np.uint8))
    for T in (1.8, 2.5, 3.5):
        p = np.exp(-(E - E.min()) / T)
        idx = rng.choice(len(p), size=20000, p=p / p.sum())
        st = observables.thermo_stats(spins[idx], T, n_boot=200, seed=1)
        want = float(exact.enumerate_exact(L, T)["U4"])
        assert abs(st["U4"] - want) < 4 * st["U4_err"], (T, st["U4"], st["U4_err"], want)
        assert st["U4_err"] < 0.02
    # the summary row carries the same U4, with the region of its temperature
    (row,) = tables.summary_rows("x", {3.5: spins[idx]}, {3.5: spins[idx]}, L, n_boot=200, seed=1, train_T=[3.5])
    assert row["U4"] == pytest.approx(st["U4"]) and row["U4_err"] == pytest.approx(st["U4_err"])
    assert row["region"] == "seen"


# --------------------------------------------------------------------------- the matched DDPM
def test_matched_ddpm_schedule_is_the_rescaled_linear_one():
    from adsorbstudy.generators.ddpm import DDPM
    from adsorbstudy.generators.schedules import ddpm_linear_beta

    b1000 = ddpm_linear_beta(1000)
    assert float(b1000[0]) == pytest.approx(1e-4) and float(b1000[-1]) == pytest.approx(0.02)
    b50 = ddpm_linear_beta(50)
    assert float(b50[0]) == pytest.approx(2e-3) and float(b50[-1]) == pytest.approx(0.4)
    # both chains end near pure noise: ᾱ_T < 1e-4, and the 50-step chain is not a truncated 1000-step one
    for b in (b1000, b50):
        assert float(torch.prod(1 - b)) < 1e-4
    m = DDPM(8, base=4, depth=1, emb_dim=8, n_steps=50)
    assert m.nfe == 50 and m.nfe_for(10) == 10 and m.hparams["n_steps"] == 50
    x = m.sample(3, 2.0, seed=0)
    assert x.shape == (3, 8, 8) and m.last_sample_stats == {"sampler": "ancestral-50", "nfe": 50}
    with pytest.raises(ValueError, match="n_steps"):
        DDPM(8, n_steps=1)
    with pytest.raises(ValueError, match="n_steps"):
        DDPM(8, n_steps=20)            # 0.02 · 1000/20 = 1: β must stay below 1
    with pytest.raises(ValueError, match="steps"):
        m.sample(2, 2.0, steps=60)     # DDIM cannot take more steps than the chain has


def test_matched_ddpm_trains_on_its_own_chain():
    """Catches a loss that draws t from 1..1000 for a 50-step model (an index error in the schedule)."""
    from adsorbstudy.generators.ddpm import DDPM

    m = DDPM(8, base=4, depth=1, emb_dim=8, n_steps=50)
    spins = torch.ones(16, 8, 8)
    loss = m.loss(spins, torch.full((16,), 2.0), torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)


# --------------------------------------------------------------------------- GAN selection
def test_gan_validation_score_is_the_critics_wasserstein_estimate():
    """The GAN is selected by E[D(x_MC)] − E[D(G(z))] on held-out frames, computed here by hand: catches a
    score built from e or |m| (the evaluation observables)."""
    from adsorbstudy.generators.gan import NOISE, WGAN

    torch.manual_seed(0)
    gan = WGAN(8, ngf=4, ndf=4, heads=3, t_min=1.6, t_max=3.4)
    x = torch.as_tensor(ensembles.sample_ensemble(8, 2.0, 24, method="wolff", seed=3).configs).to(torch.float32)
    T = torch.tensor([1.6] * 12 + [3.0] * 12)
    got = gan.val_loss(x, T, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    gan.eval()
    with torch.no_grad():
        z = torch.randn((24, NOISE), generator=g)
        fake = torch.where(gan.G(z, T) >= 0, 1.0, -1.0)
        d = gan.D(x[:, None], T) - gan.D(fake, T)
    want = np.mean([float(d[:12].mean()), float(d[12:].mean())])
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    # flipping every held-out spin leaves e and |m| unchanged but changes the critic's score
    assert gan.val_loss(-x, T, torch.Generator().manual_seed(7)) != pytest.approx(got, rel=1e-6)


# --------------------------------------------------------------------------- training snapshots
def test_snapshots_hold_the_weights_of_their_step(tmp_path):
    """The last snapshot is the final model (validated only at the end, so it is also the kept one);
    catches snapshots written before the optimizer step or at the wrong steps."""
    from adsorbstudy.generators import train as tr
    from adsorbstudy.generators.families import build

    data = {2.0: ensembles.sample_ensemble(8, 2.0, 20, method="wolff", seed=1).configs,
            3.0: ensembles.sample_ensemble(8, 3.0, 20, method="wolff", seed=2).configs}
    model = build("adsorption", 8, K=4, base=4, depth=1, emb_dim=8)
    cfg = dict(steps=6, batch=8, lr=0.01, val_every=6, ckpt_every=3, snapshot_every=2, seed=0)
    tr.fit(model, data, cfg, tmp_path, progress=False)
    snaps = sorted(tmp_path.glob("snap-*.pt"))
    assert [int(p.stem.split("-")[1]) for p in snaps] == [2, 4, 6]
    last = torch.load(snaps[-1], weights_only=True)["model"]
    first = torch.load(snaps[0], weights_only=True)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(last[k], v)
    assert any(not torch.equal(first[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="snapshot_every"):
        tr.TrainConfig(snapshot_every=-1)


def test_snapshot_steps_log_spaced(tmp_path):
    """``snapshot_steps`` keeps exactly the listed steps (with ``snapshot_every`` too: their union), each
    holding that step's weights; out-of-range or unordered lists are refused naming the field."""
    from adsorbstudy.generators import train as tr
    from adsorbstudy.generators.families import build

    data = {2.0: ensembles.sample_ensemble(8, 2.0, 20, method="wolff", seed=1).configs,
            3.0: ensembles.sample_ensemble(8, 3.0, 20, method="wolff", seed=2).configs}
    model = build("adsorption", 8, K=4, base=4, depth=1, emb_dim=8)
    cfg = dict(steps=6, batch=8, lr=0.01, val_every=6, ckpt_every=3, snapshot_steps=[1, 2, 5], seed=0)
    seen = {}  # the live weights right after each step (no EMA here: the snapshot is the live model)
    tr.fit(model, data, cfg, tmp_path, progress=False,
           callback=lambda step, loss: seen.__setitem__(step, {k: v.clone() for k, v in model.state_dict().items()}))
    snaps = sorted(tmp_path.glob("snap-*.pt"))
    assert [int(p.stem.split("-")[1]) for p in snaps] == [1, 2, 5]
    got = [torch.load(p, weights_only=True) for p in snaps]
    assert [g["step"] for g in got] == [1, 2, 5]
    for g in got:
        assert g["model"].keys() == seen[g["step"]].keys()
        assert all(torch.equal(g["model"][k], seen[g["step"]][k]) for k in g["model"]), g["step"]
    # the steps really differ, so the comparison above can tell one step's weights from another's
    assert not all(torch.equal(got[0]["model"][k], got[2]["model"][k]) for k in got[0]["model"])
    both = tr.TrainConfig(steps=12, snapshot_every=4, snapshot_steps=[1, 2, 4, 9])
    assert both.snapshot_schedule() == [1, 2, 4, 8, 9, 12]
    for bad in ([2, 1], [0, 3], [3, 3], [1, 7], [1.5]):
        with pytest.raises(ValueError, match="snapshot_steps"):
            tr.TrainConfig(steps=6, snapshot_steps=bad)


# --------------------------------------------------------------------------- later chapters' verdict entries
def test_later_entries_survive_the_fidelity_write_in_either_order(tmp_path):
    """Under ``study --jobs`` the images chapter (it needs no Ising model) can finish before the fidelity
    chapter: its entry must still be in the final verdict, as when it finishes after."""
    import json

    finals = []
    for order in ("later first", "fidelity first"):
        path = tmp_path / order / "verdict.json"
        path.parent.mkdir()
        if order == "later first":
            comparisons.update_verdict(path, "images", {"acc": 0.9})
        comparisons.write_verdict(path, {"models": {"a": 1}})
        if order == "fidelity first":
            comparisons.update_verdict(path, "images", {"acc": 0.9})
        comparisons.update_verdict(path, "exact", {"bar": True})
        finals.append(json.loads(path.read_text()))
    assert finals[0] == finals[1] == {"models": {"a": 1}, "images": {"acc": 0.9}, "exact": {"bar": True}}
    comparisons.write_verdict(path, {"models": {"a": 2}})          # a rerun of the fidelity chapter replaces its own part
    assert json.loads(path.read_text()) == {"models": {"a": 2}, "images": {"acc": 0.9}, "exact": {"bar": True}}
    with pytest.raises(ValueError, match="allowed: exact, scaling, images, layers"):
        comparisons.update_verdict(path, "models", {})
    assert set(comparisons.LATER_KEYS) == {"exact", "scaling", "images", "layers"}


def test_exact_markdown_states_the_bar_from_the_rows():
    """Catches a statement that reports the raw estimate's z as SNIS's, or a bar judged on the wrong side."""
    from adsorbstudy.analysis import reweight

    rows = []
    for T, z in ((2.0, 1.0), (3.0, 2.5), (1.2, 9.0)):
        for method, zz, ess in (("snis", z, 400.0), ("raw", 20 * z, 1000.0), ("imh", z, 300.0)):
            rows.append({"model": "adsorption", "T": T, "method": method, "n": 1000, "ess": ess, "z_e": zz, "z_c": -zz,
                         "z_logz": 0.5, "acceptance": 0.3})
    summary = reweight.exact_verdict(rows, (1.6, 3.4))
    assert summary["adsorption"]["bar"] == {"ess_frac_ge_0.1_inside": True, "abs_z_e_c_le_3_inside": True,
                                            "abs_z_logz_le_3": True}
    text = reweight.exact_markdown(rows, summary, ["adsorption"], 16, 1000, (1.6, 3.4))
    assert "SNIS ESS/n is 0.4 inside the training range and 0.4 outside" in text
    assert "inside the range is 2.5 for e and 2.5 for C (raw: 50.0 and 50.0)" in text
    assert "ESS/n ≥ 0.1 inside the range is met" in text and "no test" not in text
    rows[3]["z_e"] = 4.0                                      # SNIS at T = 3 now misses
    summary = reweight.exact_verdict(rows, (1.6, 3.4))
    assert "|z| ≤ 3 for e and C inside is missed" in reweight.exact_markdown(rows, summary, ["adsorption"], 16, 1000,
                                                                              (1.6, 3.4))
