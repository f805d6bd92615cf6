"""Sphinx extension: the library's plain-text docstrings, read as reStructuredText for the API page.

The docstrings are written for ``help()`` and the source: ``|m|`` is an absolute magnetization,
``u_-`` a name with a subscript. reStructuredText reads the first as a substitution and the second
as a link target. Outside ``inline literals`` this escapes ``|`` and a ``_`` that ends a word,
and separates a role from a parenthesis that follows it (``:func:`f`(x)``), so the page shows
what the docstring says. Nothing else is changed.
"""
from __future__ import annotations

import re

_LITERAL = re.compile(r"(``.+?``)")
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[^\w`]|$)")
_ROLE_THEN_PAREN = re.compile(r"(:\w+:`[^`]+`)\(")


def escape_line(line: str) -> str:
    """One docstring line with ``|`` and word-final ``_`` escaped outside inline literals."""
    parts = _LITERAL.split(line)
    for i in range(0, len(parts), 2):  # even indices: outside ``...``
        p = parts[i].replace("|", r"\|")
        p = _TRAILING_UNDERSCORE.sub(r"\\_", p)
        parts[i] = _ROLE_THEN_PAREN.sub(r"\1\\ (", p)
    return "".join(parts)


def _process(app, what, name, obj, options, lines):
    lines[:] = [escape_line(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
