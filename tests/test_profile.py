"""Profile validation: every bad input is one clear line naming the key, before any work starts."""
import copy
import textwrap

import pytest
import yaml

from adsorbstudy.study.profile import CROSS_CHECKS, load_profile, notebook_params, ProfileError, validate_profile
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
        "adsorbstudy: error: bad.yaml: runs[0] (10-ok).parameters.scale: expected float in (0, 1]; got 7"]
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


# --------------------------------------------------------------------------- declarations
SPECS = """\
# %% tags=["parameters"]
names = []          # str each: model names
sizes = []          # [4, 64] lattice sides
modes = []          # {fast, slow}
limit = None        # float [0, 1] optional cap
tag = None          # str
ints = [1, 2]       # int each [0, 9]
"""


def test_declared_types_cover_empty_lists_and_none(fixture_root):
    nb = fixture_root / "notebooks" / "30-specs.py"
    nb.write_text(SPECS)
    specs = notebook_params(nb)
    assert specs["names"].describe() == "list of str"
    assert specs["sizes"].describe() == "list of float with every element in [4, 64]"
    assert specs["modes"].describe() == "list of str with every element one of {fast, slow}"
    assert specs["limit"].describe() == "float in [0, 1] or null"
    assert specs["tag"].describe() == "str or null"
    for key, good in [("names", ["a", "b"]), ("names", []), ("sizes", [4, 8.5]), ("modes", ["slow"]),
                      ("limit", None), ("limit", 1), ("tag", "x"), ("ints", [0, 9])]:
        specs[key].check(good, key)
    for key, bad, needle in [
        ("names", ["a", 3], "names: expected list of str; got ['a', 3] (element 1: 3)"),
        ("names", "a", "names: expected list of str; got 'a'"),
        ("sizes", [4, 65], "sizes: expected list of float with every element in [4, 64]; got [4, 65] (element 1: 65)"),
        ("sizes", ["4"], "sizes: expected list of float"),
        ("modes", ["medium"], "modes: expected list of str with every element one of {fast, slow}"),
        ("limit", 1.5, "limit: expected float in [0, 1] or null; got 1.5"),
        ("limit", float("nan"), "limit: expected float in [0, 1] or null; got nan"),
        ("tag", 7, "tag: expected str or null; got 7"),
        ("ints", [1.0], "ints: expected list of int with every element in [0, 9]; got [1.0]"),
        ("ints", [True], "ints: expected list of int"),
    ]:
        with pytest.raises(ProfileError) as err:
            specs[key].check(bad, key)
        assert str(err.value).startswith(needle), (key, bad, str(err.value))


@pytest.mark.parametrize("line, needle", [
    ("x = []  # model names", "parameter x: the default [] does not say what it accepts"),
    ("x = None  # optional", "parameter x: the default None does not say what it accepts"),
    ("x = 1.5  # str", "parameter x: its comment declares str, but its default is 1.5"),
    ("x = 3  # str each: names", "parameter x: 'each' declares a list's element type, but the default 3 is no list"),
    ("x = 12  # [1, 10] how many", "parameter x: its default: expected int in [1, 10]; got 12"),
])
def test_undeclared_or_inconsistent_specs_are_notebook_errors(fixture_root, line, needle):
    nb = fixture_root / "notebooks" / "30-specs.py"
    nb.write_text(f'# %% tags=["parameters"]\n{line}\n')
    with pytest.raises(ProfileError) as err:
        notebook_params(nb)
    assert str(err.value).startswith(f"notebooks/30-specs.py: {needle}")


def test_every_study_notebook_declares_a_checkable_spec(monkeypatch):
    """No parameter of a shipped notebook escapes validation (a None default or an untyped empty list)."""
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.py")):
        for name, spec in notebook_params(nb).items():
            assert spec.kind is not None, (nb.name, name)
            spec.check(spec.default, f"{nb.name}: {name}")
    assert notebook_params(ROOT / "notebooks" / "05-fidelity.py")["seed_models"].describe() == "list of str"


