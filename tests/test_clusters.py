"""The map's clusters, computed on the server (atlas.search.clusters, /api/clusters): every
match in exactly one node at every zoom, counts that add up to the listing's total, clusters
that split where they say, both back ends alike, and a change seen in the next view."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest
from flask import url_for
from sqlalchemy import update

from atlas import search
from atlas.core.demo import synthetic_projects
from atlas.core.fields import FIELDS
from atlas.core.projects import clean_record
from atlas.search.clusters import MAX_ZOOM, MIN_ZOOM, build_index
from atlas.search.postgis import PostgisBackend
from atlas.search.sqlite import SqliteBackend
from atlas.store import Project
from atlas.web.app import create_app
from atlas.web.extensions import get_store

WORLD = (-180.0, -85.0, 180.0, 85.0)
FILTERS = [
    {},
    {"field": "sprache"},
    {"region": "lueneburg"},
    {"district": "03241"},
    {"near": "52.3745,9.7386", "radius_km": "25"},
    {"q": "sprach"},
    {"field": "teilhabe", "near": "53.0,8.8", "radius_km": "50"},
]


@pytest.fixture
def store(app):
    store = get_store(app)
    store.create_schema()
    store.replace_synthetic(synthetic_projects(1200, seed=5))
    # Two projects on the same spot (never apart, even at the deepest zoom) and one pending.
    records = [
        {"name": name, "fields": "sprache", "city": "Hannover", "lat": 52.37, "lon": 9.73}
        for name in ("Gleicher Ort A", "Gleicher Ort B")
    ]
    records.append(dict(records[0], name="Noch nicht frei", status="pending", lat=52.1, lon=8.0))
    store.save_all([clean_record(r, f"row {i}") for i, r in enumerate(records)])
    return store


def _query(args: dict) -> search.Query:
    return search.parse(args, geocode=search_geocode)


def search_geocode(text):  # the tests use coordinates only
    raise AssertionError(f"no geocoding expected, asked for {text!r}")


def _matches(store, args: dict) -> set[str]:
    query = search.parse({**args, "limit": "1000"}, geocode=search_geocode)
    found, offset = set(), 0
    while True:
        query.offset = offset
        page = search.run(store, query)
        found |= {p.id for p, _ in page.items}
        offset += query.limit
        if offset >= page.total:
            return found


@pytest.mark.parametrize("args", FILTERS, ids=lambda a: "&".join(f"{k}={v}" for k, v in a.items()))
def test_every_match_is_in_exactly_one_node_at_every_zoom(store, args):
    index = search.clusters(store, _query(args))
    expected = _matches(store, args)
    assert index.total == len(expected) and set(index.ids) == expected
    for zoom in range(MIN_ZOOM, MAX_ZOOM + 2):
        view = index.view(WORLD, zoom)
        singles = [p[0] for p in view.projects]
        assert len(singles) == len(set(singles))
        assert view.in_view == len(expected), zoom
        # A cluster's members are exactly the projects whose node it is; none is also single.
        node = index.nodes_of_points(zoom)
        level = index.levels[zoom]
        owner = {int(level.ident[n]): n for n in range(len(level.x)) if level.point[n] < 0}
        members = {
            c[0]: {index.ids[i] for i in np.flatnonzero(node == owner[c[0]])} for c in view.clusters
        }
        assert sum(len(m) for m in members.values()) == sum(c[3] for c in view.clusters)
        assert set().union(*members.values(), singles) == expected
        for c in view.clusters:
            assert c[3] == len(members[c[0]]) >= 2
            in_field = [
                sum(index.field[index.ids.index(i)] == f for i in members[c[0]]) for f in FIELDS
            ]
            assert c[5] == in_field


def test_clusters_split_at_the_zoom_they_name(store):
    index = search.clusters(store, _query({}))
    checked = 0
    for zoom in range(MIN_ZOOM, MAX_ZOOM + 1):
        node = index.nodes_of_points(zoom)
        for cluster in index.view(WORLD, zoom).clusters[:40]:
            ident, expansion = cluster[0], cluster[4]
            level = index.levels[zoom]
            here = int(np.flatnonzero(level.ident == ident)[0])
            members = np.flatnonzero(node == here)
            assert zoom < expansion <= MAX_ZOOM + 1
            # Together up to the zoom before, in more than one node at that zoom (unless they
            # share one spot: then they part only when every project is shown on its own).
            for z in range(zoom, expansion):
                assert len(set(index.nodes_of_points(z)[members].tolist())) == 1
            apart = set(index.nodes_of_points(expansion)[members].tolist())
            assert len(apart) >= 2 or expansion == MAX_ZOOM + 1
            checked += 1
    assert checked > 100


def test_the_view_holds_only_what_is_inside_its_box(store):
    index = search.clusters(store, _query({}))
    box = (9.5, 52.2, 10.0, 52.5)
    view = index.view(box, 11)
    assert view.clusters or view.projects
    for row in view.projects + [[None, *c[1:3]] for c in view.clusters]:
        assert box[0] <= row[2] <= box[2] and box[1] <= row[1] <= box[3]
    assert view.in_view < index.total


def test_both_back_ends_give_the_same_clusters(store):
    """The clusters depend only on the matches: both back ends' marker feeds on this database
    (SQLite's plain SQL runs on PostgreSQL too) cluster alike, and so do two builds."""
    backends = [SqliteBackend()] + ([PostgisBackend()] if store.is_postgres else [])
    for args in FILTERS:
        query = _query(args)
        views = []
        for backend in backends:
            index = build_index(store, query, backend)
            views.append([index.view(WORLD, z) for z in range(MIN_ZOOM, MAX_ZOOM + 2)])
        views.append([search.clusters(store, query).view(WORLD, z) for z in range(18)])
        assert all(v == views[0] for v in views[1:]), args


def test_a_project_approved_in_one_app_is_in_the_next_view_of_another(store, instance):
    first, second = create_app({"TESTING": True}), create_app({"TESTING": True})
    one, other = first.test_client(), second.test_client()
    url = "/api/clusters?bbox=6,51,12,54&zoom=16&field=sprache"
    before = other.get(url)
    assert before.status_code == 200
    tag = before.headers["ETag"]
    assert other.get(url, headers={"If-None-Match": tag}).status_code == 304
    pending = store.projects("pending")[0]
    with get_store(first).session.begin() as s:
        s.execute(update(Project).where(Project.id == pending.id).values(status="published"))
    after = other.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["ETag"] != tag
    assert after.json["total"] == before.json["total"] + 1
    ids = [p[0] for p in after.json["projects"]]
    assert pending.id in ids and pending.id not in [p[0] for p in before.json["projects"]]
    assert one.get(url).json == after.json


def test_the_api_answers_compact_views_and_says_what_is_wrong(store, app):
    client = app.test_client()
    answer = client.get("/api/clusters?bbox=6.6,51.2,11.7,54&zoom=7")
    assert answer.status_code == 200
    body = answer.json
    assert body["fields"] == list(FIELDS) and body["zoom"] == 7
    assert body["total"] == body["in_view"] == store.count()
    assert 0 < len(body["clusters"]) < 200
    listing = client.get("/api/projects?field=sprache&region=lueneburg").json["total"]
    same = client.get("/api/clusters?zoom=3&field=sprache&region=lueneburg").json
    assert same["total"] == same["in_view"] == listing
    assert client.get("/api/clusters?zoom=abc").status_code == 400
    assert client.get("/api/clusters?bbox=1,2,3").status_code == 400
    bad = client.get("/api/clusters?field=nope")
    assert bad.status_code == 400 and "field" in bad.json["error"]


@pytest.mark.parametrize(
    "page, filters",
    [
        ("/", {}),
        ("/?field=sprache&region=lueneburg", {"field": "sprache", "region": "lueneburg"}),
        ("/?near=52.3745,9.7386&radius_km=10", {"near": "52.3745,9.7386", "radius_km": "10"}),
        ("/regionen/weser-ems", {"region": "weser-ems"}),
        ("/embed/karte?district=03241", {"district": "03241"}),
    ],
)
def test_map_pages_carry_their_first_view_as_the_api_answers_it(store, app, page, filters):
    client = app.test_client()
    html = client.get(page).get_data(as_text=True)
    island = re.search(r'id="atlas-first-views"[^>]*>(.*?)</script>', html, re.S)
    views = json.loads(island.group(1))
    assert views, page
    listing = client.get("/api/projects", query_string={**filters, "limit": 1}).json["total"]
    for view in views:
        box = ",".join(str(v) for v in view["bbox"])
        asked = {**filters, "bbox": box, "zoom": view["answer"]["zoom"]}
        assert client.get("/api/clusters", query_string=asked).json == view["answer"]
        assert view["answer"]["total"] == listing
    # A filter the page cannot use sends no first view (the status line says why).
    bad = client.get("/?field=nope").get_data(as_text=True)
    assert re.search(r'id="atlas-first-views"[^>]*>\[\]</script>', bad)


def test_only_new_cluster_builds_count_against_the_limit(instance):
    """A view of a filter set already built costs milliseconds and is not limited; building a
    new one costs up to a second, so new builds per client share ATLAS_RATELIMIT_DOWNLOAD,
    whether the map page or the API asks."""
    app = create_app({"TESTING": True, "RATELIMIT_DOWNLOAD": "3 per minute"})
    get_store(app).create_schema()
    client = app.test_client()
    for _ in range(10):  # the same filters, many views
        assert client.get("/api/clusters?zoom=9&bbox=9,52,10,53").status_code == 200
    assert client.get("/?field=sprache").status_code == 200  # a new build from the page
    assert client.get("/api/clusters?zoom=7&q=eins").status_code == 200
    refused = client.get("/api/clusters?zoom=7&q=zwei")
    assert refused.status_code == 429 and "error" in refused.json
    assert client.get("/?q=drei").status_code == 429
    # What is built already still answers.
    assert client.get("/api/clusters?zoom=12&q=eins").status_code == 200
    assert client.get("/?field=sprache").status_code == 200


def test_answers_are_compressed_and_downloads_still_stream(store, app):
    client = app.test_client()
    answer = client.get("/api/markers", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in answer.headers["Vary"]
    rows = json.loads(gzip.decompress(answer.data))["rows"]
    assert len(rows) == store.count()
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    plain = client.get("/api/markers")
    assert "Content-Encoding" not in plain.headers
    # The compressed answer's ETag ("<tag>:gzip") is as good as the plain one for a 304.
    tag = answer.headers["ETag"].strip('"')
    assert tag.endswith(":gzip")
    again = client.get(
        "/api/markers", headers={"Accept-Encoding": "gzip", "If-None-Match": f'"{tag}"'}
    )
    assert again.status_code == 304 and not again.data
    with app.test_request_context():
        csv_url = url_for("coverage.download_projects", slug="lueneburg", fmt="csv")
    download = client.get(csv_url, headers={"Accept-Encoding": "gzip"})
    assert download.status_code == 200 and download.is_streamed
    assert "Content-Encoding" not in download.headers
    assert download.headers["Content-Length"] == str(len(download.data))


def test_vendored_files_are_fingerprinted_and_kept_for_a_year(store, app):
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    leaflet = re.search(r'src="(/static/vendor/leaflet/[^"]+\.js\?v=[0-9a-f]+)"', page)[1]
    answer = client.get(leaflet, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in answer.headers["Cache-Control"]
    assert "immutable" in answer.headers["Cache-Control"]
    # Without the fingerprint (or with an old one), the file is checked again each time.
    stale = client.get(leaflet.split("?")[0] + "?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
