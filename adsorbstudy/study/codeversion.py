"""Versions of the code behind cached artifacts, and the registry that keeps them honest.

A cached artifact (a Monte Carlo ensemble, a trained checkpoint) is keyed by its parameters *and*
by the version constants of the code that produced it (``ising.VERSION``, ``train.TRAIN_VERSION``,
``models.<family>.VERSION``). A change that alters the numbers must bump the version, so the next
run recomputes instead of loading what the current code would not produce. This is joblib's idea
(hash the function) made explicit: a version, not the raw source, is in the key, so a refactor that
provably keeps the numbers (a renamed variable, a new docstring) keeps the caches.

What catches a forgotten bump: ``adsorbstudy/code_versions.json`` records, per *producer*, its
version and a hash of its source. ``adsorbstudy versions`` (and ``tests/test_codeversion.py``, and
the study runner before any notebook starts) recomputes the hashes and fails with
"source of <producer> changed: bump <constant> and update the registry (adsorbstudy versions
--update)" when a source hash changed but the version did not.

Granularity. A producer's source is the *closure* of its root functions/classes: their definitions
plus every module-level function, class or constant of ``adsorbstudy`` they name, followed
transitively through ``from .x import y`` and ``x.attr`` (so ``fit`` pulls in ``split_data``,
``_lr_at``, ``runtime.seed_everything``; ``NumbaMetropolis`` pulls in the ``_metro_*`` kernels). A
class counts whole (all its methods), because its methods are called through instances that a
static walk cannot follow. The walk stops at another producer's root: that producer's version
enters the key instead (the checkpoint key holds ``ising.VERSION`` and the model family's
``VERSION``, so the training loop's hash need not cover the MC kernels or the networks). Per model
family, because a change to the DDPM must not retrain the GANs; the shared U-Net trunk (``nn``)
lies in the closure of every family that uses it, so a change to it flags each of them. Not
followed, because they cannot change numbers: the artifact store and the repository paths
(:data:`NOT_NUMBERS`). Not followed, because a static walk cannot see them: names built at run time
(``getattr``, ``importlib``); a producer that dispatches that way lists the targets as roots.

The hash is of a canonical dump of each definition's syntax tree with docstrings removed: comments,
formatting and docstrings do not count, any change to code does. The dump leaves out empty and
``None`` fields, which Python versions add (``type_params`` in 3.12), so the hash is the same on
every supported Python.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

PKG_DIR = Path(__file__).resolve().parents[1]
#: The registry, relative to the package directory.
REGISTRY = "study/code_versions.json"
UPDATE_COMMAND = "adsorbstudy versions --update"

#: Items the walk does not follow: they decide where and whether an artifact is stored, not its numbers.
#: (``train.code_versions`` gathers the versions for the key; the version constants themselves are
#: never hashed, so a bump alone does not read as a change of source.)
NOT_NUMBERS = ("adsorbstudy.study.store", "adsorbstudy.study.runtime:repo_root",
               "adsorbstudy.study.runtime:artifacts_dir", "adsorbstudy.study.runtime:results_dir",
               "adsorbstudy.study.codeversion", "adsorbstudy.generators.train:code_versions")


@dataclass(frozen=True)
class Producer:
    """A versioned producer of cached artifacts: ``version`` is "module:CONSTANT", ``roots`` the
    "module:name" definitions whose closure determines the numbers."""

    what: str
    version: str
    roots: tuple[str, ...]


PRODUCERS: dict[str, Producer] = {
    "ising": Producer("Monte Carlo ensembles and τ_int scans (ensembles.cached_ensembles, the chapter-03 scans)",
                      "adsorbstudy.physics.ensembles:VERSION",
                      ("adsorbstudy.physics.ensembles:cached_ensembles", "adsorbstudy.physics.ensembles:tau_scan",
                       "adsorbstudy.physics.ensembles:tau_size_scan")),
    "train": Producer("checkpoints: the training loop, its data split and the model dispatch (train.train_run)",
                      "adsorbstudy.generators.train:TRAIN_VERSION", ("adsorbstudy.generators.train:train_run",)),
    "adsorption": Producer("checkpoints of the adsorption generators (network, ELBO, sampler)",
                           "adsorbstudy.generators.adsorption:VERSION",
                           ("adsorbstudy.generators.adsorption:AdsorptionGenerator",)),
    # the walk stops at its base class (the adsorption producer's root): its key holds both versions
    "checkerboard": Producer("checkpoints of the checkerboard adsorption generator (its two half-steps, ELBO, sampler)",
                             "adsorbstudy.generators.checkerboard:VERSION",
                             ("adsorbstudy.generators.checkerboard:CheckerboardGenerator",)),
    "ddpm": Producer("checkpoints of the DDPM (network, loss, sampler)", "adsorbstudy.generators.ddpm:VERSION",
                     ("adsorbstudy.generators.ddpm:DDPM",)),
    "gan": Producer("checkpoints of the GANs (generator, critic, losses)", "adsorbstudy.generators.gan:VERSION",
                    ("adsorbstudy.generators.gan:WGAN",)),
}


class CodeVersionError(ValueError):
    """The source behind a cached artifact changed without its version, or the registry is out of date."""


# --------------------------------------------------------------------------- canonical syntax trees
_DOC_OWNERS = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_doc(stmt: ast.AST) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def canonical_dump(node) -> str:
    """A dump of ``node`` that ignores formatting, comments, docstrings and Python-version-specific empty fields."""
    if isinstance(node, list):
        return "[" + ",".join(canonical_dump(n) for n in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    parts = [type(node).__name__]
    for name, value in ast.iter_fields(node):
        if name == "body" and isinstance(node, _DOC_OWNERS) and value and _is_doc(value[0]):
            value = value[1:]
        if value is None or value == [] or name in ("type_comment", "kind"):
            continue
        parts.append(f"{name}={canonical_dump(value)}")
    return "(" + " ".join(parts) + ")"


# --------------------------------------------------------------------------- modules of the package
class _Module:
    """One module of the package: its top-level definitions and the package-internal names it imports."""

    def __init__(self, dotted: str, path: Path, pkg: "_Package"):
        self.name, self.path, self.digest = dotted, path, None
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.defs: dict[str, list[ast.AST]] = {}
        for stmt in self.tree.body:
            for name in _defined_names(stmt):
                self.defs.setdefault(name, []).append(stmt)
        # every import anywhere in the module (function-local ones too): conservative
        self.imports: dict[str, tuple[str, str | None]] = {}
        package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if pkg.is_module(a.name):
                        # `import adsorbstudy.x` binds `adsorbstudy`; attribute chains resolve it
                        self.imports[a.asname or a.name.split(".")[0]] = (a.name if a.asname else pkg.name, None)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    up = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                if not (base == pkg.name or base.startswith(pkg.name + ".")):
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    self.imports[a.asname or a.name] = (sub, None) if pkg.is_module(sub) else (base, a.name)


def _defined_names(stmt: ast.AST) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


#: Parsed modules by (path, mtime, size): a changed file is parsed again.
_PARSED: dict[tuple, "_Module"] = {}


class _Package:
    """The ``adsorbstudy`` package found at ``pkg_dir`` (the installed one, or a copy a test edits)."""

    def __init__(self, pkg_dir: Path | str = PKG_DIR, name: str = "adsorbstudy"):
        self.dir, self.name = Path(pkg_dir), name
        self._mods: dict[str, _Module] = {}

    def file(self, dotted: str) -> Path | None:
        rel = dotted.split(".")[1:]
        p = self.dir.joinpath(*rel)
        if (p / "__init__.py").exists():
            return p / "__init__.py"
        f = p.with_suffix(".py") if rel else None
        return f if f is not None and f.exists() else (self.dir / "__init__.py" if not rel else None)

    def is_module(self, dotted: str) -> bool:
        return (dotted == self.name or dotted.startswith(self.name + ".")) and self.file(dotted) is not None

    def module(self, dotted: str) -> _Module:
        if dotted not in self._mods:
            path = self.file(dotted)
            if path is None:
                raise CodeVersionError(f"no module {dotted} in {self.dir}")
            st = path.stat()
            key = (str(path), st.st_mtime_ns, st.st_size)
            if key not in _PARSED:  # the runner asks once per run: parse each file once per process
                _PARSED[key] = _Module(dotted, path, self)
            self._mods[dotted] = _PARSED[key]
        return self._mods[dotted]

    def module_hash(self, dotted: str) -> str:
        """The hash of a whole module's canonical dump."""
        m = self.module(dotted)
        if m.digest is None:
            m.digest = hashlib.sha256(canonical_dump(m.tree).encode()).hexdigest()[:16]
        return m.digest

    def constant(self, ref: str):
        """The literal value of a module-level constant "module:NAME"."""
        mod, name = ref.split(":")
        for stmt in self.module(mod).defs.get(name, []):
            if isinstance(stmt, ast.Assign):
                return ast.literal_eval(stmt.value)
        raise CodeVersionError(f"{ref}: no module-level constant {name} in {mod}")

    def closure(self, roots, stop=()) -> dict[str, str]:
        """{"module:name" or "module": sha256 of its canonical dump} for ``roots`` and everything they
        name in the package, transitively; items in ``stop`` (other producers' roots) are not entered."""
        out: dict[str, str] = {}
        todo = [_split(r) for r in roots]
        stop = set(stop) - set(roots)
        skip = set(NOT_NUMBERS) | {p.version for p in PRODUCERS.values()}
        while todo:
            mod, name = todo.pop()
            label = f"{mod}:{name}" if name else mod
            if label in out or label in stop or label in skip or mod in skip:
                continue
            m = self.module(mod)
            if name is None:
                nodes = [m.tree]
            elif name in m.defs:
                nodes = m.defs[name]
            elif name in m.imports:  # a re-export such as `from .ddpm import DDPM` in models/__init__
                todo.append(m.imports[name])
                continue
            else:
                continue  # a name the module gets elsewhere (a builtin, an external package)
            out[label] = hashlib.sha256("".join(canonical_dump(n) for n in nodes).encode()).hexdigest()[:16]
            todo.extend(self._references(m, nodes))
        return dict(sorted(out.items()))

    def _references(self, m: _Module, nodes) -> list[tuple[str, str | None]]:
        """The package items that ``nodes`` (definitions of module ``m``) name."""
        refs: list[tuple[str, str | None]] = []
        handled: set[int] = set()  # inner nodes of an attribute chain already resolved as a whole
        for node in (n for root in nodes for n in ast.walk(root)):  # breadth first: outer chains first
            if id(node) in handled:
                continue
            if isinstance(node, ast.Attribute):
                chain, inner = _attr_chain(node)
                if chain and chain[0] in m.imports and m.imports[chain[0]][1] is None:
                    # `ising.cached_ensembles`, `adsorbstudy.generators.gan._n_up`: the longest module prefix
                    target, rest = m.imports[chain[0]][0], chain[1:]
                    while rest and self.is_module(f"{target}.{rest[0]}"):
                        target, rest = f"{target}.{rest[0]}", rest[1:]
                    refs.append((target, rest[0] if rest else None))
                    handled.update(inner)
            elif isinstance(node, ast.Name):
                if node.id in m.defs:
                    refs.append((m.name, node.id))
                elif node.id in m.imports:  # a module used bare (passed around) counts whole
                    refs.append(m.imports[node.id])
        return refs


