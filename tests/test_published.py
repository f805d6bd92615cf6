"""Published results (adsorbstudy.study.publish, the book's published_check extension and the chapter
"Beyond the default budget"): what is copied, the manifest's hashes, refusals, staleness, and the samples
from which a published summary row can be recomputed."""
import csv
import importlib.util
import json
import shutil
import subprocess

import numpy as np
import pytest

from adsorbstudy.physics import lattice
from adsorbstudy.study import publish
from conftest import copy_repo, ROOT, run_cli


def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def pub_root(smoke_study, tmp_path_factory):
    """A git checkout of the repository holding the finished smoke study's results (read from the shared
    smoke study), committed and clean."""
    root = copy_repo(tmp_path_factory.mktemp("pub"))
    shutil.copytree(smoke_study.results, root / "results" / "smoke")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "fixture")
    return root


def test_pack_and_unpack_are_exact():
    rng = np.random.default_rng(7)
    for shape in ((5, 4, 4), (3, 8, 8), (1, 6, 6), (0, 4, 4)):
        x = np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int8)
        p = publish.pack_spins(x)
        assert np.array_equal(publish.unpack_spins(p["bits"], p["shape"]), x)
    with pytest.raises(publish.PublishError, match="±1"):
        publish.pack_spins(np.zeros((2, 2, 2)))


def test_publish_copies_results_with_a_manifest_and_samples_recompute_the_summary(pub_root):
    res = run_cli(["publish", "--profile", "smoke"], pub_root, own_code=True)
    assert res.returncode == 0, res.stderr
    out = pub_root / "published" / "smoke"
    manifest = publish.verify(out)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pub_root, capture_output=True, text=True).stdout.strip()
    assert manifest["commit"] == head and manifest["clean"] is True
    reg = json.loads((ROOT / "adsorbstudy" / "study" / "code_versions.json").read_text())["producers"]
    assert manifest["code_versions"] == {k: v["version"] for k, v in reg.items()}
    assert set(manifest["runs"]) == {r["name"] if "name" in r else r["notebook"] for r in _smoke_runs()}
    assert manifest["machine"]["cores"] >= 1 and manifest["machine"]["torch"]
    files = set(manifest["files"])
    assert "verdict.json" in files and "summary.csv" in files and "samples/MC.npz" in files
    assert "images/adsorption-s0.npz" in files and "images_verdict.json" in files
    assert not any(f.startswith("budget/") or f.endswith(".pt") for f in files)
    # a summary row recomputed from the published (packed) samples equals the published table
    samples = publish.load_packed(out / "samples" / "adsorption.npz")
    with open(out / "summary.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == "adsorption"]
    for key, spins in samples.items():
        T = float(key.split("=")[1])
        row = next(r for r in rows if abs(float(r["T"]) - T) < 1e-9)
        assert int(row["n"]) == len(spins)
        assert float(row["e"]) == pytest.approx(float(lattice.energy(spins).mean()), abs=1e-12)
    assert sum((out / f).stat().st_size for f in files) < 5e6


def _smoke_runs():
    import yaml

    return yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())["runs"]


def test_a_changed_file_fails_verification_and_the_book_build_naming_it(pub_root, tmp_path):
    res = run_cli(["publish", "--profile", "smoke"], pub_root, own_code=True)
    assert res.returncode == 0, res.stderr
    site = tmp_path / "site"
    # only the study's own publication: the repository may hold others (published/long)
    shutil.copytree(pub_root / "published" / "smoke", site / "published" / "smoke")
    spec = importlib.util.spec_from_file_location("published_check", ROOT / "book" / "_ext" / "published_check.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    assert ext.check_published(site) == [str(site / "published" / "smoke")]
    target = site / "published" / "smoke" / "summary.csv"
    target.write_text(target.read_text().replace("adsorption,", "adsorption,", 1) + "\n")

    class App:
        srcdir = str(site)

    from sphinx.errors import ExtensionError
    with pytest.raises(ExtensionError) as err:
        ext._check(App())
    msg = str(err.value)
    assert "summary.csv" in msg and "does not match the manifest" in msg and "\n" not in msg
    target.unlink()
    with pytest.raises(publish.PublishError, match="summary.csv: listed in the manifest but missing"):
        publish.verify(site / "published" / "smoke")


def test_publish_refuses_a_dirty_tree_and_an_incomplete_or_failed_study(pub_root, tmp_path):
    root = tmp_path / "r"
    shutil.copytree(pub_root, root, symlinks=True)
    (root / "README.md").write_text((root / "README.md").read_text() + "\nchange\n")
    res = run_cli(["publish", "--profile", "smoke"], root, own_code=True)
    assert res.returncode == 2 and "uncommitted changes (README.md)" in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    _git(root, "checkout", "README.md")
    prov = root / "results" / "smoke" / "provenance.json"
    p = json.loads(prov.read_text())
    del p["runs"]["07-exact"]
    prov.write_text(json.dumps(p))
    res = run_cli(["publish", "--profile", "smoke"], root, own_code=True)
    assert res.returncode == 2 and "incomplete: no finished run 07-exact" in res.stderr and res.stderr.count("\n") == 1
    shutil.copyfile(pub_root / "results" / "smoke" / "provenance.json", prov)
    failed = root / "artifacts" / "smoke" / "failed" / "09-audit.ipynb"
    failed.parent.mkdir(parents=True)
    failed.write_text("{}")
    res = run_cli(["publish", "--profile", "smoke"], root, own_code=True)
    assert res.returncode == 2 and "has failed runs (09-audit)" in res.stderr
    assert not (root / "published" / "smoke").exists() or (root / "published" / "smoke" / "manifest.json").exists()


def test_banner_turns_stale_and_names_the_changed_version():
    reg = json.loads((ROOT / "adsorbstudy" / "study" / "code_versions.json").read_text())["producers"]
    manifest = {"profile": "long", "commit": "0123456789abcdef", "code_versions": {k: v["version"] for k, v in reg.items()},
                "reproduce": ["make book PROFILE=long", "python -m adsorbstudy publish --profile long"]}
    text = publish.banner(manifest, reg)
    assert text.startswith("**Current.**") and "`make book PROFILE=long` then `python -m adsorbstudy publish" in text
    bumped = json.loads(json.dumps(reg))
    bumped["ddpm"]["version"] = reg["ddpm"]["version"] + 1
    assert publish.staleness(manifest, bumped) == {"ddpm": (reg["ddpm"]["version"], reg["ddpm"]["version"] + 1)}
    text = publish.banner(manifest, bumped)
    assert text.startswith("**Stale.**") and f"ddpm {reg['ddpm']['version']} → {reg['ddpm']['version'] + 1}" in text
    assert "adsorption" not in text.split("changed:")[1].split(".")[0]
