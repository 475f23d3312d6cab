"""An office's list imported in a real browser (Debian chromium): upload an .xlsx made by
openpyxl, see every row on the preview, resolve an ambiguous place by picking the right one, set
a point by a click on the map, import, and find the list named on the project page. Synthetic
rows; served instance with officers as in tests/test_browser_submission.py."""

from __future__ import annotations

import re

from tests import test_browser_submission as base
from tests.support.accessibility import axe_violations
from tests.support.browser import settle
from tests.test_browser_submission import LUENEBURG, log_in, page_shot
from tests.test_import_web import AMBIGUOUS, OUTSIDE
from tests.test_importing import ROWS, write_xlsx

server = base.server  # `atlas init`, officers in Lüneburg and Weser-Ems, no rate limits

NOT_FOUND = ["Treff ohne Ort", "", "", "", "Gibtsnichtdorf", "Sprache", "", ""]


def test_an_ambiguous_place_is_resolved_in_the_browser(watched, server, tmp_path):
    page = watched.page
    log_in(page, server, LUENEBURG)
    page.get_by_role("link", name="Listen importieren").click()
    path = write_xlsx(
        tmp_path / "liste-lueneburg.xlsx", rows=[*ROWS, OUTSIDE, AMBIGUOUS, NOT_FOUND]
    )
    page.set_input_files("#i-datei", str(path))
    page.get_by_role("button", name="Datei prüfen").click()
    page.wait_for_url(re.compile(r"/verwaltung/import/[0-9a-f]{32}$"))
    rows = page.locator("#rows tbody tr")
    assert rows.count() == 6
    assert "außerhalb der Region" in page.locator("#z5").inner_text()
    assert "Ort mehrdeutig" in page.locator("#z6").inner_text()
    assert "Ort nicht gefunden" in page.locator("#z7").inner_text()
    # The map shows the rows (and the candidates of the ambiguous one) as points.
    assert page.locator(".import-map path.leaflet-interactive").count() >= 6
    assert axe_violations(page) == []
    page_shot(page, "import-01-preview")

    page.get_by_role("button", name=re.compile(r"Gemeint ist: Winsen \(Luhe\)")).click()
    page.wait_for_url(re.compile(r"#z6$"))
    assert "Zeile 6: bereit." in page.locator(".notice").inner_text()
    assert "bereit" in page.locator("#z6 .import-state").inner_text()

    # A point placed by hand: open the row's form, click the map, take the point.
    page.locator("#z7 details.manual-point summary").click()
    settle(page)
    page.locator(".import-map").scroll_into_view_if_needed()
    page.locator(".import-map .leaflet-container").click()
    lat = page.locator("#z7 input[name=lat]").input_value()
    assert re.fullmatch(r"5\d\.\d{6}", lat), lat

    page.get_by_role("button", name="4 bereite Zeilen importieren").click()
    page.wait_for_url(re.compile(r"/verwaltung/import$"))
    notice = page.locator(".notice").inner_text()
    assert "4 neu, 0 geändert, 0 unverändert, 2 nicht übernommen" in notice
    page_shot(page, "import-02-done")

    page.goto(server + "/projekte/treffpunkt-winsen-winsen")
    assert re.search(r"Liste des ArL Lüneburg, \d{4}-\d{2}", page.locator(".facts").inner_text())
