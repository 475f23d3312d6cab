"""The `atlas` command against a real SQLite file: init, import, export, geocode, locate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from atlas.core.fields import FIELDS
from atlas.resources import PROJECTS_FILE
from atlas.web.extensions import get_store
from tests.support.databases import drop_database, fresh_database_url

CURATED = json.loads(PROJECTS_FILE.read_text(encoding="utf-8"))["features"]

CSV_HEADER = "name,organisation,description,fields,tags,street,postcode,city,website,lat,lon\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_init_loads_curated_projects_and_is_idempotent(cli, app, instance):
    first = cli("init")
    assert first.exit_code == 0, first.output
    assert f"{len(CURATED)} curated projects added" in first.stdout
    store = get_store(app)
    listing = text("SELECT id, updated_at FROM projects ORDER BY id")
    with store.engine.connect() as con:
        if not store.is_postgres:
            assert (instance / "atlas.sqlite3").exists()
            assert con.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        before = con.execute(listing).all()
    second = cli("init")
    assert second.exit_code == 0
    assert "0 curated projects added" in second.stdout
    with store.engine.connect() as con:
        assert con.execute(listing).all() == before
    assert len(before) == len(CURATED)


def test_init_tells_of_corrected_curated_texts_and_takes_them_when_asked(cli, app):
    """A database loaded by an earlier release keeps its curated texts; `atlas init` says which
    differ from the corrected file, and `--update-curated` takes them, leaving the rest."""
    assert cli("init").exit_code == 0
    store = get_store(app)
    project = CURATED[0]["properties"]
    old = "Ein älterer Text, den die Quelle so nicht sagt."
    confirmed = "2026-03-01 00:00:00"
    with store.engine.begin() as con:
        con.execute(
            text("UPDATE projects SET description = :d, confirmed_at = :c WHERE id = :i"),
            {"d": old, "c": confirmed, "i": project["id"]},
        )
    told = cli("init")
    assert told.exit_code == 0, told.output
    assert f"1 curated projects stored here differ from projects.geojson ({project['id']})" in (
        told.stdout
    )
    assert store.get(project["id"]).description == old
    taken = cli("init", "--update-curated")
    assert taken.exit_code == 0, taken.output
    assert "1 curated projects took the corrected texts" in taken.stdout
    stored = store.get(project["id"])
    assert stored.description == project["description"]
    assert str(stored.confirmed_at).startswith("2026-03-01")  # not the file's to change
    assert "differ" not in cli("init").stdout


def test_import_csv_geocodes_rows_without_coordinates(cli, app, tmp_path):
    path = write(
        tmp_path,
        "neu.csv",
        CSV_HEADER
        + "Sprachcafé Test,Verein A,Deutsch üben,sprache;teilhabe,kultur,,30169,Hannover,https://example.org,,\n"
        + "Werkstatt Test,Verein B,Handwerk,arbeit-ausbildung,,,,Meppen,,52.6906,7.2915\n",
    )
    result = cli("import", path)
    assert result.exit_code == 0, result.output
    assert "2 added" in result.stdout
    store = get_store(app)
    cafe = store.get("sprachcafe-test-hannover")
    assert cafe.district_code == "03241" and cafe.region == "leine-weser"
    assert cafe.fields == ["sprache", "teilhabe"] and cafe.precision == "postcode"
    assert 52.3 < cafe.lat < 52.45 and 9.6 < cafe.lon < 9.85
    assert store.get("werkstatt-test-meppen").district_code == "03454"


@pytest.mark.parametrize(
    "row, message",
    [
        (
            "Kurs,,x,kochen,,,,Hannover,,,",
            "unknown field(s) 'kochen'; valid fields: " + ", ".join(FIELDS),
        ),
        ("Kurs,,x,sprache,,,,,,53.0793,8.8017", "lie outside Lower Saxony"),  # Bremen
        ("Kurs,,x,sprache,,,99999,Hannover,,,", "postcode 99999 does not exist"),
        ("Kurs,,x,sprache,,,,Winsen,,,", "is ambiguous"),
        ("Kurs,,x,sprache,,,,Hannover,ftp://example.org,,", "is not an http(s) address"),
        ("Kurs,,x,sprache,,,,,,52.1,abc", "lon 'abc' is not a number"),
        (",,x,sprache,,,,Hannover,,,", "name is missing"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(cli, app, tmp_path, row, message):
    good = "Gute Zeile,,x,sprache,,,,,,52.37,9.73\n"
    path = write(tmp_path, "mixed.csv", CSV_HEADER + good + row + "\n")
    result = cli("import", path)
    assert result.exit_code != 0
    assert "mixed.csv, line 3:" in result.stderr
    assert message in result.stderr
    assert "nothing imported" in result.stderr
    assert get_store(app).count(None) == 0


def test_skip_invalid_imports_the_valid_rows(cli, app, tmp_path):
    path = write(
        tmp_path,
        "mixed.csv",
        CSV_HEADER
        + "Gute Zeile,,x,sprache,,,,,,52.37,9.73\n"
        + "Schlechte Zeile,,x,kochen,,,,,,52.37,9.73\n",
    )
    result = cli("import", path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "line 3" in result.stderr and "1 added" in result.stdout
    assert [p.name for p in get_store(app).projects()] == ["Gute Zeile"]


def test_malformed_geojson_names_the_place_of_the_fault(cli, app, tmp_path):
    path = write(
        tmp_path,
        "kaputt.geojson",
        '{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",,}\n]}',
    )
    result = cli("import", path)
    assert result.exit_code != 0
    assert "not valid JSON at line 3" in result.stderr
    bad_feature = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [9.73, 52.37]},
                "properties": {"name": "Gut", "fields": ["sprache"]},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[9, 52], [9, 53]]},
                "properties": {"name": "Linie", "fields": ["sprache"]},
            },
        ],
    }
    path = write(tmp_path, "linie.geojson", json.dumps(bad_feature))
    result = cli("import", path)
    assert result.exit_code != 0
    assert "feature 2: geometry is not a Point" in result.stderr
    assert get_store(app).count(None) == 0


def test_export_round_trips_through_import(cli, app, tmp_path, instance, monkeypatch):
    assert cli("init").exit_code == 0
    for fmt in ("geojson", "csv"):
        out = tmp_path / f"export.{fmt}"
        result = cli("export", "--format", fmt, "--output", out)
        assert result.exit_code == 0, result.output
        other_url = fresh_database_url() or f"sqlite:///{tmp_path / (fmt + '.sqlite3')}"
        monkeypatch.setenv("ATLAS_DATABASE_URL", other_url)
        from atlas import cli as atlas_cli
        from atlas.web.app import create_app

        other = create_app({"TESTING": True})
        result = other.test_cli_runner().invoke(atlas_cli.group(), args=["import", str(out)])
        assert result.exit_code == 0, result.output
        original = {
            p.id: (p.name, p.fields, p.district_code, round(p.lat, 6))
            for p in get_store(app).projects()
        }
        copied = {
            p.id: (p.name, p.fields, p.district_code, round(p.lat, 6))
            for p in get_store(other).projects()
        }
        assert copied == original and len(copied) == len(CURATED)
        get_store(other).engine.dispose()
        if other_url.startswith("postgresql"):
            drop_database(other_url)


def test_export_geojson_carries_district_and_region(cli, app):
    cli("init")
    result = cli("export", "--format", "geojson")
    doc = json.loads(result.stdout)
    assert doc["type"] == "FeatureCollection"
    props = {f["properties"]["id"]: f["properties"] for f in doc["features"]}
    for feature in CURATED:
        p = props[feature["properties"]["id"]]
        assert (
            p["district"]
            and p["region"]
            == {"1": "braunschweig", "2": "leine-weser", "3": "lueneburg", "4": "weser-ems"}[
                p["district_code"][2]
            ]
        )


@pytest.mark.parametrize(
    "query, status, code",
    [("30169 Hannover", "ok", 0), ("Winsen", "ambiguous", 3), ("Xyzzyhausen", "not_found", 1)],
)
def test_geocode_single_query_answers_json_with_exit_status(cli, query, status, code):
    result = cli("geocode", query)
    assert result.exit_code == code
    answer = json.loads(result.stdout)
    assert answer["status"] == status and answer["query"] == query
    assert {
        "lat",
        "lon",
        "label",
        "postcode",
        "district_code",
        "district",
        "region",
        "candidates",
    } <= answer.keys()


def test_geocode_stdin_answers_one_line_per_query(cli):
    result = cli("geocode", "-", input="Hannover\n\nWinsen\nlueneburg\n")
    assert result.exit_code == 0
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["status"] for a in answers] == ["ok", "ambiguous", "ok"]
    assert {c["district_code"] for c in answers[1]["candidates"]} >= {"03353", "03351"}


def test_locate_single_and_stream(cli):
    inside = cli("locate", "52.3759", "9.7320")
    assert inside.exit_code == 0
    assert json.loads(inside.stdout) == {
        "lat": 52.3759,
        "lon": 9.732,
        "district_code": "03241",
        "district": json.loads(inside.stdout)["district"],
        "region": "leine-weser",
        "region_name": "Leine-Weser",
    }
    outside = cli("locate", "53.0793", "8.8017")  # Bremen
    assert outside.exit_code == 1
    assert json.loads(outside.stdout)["error"] == "outside Lower Saxony"
    stream = cli("locate", "-", input="52.3759,9.7320\nkein punkt\n53.0793, 8.8017\n")
    lines = [json.loads(x) for x in stream.stdout.splitlines()]
    assert [x["district_code"] for x in lines] == ["03241", None, None]
    assert "not 'lat,lon'" in lines[1]["error"] and lines[2]["error"] == "outside Lower Saxony"


def test_the_installed_console_script_runs(instance):
    atlas = Path(sys.executable).with_name("atlas")
    result = subprocess.run(
        [str(atlas), "locate", "53.2464", "10.4115"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["district_code"] == "03355"  # Lüneburg


def test_geocode_cache_lives_in_the_database(app):
    store = get_store(app)
    store.create_schema()
    cache = store.cache()
    assert cache.get("nominatim:hannover") is None
    cache.set("nominatim:hannover", {"lat": 52.37, "lon": 9.73})
    assert store.cache().get("nominatim:hannover") == {"lat": 52.37, "lon": 9.73}
