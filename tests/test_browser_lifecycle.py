"""The life of a submission in a real browser: a point placed by hand stays where it was put
(and is called so), the private link withdraws a published project in two steps and it leaves
the map at once, and an officer's edit keeps the point unless the officer moves it on the map.

Served instance with officers as in tests/test_browser_submission.py; desk and phone sizes.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest

from tests import test_browser_submission as base
from tests.support.browser import Watched, marker_count, settle
from tests.test_browser_submission import (
    FIELD,
    LUENEBURG,
    PROJECT,
    api_projects,
    log_in,
    page_shot,
    point,
    tip,
)

server = base.server  # `atlas init`, officers in Lüneburg and Weser-Ems, no rate limits

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, server):
    """A phone-sized page, watched like `watched` (nothing but 127.0.0.1, no console errors)."""
    context = browser.new_context(viewport=PHONE, locale="de-DE", device_scale_factor=2)
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda route: route.abort())
    context.set_default_timeout(10_000)
    w = Watched(context.new_page())
    try:
        yield w
        assert w.foreign_requests() == [] and w.errors == []
    finally:
        context.close()


def drag_marker(page, dx: int, dy: int, container: str = "") -> tuple[float, float]:
    """Drag the (only) draggable marker by dx, dy pixels; the point the hidden fields then hold."""
    before = point(page)
    marker = page.locator(f"{container} .leaflet-marker-icon".strip())
    marker.scroll_into_view_if_needed()
    settle(page)
    x, y = tip(marker)
    page.mouse.move(x, y - 20)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y - 20 + dy / 2, steps=5)
    page.mouse.move(x + dx, y - 20 + dy, steps=5)
    page.mouse.up()
    page.wait_for_function("lat => +document.getElementById('f-lat').value !== lat", arg=before[0])
    return point(page)


def submit_in_browser(page, server: str, name: str) -> tuple[str, tuple[float, float]]:
    """Fill in the form, preview, drag the point, confirm: (private link, the point)."""
    page.goto(server + "/einreichen")
    for key, value in dict(PROJECT, name=name).items():
        page.fill(f"#{key}", value)
    page.check(f"input[name=fields][value={FIELD}]")
    page.check("#consent")
    page.get_by_role("button", name="Weiter zur Vorschau").click()
    preview = page.locator("section.preview")
    preview.wait_for()
    # The gazetteer knows no streets: the preview says so and asks for the point.
    assert "Die Straße „Rathausstraße 1“ haben wir nicht gefunden." in preview.inner_text()
    assert "Ortsmitte der Gemeinde" in page.locator("#point-precision").inner_text()
    page_shot(page, "lifecycle-00-preview-street-not-found")
    placed = drag_marker(page, 120, 60)
    page.get_by_role("button", name="Bestätigen und einreichen").click()
    page.wait_for_url(re.compile(r"/einreichung/[\w-]{40,}\?neu=1$"))
    return page.url.split("?")[0], placed


def approve_in_browser(page, server: str, name: str) -> str:
    """The Lüneburg office approves the submission `name`; its project id."""
    log_in(page, server, LUENEBURG)
    page.locator("table.queue").get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(r"/verwaltung/einreichungen/[\w-]+$"))
    project_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    page.get_by_role("button", name="Freigeben", exact=True).click()
    page.wait_for_url(re.compile(r"/verwaltung/$"))
    return project_id


def test_a_hand_placed_point_is_kept_and_a_withdrawn_project_leaves_the_map(
    watched, browser, server
):
    page = watched.page
    name = "Sprachpatenschaften Luhe"
    link, placed = submit_in_browser(page, server, name)
    facts = page.locator("dl.facts").inner_text()
    assert "von Hand auf der Karte gesetzt" in facts and point(page) == placed

    office = browser.new_context(locale="de-DE")
    try:
        office.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda r: r.abort())
        officer = Watched(office.new_page())
        project_id = approve_in_browser(officer.page, server, name)
        assert officer.errors == []
    finally:
        office.close()

    page.goto(server + "/?q=" + quote(name))
    assert marker_count(page) == 1
    [feature] = api_projects(server, name)["features"]
    assert feature["properties"]["precision"] == "manual"
    assert feature["geometry"]["coordinates"][::-1] == pytest.approx(list(placed), abs=1e-6)

    # The private link still works after the approval; withdrawing asks first.
    page.goto(link)
    assert page.locator("#submission-status").inner_text() == "freigegeben und im Atlas sichtbar"
    assert page.locator("#change-heading").inner_text() == "Änderung beantragen"
    page_shot(page, "lifecycle-00-status-published")
    page.get_by_role("button", name="Einreichung zurückziehen …").click()
    page.wait_for_url(re.compile(r"/zurueckziehen\??$"))  # a GET form without fields
    assert "verschwindet das Projekt sofort aus dem Atlas" in page.locator("main").inner_text()
    page_shot(page, "lifecycle-01-withdraw-confirm")
    page.get_by_role("link", name="Nein, zurück zu meiner Einreichung").click()
    page.wait_for_url(link)
    assert api_projects(server, name)["total"] == 1  # changing one's mind deletes nothing
    page.get_by_role("button", name="Einreichung zurückziehen …").click()
    page.get_by_role("button", name="Ja, endgültig zurückziehen und Daten löschen").click()
    assert page.locator("h1").inner_text() == "Einreichung zurückgezogen"
    assert "nicht mehr im Atlas" in page.locator("main").inner_text()

    # Gone at once: from the map, its list and the API.
    page.goto(server + "/?q=" + quote(name))
    assert marker_count(page) == 0
    assert page.locator(".results > li.project").count() == 0
    assert api_projects(server, name)["total"] == 0
    assert page.goto(f"{server}/projekte/{project_id}").status == 404
    watched.errors = [e for e in watched.errors if f"/projekte/{project_id}" not in e]
    assert page.goto(link).status == 404
    watched.errors = [e for e in watched.errors if link not in e]


def test_an_officer_keeps_the_point_and_moves_it_on_the_map_on_a_phone(phone, server):
    page = phone.page
    name = "Hausaufgabenhilfe Aue"
    _, placed = submit_in_browser(page, server, name)
    log_in(page, server, LUENEBURG)
    page.locator("table.queue").get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(r"/verwaltung/einreichungen/[\w-]+$"))
    item = page.url
    assert point(page) == placed
    assert page.locator("#item-precision").inner_text() == "von Hand auf der Karte gesetzt"

    # "Bearbeiten und freigeben" with a new name only: the point and the contact stay.
    page.get_by_text("Bearbeiten und freigeben", exact=True).click()
    page.fill("#name", name + " Winsen")
    page.get_by_role("button", name="Änderungen speichern und freigeben").click()
    page.wait_for_url(re.compile(r"/verwaltung/$"))
    [feature] = api_projects(server, name + " Winsen")["features"]
    assert feature["geometry"]["coordinates"][::-1] == pytest.approx(list(placed), abs=1e-6)
    assert feature["properties"]["precision"] == "manual"
    page.goto(item)
    assert "Erika Beispiel · erika@example.org" in page.locator("dl.facts").inner_text()
    assert page.locator("#item-status").inner_text().startswith("freigegeben")

    # Published: the officer drags the point on the item's map and saves.
    moved = drag_marker(page, -80, 40, ".admin-map")
    assert "Punkt verschoben auf" in page.locator("#point-status").inner_text()
    page.get_by_text("Bearbeiten", exact=True).click()
    page.get_by_role("button", name="Änderungen speichern", exact=True).click()
    page.wait_for_url(item)
    assert "ist weiter im Atlas" in page.locator(".notice").inner_text()
    page_shot(page, "lifecycle-02-officer-moved-point-phone")
    [feature] = api_projects(server, name + " Winsen")["features"]
    assert feature["geometry"]["coordinates"][::-1] == pytest.approx(list(moved), abs=1e-6)
    assert moved != placed
    assert "Erika Beispiel" in page.locator("dl.facts").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
