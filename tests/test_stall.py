"""No single client stalls the server (issue 14): the heavy endpoints (downloads, coverage, the
marker feed) are cached per data version, unknown query parameters never make a new cache entry,
each heavy endpoint is limited per client by ATLAS_RATELIMIT_DOWNLOAD (a German page for HTML,
JSON for /api/), and downloads are streamed. The stall itself is measured in
benchmarks/bench_stall.py, not timed here.
"""

from __future__ import annotations

import pytest

from atlas.core import coverage as figures
from atlas.core.demo import synthetic_projects
from atlas.web import api, coverage
from atlas.web.app import create_app
from atlas.web.extensions import get_store

JUNK = ["_={n}", "utm_source=x{n}&fbclid={n}", "x{n}=1", "callback=c{n}"]


def make_app(**config):
    app = create_app({"TESTING": True, **config})
    store = get_store(app)
    store.create_schema()
    store.replace_synthetic(synthetic_projects(200, seed=5))
    return app


@pytest.fixture
def app(instance):
    for cache in (api._MARKERS, api._COVERAGE, coverage._DOWNLOADS, figures._WHITE_SPOTS):
        cache.clear()
    return make_app(RATELIMIT_ENABLED=False)


def junk(n: int) -> str:
    return JUNK[n % len(JUNK)].format(n=n)


@pytest.mark.parametrize(
    ("url", "cache"),
    [
        ("/api/markers?region=weser-ems", "markers"),
        ("/api/coverage?region=weser-ems&field=sprache", "coverage"),
        ("/regionen/weser-ems?field=sprache", "white_spots"),
        ("/regionen/weser-ems/projekte.geojson", "downloads"),
        ("/regionen/weser-ems/projekte.csv", "downloads"),
        ("/regionen/weser-ems/projekte-excel.csv", "downloads"),
    ],
)
def test_unknown_parameters_make_no_new_cache_entries(app, url, cache):
    caches = {
        "markers": api._MARKERS,
        "coverage": api._COVERAGE,
        "white_spots": figures._WHITE_SPOTS,
        "downloads": coverage._DOWNLOADS,
    }
    client = app.test_client()
    first = client.get(url)
    assert first.status_code == 200
    for n in range(40):
        again = client.get(f"{url}{'&' if '?' in url else '?'}{junk(n)}")
        assert again.status_code == 200
        if cache != "white_spots":  # the page carries a fresh CSP nonce each time
            assert again.data == first.data
    assert len(caches[cache]._values) == 1


def test_every_versioned_cache_stays_bounded(app):
    """Known parameters with free values (distance, bbox) fill at most the cache's size."""
    client = app.test_client()
    for n in range(60):
        distance = 1 + n / 10
        assert (
            client.get(f"/api/coverage?region=weser-ems&distance_km={distance}").status_code == 200
        )
        bbox = f"{6 + n / 100},52,9,54"
        assert client.get(f"/api/markers?bbox={bbox}").status_code == 200
    assert len(api._COVERAGE._values) <= api._COVERAGE.size
    assert len(figures._WHITE_SPOTS._values) <= figures._WHITE_SPOTS.size
    assert len(api._MARKERS._values) <= api._MARKERS.size


def test_the_api_coverage_answer_is_cached_and_follows_a_change(app):
    client = app.test_client()
    first = client.get("/api/coverage?region=weser-ems").get_json()
    assert client.get("/api/coverage?region=weser-ems&_=1").get_json() == first
    get_store(app).replace_synthetic(synthetic_projects(20, seed=6))
    changed = client.get("/api/coverage?region=weser-ems").get_json()
    assert changed["total"]["projects"] != first["total"]["projects"]


@pytest.mark.parametrize(
    "url",
    [
        "/regionen/weser-ems/projekte.geojson",
        "/regionen/weser-ems/projekte.csv",
        "/regionen/weser-ems/kreise.csv",
        "/regionen/weser-ems/weisse-flecken-excel.csv",
        "/regionen/weser-ems",
        "/regionen",
    ],
)
def test_the_n_plus_first_heavy_page_in_a_minute_answers_a_german_429(instance, url):
    app = make_app(RATELIMIT_DOWNLOAD="3 per minute")
    client = app.test_client()
    codes = [client.get(f"{url}?_={n}").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    page = client.get(url)
    assert page.status_code == 429 and "text/html" in page.content_type
    assert "Zu viele Anfragen" in page.get_data(as_text=True)
    assert "3 pro Minute" in page.get_data(as_text=True)
    assert page.headers.get("Retry-After")


@pytest.mark.parametrize("url", ["/api/markers", "/api/coverage?region=weser-ems"])
def test_the_n_plus_first_heavy_api_call_in_a_minute_answers_json_429(instance, url):
    app = make_app(RATELIMIT_DOWNLOAD="3 per minute")
    client = app.test_client()
    codes = [client.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(url)
    assert limited.status_code == 429 and limited.is_json
    assert "error" in limited.get_json()
    # a light call is not limited by it, and another client is not either
    assert client.get("/api/regions").status_code == 200
    other = client.get(url, environ_overrides={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def test_heavy_endpoints_are_counted_each_on_its_own(instance):
    app = make_app(RATELIMIT_DOWNLOAD="2 per minute")
    client = app.test_client()
    for _ in range(2):
        assert client.get("/api/markers").status_code == 200
    assert client.get("/regionen/weser-ems/projekte.geojson").status_code == 200


def test_downloads_are_streamed_from_the_cached_bytes(app, monkeypatch):
    monkeypatch.setattr(coverage, "CHUNK", 1000)
    client = app.test_client()
    response = client.get("/regionen/weser-ems/projekte.geojson", buffered=False)
    assert response.is_streamed
    pieces = list(response.response)
    response.close()
    body = b"".join(pieces)
    assert len(pieces) > 2 and max(len(p) for p in pieces) <= 1000
    assert int(response.headers["Content-Length"]) == len(body)
    assert body == next(iter(coverage._DOWNLOADS._values.values()))
    assert body.startswith(b"{") and b"FeatureCollection" in body


def test_a_download_goes_out_through_the_servers_file_wrapper(app):
    wrapped = []

    def file_wrapper(file, size):
        wrapped.append(size)
        return iter(lambda: file.read(size), b"")

    client = app.test_client()
    response = client.get(
        "/regionen/weser-ems/projekte.csv", environ_overrides={"wsgi.file_wrapper": file_wrapper}
    )
    assert response.status_code == 200 and wrapped == [coverage.CHUNK]
    assert response.data == next(iter(coverage._DOWNLOADS._values.values()))
