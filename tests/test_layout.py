"""The package's floor plan (issue 19): subpackages by concern, no import cycle, no module over 650 lines,
no block of code copied between modules."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "adsorbstudy"
MAX_LINES = 650
LAYERS = ("study", "physics", "generators", "analysis", "tasks")
#: The order of imports: a module imports only from its own layer or the layers before it. The study
#: package holds both ends: its utilities (seed streams, validation, runtime, the store, code versions,
#: provenance) sit below the science, and its orchestration (profiles, the runner, the CLI, publishing) above it.
ORDER = ("study.utilities", "physics", "generators", "analysis", "tasks", "study.orchestration")
ORCHESTRATION = {"profile", "runner", "cli", "publish"}


def layer_of(mod: str) -> str | None:
    parts = mod.split(".")
    if len(parts) < 2:
        return None
    if parts[1] == "study":
        return "study.orchestration" if len(parts) > 2 and parts[2] in ORCHESTRATION else "study.utilities"
    return parts[1]


def _dotted(path: Path, pkg_dir: Path) -> str:
    rel = path.relative_to(pkg_dir.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(pkg_dir: Path = PKG) -> dict[str, set[str]]:
    """{module: the package modules it imports} for every module of the package, function-local imports
    included. ``from .x import y`` counts as importing ``x`` (or ``x.y`` when that is a module)."""
    files = {_dotted(f, pkg_dir): f for f in pkg_dir.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, f in files.items():
        package = mod if f.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in files else base)
        graph[mod] = {d for d in deps if d in files and d != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search with three colours)."""
    colour, stack = {}, []

    def visit(m):
        colour[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if colour.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in colour:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        colour[m] = 2
        return None

    for m in sorted(graph):
        if m not in colour:
            found = visit(m)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_added_on_purpose_is_found(tmp_path):
    """The test above is not vacuous: a copy of the package with train importing its launcher fails it."""
    import shutil

    pkg = tmp_path / "adsorbstudy"
    shutil.copytree(PKG, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    train = pkg / "generators" / "train.py"
    train.write_text(train.read_text().replace("from . import ranks\n", "from . import distributed, ranks\n", 1))
    cycle = find_cycle(import_graph(pkg))
    assert cycle is not None and {"adsorbstudy.generators.train", "adsorbstudy.generators.distributed"} <= set(cycle)


def test_layers_import_only_downwards():
    """study utilities ← physics ← generators ← analysis ← tasks ← study orchestration (see ``ORDER``)."""
    rank = {name: i for i, name in enumerate(ORDER)}
    bad = []
    for mod, deps in import_graph().items():
        layer = layer_of(mod)
        for d in deps:
            dl = layer_of(d)
            if layer in rank and dl in rank and rank[dl] > rank[layer]:
                bad.append(f"{mod} imports {d}")
    assert not bad, "\n".join(sorted(bad))


def test_every_module_lives_in_a_subpackage():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"], top
    assert sorted(p.name for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_over_650_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (at most {MAX_LINES}): split it by concept"


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the lines that count: no blanks, comments, lone punctuation, imports."""
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#") or re.fullmatch(r"[()\[\]{},:]+", s) or re.match(r"(from|import)\s", s):
            continue
        out.append((i, s))
    return out


def copied_blocks(files, min_lines: int = 6) -> list[str]:
    """Places where ``min_lines`` consecutive counted lines of one file appear again, identical, in another."""
    seen: dict[tuple[str, ...], tuple[Path, int]] = {}
    hits = []
    for f in files:
        lines = _code_lines(f)
        reported = -1
        for k in range(len(lines) - min_lines + 1):
            window = tuple(s for _, s in lines[k:k + min_lines])
            if window in seen and seen[window][0] != f and k > reported:
                g, line = seen[window]
                hits.append(f"{f.relative_to(ROOT)}:{lines[k][0]} repeats {g.relative_to(ROOT)}:{line}")
                reported = k + min_lines
            seen.setdefault(window, (f, lines[k][0]))
    return hits


def test_the_copy_finder_finds_a_copied_block(tmp_path):
    body = "".join(f"    x{i} = f(x{i - 1}, {i})\n" for i in range(1, 8))
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def one(x0):\n" + body + "    return x7\n")
    b.write_text("def two(x0):\n    y = 1\n" + body + "    return y\n")
    (tmp_path / "c.py").write_text("def three():\n    return 3\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert len(copied_blocks([a, b])) == 1
        assert copied_blocks([a, tmp_path / "c.py"]) == []
    finally:
        ROOT = old


def test_no_block_of_six_lines_copied_between_modules():
    hits = copied_blocks(sorted(PKG.rglob("*.py")))
    assert not hits, "copied blocks (make one function serve both):\n" + "\n".join(hits)
