"""The public pages with the Flask test client: map, listing, detail, filters, safety."""

from __future__ import annotations

import json
import re

import pytest

from atlas.core.demo import synthetic_projects
from atlas.core.projects import clean_record
from atlas.web.app import create_app
from atlas.web.assets import remote_urls
from atlas.web.extensions import get_store
from tests.test_api import PROJECTS


@pytest.fixture
def client(app):
    store = get_store(app)
    store.create_schema()
    store.save_all([clean_record(p, f"test {i}") for i, p in enumerate(PROJECTS)])
    return app.test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def test_map_page_serves_every_asset_itself(client):
    response = client.get("/")
    assert response.status_code == 200
    html = text(response)
    assert 'class="folium-map"' in html
    icons = [json.loads(m) for m in re.findall(r'"html": ("(?:[^"\\]|\\.)*")', html)]
    for label in ("Braunschweig", "Leine-Weser", "Lüneburg", "Weser-Ems"):
        assert f'<span class="region-label">{label}</span>' in icons
    assert remote_urls(html) == []
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(url).status_code == 200, url
    assert "GeoBasis-DE / BKG" in html
    assert "user-scalable=no" not in html  # visitors may zoom the page


def test_map_page_keeps_the_filter_state_in_the_url(client):
    html = text(client.get("/?field=sprache&region=leine-weser&q=linden"))
    assert 'data-clusters="/api/clusters?field=sprache&amp;region=leine-weser&amp;q=linden"' in html
    assert '<option value="sprache" selected>' in html
    assert '<option value="leine-weser" selected>' in html
    assert "Sprachcafé Linden" in html and "Werkstatt Meppen" not in html


def test_nearby_search_lists_by_distance(client):
    html = text(client.get("/?near=30169&radius_km=10"))
    assert "im Umkreis von 10 km um" in html
    assert re.search(r"Sprachcafé Linden.*?<strong>\d+,\d km</strong>", html, re.S)
    assert "Werkstatt Meppen" not in html


def test_an_ambiguous_place_asks_the_user_to_choose(client):
    html = text(client.get("/?near=Winsen"))
    assert "„Winsen“ gibt es mehrmals" in html
    assert "Landkreis Harburg" in html and "Landkreis Celle" in html


def test_an_unknown_place_says_so_with_suggestions(client):
    html = text(client.get("/?near=L%C3%BCnebrug"))
    assert "nicht gefunden" in html and "Meinten Sie" in html and "Lüneburg" in html


def test_listing_pages_and_sorts(app, client):
    store = get_store(app)
    store.replace_synthetic(synthetic_projects(45, seed=3))
    first = text(client.get("/projekte"))
    assert "49 Projekte" in first and "Seite 1 von 3" in first
    assert 'rel="next"' in first and first.count('class="project"') == 20
    last = text(client.get("/projekte?seite=3"))
    assert last.count('class="project"') == 9 and 'rel="prev"' in last
    assert "Seite 3 von 3" in text(client.get("/projekte?seite=999"))
    assert "Testdaten" in first  # synthetic entries are flagged
    newest = text(client.get("/projekte?sort=newest&q=testprojekt"))
    assert "45 Projekte" in newest
    near = text(client.get("/projekte?near=Meppen&radius_km=5&sort=distance"))
    assert "Werkstatt Meppen" in near and " km</strong>" in near
    bad = client.get("/projekte?sort=distance")
    assert bad.status_code == 200 and "Nach Entfernung sortieren geht nur mit einem Ort" in text(
        bad
    )


def test_detail_page_shows_the_project_and_its_office(client):
    html = text(client.get("/projekte/werkstatt-meppen-meppen"))
    assert "<h1>Werkstatt Meppen" in html
    assert "Amt für regionale Landesentwicklung Weser-Ems" in html
    assert "Emsland" in html and "Arbeit &amp; Ausbildung" in html
    assert remote_urls(html) == []
    assert client.get("/projekte/gibt-es-nicht").status_code == 404
    assert client.get("/projekte/wartet-noch-hannover").status_code == 404


def test_what_a_submitter_typed_is_text_never_markup(client):
    listing = text(client.get("/projekte?field=engagement"))
    assert "<script>alert(" not in listing
    assert "&lt;script&gt;alert(" in listing and "&lt;b&gt;fett&lt;/b&gt;" in listing
    detail = text(client.get("/projekte/script-alert-x-script-helferkreis-braunschweig"))
    assert "<script>alert(" not in detail and "&lt;script&gt;" in detail


def test_pages_carry_security_headers_with_a_fresh_nonce(client):
    first, second = client.get("/"), client.get("/")
    csp = first.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert nonce != re.search(r"'nonce-([^']+)'", second.headers["Content-Security-Policy"]).group(
        1
    )
    assert "script-src 'self' 'nonce-" in csp and "unsafe-eval" not in csp
    assert "img-src 'self' data: https://tile.openstreetmap.org" in csp
    html = text(first)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert first.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert first.headers["X-Content-Type-Options"] == "nosniff"


def test_without_a_basemap_no_tile_server_is_contacted(instance, monkeypatch):
    monkeypatch.setenv("ATLAS_TILES", "none")
    app = create_app({"TESTING": True})
    get_store(app).create_schema()
    response = app.test_client().get("/")
    assert "tile.openstreetmap.org" not in text(response)
    assert "tile.openstreetmap.org" not in response.headers["Content-Security-Policy"]
    assert "L.markerClusterGroup" not in text(response)  # markers come from atlas.js
    assert response.status_code == 200


def test_a_custom_tile_server_is_the_only_third_party(instance, monkeypatch):
    monkeypatch.setenv(
        "ATLAS_TILES",
        '{"url": "https://tiles.example.de/{z}/{x}/{y}.png", "attribution": "© Beispiel-Kacheln"}',
    )
    app = create_app({"TESTING": True})
    get_store(app).create_schema()
    response = app.test_client().get("/")
    assert "https://tiles.example.de/{z}/{x}/{y}.png" in text(response)
    assert "© Beispiel-Kacheln" in text(response)
    assert (
        "img-src 'self' data: https://tiles.example.de"
        in response.headers["Content-Security-Policy"]
    )


def test_map_page_size_does_not_grow_with_the_store(app, client):
    def page_and_first_views() -> tuple[str, list]:
        page = client.get("/").get_data(as_text=True)
        island = re.search(
            r'<script type="application/json" id="atlas-first-views"[^>]*>(.*?)</script>',
            page,
            re.S,
        )
        return page.replace(island.group(1), ""), json.loads(island.group(1))

    get_store(app).replace_synthetic(synthetic_projects(1000, seed=1))
    small, _ = page_and_first_views()
    get_store(app).replace_synthetic(synthetic_projects(20000, seed=1))
    large, views = page_and_first_views()
    assert len(large.encode()) < 200_000
    # only the result count differs; the 20 listed entries have names of the same shape
    assert abs(len(large) - len(small)) < 100
    # The first views the page carries are a view's clusters, not the store: at 20,000
    # projects each zoom's answer holds a few dozen nodes that count every project.
    assert views
    published = get_store(app).count()
    assert published >= 20000
    for view in views:
        answer = view["answer"]
        assert answer["total"] == published
        assert sum(c[3] for c in answer["clusters"]) + len(answer["projects"]) == published
        assert len(answer["clusters"]) + len(answer["projects"]) < 400
