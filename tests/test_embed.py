"""Embeds for municipal websites: the framed pages set no cookie, may be framed (only they),
open projects on the atlas in a new tab, and fit a 320 px column on a foreign page."""

from __future__ import annotations

import html
import re
import threading
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.accessibility import (
    SMALL_PHONE,
    assert_no_sideways_scroll,
    axe_violations,
    describe,
)
from tests.test_api import client  # noqa: F401  (the fixture: the test projects stored)

EMBEDS = ("/embed/karte?region=lueneburg", "/embed/liste?region=weser-ems&field=teilhabe")


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_embeds_set_no_cookie_and_may_be_framed_by_any_site(client):  # noqa: F811
    for path in EMBEDS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers
        assert _csp(response)["frame-ancestors"] == "*"
        assert "X-Frame-Options" not in response.headers
    for path in ("/", "/projekte", "/einbetten", "/projekte.atom"):
        response = client.get(path)
        assert _csp(response)["frame-ancestors"] == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_embedded_list_opens_projects_on_the_atlas_in_a_new_tab(client):  # noqa: F811
    page = client.get(EMBEDS[1]).get_data(as_text=True)
    assert '<base target="_blank">' in page
    assert "Werkstatt Meppen" in page and "Sprachcafé Linden" not in page
    assert re.search(r'href="/projekte/[^"]+" rel="noopener">Werkstatt Meppen', page)
    assert "embed.js" in page and "<header" not in page


def test_embed_origins_narrow_who_may_frame(instance):
    app = create_app({"TESTING": True, "EMBED_ORIGINS": "https://www.celle.de, https://a.example"})
    get_store(app).create_schema()
    response = app.test_client().get("/embed/liste")
    assert _csp(response)["frame-ancestors"] == "https://www.celle.de https://a.example"


def test_the_builder_shows_a_preview_and_a_snippet(client):  # noqa: F811
    page = client.get("/einbetten?art=liste&district=03454&field=teilhabe&lang=de")
    text = page.get_data(as_text=True)
    assert 'src="/embed/liste?district=03454&amp;field=teilhabe&amp;lang=de"' in text
    snippet = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S).group(1))
    assert snippet.startswith(
        '<iframe src="http://127.0.0.1:8000/embed/liste?district=03454&field=teilhabe&lang=de"'
    )
    assert "atlasEmbedHeight" in snippet and 'e.origin!=="http://127.0.0.1:8000"' in snippet
    assert "Code kopieren" in text
    bad = client.get("/einbetten?region=weser-ems&district=03241").get_data(as_text=True)
    assert "<textarea" not in bad and "liegt in der Region" in bad


def test_an_embed_fits_320_px_on_a_foreign_page_and_takes_its_height(watched, server):
    """A municipality's page (another origin) with the snippet, at 320 px: the list shows, the
    iframe grows to its content by postMessage, nothing scrolls sideways, no request leaves."""
    with urllib.request.urlopen(f"{server}/einbetten?art=liste&region=lueneburg") as r:
        text = r.read().decode()
    snippet = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S).group(1))
    snippet = snippet.replace("http://127.0.0.1:8000", server)
    body = (
        "<!doctype html><html lang='de'><head><meta name='viewport' "
        "content='width=device-width, initial-scale=1'><title>Gemeinde</title></head>"
        f"<body><h1>Unsere Initiativen</h1>{snippet}</body></html>"
    ).encode()
    page = watched.page
    page.set_viewport_size(SMALL_PHONE)
    with _host_page(body) as host:
        page.goto(host)
        _check_embed(page, watched)
        # the atlas's own pages refuse to be framed: the browser shows its error page instead
        page.evaluate(
            "src => { const f = document.createElement('iframe'); f.src = src; "
            "document.body.append(f); }",
            f"{server}/projekte",
        )
        page.wait_for_timeout(1500)
        refused = [e for e in watched.errors if "frame-ancestors 'none'" in e]
        assert refused, watched.errors
        watched.errors[:] = [e for e in watched.errors if e not in refused]


@contextmanager
def _host_page(body: bytes):
    """A municipality's web server: another origin (another port) serving one page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/gemeinde.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _check_embed(page, watched):
    frame = page.frame_locator("iframe[data-atlas-embed]")
    first = frame.locator("ol.results li h2 a").first
    first.wait_for()
    assert first.get_attribute("href").startswith("/projekte/")
    page.wait_for_function("() => parseInt(document.querySelector('iframe').style.height) > 500")
    inner = page.frames[1]
    assert inner.evaluate("document.documentElement.scrollWidth") <= 320
    assert inner.evaluate("document.cookie") == ""
    assert_no_sideways_scroll(page, "the host page with the embed")


def test_the_builder_and_the_embedded_map_at_320_px(watched, server):
    """/einbetten on a phone: no sideways scroll, no axe violation; its preview is the embedded
    map, whose markers load (and whose popups' links lead to the atlas in a new tab)."""
    page = watched.page
    page.set_viewport_size(SMALL_PHONE)
    page.goto(f"{server}/einbetten?art=karte&region=lueneburg")
    frame = page.frame_locator("#embed-preview")
    count = frame.locator("#map-status[data-count]")
    count.wait_for()
    assert int(count.get_attribute("data-count")) > 0
    assert frame.locator("base").get_attribute("target") == "_blank"
    assert_no_sideways_scroll(page, "/einbetten at 320 px")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
