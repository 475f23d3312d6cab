"""The JSON API with the Flask test client: every route, every filter, every bad parameter."""

from __future__ import annotations

import pytest

from atlas.core.fields import FIELDS
from atlas.core.projects import clean_record
from atlas.geo.geocoding import resolve
from atlas.web.extensions import get_store

PROJECTS = [
    {
        "name": "Sprachcafé Linden",
        "organisation": "Nachbarschaftstreff",
        "fields": "sprache",
        "city": "Hannover",
        "postcode": "30449",
        "lat": 52.3667,
        "lon": 9.7167,
    },
    {
        "name": "Werkstatt Meppen",
        "fields": "arbeit-ausbildung;teilhabe",
        "city": "Meppen",
        "lat": 52.6906,
        "lon": 7.2915,
    },
    {
        "name": "Café International Winsen",
        "fields": "teilhabe",
        "city": "Winsen (Luhe)",
        "lat": 53.357,
        "lon": 10.212,
    },
    {
        "name": "<script>alert('x')</script> Helferkreis",
        "organisation": "<b>fett</b>",
        "fields": "engagement",
        "city": "Braunschweig",
        "lat": 52.2689,
        "lon": 10.5268,
    },
    {
        "name": "Wartet noch",
        "fields": "sprache",
        "city": "Hannover",
        "lat": 52.37,
        "lon": 9.73,
        "status": "pending",
    },
]


@pytest.fixture
def client(app):
    store = get_store(app)
    store.create_schema()
    store.save_all([clean_record(p, f"test {i}") for i, p in enumerate(PROJECTS)])
    return app.test_client()


def names(response) -> list[str]:
    return [f["properties"]["name"] for f in response.get_json()["features"]]


def test_projects_is_a_feature_collection_of_published_projects(client):
    body = client.get("/api/projects").get_json()
    assert body["type"] == "FeatureCollection" and body["total"] == 4
    props = body["features"][0]["properties"]
    assert {
        "id",
        "name",
        "organisation",
        "fields",
        "city",
        "postcode",
        "district_code",
        "district",
        "region",
        "synthetic",
    } <= props.keys()
    assert "Wartet noch" not in [f["properties"]["name"] for f in body["features"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("region=weser-ems", ["Werkstatt Meppen"]),
        ("field=teilhabe", ["Café International Winsen", "Werkstatt Meppen"]),
        ("district=03353", ["Café International Winsen"]),
        ("q=LINDEN", ["Sprachcafé Linden"]),
        ("q=sprachcafe", ["Sprachcafé Linden"]),
        ("q=winsen international", ["Café International Winsen"]),
        ("q=100%25", []),
        (
            "bbox=9.5,52.2,10.8,52.5",
            ["<script>alert('x')</script> Helferkreis", "Sprachcafé Linden"],
        ),
        ("region=leine-weser&field=arbeit-ausbildung", []),
    ],
)
def test_filters(client, query, expected):
    response = client.get(f"/api/projects?{query}")
    assert response.status_code == 200
    assert sorted(names(response)) == sorted(expected)


def test_near_sorts_by_distance_and_reports_it(client):
    body = client.get("/api/projects?near=30169&radius_km=50").get_json()
    assert [f["properties"]["name"] for f in body["features"]] == ["Sprachcafé Linden"]
    assert 0 < body["features"][0]["properties"]["distance_km"] < 5
    assert body["near"]["radius_km"] == 50
    wide = client.get("/api/projects?near=52.37,9.73&radius_km=200").get_json()
    distances = [f["properties"]["distance_km"] for f in wide["features"]]
    assert distances == sorted(distances) and len(distances) == 4
    # Hannover → Braunschweig is about 52 km along the ellipsoid
    assert 50 < distances[1] < 56


def test_limit_and_offset_page_through(client):
    first = client.get("/api/projects?limit=2").get_json()
    second = client.get("/api/projects?limit=2&offset=2").get_json()
    assert first["total"] == second["total"] == 4
    assert len(first["features"]) == len(second["features"]) == 2
    assert not set(names_of(first)) & set(names_of(second))


def names_of(body):
    return [f["properties"]["name"] for f in body["features"]]


