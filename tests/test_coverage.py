"""Coverage for the regional offices, on a store small enough to check every figure by hand.

Five published projects lie in the region Lüneburg, one pending one too (never counted), and one
in the neighbouring Region Hannover that still serves municipalities across the border:

| project | district | fields |
| --- | --- | --- |
| Sprachtreff Winsen | Harburg 03353 | sprache |
| Nachbarschaft Buchholz | Harburg 03353 | sprache, teilhabe |
| Werkstatt Lüneburg | Lüneburg 03355 | arbeit-ausbildung |
| Sprachcafé Celle | Celle 03351 | sprache |
| Ehrenamt Stade | Stade 03359 | engagement |
| (pending) Uelzen | Uelzen 03360 | sprache |
| Sprachkurs Wedemark | Region Hannover 03241 (Leine-Weser) | sprache |

Populations (Destatis, 31.12.2018): Harburg 252,776; Celle 178,936; Lüneburg 183,372;
Stade 203,102; the region 1,710,914.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re

import numpy as np
import pytest
from geopy.distance import geodesic
from pyproj import Geod, Transformer

from atlas.core import coverage
from atlas.core.fields import FIELDS
from atlas.core.projects import clean_record
from atlas.geo import regions
from atlas.geo.geocoding import GAZETTEER_FILE
from atlas.web import charts
from atlas.web.assets import remote_urls
from atlas.web.extensions import get_store

PROJECTS = [
    {
        "id": "winsen",
        "name": "Sprachtreff Winsen",
        "fields": "sprache",
        "lat": 53.357,
        "lon": 10.212,
    },
    {
        "id": "buchholz",
        "name": "Nachbarschaft Buchholz",
        "fields": "sprache;teilhabe",
        "lat": 53.3285,
        "lon": 9.8621,
    },
    {
        "id": "lueneburg",
        "name": "Werkstatt Lüneburg",
        "fields": "arbeit-ausbildung",
        "lat": 53.2464,
        "lon": 10.4115,
    },
    {
        "id": "celle",
        "name": "Sprachcafé Celle",
        "fields": "sprache",
        "lat": 52.6226,
        "lon": 10.0805,
    },
    {
        "id": "stade",
        "name": "Ehrenamt Stade",
        "fields": "engagement",
        "lat": 53.5976,
        "lon": 9.4757,
    },
    {
        "id": "uelzen",
        "name": "Wartet noch Uelzen",
        "fields": "sprache",
        "lat": 52.965,
        "lon": 10.558,
        "status": "pending",
    },
    {
        "id": "wedemark",
        "name": "Sprachkurs Wedemark",
        "fields": "sprache",
        "lat": 52.59,
        "lon": 9.75,
    },
]
LUENEBURG_DISTRICTS = [
    "03351",
    "03352",
    "03353",
    "03354",
    "03355",
    "03356",
    "03357",
    "03358",
    "03359",
    "03360",
    "03361",
]


@pytest.fixture
def client(app):
    store = get_store(app)
    store.create_schema()
    store.save_all([clean_record(p, f"test {i}") for i, p in enumerate(PROJECTS)])
    return app.test_client()


def text(response) -> str:
    """The answer as text; a CSV's byte order mark (tests/test_exports.py) left out."""
    return response.get_data(as_text=True).removeprefix("\ufeff")


