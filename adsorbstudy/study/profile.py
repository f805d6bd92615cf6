"""Run profiles (``params/<name>.yaml``) and their validation.

A profile says which notebooks run, in which order, with which parameters::

    description: free text
    device: auto                 # auto | cpu | cuda
    defaults:                    # given to every notebook that declares the name
      L: 16
    runs:
      - notebook: 03-ising-monte-carlo
      - notebook: 04-train
        name: 04-train-ddpm      # output name; defaults to the notebook's
        in_book: true            # false: executed, kept under artifacts/, not a chapter
        parameters: {model: ddpm}

A notebook's parameters are declared in its cell tagged ``parameters``; the
comment after each one is its specification (see ``notebooks/CONVENTIONS.md``
and :func:`_parse_spec`): a type (``str each:`` for a list whose default is
empty), a range or a choice set. Constraints between values, and between runs
(a fidelity run may only name models an earlier ``04-train`` run trains), are
the small per-notebook functions of ``CROSS_CHECKS``.

Everything is checked by :func:`load_profile` (``adsorbstudy check``, and the
runner before any notebook runs), and every problem is reported as one line
that names the run, the key and what it accepts, e.g.
``smoke.yaml: runs[5] (04-train-ddpm).parameters.L: expected int in [4, 256]; got 2``.
"""
from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .runtime import DEVICES, repo_root

TOP_KEYS = {"description", "device", "defaults", "runs"}
RUN_KEYS = {"notebook", "name", "in_book", "parameters"}
INJECTED = ("profile", "device")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ProfileError(ValueError):
    """A profile is invalid; the message is one line naming the key and the accepted range."""


# --------------------------------------------------------------------------- specs
_KINDS: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
_KIND_NAMES = {bool: "bool", int: "int", float: "float", str: "str", dict: "mapping"}


