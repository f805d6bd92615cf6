"""Publishing: the GitHub Actions workflow, the book's one place for its addresses, launch links, the
API page, and (with the pipeline's built book, ``test_pipeline.py``) the site served from a sub-path
as GitHub Pages serves a project site, in headless Chromium, where a page's request to another machine
fails the check.
"""
import functools
import http.server
import importlib
import importlib.util
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml

import browser
from conftest import FIXTURES, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


configure_book = _load(ROOT / ".github" / "configure_book.py", "configure_book")
launch_source = _load(ROOT / "book" / "_ext" / "launch_source.py", "launch_source")


# --------------------------------------------------------------------------- the workflow
def workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
    return wf


def readme_steps() -> list[str]:
    """The step names listed in the README's publishing section (lines ``N. **name**: ...``)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Publishing the book", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. \*\*(.+?)\*\*", section, flags=re.M)


def test_workflow_triggers_profiles_and_steps():
    wf = workflow()
    assert set(wf["on"]) == {"push", "pull_request", "workflow_dispatch", "schedule"}
    assert wf["on"]["schedule"][0]["cron"].split()[4] in "0123456"  # weekly: a day of the week
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    profile = build["env"]["PROFILE"]
    # push and pull request: smoke; schedule: default; dispatch: the chosen profile (default by default)
    assert profile == "${{ inputs.profile || (github.event_name == 'schedule' && 'default') || 'smoke' }}"
    assert wf["on"]["workflow_dispatch"]["inputs"]["profile"]["default"] == "default"
    names = [s["name"] for s in build["steps"]]
    assert readme_steps() == names, "the README's publishing steps and the workflow's differ"
    steps = {s["name"]: s for s in build["steps"]}
    py = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert py["with"]["cache"] == "pip"
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert "make study" in steps["Run the study"]["run"] and "$PROFILE" in steps["Run the study"]["run"]
    assert "make build" in steps["Build the book"]["run"]
    assert names.index("Point the book at this repository") < names.index("Build the book")
    # deployed from main only, with the Pages permissions, by the official action
    assert deploy["needs"] == "build"
    assert "github.ref == 'refs/heads/main'" in deploy["if"] and "pull_request" not in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert wf["permissions"] == {"contents": "read"}


def test_make_build_is_the_book_build_the_tests_run():
    make = (ROOT / "Makefile").read_text()
    assert "jupyter-book build . -W -n --keep-going" in make


# --------------------------------------------------------------------------- _config.yml: one place
def test_configure_book_sets_exactly_the_two_keys(tmp_path):
    cfg = tmp_path / "_config.yml"
    shutil.copy(ROOT / "_config.yml", cfg)
    before = yaml.safe_load(cfg.read_text())
    assert before["repository"]["url"] == "" and before["html"]["baseurl"] == ""  # committed: not known
    assert configure_book.main(["--config", str(cfg), "--repository-url", "https://github.com/o/r",
                                "--baseurl", "https://o.github.io/r"]) == 0
    after = yaml.safe_load(cfg.read_text())
    assert after["repository"]["url"] == "https://github.com/o/r"
    assert after["html"]["baseurl"] == "https://o.github.io/r/"
    after["repository"]["url"], after["html"]["baseurl"] = "", ""
    assert after == before
    # comments survive: only the two values changed
    diff = [(a, b) for a, b in zip((ROOT / "_config.yml").read_text().splitlines(), cfg.read_text().splitlines())
            if a != b]
    assert len(diff) == 2


def test_configure_book_reads_github_actions_and_leaves_unknown_alone(tmp_path, monkeypatch):
    cfg = tmp_path / "_config.yml"
    shutil.copy(ROOT / "_config.yml", cfg)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "Some-Org/adsorbstudy")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.delenv("BOOK_BASEURL", raising=False)
    configure_book.main(["--config", str(cfg)])
    got = yaml.safe_load(cfg.read_text())
    assert got["repository"]["url"] == "https://github.com/Some-Org/adsorbstudy"
    assert got["html"]["baseurl"] == "https://some-org.github.io/adsorbstudy/"
    assert configure_book.pages_url("me", "me.github.io") == "https://me.github.io/"
    for remote, want in [("git@github.com:a/b.git", ("a", "b")), ("https://github.com/a/b", ("a", "b")),
                         ("https://github.com/a/b.git/", ("a", "b")), ("https://example.org/a/b", None)]:
        m = configure_book._GITHUB.match(remote)
        assert (m.groups() if m else None) == want, remote
    # outside Actions and without a GitHub remote nothing is written
    monkeypatch.delenv("GITHUB_ACTIONS")
    monkeypatch.setattr(configure_book, "from_environment", lambda: None)
    shutil.copy(ROOT / "_config.yml", cfg)
    configure_book.main(["--config", str(cfg)])
    assert cfg.read_text() == (ROOT / "_config.yml").read_text()


def test_launch_links_open_the_notebook_that_made_each_chapter(monkeypatch):
    """Every generated chapter of every profile maps to the notebook its run executes."""
    from adsorbstudy.study.profile import available_profiles, load_profile

    monkeypatch.setenv("ADSORBSTUDY_ROOT", str(ROOT))
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["launch_buttons"]["binderhub_url"] and cfg["sphinx"]["local_extensions"]["launch_source"]
    assert (ROOT / "environment.yml").exists() and (ROOT / "postBuild").exists()  # what Binder builds from
    for name in available_profiles():
        for run in load_profile(name).runs:
            page = f"book/generated/{run.name}"
            assert launch_source.source_notebook(page, ROOT) == f"notebooks/{run.notebook}.py", (name, run.name)
    assert launch_source.source_notebook("book/methods", ROOT) is None


def test_api_page_is_in_the_toc_and_documents_importable_modules():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/api" in files
    mods = re.findall(r"^\.\. automodule:: (\S+)", (ROOT / "book" / "api.md").read_text(), flags=re.M)
    assert "adsorbstudy.generators.train" in mods and "adsorbstudy.generators.distributed" in mods
    for m in mods:
        assert importlib.import_module(m).__doc__, m


# --------------------------------------------------------------------------- served from a sub-path
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the browser reports every request with its answer
        pass


def check_served_from_subpath(html_dir: Path, pages: list[str], math_pages: list[str], prefix: str = "adsorbstudy"):
    """Serve ``html_dir`` at ``http://127.0.0.1:PORT/<prefix>/`` and open ``pages`` in headless Chromium
    (``tests/browser.py``). Asserts, page by page: nothing was asked of another machine; the page loads;
    every request it made was under the prefix and answered below 400; every image, stylesheet and
    script in the DOM was requested from this server; MathJax typeset ``math_pages``."""
    browser.require_chromium()
    with tempfile.TemporaryDirectory() as site:
        (Path(site) / prefix).symlink_to(Path(html_dir).resolve(), target_is_directory=True)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{srv.server_address[1]}/{prefix}/"
            visits = browser.visit([urljoin(base, f"{page}.html") for page in pages])
        finally:
            srv.shutdown()
    for page, v in zip(pages, visits):
        left = [f"{r.method} {r.url}" for r in v.left]
        assert not left, f"{page}: requests that would have left the machine: {left[:5]}"
        assert "<article" in v.dom or "<main" in v.dom, f"{page} (ended at {v.url}): no page content"
        bad = [(r.method, r.url, r.status or r.failure) for r in v.requests
               if not r.url.startswith(base) or r.status is None or r.status >= 400]
        assert not bad, f"{page}: requests that failed or left the sub-path: {bad[:5]}"
        requested = {r.url for r in v.requests}
        for ref in v.resources:
            if ref.startswith("data:"):
                continue
            assert ref.startswith(base), f"{page}: {ref} is not served by the book"
            assert ref in requested, f"{page}: {ref} was never loaded"
        if page in math_pages:
            assert "<mjx-container" in v.dom, f"MathJax did not typeset {page}"


def test_subpath_check_passes_a_page_of_local_files():
    check_served_from_subpath(FIXTURES / "site", ["clean"], math_pages=[])


def test_subpath_check_fails_a_page_that_loads_from_another_machine():
    """``remote.html``'s stylesheet imports a Google Fonts stylesheet: only the page's request record shows
    it (the DOM holds no remote URL), and the browser aborted it, so the page still renders."""
    with pytest.raises(AssertionError, match=r"remote: requests that would have left the machine: "
                                             r"\['GET https://fonts\.googleapis\.com/css\?family=Roboto'\]"):
        check_served_from_subpath(FIXTURES / "site", ["clean", "remote"], math_pages=[])


def test_api_docstrings_escape_only_outside_literals():
    api_docstrings = _load(ROOT / "book" / "_ext" / "api_docstrings.py", "api_docstrings")
    line = "⟨|m|⟩ per spin, ``|m|`` and ``u_``, at u_- (a_b), :func:`f`(x) and :func:`g`."
    assert api_docstrings.escape_line(line) == (
        r"⟨\|m\|⟩ per spin, ``|m|`` and ``u_``, at u\_- (a_b), :func:`f`\ (x) and :func:`g`.")


def test_launch_buttons_only_with_a_repository():
    """The theme fails on notebook pages with launch buttons but no repository URL: they go together."""
    class Config:
        def __init__(self, url):
            self.html_theme_options = {"repository_url": url, "launch_buttons": {"binderhub_url": "b"}}

    empty, known = Config(""), Config("https://github.com/o/r")
    launch_source._no_repository_no_launch(None, empty)
    launch_source._no_repository_no_launch(None, known)
    assert empty.html_theme_options["launch_buttons"] == {}
    assert known.html_theme_options["launch_buttons"] == {"binderhub_url": "b"}
