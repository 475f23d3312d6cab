"""The map's clusters from the server, in Chromium: a click on a cluster zooms to where it
splits and shows its projects; map, status line and list agree after filtering and zooming."""

from __future__ import annotations

import json
import re
import urllib.request

from tests.support.browser import marker_count, settle, shot

DRAWN = """() => {
    const map = window[document.getElementById('atlas-map-config').dataset.map];
    const size = map.getSize();
    const nodes = [];
    for (const e of document.querySelectorAll('.leaflet-marker-icon.project-marker, .marker-cluster')) {
        const r = e.getBoundingClientRect(), box = map.getContainer().getBoundingClientRect();
        const x = r.left + r.width / 2 - box.left, y = r.top + r.height / 2 - box.top;
        const span = e.querySelector('span');
        nodes.push({x, y, count: span ? +span.textContent : 1,
                    visible: x >= 0 && y >= 0 && x <= size.x && y <= size.y});
    }
    return {zoom: map.getZoom(), nodes};
}"""


def drawn(page) -> dict:
    return page.evaluate(DRAWN)


def heading_total(page) -> int:
    return int(re.match(r"\s*(\d+) Projekt", page.locator("#results-heading").inner_text())[1])


def test_clicking_a_cluster_zooms_to_where_it_splits_and_shows_its_projects(watched, server):
    page = watched.page
    page.goto(server + "/")
    total = marker_count(page)
    before = drawn(page)
    assert sum(n["count"] for n in before["nodes"]) == total
    cluster = page.locator(".marker-cluster").first
    count = int(cluster.inner_text())
    assert count >= 2 and cluster.get_attribute("aria-label") == f"{count} Projekte – vergrößern"
    cluster.click()
    page.wait_for_function(
        "z => window[document.getElementById('atlas-map-config').dataset.map].getZoom() > z",
        arg=before["zoom"],
    )
    settle(page)
    after = drawn(page)
    assert after["zoom"] > before["zoom"]
    # The map is centred on the cluster: its projects lie around the middle of the map, in more
    # than one marker now, and together as many as the cluster said.
    size = page.locator(".map-panel .leaflet-container").bounding_box()
    middle = (size["width"] / 2, size["height"] / 2)
    scale = 2 ** (after["zoom"] - before["zoom"])
    reach = 70 * scale  # the clustering radius (60 px) and a marker's half, scaled
    near = [
        n
        for n in after["nodes"]
        if (n["x"] - middle[0]) ** 2 + (n["y"] - middle[1]) ** 2 <= reach**2
    ]
    assert len(near) >= 2
    assert sum(n["count"] for n in near) >= count
    # The status line still counts every match; the markers drawn are the view's.
    assert marker_count(page) == total
    shot(page, "clusters-01-after-click")


def test_map_status_and_list_agree_after_filtering(watched, server):
    page = watched.page
    page.goto(server + "/")
    everything = marker_count(page)
    page.select_option("#f-field", "sprache")
    page.select_option("#f-region", "leine-weser")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url(re.compile(r"[?&]region=leine-weser"))
    filtered = marker_count(page)
    assert 0 < filtered < everything
    assert filtered == heading_total(page)
    view = drawn(page)
    assert sum(n["count"] for n in view["nodes"]) == filtered
    # The API's own count for the same filters (what the list pages through) says the same.
    url = f"{server}/api/projects?field=sprache&region=leine-weser&limit=1"
    with urllib.request.urlopen(url) as answer:
        assert json.load(answer)["total"] == filtered
    # Zoomed in, the markers drawn are those of the view; the count stays the filter's.
    page.locator(".leaflet-control-zoom-in").click()
    settle(page)
    page.locator(".leaflet-control-zoom-in").click()
    settle(page)
    zoomed = drawn(page)
    assert zoomed["zoom"] == view["zoom"] + 2
    assert sum(n["count"] for n in zoomed["nodes"]) <= filtered
    assert marker_count(page) == filtered


def test_the_first_view_comes_with_the_page_and_the_next_is_asked_for(watched, server):
    """On a desk's and a phone's screen the map draws its first view from the page itself (no
    request waited for); a zoom asks the server for the new view."""
    page = watched.page
    # The moment the first view is drawn, noted by the page itself (as the status line shows
    # its count), to compare with when any request for clusters started.
    page.add_init_script("""new MutationObserver((_, watcher) => {
        const status = document.getElementById('map-status');
        if (status && status.dataset.count) { window.__drawnAt = performance.now(); watcher.disconnect(); }
    }).observe(document, {subtree: true, childList: true, attributes: true});""")
    for width, height in ((1280, 860), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(server + "/")
        total = marker_count(page)
        assert sum(n["count"] for n in drawn(page)["nodes"]) == total
        state = page.evaluate("""() => {
            const map = window[document.getElementById('atlas-map-config').dataset.map];
            const asked = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/api/clusters')).map(e => [e.name, e.startTime]);
            return {drawnAt: window.__drawnAt, asked, zoom: map.getZoom(), size: map.getSize()};
        }""")
        early = [url for url, start in state["asked"] if start < state["drawnAt"]]
        assert early == [], f"the first view at {width} px waited for {early}; {state}"
    asked = []
    page.on("request", lambda r: "/api/clusters" in r.url and asked.append(r.url))
    page.locator(".leaflet-control-zoom-in").click()
    settle(page)
    assert len(asked) == 1 and "zoom=" in asked[0]
    assert marker_count(page) == total