def _split(ref: str) -> tuple[str, str | None]:
    mod, _, name = ref.partition(":")
    return mod, name or None


def _attr_chain(node: ast.Attribute) -> tuple[list[str] | None, list[int]]:
    """(["a", "b", "c"] for ``a.b.c``, or None when the chain does not start at a name; ids of the inner nodes)."""
    names, inner = [], []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
        inner.append(id(node))
    if not isinstance(node, ast.Name):
        return None, []
    return [node.id, *reversed(names)], inner


# --------------------------------------------------------------------------- what a chapter imports
def imported_modules(source: str, pkg_dir: Path | str = PKG_DIR) -> dict[str, str] | None:
    """The package modules that Python ``source`` (a jupytext notebook) imports, directly or through
    other modules of the package, each with the hash of its canonical syntax tree: {module: hash}.

    Every import statement counts, function-local ones too, and importing ``a.b.c`` runs the
    ``__init__`` of ``a`` and ``a.b``, so those count as well. None when the source does not parse
    (then the caller must assume that the chapter depends on everything)."""
    pkg = _Package(pkg_dir)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    todo: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            todo += [a.name for a in node.names if pkg.is_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module and pkg.is_module(node.module):
            todo.append(node.module)
            todo += [f"{node.module}.{a.name}" for a in node.names if pkg.is_module(f"{node.module}.{a.name}")]
    out: dict[str, str] = {}
    while todo:
        mod = todo.pop()
        if mod in out:
            continue
        m = pkg.module(mod)
        out[mod] = pkg.module_hash(mod)
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += [target for target, _ in m.imports.values()]
    return dict(sorted(out.items()))


def all_modules(pkg_dir: Path | str = PKG_DIR) -> dict[str, str]:
    """{module: hash} of every module of the package (what a chapter whose source does not parse depends on)."""
    pkg = _Package(pkg_dir)
    mods = ["adsorbstudy" + "".join("." + p for p in f.relative_to(pkg.dir).with_suffix("").parts)
            for f in sorted(pkg.dir.rglob("*.py"))]
    mods = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in mods]
    return {m: pkg.module_hash(m) for m in sorted(mods)}


