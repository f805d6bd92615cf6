"""The training loop: determinism, interrupt/resume, best-model keeping, the study entry points."""
import json
import os
import time

import numpy as np
import pytest
import torch

from adsorbstudy.generators import train as tr
from adsorbstudy.generators.families import build
from adsorbstudy.generators.train import fit, TrainConfig
from adsorbstudy.physics import ensembles, grids
from adsorbstudy.study.seeds import seed_for
from adsorbstudy.study.store import FORCE_ENV, params_key, Store
from conftest import metropolis


@pytest.fixture(scope="module")
def data():
    return {1.5: metropolis(8, 1.5, 60, sweeps=100, seed=1), 3.5: metropolis(8, 3.5, 60, sweeps=100, seed=2)}


TINY = {"adsorption": dict(K=5, base=4, depth=1, emb_dim=8), "ddpm": dict(base=4, depth=2, emb_dim=8),
        "gan-m": dict(ngf=4, ndf=4, n_critic=2)}


class Interrupt(Exception):
    pass


def _stop_at(n):
    def cb(step, loss):
        if step == n:
            raise Interrupt
    return cb


@pytest.mark.parametrize("kind,ema", [("adsorption", 0.9), ("ddpm", 0.0), ("gan-m", 0.0)])
def test_resume_is_bitwise_identical(kind, ema, data, tmp_path):
    cfg = dict(steps=30, batch=16, lr=1e-3, ema=ema, val_every=10, ckpt_every=10, seed=3)

    torch.manual_seed(0)
    ref = build(kind, 8, **TINY[kind])
    h_ref = fit(ref, data, cfg, tmp_path / "a", progress=False)

    torch.manual_seed(0)
    first = build(kind, 8, **TINY[kind])
    with pytest.raises(Interrupt):
        fit(first, data, cfg, tmp_path / "b", progress=False, callback=_stop_at(25))
    ck = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert ck["step"] == 20
    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = build(kind, 8, **TINY[kind])
    h_res = fit(resumed, data, cfg, tmp_path / "b", progress=False)

    for (k, a), (_, b) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k
    last_a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    last_b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    assert h_ref["loss"] == h_res["loss"] and h_ref["val_loss"] == h_res["val_loss"]


def test_keeps_the_best_validation_model(data, tmp_path):
    torch.manual_seed(0)
    model = build("adsorption", 8, **TINY["adsorption"])
    h = fit(model, data, dict(steps=40, batch=16, lr=3e-3, val_every=5, ckpt_every=20), tmp_path, progress=False)
    assert h["best_val"] == min(h["val_loss"])
    assert h["best_step"] == h["val_step"][int(np.argmin(h["val_loss"]))]
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["step"] == h["best_step"]
    assert all(torch.equal(v, best["model"][k]) for k, v in model.state_dict().items())
    # the validation loss of the returned model is the recorded best
    _, _, vx, vT = tr.split_data(data, TrainConfig(seed=0), 8)
    assert tr.validation_loss(model, vx, vT, seed_for(0, "train-validation")) == pytest.approx(h["best_val"], rel=1e-6)
    # a finished run is reused, not retrained
    h2 = fit(build("adsorption", 8, **TINY["adsorption"]), data,
             dict(steps=40, batch=16, lr=3e-3, val_every=5, ckpt_every=20), tmp_path, progress=False)
    assert h2["loss"] == h["loss"]


