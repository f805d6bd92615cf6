"""Data-parallel training under torchrun (gloo, 2 CPU processes): equivalence, resume, a dying rank.

Tolerance of the equivalence test. The ranks draw the global batch and its noise from identically
seeded generators and keep their slices, so a DDP step sees exactly the single process's frames and
random numbers. What differs is float32 arithmetic: DDP averages the two ranks' gradients (each a mean
over half the batch), the single process takes one mean over the whole batch, so the sums are added
in another order (float32 rounding, relative ~1e-7 per gradient element). Adam divides by √v, so
these relative errors pass to the updates unchanged, and after 6 steps of lr 1e-3 the weights agree
far below the 1e-6 absolute the test allows (weights of size ~0.1-1). The test also checks that
training moved the weights by more than 100× that tolerance (so agreement is not the initial weights'),
and, because gradient averaging alone would hide ranks that each train on the whole global batch, that
each rank computed its loss on its own half of every batch and that the halves are the single
process's batch. Only rank 0 saves files (checkpoints and snapshots).

The equivalence is tested for the U-Net models only; the GANs are refused under DDP (their BatchNorm
and gan-m's magnetization loss are whole-batch statistics).
"""
import hashlib
import json
import os
import subprocess
import sys


import numpy as np
import pytest
import torch
import yaml

from adsorbstudy.generators import distributed as dist, train as tr
from adsorbstudy.generators.families import build
from adsorbstudy.study.profile import load_profile, ProfileError, validate_profile
from adsorbstudy.study.runtime import seed_everything
from adsorbstudy.study.store import FORCE_ENV, params_key, study_store
from conftest import ROOT

TINY = {"adsorption": dict(K=5, base=4, depth=1, emb_dim=8), "ddpm": dict(base=4, depth=2, emb_dim=8)}
ATOL = 1e-6


