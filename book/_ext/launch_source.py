"""Sphinx extension: the launch buttons of a generated chapter open the notebook that made it.

A chapter ``book/generated/04-train-ddpm`` is an executed copy of ``notebooks/04-train.py``
(a jupytext notebook; the chapter name is the profile's run name, which starts with the notebook's
number). The executed ``.ipynb`` is a build output and not in the repository, so the theme's link to
``book/generated/04-train-ddpm.ipynb`` would open nothing; this rewrites it to the source notebook,
which Binder opens with jupytext (see ``postBuild``). Runs after sphinx-book-theme's own
``add_launch_buttons`` (priority 501).

Without a repository URL (``repository.url`` empty in ``_config.yml``, see
``.github/configure_book.py``) there is nothing to launch from: the launch buttons are switched off
(the theme would otherwise fail on every notebook page).
"""
from __future__ import annotations

from pathlib import Path

GENERATED = "book/generated/"


def source_notebook(pagename: str, srcdir: Path) -> str | None:
    """``notebooks/NN-*.py`` for the chapter ``book/generated/NN-...``, or None when there is not exactly one."""
    if not pagename.startswith(GENERATED):
        return None
    number = Path(pagename).name.split("-", 1)[0]
    found = sorted((srcdir / "notebooks").glob(f"{number}-*.py"))
    return f"notebooks/{found[0].name}" if len(found) == 1 else None


def _rewrite(app, pagename, templatename, context, doctree):
    src = source_notebook(pagename, Path(app.srcdir))
    if src is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if "url" in button:
                    button["url"] = button["url"].replace(f"{pagename}.ipynb", src)


def _no_repository_no_launch(app, config):
    options = config.html_theme_options
    if not (options.get("repository_url") or "").strip():
        options["launch_buttons"] = {}


def setup(app):
    app.connect("config-inited", _no_repository_no_launch)
    app.connect("html-page-context", _rewrite, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