@dataclass
class ParamSpec:
    """What one notebook parameter accepts, read from its default and the comment after it.

    ``kind`` is the scalar type, or for a list (``is_list``) the type of every element. It is the
    type declared at the start of the comment (``str``, ``int``, ``float``, ``bool``; ``each`` marks a
    list), else the default's type (a list's first element's), else the type a range (float) or a
    choice set implies. ``nullable``: the default is ``None``, which then stays accepted. ``float``
    accepts an int; no numeric parameter accepts NaN or ±inf (``inf`` in a bound only means unbounded).
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    kind: type | None = None
    is_list: bool = False
    nullable: bool = False

    def describe(self) -> str:
        kind = _KIND_NAMES.get(self.kind, "value")
        what = f"list of {kind}" if self.is_list else kind
        if self.choices is not None:
            what += f"{' with every element' if self.is_list else ','} one of {{{', '.join(map(str, self.choices))}}}"
        elif self.low is not None or self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            what += f"{' with every element' if self.is_list else ''} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"
        return what + (" or null" if self.nullable else "")

    def check(self, value: Any, where: str) -> None:
        """Raise ProfileError (one line: ``where``, what the spec accepts, the value) when ``value`` does not fit."""
        if value is None and self.nullable:
            return
        bad = f"{where}: expected {self.describe()}; got {value!r}"
        if self.is_list:
            if not isinstance(value, list):
                raise ProfileError(bad)
            for i, item in enumerate(value):
                if not self._fits(item):
                    raise ProfileError(f"{bad} (element {i}: {item!r})")
            return
        if not self._fits(value):
            raise ProfileError(bad)

    def _fits(self, value: Any) -> bool:
        if not _is_kind(value, self.kind):
            return False
        if self.choices is not None:
            # `True in (1, 2)` holds in Python: compare with the type too
            return any(value == c and type(value) is type(c) or (self.kind is float and value == c)
                       for c in self.choices)
        if self.kind in (int, float):
            if not math.isfinite(value):
                return False
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                return False
            if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
                return False
        return True


def _is_kind(value: Any, kind: type | None) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in (str, dict):
        return isinstance(value, kind)
    return kind is None


def _fmt(x: float | None) -> str:
    """A bound as the notebook wrote it: exact (1000000, not 1e+06; 0.1), ``inf`` for none."""
    if x is None:
        return "inf"
    return str(int(x)) if float(x).is_integer() else repr(float(x))


_TYPE_RE = re.compile(r"^\s*(bool|int|float|str)\b(\s+each\b)?\s*:?\s*")
_RANGE_RE = re.compile(r"^\s*([\[(])\s*([^,\]\)]+?)\s*,\s*([^\]\)]+?)\s*([\])])")
_CHOICE_RE = re.compile(r"^\s*\{([^}]*)\}")


def _parse_spec(name: str, default: Any, comment: str, where: str) -> ParamSpec:
    """The spec of one parameter from its default and its comment; ``where`` names it in errors.

    Comment grammar (``notebooks/CONVENTIONS.md``): an optional type (``str``, ``int``, ``float``,
    ``bool``, followed by ``each`` for a list's elements and an optional colon), then an optional
    range ``[a, b]``/``(a, b)`` or choice set ``{a, b}``, then free text. A parameter whose type
    cannot be known (a ``None`` default or an empty list with no declared type, range or choices)
    is a notebook error: it could not be checked before the run.
    """
    spec = ParamSpec(name, default, is_list=isinstance(default, list), nullable=default is None)
    declared = None
    m = _TYPE_RE.match(comment)
    if m:
        declared = _KINDS[m.group(1)]
        if m.group(2):
            if default is not None and not isinstance(default, list):
                raise ProfileError(f"{where}: 'each' declares a list's element type, but the default {default!r} is no list")
            spec.is_list = True
        comment = comment[m.end():]
    m = _RANGE_RE.match(comment)
    if m:
        def num(tok: str) -> float | None:
            tok = tok.strip()
            if tok in ("inf", "+inf", "-inf"):
                return None
            return float(tok)
        try:
            spec.low, spec.high = num(m.group(2)), num(m.group(3))
        except ValueError:
            raise ProfileError(f"{where}: cannot read the range {m.group(0).strip()!r} of its comment") from None
        spec.low_open, spec.high_open = m.group(1) == "(", m.group(4) == ")"
    else:
        m = _CHOICE_RE.match(comment)
        if m:
            items = []
            for tok in (t.strip() for t in m.group(1).split(",")):
                try:
                    items.append(ast.literal_eval(tok))
                except (ValueError, SyntaxError):
                    items.append(tok)
            spec.choices = tuple(items)

    if isinstance(default, dict):
        spec.kind = dict
    elif default is not None and not (isinstance(default, list) and not default):
        proto = default[0] if isinstance(default, list) else default
        spec.kind = float if (declared is float and isinstance(proto, int)) else type(proto)
    if declared is not None:
        if spec.kind is not None and spec.kind is not declared:
            raise ProfileError(f"{where}: its comment declares {_KIND_NAMES[declared]}, but its default is {default!r}")
        spec.kind = declared
    elif spec.kind is None:
        if spec.low is not None or spec.high is not None:
            spec.kind = float
        elif spec.choices and len({type(c) for c in spec.choices}) == 1:
            spec.kind = type(spec.choices[0])
        else:
            raise ProfileError(f"{where}: the default {default!r} does not say what it accepts; start its comment "
                               "with a type ('str', 'int', 'float', 'bool'; 'str each:' for a list), a range or a choice set")
    if spec.kind not in _KIND_NAMES:
        raise ProfileError(f"{where}: unsupported default {default!r} (use bool, int, float, str, a list of them or a mapping)")
    if default is not None:
        # a default outside its own spec means the spec is wrong: the notebook's own run would be rejected
        spec.check(default, f"{where}: its default")
    return spec


def notebook_path(notebook: str) -> Path:
    return repo_root() / "notebooks" / f"{notebook}.py"


def notebook_params(path: Path) -> dict[str, ParamSpec]:
    """The parameters a jupytext py:percent notebook declares in its cell tagged ``parameters``."""
    text = Path(path).read_text()
    cells = re.split(r"^# %%", text, flags=re.M)
    cell = next((c for c in cells if re.match(r"[^\n]*tags\s*=\s*\[[^\]]*[\"']parameters[\"']", c)), None)
    if cell is None:
        raise ProfileError(f"{path.name}: no cell tagged 'parameters'")
    body = cell.split("\n", 1)[1] if "\n" in cell else ""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    specs: dict[str, ParamSpec] = {}
    for node in ast.parse(body).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            default = ast.literal_eval(node.value)
            specs[name] = _parse_spec(name, default, comments.get(node.end_lineno, ""),
                                      f"notebooks/{Path(path).name}: parameter {name}")
    return specs


# --------------------------------------------------------------------------- cross-field checks
class _Bad(Exception):
    """A cross-field check failed: ``key`` is the parameter to change, ``expected`` what it accepts here."""

    def __init__(self, key: str, expected: str, got: Any):
        super().__init__(key)
        self.key, self.expected, self.got = key, expected, got


@dataclass
class _Earlier:
    """A run validated before the current one: its name and every parameter value it runs with."""

    index: int
    name: str
    notebook: str
    values: dict[str, Any]


#: A check sees every parameter value of its run (notebook defaults included) and the runs before it.
Check = Callable[[dict[str, Any], list[_Earlier]], None]


def _check_test_grid(p: dict, earlier: list[_Earlier]) -> None:
    """test_start ≤ test_stop: the notebook builds its grid with ``ising.test_grid``, which needs it."""
    from ..physics.grids import test_grid

    try:
        test_grid(p["test_start"], p["test_stop"], p["test_step"])
    except ValueError:
        raise _Bad("test_stop", f"float ≥ test_start = {_fmt(p['test_start'])}", p["test_stop"]) from None


def _check_isotherm_sweep(p: dict, earlier: list[_Earlier]) -> None:
    """The isotherm figures need at least one ε_a, and the hysteresis loop needs ε_a below −4/z_a."""
    from ..physics.isotherm import critical_eps_a

    if not p["eps_a_list"]:
        raise _Bad("eps_a_list", "a non-empty list of float in [-20, 5]", p["eps_a_list"])
    crit = critical_eps_a(p["za"])
    if not p["eps_a_loop"] < crit:
        raise _Bad("eps_a_loop", f"float in [-20, {_fmt(crit)}) (below the critical -4/za for za = {p['za']}; "
                                 "at or above it Eq. 6 has one root and no hysteresis loop)", p["eps_a_loop"])


UNET_KINDS = ("adsorption", "adsorption-nolateral", "adsorption-checkerboard", "ddpm")


def _trained_name(p: dict) -> str:
    """The name a 04-train run stores its model under (``results/<profile>/models/<name>.json``)."""
    return p["name"] or p["model"]


def _check_train_run(p: dict, earlier: list[_Earlier]) -> None:
    """04-train: a usable, unique model name; an L the architecture takes; sample_steps the model has;
    snapshot_steps strictly increasing within the run's steps."""
    name = p["name"]
    if name and not NAME_RE.match(name):
        raise _Bad("name", "\"\" (the model family) or letters, digits, '-', '_' or '.'", name)
    trained = _trained_name(p)
    twin = next((e for e in earlier if e.notebook == "04-train" and _trained_name(e.values) == trained), None)
    if twin is not None:
        # the later run would overwrite the earlier one's results/<profile>/models/<name>.json
        raise _Bad("name", f"a model name (name, else model) that no earlier 04-train run trains; "
                           f"runs[{twin.index}] ({twin.name}) already trains {trained!r}", name)
    _check_launch(p)
    snaps = p["snapshot_steps"]
    if any(s > p["steps"] for s in snaps) or any(a >= b for a, b in zip(snaps, snaps[1:])):
        raise _Bad("snapshot_steps", f"strictly increasing steps within [1, steps = {p['steps']}]", snaps)
    # the library's own validators, so the profile accepts exactly the lattices the models accept
    if p["model"] in UNET_KINDS:
        from ..generators.blocks import GeneratorBase

        try:
            GeneratorBase._check_L(p["L"], p["depth"])
        except ValueError:
            raise _Bad("L", f"int divisible by 2**(depth-1) = {2 ** (p['depth'] - 1)} (model {p['model']}, "
                            f"depth = {p['depth']}; or lower depth)", p["L"]) from None
        if p["model"] == "adsorption-checkerboard" and p["L"] % 2:
            raise _Bad("L", "an even int for model adsorption-checkerboard (its two sublattices must colour the torus)",
                       p["L"])
        if p["model"] != "ddpm" and p["sample_steps"] not in (0, p["K"]):
            raise _Bad("sample_steps", f"0 or K = {p['K']} (model {p['model']} samples with its K layers)",
                       p["sample_steps"])
    else:
        from ..generators.gan import _n_up

        try:
            _n_up(p["L"])
        except ValueError:
            raise _Bad("L", f"int of the form 4·2^m (8, 16, 32, 64, ...) for model {p['model']}", p["L"]) from None


def _check_launch(p: dict) -> None:
    """04-train: torchrun for the models DDP trains, nproc ≠ 1 only with it and dividing the global batch;
    the CUDA-only speed options not on a profile whose device is cpu (``adsorbstudy.generators.distributed``)."""
    from ..generators.train import DDP_KINDS

    if p["launcher"] == "torchrun" and p["model"] not in DDP_KINDS:
        raise _Bad("launcher", f"none for model {p['model']} (torchrun trains {', '.join(DDP_KINDS)})", p["launcher"])
    if p["launcher"] == "none" and p["nproc"] != 1:
        raise _Bad("nproc", "1 when launcher is none (set launcher: torchrun)", p["nproc"])
    if p["nproc"] and p["batch"] % p["nproc"]:
        raise _Bad("nproc", f"a divisor of batch = {p['batch']} (the global batch is split over the processes)",
                   p["nproc"])
    for opt in ("bf16", "torch_compile"):
        if p[opt] and p["device"] == "cpu":
            raise _Bad(opt, "false on device cpu (a CUDA-only speed option)", p[opt])


def _check_trained_models(*keys: str, same_grid: tuple[str, ...] = ()) -> Check:
    """A check that every name in the list parameters ``keys`` is a model an earlier 04-train run of
    the profile trains, at this run's L (and, for ``same_grid`` keys, on this run's ``grid``).

    Without it a misspelt name fails only when the notebook loads it, after all the training."""
    def check(p: dict, earlier: list[_Earlier]) -> None:
        trained = {_trained_name(e.values): e.values for e in earlier if e.notebook == "04-train"}
        known = f"{{{', '.join(trained)}}}" if trained else "{} (no 04-train run comes before this one)"
        for key in keys:
            for i, m in enumerate(p.get(key, [])):  # a notebook may declare only some of the keys
                if m not in trained:
                    raise _Bad(key, f"list of str with every element one of the models that earlier 04-train runs "
                                    f"train, {known} (element {i})", m)
                if trained[m]["L"] != p["L"]:
                    raise _Bad(key, f"models trained at this run's L = {p['L']}; {m!r} is trained at "
                                    f"L = {trained[m]['L']} (element {i})", m)
                if key in same_grid and trained[m]["grid"] != p["grid"]:
                    raise _Bad(key, f"models trained on this run's grid = {p['grid']!r} (fine-grid runs go in "
                                    f"fine_models); {m!r} is trained on {trained[m]['grid']!r} (element {i})", m)
    return check


def _check_kl_models(p: dict, earlier: list[_Earlier]) -> None:
    """06-cost: ``kl_L_models`` are adsorption runs an earlier 04-train trains, at ≥ 2 lattice sides."""
    names = p.get("kl_L_models", [])
    if not names:
        return
    trained = {_trained_name(e.values): e.values for e in earlier if e.notebook == "04-train"}
    for i, m in enumerate(names):
        if m not in trained or not trained[m]["model"].startswith("adsorption"):
            raise _Bad("kl_L_models", f"adsorption runs that earlier 04-train runs train (element {i})", m)
    sides = sorted({trained[m]["L"] for m in names})
    if len(sides) < 2:
        raise _Bad("kl_L_models", f"runs at ≥ 2 different lattice sides (all are at L = {sides[0]})", names)


#: Per notebook, the checks that involve more than one value: they run after each value passed its
#: own spec, in profile order, before any notebook executes.
CROSS_CHECKS: dict[str, tuple[Check, ...]] = {
    "02-isotherms": (_check_isotherm_sweep,),
    "03-ising-monte-carlo": (_check_test_grid,),
    "04-train": (_check_test_grid, _check_train_run),
    "05-fidelity": (_check_test_grid,
                    _check_trained_models("models", "seed_models", "fine_models", same_grid=("models", "seed_models"))),
    "06-cost": (_check_trained_models("models", "scaling_models"), _check_kl_models),
    "07-exact": (_check_test_grid, _check_trained_models("models", "hybrid_models", same_grid=("models", "hybrid_models"))),
}


# --------------------------------------------------------------------------- profiles
@dataclass
class Run:
    """One papermill execution: a notebook, its output name and its parameters."""

    notebook: str
    name: str
    in_book: bool
    parameters: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """Every parameter the notebook receives: its declared defaults, overridden by this run's."""
        return {k: s.default for k, s in notebook_params(notebook_path(self.notebook)).items()} | self.parameters


@dataclass
class Profile:
    name: str
    description: str
    device: str
    runs: list[Run]


def profile_path(name: str) -> Path:
    return repo_root() / "params" / f"{name}.yaml"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in (repo_root() / "params").glob("*.yaml"))