# --------------------------------------------------------------------------- the registry
def current(pkg_dir: Path | str = PKG_DIR) -> dict[str, dict]:
    """{producer: {"version", "hash", "items": {item: hash}}} of the source at ``pkg_dir``."""
    pkg = _Package(pkg_dir)
    every_root = {r for p in PRODUCERS.values() for r in p.roots}
    out = {}
    for key, prod in PRODUCERS.items():
        items = pkg.closure(prod.roots, stop=every_root)
        digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
        out[key] = {"version": pkg.constant(prod.version), "hash": digest, "items": items}
    return out


def registry_path(pkg_dir: Path | str = PKG_DIR) -> Path:
    return Path(pkg_dir) / REGISTRY


def read_registry(pkg_dir: Path | str = PKG_DIR) -> dict[str, dict]:
    path = registry_path(pkg_dir)
    if not path.exists():
        return {}
    return json.loads(path.read_text())["producers"]


def problems(pkg_dir: Path | str = PKG_DIR) -> list[str]:
    """One line per producer whose source or version disagrees with the registry; [] when all agree."""
    now, reg = current(pkg_dir), read_registry(pkg_dir)
    out = []
    for key, cur in now.items():
        prod, old = PRODUCERS[key], reg.get(key)
        const = prod.version.replace(":", ".")
        if old is None:
            out.append(f"producer {key} is not in the registry: run `{UPDATE_COMMAND}`")
        elif cur["version"] == old["version"] and cur["hash"] != old["hash"]:
            changed = sorted(i for i in set(cur["items"]) | set(old["items"])
                             if cur["items"].get(i) != old["items"].get(i))
            out.append(f"source of {key} ({prod.what}) changed in {', '.join(changed)}: bump {const} "
                       f"(now {cur['version']!r}) and update the registry (`{UPDATE_COMMAND}`)")
        elif cur["version"] != old["version"]:
            out.append(f"{const} is {cur['version']!r} but the registry records {old['version']!r}: "
                       f"update the registry (`{UPDATE_COMMAND}`)")
    return out