def _seed(name: str) -> int:
    """A seed derived from the test's name, not chosen by hand."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)


def record_training_frames(model) -> list[list[str]]:
    """Wrap ``model.loss`` so that every training-loss call (gradients on; validation runs without)
    appends the list of its frames, each as a hex string of its up-spin mask. Returns that (growing) list."""
    calls: list[list[str]] = []
    loss = model.loss

    def recorded(x, T, generator=None):
        if torch.is_grad_enabled():
            calls.append([bytes((r.flatten() > 0).to(torch.uint8).tolist()).hex() for r in x.detach().cpu()])
        return loss(x, T, generator)
    model.loss = recorded
    return calls


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1",
               TQDM_DISABLE="1", **extra)
    env.pop(FORCE_ENV, None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["adsorption", "ddpm"])
def test_ddp_reaches_the_single_process_weights(kind, tmp_path, request):
    seed = _seed(request.node.name) % 1000
    rng = np.random.default_rng(seed)
    data = {T: np.where(rng.random((24, 8, 8)) < 0.5 + 0.1 * i, 1, -1).astype(np.int8)
            for i, T in enumerate((1.5, 2.5, 3.5))}
    np.savez(tmp_path / "data.npz", **{str(T): x for T, x in data.items()})
    cfg = dict(steps=6, batch=16, lr=1e-3, val_every=6, ckpt_every=3, snapshot_every=3, seed=seed, grad_clip=1.0)
    job = {"data": str(tmp_path / "data.npz"), "kind": kind, "L": 8, "hparams": TINY[kind], "cfg": cfg,
           "ckpt": str(tmp_path / "ddp"), "out": str(tmp_path / "ddp.pt"), "record": str(tmp_path / "frames")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path / "job.json")],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert got["world"] == 2

    seed_everything(seed)
    init = build(kind, 8, **TINY[kind])
    w0 = {k: v.clone() for k, v in init.state_dict().items()}
    single_frames = record_training_frames(init)
    hist = tr.fit(init, data, cfg, tmp_path / "single", progress=False)
    # the sharding: each rank trained on its half of every global batch, and the halves, in rank order,
    # are the single process's batch (gradient averaging alone would hide ranks that train on it all)
    records = [json.loads((tmp_path / f"frames.rank{r}.json").read_text()) for r in (0, 1)]
    ranks = [r["frames"] for r in records]
    assert len(single_frames) == cfg["steps"] and all(len(b) == cfg["batch"] for b in single_frames)
    assert [len(r) for r in ranks] == [cfg["steps"]] * 2
    for step, full in enumerate(single_frames):
        assert [len(r[step]) for r in ranks] == [cfg["batch"] // 2] * 2, step
        assert ranks[0][step] + ranks[1][step] == full, step
    # checkpoints and snapshots are rank 0's alone
    assert records[1]["saves"] == [], records[1]["saves"]
    assert {"last.pt", "best.pt"} <= set(records[0]["saves"]) and sum("snap" in f for f in records[0]["saves"]) == 2
    ref = init.state_dict()
    moved = max(float((ref[k] - w0[k]).abs().max()) for k in ref if ref[k].dtype.is_floating_point)
    diff = max(float((ref[k] - got["model"][k]).abs().max()) for k in ref if ref[k].dtype.is_floating_point)
    assert diff <= ATOL, (diff, moved)
    assert moved > 100 * ATOL  # training moved the weights far more than the tolerance
    np.testing.assert_allclose(got["loss"], hist["loss"], rtol=1e-5)


def test_ddp_refuses_the_gan_and_an_uneven_batch():
    with pytest.raises(ValueError, match="launcher: .*gan"):
        tr.check_data_parallel("gan", 16, 2)
    with pytest.raises(ValueError, match="batch: the global batch 15 .* 2"):
        tr.check_data_parallel("ddpm", 15, 2)
    with pytest.raises(ValueError, match="nproc"):
        dist.check_launch("none", 2)
    with pytest.raises(ValueError, match="bf16"):
        tr.check_cuda_options(tr.TrainConfig(bf16=True), "cpu")
    with pytest.raises(ValueError, match="compile"):
        tr.check_cuda_options(tr.TrainConfig(compile=True), "cpu")
    with pytest.raises(ValueError, match="bf16: applies to the models adsorption"):
        tr.check_cuda_options(tr.TrainConfig(bf16=True), "cuda", "gan-m")
    tr.check_cuda_options(tr.TrainConfig(bf16=True, compile=True), "cuda", "ddpm")  # accepted on CUDA


RUN = {"kind": "ddpm", "L": 8, "grid": "coarse", "n_per_T": 10, "mc_seed": 0, "hparams": TINY["ddpm"],
       "train": dict(steps=6, batch=8, lr=1e-3, val_every=2, ckpt_every=2, seed=0)}


@pytest.fixture(scope="module")
def study_root(tmp_path_factory):
    """A study root whose profiles "a" and "b" hold the (small, real) Monte Carlo ensembles of RUN."""
    root = tmp_path_factory.mktemp("root")
    (root / "pyproject.toml").write_text("")
    (root / "params").mkdir()
    old = os.environ.get("ADSORBSTUDY_ROOT")
    os.environ["ADSORBSTUDY_ROOT"] = str(root)
    try:
        tr.training_ensembles(RUN, "a", "cpu", progress=False)
        import shutil
        shutil.copytree(root / "artifacts" / "a", root / "artifacts" / "b")
    finally:
        os.environ.pop("ADSORBSTUDY_ROOT") if old is None else os.environ.__setitem__("ADSORBSTUDY_ROOT", old)
    return root


@pytest.mark.slow
def test_dying_rank_fails_the_run_by_name_and_the_resumed_run_matches(study_root, monkeypatch):
    for k, v in _env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv(FORCE_ENV, raising=False)
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(study_root))
    # uninterrupted DDP run (profile a)
    rec = dist.launch("m", RUN, "a", device="cpu", progress=False, launcher="torchrun", nproc=2)
    assert rec["processes"] == 2 and rec["steps"] == 6
    # rank 1 dies after step 3 (profile b): the launcher fails naming the run, the checkpoint of step 2 is intact
    monkeypatch.setenv(dist.FAULT_ENV, "1:3")
    with pytest.raises(dist.DistributedRunError, match=r"training run 'm' \(profile b\).*exit status [1-9].*step 2"):
        dist.launch("m", RUN, "b", device="cpu", progress=False, launcher="torchrun", nproc=2)
    last = study_store("b").root / "checkpoints" / params_key(tr.checkpoint_key(RUN)) / "last.pt"
    ck = torch.load(last, weights_only=True)
    assert ck["step"] == 2 and not ck["done"]
    assert not study_store("b").valid(study_store("b").path("models", tr.checkpoint_key(RUN), "pt"))
    import shutil
    shutil.copytree(study_root / "artifacts" / "b", study_root / "artifacts" / "c")  # the same interrupted run
    # the rerun resumes from step 2 and ends with the uninterrupted run's weights
    monkeypatch.delenv(dist.FAULT_ENV)
    dist.launch("m", RUN, "b", device="cpu", progress=False, launcher="torchrun", nproc=2)
    a = torch.load(study_store("a").path("models", tr.checkpoint_key(RUN), "pt"), weights_only=True)["model"]
    b = torch.load(study_store("b").path("models", tr.checkpoint_key(RUN), "pt"), weights_only=True)["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    hist = json.loads((study_root / "results" / "b" / "models" / "m.json").read_text())
    assert hist["steps"] == 6
    # the same DDP checkpoint resumed in one process: the same weights up to float32 summation order
    steps, fit = [], tr.fit
    monkeypatch.setattr(tr, "fit", lambda *a, **kw: fit(*a, **kw, callback=lambda step, loss: steps.append(step)))
    rec = tr.train_run("m", RUN, "c", device="cpu", progress=False)
    assert rec["processes"] == 1 and rec["steps"] == 6
    assert steps == [3, 4, 5, 6]  # it resumed after step 2 rather than starting over
    c = torch.load(study_store("c").path("models", tr.checkpoint_key(RUN), "pt"), weights_only=True)["model"]
    for k in a:
        if a[k].dtype.is_floating_point:
            assert float((a[k] - c[k]).abs().max()) <= ATOL, k


def _smoke_with(run_name: str, **params) -> dict:
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    run = next(r for r in raw["runs"] if r.get("name") == run_name)
    run["parameters"] = dict(run.get("parameters") or {}, **params)
    return raw


@pytest.mark.parametrize("run,params,device,message", [
    ("04-train-gan", dict(launcher="torchrun", nproc=2), "auto", "(04-train-gan).parameters.launcher: expected none for model gan"),
    ("04-train-ddpm", dict(nproc=2), "auto", "(04-train-ddpm).parameters.nproc: expected 1 when launcher is none"),
    ("04-train-ddpm", dict(launcher="torchrun", nproc=3), "auto", "parameters.nproc: expected a divisor of batch = "),
    ("04-train-ddpm", dict(bf16=True), "cpu", "(04-train-ddpm).parameters.bf16: expected false on device cpu"),
    ("04-train-ddpm", dict(torch_compile=True), "cpu", "parameters.torch_compile: expected false on device cpu"),
    ("04-train-ddpm", dict(launcher="mpirun"), "auto", "parameters.launcher: expected str, one of {none, torchrun}"),
    ("04-train-ddpm", dict(nproc=-1), "auto", "parameters.nproc: expected int in [0, 1024]"),
])
def test_profile_refuses_bad_launch_settings(monkeypatch, run, params, device, message):
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    raw = _smoke_with(run, **params)
    raw["device"] = device
    with pytest.raises(ProfileError, match=None) as err:
        validate_profile("smoke", raw, source="smoke.yaml")
    assert message in str(err.value), str(err.value)


def test_profile_accepts_torchrun_for_the_unet_models(monkeypatch):
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    raw = _smoke_with("04-train-ddpm", launcher="torchrun", nproc=2, bf16=True)  # device auto: bf16 is checked at run time
    prof = validate_profile("smoke", raw, source="smoke.yaml")
    assert next(r for r in prof.runs if r.name == "04-train-ddpm").parameters["nproc"] == 2
    paper = load_profile("paper")
    trains = [r for r in paper.runs if r.notebook == "04-train"]
    launch = {r.name: r.parameters["launcher"] for r in trains}
    assert all(v == ("none" if r.parameters["model"].startswith("gan") else "torchrun")
               for r, v in zip(trains, launch.values())), launch


def test_ranks_split_the_jobs_threads(monkeypatch):
    """N torchrun ranks share the job's ``$OMP_NUM_THREADS`` (the runner's share under ``--jobs``)
    instead of each taking all of it; at least one each; one each when it is not set."""
    for budget, nproc, want in (("8", 2, 4), ("2", 2, 1), ("1", 2, 1), ("7", 3, 2), ("4", 1, 4)):
        monkeypatch.setenv("OMP_NUM_THREADS", budget)
        assert dist.rank_threads(nproc) == want, (budget, nproc)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert dist.rank_threads(4) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS"):
        dist.rank_threads(2)
