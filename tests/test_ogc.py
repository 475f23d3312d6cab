"""OGC API – Features under /ogc/ with the Flask test client: the documents, the items
parameters and their errors, formats, queryables, the OpenAPI document, metadata and downloads.
The real clients (owslib, GDAL, pyproj) are in test_ogc_clients.py."""

from __future__ import annotations

import functools
import json
from urllib.parse import parse_qsl, urlsplit

import pyogrio
import pytest

from atlas.core import ogc
from atlas.core.demo import synthetic_projects
from atlas.core.fields import FIELDS
from atlas.core.projects import clean_record
from atlas.store import Project
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.test_api import PROJECTS

PUBLIC = "https://atlas.example.org"
#: The API tests' projects (one pending), the first placed to the address.
CURATED = [dict(PROJECTS[0], precision="address"), *PROJECTS[1:]]


@functools.cache
def _synthetic() -> list[dict]:
    return synthetic_projects(250, seed=5)


@pytest.fixture
def client(instance):
    app = create_app({"TESTING": True, "PUBLIC_URL": PUBLIC + "/", "RATELIMIT_ENABLED": False})
    store = get_store(app)
    store.create_schema()
    store.save_all([clean_record(p, f"test {i}") for i, p in enumerate(CURATED)])
    store.replace_synthetic(_synthetic())
    return app.test_client()


def _json(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data())


def test_landing_links_are_absolute_and_complete(client):
    body = _json(client.get("/ogc/", headers={"Accept": "*/*"}))
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data", "describedby"} <= rels
    assert "enclosure" in rels
    assert all(link["href"].startswith(PUBLIC + "/ogc/") for link in body["links"])


def test_html_for_browsers_json_otherwise(client):
    page = client.get("/ogc/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "In QGIS" in page.get_data(as_text=True)
    assert client.get("/ogc/collections?f=html").mimetype == "text/html"
    item = client.get("/ogc/collections/districts/items/03241?f=html")
    assert "Region Hannover" in item.get_data(as_text=True)
    assert client.get("/ogc/collections").mimetype == "application/json"
    assert client.get("/ogc/conformance?f=xml").status_code == 400


def test_items_paging_by_next_links(client):
    total = 254
    url, seen, returned = "/ogc/collections/projects/items?limit=100", [], []
    while url:
        body = _json(client.get(url))
        assert body["numberMatched"] == total
        assert body["timeStamp"].endswith("Z")
        returned.append(body["numberReturned"])
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].removeprefix(PUBLIC) if nxt else None
    assert returned == [100, 100, 54]
    assert len(set(seen)) == total
    prev = [link["href"] for link in body["links"] if link["rel"] == "prev"][0]
    assert dict(parse_qsl(urlsplit(prev).query))["offset"] == "100"


def test_limit_is_clamped_and_items_are_geojson(client):
    answer = client.get("/ogc/collections/projects/items?limit=50000")
    assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
    body = json.loads(answer.get_data())
    assert body["numberReturned"] == 254
    feature = body["features"][0]
    assert feature["id"] and feature["geometry"]["type"] == "Point"
    for slug in FIELDS:
        assert isinstance(feature["properties"][ogc.field_column(slug)], bool)
    assert feature["properties"]["updated"].endswith("Z")
    assert "status" not in feature["properties"]


BAD = [
    ("colour=red", "unknown parameter(s) colour"),
    ("district=03241", "unknown parameter(s) district"),
    ("limit=abc", "limit 'abc' is not a whole number"),
    ("limit=0", "limit must be at least 1"),
    ("region=bremen", "unknown region 'bremen'"),
    ("field=sport", "unknown field 'sport'"),
    ("precision=exact", "unknown precision 'exact'"),
    ("bbox=1,2,3", "bbox '1,2,3' must be four numbers"),
    ("crs=EPSG:31467", "unsupported crs 'EPSG:31467'"),
    ("sortby=-name", "unknown sortby '-name'"),
    ("datetime=gestern", "not an RFC 3339"),
]


def test_bad_parameters_answer_400(client):
    for query, description in BAD:
        answer = client.get(f"/ogc/collections/projects/items?{query}")
        assert answer.status_code == 400, query
        body = json.loads(answer.get_data())
        assert set(body) == {"code", "description"}
        assert description in body["description"], (query, body)


