"""Fill the book's repository URL and Pages base URL in ``_config.yml``, the one place they live.

    python .github/configure_book.py                       # from GitHub Actions' environment, or the git remote
    python .github/configure_book.py --repository-url URL --baseurl URL

Where the values come from, first match wins:

1. the options;
2. in GitHub Actions, the repository the workflow runs in (``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY``)
   and its project-site address ``https://<owner>.github.io/<repo>/``, or ``$BOOK_BASEURL`` (set the
   repository variable BOOK_BASEURL for a custom domain);
3. ``git remote get-url origin`` when it is a GitHub repository.

With none of them, nothing is written and the book builds without launch buttons or a canonical URL;
no address is made up. Only the two values are replaced, comments and everything else stay as they are.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+)/(.+?)(?:\.git)?/?$")


def pages_url(owner: str, repo: str) -> str:
    """The address GitHub Pages serves a repository's site at (a user or organization site for <owner>.github.io)."""
    host = f"https://{owner.lower()}.github.io/"
    return host if repo.lower() == f"{owner.lower()}.github.io" else f"{host}{repo}/"


def from_environment() -> tuple[str, str] | None:
    """(repository URL, base URL) of the GitHub Actions run or of the git remote ``origin``; None if unknown."""
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_REPOSITORY"):
        owner, repo = os.environ["GITHUB_REPOSITORY"].split("/", 1)
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{owner}/{repo}", os.environ.get("BOOK_BASEURL") or pages_url(owner, repo)
    try:
        remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    m = _GITHUB.match(remote)
    if not m:
        return None
    owner, repo = m.groups()
    return f"https://github.com/{owner}/{repo}", pages_url(owner, repo)


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``text`` (a YAML file) with ``section.key`` set to ``value``; the key must exist, indented two spaces."""
    pattern = re.compile(rf"(^{section}:[^\n]*\n(?:(?:  [^\n]*|#[^\n]*|)\n)*?  {key}:)[^\n#]*", re.M)
    new, n = pattern.subn(lambda m: f'{m.group(1)} "{value}"', text, count=1)
    if n != 1:
        raise ValueError(f"_config.yml: no key {section}.{key} to set")
    return new


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repository-url", help="e.g. the https address of the repository on GitHub")
    p.add_argument("--baseurl", help="the address the book is served at, ending in /")
    p.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    a = p.parse_args(argv)
    found = from_environment() or (None, None)
    url, base = a.repository_url or found[0], a.baseurl or found[1]
    if not url:
        print("configure_book: repository unknown (no option, not in GitHub Actions, no GitHub remote 'origin'); "
              f"{a.config.name} left unchanged", file=sys.stderr)
        return 0
    if base and not base.endswith("/"):
        base += "/"
    text = set_key(a.config.read_text(), "repository", "url", url)
    text = set_key(text, "html", "baseurl", base or "")
    a.config.write_text(text)
    print(f"configure_book: repository.url = {url}, html.baseurl = {base or '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
