"""Profile validation: every bad input is one clear line naming the key, before any work starts."""
import textwrap

import pytest
import yaml

from adsorbstudy.profile import ProfileError, load_profile, notebook_params
from conftest import ROOT, run_cli


def write_profile(root, name, text):
    (root / "params" / f"{name}.yaml").write_text(textwrap.dedent(text))


GOOD = """
    description: fixture
    defaults: {n: 2}
    runs:
      - notebook: 10-ok
        parameters: {label: b, xs: [0.0, 4.5], scale: 1.0}
"""


def test_notebook_params_reads_specs(fixture_root):
    specs = notebook_params(fixture_root / "notebooks" / "10-ok.py")
    assert list(specs) == ["profile", "device", "n", "label", "xs", "scale", "flag"]
    assert (specs["n"].low, specs["n"].high) == (1, 10)
    assert specs["label"].choices == ("a", "b")
    assert specs["xs"].high_open and not specs["xs"].low_open
    assert specs["scale"].low_open and not specs["scale"].high_open


def test_good_profile_merges_defaults_and_injections(fixture_root):
    write_profile(fixture_root, "good", GOOD)
    prof = load_profile("good")
    (run,) = prof.runs
    assert run.parameters == {"profile": "good", "device": "auto", "n": 2, "label": "b",
                              "xs": [0.0, 4.5], "scale": 1.0}


@pytest.mark.parametrize("patch, needle", [
    ({"colour": 1}, "unknown key 'colour'"),
    ({"device": "tpu"}, "device: expected one of {auto, cpu, cuda}"),
    ({"defaults": {"nn": 1}}, "defaults: unknown key 'nn'"),
    ({"defaults": {"n": 11}}, "defaults.n: expected int in [1, 10]; got 11"),
    ({"defaults": {"n": 2.5}}, "defaults.n: expected int in [1, 10]; got 2.5"),
    ({"defaults": {"n": True}}, "defaults.n: expected int"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"label": "c"}}]}, "parameters.label: expected str, one of {a, b}"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"xs": [1.0, 5.0]}}]}, "parameters.xs: expected list of float with every element in [0, 5)"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"scale": 0}}]}, "parameters.scale: expected float in (0, 1]"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"scale": "big"}}]}, "parameters.scale: expected float"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"colour": 1}}]}, "parameters: unknown key 'colour' for notebook 10-ok"),
    ({"runs": [{"notebook": "10-ok", "parameters": {"device": "cpu"}}]}, "parameters.device: set by the runner"),
    ({"runs": [{"notebook": "99-missing"}]}, "runs[0].notebook: no notebook '99-missing'; available: 10-ok, 20-fails"),
    ({"runs": [{"notebook": "10-ok"}, {"notebook": "10-ok"}]}, "runs[1].name: '10-ok' is used twice"),
    ({"runs": [{"notebook": "10-ok", "when": 1}]}, "runs[0]: unknown key 'when'"),
    ({"runs": []}, "runs: expected a non-empty list"),
])
def test_bad_profiles_name_the_key(fixture_root, patch, needle):
    raw = yaml.safe_load(textwrap.dedent(GOOD))
    raw.update(patch)
    (fixture_root / "params" / "bad.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ProfileError) as err:
        load_profile("bad")
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_rejects_bad_profile_before_any_work(fixture_root):
    write_profile(fixture_root, "bad", GOOD.replace("scale: 1.0", "scale: 7"))
    res = run_cli(["study", "--profile", "bad"], fixture_root)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "adsorbstudy: error: bad.yaml: runs[0].parameters.scale: expected float in (0, 1]; got 7"]
    assert not (fixture_root / "book").exists() and not (fixture_root / "results").exists()


def test_cli_rejects_missing_profile_and_unknown_only(fixture_root):
    res = run_cli(["study", "--profile", "nope"], fixture_root)
    assert res.returncode == 2 and "profile: no file" in res.stderr
    write_profile(fixture_root, "good", GOOD)
    res = run_cli(["study", "--profile", "good", "--only", "30-what"], fixture_root)
    assert res.returncode == 2 and "--only: '30-what' is not a run or notebook" in res.stderr


def test_shipped_profiles_are_valid_and_match_the_toc(monkeypatch):
    """Every profile validates, and the runs it puts in the book are exactly the chapters of _toc.yml."""
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = {c["file"].split("/")[-1] for part in toc["parts"] for c in part["chapters"]
                if c["file"].startswith("book/generated/")}
    for name in ("smoke", "default", "paper"):
        prof = load_profile(name)
        assert {r.name for r in prof.runs if r.in_book} == chapters, name
