"""A volunteer's search near a place, in a real browser at phone (390 × 844) and desk (1280)
sizes: the choices for an unclear place where the eye is, in German; what the heading says
the distances are measured from; the device's location; region zoom; contradicting filters;
and the Back button (issue 13, "Volunteers")."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import Watched, marker_count, settle, shot

SIZES = {"phone": (390, 844), "desk": (1280, 860)}
#: Leaflet's map object: the folium map's name in the page (atlas.js reads it the same way).
MAP = "window[document.getElementById('atlas-map-config').dataset.map]"
HANNOVER_LINDEN = {"latitude": 52.3751, "longitude": 9.7094}


@pytest.fixture(params=sorted(SIZES))
def visitor(request, browser, server):
    """A page at phone or desk size that may ask for the location (Hannover-Linden); like
    `watched`, it fails on console errors and on requests to hosts other than its own."""
    width, height = SIZES[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale="de-DE",
        geolocation=HANNOVER_LINDEN,
        permissions=["geolocation"],
    )
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda route: route.abort())
    context.set_default_timeout(10_000)
    w = Watched(context.new_page())
    w.size, w.height = request.param, height
    try:
        yield w
        assert w.foreign_requests() == [] and w.errors == []
    finally:
        context.close()


def heading(page) -> str:
    return " ".join(page.locator("#results-heading").inner_text().split())


def on_first_screen(page, locator, height: int) -> bool:
    box = locator.bounding_box()
    return (
        bool(box) and locator.is_visible() and box["y"] >= 0 and box["y"] + box["height"] <= height
    )


def apply_filters(page, wait_for: str, **selects: str) -> None:
    """Choose in the filter form's selects (region=…, district=…) and send it."""
    for name, value in selects.items():
        page.select_option(f"#f-{name}", value)
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(wait_for))


def search(page, text: str) -> None:
    page.fill("#f-near", text)
    page.locator("#f-near").press("Enter")
    page.wait_for_load_state("domcontentloaded")


def test_an_unclear_place_shows_its_choices_in_german_where_the_visitor_looks(visitor, server):
    page = visitor.page
    page.goto(server + "/")
    search(page, "Winsen")
    status = page.locator("#map-status")
    assert "„Winsen“ gibt es mehrmals. Welchen meinen Sie?" in status.inner_text()
    for text in (status.inner_text(), page.locator("#place-problem").inner_text()):
        assert "Winsen (Luhe) (Landkreis Harburg)" in text
        assert "Winsen (Aller) (Landkreis Celle)" in text
    assert "ambiguous" not in page.content() and "candidates" not in status.inner_text()
    # One of the two lists of choices is on the first screen, without scrolling.
    choices = [
        page.locator(s).get_by_role("link", name="Winsen (Luhe)")
        for s in ("#map-status", "#place-problem")
    ]
    assert any(on_first_screen(page, c, visitor.height) for c in choices)
    shot(page, f"nearby-winsen-{visitor.size}")
    next(c for c in choices if c.is_visible()).click()
    page.wait_for_url(re.compile(r"[?&]near=Winsen\+%28Luhe%29"))
    assert heading(page).endswith("im Umkreis von 25 km um Winsen (Luhe) (Ortsmitte)")
    assert page.locator("#f-near").input_value() == "Winsen (Luhe)"
    assert marker_count(page) >= 0  # the status line is back to the count, in German


def test_the_heading_says_what_a_postcode_stands_for(visitor, server):
    page = visitor.page
    page.goto(server + "/")
    search(page, "30451")
    assert heading(page).endswith("im Umkreis von 25 km um 30451 Hannover")
    assert "Postleitzahlgebiets 30451" in page.locator("#near-note").inner_text()
    marker_count(page)
    shot(page, f"nearby-30451-{visitor.size}")
    search(page, "30175")  # GeoNames knows no point of its own for 30175: the town's centre
    assert heading(page).endswith("um 30175 Hannover (Ortsmitte)")
    assert "kennt der Atlas nur den Ort" in page.locator("#near-note").inner_text()


def test_my_location_is_named_as_such(visitor, server):
    page = visitor.page
    page.goto(server + "/projekte")
    page.get_by_role("button", name="Meinen Standort verwenden").click()
    page.wait_for_url(re.compile(r"near_source=device"))
    assert heading(page).split(" – ")[0].endswith("im Umkreis von 25 km um Ihren Standort")
    assert not re.search(r"\d+\.\d{3}", heading(page))
    # A place typed over the coordinates is a place again, not "your location".
    search(page, "Lüneburg")
    assert "near_source=device" not in page.url
    assert "um Lüneburg (Ortsmitte)" in heading(page)


@pytest.mark.parametrize("place", ["Bremen", "Hamburg"])
def test_a_place_outside_is_outside_not_a_typo(visitor, server, place):
    page = visitor.page
    page.goto(server + "/")
    search(page, place)
    message = f"„{place}“ liegt nicht in Niedersachsen."
    assert page.locator("#map-status").inner_text().strip() == message
    assert page.locator("#place-problem").inner_text().strip() == message


def _view(page) -> dict:
    settle(page)
    return page.evaluate(f"""() => {{ const b = {MAP}.getBounds();
        return {{west: b.getWest(), east: b.getEast(), south: b.getSouth(), north: b.getNorth()}}; }}""")


def test_the_region_filter_zooms_the_map_to_the_region(visitor, server):
    page = visitor.page
    page.goto(server + "/")
    everything = _view(page)
    apply_filters(page, r"[?&]region=weser-ems", region="weser-ems")
    marker_count(page)
    view = _view(page)
    assert view["east"] - view["west"] < everything["east"] - everything["west"]
    centre = ((view["west"] + view["east"]) / 2, (view["south"] + view["north"]) / 2)
    assert 6.6 < centre[0] < 8.8 and 52.0 < centre[1] < 53.8  # Weser-Ems
    shot(page, f"nearby-region-weser-ems-{visitor.size}")


def test_contradicting_filters_say_so(visitor, server):
    page = visitor.page
    page.goto(server + "/")
    apply_filters(page, r"district=03241", region="weser-ems", district="03241")
    said = "„Region Hannover“ liegt in der Region Leine-Weser, nicht in der Region Weser-Ems."
    assert said in page.locator("#map-status").inner_text()
    page.get_by_role("link", name="Nur Region Hannover zeigen").click()
    page.wait_for_url(re.compile(r"/\?(?!.*region=).*district=03241"))
    assert marker_count(page) > 0


def test_back_shows_the_form_that_matches_the_results(visitor, server):
    page = visitor.page
    page.goto(server + "/projekte?field=sprache")
    first = heading(page)
    page.select_option("#f-field", "teilhabe")
    page.select_option("#f-region", "lueneburg")
    page.fill("#f-near", "Lüneburg")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(r"region=lueneburg"))
    page.go_back()
    page.wait_for_url(re.compile(r"/projekte\?field=sprache$"))
    page.wait_for_load_state("load")
    assert heading(page) == first
    assert page.locator("#f-field").input_value() == "sprache"
    assert page.locator("#f-region").input_value() == ""
    assert page.locator("#f-near").input_value() == ""
