"""The tests' one way to open the book in a browser: Debian's Chromium driven through the DevTools
protocol by Playwright for Python (``playwright`` from the test extras; its own browser downloads are
never used).

A test judges what the *pages* asked for: Playwright's ``request`` event on the browser context reports
the requests of each page and its frames, and not the browser's own service traffic
(component updates, field trials, network time), which no command-line flag fully silences and whose
hosts change from one Chromium release to the next, so a list of hosts to forgive goes stale (issue 22:
Chromium 156 pinged ``update.googleapis.com`` despite ``--disable-component-update``).

A page's request to another machine is aborted before it leaves, and it stays in the page's record,
where ``Visit.left`` finds it: a book that loads a font or a script from a CDN fails its test, offline
or not.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.request import urlopen

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

#: Chromium's background services off as far as flags go; headless as root needs --no-sandbox
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run")

#: The hosts of this machine: the tests serve the book from 127.0.0.1
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

#: Each wait (a page's load, MathJax, the network going idle), in ms: generous, the machine may be busy
TIMEOUT = 120_000

#: A redirect page (Jupyter Book's root index.html) names its target here
REFRESH = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+content="\d+;\s*url=([^"]+)"', flags=re.I)

#: MathJax 3 resolves ``startup.promise`` once its first typesetting of the page is done
MATHJAX_DONE = "async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise) " \
               "await MathJax.startup.promise; }"

#: Absolute URLs of the images, scripts and stylesheets in the DOM
RESOURCES = "() => [...document.querySelectorAll('img[src], script[src], link[rel~=\"stylesheet\" i][href]')]" \
            ".map(e => e.src || e.href)"


def chromium() -> str | None:
    """The system's Chromium, found on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def require_chromium() -> str:
    """The Chromium to drive, or skip the test: it is a system package the test cannot install."""
    exe = chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (make test installs Debian's chromium when it can)")
    return exe


def off_machine(url: str) -> bool:
    """Whether fetching ``url`` would reach another machine (files, inline data and loopback do not)."""
    parts = urlparse(url)
    return parts.scheme not in ("file", "data", "blob") and parts.hostname not in LOOPBACK


@dataclass(frozen=True)
class Request:
    """One request a page made, with its answer: ``status`` None when none came (failed or aborted)."""
    method: str
    url: str
    status: int | None
    failure: str | None


@dataclass(frozen=True)
class Visit:
    """One page as a reader's browser ends up showing it, and what it asked for on the way."""
    url: str  # where the page ended, after a redirect page's refresh
    dom: str  # the DOM once loaded, typeset by MathJax and with the network idle
    resources: list[str]  # absolute URLs of every image, script and stylesheet in the DOM
    requests: list[Request]  # what the page, its frames and workers asked for, in order

    @property
    def left(self) -> list[Request]:
        """The requests aimed off the machine (each aborted before it left)."""
        return [r for r in self.requests if off_machine(r.url)]


def visit(urls: list[str]) -> list[Visit]:
    """Open each URL (a file or a page served on 127.0.0.1) in a fresh tab of one headless Chromium.
    Skips the test when Chromium is not installed."""
    assert not [u for u in urls if off_machine(u)], urls
    exe = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT)
            context.route(off_machine, lambda route: route.abort("blockedbyclient"))
            return [_open(context, url) for url in urls]
        finally:
            browser.close()


def _open(context: BrowserContext, url: str) -> Visit:
    # A redirect page may be gone before the browser hands over its text: read it here, from disk or 127.0.0.1
    with urlopen(url) as f:
        refresh = REFRESH.search(f.read().decode())
    seen = []

    def record(request):  # not seen.append: Playwright marks its handlers, which a built-in method refuses
        seen.append(request)

    context.on("request", record)
    try:
        page = context.new_page()
        page.goto(url)
        if refresh:
            page.wait_for_url(urljoin(url, refresh.group(1)))
        page.evaluate(MATHJAX_DONE)
        page.wait_for_load_state("networkidle")
        requests = [_answered(r) for r in seen]
        result = Visit(page.url, page.content(), [urldefrag(u).url for u in page.evaluate(RESOURCES)], requests)
        page.close()
    finally:
        context.remove_listener("request", record)
    return result


def _answered(r) -> Request:
    response = r.response()
    return Request(r.method, r.url, response.status if response else None, r.failure)
