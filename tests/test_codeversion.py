"""The registry of code versions (adsorbstudy.study.codeversion): a change to the source behind a cached
artifact without a version bump is caught, a cosmetic or unrelated change is not."""
import json
import re
import shutil
from pathlib import Path

import pytest

from adsorbstudy.study import codeversion as cv

PKG = Path(cv.__file__).resolve().parents[1]


def test_the_registry_matches_the_source():
    """Fails when a producer's source changed without its version bump (or the registry was not updated)."""
    found = cv.problems()
    assert not found, "\n".join(found)


@pytest.fixture
def pkg(tmp_path):
    """A copy of the package whose source a test may edit."""
    dst = tmp_path / "adsorbstudy"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def edit(path: Path, pattern: str, repl: str) -> None:
    """Replace exactly one match of the regex ``pattern`` in ``path``."""
    text = path.read_text()
    new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    assert n == 1, f"{pattern!r} not found in {path.name}"
    path.write_text(new)


def poke(path: Path, header: str, indent: int = 4) -> None:
    """Add a statement that changes nothing observable to the body of the def/class whose line starts with
    ``header`` (at the start of its body, so after its signature): a code change, not a cosmetic one."""
    lines = path.read_text().splitlines(keepends=True)
    i = next(k for k, ln in enumerate(lines) if ln.lstrip().startswith(header))
    while not lines[i].rstrip().endswith(":"):  # a signature over several lines
        i += 1
    lines.insert(i + 1, " " * indent + "_poked = 1\n")
    path.write_text("".join(lines))


def flagged(pkg_dir) -> set[str]:
    return {m.split()[2] for m in cv.problems(pkg_dir) if m.startswith("source of ")}


@pytest.mark.parametrize("where, header, indent, producers", [
    ("physics/montecarlo.py", "def _metro_lanes(", 4, {"ising"}),            # a numba kernel, reached through the samplers
    ("physics/ensembles.py", "def temperature_seed(", 4, {"ising"}),
    ("physics/exact.py", "TC = ", None, {"ising"}),                      # a constant of another module the kernels use
    ("generators/train.py", "def _lr_at(", 4, {"train"}),                  # the learning-rate schedule of the loop
    ("study/runtime.py", "def seed_everything(", 4, {"train"}),
    ("generators/ddpm.py", "def loss(", 8, {"ddpm"}),                # a method: the whole class counts
    ("generators/gan.py", "class Critic(", 4, {"gan"}),
    ("generators/blocks.py", "class UNet(", 4, {"adsorption", "ddpm"}),         # the shared trunk: both U-Net families
    ("generators/blocks.py", "def spins_energy_mabs(", 4, {"adsorption", "ddpm", "gan"}),
    ("generators/checkerboard.py", "def second_logits(", 8, {"checkerboard"}),  # never retrains the mean-field models
    ("generators/adsorption.py", "def _nbr_sum(", 4, {"adsorption", "checkerboard"}),  # a helper both use
    # the base class: the walk stops there, and the checkerboard's key holds adsorption.VERSION instead
    ("generators/adsorption.py", "def loss(", 8, {"adsorption"}),
])
def test_a_code_change_behind_an_artifact_is_flagged_for_its_producers_only(pkg, where, header, indent, producers):
    if indent is None:
        edit(pkg / where, r"^TC = (.*)$", r"TC = \1 * 1.0")
    else:
        poke(pkg / where, header, indent)
    assert flagged(pkg) == producers


@pytest.mark.parametrize("where, header", [
    ("analysis/plots.py", "def "), ("physics/observables.py", "def "), ("analysis/comparisons.py", "def "),
    ("physics/exact.py", "def onsager_energy("),
    ("physics/montecarlo.py", "def metropolis_relaxation("), ("generators/train.py", "def sample_grid("),
    ("study/store.py", "def atomic_write("),
    ("study/runtime.py", "def repo_root("),
])
def test_code_that_no_cached_artifact_depends_on_is_not_flagged(pkg, where, header):
    poke(pkg / where, header)
    assert cv.problems(pkg) == []


