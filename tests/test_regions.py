"""Districts, ArL regions and point assignment against the committed data/regions files."""

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from atlas.geo import regions
from atlas.geo.regions import ATTRIBUTION, REGIONS, district, districts, locate, locate_one

REGION_COUNTS = {"braunschweig": 10, "leine-weser": 7, "lueneburg": 11, "weser-ems": 17}

# (place, lat, lon, district code, region slug)
PLACES = [
    ("Hannover", 52.3705, 9.7332, "03241", "leine-weser"),
    ("Winsen (Luhe)", 53.3578, 10.2116, "03353", "lueneburg"),
    ("Winsen (Aller)", 52.6837, 9.9095, "03351", "lueneburg"),
    ("Meppen", 52.6906, 7.2910, "03454", "weser-ems"),
    ("Salzgitter", 52.1571, 10.4154, "03102", "braunschweig"),
    ("Göttingen", 51.5344, 9.9323, "03159", "braunschweig"),
    ("Osterode am Harz", 51.73, 10.25, "03159", "braunschweig"),
    ("Osnabrück city", 52.2799, 8.0472, "03404", "weser-ems"),
    ("Oldenburg (Oldb)", 53.1435, 8.2146, "03403", "weser-ems"),
    ("Cuxhaven", 53.8683, 8.6990, "03352", "lueneburg"),
]
ISLANDS = [
    ("Borkum", 53.5809, 6.6915, "03457"),
    ("Juist", 53.6779, 6.9958, "03452"),
    ("Norderney", 53.7080, 7.1572, "03452"),
    ("Baltrum", 53.7284, 7.3714, "03452"),
    ("Langeoog", 53.7455, 7.4818, "03462"),
    ("Spiekeroog", 53.7701, 7.6948, "03462"),
    ("Wangerooge", 53.7896, 7.8975, "03455"),
]
OUTSIDE = [
    ("Bremen", 53.0758, 8.8072),
    ("Bremerhaven", 53.5536, 8.5755),
    ("Hamburg", 53.5507, 9.9930),
    ("open North Sea", 54.2, 7.0),
    ("Berlin", 52.5244, 13.4105),
]


def test_45_districts_with_unique_keys_and_names():
    frame = districts()
    assert len(frame) == 45
    assert frame.district_code.is_unique and frame.name.is_unique
    assert all(len(c) == 5 and c.startswith("03") for c in frame.district_code)
    assert set(frame.kind) == {"Landkreis", "Region", "Kreisfreie Stadt"}
    assert (frame.kind == "Kreisfreie Stadt").sum() == 8


def test_region_counts_and_slug_from_third_digit():
    frame = districts()
    assert frame.groupby("region").size().to_dict() == REGION_COUNTS
    digit = {"1": "braunschweig", "2": "leine-weser", "3": "lueneburg", "4": "weser-ems"}
    assert all(digit[c[2]] == r for c, r in zip(frame.district_code, frame.region))
    assert all(REGIONS[r]["name"] == n for r, n in zip(frame.region, frame.region_name))


def test_goettingen_is_merged_with_osterode():
    assert district("03159")["name"] == "Göttingen"
    assert district("03159")["nuts3"] == "DE91C"
    assert district("03152") is None and district("03156") is None
    assert locate_one(51.73, 10.25)["district_code"] == "03159"


def test_district_record_and_names_people_recognise():
    hannover = district("03241")
    assert hannover == {
        "code": "03241",
        "name": "Region Hannover",
        "kind": "Region",
        "nuts3": "DE929",
        "population": hannover["population"],
        "area_km2": hannover["area_km2"],
        "region": "leine-weser",
        "region_name": "Leine-Weser",
    }
    assert hannover["population"] > 1_000_000 and 2000 < hannover["area_km2"] < 2500
    # A city and a Landkreis of the same place must not look alike.
    assert district("03404")["name"] == "Osnabrück (Stadt)"
    assert district("03459")["name"] == "Landkreis Osnabrück"
    assert district("03403")["name"] == "Oldenburg (Oldb)"
    assert district("03458")["name"] == "Landkreis Oldenburg"
    assert district("99999") is None


@pytest.mark.parametrize("place,lat,lon,code,region", PLACES)
def test_known_places(place, lat, lon, code, region):
    result = locate_one(lat, lon)
    assert result["district_code"] == code, place
    assert result["region"] == region
    assert result["district"] == district(code)["name"]


@pytest.mark.parametrize("island,lat,lon,code", ISLANDS)
def test_east_frisian_islands_stay_in_their_district(island, lat, lon, code):
    assert locate_one(lat, lon)["district_code"] == code, island


