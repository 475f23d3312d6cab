"""Submitting a project and moderating it, in a real browser against a served instance.

An initiative fills in the form, moves the point on the preview map, confirms; the Lüneburg
office logs in, approves; the project is then on the public map where the submitter put it.
Officers of another region are turned away. Nothing is asked of any host but 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import quote, urlsplit

import pytest

from tests.support.browser import SCREENSHOTS, Watched, marker_count, settle, shot
from tests.support.live_server import atlas_env, free_port, run_atlas, served

PASSWORD = "ein-sicheres-passwort-2024"
LUENEBURG = "pruefung@arl-lg.example"
WESER_EMS = "pruefung@arl-we.example"
PROJECT = {
    "name": "Nachbarschaftsgarten Luhe-Aue",
    "organisation": "Gartenfreunde Winsen e. V.",
    "description": "Geflüchtete und Alteingesessene bewirtschaften gemeinsam Beete; "
    "jeden Samstag wird geerntet und gekocht.",
    "street": "Rathausstraße 1",
    "postcode": "21423",
    "city": "Winsen (Luhe)",
    "website": "https://gartenfreunde-winsen.example/",
    "contact_name": "Erika Beispiel",
    "contact_email": "erika@example.org",
}
FIELD = "teilhabe"
OFFICE = "Amt für regionale Landesentwicklung Lüneburg"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`atlas init`, one officer in Lüneburg and one in Weser-Ems, rate limits off, served."""
    port = free_port()  # the private link is built on ATLAS_PUBLIC_URL: this server's address
    env = atlas_env(
        tmp_path_factory.mktemp("submission-instance"),
        ATLAS_RATELIMIT_ENABLED="0",
        ATLAS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    init = run_atlas(["init"], env)
    assert init.returncode == 0, f"atlas init failed:\n{init.stdout}\n{init.stderr}"
    for email, region in ((LUENEBURG, "lueneburg"), (WESER_EMS, "weser-ems")):
        # The password comes from standard input (not a terminal), never from the arguments.
        added = run_atlas(["users", "add", email, "--region", region], env, input=PASSWORD + "\n")
        assert added.returncode == 0, f"atlas users add failed:\n{added.stdout}\n{added.stderr}"
        assert PASSWORD not in added.stdout + added.stderr
    with served(env, port=port) as (_proc, base):
        yield base


def page_shot(page, name: str) -> None:
    """The whole page, not just the window: forms are longer than the screen."""
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def tip(marker) -> tuple[float, float]:
    """Where the pin points: the bottom centre of Leaflet's default marker icon."""
    box = marker.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"]


def point(page) -> tuple[float, float]:
    return float(page.input_value("#f-lat")), float(page.input_value("#f-lon"))


def api_projects(server: str, q: str) -> dict:
    with urllib.request.urlopen(f"{server}/api/projects?q={quote(q)}", timeout=10) as answer:
        return json.load(answer)


def log_in(page, server: str, email: str) -> None:
    page.goto(server + "/verwaltung/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(re.compile(r"/verwaltung/$"))
    assert email in page.locator(".admin-bar").inner_text()


def log_out(page) -> None:
    page.locator(".admin-bar").get_by_role("button", name="Abmelden").click()
    page.wait_for_url(re.compile(r"/verwaltung/login$"))


def answered_with(w: Watched, status: int, url: str) -> None:
    """An error status the test asked for: Chromium logs it, which is no fault of the page."""
    expected = f"console: Failed to load resource: the server responded with a status of {status} "
    hits = [e for e in w.errors if e.startswith(expected) and e.endswith(f"({url})")]
    assert len(hits) == 1, w.errors
    w.errors.remove(hits[0])


def field_error(page, field_id: str) -> str:
    control = page.locator(f"#{field_id}")
    assert control.get_attribute("aria-invalid") == "true", field_id
    return page.locator(f"#{field_id}-error").inner_text()


def test_an_empty_form_explains_each_missing_field_next_to_it(watched, server):
    page = watched.page
    page.goto(server + "/einreichen")
    with page.expect_response(server + "/einreichen") as answer:
        page.get_by_role("button", name="Weiter zur Vorschau").click()
    assert answer.value.status == 400
    page.wait_for_load_state()
    answered_with(watched, 400, server + "/einreichen")
    assert (
        page.locator(".problem[role=alert]")
        .first.inner_text()
        .startswith("Bitte prüfen Sie die markierten Felder.")
    )
    assert field_error(page, "name") == "Bitte den Namen des Projekts angeben."
    assert field_error(page, "description") == "Bitte beschreiben Sie kurz, was das Projekt tut."
    assert field_error(page, "postcode") == "Bitte die Postleitzahl angeben."
    assert field_error(page, "city") == "Bitte den Ort angeben."
    assert field_error(page, "contact_email").startswith("Bitte eine E-Mail-Adresse angeben")
    assert field_error(page, "consent").startswith("Ohne Ihre Einwilligung")
    fields_error = page.locator("#fields-error").inner_text()
    assert fields_error == "Bitte mindestens ein Handlungsfeld wählen."
    # Optional fields are not marked, and no preview or confirm button is offered yet.
    for optional in ("organisation", "street", "website", "contact_name"):
        assert page.locator(f"#{optional}").get_attribute("aria-invalid") is None, optional
    assert page.locator("#confirm-button").count() == 0
    page_shot(page, "submit-01-form-errors")
    assert api_projects(server, "Luhe-Aue")["total"] == 0


def test_submit_correct_the_point_approve_and_find_it_on_the_map(watched, browser, server):
    page = watched.page
    page.goto(server + "/einreichen")
    for name, value in PROJECT.items():
        page.fill(f"#{name}", value)
    page.check(f"input[name=fields][value={FIELD}]")
    page.check("#consent")
    page.get_by_role("button", name="Weiter zur Vorschau").click()

    # The preview names the district and the office that will review the project.
    preview = page.locator("section.preview")
    preview.wait_for()
    assert "Harburg" in preview.locator("strong").first.inner_text()
    assert preview.locator("strong").nth(1).inner_text() == OFFICE
    assert page.locator("#name").input_value() == PROJECT["name"]  # the form keeps it all
    geocoded = point(page)
    assert 53.2 < geocoded[0] < 53.5 and 10.0 < geocoded[1] < 10.4  # Winsen (Luhe)

    marker = page.locator(".leaflet-marker-icon")
    marker.wait_for()
    marker.scroll_into_view_if_needed()  # the map column is taller than the window
    settle(page)

    # Click the map north-west of the marker: the marker jumps there, the hidden fields follow.
    x, y = tip(marker)
    page.mouse.click(x - 150, y - 80)
    page.wait_for_function(
        "lat => +document.getElementById('f-lat').value !== lat", arg=geocoded[0]
    )
    clicked = point(page)
    assert clicked[0] > geocoded[0] and clicked[1] < geocoded[1]
    # the marker stands where the hidden fields say (the page may scroll the map on focus)
    assert page.evaluate("""() => {
        const cfg = document.getElementById('point-config').dataset;
        const ll = window[cfg.marker].getLatLng();
        return [ll.lat.toFixed(6), ll.lng.toFixed(6)];
    }""") == [page.input_value("#f-lat"), page.input_value("#f-lon")]

    # Then drag the marker 200 px right and 100 px down (south-east of the clicked point).
    x, y = tip(marker)
    page.mouse.move(x, y - 20)  # grab the pin's body, above its tip
    page.mouse.down()
    page.mouse.move(x + 100, y + 30, steps=5)
    page.mouse.move(x + 200, y + 80, steps=5)
    page.mouse.up()
    page.wait_for_function("lat => +document.getElementById('f-lat').value !== lat", arg=clicked[0])
    corrected = point(page)
    assert corrected[0] < clicked[0] and corrected[1] > clicked[1]
    assert corrected[0] < geocoded[0] and corrected[1] > geocoded[1]  # net: 50 px E, 20 px S
    assert tip(marker) == pytest.approx((x + 200, y + 100), abs=2)
    status = page.locator("#point-status").inner_text()
    assert status.startswith(f"Punkt verschoben auf {corrected[0]:.6f}, {corrected[1]:.6f}.")
    page_shot(page, "submit-02-preview")

    page.get_by_role("button", name="Bestätigen und einreichen").click()
    page.wait_for_url(re.compile(r"/einreichung/[\w-]{40,}\?neu=1$"))
    assert page.locator("#submission-status").inner_text() == "wird geprüft"
    private = page.locator("#private-link")
    assert private.get_attribute("href") == page.url.split("?")[0]
    assert private.inner_text() == page.url.split("?")[0]
    facts = page.locator("dl.facts").inner_text()
    assert OFFICE in facts and "Harburg" in facts
    # The status page holds the corrected point, not the geocoded one.
    assert point(page) == corrected
    page_shot(page, "submit-03-status")
    assert api_projects(server, "Luhe-Aue")["total"] == 0  # pending: not public yet

    # An officer of another region neither sees it in the queue nor may open it.
    log_in(page, server, WESER_EMS)
    assert page.locator("table.queue").count() == 0
    assert "Keine offenen Einreichungen." in page.locator("main").inner_text()
    log_out(page)

    log_in(page, server, LUENEBURG)
    row = page.locator("table.queue tbody tr", has_text=PROJECT["name"])
    assert row.count() == 1
    assert "Harburg" in row.inner_text() and "21423 Winsen (Luhe)" in row.inner_text()
    page_shot(page, "submit-04-queue")
    row.get_by_role("link", name=PROJECT["name"]).click()
    page.wait_for_url(re.compile(r"/verwaltung/einreichungen/[\w-]+$"))
    item_url = page.url
    project_id = urlsplit(item_url).path.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == PROJECT["name"]
    assert page.locator("#item-status").inner_text() == "wartet auf Prüfung"
    facts = page.locator("dl.facts").inner_text()
    assert PROJECT["contact_email"] in facts and OFFICE in facts
    page.locator(".admin-map .leaflet-marker-icon").wait_for()
    page_shot(page, "submit-05-item")

    other = browser.new_context(locale="de-DE")
    try:
        other.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda r: r.abort())
        intruder = Watched(other.new_page())
        log_in(intruder.page, server, WESER_EMS)
        answer = intruder.page.goto(item_url)
        assert answer.status == 403
        assert PROJECT["contact_email"] not in intruder.page.content()
        assert PROJECT["name"] not in intruder.page.content()
        answered_with(intruder, 403, item_url)
        assert intruder.foreign_requests() == [] and intruder.errors == []
    finally:
        other.close()

    page.get_by_role("button", name="Freigeben").click()
    page.wait_for_url(re.compile(r"/verwaltung/$"))
    assert f"„{PROJECT['name']}“ wurde freigegeben." in page.locator(".notice").inner_text()
    assert page.locator("table.queue").count() == 0

    # Public at once: on the map, in the list beside it, in its popup, and in the API.
    page.goto(server + "/?q=" + quote("Luhe-Aue"))
    assert marker_count(page) == 1
    assert page.locator(".results > li.project h3 a").all_inner_texts() == [PROJECT["name"]]
    page.locator(".leaflet-marker-icon.project-marker").click()
    popup = page.locator(".leaflet-popup-content .popup h3")
    popup.wait_for()
    page.wait_for_function(
        """name => document.querySelector(
        '.leaflet-popup-content .popup h3').textContent.trim() === name""",
        arg=PROJECT["name"],
    )
    assert "Harburg" in page.locator(".leaflet-popup-content").inner_text()
    page.wait_for_function("""() => getComputedStyle(
        document.querySelector('.leaflet-popup')).opacity === '1'""")  # faded in
    shot(page, "submit-06-public-map")
    [feature] = api_projects(server, "Luhe-Aue")["features"]
    assert feature["properties"]["id"] == project_id
    lon, lat = feature["geometry"]["coordinates"]
    assert (lat, lon) == pytest.approx(corrected, abs=1e-6)
    props = feature["properties"]
    assert props["district_code"] == "03353" and props["region"] == "lueneburg"
    assert props["contact_email"] is None  # publishing it was not allowed
    assert props["fields"] == [FIELD] and props["website"] == PROJECT["website"]