@pytest.mark.parametrize(
    "query, message",
    [
        ("region=ostfriesland", "unknown region 'ostfriesland'; valid regions: braunschweig"),
        ("field=kochen", "unknown field 'kochen'; valid fields: " + ", ".join(FIELDS)),
        ("district=99999", "unknown district key '99999'"),
        ("bbox=1,2,3", "must be four numbers"),
        ("bbox=a,b,c,d", "must be four numbers"),
        ("bbox=10,53,9,52", "is not a box"),
        ("bbox=nan,1,2,3", "must be four numbers"),
        ("near=30169&radius_km=-5", "radius_km must be more than 0"),
        ("near=30169&radius_km=100000", "at most 200"),
        ("near=30169&radius_km=abc", "radius_km 'abc' is not a number"),
        ("radius_km=inf", "radius_km must be more than 0"),
        ("near=Xyzzyhausen", "place 'Xyzzyhausen' not found"),
        ("near=Winsen", "ambiguous"),
        ("near=95,200", "not a valid 'lat,lon'"),
        ("limit=abc", "limit 'abc' is not a whole number"),
        ("limit=0", "limit must be between 1 and 1000"),
        ("limit=100000", "limit must be between 1 and 1000"),
        ("offset=-1", "offset must be between 0"),
        ("sort=distance", "needs a place"),
        ("sort=rating", "unknown sort"),
    ],
)
def test_bad_parameters_answer_400_with_a_reason(client, query, message):
    response = client.get(f"/api/projects?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert response.get_json()["de"]  # the German wording the map's status line shows
    assert client.get(f"/api/markers?{query}").status_code == 400


def test_ambiguous_and_unknown_places_carry_candidates_and_suggestions(client):
    body = client.get("/api/projects?near=Winsen").get_json()
    assert {c["district_code"] for c in body["candidates"]} >= {"03353", "03351"}
    body = client.get("/api/projects?near=L%C3%BCnebrug").get_json()
    assert "Lüneburg" in [s["label"] for s in body["suggestions"]][0]


def test_one_project_with_its_office(client):
    project_id = client.get("/api/projects?q=meppen").get_json()["features"][0]["properties"]["id"]
    body = client.get(f"/api/projects/{project_id}").get_json()
    assert body["properties"]["office"] == "Amt für regionale Landesentwicklung Weser-Ems"
    assert body["geometry"]["coordinates"] == [7.2915, 52.6906]
    missing = client.get("/api/projects/gibt-es-nicht")
    assert missing.status_code == 404 and "no published project" in missing.get_json()["error"]
    pending = client.get("/api/projects/wartet-noch-hannover")
    assert pending.status_code == 404


def test_regions_and_districts_carry_counts(client):
    regions = client.get("/api/regions").get_json()
    counts = {
        f["properties"]["region"]: f["properties"]["project_count"] for f in regions["features"]
    }
    assert counts == {"braunschweig": 1, "leine-weser": 1, "lueneburg": 1, "weser-ems": 1}
    assert "GeoBasis-DE / BKG" in regions["attribution"]
    districts = client.get("/api/districts").get_json()["districts"]
    assert len(districts) == 45
    by_code = {d["code"]: d for d in districts}
    assert by_code["03454"]["project_count"] == 1 and by_code["03159"]["project_count"] == 0


def test_geocode_answers_like_the_command(client):
    response = client.get("/api/geocode?q=30169%20Hannover")
    assert response.status_code == 200
    assert response.get_json() == resolve("30169 Hannover")
    assert client.get("/api/geocode?q=Winsen").get_json()["status"] == "ambiguous"
    assert client.get("/api/geocode").status_code == 400


def test_markers_are_compact_rows(client):
    body = client.get("/api/markers?field=sprache").get_json()
    assert body["columns"] == ["id", "lat", "lon", "field", "name", "unconfirmed"]
    # The name is each marker's accessible name on the map (atlas.js gives it as title); the
    # last column marks an entry whose reminder went unanswered (drawn muted, issue 21).
    assert body["rows"] == [
        ["sprachcafe-linden-hannover", 52.3667, 9.7167, "sprache", "Sprachcafé Linden", 0]
    ]


NASTY = [
    "'",
    '"',
    "<script>",
    "%00",
    "\u0000",
    "../../etc/passwd",
    "9" * 400,
    "1e309",
    "-0",
    "😀",
    "NaN",
    ",,,",
    " ",
    "Infinity",
    "0x10",
    "[]",
    "{}",
    "%",
    "_",
]


@pytest.mark.parametrize(
    "param",
    ["region", "district", "field", "q", "near", "radius_km", "bbox", "limit", "offset", "sort"],
)
def test_no_input_makes_the_api_answer_500(client, param):
    for value in NASTY:
        for path in ("/api/projects", "/api/markers", "/", "/projekte"):
            response = client.get(
                path,
                query_string={param: value, "near": "30169"}
                if param == "radius_km"
                else {param: value},
            )
            assert response.status_code in (200, 400), (path, param, value)
    assert client.get("/api/projects/%00").status_code == 400
    assert client.get("/api/geocode", query_string={"q": "\u0000" * 1000}).status_code == 400


def test_api_answers_carry_the_security_headers(client):
    response = client.get("/api/projects")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_marker_feed_follows_every_change(app, client):
    before = client.get("/api/markers").get_json()["rows"]
    store = get_store(app)
    store.save_all(
        [
            clean_record(
                {
                    "name": "Neu in Celle",
                    "fields": "sprache",
                    "city": "Celle",
                    "lat": 52.62,
                    "lon": 10.08,
                },
                "new",
            )
        ]
    )
    after = client.get("/api/markers").get_json()["rows"]
    assert len(after) == len(before) + 1 and "neu-in-celle-celle" in [r[0] for r in after]
    store.save_all(
        [
            clean_record(
                {
                    "name": "Neu in Celle",
                    "fields": "teilhabe",
                    "city": "Celle",
                    "lat": 52.62,
                    "lon": 10.08,
                },
                "changed",
            )
        ]
    )
    changed = {r[0]: r[3] for r in client.get("/api/markers").get_json()["rows"]}
    assert changed["neu-in-celle-celle"] == "teilhabe"
