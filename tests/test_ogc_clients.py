"""OGC API – Features with clients nobody here wrote, against a real `atlas serve`: owslib's
`Features`, GDAL's OAPIF driver through pyogrio, and pyproj for the EPSG:25832 coordinates.

The instance holds the curated projects and 1,500 synthetic ones (atlas.core.demo), so paging
takes several pages. Runs on SQLite and, in the PostgreSQL pass, on PostGIS (the `server`
fixture uses the test database). With Debian's QGIS installed (python3-qgis), QGIS's own
OAPIF provider opens the layers too.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from pyproj import Transformer
from sqlalchemy import and_, func, select

from atlas.geo import regions
from atlas.search import has_field
from atlas.store import Project, Store
from tests.support.accessibility import PHONE, assert_no_sideways_scroll, axe_violations, describe
from tests.support.live_server import atlas_env, database_url, free_port, run_atlas, served

owslib_features = pytest.importorskip("owslib.ogcapi.features")
pyogrio = pytest.importorskip("pyogrio")

SYNTHETIC = 1500
UTM32 = "http://www.opengis.net/def/crs/EPSG/0/25832"
#: A box around Hannover (CRS84).
BOX = (9.5, 52.2, 10.0, 52.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    env = atlas_env(
        tmp_path_factory.mktemp("ogc-instance"),
        ATLAS_RATELIMIT_ENABLED="0",
        ATLAS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    run_atlas(["init"], env, check=True)
    run_atlas(["demo-data", "--count", str(SYNTHETIC), "--seed", "3"], env, check=True)
    store = Store(database_url(env))
    with served(env, port=port, probe="/ogc/") as (_proc, base):
        yield {"base": base, "ogc": base + "/ogc", "store": store}
    store.engine.dispose()


def _count(store: Store, *conditions) -> int:
    with store.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(Project)
            .where(and_(Project.status == "published", *conditions))
        )


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _all_pages(api, collection: str, **params) -> tuple[list[dict], int]:
    """Every feature by following `next` links, as a client does; and the first numberMatched."""
    page = api.collection_items(collection, **params)
    matched = page["numberMatched"]
    features = list(page["features"])
    while nxt := [link for link in page["links"] if link["rel"] == "next"]:
        query = dict(parse_qsl(urlsplit(nxt[0]["href"]).query))
        page = api.collection_items(collection, **query)
        features += page["features"]
    return features, matched


def test_owslib_reads_the_service(server):
    api = owslib_features.Features(server["ogc"] + "/")
    conformance = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == ["projects", "regions", "districts", "municipalities"]

    total = _count(server["store"])
    assert total > SYNTHETIC
    features, matched = _all_pages(api, "projects", limit=500)
    assert matched == total
    assert len(features) == total
    assert len({f["id"] for f in features}) == total  # every project once, none twice

    boxed, matched = _all_pages(api, "projects", bbox=list(BOX), limit=200)
    inside = _count(
        server["store"], Project.lon.between(BOX[0], BOX[2]), Project.lat.between(BOX[1], BOX[3])
    )
    assert matched == len(boxed) == inside > 0
    for f in boxed:
        lon, lat = f["geometry"]["coordinates"]
        assert BOX[0] <= lon <= BOX[2] and BOX[1] <= lat <= BOX[3]

    weser_ems, matched = _all_pages(api, "projects", region="weser-ems", field="sprache")
    expected = _count(
        server["store"],
        Project.region == "weser-ems",
        has_field("sprache"),
    )
    assert matched == len(weser_ems) == expected > 0
    assert all(
        f["properties"]["region"] == "weser-ems" and "sprache" in f["properties"]["fields"]
        for f in weser_ems
    )

    one = api.collection_item("projects", features[0]["id"])
    assert one["id"] == features[0]["id"]
    assert one["properties"]["name"] == features[0]["properties"]["name"]


def test_gdal_reads_every_layer(server):
    source = f"OAPIF:{server['ogc']}/"
    layers = [name for name, _geometry in pyogrio.list_layers(source)]
    assert set(layers) == {"projects", "regions", "districts", "municipalities"}

    total = _count(server["store"])
    frame = pyogrio.read_dataframe(source, layer="projects", PAGE_SIZE=500)
    assert len(frame) == total

    weser_ems = pyogrio.read_dataframe(
        source, layer="projects", where="region = 'weser-ems'", PAGE_SIZE=500
    )
    assert len(weser_ems) == _count(server["store"], Project.region == "weser-ems") > 0
    assert set(weser_ems["region"]) == {"weser-ems"}

    info = pyogrio.read_info(source, layer="districts")
    assert info["geometry_type"] in ("MultiPolygon", "Polygon")
    assert info["features"] == 45
    types = dict(zip(info["fields"], info["dtypes"]))
    for column in ("projects_per_100k", "sprache_per_100k", "arbeit_ausbildung_per_100k"):
        assert types[column] == "float64", (column, types[column])
    assert types["population"] in ("int32", "int64")
    districts = pyogrio.read_dataframe(source, layer="districts")
    assert districts["projects"].sum() == total  # every project lies in one district

    # GDAL asks for EPSG:25832 itself (Part 2) and gets the same polygons as pyproj makes.
    utm = pyogrio.read_dataframe(source, layer="districts", CRS="EPSG:25832")
    assert utm.crs.to_epsg() == 25832
    expected = regions.districts().set_index("district_code").to_crs("EPSG:25832").geometry
    got = utm.set_index("district_code").geometry
    for code in ("03101", "03241", "03452"):
        assert np.allclose(got[code].bounds, expected[code].bounds, atol=0.05), code


def test_utm32_output_matches_pyproj(server):
    status, headers, body = _get(f"{server['ogc']}/collections/projects/items?limit=50&crs={UTM32}")
    assert status == 200
    assert headers["Content-Crs"] == f"<{UTM32}>"
    projected = json.loads(body)["features"]
    _, _, body = _get(f"{server['ogc']}/collections/projects/items?limit=50")
    plain = {f["id"]: f["geometry"]["coordinates"] for f in json.loads(body)["features"]}
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    lons, lats = np.array([plain[f["id"]] for f in projected]).T
    east, north = to_utm.transform(lons, lats)
    got = np.array([f["geometry"]["coordinates"] for f in projected])
    assert np.abs(got[:, 0] - east).max() < 0.02
    assert np.abs(got[:, 1] - north).max() < 0.02
    assert 300_000 < got[:, 0].min() and got[:, 0].max() < 700_000  # Lower Saxony in UTM 32N

    # EPSG:4326 has latitude first.
    _, _, body = _get(
        f"{server['ogc']}/collections/projects/items?limit=5"
        "&crs=http://www.opengis.net/def/crs/EPSG/0/4326"
    )
    for f in json.loads(body)["features"]:
        lat, lon = f["geometry"]["coordinates"]
        assert plain[f["id"]] == pytest.approx([lon, lat], abs=1e-6)

    # A bbox in EPSG:25832 selects what the same box in degrees selects, near enough.
    (x0, x1), (y0, y1) = to_utm.transform([BOX[0], BOX[2]], [BOX[1], BOX[3]])
    _, _, body = _get(
        f"{server['ogc']}/collections/projects/items?limit=1"
        f"&bbox={min(x0, x1)},{min(y0, y1)},{max(x0, x1)},{max(y0, y1)}&bbox-crs={UTM32}"
    )
    assert json.loads(body)["numberMatched"] > 0


def test_http_caching_and_cors(server):
    url = f"{server['ogc']}/collections/districts/items?limit=3"
    status, headers, _ = _get(url)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Content-Type"].startswith("application/geo+json")
    etag = headers["ETag"]
    status, headers, body = _get(url, {"If-None-Match": etag})
    assert status == 304 and body == b""
    # Another page is another answer.
    status, other, _ = _get(url + "&offset=3", {"If-None-Match": etag})
    assert status == 200 and other["ETag"] != etag


#: Run by Debian's QGIS (python3-qgis, the system Python): the layers as QGIS's OAPIF provider
#: sees them, printed as JSON.
QGIS_SCRIPT = """
import json, sys
from qgis.core import QgsApplication, QgsVectorLayer, QgsWkbTypes
app = QgsApplication([], False)
app.initQgis()
seen = {}
for name in ("projects", "districts"):
    layer = QgsVectorLayer(f"url='{sys.argv[1]}' typename='{name}'", name, "OAPIF")
    fields = {f.name(): f.typeName() for f in layer.fields()}
    seen[name] = {
        "valid": layer.isValid(),
        "features": sum(1 for _ in layer.getFeatures()),
        "geometry": QgsWkbTypes.displayString(layer.wkbType()),
        "fields": fields,
    }