# --------------------------------------------------------------------------- cross-field checks
SMOKE = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())


def _run(raw, name):
    return next(r for r in raw["runs"] if r.get("name", r["notebook"]) == name)


def _set(run, /, **params):
    def patch(raw):
        _run(raw, run).setdefault("parameters", {}).update(params)
    return patch


def _defaults(**values):
    return lambda raw: raw["defaults"].update(values)


def _move_fidelity_first(raw):
    raw["runs"].insert(0, raw["runs"].pop(next(i for i, r in enumerate(raw["runs"]) if r["notebook"] == "05-fidelity")))


#: index of each smoke run by name, and the models its 04-train runs train (in order), so that the expected
#: messages follow the profile's layout
IDX = {r.get("name", r["notebook"]): i for i, r in enumerate(SMOKE["runs"])}
TRAINED = "{" + ", ".join(dict.fromkeys(r["parameters"].get("name") or r["parameters"]["model"]
                                         for r in SMOKE["runs"] if r["notebook"] == "04-train")) + "}"
K_SMOKE = _run(SMOKE, "04-train-adsorption")["parameters"]["K"]


@pytest.mark.parametrize("patch, message", [
    (_set("05-fidelity", seed_models=["adsorption-s1", "adsorption-s9"]),
     f"runs[{IDX['05-fidelity']}] (05-fidelity).parameters.seed_models: expected list of str with every element one of the models that "
     f"earlier 04-train runs train, {TRAINED} (element 1); got 'adsorption-s9'"),
    (_set("05-fidelity", fine_models=["adsorption-fine", 7]),
     f"runs[{IDX['05-fidelity']}] (05-fidelity).parameters.fine_models: expected list of str; got ['adsorption-fine', 7] (element 1: 7)"),
    (_set("06-cost", models=["adsorption", "vae"]),
     f"runs[{IDX['06-cost']}] (06-cost).parameters.models: expected list of str with every element one of the models that "
     f"earlier 04-train runs train, {TRAINED} (element 1); got 'vae'"),
    (_move_fidelity_first,
     "runs[0] (05-fidelity).parameters.models (the notebook's default): expected list of str with every element one "
     "of the models that earlier 04-train runs train, {} (no 04-train run comes before this one) (element 0); got 'adsorption'"),
    (_set("04-train-ddpm", L=16),
     f"runs[{IDX['05-fidelity']}] (05-fidelity).parameters.models (the notebook's default): expected models trained at this run's L = 8; "
     "'ddpm' is trained at L = 16 (element 4); got 'ddpm'"),
    (_set("04-train-adsorption", grid="fine"),
     f"runs[{IDX['05-fidelity']}] (05-fidelity).parameters.models (the notebook's default): expected models trained on this run's "
     "grid = 'coarse' (fine-grid runs go in fine_models); 'adsorption' is trained on 'fine' (element 0); got 'adsorption'"),
    (_set("04-train-ddpm", depth=5),
     f"defaults.L (as used by runs[{IDX['04-train-ddpm']}] (04-train-ddpm)): expected int divisible by 2**(depth-1) = 16 "
     "(model ddpm, depth = 5; or lower depth); got 8"),
    (_defaults(L=12),
     f"defaults.L (as used by runs[{IDX['04-train-gan']}] (04-train-gan)): expected int of the form 4·2^m (8, 16, 32, 64, ...) for model gan; got 12"),
    (_set("04-train-adsorption", model="adsorption-checkerboard", L=9, depth=1),
     f"runs[{IDX['04-train-adsorption']}] (04-train-adsorption).parameters.L: expected an even int for model "
     "adsorption-checkerboard (its two sublattices must colour the torus); got 9"),
    (_set("04-train-adsorption", sample_steps=5),
     f"runs[{IDX['04-train-adsorption']}] (04-train-adsorption).parameters.sample_steps: expected 0 or K = {K_SMOKE} (model adsorption samples with its "
     "K layers); got 5"),
    (_set("04-train-adsorption", snapshot_steps=[10, 5]),
     f"runs[{IDX['04-train-adsorption']}] (04-train-adsorption).parameters.snapshot_steps: expected strictly increasing steps "
     "within [1, steps = 200]; got [10, 5]"),
    (_set("04-train-adsorption", snapshot_steps=[10, 201]),
     f"runs[{IDX['04-train-adsorption']}] (04-train-adsorption).parameters.snapshot_steps: expected strictly increasing steps "
     "within [1, steps = 200]; got [10, 201]"),
    (_set("06-cost", kl_L_models=["adsorption", "gan"]),
     f"runs[{IDX['06-cost']}] (06-cost).parameters.kl_L_models: expected adsorption runs that earlier 04-train runs "
     "train (element 1); got 'gan'"),
    (_set("06-cost", kl_L_models=["adsorption", "ks-adsorption-K8"]),
     f"runs[{IDX['06-cost']}] (06-cost).parameters.kl_L_models: expected runs at ≥ 2 different lattice sides (all "
     "are at L = 8); got ['adsorption', 'ks-adsorption-K8']"),
    (_set("04-train-ddpm", name="adsorption"),
     f"runs[{IDX['04-train-ddpm']}] (04-train-ddpm).parameters.name: expected a model name (name, else model) that no earlier 04-train run "
     f"trains; runs[{IDX['04-train-adsorption']}] (04-train-adsorption) already trains 'adsorption'; got 'adsorption'"),
    (_set("04-train-ddpm", name="../ddpm"),
     f"runs[{IDX['04-train-ddpm']}] (04-train-ddpm).parameters.name: expected \"\" (the model family) or letters, digits, '-', '_' or '.'; got '../ddpm'"),
    (_defaults(test_start=3.0, test_stop=2.0),
     f"defaults.test_stop (as used by runs[{IDX['03-ising-monte-carlo']}] (03-ising-monte-carlo)): expected float ≥ test_start = 3; got 2.0"),
    (_set("04-train-gan", test_stop=1.0),
     f"runs[{IDX['04-train-gan']}] (04-train-gan).parameters.test_stop: expected float ≥ test_start = 1.5; got 1.0"),
    (_set("02-isotherms", eps_a_list=[]),
     f"runs[{IDX['02-isotherms']}] (02-isotherms).parameters.eps_a_list: expected a non-empty list of float in [-20, 5]; got []"),
    (_set("02-isotherms", eps_a_loop=-1.0),
     f"runs[{IDX['02-isotherms']}] (02-isotherms).parameters.eps_a_loop: expected float in [-20, -1) (below the critical -4/za for za = 4; "
     "at or above it Eq. 6 has one root and no hysteresis loop); got -1.0"),
    (_set("02-isotherms", za=2),
     f"runs[{IDX['02-isotherms']}] (02-isotherms).parameters.eps_a_loop (the notebook's default): expected float in [-20, -2) (below the "
     "critical -4/za for za = 2; at or above it Eq. 6 has one root and no hysteresis loop); got -1.5"),
])
def test_cross_field_errors_name_run_key_and_range(monkeypatch, patch, message):
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    raw = copy.deepcopy(SMOKE)
    patch(raw)
    with pytest.raises(ProfileError) as err:
        validate_profile("smoke", raw, source="smoke.yaml")
    assert str(err.value) == f"smoke.yaml: {message}"


def test_cross_field_checks_accept_the_boundaries(monkeypatch):
    """Edges that are valid: test_start == test_stop, eps_a_loop just below -4/za, sample_steps == K, L = 2**(depth-1)."""
    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    raw = copy.deepcopy(SMOKE)
    for patch in (_defaults(test_start=2.0, test_stop=2.0), _set("02-isotherms", eps_a_loop=-1.0001, za=4),
                  _set("04-train-adsorption", sample_steps=20, K=20), _set("04-train-ddpm", depth=4)):
        patch(raw)
    prof = validate_profile("smoke", raw, source="smoke.yaml")
    assert len(prof.runs) == len(SMOKE["runs"])
    assert set(CROSS_CHECKS) <= {p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py")}