def gazetteer_municipalities(region: str) -> list[dict]:
    """The region's municipalities read straight from the committed gazetteer file."""
    with gzip.open(GAZETTEER_FILE, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    return [
        m
        for m in data["municipalities"]
        if regions.district(m["district_code"])["region"] == region
    ]


def published(field: str) -> list[dict]:
    return [
        p
        for p in PROJECTS
        if p.get("status", "published") == "published" and field in p["fields"].split(";")
    ]


# --- the figures ---------------------------------------------------------------------------------


def test_counts_and_per_capita_by_district(client):
    body = client.get("/api/coverage?region=lueneburg").get_json()
    assert body["region"] == "lueneburg" and body["region_name"] == "Lüneburg"
    rows = {d["district_code"]: d for d in body["districts"]}
    assert list(rows) == LUENEBURG_DISTRICTS  # all eleven, in key order, none elsewhere
    harburg = rows["03353"]
    assert harburg["district"] == "Harburg" and harburg["population"] == 252_776
    assert harburg["projects"] == 2
    assert harburg["by_field"] == {
        "sprache": 2,
        "arbeit-ausbildung": 0,
        "wohnen-leben": 0,
        "engagement": 0,
        "teilhabe": 1,
    }
    assert harburg["projects_per_100k"] == 0.79  # 2 / 252,776 × 100,000 = 0.791
    assert harburg["by_field_per_100k"]["teilhabe"] == 0.40  # 1 / 252,776 × 100,000 = 0.396
    assert (rows["03351"]["projects"], rows["03351"]["projects_per_100k"]) == (1, 0.56)
    assert (rows["03355"]["projects"], rows["03355"]["projects_per_100k"]) == (1, 0.55)
    assert (rows["03359"]["projects"], rows["03359"]["projects_per_100k"]) == (1, 0.49)
    # The pending project in Uelzen is not counted; nor is the one in the Region Hannover.
    assert rows["03360"]["projects"] == 0 and rows["03360"]["projects_per_100k"] == 0.0
    total = body["total"]
    assert total["population"] == 1_710_914
    assert total["projects"] == 5  # Buchholz counts once, in two fields
    assert total["by_field"]["sprache"] == 3
    assert total["projects_per_100k"] == 0.29  # 5 / 1,710,914 × 100,000 = 0.292
    assert "GeoBasis-DE / BKG" in body["attribution"] and "Destatis" in body["attribution"]


def test_gaps_list_every_district_without_a_project_in_a_field(client):
    body = client.get("/api/coverage?region=lueneburg").get_json()
    found = {}
    for gap in body["gaps"]:
        found.setdefault(gap["field"], set()).add(gap["district_code"])
    everything = set(LUENEBURG_DISTRICTS)
    assert found == {
        "sprache": everything - {"03353", "03351"},
        "arbeit-ausbildung": everything - {"03355"},
        "wohnen-leben": everything,
        "engagement": everything - {"03359"},
        "teilhabe": everything - {"03353"},
    }
    assert len(body["gaps"]) == 9 + 10 + 11 + 10 + 10
    cuxhaven = next(g for g in body["gaps"] if g["district_code"] == "03352")
    assert (
        cuxhaven["district"] == "Cuxhaven" and cuxhaven["field_label"] == FIELDS[cuxhaven["field"]]
    )


@pytest.mark.parametrize("distance", [15, 7.5, 40])
def test_white_spots_match_an_independent_geodesic_computation(client, distance):
    body = client.get(
        f"/api/coverage?region=lueneburg&field=sprache&distance_km={distance}"
    ).get_json()
    spots = body["white_spots"]
    munis = gazetteer_municipalities("lueneburg")
    targets = [(p["lat"], p["lon"]) for p in published("sprache")]
    assert len(targets) == 4  # Winsen, Buchholz, Celle and Wedemark (pending: no)
    nearest = {m["ags"]: min(geodesic((m["lat"], m["lon"]), t).km for t in targets) for m in munis}
    expected = {ags for ags, km in nearest.items() if km > distance}
    assert {s["ags"] for s in spots["items"]} == expected
    for s in spots["items"]:
        assert s["nearest_km"] == pytest.approx(nearest[s["ags"]], abs=0.006), s["name"]
        assert s["nearest_km"] > distance
    assert [s["nearest_km"] for s in spots["items"]] == sorted(
        (s["nearest_km"] for s in spots["items"]), reverse=True
    )  # farthest first
    assert spots["municipalities"] == len(munis)
    assert spots["uncovered"] == len(expected)
    assert spots["share_municipalities"] == round(len(expected) / len(munis), 4)
    population = sum(m["population"] for m in munis)
    uncovered = sum(m["population"] for m in munis if m["ags"] in expected)
    assert (spots["population"], spots["uncovered_population"]) == (population, uncovered)
    assert spots["share_population"] == round(uncovered / population, 4)
    assert 0 < spots["uncovered"] < spots["municipalities"]


def test_a_project_across_the_region_border_serves_the_municipalities_near_it(client):
    spots = client.get("/api/coverage?region=lueneburg&field=sprache&distance_km=100").get_json()[
        "white_spots"
    ]
    assert spots["uncovered"] == 0
    wietze = next(m for m in gazetteer_municipalities("lueneburg") if m["name"] == "Wietze")
    to_wedemark = geodesic((wietze["lat"], wietze["lon"]), (52.59, 9.75)).km
    to_celle = geodesic((wietze["lat"], wietze["lon"]), (52.6226, 10.0805)).km
    assert to_wedemark < to_celle
    # Between the two distances Wietze is no white spot, thanks to the project in Wedemark.
    distance = (to_wedemark + to_celle) / 2
    spots = client.get(
        f"/api/coverage?region=lueneburg&field=sprache&distance_km={distance:.3f}"
    ).get_json()["white_spots"]
    assert "Wietze" not in {s["name"] for s in spots["items"]}
    csv_text = text(
        client.get(
            f"/regionen/lueneburg/weisse-flecken.csv?field=sprache&distance_km={distance:.3f}"
        )
    )
    row = next(r for r in csv.DictReader(io.StringIO(csv_text)) if r["municipality"] == "Wietze")
    assert row["nearest_project"] == "wedemark" and row["white_spot"] == "false"
    assert float(row["nearest_km"]) == pytest.approx(to_wedemark, abs=0.001)


def test_without_any_project_of_the_field_every_municipality_is_a_white_spot(client):
    spots = client.get("/api/coverage?region=lueneburg&field=wohnen-leben").get_json()[
        "white_spots"
    ]
    assert spots["uncovered"] == spots["municipalities"] > 300
    assert spots["share_municipalities"] == 1.0 and spots["share_population"] == 1.0
    assert all(s["nearest_km"] is None and s["nearest_project"] is None for s in spots["items"])


def test_nearest_is_the_exact_geodesic_nearest_where_sphere_or_map_plane_disagree():
    geod = Geod(ellps="WGS84")
    to_plane = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)  # UTM 32N
    lat, lon = 52.0, 10.5

    def sphere(la, lo):
        return math.acos(
            math.sin(math.radians(lat)) * math.sin(math.radians(la))
            + math.cos(math.radians(lat))
            * math.cos(math.radians(la))
            * math.cos(math.radians(lo - lon))
        )

    def plane(la, lo):
        (x0, x1), (y0, y1) = to_plane.transform([lon, lo], [lat, la])
        return math.hypot(x1 - x0, y1 - y0)

    # North 100 km versus east 100.1 km: nearer east on a sphere (the ellipsoid's east-west
    # radius of curvature is the larger one), nearer north on the ellipsoid.
    a_lon, a_lat, _ = geod.fwd(lon, lat, 0, 100_000)
    b_lon, b_lat, _ = geod.fwd(lon, lat, 90, 100_100)
    assert sphere(b_lat, b_lon) < sphere(a_lat, a_lon)  # the trap is real
    distance, index = coverage.nearest([lat], [lon], [b_lat, a_lat], [b_lon, a_lon])
    assert index.tolist() == [1] and distance[0] == pytest.approx(100.0, abs=1e-6)
    # East 100 km versus west 100.01 km: UTM stretches more away from 9° E, so the map plane
    # calls west nearer, by more than 10 m; the ellipsoid says east, by 10 m.
    e_lon, e_lat, _ = geod.fwd(lon, lat, 90, 100_000)
    w_lon, w_lat, _ = geod.fwd(lon, lat, 270, 100_010)
    assert plane(w_lat, w_lon) + 10 < plane(e_lat, e_lon)  # the trap is real
    distance, index = coverage.nearest([lat], [lon], [w_lat, e_lat], [w_lon, e_lon])
    assert index.tolist() == [1] and distance[0] == pytest.approx(100.0, abs=1e-6)


