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
comment after each one is its specification (see ``notebooks/CONVENTIONS.md``).
Everything is checked before any notebook runs, and every problem is reported
as one line that names the key and what it accepts.
"""
from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .runtime import DEVICES, repo_root

TOP_KEYS = {"description", "device", "defaults", "runs"}
RUN_KEYS = {"notebook", "name", "in_book", "parameters"}
INJECTED = ("profile", "device")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ProfileError(ValueError):
    """A profile is invalid; the message is one line naming the key and the accepted range."""


# --------------------------------------------------------------------------- specs
@dataclass
class ParamSpec:
    """What one notebook parameter accepts: its default's type plus an optional range or choice set."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        kind = _type_name(self.default)
        if self.choices is not None:
            return f"{kind}, one of {{{', '.join(map(str, self.choices))}}}"
        if self.low is not None or self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            what = f"{kind} with every element" if isinstance(self.default, list) else kind
            return f"{what} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"
        return kind

    def check(self, value: Any, where: str) -> None:
        """Raise ProfileError when ``value`` does not fit this spec."""
        bad = f"{where}: expected {self.describe()}; got {value!r}"
        d = self.default
        if d is None:
            return
        if isinstance(d, bool):
            if not isinstance(value, bool):
                raise ProfileError(bad)
            return
        if isinstance(d, list):
            if not isinstance(value, list):
                raise ProfileError(bad)
            proto = d[0] if d else None
            for item in value:
                self._check_scalar(item, proto, bad)
            return
        if isinstance(d, dict):
            if not isinstance(value, dict):
                raise ProfileError(bad)
            return
        self._check_scalar(value, d, bad)

    def _check_scalar(self, value: Any, proto: Any, bad: str) -> None:
        if proto is not None:
            if isinstance(proto, bool) and not isinstance(value, bool):
                raise ProfileError(bad)
            if isinstance(proto, int) and not isinstance(proto, bool):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ProfileError(bad)
            if isinstance(proto, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ProfileError(bad)
            if isinstance(proto, str) and not isinstance(value, str):
                raise ProfileError(bad)
        if self.choices is not None and value not in self.choices:
            raise ProfileError(bad)
        if self.low is not None or self.high is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise ProfileError(bad)
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                raise ProfileError(bad)
            if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
                raise ProfileError(bad)


def _type_name(v: Any) -> str:
    if isinstance(v, list):
        return f"list of {_type_name(v[0])}" if v else "list"
    return {bool: "bool", int: "int", float: "float", str: "str", dict: "mapping"}.get(type(v), "value")


def _fmt(x: float | None) -> str:
    return "inf" if x is None else (f"{x:g}")


_RANGE_RE = re.compile(r"^\s*([\[(])\s*([^,\]\)]+?)\s*,\s*([^\]\)]+?)\s*([\])])")
_CHOICE_RE = re.compile(r"^\s*\{([^}]*)\}")


def _parse_spec(name: str, default: Any, comment: str) -> ParamSpec:
    spec = ParamSpec(name, default)
    m = _RANGE_RE.match(comment)
    if m:
        def num(tok: str) -> float | None:
            tok = tok.strip()
            if tok in ("inf", "+inf", "-inf"):
                return None
            return float(tok)
        spec.low, spec.high = num(m.group(2)), num(m.group(3))
        spec.low_open, spec.high_open = m.group(1) == "(", m.group(4) == ")"
        return spec
    m = _CHOICE_RE.match(comment)
    if m:
        items = []
        for tok in (t.strip() for t in m.group(1).split(",")):
            try:
                items.append(ast.literal_eval(tok))
            except (ValueError, SyntaxError):
                items.append(tok)
        spec.choices = tuple(items)
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
            specs[name] = _parse_spec(name, default, comments.get(node.end_lineno, ""))
    return specs


# --------------------------------------------------------------------------- profiles
@dataclass
class Run:
    """One papermill execution: a notebook, its output name and its parameters."""

    notebook: str
    name: str
    in_book: bool
    parameters: dict[str, Any] = field(default_factory=dict)


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
        runs.append(Run(nb, run_name, in_book, merged))
    unused = set(defaults) - used_defaults
    if unused:
        raise ProfileError(f"{source}: defaults: unknown key {sorted(unused)[0]!r}: no notebook in runs declares it")
    return Profile(name, description, device, runs)