def load_profile(name: str, path: Path | None = None) -> Profile:
    """Read and fully validate ``params/<name>.yaml`` (or ``path``). Raises ProfileError."""
    if not NAME_RE.match(name):
        raise ProfileError(f"profile: a name of letters, digits, '-', '_' or '.'; got {name!r}")
    path = Path(path) if path is not None else profile_path(name)
    if not path.exists():
        raise ProfileError(f"profile: no file {path}; available profiles: {', '.join(available_profiles())}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return validate_profile(name, raw, source=path.name)


def validate_profile(name: str, raw: Any, source: str = "profile") -> Profile:
    if not isinstance(raw, dict):
        raise ProfileError(f"{source}: expected a mapping with keys {sorted(TOP_KEYS)}")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ProfileError(f"{source}: unknown key {sorted(unknown)[0]!r}; allowed keys: {', '.join(sorted(TOP_KEYS))}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{source}: description: expected str; got {description!r}")
    device = raw.get("device", "auto")
    if device not in DEVICES:
        raise ProfileError(f"{source}: device: expected one of {{{', '.join(DEVICES)}}}; got {device!r}")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ProfileError(f"{source}: defaults: expected a mapping of parameter names to values")
    runs_raw = raw.get("runs")
    if not isinstance(runs_raw, list) or not runs_raw:
        raise ProfileError(f"{source}: runs: expected a non-empty list of runs")

    runs: list[Run] = []
    earlier: list[_Earlier] = []
    used_defaults: set[str] = set()
    names: set[str] = set()
    for i, r in enumerate(runs_raw):
        where = f"{source}: runs[{i}]"
        if not isinstance(r, dict):
            raise ProfileError(f"{where}: expected a mapping with keys {sorted(RUN_KEYS)}")
        unknown = set(r) - RUN_KEYS
        if unknown:
            raise ProfileError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed keys: {', '.join(sorted(RUN_KEYS))}")
        nb = r.get("notebook")
        if not isinstance(nb, str) or not NAME_RE.match(nb):
            raise ProfileError(f"{where}.notebook: expected a notebook name such as '02-isotherms'; got {nb!r}")
        path = notebook_path(nb)
        if not path.exists():
            have = sorted(p.stem for p in path.parent.glob("[0-9]*.py"))
            raise ProfileError(f"{where}.notebook: no notebook {nb!r}; available: {', '.join(have)}")
        run_name = r.get("name", nb)
        if not isinstance(run_name, str) or not NAME_RE.match(run_name):
            raise ProfileError(f"{where}.name: expected letters, digits, '-', '_' or '.'; got {run_name!r}")
        if run_name in names:
            raise ProfileError(f"{where}.name: {run_name!r} is used twice; give each run a distinct name")
        names.add(run_name)
        where = f"{where} ({run_name})"  # from here on, messages name the run by index and name
        in_book = r.get("in_book", True)
        if not isinstance(in_book, bool):
            raise ProfileError(f"{where}.in_book: expected true or false; got {in_book!r}")
        params = r.get("parameters") or {}
        if not isinstance(params, dict):
            raise ProfileError(f"{where}.parameters: expected a mapping")
        specs = notebook_params(path)
        merged: dict[str, Any] = {}
        for key in INJECTED:
            if key in specs:
                merged[key] = name if key == "profile" else device
        for key, value in defaults.items():
            if key in specs:
                specs[key].check(value, f"{source}: defaults.{key}")
                merged[key] = value
                used_defaults.add(key)
        for key, value in params.items():
            if key in INJECTED:
                raise ProfileError(f"{where}.parameters.{key}: set by the runner; use the profile's top-level 'device' or its name")
            if key not in specs:
                raise ProfileError(f"{where}.parameters: unknown key {key!r} for notebook {nb}; "
                                   f"it declares: {', '.join(k for k in specs if k not in INJECTED)}")
            specs[key].check(value, f"{where}.parameters.{key}")
            merged[key] = value
        values = {k: s.default for k, s in specs.items()} | merged
        for check in CROSS_CHECKS.get(nb, ()):
            try:
                check(values, earlier)
            except _Bad as bad:
                if bad.key in params:
                    at = f"{where}.parameters.{bad.key}"
                elif bad.key in defaults:
                    at = f"{source}: defaults.{bad.key} (as used by runs[{i}] ({run_name}))"
                else:
                    at = f"{where}.parameters.{bad.key} (the notebook's default)"
                raise ProfileError(f"{at}: expected {bad.expected}; got {bad.got!r}") from None
        runs.append(Run(nb, run_name, in_book, merged))
        earlier.append(_Earlier(i, run_name, nb, values))
    unused = set(defaults) - used_defaults
    if unused:
        raise ProfileError(f"{source}: defaults: unknown key {sorted(unused)[0]!r}: no notebook in runs declares it")
    return Profile(name, description, device, runs)


def training_seeds(profile) -> dict[str, int]:
    """Training seeds per model kind that a profile's fidelity run compares: {kind: count}.

    ``profile``: a validated :class:`Profile`. Counts the runs named in the
    ``05-fidelity`` run's ``models`` and ``seed_models`` (the notebook's defaults where the profile
    gives none; ``fine_models`` are a different training grid and not counted), each mapped to its
    kind through the ``04-train`` run that trains it. Empty when the profile has no fidelity run.
    """
    fid = next((r for r in profile.runs if r.notebook == "05-fidelity"), None)
    if fid is None:
        return {}
    spec = notebook_params(notebook_path("05-fidelity"))
    names = [*fid.parameters.get("models", spec["models"].default),
             *fid.parameters.get("seed_models", spec["seed_models"].default)]
    kind_of = {(r.parameters.get("name") or r.parameters["model"]): r.parameters["model"]
               for r in profile.runs if r.notebook == "04-train" and "model" in r.parameters}
    out: dict[str, int] = {}
    for n in names:
        if n not in kind_of:
            raise ValueError(f"profile {profile.name}: 05-fidelity compares {n!r}, which no 04-train run trains")
        out[kind_of[n]] = out.get(kind_of[n], 0) + 1
    return out
