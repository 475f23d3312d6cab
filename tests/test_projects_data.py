"""The curated seed projects and the map file built from them (scripts/build_projects.py)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from atlas.core.fields import FIELDS
from atlas.resources import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent  # the checkout

MAP_FILE = DATA_DIR / "projects.geojson"
CURATED_FILE = DATA_DIR / "projects.curated.json"
PROGRAMMES_FILE = DATA_DIR / "programmes.json"
SEEDS = ROOT.parent / "shared" / "seeds"

#: Projects the seeds describe with a place; each must be on the map.
REQUIRED_IDS = {
    "internationales-cafe-winsen-luhe",
    "unterstuetzerkreis-fluechtlingsunterkuenfte-hannover",
    "freiwilligenagentur-jugend-soziales-sport",
    "integrationslotsen-seelze",
    "solidarisches-osnabrueck",
    "hemminger-netzwerk-fuer-fluechtlinge",
    "gewerkepass-osnabrueck",
    "willkommenskultur-meppen",
    "ich-kann-helfen-goettingen",
    "lebenswege-begleiten-bruchhausen-vilsen",
    "stark-im-beruf-awo-salzgitter",
}
#: Places a careless geocoder gets wrong: a namesake in another district or the other Osnabrück.
EXPECTED_DISTRICT = {
    "internationales-cafe-winsen-luhe": "03353",  # Harburg, not Winsen (Aller) in Celle
    "hemminger-netzwerk-fuer-fluechtlinge": "03241",  # Region Hannover
    "integrationslotsen-seelze": "03241",
    "solidarisches-osnabrueck": "03404",  # the city, not the Landkreis 03459
    "gewerkepass-osnabrueck": "03404",
    "willkommenskultur-meppen": "03454",  # Emsland
    "lebenswege-begleiten-bruchhausen-vilsen": "03251",  # Diepholz
    "stark-im-beruf-awo-salzgitter": "03102",
    "ich-kann-helfen-goettingen": "03159",  # merged district, not the old 03152
    "freiwilligenagentur-jugend-soziales-sport": "03101",
    "unterstuetzerkreis-fluechtlingsunterkuenfte-hannover": "03241",
}
REGION_BY_DIGIT = {"1": "braunschweig", "2": "leine-weser", "3": "lueneburg", "4": "weser-ems"}
PRECISIONS = {"address", "postcode", "municipality", "area"}
PROPERTIES = [
    "id",
    "name",
    "organisation",
    "description",
    "fields",
    "tags",
    "city",
    "postcode",
    "street",
    "website",
    "source",
    "source_date",
    "precision",
    "location_note",
    "district_code",
    "district",
    "region",
]
#: Private persons quoted in the seeds; a quote is not consent to be listed as a contact.
QUOTED_PERSONS = [
    "Dreyer",
    "Kiene",
    "Abdi",
    "Yilmaz",
    "Yapi",
    "Foerster",
    "Peerza",
    "Pfohl",
    "Kessner",
    "Ahmed",
    "Saenger",
]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def collection():
    return _load(MAP_FILE)


@pytest.fixture(scope="module")
def features(collection):
    return collection["features"]


@pytest.fixture(scope="module")
def by_id(features):
    return {f["properties"]["id"]: f for f in features}


@pytest.fixture(scope="module")
def curated():
    return _load(CURATED_FILE)


@pytest.fixture(scope="module")
def programmes():
    return _load(PROGRAMMES_FILE)


def _seed_texts():
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not found at {SEEDS} (CI puts shared/ beside the clone)")
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def _sources(rec) -> list[str]:
    src = rec.get("source")
    return [src] if isinstance(src, str) else list(src or [])


# --- the map file -----------------------------------------------------------------------------


def test_map_file_is_a_feature_collection_of_points(collection, features):
    assert collection["type"] == "FeatureCollection"
    assert features, "the map would be empty"
    for f in features:
        assert f["type"] == "Feature"
        assert f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert 6.5 < lon < 11.7 and 51.2 < lat < 54.0, f["properties"]["id"]
        assert round(lon, 6) == lon and round(lat, 6) == lat
        assert list(f["properties"]) == PROPERTIES


def test_every_required_project_is_on_the_map(by_id):
    assert REQUIRED_IDS - set(by_id) == set()


def test_ids_are_unique_and_sorted(features, curated, programmes):
    ids = [f["properties"]["id"] for f in features]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids), "map file is not sorted by id, rebuilds would not be stable"
    curated_ids = [r["id"] for r in curated]
    assert len(curated_ids) == len(set(curated_ids))
    programme_ids = [r["id"] for r in programmes]
    assert len(programme_ids) == len(set(programme_ids))


def test_every_feature_has_name_description_and_valid_fields(features):
    for f in features:
        p = f["properties"]
        assert p["name"] and p["name"].strip(), p["id"]
        assert p["description"] and len(p["description"].split()) >= 8, p["id"]
        assert p["fields"], f"{p['id']} has no field of action"
        assert set(p["fields"]) <= set(FIELDS), f"{p['id']}: {p['fields']}"
        assert p["precision"] in PRECISIONS, p["id"]


def test_each_point_lies_in_the_district_it_claims(features):
    from atlas.geo import regions

    lats = np.array([f["geometry"]["coordinates"][1] for f in features])
    lons = np.array([f["geometry"]["coordinates"][0] for f in features])
    located = regions.locate(lats, lons)
    for f, code in zip(features, located):
        p = f["properties"]
        assert code == p["district_code"], f"{p['id']} claims {p['district_code']}, lies in {code}"
        assert p["district"] == regions.district(code)["name"], p["id"]


def test_region_matches_third_digit_of_district_key(features):
    for f in features:
        p = f["properties"]
        assert re.fullmatch(r"03\d{3}", p["district_code"]), p["id"]
        assert p["region"] == REGION_BY_DIGIT[p["district_code"][2]], p["id"]


def test_namesakes_land_in_the_right_district(by_id):
    wrong = {
        pid: by_id[pid]["properties"]["district_code"]
        for pid, code in EXPECTED_DISTRICT.items()
        if by_id[pid]["properties"]["district_code"] != code
    }
    assert wrong == {}


def test_statewide_programmes_are_not_map_points(by_id, programmes):
    assert {p["id"] for p in programmes} & set(by_id) == set()
    names = {f["properties"]["name"].casefold() for f in by_id.values()}
    assert {p["name"].casefold() for p in programmes} & names == set()
    for key in ("city", "postcode", "street", "geocode_query", "lat", "lon"):
        assert all(key not in p for p in programmes), f"a programme carries location field {key}"


def test_map_holds_exactly_the_placeable_curated_records(by_id, curated):
    placeable = {r["id"] for r in curated if r["geocode_query"]}
    assert set(by_id) == placeable


def test_unsettled_places_stay_off_the_map_with_a_reason(by_id, curated):
    unsettled = [r for r in curated if not r["geocode_query"]]
    assert {r["id"] for r in unsettled} >= {"nachbarschaft-asendorf", "ichor-harzer-land"}
    for r in unsettled:
        assert r["precision"] == "area" and r["location_note"], r["id"]
        assert r["id"] not in by_id


def test_map_properties_come_from_the_curated_record(by_id, curated):
    for r in curated:
        if r["id"] not in by_id:
            continue
        p = by_id[r["id"]]["properties"]
        for key in (
            "name",
            "organisation",
            "description",
            "city",
            "postcode",
            "street",
            "website",
            "precision",
            "location_note",
        ):
            assert p[key] == r[key], f"{r['id']}.{key} differs from the curated file; rebuild"
        assert p["source"] == _sources(r)


def test_websites_are_links(curated, programmes):
    for r in curated + programmes:
        if r["website"]:
            assert re.fullmatch(r"https?://[^\s/]+\.[a-z]{2,}(/\S*)?", r["website"]), r["id"]


def test_committed_map_file_is_what_the_build_script_writes(curated):
    spec = importlib.util.spec_from_file_location(
        "build_projects", ROOT / "scripts" / "build_projects.py"
    )
    build_projects = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_projects)
    collection, unmapped = build_projects.build(build_projects.load_curated(CURATED_FILE))
    assert build_projects.dumps(collection) == MAP_FILE.read_text(encoding="utf-8"), (
        "data/projects.geojson is stale: run scripts/build_projects.py"
    )
    assert {r["id"] for r in unmapped} == {r["id"] for r in curated if not r["geocode_query"]}


# --- faithfulness to the seeds ------------------------------------------------------------------


def test_sources_name_existing_seed_files(curated, programmes):
    seeds = _seed_texts()
    for r in curated + programmes:
        assert _sources(r), f"{r['id']} has no source"
        assert set(_sources(r)) <= set(seeds), f"{r['id']}: {_sources(r)}"


RUN = 8


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", " ".join(text.split()).casefold())


@pytest.fixture(scope="module")
def seed_runs():
    runs = set()
    for text in _seed_texts().values():
        w = _words(text)
        runs.update(tuple(w[i : i + RUN]) for i in range(len(w) - RUN + 1))
    return runs


def _copied(text: str, seed_runs: set) -> list[str]:
    w = _words(text)
    return [
        " ".join(w[i : i + RUN])
        for i in range(len(w) - RUN + 1)
        if tuple(w[i : i + RUN]) in seed_runs
    ]


def test_no_description_copies_eight_words_from_a_seed(curated, programmes, features, seed_runs):
    records = curated + programmes + [f["properties"] for f in features]
    copied = {r["id"]: hits for r in records if (hits := _copied(r["description"], seed_runs))}
    assert copied == {}


def test_the_copy_check_catches_a_copied_sentence_despite_case_and_spacing(seed_runs):
    text = "Hier: JEDEN Samstag treffen sich\n seit Oktober 2013  Menschen aus aller Welt."
    assert _copied(text, seed_runs)
    assert not _copied(
        "Jeden Samstag treffen sich Menschen aus vielen Ländern zum Reden.", seed_runs
    )


def test_no_quoted_private_person_is_named(curated, programmes, features):
    blob = json.dumps(
        curated + programmes + [f["properties"] for f in features], ensure_ascii=False
    )
    assert [n for n in QUOTED_PERSONS if re.search(rf"\b{n}\b", blob)] == []
