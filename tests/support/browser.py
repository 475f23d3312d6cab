"""Real-browser testing: Debian's Chromium driven by Playwright, a served instance, and pages
whose every request and console error is checked. Loaded as a pytest plugin by tests/conftest.py.

Never downloads a browser: without /usr/bin/chromium the browser tests skip, saying how to get it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from atlas.resources import PROJECTS_FILE
from tests.support.live_server import atlas_env, atlas_server, run_atlas

ROOT = Path(__file__).resolve().parents[2]  # the checkout

CHROMIUM = Path("/usr/bin/chromium")

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEMO_COUNT = 300
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Console errors that are not the page's doing: Chromium asks for /favicon.ico by itself, and
#: the atlas has none (the 404 is logged only on some first visits).
IGNORED_CONSOLE_URLS = re.compile(r"/favicon\.ico$")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real instance: `atlas init`, synthetic projects, `atlas serve` on a free local port."""
    env = atlas_env(tmp_path_factory.mktemp("browser-instance"))
    init = run_atlas(["init"], env)
    if init.returncode != 0 and PROJECTS_FILE.exists():
        pytest.fail(f"atlas init failed:\n{init.stdout}\n{init.stderr}")
    demo = run_atlas(["demo-data", "--count", str(DEMO_COUNT), "--seed", "7"], env)
    assert demo.returncode == 0, f"atlas demo-data failed:\n{demo.stdout}\n{demo.stderr}"
    with atlas_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium (/usr/bin/chromium) is not installed: apt-get install "
            "chromium (never a browser download)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


class Watched:
    """A page whose requests and console errors are recorded, for checks after each test."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, msg) -> None:
        where = msg.location.get("url", "")
        if msg.type == "error" and not IGNORED_CONSOLE_URLS.search(where):
            self.errors.append(f"console: {msg.text} ({where})")

    def foreign_requests(self) -> list[str]:
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if not (parts.scheme == "http" and parts.hostname == "127.0.0.1"):
                out.append(url)
        return out


@pytest.fixture
def watched(browser, server):
    """A fresh browser context per test; afterwards no request may have left 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="de-DE")
    # Anything foreign is aborted at once (no waiting on an unreachable network) but still
    # recorded by the request listener, so the check below fails.
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda route: route.abort())
    context.set_default_timeout(10_000)
    w = Watched(context.new_page())
    try:
        yield w
        assert w.foreign_requests() == [], "the page asked hosts other than its own"
        assert w.errors == [], "the page logged errors"
    finally:
        context.close()


def settle(page) -> None:
    """Wait out Leaflet's zoom and markercluster's animations (250 ms each, CSS-driven), and
    the atlas map's request for the view's clusters (its status line is busy meanwhile)."""
    page.wait_for_timeout(50)  # let a just-triggered animation begin
    page.wait_for_function("""() => !document.querySelector(
        '.leaflet-zoom-anim, .leaflet-cluster-anim, .leaflet-pan-anim, [aria-busy=true]')""")


def zoom_to_a_single_marker(page):
    """Click cluster after cluster until a lone project marker shows; that marker."""
    singles = page.locator(".leaflet-marker-icon.project-marker")
    for _ in range(12):
        settle(page)
        if singles.count():
            return singles.first
        page.locator(".marker-cluster").first.click()
    pytest.fail("no single marker after zooming into clusters twelve times")


def shot(page, name: str) -> None:
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def marker_count(page) -> int:
    """Wait until atlas.js has loaded the markers; their number as the status line says."""
    status = page.locator("#map-status[data-count]")
    status.wait_for()
    settle(page)
    count = int(status.get_attribute("data-count"))
    expected = "1 Projekt auf der Karte" if count == 1 else f"{count} Projekte auf der Karte"
    assert status.inner_text() == expected
    return count