def test_config_errors(data, tmp_path):
    for bad in (dict(steps=0), dict(lr=-1.0), dict(batch=0), dict(ema=1.0), dict(lr_schedule="step"),
                dict(val_fraction=1.0), dict(colour="red")):
        with pytest.raises(ValueError, match="train config"):
            TrainConfig.from_dict(bad)
    for field in ("lr", "weight_decay", "grad_clip", "ema", "val_fraction", "max_seconds"):
        for value in (None, "0.1", True):  # wrong types name the field, not a TypeError from a comparison
            with pytest.raises(ValueError, match=f"train config {field} must"):
                TrainConfig.from_dict({field: value})
    model = build("adsorption", 8, **TINY["adsorption"])
    fit(model, data, dict(steps=2, batch=8, val_every=1, ckpt_every=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="another config"):
        fit(model, data, dict(steps=3, batch=8, val_every=1, ckpt_every=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="shape"):
        fit(model, {2.0: np.ones((10, 4, 4), np.int8)}, dict(steps=1), tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="±1"):
        fit(model, {2.0: np.zeros((10, 8, 8), np.int8)}, dict(steps=1), tmp_path / "y", progress=False)
    with pytest.raises(ValueError, match="temperature"):
        fit(model, {-2.0: np.ones((10, 8, 8), np.int8)}, dict(steps=1), tmp_path / "z", progress=False)


def test_build_rejects_unknown_kind_and_bad_lattice():
    with pytest.raises(ValueError, match="kind must be one of adsorption, adsorption-nolateral, adsorption-checkerboard, ddpm, gan, gan-m"):
        build("flow", 16)
    with pytest.raises(ValueError, match="4·2\\^m"):
        build("gan", 12)
    with pytest.raises(ValueError, match="divisible"):
        build("adsorption-nolateral", 12, depth=4)
    with pytest.raises(ValueError, match="hyperparameters"):
        build("ddpm", 16, K=10)


@pytest.fixture
def mc_calls(data, tmp_path, monkeypatch):
    """A study root in ``tmp_path`` whose Monte Carlo ensembles come from ``data``; the list of MC requests."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "params").mkdir()
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(tmp_path))
    monkeypatch.delenv(FORCE_ENV, raising=False)

    calls = []

    class Ens:
        def __init__(self, c):
            self.configs = c

    def fake_cached(store, L, temperatures, n, *, method="auto", seed=0, progress=True, device=None):
        calls.append((L, tuple(temperatures), n, seed))
        return {T: Ens(data[1.5 if T < 2.27 else 3.5][:n]) for T in temperatures}

    monkeypatch.setattr(ensembles, "cached_ensembles", fake_cached)
    return calls


RUN = {"kind": "adsorption", "L": 8, "grid": "coarse", "n_per_T": 20, "mc_seed": 0,
       "hparams": TINY["adsorption"], "train": dict(steps=6, batch=8, val_every=3, ckpt_every=3)}


def test_train_run_writes_json_and_reuses_checkpoint(mc_calls, tmp_path):
    calls, params = mc_calls, RUN
    rec = tr.train_run("adsorb-test", params, "scratch", device="cpu", progress=False)
    assert calls == [(8, tuple(grids.TRAIN_GRIDS["coarse"]), 20, seed_for(0, "mc-train"))]  # chapter 3's stream
    js = json.loads((tmp_path / "results/scratch/models/adsorb-test.json").read_text())
    assert js == json.loads(json.dumps(rec))
    assert js["kind"] == "adsorption" and js["steps"] == 6 and js["hparams"]["K"] == 5
    assert (tmp_path / js["checkpoint"]).exists() and not js["checkpoint"].startswith("/")
    assert js["n_params"] == build("adsorption", 8, **TINY["adsorption"]).n_params()
    tr.update_model_json("adsorb-test", "scratch", seconds_per_1000=1.5, nfe=5)
    rec2 = tr.train_run("adsorb-test", params, "scratch", device="cpu", progress=False)
    assert len(calls) == 1  # reused: no MC, no training
    assert rec2["seconds_per_1000"] == 1.5 and rec2["train_seconds"] == rec["train_seconds"]
    model = tr.load_trained("adsorb-test", "scratch")
    samples, spt, stats = tr.sample_grid(model, [1.0, 2.25], 5, seed=1, progress=False)
    assert list(samples) == ["T=1.00", "T=2.25"] and samples["T=1.00"].shape == (5, 8, 8)
    assert samples["T=1.00"].dtype == np.int8 and spt > 0 and stats["nonconverged"] >= 0
    assert tr.training_history("adsorb-test", "scratch")["step"] == list(range(1, 7))
    with pytest.raises(ValueError, match="kind"):
        tr.train_run("x", params | {"kind": "vae"}, "scratch")
    with pytest.raises(ValueError, match="grid"):
        tr.train_run("x", params | {"grid": "medium"}, "scratch")
    with pytest.raises(ValueError, match="name"):
        tr.load_trained("nothing", "scratch")


def test_force_retrains_and_a_forced_run_resumes_its_own_checkpoint(mc_calls, tmp_path, monkeypatch):
    """``study --force`` must train again, not reload the finished run's ``last.pt`` (which would
    run zero steps); an interrupted forced run must still resume from the checkpoint it wrote."""
    seen, stop = [], [None]
    real_fit = tr.fit

    def spy_fit(*args, **kw):  # records every optimizer step train_run performs; can interrupt
        def cb(step, loss):
            seen.append(step)
            if step == stop[0]:
                raise Interrupt
        return real_fit(*args, callback=cb, **kw)

    monkeypatch.setattr(tr, "fit", spy_fit)
    key = params_key(tr.checkpoint_key(RUN))  # the checkpoint's key holds the code versions
    ckpt = tmp_path / "artifacts" / "scratch" / "checkpoints" / key
    final = tmp_path / "artifacts" / "scratch" / "models" / f"{key}.pt"

    tr.train_run("m", RUN, "scratch", device="cpu", progress=False)
    assert seen == [1, 2, 3, 4, 5, 6]
    first = torch.load(final, weights_only=True)["model"]
    seen.clear()
    tr.train_run("m", RUN, "scratch", device="cpu", progress=False)
    assert seen == []  # not forced: the finished model is reused

    time.sleep(0.05)  # file mtimes come from a coarse kernel clock: keep clear of the force time
    since = time.time()
    monkeypatch.setenv(FORCE_ENV, repr(since))
    time.sleep(0.05)
    stop[0] = 4
    with pytest.raises(Interrupt):
        tr.train_run("m", RUN, "scratch", device="cpu", progress=False)
    assert seen == [1, 2, 3, 4]  # from scratch: the old finished checkpoint was discarded
    last = torch.load(ckpt / "last.pt", weights_only=True)
    assert last["step"] == 3 and (ckpt / "last.pt").stat().st_mtime >= since

    seen.clear()
    stop[0] = None
    rec = tr.train_run("m", RUN, "scratch", device="cpu", progress=False)
    assert seen == [4, 5, 6]  # resumed after its own step-3 checkpoint
    assert rec["steps"] == 6 and final.stat().st_mtime >= since
    again = torch.load(final, weights_only=True)["model"]
    assert again.keys() == first.keys()
    assert all(torch.equal(again[k], first[k]) for k in first)  # same seed on the CPU: same weights


def test_discard_stale_checkpoints_judges_each_file(tmp_path, monkeypatch):
    for f in ("last.pt", "best.pt", "notes.txt"):
        (tmp_path / f).write_bytes(b"x")
    old = time.time() - 100
    os.utime(tmp_path / "best.pt", (old, old))
    os.utime(tmp_path / "notes.txt", (old, old))
    monkeypatch.delenv(FORCE_ENV, raising=False)
    assert tr.discard_stale_checkpoints(Store(tmp_path), tmp_path) == []  # no forced batch: keep all
    monkeypatch.setenv(FORCE_ENV, repr(time.time() - 50))
    # a forced run that wrote last.pt but has not validated yet: the old best.pt would be taken as its best
    assert tr.discard_stale_checkpoints(Store(tmp_path), tmp_path) == [tmp_path / "best.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "notes.txt"]
