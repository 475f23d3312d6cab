"""The offices' lists: real files as their software writes them (openpyxl, odfpy, the csv module
with Excel's dialect and Windows-1252, GeoJSON, a GeoPackage by pyogrio), imported with
`atlas import` into a real database; re-import, dry run, region, undo. All rows are synthetic."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from atlas.core import importing
from atlas.store import Project
from atlas.store.models import AuditEntry, ImportLog
from atlas.web.extensions import get_store

GERMAN = ["Name", "Träger", "Straße", "PLZ", "Ort", "Handlungsfelder", "Webseite", "Bemerkung"]
ROWS = [
    ["Sprachcafé Am Sande", "Diakonie", "Am Sande 1", "21335", "Lüneburg", "Sprache", "", "x"],
    [
        "Nähwerkstatt Süd",
        "Verein Miteinander",
        "",
        "21423",
        "Winsen",
        "Gesellschaftliche Teilhabe; Wohnen & Leben",
        "https://example.org",
        "",
    ],
    ["Jobpaten Uelzen", "AWO", "", "", "Uelzen", "arbeit-ausbildung", "", ""],
]
EXPECTED = {
    "sprachcafe-am-sande-lueneburg": ["sprache"],
    "naehwerkstatt-sued-winsen": ["teilhabe", "wohnen-leben"],
    "jobpaten-uelzen-uelzen": ["arbeit-ausbildung"],
}


def write_xlsx(path: Path, header=GERMAN, rows=ROWS, title="Projekte", before=()) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for name, sheet_rows in before:  # sheets in front of the one with the list
        ws = book.create_sheet(name, 0)
        for row in sheet_rows:
            ws.append(row)
    ws = book.worksheets[-1]
    ws.title = title
    ws.append(header)
    for row in rows:
        # Postcodes as numbers, as a spreadsheet keeps them when typed in.
        ws.append([int(c) if c.isdigit() else (c or None) for c in row])
    book.save(path)
    return path


def write_ods(path: Path, header=GERMAN, rows=ROWS) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Liste")
    for row in [header, *rows]:
        tr = TableRow()
        for value in row:
            if value.isdigit():
                cell = TableCell(valuetype="float", value=value)
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def write_csv(path: Path, encoding: str, delimiter: str, header=GERMAN, rows=ROWS) -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, dialect="excel", delimiter=delimiter)  # CRLF line ends
        writer.writerow(header)
        writer.writerows(rows)
    return path


def ids_and_fields(store) -> dict:
    with store.session() as s:
        return {p.id: p.fields for p in s.scalars(select(Project).where(Project.import_id != None))}  # noqa: E711


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: write_xlsx(p / "liste.xlsx"), id="xlsx"),
        pytest.param(lambda p: write_ods(p / "liste.ods"), id="ods"),
        pytest.param(lambda p: write_csv(p / "liste.csv", "utf-8-sig", ";"), id="excel-utf8-bom"),
        pytest.param(lambda p: write_csv(p / "liste.csv", "cp1252", ";"), id="excel-cp1252"),
        pytest.param(lambda p: write_csv(p / "liste.csv", "utf-8", ","), id="comma-utf8"),
        pytest.param(lambda p: write_csv(p / "liste.txt", "cp1252", "\t"), id="tab-cp1252"),
    ],
)
def test_every_dialect_with_german_headers_imports_the_same_list(cli, app, tmp_path, make):
    path = make(tmp_path)
    result = cli("import", path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    # The unknown column is reported, not silently dropped; "Winsen" has a postcode: not ambiguous.
    assert "columns not imported (unknown): Bemerkung" in result.stderr
    assert "3 added, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    store = get_store(app)
    assert ids_and_fields(store) == EXPECTED
    project = store.get("sprachcafe-am-sande-lueneburg")
    assert (project.organisation, project.postcode, project.region) == (
        "Diakonie",
        "21335",
        "lueneburg",
    )
    assert project.import_row == 2
    # The same list again changes nothing and leaves no import behind.
    again = cli("import", path)
    assert again.exit_code == 0, again.output
    assert "0 added, 0 updated, 3 unchanged" in again.stdout
    with store.session() as s:
        assert len(s.scalars(select(ImportLog)).all()) == 1


def test_header_variants_are_recognised_and_unknown_ones_reported():
    headers = [
        "PROJEKT",
        "Organisation",
        "Postleitzahl",
        "stadt",
        "Internet",
        "Handlungsfeld",
        "Foo",
    ]
    by_index, columns, unknown = importing.map_columns(headers)
    assert list(by_index.values()) == [
        "name",
        "organisation",
        "postcode",
        "city",
        "website",
        "fields",
    ]
    assert unknown == ["Foo"]
    assert importing.field_slugs("Sprache, Arbeit und Ausbildung|engagement") == [
        "sprache",
        "arbeit-ausbildung",
        "engagement",
    ]


def test_a_named_sheet_is_read_and_a_missing_one_named(cli, app, tmp_path):
    path = write_xlsx(tmp_path / "mappe.xlsx", before=[("Hinweise", [["Bitte ausfüllen"]])])
    wrong = cli("import", path)  # the first sheet holds no list
    assert wrong.exit_code != 0 and "no column for the name" in wrong.stderr
    missing = cli("import", path, "--sheet", "Gibtsnicht")
    assert "no sheet 'Gibtsnicht'; sheets: Hinweise, Projekte" in missing.stderr
    ok = cli("import", path, "--sheet", "projekte", "--skip-invalid")
    assert ok.exit_code == 0 and "3 added" in ok.stdout


def test_ambiguous_places_list_candidates_and_nothing_is_imported(cli, app, tmp_path):
    rows = [ROWS[0], ["Treffpunkt", "", "", "", "Winsen", "Sprache", "", ""]]
    path = write_xlsx(tmp_path / "liste.xlsx", rows=rows)
    result = cli("import", path)
    assert result.exit_code != 0
    assert "liste.xlsx, row 3: place 'Winsen' is ambiguous" in result.stderr
    assert "candidate: Winsen (Luhe) (Harburg)" in result.stderr
    assert "candidate: Winsen (Aller) (Celle)" in result.stderr
    assert "nothing imported" in result.stderr
    assert ids_and_fields(get_store(app)) == {}


def test_dry_run_changes_nothing(cli, app, tmp_path):
    path = write_xlsx(tmp_path / "liste.xlsx")
    result = cli("import", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing changed liste.xlsx: 3 added" in result.stdout
    store = get_store(app)
    assert ids_and_fields(store) == {}
    with store.session() as s:
        assert s.scalars(select(ImportLog)).all() == []
        assert s.scalars(select(AuditEntry)).all() == []


def test_a_row_in_another_region_is_refused(cli, app, tmp_path):
    rows = [*ROWS, ["Jobpaten Hannover", "AWO", "", "30159", "Hannover", "Sprache", "", ""]]
    path = write_xlsx(tmp_path / "liste.xlsx", rows=rows)
    refused = cli("import", path, "--region", "lueneburg")
    assert refused.exit_code != 0
    assert "row 5: the point lies in region 'leine-weser', not in 'lueneburg'" in refused.stderr
    skipped = cli("import", path, "--region", "lueneburg", "--skip-invalid")
    assert "3 added, 0 updated, 0 unchanged, 1 skipped" in skipped.stdout
    assert set(ids_and_fields(get_store(app))) == set(EXPECTED)


def test_undo_removes_added_and_restores_updated_records(cli, app, tmp_path):
    store = get_store(app)
    first = cli("import", write_xlsx(tmp_path / "a.xlsx"))
    assert first.exit_code == 0, first.output
    changed = [ROWS[0][:5] + ["Sprache; Engagement"] + ROWS[0][6:], ROWS[1], ROWS[2]]
    changed.append(["Neu im Ort", "", "", "29525", "Uelzen", "Sprache", "", ""])
    second = cli("import", write_xlsx(tmp_path / "b.xlsx", rows=changed))
    assert "1 added, 1 updated, 2 unchanged" in second.stdout
    import_id = second.stdout.split("atlas import-undo ")[1].split()[0]
    assert store.get("sprachcafe-am-sande-lueneburg").fields == ["sprache", "engagement"]
    undone = cli("import-undo", import_id)
    assert undone.exit_code == 0, undone.output
    assert "1 removed, 1 restored" in undone.stdout
    assert ids_and_fields(store) == EXPECTED
    assert store.get("sprachcafe-am-sande-lueneburg").import_row == 2
    assert "undone already" in cli("import-undo", import_id).stderr
    with store.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["import", "import", "import_undone"]


def test_geojson_and_geopackage(cli, app, tmp_path):
    import numpy as np
    import pyogrio.raw

    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [10.41, 53.25]},
            "properties": {"Name": "Punkt eins", "Handlungsfeld": "Sprache"},
        }
    ]
    path = tmp_path / "punkte.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = cli("import", path)
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stdout
    # A GeoPackage layer in WGS 84: WKB points as pyogrio writes them.
    gpkg = tmp_path / "punkte.gpkg"
    wkb = np.array([bytes.fromhex("0101000000") + np.array([9.73, 52.37]).tobytes()], dtype=object)
    pyogrio.raw.write(
        str(gpkg),
        geometry=wkb,
        field_data=[np.array(["Punkt zwei"], dtype=object), np.array(["Teilhabe"], dtype=object)],
        fields=["Projekt", "Handlungsfelder"],
        geometry_type="Point",
        crs="EPSG:4326",
        driver="GPKG",
        layer="projekte",
    )
    result = cli("import", gpkg)
    assert result.exit_code == 0, result.output
    project = get_store(app).get("punkt-zwei")
    assert (project.region, project.fields) == ("leine-weser", ["teilhabe"])


def test_an_import_older_than_a_day_cannot_be_undone(cli, app, tmp_path):
    from datetime import timedelta

    result = cli("import", write_xlsx(tmp_path / "a.xlsx"))
    import_id = result.stdout.split("atlas import-undo ")[1].split()[0]
    store = get_store(app)
    created = importing.import_entry(store, import_id).created_at
    with pytest.raises(importing.UndoError) as refused:
        importing.undo(store, import_id, "test", now=created + timedelta(hours=25))
    assert refused.value.code == "too_late"
    assert set(ids_and_fields(store)) == set(EXPECTED)
    assert importing.undo(store, import_id, "test", now=created + timedelta(hours=23)) == {
        "removed": 3,
        "restored": 0,
    }
