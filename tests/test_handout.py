"""The handout to print: an A4 PDF with real text, the listed projects' names, a map drawn
from the district outlines, and a QR code that opens the same search live."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.test_api import client  # noqa: F401  (the fixture: the test projects stored)

TOOLS = ("pdfinfo", "pdftotext", "pdftoppm", "zbarimg")


@pytest.fixture
def tools():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: apt-get install poppler-utils zbar-tools")


def _pdf(client, query: str, tmp_path) -> tuple:  # noqa: F811
    response = client.get("/projekte/aushang.pdf" + query)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    path = tmp_path / "aushang.pdf"
    path.write_bytes(response.data)
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(
        ["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True
    ).stdout
    return path, info, " ".join(text.split())  # as read, whatever the line breaks


def _qr(path, tmp_path) -> str:
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", path, tmp_path / "p"])
    image = next(tmp_path.glob("p*.png"))
    found = subprocess.run(["zbarimg", "--raw", "-q", image], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def test_the_handout_is_one_a4_page_with_names_as_text_and_a_qr_code(
    client,  # noqa: F811
    tools,
    tmp_path,
):
    path, info, text = _pdf(client, "?field=teilhabe", tmp_path)
    assert "(A4)" in info and re.search(r"Pages:\s+1\n", info)
    assert "Werkstatt Meppen" in text and "Café International Winsen" in text
    assert "Sprachcafé Linden" not in text
    assert "Stand:" in text and "Initiativen und Projekte" in text
    assert _qr(path, tmp_path) == "http://127.0.0.1:8000/projekte?field=teilhabe"


def test_a_nearby_handout_numbers_projects_by_distance(client, tools, tmp_path):  # noqa: F811
    path, info, text = _pdf(client, "?near=30169+Hannover&radius_km=10&lang=de", tmp_path)
    assert "Sprachcafé Linden" in text and "im Umkreis von 10 km" in text
    assert "Werkstatt Meppen" not in text
    assert _qr(path, tmp_path) == (
        "http://127.0.0.1:8000/projekte?near=30169+Hannover&radius_km=10"
    )


def test_listing_and_map_offer_the_handout(client):  # noqa: F811
    for path in ("/projekte?region=weser-ems", "/?region=weser-ems"):
        html = client.get(path).get_data(as_text=True)
        assert 'href="/projekte/aushang.pdf?region=weser-ems"' in html
        assert "Aushang drucken" in html


def test_a_handout_is_kept_until_a_project_changes(app, client, tools, tmp_path):  # noqa: F811
    """Typesetting takes a second or two: a browser that holds the handout gets a 304, and a
    change to the projects gives a new one at once."""
    from atlas.core.projects import clean_record
    from atlas.web.extensions import get_store

    url = "/projekte/aushang.pdf?field=teilhabe"
    first = client.get(url)
    tag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    record = {"name": "Neue Werkstatt Lingen", "fields": "teilhabe", "lat": 52.52, "lon": 7.32}
    get_store(app).save_all([clean_record(record, "t")])
    after = client.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["ETag"] != tag
    _path, _info, text = _pdf(client, "?field=teilhabe", tmp_path)
    assert "Neue Werkstatt Lingen" in text


def test_a_bad_filter_is_a_german_400(client):  # noqa: F811
    response = client.get("/projekte/aushang.pdf?region=nirgendwo")
    assert response.status_code == 400


def test_an_arabic_handout_is_set_right_to_left_with_the_names_as_text(
    app,
    client,  # noqa: F811
    tools,
    tmp_path,
    monkeypatch,
):
    """With an Arabic interface (its catalogue stands in here), the page runs right to left
    and an Arabic name comes out of the PDF as the text it is (Pango joined its letters)."""
    from atlas.core.projects import clean_record
    from atlas.web import handout
    from atlas.web.extensions import get_store

    name = "مقهى اللغة العربية"
    get_store(app).save_all(
        [clean_record({"name": name, "fields": "sprache", "lat": 52.62, "lon": 10.08}, "t")]
    )
    monkeypatch.setattr(handout, "languages", lambda: {"de", "ar"})
    html = []
    monkeypatch.setattr(handout.handout, "pdf", lambda page: html.append(page) or b"")
    client.get("/projekte/aushang.pdf?district=03351&lang=ar")
    assert '<html lang="ar" dir="rtl">' in html[0]
    monkeypatch.undo()
    handout._HANDOUTS.clear()  # the empty stand-in's answer was kept
    monkeypatch.setattr(handout, "languages", lambda: {"de", "ar"})
    _path, _info, text = _pdf(client, "?district=03351&lang=ar", tmp_path)
    assert name in re.sub("[\u202a-\u202e]", "", text)
    assert handout.handout.direction("fa") == "rtl" and handout.handout.direction("de") == "ltr"
