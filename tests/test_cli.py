"""`python -m adsorbstudy` on a copy of the repository: invalid input is one line naming the key, exit 2,
before any notebook runs, and an existing book/generated/ is left byte-identical."""
import copy

import pytest
import yaml

from conftest import ROOT, copy_repo, run_cli

SMOKE = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
#: index of each smoke run by name, so the expected messages follow the profile's layout
IDX = {r.get("name", r["notebook"]): i for i, r in enumerate(SMOKE["runs"])}
NOTEBOOKS = ", ".join(sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.py")))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository's files (as git sees them) with a book/generated/ from an earlier batch."""
    root = copy_repo(tmp_path_factory.mktemp("repo"))
    gen = root / "book" / "generated"
    (gen / "figures").mkdir(parents=True, exist_ok=True)
    (gen / "02-isotherms.ipynb").write_text('{"cells": [], "note": "an earlier batch"}\n')
    (gen / "figures" / "loop.png").write_bytes(bytes(range(256)))
    (gen / ".profile").write_text("smoke\n")
    return root


def snapshot(root):
    gen = root / "book" / "generated"
    return {str(p.relative_to(gen)): p.read_bytes() for p in sorted(gen.rglob("*")) if p.is_file()}


def _run(raw, name):
    return next(r for r in raw["runs"] if r.get("name", r["notebook"]) == name)


def unknown_key(raw):
    _run(raw, "03-ising-monte-carlo")["parameters"]["n_trian"] = 100


def wrong_type(raw):
    raw["defaults"]["L"] = "eight"


def out_of_range(raw):
    _run(raw, "03-ising-monte-carlo")["parameters"]["n_corr"] = 5


def missing_notebook(raw):
    raw["runs"].append({"notebook": "07-phase-diagram"})


def untrained_model(raw):
    _run(raw, "05-fidelity")["parameters"]["seed_models"] = ["adsorption-s1", "ddpm-s7"]


def lattice_vs_depth(raw):
    _run(raw, "04-train-ddpm")["parameters"]["depth"] = 5


def no_hysteresis(raw):
    _run(raw, "02-isotherms")["parameters"]["eps_a_loop"] = -0.8


def reversed_test_grid(raw):
    raw["defaults"].update(test_start=3.5, test_stop=1.5)


@pytest.mark.parametrize("patch, message", [
    (unknown_key, "bad.yaml: runs[2] (03-ising-monte-carlo).parameters: unknown key 'n_trian' for notebook "
                  "03-ising-monte-carlo; it declares: L, train_grids,"),
    (wrong_type, "bad.yaml: defaults.L: expected int in [4, 256]; got 'eight'"),
    (out_of_range, "bad.yaml: runs[2] (03-ising-monte-carlo).parameters.n_corr: expected int in [10, 1000000]; got 5"),
    (missing_notebook, f"bad.yaml: runs[{len(SMOKE['runs'])}].notebook: no notebook '07-phase-diagram'; available: "
                       f"{NOTEBOOKS}"),
    (untrained_model, f"bad.yaml: runs[{IDX['05-fidelity']}] (05-fidelity).parameters.seed_models: expected list of str with every "
                      "element one of the models that earlier 04-train runs train, {adsorption, "),
    (lattice_vs_depth, f"bad.yaml: defaults.L (as used by runs[{IDX['04-train-ddpm']}] (04-train-ddpm)): expected int divisible by "
                       "2**(depth-1) = 16 (model ddpm, depth = 5; or lower depth); got 8"),
    (no_hysteresis, "bad.yaml: runs[1] (02-isotherms).parameters.eps_a_loop: expected float in [-20, -1) (below the "
                    "critical -4/za for za = 4; at or above it Eq. 6 has one root and no hysteresis loop); got -0.8"),
    (reversed_test_grid, "bad.yaml: defaults.test_stop (as used by runs[2] (03-ising-monte-carlo)): expected float "
                         "≥ test_start = 3.5; got 1.5"),
])
def test_invalid_profile_fails_in_one_line_before_any_work(repo, patch, message):
    raw = copy.deepcopy(SMOKE)
    patch(raw)
    (repo / "params" / "bad.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    before = snapshot(repo)
    res = run_cli(["study", "--profile", "bad"], repo, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"adsorbstudy: error: {message}"), res.stderr
    assert res.stdout == ""  # not even the batch header: nothing started
    assert snapshot(repo) == before
    # no notebook ran: nothing was cached, computed or stamped
    assert not (repo / "artifacts").exists() and not (repo / "results").exists()


def test_shipped_profiles_check_and_bad_arguments_are_one_line(repo):
    before = snapshot(repo)
    raw = copy.deepcopy(SMOKE)
    untrained_model(raw)
    (repo / "params" / "bad.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    res = run_cli(["check", "--profile", "bad"], repo, timeout=120)  # `check` runs the same validation
    assert res.returncode == 2 and res.stderr.startswith(
        f"adsorbstudy: error: bad.yaml: runs[{IDX['05-fidelity']}] (05-fidelity).parameters.seed_models: expected list of str")
    assert res.stderr.rstrip().endswith("(element 1); got 'ddpm-s7'") and res.stdout == ""
    for name in ("smoke", "default", "paper"):
        runs = len(yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())["runs"])
        res = run_cli(["check", "--profile", name], repo, timeout=120)
        assert res.returncode == 0 and res.stdout.strip() == f"profile {name}: {runs} runs, valid", res.stderr
    for args, needle in ((["study", "--profile", "smoke", "--forse"], "unrecognized arguments: --forse"),
                         (["study", "--profile"], "argument --profile: expected one argument"),
                         (["study", "--profile", "smoke", "--only", "07-nope"], "--only: '07-nope' is not a run"),
                         (["study", "--profile", "smoke", "--jobs", "0"], "argument --jobs: expected an integer ≥ 1; got '0'"),
                         (["study", "--profile", "smoke", "--jobs", "two"], "argument --jobs: expected an integer ≥ 1"),
                         (["versions", "--same-numbers", "ddpm"], "--same-numbers: only with --update")):
        res = run_cli(args, repo, timeout=120)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert res.stderr.startswith("adsorbstudy: error: ") and needle in res.stderr
    res = run_cli(["versions"], repo, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("code versions match their source"), res.stderr
    assert snapshot(repo) == before and not (repo / "artifacts").exists()
