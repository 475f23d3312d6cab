"""The offices' lists in the browser (/verwaltung/import) against a real database: upload a real
.xlsx, see every row, fix an ambiguous one, import the good rows, see the source on the project
page, undo. Synthetic rows only."""

from __future__ import annotations

import csv
import html
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from atlas.core.accounts import add_user
from atlas.store.models import AuditEntry, ImportLog, PendingImport
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token
from tests.test_importing import GERMAN, ROWS, write_xlsx

PASSWORD = "ein langes Passwort 123"
OUTSIDE = ["Jobpaten Hannover", "AWO", "", "30159", "Hannover", "Sprache", "", ""]
AMBIGUOUS = ["Treffpunkt Winsen", "", "", "", "Winsen", "Sprache", "", ""]


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})
    store = get_store(app)
    store.create_schema()
    add_user(store, "lg@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "admin@land.example", PASSWORD, None, True)
    return app


def login(client, email="lg@arl.example"):
    token = csrf_token(client.get("/verwaltung/login").get_data(as_text=True))
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/verwaltung/login", data=data).status_code == 303


def upload(client, path, **extra):
    token = csrf_token(client.get("/verwaltung/import").get_data(as_text=True))
    with open(path, "rb") as f:
        data = {"datei": (f, path.name), "csrf_token": token, **extra}
        return client.post("/verwaltung/import", data=data, content_type="multipart/form-data")


def test_only_officers_reach_the_page_and_uploads_need_the_token(app, tmp_path):
    client = app.test_client()
    assert client.get("/verwaltung/import").status_code in (302, 303)
    login(client)
    with open(write_xlsx(tmp_path / "liste.xlsx"), "rb") as f:
        refused = client.post(
            "/verwaltung/import",
            data={"datei": (f, "liste.xlsx")},
            content_type="multipart/form-data",
        )
    assert refused.status_code == 400
    assert "abgelaufen" in refused.get_data(as_text=True)


def test_upload_preview_fix_import_source_and_undo(app, tmp_path):
    store = get_store(app)
    client = app.test_client()
    login(client)
    path = write_xlsx(tmp_path / "liste.xlsx", rows=[*ROWS, OUTSIDE, AMBIGUOUS])
    answer = upload(client, path)
    assert answer.status_code == 303
    preview_url = answer.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    # Every row is in the table with its state; the unknown column is named.
    assert page.count('<tr id="z') == 5
    assert "Bemerkung" in page
    assert (
        "außerhalb der Region" in page
        and "liegt in der Region Leine-Weser, nicht in der Region Lüneburg" in page
    )
    assert "Ort mehrdeutig" in page and "Gemeint ist: Winsen (Luhe) (Harburg)" in page
    assert "3 bereite Zeilen importieren" in page
    # The ambiguous row fixed by picking the candidate in the region.
    token = csrf_token(page)
    choices = re.findall(r'name="kandidat" value="(\d)">\s*<button[^>]*>Gemeint ist: ([^<]+)', page)
    luhe = next(i for i, label in choices if label.startswith("Winsen (Luhe)"))
    fixed = client.post(
        f"{preview_url}/zeile/6",
        data={"aktion": "kandidat", "kandidat": luhe, "csrf_token": token},
    )
    assert fixed.status_code == 303
    page = client.get(preview_url).get_data(as_text=True)
    assert "4 bereite Zeilen importieren" in page
    # Import: the good rows go in, the one outside the region does not.
    done = client.post(f"{preview_url}/importieren", data={"csrf_token": token})
    assert done.status_code == 303
    listing = client.get("/verwaltung/import").get_data(as_text=True)
    assert "liste.xlsx importiert: 4 neu, 0 geändert, 0 unverändert, 1 nicht übernommen" in listing
    assert store.get("jobpaten-hannover-hannover") is None
    winsen = store.get("treffpunkt-winsen-winsen")
    assert (winsen.region, winsen.district_code, winsen.import_row) == ("lueneburg", "03353", 6)
    with store.session() as s:
        assert s.scalars(select(PendingImport)).all() == []
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
        log = s.scalars(select(ImportLog)).one()
    assert entry.actor == "lg@arl.example" and entry.changes["added"] == [None, 4]
    # The project page names the office's list, not the file.
    detail = client.get("/projekte/treffpunkt-winsen-winsen").get_data(as_text=True)
    month = log.created_at.strftime("%Y-%m")
    assert f"Liste des ArL Lüneburg, {month}" in detail and "liste.xlsx" not in detail
    # Undo as a whole.
    token = csrf_token(listing)
    undone = client.post(
        f"/verwaltung/import/liste/{log.id}/rueckgaengig", data={"csrf_token": token}
    )
    assert undone.status_code == 303
    assert "4 entfernt, 0 wiederhergestellt" in client.get("/verwaltung/import").get_data(
        as_text=True
    )
    assert store.get("treffpunkt-winsen-winsen") is None
    again = client.post(
        f"/verwaltung/import/liste/{log.id}/rueckgaengig", data={"csrf_token": token}
    )
    assert again.status_code == 409


def test_a_point_placed_by_hand_and_an_edited_address(app, tmp_path):
    store = get_store(app)
    client = app.test_client()
    login(client)
    rows = [["Ohne Ort", "", "", "", "Gibtsnichtdorf", "Sprache", "", ""], AMBIGUOUS]
    preview_url = upload(client, write_xlsx(tmp_path / "liste.xlsx", rows=rows)).headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "Ort nicht gefunden" in page
    token = csrf_token(page)
    client.post(
        f"{preview_url}/zeile/2",
        data={"aktion": "punkt", "lat": "53,2464", "lon": "10,4115", "csrf_token": token},
    )
    client.post(
        f"{preview_url}/zeile/3",
        data={"aktion": "adresse", "postcode": "21423", "city": "Winsen", "csrf_token": token},
    )
    assert "2 bereite Zeilen importieren" in client.get(preview_url).get_data(as_text=True)
    client.post(f"{preview_url}/importieren", data={"csrf_token": token})
    placed = store.get("ohne-ort-gibtsnichtdorf")
    assert (placed.precision, placed.region) == ("manual", "lueneburg")
    assert store.get("treffpunkt-winsen-winsen").postcode == "21423"


def test_another_officer_cannot_see_a_preview(app, tmp_path):
    client = app.test_client()
    login(client)
    preview_url = upload(client, write_xlsx(tmp_path / "liste.xlsx")).headers["Location"]
    other = app.test_client()
    login(other, "admin@land.example")
    assert other.get(preview_url).status_code == 404


def test_templates_to_download(app):
    client = app.test_client()
    login(client)
    book = openpyxl.load_workbook(io.BytesIO(client.get("/verwaltung/import/vorlage.xlsx").data))
    header, example = list(book.active.iter_rows(values_only=True))
    assert header[:4] == ("Name", "Träger", "Beschreibung", "Handlungsfelder")
    assert example[0].startswith("BEISPIEL (wird nicht importiert)")
    text = client.get("/verwaltung/import/vorlage.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:2] == ["Name", "Träger"] and rows[1][0].startswith("BEISPIEL")
    # The filled-in template as it comes back: the example row is skipped.
    from atlas.core import importing

    sheet = importing.read_file(client.get("/verwaltung/import/vorlage.xlsx").data, "v.xlsx")
    assert sheet.rows == [] and sheet.unknown == []


def test_a_list_larger_than_other_forms_is_taken_up_to_its_own_limit(app, tmp_path):
    client = app.test_client()
    login(client)
    rows = [
        [f"Projekt {i}", "Träger " + "x" * 100, "", "21335", "Lüneburg", "Sprache", "", ""]
        for i in range(300)
    ]
    path = write_xlsx(tmp_path / "gross.xlsx", rows=rows)
    app.config["MAX_CONTENT_LENGTH"] = path.stat().st_size // 2  # the limit of other forms
    answer = upload(client, path)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "300 bereite Zeilen importieren" in page, re.findall(r"\d+ Zeilen:[^.]*", page)
    app.config["IMPORT_MAX_BYTES"] = path.stat().st_size - 1
    assert upload(client, path).status_code == 413


def test_a_file_that_is_no_list_is_explained_in_german(app, tmp_path):
    client = app.test_client()
    login(client)
    path = write_xlsx(tmp_path / "falsch.xlsx", header=["Was", "Ort"], rows=[["x", "y"]])
    answer = upload(client, path)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "fehlt eine Spalte für den Namen" in page and "Was, Ort" in page
    assert upload(client, path, blatt="Gibtsnicht").status_code == 400
    broken = tmp_path / "kaputt.xlsx"
    broken.write_bytes(b"PK\x03\x04 kein Arbeitsbuch")
    assert "Die Datei lässt sich nicht lesen" in upload(client, broken).get_data(as_text=True)


def test_an_import_is_one_entry_in_the_audit_log(app, cli, tmp_path):
    assert (
        cli("import", write_xlsx(tmp_path / "liste.xlsx"), "--region", "lueneburg").exit_code == 0
    )
    client = app.test_client()
    login(client, "admin@land.example")
    page = client.get("/verwaltung/protokoll").get_data(as_text=True)
    assert page.count("Liste importiert") == 1
    assert "Liste (Import)" in page and "liste.xlsx" in page and "gelöscht <span" not in page


def _row(name, postcode="", city="", fields="Sprache", website="", lat="", lon=""):
    """A row of a list with GERMAN's columns and the point (Breite, Länge)."""
    return [name, "", "", postcode, city, fields, website, "", lat, lon]


#: Rows refused for different reasons: (row, what the officer reads in German, what the command
#: line says in English).
REFUSED = [
    (_row("", "21335", "Lüneburg"), "Der Name des Projekts fehlt.", "name is missing"),
    (
        _row("Kurs Vierstellig", "1234", "Lüneburg"),
        "Die Postleitzahl „1234“ hat nicht fünf Ziffern.",
        "postcode '1234' is not five digits",
    ),
    (
        _row("Kurs Tippfehler", city="Lünebrug"),
        "Den Ort „Lünebrug“ haben wir in Niedersachsen nicht gefunden. Meinten Sie: Lüneburg?",
        "place 'Lünebrug' not found (did you mean: Lüneburg?)",
    ),
    (
        _row("Kurs Bremen", lat="53.0793", lon="8.8017"),
        "Der Punkt (Breite 53,07930, Länge 8,80170) liegt außerhalb Niedersachsens.",
        "coordinates 53.07930, 8.80170 lie outside Lower Saxony",
    ),
    (
        _row("Kurs Web", "21335", "Lüneburg", website="www.example.org"),
        "Die Website „www.example.org“ ist keine Internetadresse",
        "website 'www.example.org' is not an http(s) address",
    ),
    (
        _row("Kurs Winsen", city="Winsen"),
        "Der Ort „Winsen“ ist nicht eindeutig; bitte die Postleitzahl ergänzen.",
        "place 'Winsen' is ambiguous, add a postcode",
    ),
    (
        _row("Kurs Feld", "21335", "Lüneburg", fields="Kochen"),
        "Unbekanntes Handlungsfeld „Kochen“; möglich sind: Sprache, Arbeit & Ausbildung",
        "unknown field(s) 'Kochen'; valid fields: sprache",
    ),
]


def test_every_reason_a_row_is_refused_reads_in_german_and_in_english_on_the_command_line(
    app, cli, tmp_path
):
    header = [*GERMAN, "Breite", "Länge"]
    path = write_xlsx(tmp_path / "liste.xlsx", header=header, rows=[r for r, _, _ in REFUSED])
    client = app.test_client()
    login(client)
    preview_url = upload(client, path).headers["Location"]
    page = html.unescape(client.get(preview_url).get_data(as_text=True))
    for _, german, english in REFUSED:
        assert german in page
        assert english not in page
    assert "0 bereite Zeilen importieren" in page
    # The flash after a fix that does not help says why in German, too.
    fixed = client.post(
        f"{preview_url}/zeile/3",
        data={"aktion": "adresse", "postcode": "123", "city": "Lüneburg"}
        | {"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Zeile 3: fehlerhaft. Die Postleitzahl „123“ hat nicht fünf Ziffern." in html.unescape(
        fixed.get_data(as_text=True)
    )
    # The command line keeps its English, word for word.
    result = cli("import", path)
    assert result.exit_code != 0
    for _, german, english in REFUSED:
        assert english in result.stderr and german not in result.stderr


def test_a_list_checked_before_reasons_had_codes_still_shows_them(app, tmp_path):
    """A pending list kept with its reasons as plain English text still renders (the text)."""
    client = app.test_client()
    login(client)
    rows = [["", "AWO", "", "21335", "Lüneburg", "Sprache", "", ""]]
    preview_url = upload(client, write_xlsx(tmp_path / "liste.xlsx", rows=rows)).headers["Location"]
    store = get_store(app)
    with store.session.begin() as s:
        entry = s.scalars(select(PendingImport)).one()
        entry.rows = [dict(r, reasons=[x["text"] for x in r["reasons"]]) for r in entry.rows]
    page = client.get(preview_url).get_data(as_text=True)
    assert "name is missing" in page


def test_every_reason_the_checks_give_has_its_german_wording():
    """A new reason in the checks without a German wording would reach the offices in English."""
    import ast
    import inspect

    from atlas.core import importing, projects
    from atlas.web.wording import REASONS

    codes = {
        node.args[1].value
        for module in (projects, importing)
        for node in ast.walk(ast.parse(inspect.getsource(module)))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Reason"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
    }
    assert len(codes) > 20 and codes <= set(REASONS), codes - set(REASONS)
