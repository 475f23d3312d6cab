"""The languages an initiative works in (issue 16): the `languages` field in import and export,
the API filter `?language=ar` (400 for an unknown code), the filter "Angebote auf …" on map and
list, and the project page. On both back ends (SQLite's point index, PostGIS), with a place and
without."""

from __future__ import annotations

import csv
import io

import pytest

from atlas import search
from atlas.core.projects import RowError, clean_record, write_csv
from atlas.web.extensions import get_store

PROJECTS = [
    ("Sprachcafé Arabisch", ["ar", "de"], 52.3745, 9.7386),
    ("Beratung auf Farsi und Arabisch", ["fa", "ar"], 52.38, 9.74),
    ("Ukrainischer Treff", ["uk", "ru"], 52.37, 9.73),
    ("Ohne Angabe", [], 52.36, 9.72),
    ("Weit weg auf Arabisch", ["ar"], 53.55, 7.2),
]


@pytest.fixture
def store(app):
    store = get_store(app)
    store.create_schema()
    store.save_all(
        [
            clean_record(
                {
                    "name": name,
                    "fields": "sprache",
                    "city": "Hannover",
                    "lat": lat,
                    "lon": lon,
                    "languages": ";".join(codes),
                    "synthetic": True,
                },
                f"row {i}",
            )
            for i, (name, codes, lat, lon) in enumerate(PROJECTS)
        ]
    )
    return store


def names(store, **args) -> list[str]:
    result = search.run(store, search.parse(args, geocode=None))
    return sorted(p.name for p, _ in result.items)


def test_both_back_ends_find_the_projects_in_a_language(store):
    on_arabic = ["Beratung auf Farsi und Arabisch", "Sprachcafé Arabisch", "Weit weg auf Arabisch"]
    assert names(store, language="ar") == on_arabic
    assert names(store, language="AR") == on_arabic
    assert names(store, language="ar", near="52.3745,9.7386", radius_km="10") == on_arabic[:2]
    assert names(store, language="uk", near="52.3745,9.7386") == ["Ukrainischer Treff"]
    assert names(store, language="ti") == []
    assert names(store, language="ar", q="Beratung") == ["Beratung auf Farsi und Arabisch"]
    assert len(names(store)) == len(PROJECTS)


def test_an_unknown_language_code_is_refused(store):
    with pytest.raises(search.BadQuery):
        search.parse({"language": "xx"}, geocode=None)
    with pytest.raises(RowError):
        clean_record(
            {"name": "X", "fields": "sprache", "lat": 52.37, "lon": 9.73, "languages": "ar;arabic"},
            "row",
        )


def test_the_api_filters_and_exports_the_languages(app, store):
    client = app.test_client()
    answer = client.get("/api/projects?language=fa")
    assert answer.status_code == 200
    [only] = (
        answer.get_json()["features"]
        if "features" in answer.get_json()
        else answer.get_json()["items"]
    )
    props = only.get("properties", only)
    assert props["name"] == "Beratung auf Farsi und Arabisch" and props["languages"] == ["fa", "ar"]
    bad = client.get("/api/projects?language=xx")
    assert bad.status_code == 400 and "language" in bad.get_json()["error"]
    markers = client.get("/api/markers?language=uk").get_json()["rows"]
    assert [row[4] for row in markers] == ["Ukrainischer Treff"]
    out = io.StringIO()
    write_csv(store.projects(), out)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff")))}
    assert rows["Beratung auf Farsi und Arabisch"]["languages"] == "fa;ar"


def test_the_list_filters_by_language_and_the_page_names_them(app, store):
    client = app.test_client()
    page = client.get("/projekte?language=ar").get_data(as_text=True)
    assert (
        'id="f-language"' in page
        and '<option value="ar" selected>Arabisch (العربية)</option>' in page
    )
    assert "Sprachcafé Arabisch" in page and "Ukrainischer Treff" not in page
    english = client.get("/projekte?language=ar&lang=en").get_data(as_text=True)
    assert "Offers in" in english and ">Arabic (العربية)</option>" in english
    bad = client.get("/projekte?language=xx&lang=uk")
    assert "Такої мови ми не знаємо" in bad.get_data(as_text=True)
    [project] = [p for p in store.projects() if p.name == "Ukrainischer Treff"]
    detail = client.get(f"/projekte/{project.id}?lang=de").get_data(as_text=True)
    assert "Ukrainisch (українська), Russisch (русский)" in detail


@pytest.mark.parametrize(
    ("spelling", "label"),
    [
        ("هانوفر", "Hannover"),  # Arabic
        ("Ганновер", "Hannover"),  # Russian
        ("Гёттинген", "Göttingen"),
        ("أسنابروك", "Osnabrück"),
        ("Брауншвейг", "Braunschweig"),
    ],
)
def test_place_names_in_arabic_and_cyrillic_script_find_the_town(spelling, label):
    from atlas.geo.geocoding import resolve

    answer = resolve(spelling)
    assert (answer["status"], answer["label"]) == ("ok", label)
