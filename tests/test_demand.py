"""The demand nobody met: nearby searches that found nothing, counted per district, field and
month, shown to the offices from 5 searches on, and nothing else stored."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from atlas.store import UnmetDemand
from atlas.web.extensions import get_store
from tests.test_api import client  # noqa: F401  (the fixture)

#: Made-up words that must never reach the database.
SECRET = "Zauberfloetenkurs"


def _rows(response) -> list[dict]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_unmet_searches_are_counted_and_shown_from_five_on(app, client):  # noqa: F811
    cux = f"near=27472+Cuxhaven&radius_km=5&q={SECRET}&field=sprache"
    stade = f"near=21682+Stade&radius_km=5&q={SECRET}"
    # six in Cuxhaven: map, listing, API, feed; four in Stade
    for path in (f"/?{cux}", f"/?{cux}", f"/projekte?{cux}", f"/projekte?{cux}"):
        assert "Keine Projekte gefunden" in client.get(path).get_data(as_text=True)
    assert client.get(f"/api/projects?{cux}").json["total"] == 0
    assert client.get(f"/projekte.atom?{cux}").status_code == 200
    for _ in range(4):
        client.get(f"/projekte?{stade}")
    # neither a search that found something nor a second page counts
    client.get("/projekte?near=30169+Hannover&radius_km=10")
    client.get(f"/api/projects?{cux}&offset=20")

    response = client.get("/regionen/lueneburg/gesucht.csv")
    assert response.status_code == 200
    rows = _rows(response)
    assert [r["count"] for r in rows if r["district_code"] == "03352"] == ["6"]
    assert [r["field"] for r in rows if r["district_code"] == "03352"] == ["Sprache"]
    assert [r["count"] for r in rows if r["district_code"] == "03359"] == ["< 5"]
    assert {r["district_code"] for r in rows} == {"03352", "03359"}
    assert _rows(client.get("/regionen/leine-weser/gesucht.csv")) == []

    page = client.get("/regionen/lueneburg").get_data(as_text=True)
    assert "Gesucht, nicht gefunden" in page
    assert "&lt; 5" in page

    store = get_store(app)
    with store.session() as s:
        cells = {(c.district_code, c.field, c.count) for c in s.scalars(select(UnmetDemand))}
    assert cells == {("03352", "sprache", 6), ("03359", "", 4)}
    if not store.is_postgres:
        store.after_erasure()
        for name in ("atlas.sqlite3", "atlas.sqlite3-wal"):
            path = app.instance_path + "/" + name
            try:
                data = open(path, "rb").read()
            except FileNotFoundError:
                continue
            assert SECRET.encode() not in data and b"27472" not in data


def test_the_privacy_notice_says_what_is_counted(client):  # noqa: F811
    html = client.get("/datenschutz").get_data(as_text=True)
    assert "Suchen ohne Ergebnis" in html and "Handlungsfeld und Monat" in html