def test_unknown_things_answer_404_as_json(client):
    for url in (
        "/ogc/collections/rivers",
        "/ogc/collections/rivers/items",
        "/ogc/collections/projects/items/no-such-project",
        "/ogc/collections/districts/items/99999",
        "/ogc/nothing/here",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert json.loads(answer.get_data())["code"] == "NotFound"
    page = client.get("/ogc/collections/rivers?f=html")
    assert page.status_code == 404 and "Seite nicht gefunden" in page.get_data(as_text=True)
    pending = client.get("/ogc/collections/projects/items/wartet-noch-hannover")
    assert pending.status_code == 404  # only published projects are features


def test_filters_match_the_atlas_search(client):
    def matched(query: str) -> dict:
        return _json(client.get(f"/ogc/collections/projects/items?limit=1000&{query}"))

    body = matched("region=weser-ems&field=arbeit-ausbildung")
    assert body["numberMatched"] == len(body["features"]) > 0
    for f in body["features"]:
        assert f["properties"]["region"] == "weser-ems"
        assert "arbeit-ausbildung" in f["properties"]["fields"]
    body = matched("district_code=03241")
    assert {f["properties"]["district_code"] for f in body["features"]} == {"03241"}
    body = matched("precision=address")
    assert [f["properties"]["name"] for f in body["features"]] == ["Sprachcafé Linden"]
    body = matched("q=werkstatt")
    assert [f["properties"]["name"] for f in body["features"]] == ["Werkstatt Meppen"]
    body = matched("near=52.3667,9.7167&radius_km=10&sortby=distance")
    distances = [f["properties"]["distance_km"] for f in body["features"]]
    assert distances == sorted(distances) and distances[0] == 0 and distances[-1] <= 10
    body = matched("sortby=-created")
    assert body["numberMatched"] == 254
    body = matched("datetime=2000-01-01T00:00:00Z/..")
    assert body["numberMatched"] == 254
    assert matched("datetime=../2000-01-01T00:00:00Z")["numberMatched"] == 0


def test_bbox_on_areas_and_projects(client):
    box = "9.5,52.2,10.0,52.5"
    districts = _json(client.get(f"/ogc/collections/districts/items?bbox={box}"))
    codes = {f["id"] for f in districts["features"]}
    assert "03241" in codes and "03454" not in codes  # Hannover in, Emsland out
    projects = _json(client.get(f"/ogc/collections/projects/items?bbox={box}&limit=1000"))
    for f in projects["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 9.5 <= lon <= 10.0 and 52.2 <= lat <= 52.5
    # EPSG:4326 takes the box in its axis order: latitude first.
    swapped = _json(
        client.get(
            "/ogc/collections/projects/items?limit=1000&bbox=52.2,9.5,52.5,10.0"
            "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326"
        )
    )
    assert swapped["numberMatched"] == projects["numberMatched"]


def test_area_collections(client):
    regions = _json(client.get("/ogc/collections/regions/items"))
    assert [f["id"] for f in regions["features"]] == [
        "braunschweig",
        "leine-weser",
        "lueneburg",
        "weser-ems",
    ]
    assert {f["geometry"]["type"] for f in regions["features"]} == {"MultiPolygon"}
    assert sum(f["properties"]["projects"] for f in regions["features"]) == 254
    districts = _json(client.get("/ogc/collections/districts/items?region=leine-weser"))
    assert districts["numberMatched"] == 7
    hannover = _json(client.get("/ogc/collections/districts/items/03241"))
    props = hannover["properties"]
    assert props["population"] > 1_000_000
    assert props["projects_per_100k"] == round(props["projects"] * 100_000 / props["population"], 2)
    munis = _json(client.get("/ogc/collections/municipalities/items?district_code=03241"))
    assert munis["numberMatched"] == 21  # the Region Hannover's towns
    assert all(f["properties"]["nearest_km"] is not None for f in munis["features"])
    assert client.get("/ogc/collections/districts/items?field=sprache").status_code == 400


def test_queryables_are_typed(client):
    body = _json(client.get("/ogc/collections/projects/queryables"))
    props = body["properties"]
    assert props["region"]["enum"] == ["braunschweig", "leine-weser", "lueneburg", "weser-ems"]
    assert props["field"]["enum"] == list(FIELDS)
    assert props["district_code"]["pattern"]
    assert props["updated"]["format"] == "date-time"


def test_openapi_declares_every_parameter(client):
    answer = client.get("/ogc/api")
    assert answer.mimetype == "application/vnd.oai.openapi+json"
    doc = json.loads(answer.get_data())
    assert doc["openapi"].startswith("3.0")
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)  # a valid OpenAPI 3.0 document
    for cid, collection in ogc.COLLECTIONS.items():
        declared = {
            p["name"] for p in doc["paths"][f"/collections/{cid}/items"]["get"]["parameters"]
        }
        known = set(ogc.COMMON_ITEMS_PARAMS) | set(collection.filters)
        if cid == "projects":
            known |= set(ogc.PROJECT_SEARCH)
        assert declared == known, cid
    limit = next(
        p
        for p in doc["paths"]["/collections/projects/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == ogc.MAX_LIMIT
    assert client.get("/ogc/api?f=html").status_code == 200


def test_etag_and_cors(client):
    first = client.get("/ogc/collections/projects/items?limit=5")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    etag = first.headers["ETag"]
    again = client.get("/ogc/collections/projects/items?limit=5", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # A GIS client that takes gzip gets the compressed answer and may revalidate it as well.
    url = "/ogc/collections/districts/items"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    held = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    )
    assert held.status_code == 304
    store = get_store(client.application)
    with store.session.begin() as s:
        s.get(Project, "sprachcafe-linden-hannover").name = "Sprachcafé Linden-Nord"
    changed = client.get("/ogc/collections/projects/items?limit=5", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_downloads(client, tmp_path):
    overview = client.get("/regionen").get_data(as_text=True)
    for fmt in ("geojson", "gpkg", "csv"):
        assert f'href="/ogc/downloads/projekte.{fmt}"' in overview
    geojson = _json(client.get("/ogc/downloads/projekte.geojson"))
    assert len(geojson["features"]) == 254
    csv = client.get("/ogc/downloads/projekte.csv").get_data(as_text=True)
    header = csv.lstrip("\ufeff").splitlines()[0].split(",")
    assert header[:2] == ["id", "name"]
    assert {"created", "updated", "field_sprache", "field_arbeit_ausbildung", "lat", "lon"} <= set(
        header
    )
    assert len(csv.strip().splitlines()) == 255
    gpkg = client.get("/ogc/downloads/projekte.gpkg")
    assert gpkg.mimetype == "application/geopackage+sqlite3"
    (tmp_path / "projekte.gpkg").write_bytes(gpkg.get_data())
    frame = pyogrio.read_dataframe(tmp_path / "projekte.gpkg")
    assert len(frame) == 254
    meppen = frame[frame["name"] == "Werkstatt Meppen"].iloc[0]
    assert bool(meppen["field_teilhabe"]) and not bool(meppen["field_sprache"])
    assert meppen["fields"] == "arbeit-ausbildung;teilhabe"


def test_dcat_metadata(client):
    landing = _json(client.get("/ogc/"))
    described = next(link for link in landing["links"] if link["rel"] == "describedby")
    doc = _json(client.get(described["href"].removeprefix(PUBLIC)))
    assert doc["@type"] == "dcat:Dataset"
    assert doc["dct:license"] == {
        "@id": "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
        "dct:title": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    }
    assert "GeoBasis-DE / BKG" in doc["dct:source"]
    formats = {d["dcat:mediaType"] for d in doc["dcat:distribution"]}
    assert {"application/geo+json", "text/csv", "application/geopackage+sqlite3"} <= formats
    assert doc["dct:modified"]["@value"]


def test_data_license_is_configurable(instance):
    app = create_app({"TESTING": True, "DATA_LICENSE": "Lizenz nach Absprache"})
    get_store(app).create_schema()
    doc = json.loads(app.test_client().get("/ogc/dataset.jsonld").get_data())
    assert doc["dct:license"] == {"dct:title": "Lizenz nach Absprache"}
    assert doc["dcat:distribution"][0]["dct:license"] == {"dct:title": "Lizenz nach Absprache"}
