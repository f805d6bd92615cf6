"""Sphinx extension: the book refuses to build from published results that differ from their manifest.

``published/<profile>/`` (``adsorbstudy publish``) holds results computed once and committed with a
manifest of SHA-256 hashes. The chapter "Beyond the default budget" renders them; this check runs when
the build starts, so a file changed after publishing fails the build with one line naming the file,
even when the chapter itself was executed earlier.
"""
from __future__ import annotations

from pathlib import Path

from sphinx.errors import ExtensionError


def check_published(root: Path) -> list[str]:
    """Verify every ``published/*/`` under ``root``; return the directories checked. Raises
    ``adsorbstudy.study.publish.PublishError`` for the first mismatch."""
    from adsorbstudy.study.publish import verify

    checked = []
    for d in sorted((root / "published").glob("*/")):
        if d.is_dir() and not d.name.startswith("."):
            verify(d)
            checked.append(str(d))
    return checked


def _check(app):
    from adsorbstudy.study.publish import PublishError

    try:
        check_published(Path(app.srcdir))
    except PublishError as exc:
        raise ExtensionError(f"published results: {exc}") from None


def setup(app):
    app.connect("builder-inited", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