layer = QgsVectorLayer(f"url='{sys.argv[1]}' typename='projects'", "p", "OAPIF")
layer.setSubsetString("region = 'weser-ems'")
seen["weser-ems"] = sum(1 for _ in layer.getFeatures())
app.exitQgis()
print("RESULT " + json.dumps(seen))
"""
SYSTEM_PYTHON = "/usr/bin/python3"


def test_qgis_opens_the_layers(server, tmp_path):
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("QGIS is not installed: apt-get install python3-qgis")
    script = tmp_path / "qgis_layers.py"
    script.write_text(QGIS_SCRIPT)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), server["ogc"] + "/"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)},
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(line[0].removeprefix("RESULT "))
    assert seen["projects"]["valid"] and seen["projects"]["features"] == _count(server["store"])
    assert seen["projects"]["geometry"] == "Point"
    assert seen["districts"]["features"] == 45
    assert seen["districts"]["geometry"] == "MultiPolygon"
    assert seen["districts"]["fields"]["projects_per_100k"] == "Real"
    assert seen["weser-ems"] == _count(server["store"], Project.region == "weser-ems")


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/",
        "/ogc/collections",
        "/ogc/collections/districts",
        "/ogc/collections/projects/items?limit=20",
        "/ogc/collections/districts/items/03241",
        "/ogc/collections/projects/queryables",
        "/ogc/api",
    ],
)
def test_html_views_in_a_browser(browser, server, path):
    """What a browser gets at /ogc/: the German HTML views, accessible (axe-core, WCAG 2.1 AA)
    and without sideways scrolling on a phone."""
    page = browser.new_page(viewport=PHONE, locale="de-DE")
    try:
        answer = page.goto(server["base"] + path)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
        assert page.locator("h1").count() == 1
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        assert_no_sideways_scroll(page, path)
    finally:
        page.close()
