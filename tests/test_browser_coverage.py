"""The coverage pages in a real browser: open a region, switch the field, change the distance.

Uses the served instance, browser and request watch of tests/support/browser.py (300 synthetic
projects, ATLAS_TILES=none, Debian's Chromium): every page may ask only 127.0.0.1 and log no error.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.browser import marker_count, shot

MAP = "window[document.getElementById('atlas-map-config').dataset.map]"


def district_tooltip(page, name: str) -> str:
    """Hover a district on the choropleth (by its layer, whatever lies on top) and read the tooltip."""
    page.evaluate(
        f"""name => {{ {MAP}.eachLayer(l => {{
        if (l.feature && l.feature.geometry.type !== 'Point' && l.feature.properties.name === name)
            l.fire('mouseover', {{latlng: l.getBounds().getCenter()}}, true); }}); }}""",
        name,
    )
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    page.evaluate(f"() => {MAP}.eachLayer(l => l.closeTooltip && l.closeTooltip())")
    return text


def white_spots(page) -> tuple[int, int, int]:
    """(count the summary states, red circles on the map, rows in the list)."""
    stated = int(page.locator("#spots-summary").get_attribute("data-uncovered"))
    circles = page.locator("path.white-spot").count()
    rows = page.locator("#white-spots tbody tr").count()
    return stated, circles, rows


def table_counts(page, field: str | None = None) -> dict[str, int]:
    """District key → the number in the table's total column (or in a field's column)."""
    cell = f'td[data-field="{field}"]' if field else "td:nth-of-type(2)"
    return dict(
        page.locator("#district-table tbody tr").evaluate_all(
            f"""rows => rows.map(r => [r.dataset.district, +r.querySelector('{cell}').dataset.value])"""
        )
    )


def test_a_region_by_field_and_distance(watched, server):
    page = watched.page
    page.goto(server + "/regionen")
    assert page.locator("#region-table tbody tr").count() == 4
    shot(page, "coverage-01-overview")
    page.locator("#region-table").get_by_role("link", name="Lüneburg").click()
    page.wait_for_url(re.compile(r"/regionen/lueneburg$"))
    assert page.locator("h1").inner_text() == "Abdeckung in der Region Lüneburg"

    # All fields: markers of the whole region, eleven districts, the table's totals.
    everything = marker_count(page)
    assert everything == int(page.locator("#region-total").inner_text().split()[0].replace(".", ""))
    assert page.locator("#district-table tbody tr").count() == 11
    totals = table_counts(page)
    assert sum(totals.values()) == everything
    harburg_all = district_tooltip(page, "Harburg")
    assert harburg_all.startswith("Harburg") and f"{totals['03353']} Projekt" in harburg_all
    all_spots = white_spots(page)
    assert all_spots[0] == all_spots[1] == all_spots[2]
    assert "GeoBasis-DE / BKG" in page.locator(".leaflet-control-attribution").inner_text()
    shot(page, "coverage-02-lueneburg-all-fields")

    # Switch the field: fewer markers, the map and the table speak of Sprache.
    page.locator(".field-switch").get_by_role("link", name="Sprache").click()
    page.wait_for_url(re.compile(r"[?&]field=sprache(&|$)"))
    sprache = marker_count(page)
    assert 0 < sprache < everything
    in_field = table_counts(page, "sprache")
    harburg = district_tooltip(page, "Harburg")
    assert f"{in_field['03353']} Projekt" in harburg and harburg != harburg_all
    assert page.locator("#map-legend h3").inner_text().endswith("– Sprache")
    assert page.locator("#district-table th.current").inner_text().startswith("Sprache")
    assert page.locator('.field-switch a[aria-current="true"]').inner_text() == "Sprache"
    at_15 = white_spots(page)
    assert at_15[0] == at_15[1] == at_15[2] > all_spots[0]  # one field is sparser than all
    assert "mehr als 15 km" in page.locator("#spots-heading").inner_text()
    shot(page, "coverage-03-lueneburg-sprache-15km")

    # Change the distance: more white spots at 5 km, drawn and listed, farthest first.
    page.fill("#c-distance", "5")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(r"[?&]distance_km=5(&|$)"))
    assert parse_qs(urlsplit(page.url).query)["field"] == ["sprache"]  # the field stays
    marker_count(page)
    at_5 = white_spots(page)
    assert at_5[0] == at_5[1] == at_5[2] > at_15[0]
    assert "mehr als 5 km" in page.locator("#spots-heading").inner_text()
    distances = [
        float(v)
        for v in page.locator("#white-spots td[data-km]").evaluate_all(
            "cells => cells.map(c => c.dataset.km)"
        )
    ]
    assert distances == sorted(distances, reverse=True) and distances[-1] > 5
    shot(page, "coverage-04-lueneburg-sprache-5km")

    # Sort the table by the field's column, most projects first, with the keyboard.
    page.locator('#district-table a[data-sort="sprache"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]sort=sprache(&|$)"))
    values = list(table_counts(page, "sprache").values())
    assert values == sorted(values, reverse=True)
    header = page.locator("#district-table th[aria-sort]")
    assert header.get_attribute("aria-sort") == "descending" and "Sprache" in header.inner_text()
    assert white_spots(page) == at_5  # distance and field are kept
    page.locator("#table-heading").scroll_into_view_if_needed()
    shot(page, "coverage-05-lueneburg-sorted")


@pytest.mark.parametrize(
    "path",
    [
        "/regionen",
        "/regionen/weser-ems?field=teilhabe&distance_km=12.5",
        "/regionen/braunschweig?sort=name&order=desc",
    ],
)
def test_coverage_pages_log_no_errors(watched, server, path):
    response = watched.page.goto(server + path)
    assert response.status == 200
    watched.page.wait_for_load_state("networkidle")


def test_a_click_on_a_region_opens_it_and_sorting_stays_at_the_table(watched, server):
    page = watched.page
    page.goto(server + "/regionen?field=sprache")
    page.locator("#coverage-map-config").wait_for(state="attached")
    page.locator(".coverage-map").scroll_into_view_if_needed()
    # Lüneburg (the town) on the screen, wherever the map has put it.
    x, y = page.evaluate("""() => {
        const m = window[document.getElementById('coverage-map-config').dataset.map];
        const p = m.latLngToContainerPoint([53.25, 10.41]);
        const box = m.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""")
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"/regionen/lueneburg\?field=sprache$"))
    assert page.locator("h1").inner_text() == "Abdeckung in der Region Lüneburg"
    assert page.locator(".field-switch").count() == 1 and page.locator("#c-field").count() == 0

    page.locator('#district-table a[data-sort="population"]').click()
    page.wait_for_url(re.compile(r"[?&]sort=population&order=desc#table-heading$"))
    # The new page scrolls (smoothly) to the table's heading, not back to its top.
    page.wait_for_function(
        "() => Math.abs(document.getElementById('table-heading').getBoundingClientRect().top) < 50"
    )
    assert page.evaluate("window.scrollY") > 300
    assert parse_qs(urlsplit(page.url).query)["field"] == ["sprache"]
    shot(page, "coverage-06-sorted-at-the-table")