def check(pkg_dir: Path | str = PKG_DIR) -> None:
    """Raise CodeVersionError (one line) when :func:`problems` finds any."""
    found = problems(pkg_dir)
    if found:
        raise CodeVersionError("; ".join(found))


def update(pkg_dir: Path | str = PKG_DIR, same_numbers: tuple[str, ...] = ()) -> list[str]:
    """Record the current versions and hashes; return the producers whose entry changed.

    A producer whose source changed while its version did not is refused (CodeVersionError),
    unless it is named in ``same_numbers``: the author asserts the change keeps every number
    (a refactor), so the caches stay valid under the old version.
    """
    now, reg = current(pkg_dir), read_registry(pkg_dir)
    for key in same_numbers:
        if key not in PRODUCERS:
            raise CodeVersionError(f"--same-numbers: {key!r} is no producer; choose from {', '.join(PRODUCERS)}")
    refused = [key for key, cur in now.items() if key in reg and key not in same_numbers
               and cur["version"] == reg[key]["version"] and cur["hash"] != reg[key]["hash"]]
    if refused:
        raise CodeVersionError(
            f"source of {', '.join(refused)} changed but the version did not: bump "
            f"{', '.join(PRODUCERS[k].version.replace(':', '.') for k in refused)} (the cached artifacts would be "
            f"stale), or, if the change keeps every number, pass --same-numbers {' '.join(refused)}")
    changed = [k for k in now if reg.get(k) != now[k]]
    text = json.dumps({"about": "adsorbstudy.study.codeversion: per producer of cached artifacts, its version and a "
                                "hash of its source; refresh with `" + UPDATE_COMMAND + "`",
                       "producers": now}, indent=1, sort_keys=True) + "\n"
    from .store import atomic_write_text

    atomic_write_text(registry_path(pkg_dir), text)
    return changed
