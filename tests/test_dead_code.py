"""No dead imports in the library or the notebooks (the project does not depend on a linter)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unused_imports(text: str) -> list[tuple[int, str]]:
    """(line, name) of every imported name that the module never reads (``__all__`` counts as a read)."""
    tree = ast.parse(text)
    imported: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for alias in node.names:
                imported.setdefault((alias.asname or alias.name).split(".")[0], node.lineno)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for node in ast.walk(tree):  # re-exports
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            used |= {e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)}
    return sorted((line, name) for name, line in imported.items() if name not in used)


def test_the_check_finds_an_unused_import():
    assert unused_imports("import os\nimport sys\nfrom a import b, c as d\nprint(sys, d)\n") == [(1, "os"), (3, "b")]
    assert unused_imports("from .x import y\n__all__ = ['y']\n") == []


def test_no_unused_imports_in_the_library_and_notebooks():
    files = sorted([*ROOT.glob("adsorbstudy/**/*.py"), *ROOT.glob("notebooks/*.py")])
    hits = [f"{p.relative_to(ROOT)}:{line}: {name}" for p in files for line, name in unused_imports(p.read_text())]
    assert not hits, "unused imports:\n" + "\n".join(hits)