@pytest.mark.parametrize("place,lat,lon", OUTSIDE)
def test_points_outside_lower_saxony_are_not_snapped(place, lat, lon):
    assert locate_one(lat, lon) == {
        "lat": lat,
        "lon": lon,
        "district_code": None,
        "district": None,
        "region": None,
        "region_name": None,
        "error": "outside Lower Saxony",
    }


def test_locate_one_contract_inside():
    assert locate_one(52.3705, 9.7332) == {
        "lat": 52.3705,
        "lon": 9.7332,
        "district_code": "03241",
        "district": "Region Hannover",
        "region": "leine-weser",
        "region_name": "Leine-Weser",
    }


def test_locate_on_arrays_matches_locate_one():
    rows = [(lat, lon) for _, lat, lon, *_ in PLACES + ISLANDS] + [
        (lat, lon) for _, lat, lon in OUTSIDE
    ]
    lats, lons = np.array(rows).T
    codes = locate(lats, lons)
    assert codes.dtype == object and codes.shape == (len(rows),)
    assert list(codes) == [locate_one(lat, lon)["district_code"] for lat, lon in rows]
    assert list(locate(52.3705, 9.7332)) == ["03241"]
    assert locate(lats.reshape(-1, 1), lons.reshape(-1, 1)).shape == (len(rows), 1)


def _sjoin_codes(lat, lon):
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(
        points, districts()[["district_code", "geometry"]], how="left", predicate="within"
    )
    return [c if isinstance(c, str) else None for c in joined.district_code]


def test_locate_agrees_with_sjoin_on_random_points():
    xmin, ymin, xmax, ymax = districts().total_bounds
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(xmin, xmax, 20_000), rng.uniform(ymin, ymax, 20_000)
    expected = _sjoin_codes(lat, lon)
    assert list(locate(lat, lon)) == expected
    assert 0.3 < np.mean([c is not None for c in expected]) < 0.7


def test_locate_agrees_with_sjoin_close_to_boundaries():
    """Points a few hundred metres around boundary vertices, where the grid must defer to the polygons."""
    vertices = shapely.get_coordinates(districts().boundary.values)
    rng = np.random.default_rng(11)
    picked = vertices[rng.integers(0, len(vertices), 30_000)]
    lon = picked[:, 0] + rng.normal(0, 0.004, len(picked))
    lat = picked[:, 1] + rng.normal(0, 0.003, len(picked))
    expected = _sjoin_codes(lat, lon)
    assert list(locate(lat, lon)) == expected


@pytest.mark.parametrize(
    "lat,lon",
    [
        (math.nan, 9.7),
        (52.4, math.inf),
        (91, 9.7),
        (52.4, 181),
        (-90.5, 0),
        ("abc", 9.7),
        (None, 9.7),
    ],
)
def test_invalid_coordinates_raise(lat, lon):
    with pytest.raises(ValueError):
        locate_one(lat, lon)


def test_invalid_coordinate_in_array_raises():
    with pytest.raises(ValueError, match="index 1"):
        locate([52.4, math.nan], [9.7, 9.7])


def test_regions_file():
    frame = regions.regions()
    assert sorted(frame.region) == sorted(REGIONS)
    by_slug = frame.set_index("region")
    assert by_slug.district_count.to_dict() == REGION_COUNTS
    assert by_slug.loc["weser-ems", "name"] == "Weser-Ems"
    assert by_slug.loc["weser-ems", "office"] == "Amt für regionale Landesentwicklung Weser-Ems"
    assert by_slug.population.sum() == districts().population.sum()
    # Regions are dissolved districts: same total area, each a region of its own districts.
    district_area = shapely.area(districts().geometry.values).sum()
    assert shapely.area(frame.geometry.values).sum() == pytest.approx(district_area, rel=1e-6)
    hannover = shapely.Point(9.7332, 52.3705)
    assert by_slug.geometry.contains(hannover).to_dict() == {
        "braunschweig": False,
        "leine-weser": True,
        "lueneburg": False,
        "weser-ems": False,
    }


def test_districts_form_a_clean_coverage():
    geoms = districts().geometry.values
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # neighbours share borders, no overlaps


def test_data_files_are_small_and_plain_geojson():
    files = list(regions.REGIONS_DIR.iterdir())
    assert {f.name for f in files} >= {"districts.geojson", "regions.geojson"}
    assert sum(f.stat().st_size for f in files) < 3_000_000
    doc = json.loads((regions.REGIONS_DIR / "districts.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 45
    assert set(doc["features"][0]["properties"]) == {
        "district_code",
        "name",
        "kind",
        "nuts3",
        "population",
        "area_km2",
        "region",
        "region_name",
    }


def test_attribution_names_both_sources():
    assert "© GeoBasis-DE / BKG" in ATTRIBUTION and "GeoNutzV" in ATTRIBUTION
    assert "Destatis" in ATTRIBUTION and "CC BY 4.0" in ATTRIBUTION
