"""Results that cannot go stale: a checkpoint is retrained when the code behind it changes, a chapter
re-executes when a module it imports changes and only then, and the book knows its commit."""
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

import adsorbstudy
from conftest import run_cli

PKG = Path(adsorbstudy.__file__).resolve().parent


# --------------------------------------------------------------------------- checkpoints
def test_changing_the_code_behind_a_checkpoint_retrains_it(tmp_path, monkeypatch):
    """A tiny DDPM through train_run: reused while nothing changes; retrained after a bump of its family's
    version, of the training loop's, or of the Monte Carlo's; not after a bump of another family's."""
    from adsorbstudy.generators import ddpm, gan, train as tr
    from adsorbstudy.physics import ensembles

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "params").mkdir()
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(tmp_path))
    fits = []
    real_fit = tr.fit
    monkeypatch.setattr(tr, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    params = {"kind": "ddpm", "L": 4, "grid": "coarse", "n_per_T": 4, "mc_seed": 0, "method": "metropolis",
              "mc_backend": "torch", "hparams": {"base": 2, "depth": 1, "emb_dim": 4},
              "train": {"steps": 2, "batch": 4, "val_every": 2, "ckpt_every": 2}}

    def train():
        rec = tr.train_run("tiny", params, "st", device="cpu", progress=False)
        return rec["params_key"], len(fits)

    first = train()
    assert first[1] == 1 and train() == first  # unchanged: the checkpoint is reused, no training
    monkeypatch.setattr(gan, "VERSION", gan.VERSION + 1)
    assert train() == first  # another family's code: this checkpoint stays valid
    keys = {first[0]}
    for module, name, bumped in ((ddpm, "VERSION", ddpm.VERSION + 1), (tr, "TRAIN_VERSION", tr.TRAIN_VERSION + 1),
                                 (ensembles, "VERSION", ensembles.VERSION + "-bumped")):
        monkeypatch.setattr(module, name, bumped)
        key, n = train()
        assert n == len(keys) + 1 and key not in keys, f"a bump of {module.__name__}.{name} did not retrain"
        keys.add(key)
        rec = json.loads((tmp_path / "results" / "st" / "models" / "tiny.json").read_text())
        assert (tmp_path / rec["checkpoint"]).exists() and rec["params_key"] == key


# --------------------------------------------------------------------------- chapter stamps
NB = textwrap.dedent('''
    # %% tags=["parameters"]
    profile = "fixture"  # str

    # %%
    import os
    from adsorbstudy.physics import {module}
    from adsorbstudy.study.runtime import results_dir

    results_dir(profile).mkdir(parents=True, exist_ok=True)
    assert {module}.__file__.startswith(os.environ["ADSORBSTUDY_ROOT"]), {module}.__file__  # the edited copy
''')


@pytest.fixture
def study_copy(fixture_root):
    """A fixture study root with its own copy of the package, which the runner and the kernels import."""
    shutil.copytree(PKG, fixture_root / "adsorbstudy", ignore=shutil.ignore_patterns("__pycache__"))
    (fixture_root / "notebooks" / "10-iso.py").write_text(NB.format(module="isotherm"))
    (fixture_root / "notebooks" / "20-exact.py").write_text(NB.format(module="exact"))
    (fixture_root / "params" / "fx.yaml").write_text("runs:\n  - notebook: 10-iso\n  - notebook: 20-exact\n")
    return fixture_root


def cli(args, root):
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(root)  # the copy, not the checkout, for the runner and its kernels
    try:
        return run_cli(args, root)
    finally:
        os.environ["PYTHONPATH"] = env_path


def executed(root) -> list[str]:
    runs = json.loads((root / "artifacts" / "fx" / "timings.json").read_text())["runs"]
    return [r["name"] for r in runs if r["status"] == "ran"]


def poke(path: Path, header: str) -> None:
    """A code change in the def whose line starts with ``header``: one statement at the start of its body."""
    lines = path.read_text().splitlines(keepends=True)
    i = next(k for k, ln in enumerate(lines) if ln.startswith(header))
    while not lines[i].rstrip().endswith(":"):
        i += 1
    lines.insert(i + 1, "    _poked = 1\n")
    path.write_text("".join(lines))


def test_a_chapter_reruns_when_a_module_it_imports_changes_and_only_then(study_copy):
    root, pkg = study_copy, study_copy / "adsorbstudy"
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert executed(root) == ["10-iso", "20-exact"]
    # an unrelated module (no chapter imports plots), and a docstring and a comment in an imported one
    poke(pkg / "analysis" / "plots.py", "def ")
    exact = pkg / "physics" / "exact.py"
    exact.write_text(exact.read_text().replace('def onsager_energy(T):\n    """', 'def onsager_energy(T):\n    """Edited. ', 1)
                     + "\n# a comment\n")
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 0 and executed(root) == [], res.stdout + res.stderr
    # code that 20-exact imports: it reruns; 10-iso (which it needs, not the reverse) stays cached
    poke(exact, "def onsager_energy(")
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 0 and executed(root) == ["20-exact"], res.stdout + res.stderr
    # code that 10-iso imports: it reruns, and so does 20-exact, which needs it (the default rule)
    poke(pkg / "physics" / "isotherm.py", "def spinodal(")
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 0 and executed(root) == ["10-iso", "20-exact"], res.stdout + res.stderr


def test_the_runner_refuses_a_producer_changed_without_its_version(study_copy):
    root, pkg = study_copy, study_copy / "adsorbstudy"
    poke(pkg / "physics" / "montecarlo.py", "def _metro_lanes(")
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 2 and res.stdout == "", res.stdout + res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("adsorbstudy: error: source of ising (Monte Carlo ensembles") and \
        "adsorbstudy.physics.montecarlo:_metro_lanes" in line and "bump adsorbstudy.physics.ensembles.VERSION" in line, line
    assert not (root / "artifacts").exists()  # before any work
    assert cli(["versions"], root).returncode == 2
    assert cli(["versions", "--update"], root).returncode == 2  # no bump: refused
    from adsorbstudy.physics import ensembles

    bumped = ensembles.VERSION + "-bumped"  # whatever the shipped version is
    ens = pkg / "physics" / "ensembles.py"
    ens.write_text(ens.read_text().replace(f'VERSION = "{ensembles.VERSION}"', f'VERSION = "{bumped}"'))
    res = cli(["versions", "--update"], root)
    assert res.returncode == 0 and "updated ising" in res.stdout, res.stdout + res.stderr
    res = cli(["study", "--profile", "fx"], root)
    assert res.returncode == 0 and executed(root) == ["10-iso", "20-exact"], res.stdout + res.stderr


# --------------------------------------------------------------------------- provenance
def test_provenance_records_the_commit_and_a_dirty_tree(fixture_root):
    from adsorbstudy.study.provenance import provenance_markdown

    root = fixture_root
    git = lambda *a: subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True, check=True).stdout  # noqa: E731
    (root / ".gitignore").write_text("artifacts/\nresults/\nbook/generated/\n")
    (root / "params" / "fx.yaml").write_text("runs:\n  - notebook: 10-ok\n  - {notebook: 10-ok, name: b, parameters: {n: 2}}\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fixture")
    head = git("rev-parse", "HEAD").strip()
    assert run_cli(["study", "--profile", "fx"], root).returncode == 0
    prov = root / "results" / "fx" / "provenance.json"
    rec = json.loads(prov.read_text())
    assert rec["batch"]["commit"] == head and rec["batch"]["dirty"] is False
    assert {k: (v["commit"], v["dirty"]) for k, v in rec["runs"].items()} == {"10-ok": (head, False), "b": (head, False)}
    assert provenance_markdown(prov) == f"Every result in this book (2 notebook runs) was made from commit {head[:12]} (clean)."
    timings = json.loads((root / "artifacts" / "fx" / "timings.json").read_text())
    assert timings["git"]["commit"] == head and timings["git"]["dirty"] is False
    # an uncommitted change, then only run b re-executes: the book names both states
    (root / "notebooks" / "10-ok.py").write_text((root / "notebooks" / "10-ok.py").read_text() + "\n# edited\n")
    (root / "params" / "fx.yaml").write_text("runs:\n  - notebook: 10-ok\n  - {notebook: 10-ok, name: b, parameters: {n: 3}}\n")
    assert run_cli(["study", "--profile", "fx", "--only", "b"], root).returncode == 0
    rec = json.loads(prov.read_text())
    assert rec["batch"]["dirty"] is True and "notebooks/10-ok.py" in rec["batch"]["changed"]
    assert rec["runs"]["b"]["dirty"] is True and rec["runs"]["10-ok"]["dirty"] is False
    assert provenance_markdown(prov) == (f"The results in this book come from more than one state of the source. "
                                         f"commit {head[:12]} (clean): 10-ok; commit {head[:12]} (uncommitted changes): b.")
    # the chapter that renders it executes in the current batch: it counts with the batch's state
    assert provenance_markdown(prov, run_name="10-ok") == (
        f"Every result in this book (2 notebook runs) was made from commit {head[:12]} (uncommitted changes).")