def test_comments_formatting_and_docstrings_do_not_count(pkg):
    f, g = pkg / "physics" / "montecarlo.py", pkg / "physics" / "ensembles.py"
    text = f.read_text().replace("def _metro_lanes(", "# a comment\n\n\ndef _metro_lanes(", 1)
    text = text.replace("    return out\n", "    return (out)   # same code\n")
    f.write_text(text)
    g.write_text(re.sub(r'(def temperature_seed\(.*\n\s+""")', r"\1A rewritten docstring. ", g.read_text(), count=1))
    assert f.read_text() != (PKG / "physics" / "montecarlo.py").read_text()
    assert g.read_text() != (PKG / "physics" / "ensembles.py").read_text()
    assert cv.problems(pkg) == []


def test_the_message_names_what_changed_and_what_to_do_and_update_enforces_the_bump(pkg):
    poke(pkg / "generators" / "ddpm.py", "def loss(", 8)
    (msg,) = cv.problems(pkg)
    assert msg.startswith("source of ddpm (checkpoints of the DDPM") and "adsorbstudy.generators.ddpm:DDPM" in msg
    from adsorbstudy.generators import ddpm

    v = ddpm.VERSION  # the shipped version; the test bumps it by one
    assert f"bump adsorbstudy.generators.ddpm.VERSION (now {v}) and update the registry (`adsorbstudy versions --update`)" in msg
    with pytest.raises(cv.CodeVersionError, match="source of ddpm changed but the version did not"):
        cv.update(pkg)
    edit(pkg / "generators" / "ddpm.py", rf"^VERSION = {v}$", f"VERSION = {v + 1}")
    assert cv.problems(pkg) == [f"adsorbstudy.generators.ddpm.VERSION is {v + 1} but the registry records {v}: update the "
                                "registry (`adsorbstudy versions --update`)"]
    assert cv.update(pkg) == ["ddpm"]
    assert cv.problems(pkg) == [] and json.loads((pkg / cv.REGISTRY).read_text())["producers"]["ddpm"]["version"] == v + 1
    # a refactor that keeps the numbers: recorded without a bump only when said so
    poke(pkg / "generators" / "train.py", "def _lr_at(")
    with pytest.raises(cv.CodeVersionError, match="--same-numbers train"):
        cv.update(pkg)
    assert cv.update(pkg, same_numbers=("train",)) == ["train"] and cv.problems(pkg) == []


def test_a_bare_module_reference_counts_the_whole_module(pkg):
    """``mod`` passed around (not ``mod.attr``) may reach any of its names: the walk takes it whole."""
    poke(pkg / "generators" / "train.py", "def _lr_at(")
    edit(pkg / "generators" / "train.py", r"^    _poked = 1$", "    _poked = plots_mod")
    edit(pkg / "generators" / "train.py", r"^from \.families import", "from ..analysis import plots as plots_mod\nfrom .families import")
    cv.update(pkg, same_numbers=("train",))
    poke(pkg / "analysis" / "plots.py", "def ")
    assert flagged(pkg) == {"train"}


def test_chapters_import_closure_on_the_real_notebooks(pkg):
    """What each chapter's stamp depends on: the modules it imports, directly or through others."""
    nbs = {p.stem: p.read_text() for p in sorted((PKG.parent / "notebooks").glob("0*.py"))}
    mods = {k: set(cv.imported_modules(src, pkg)) for k, src in nbs.items()}
    assert mods["01-derive-eq6"] == {"adsorbstudy", "adsorbstudy.physics", "adsorbstudy.physics.isotherm",
                                    "adsorbstudy.physics.eq6_kernels"}
    assert {"adsorbstudy.generators.train", "adsorbstudy.generators.blocks", "adsorbstudy.generators.gan",
            "adsorbstudy.physics.montecarlo"} <= mods["04-train"]
    assert "adsorbstudy.analysis.plots" in mods["03-ising-monte-carlo"] and "adsorbstudy.analysis.plots" not in mods["01-derive-eq6"]
    for k, m in mods.items():  # the runner, the command line and this module are no chapter's dependency
        assert not m & {"adsorbstudy.study.runner", "adsorbstudy.study.cli", "adsorbstudy.study.codeversion"}, k
    assert cv.imported_modules("this is not python (", pkg) is None  # the caller then takes every module