def test_nearest_agrees_with_brute_force_over_many_points():
    rng = np.random.default_rng(5)
    lats, lons = rng.uniform(51.3, 53.9, 300), rng.uniform(6.7, 11.6, 300)
    tl, tn = rng.uniform(51.3, 53.9, 9000), rng.uniform(6.7, 11.6, 9000)
    distance, index = coverage.nearest(lats, lons, tl, tn)
    geod = Geod(ellps="WGS84")
    for i in range(0, 300, 3):
        _, _, metres = geod.inv(np.full(tl.size, lons[i]), np.full(tl.size, lats[i]), tn, tl)
        assert distance[i] == pytest.approx(metres.min() / 1000, abs=1e-9)
        assert metres[index[i]] == metres.min()
    empty_d, empty_i = coverage.nearest(lats[:2], lons[:2], [], [])
    assert np.isinf(empty_d).all() and (empty_i == -1).all()


def test_a_new_project_shows_at_once(app, client):
    """Figures are cached per data version: a change must reach the next request."""
    before = client.get("/api/coverage?region=lueneburg&field=sprache").get_json()
    farthest = before["white_spots"]["items"][0]
    get_store(app).save_all(
        [
            clean_record(
                {
                    "id": "neu",
                    "name": "Neuer Sprachtreff",
                    "fields": "sprache",
                    "lat": farthest["lat"],
                    "lon": farthest["lon"],
                },
                "new",
            )
        ]
    )
    after = client.get("/api/coverage?region=lueneburg&field=sprache").get_json()
    assert farthest["ags"] not in {s["ags"] for s in after["white_spots"]["items"]}
    assert after["white_spots"]["uncovered"] < before["white_spots"]["uncovered"]
    assert after["total"]["by_field"]["sprache"] == before["total"]["by_field"]["sprache"] + 1


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "region is missing"),
        ("region=bremen", "unknown region 'bremen'"),
        ("region=lueneburg&field=kochen", "unknown field 'kochen'"),
        ("region=lueneburg&distance_km=abc", "is not a number"),
        ("region=lueneburg&distance_km=0", "more than 0"),
        ("region=lueneburg&distance_km=-5", "more than 0"),
        ("region=lueneburg&distance_km=101", "at most 100"),
        ("region=lueneburg&distance_km=nan", "more than 0"),
        ("region=lueneburg&distance_km=inf", "more than 0"),
    ],
)
def test_bad_parameters_answer_400_with_a_reason(client, query, message):
    response = client.get(f"/api/coverage?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_decimal_comma_is_understood(client):
    body = client.get("/api/coverage?region=lueneburg&field=sprache&distance_km=12,5").get_json()
    assert body["distance_km"] == 12.5 and body["white_spots"]["distance_km"] == 12.5


@pytest.mark.parametrize(
    "value, digits, expected",
    [
        (1_710_914, 0, "1.710.914"),
        (252_776, 0, "252.776"),
        (999, 0, "999"),
        (0, 0, "0"),
        (12.5, 1, "12,5"),
        (0.79, 2, "0,79"),
        (1234.5, 1, "1.234,5"),
        (2.5, 1, "2,5"),
        # Rounded as Python rounds the float itself: 1.85 and 0.05 lie a hair above the half.
        (1.85, 1, "1,9"),
        (0.05, 1, "0,1"),
        (0.125, 2, "0,12"),
        (None, 0, "–"),
    ],
)
def test_german_numbers(value, digits, expected):
    assert charts.de_number(value, digits) == expected


def test_german_rates_and_shares():
    assert [charts.de_rate(v) for v in (0.0, 0.05, 0.4, 1.0, 12.34)] == [
        "0,0",
        "0,05",
        "0,40",
        "1,0",
        "12,3",
    ]
    assert charts.de_percent(0.1234) == "12,3 %"
    assert charts.project_words(1) == "1 Projekt"
    assert charts.project_words(1200) == "1.200 Projekte"


# --- the pages -----------------------------------------------------------------------------------


def test_overview_lists_the_four_regions_with_counts_and_per_capita(client):
    response = client.get("/regionen")
    assert response.status_code == 200
    html = text(response)
    rows = dict(re.findall(r'<tr data-region="([a-z-]+)">(.*?)</tr>', html, re.S))
    assert list(rows) == list(regions.REGIONS)
    assert 'href="/regionen/lueneburg"' in rows["lueneburg"]
    # Lüneburg: 5 projects, 0.29 per 100,000; Leine-Weser: the one in Wedemark of 2,149,805.
    assert re.search(r'data-value="5">5</td>\s*<td data-value="0.29">0,29</td>', rows["lueneburg"])
    assert re.search(
        r'data-value="1">1</td>\s*<td data-value="0.05">0,05</td>', rows["leine-weser"]
    )
    assert re.search(r'data-value="0">0</td>', rows["braunschweig"])
    assert "GeoBasis-DE / BKG" in html and "Destatis" in html
    assert remote_urls(html) == []
    assert 'aria-current="page">Regionen</a>' in html


def test_region_page_shows_map_table_gaps_white_spots_chart_and_downloads(client):
    response = client.get("/regionen/lueneburg?field=sprache")
    assert response.status_code == 200
    html = text(response)
    assert 'class="folium-map"' in html and remote_urls(html) == []
    assert 'data-clusters="/api/clusters?region=lueneburg&amp;field=sprache"' in html
    # The choropleth's legend and the switch name the chosen field.
    assert "Projekte je 100.000 Einwohner – Sprache" in html
    assert re.search(r'data-field="sprache" aria-current="true">Sprache</a>', html)
    # Table row of Harburg: 252.776 inhabitants, 2 projects, 0,79 per 100,000; 2 in Sprache.
    harburg = re.search(r'<tr data-district="03353">(.*?)</tr>', html, re.S).group(1)
    assert "252.776" in harburg and 'data-value="2">2</td>' in harburg
    assert 'data-value="0.79">0,79</td>' in harburg
    assert re.search(r'data-field="sprache" data-value="2">2', harburg)
    wohnen = re.search(r'class="cov-gap" data-field="wohnen-leben" data-value="0">0', harburg)
    assert wohnen, "a zero is marked as a gap"
    # Gaps: Wohnen & Leben is missing in every district.
    gaps = re.search(r'<dl class="cov-gaps" id="gaps">(.*?)</dl>', html, re.S).group(1)
    assert re.search(
        r"<dt>Wohnen &amp; Leben</dt><dd>Celle, Cuxhaven, Harburg, .*Verden</dd>", gaps
    )
    # White spots at 15 km, with their count and share.
    spots = client.get("/api/coverage?region=lueneburg&field=sprache").get_json()["white_spots"]
    assert f'data-uncovered="{spots["uncovered"]}"' in html
    share = f"{spots['share_municipalities'] * 100:.1f}".replace(".", ",") + " %"
    assert share in html
    first = spots["items"][0]
    assert f'<tr data-ags="{first["ags"]}"><th scope="row">{first["name"]}</th>' in html
    # The chart has one bar per district and names its numbers.
    assert html.count('<g class="bar">') == 11
    assert "Harburg – Sprache: 2 Projekte, 0,79 je 100.000 Einw." in html
    for link in (
        "/regionen/lueneburg/kreise.csv",
        "/regionen/lueneburg/luecken.csv",
        "/regionen/lueneburg/weisse-flecken.csv?field=sprache",
        "/regionen/lueneburg/projekte.geojson",
        "/regionen/lueneburg/projekte.csv",
    ):
        assert f'href="{link}"' in html
    assert "GeoBasis-DE / BKG" in html and "Destatis" in html and "GeoNames" in html


def test_the_table_sorts_by_any_column_both_ways(client):
    def order(query):
        html = text(client.get(f"/regionen/lueneburg?{query}"))
        return re.findall(r'<tr data-district="(\d+)">', html)

    assert order("") == LUENEBURG_DISTRICTS
    by_projects = order("sort=projects")
    assert by_projects[0] == "03353" and set(by_projects[1:4]) == {"03351", "03355", "03359"}
    assert order("sort=projects&order=asc")[-1] == "03353"
    assert order("sort=population&order=desc")[:2] == ["03353", "03359"]
    assert order("sort=name")[:3] == ["03351", "03352", "03353"]  # Celle, Cuxhaven, Harburg
    assert order("sort=engagement")[0] == "03359"
    html = text(client.get("/regionen/lueneburg?sort=projects"))
    assert re.search(
        r'aria-sort="descending">\s*'
        r'<a href="/regionen/lueneburg\?sort=projects&amp;order=asc#table-heading"',
        html,
    )  # the sorted page opens at the table, not at its top
    assert 'id="table-heading"' in html
    assert client.get("/regionen/lueneburg?sort=kochen").status_code == 400


def test_bad_page_parameters_explain_themselves_in_german(client):
    response = client.get("/regionen/lueneburg?distance_km=abc")
    assert response.status_code == 400 and "ist keine Zahl" in text(response)
    assert client.get("/regionen/lueneburg?field=kochen").status_code == 400
    assert client.get("/regionen/bremen").status_code == 404
    assert client.get("/regionen/bremen/kreise.csv").status_code == 404


def test_downloads(client):
    table = list(csv.DictReader(io.StringIO(text(client.get("/regionen/lueneburg/kreise.csv")))))
    assert [r["district_code"] for r in table] == LUENEBURG_DISTRICTS
    harburg = table[2]
    assert (harburg["district"], harburg["population"], harburg["projects"]) == (
        "Harburg",
        "252776",
        "2",
    )
    assert (harburg["projects_per_100k"], harburg["sprache"], harburg["teilhabe_per_100k"]) == (
        "0.79",
        "2",
        "0.4",
    )
    gaps = list(csv.DictReader(io.StringIO(text(client.get("/regionen/lueneburg/luecken.csv")))))
    assert len(gaps) == 50 and {"field", "district_code", "district"} <= gaps[0].keys()
    response = client.get("/regionen/lueneburg/weisse-flecken.csv?field=sprache&distance_km=20")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert len(rows) == len(gazetteer_municipalities("lueneburg"))
    spots = client.get("/api/coverage?region=lueneburg&field=sprache&distance_km=20").get_json()
    assert {r["ags"] for r in rows if r["white_spot"] == "true"} == {
        s["ags"] for s in spots["white_spots"]["items"]
    }
    geo = client.get("/regionen/lueneburg/projekte.geojson")
    assert geo.mimetype == "application/geo+json"
    features = geo.get_json()["features"]
    assert sorted(f["properties"]["id"] for f in features) == [
        "buchholz",
        "celle",
        "lueneburg",
        "stade",
        "winsen",
    ]
    projects = list(
        csv.DictReader(io.StringIO(text(client.get("/regionen/lueneburg/projekte.csv"))))
    )
    assert sorted(p["name"] for p in projects) == sorted(
        p["name"]
        for p in PROJECTS
        if p["id"] in {"buchholz", "celle", "lueneburg", "stade", "winsen"}
    )


def test_one_field_switch_and_both_populations_explained_where_they_stand(client):
    html = text(client.get("/regionen/lueneburg?field=sprache&distance_km=10"))
    assert html.count('class="field-switch"') == 1
    form = re.search(r'<form class="coverage-form".*?</form>', html, re.S).group(0)
    assert "<select" not in form  # the field is chosen once, in the switch above
    assert '<input type="hidden" name="field" value="sprache">' in form
    assert 'href="/regionen/lueneburg?field=teilhabe&amp;distance_km=10"' in html  # keeps km
    lead = re.search(r'<p class="cov-lead">(.*?)</p>', html, re.S).group(1)
    assert "1.710.914 Einwohner (amtliche Zahl, Destatis, Stand 31.12.2018)" in lead
    note = re.search(r'<p class="cov-source" id="population-note">(.*?)</p>', html, re.S).group(1)
    assert "nach GeoNames, eine Näherung" in note and "1.710.914, Destatis" in note
    overview = text(client.get("/regionen"))
    assert "amtliche Zahl, Destatis, Stand 31.12.2018" in overview


def test_a_region_on_the_overview_map_links_to_its_page(client):
    html = text(client.get("/regionen?field=sprache"))
    for slug in regions.REGIONS:
        assert f'"url": "/regionen/{slug}?field=sprache"' in html
