"""The public atlas in a real browser: a served instance, Debian's Chromium, Playwright.

What the Flask test client cannot see: the clustered markers built by atlas.js, popups filled
from the API, keyboard use, console errors, and that the page asks no host but its own.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from atlas.core.fields import FIELD_COLOURS, FIELDS
from tests.support.browser import DEMO_COUNT, marker_count, shot, zoom_to_a_single_marker


def heading_total(page) -> int:
    return int(
        re.match(r"\s*(\d+) Projekt", page.locator("#results-heading").inner_text()).group(1)
    )


def wait_until_all_markers_drawn(page, count: int) -> None:
    """Clustered children plus single markers in view must add up to the status count."""
    page.wait_for_function(
        """n => {
        let sum = document.querySelectorAll('.leaflet-marker-icon.project-marker').length;
        for (const c of document.querySelectorAll('.marker-cluster span')) sum += +c.textContent;
        return sum === n; }""",
        arg=count,
    )


def listed_fields(page) -> list[set[str]]:
    """The fields (by slug) of each project in the result list."""
    return page.locator(".results > li.project").evaluate_all("""items => items.map(li =>
        [...li.querySelectorAll('.field-tag')].map(t =>
            [...t.classList].find(c => c.startsWith('field-') && c !== 'field-tag').slice(6)))""")


def listed_names(page) -> list[str]:
    return page.locator(".results > li.project h3 a").all_inner_texts()


def test_map_shows_clustered_coloured_markers_for_all_projects(watched, server):
    page = watched.page
    page.goto(server + "/")
    count = marker_count(page)
    assert count >= DEMO_COUNT
    assert count == heading_total(page)
    clusters = page.locator(".marker-cluster")
    clusters.first.wait_for(state="visible")
    assert clusters.count() >= 3
    wait_until_all_markers_drawn(page, count)
    # The four regions are outlined and named; the legend shows every field's colour.
    for label in ("Braunschweig", "Leine-Weser", "Lüneburg", "Weser-Ems"):
        assert page.locator(".region-label", has_text=label).is_visible()
    swatches = page.locator(".legend .swatch").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)"
    )
    assert len(set(swatches)) == len(FIELDS)
    assert page.locator(".leaflet-control-attribution").inner_text().count("BKG") >= 1
    shot(page, "01-map-overview")


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_filter_by_field_narrows_map_and_list(watched, server):
    page = watched.page
    page.goto(server + "/")
    everything = marker_count(page)
    page.select_option("#f-field", "sprache")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(r"[?&]field=sprache(&|$)"))
    filtered = marker_count(page)
    assert 0 < filtered < everything
    assert filtered == heading_total(page)
    assert page.locator("#f-field").input_value() == "sprache"  # the form keeps the choice
    fields = listed_fields(page)
    assert fields and all("sprache" in f for f in fields)
    wait_until_all_markers_drawn(page, filtered)
    # Zoomed in, single markers appear, coloured as "Sprache" is in the legend.
    single = zoom_to_a_single_marker(page)
    assert single.evaluate("e => getComputedStyle(e).backgroundColor") == _rgb(
        FIELD_COLOURS["sprache"]
    )
    shot(page, "02-map-filtered-sprache")


def test_nearby_search_lists_projects_by_distance(watched, server):
    page = watched.page
    page.goto(server + "/")
    page.fill("#f-near", "30169")
    page.select_option("#f-radius", "25")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(r"[?&]near=30169"))
    assert parse_qs(urlsplit(page.url).query)["radius_km"] == ["25"]
    heading = page.locator("#results-heading").inner_text()
    assert "im Umkreis von 25 km" in heading and "Hannover" in heading
    distances = [
        float(t.replace(" km", "").replace(",", "."))
        for t in page.locator(".results .place strong").all_inner_texts()
    ]
    assert len(distances) >= 3
    assert distances == sorted(distances) and distances[-1] <= 25
    count = marker_count(page)
    assert count == heading_total(page)
    # The search circle is drawn around the place.
    assert page.locator("path.leaflet-interactive, .leaflet-overlay-pane path").count() >= 2
    shot(page, "03-map-nearby-30169")


def test_a_marker_popup_leads_to_the_project_page(watched, server):
    page = watched.page
    page.goto(server + "/?near=30169&radius_km=25")
    marker_count(page)
    zoom_to_a_single_marker(page).click()
    popup = page.locator(".leaflet-popup-content .popup")
    popup.wait_for()
    name = popup.locator("h3")
    try:
        name.wait_for(timeout=3000)
    except Exception:  # Playwright's TimeoutError
        pass  # the checks below say what went wrong
    fetched = [u for u in watched.requests if "/api/projects/" in u]
    assert len(fetched) == 1, (
        f"opening one popup fetched its project {len(fetched)} times; "
        f"the popup shows {popup.inner_text()!r}"
    )
    project_id = fetched[0].rsplit("/", 1)[1]
    assert name.inner_text().strip() not in ("", "Lädt …")
    link = popup.get_by_role("link", name="Details ansehen")
    assert link.is_visible() and link.get_attribute("href") == f"/projekte/{project_id}"
    page.wait_for_function("""() => getComputedStyle(
        document.querySelector('.leaflet-popup')).opacity === '1'""")  # faded in
    shot(page, "04-map-popup")
    title = name.inner_text()
    link.click()
    page.wait_for_url(f"**/projekte/{project_id}")
    assert page.locator("h1").inner_text() == title
    assert page.locator(".detail-map .folium-map").is_visible()
    shot(page, "06-detail")


def test_the_list_pages_through_all_projects(watched, server):
    page = watched.page
    page.goto(server + "/projekte")
    total = heading_total(page)
    pages = -(-total // 20)
    assert f"Seite 1 von {pages}" in page.locator("#results-heading").inner_text()
    first = listed_names(page)
    assert len(first) == 20
    current = page.locator('.pagination a[aria-current="page"]')
    assert current.inner_text() == "1"
    assert page.locator('.pagination a[rel="prev"]').count() == 0
    page.get_by_role("link", name="Nächste Seite").click()
    page.wait_for_url(re.compile(r"[?&]seite=2(&|$)"))
    second = listed_names(page)
    assert len(second) == 20 and not set(first) & set(second)
    assert current.inner_text() == "2"
    assert page.locator("ol.results").get_attribute("start") == "21"
    assert f"Seite 2 von {pages}" in page.locator("#results-heading").inner_text()
    shot(page, "05-list-page-2")
    page.locator('.pagination a[rel="prev"]').click()
    page.wait_for_url(re.compile(r"/projekte\??$"))
    assert listed_names(page) == first


def _tab_to(page, predicate: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return {predicate}; }}"):
            return
    pytest.fail(f"Tab never reached the element ({predicate})")


def test_the_list_filters_with_the_keyboard_alone(watched, server):
    page = watched.page
    page.goto(server + "/projekte")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Zum Inhalt springen"
    assert page.get_by_text("Zum Inhalt springen").is_visible()  # shown when focused
    _tab_to(page, "e.id === 'f-field'")
    # Focus is visible where the keyboard is.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("ArrowDown")  # the first field of action
    first_field = next(iter(FIELDS))
    assert page.locator("#f-field").input_value() == first_field
    _tab_to(page, "e.type === 'submit'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"[?&]field={first_field}(&|$)"))
    fields = listed_fields(page)
    assert fields and all(first_field in f for f in fields)


def test_pages_log_no_errors(watched, server):
    """Every public page once more: the fixture fails on console errors or foreign requests."""
    page = watched.page
    for path in (
        "/",
        "/?field=teilhabe&region=weser-ems",
        "/projekte?q=Testprojekt&sort=newest",
        "/projekte/synthetic-7-000000",
    ):
        response = page.goto(server + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert watched.requests  # the listener really saw the traffic
