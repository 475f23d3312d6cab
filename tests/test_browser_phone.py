"""Every page on a phone and for assistive technology (BITV 2.0 / WCAG 2.1 AA), in a real browser.

At 390 × 844 and 320 × 640 (phones) and 1280 × 860 (a desk) no page scrolls sideways and axe-core
finds no WCAG 2.0/2.1 A or AA violation; the place search is on the first screen of the map page;
the preview map stands above the confirm button; the submitted point can be moved with the
keyboard or typed in; markers are named after their project; Leaflet's controls speak German.
axe-core is vendored for the tests only (tests/support/vendor/, scripts/vendor_test_assets.py).
"""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.support.accessibility import (
    DESK,
    PHONE,
    SMALL_PHONE,
    assert_no_sideways_scroll,
    axe_violations,
    describe,
)
from tests.support.browser import (
    SCREENSHOTS,
    Watched,
    marker_count,
    settle,
    zoom_to_a_single_marker,
)
from tests.support.live_server import atlas_env, atlas_server, run_atlas, submit

ADMIN = "landesweit@ml.example"
PASSWORD = "ein-sicheres-passwort-2024"
#: A curated project with a long web address (it once made its page 535 px wide at 320 px).
LONG_URL_PROJECT = "stark-im-beruf-awo-salzgitter"
SIZES = {"390": PHONE, "320": SMALL_PHONE, "1280": DESK}
PREVIEW = {
    "name": "Sprachpatenschaften Nordstadt",
    "description": "Ehrenamtliche üben einmal in der Woche Deutsch mit Geflüchteten, "
    "in der Bücherei der Nordstadt.",
    "street": "Engelbosteler Damm 57",
    "postcode": "30167",
    "city": "Hannover",
    "contact_email": "paten@example.org",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`atlas init`, 300 synthetic projects, an administrator, one pending submission."""
    env = atlas_env(tmp_path_factory.mktemp("phone-instance"), ATLAS_RATELIMIT_ENABLED="0")
    run_atlas(["init"], env, check=True)
    run_atlas(["demo-data", "--count", "300", "--seed", "7"], env, check=True)
    run_atlas(["users", "add", ADMIN, "--admin"], env, input=PASSWORD + "\n", check=True)
    with atlas_server(env) as base:
        status, link = submit(base, "Lesecafé für Geflüchtete Nordstadt", "lesecafe@example.org")
        assert status == 303 and "/einreichung/" in link, (status, link)
        yield {"base": base, "private_link": urlsplit(link).path}


@pytest.fixture
def open_page(browser, server):
    """A fresh context of the given size; afterwards no request left 127.0.0.1, no error."""
    contexts, pages = [], []

    def opener(size: dict) -> Watched:
        context = browser.new_context(
            viewport=size,
            locale="de-DE",
            is_mobile=size["width"] < 800,
            has_touch=size["width"] < 800,
        )
        context.route(
            re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda route: route.abort()
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        pages.append(Watched(context.new_page()))
        return pages[-1]

    try:
        yield opener
        for w in pages:
            assert w.foreign_requests() == [], "the page asked hosts other than its own"
            assert w.errors == [], "the page logged errors"
    finally:
        for context in contexts:
            context.close()


def log_in(page, base: str) -> None:
    page.goto(base + "/verwaltung/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(re.compile(r"/verwaltung/$"))


def fill_and_preview(page, base: str, contact: str | None = None) -> None:
    """The submission form filled with PREVIEW (from `contact`, when given: a submission of
    its own, not a double click that the atlas would refuse), up to its preview."""
    page.goto(base + "/einreichen")
    for name, value in {**PREVIEW, **({"contact_email": contact} if contact else {})}.items():
        page.fill(f"#{name}", value)
    page.check("input[name=fields][value=sprache]")
    page.check("#consent")
    page.get_by_role("button", name="Weiter zur Vorschau").click()
    page.locator("section.preview").wait_for()
    page.locator(".submit-map .leaflet-marker-icon").wait_for()


def go(page, server: dict, name: str) -> None:
    """Open one of the pages of the issue as a visitor (or, for /verwaltung, an administrator)."""
    base = server["base"]
    if name.startswith("verwaltung") and name != "verwaltung-login":
        log_in(page, base)
    if name == "karte":
        page.goto(base + "/")
        marker_count(page)
    elif name == "karte-umkreis":
        page.goto(base + "/?near=30169&radius_km=25")
        marker_count(page)
    elif name == "karte-mehrdeutig":  # a place with several candidates to choose from
        page.goto(base + "/?near=Winsen")
        page.wait_for_function(
            "() => !/geladen/.test(document.getElementById('map-status').textContent)"
        )
    elif name == "liste":
        page.goto(base + "/projekte?near=30169")
    elif name == "projekt":
        page.goto(f"{base}/projekte/{LONG_URL_PROJECT}")
    elif name == "einreichen":
        page.goto(base + "/einreichen")
    elif name == "einreichen-fehler":  # every field explains what is missing
        page.goto(base + "/einreichen")
        with page.expect_response(base + "/einreichen"):
            page.get_by_role("button", name="Weiter zur Vorschau").click()
        page.locator("#name-error").wait_for()
    elif name == "vorschau":
        fill_and_preview(page, base)
    elif name == "status":
        page.goto(base + server["private_link"])
    elif name == "regionen":
        page.goto(base + "/regionen")
    elif name == "region":
        page.goto(base + "/regionen/leine-weser")
    elif name == "verwaltung-login":
        page.goto(base + "/verwaltung/login")
    elif name == "verwaltung-liste":
        pass  # log_in ends on the queue
    elif name == "verwaltung-einreichung":
        page.locator("table.queue tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/verwaltung/einreichungen/[\w-]+$"))
    elif name == "verwaltung-protokoll":
        page.goto(base + "/verwaltung/protokoll")
    elif name == "verwaltung-postausgang":
        page.goto(base + "/verwaltung/postausgang")
    else:
        raise AssertionError(name)
    page.wait_for_load_state("load")
    settle(page)


PAGES = [
    "karte",
    "karte-umkreis",
    "karte-mehrdeutig",
    "liste",
    "projekt",
    "einreichen",
    "einreichen-fehler",
    "vorschau",
    "status",
    "regionen",
    "region",
    "verwaltung-login",
    "verwaltung-liste",
    "verwaltung-einreichung",
    "verwaltung-protokoll",
    "verwaltung-postausgang",
]


@pytest.mark.parametrize("width", SIZES)
@pytest.mark.parametrize("name", PAGES)
def test_page_fits_the_window_and_passes_axe(open_page, server, name, width):
    w = open_page(SIZES[width])
    page = w.page
    go(page, server, name)
    assert_no_sideways_scroll(page, f"{name} at {width} px")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}-{width}.png"), full_page=True)
    violations = axe_violations(page)
    assert violations == [], f"axe-core on {name} at {width} px:\n{describe(violations)}"
    if name.endswith(("fehler", "mehrdeutig")):  # Chromium logs the 400 the test asked for
        w.errors[:] = [e for e in w.errors if "status of 400" not in e]


# --- the map page on a phone ---------------------------------------------------------------------


@pytest.mark.parametrize("width", ["390", "320"])
def test_the_place_search_comes_first_on_a_phone(open_page, server, width):
    size = SIZES[width]
    page = open_page(size).page
    page.goto(server["base"] + "/")
    marker_count(page)
    search = page.locator("#f-near").bounding_box()
    assert 0 <= search["y"] and search["y"] + search["height"] <= size["height"], search
    if width == "390":  # with the button that sends it (at 320 × 640, Enter does)
        button = page.get_by_role("button", name="Anzeigen").bounding_box()
        assert button["y"] + button["height"] <= size["height"]
    # The map follows below (a link jumps there); it is not squeezed beside the form.
    the_map = page.locator("#karte").bounding_box()
    assert the_map["y"] > search["y"] + search["height"]
    assert the_map["width"] >= size["width"] - 2
    jump = page.get_by_role("link", name="Zur Karte springen")
    jump.click()
    # The map now fills the screen (the page may end before its top reaches the window's).
    page.wait_for_function(
        """h => { const top = document.getElementById('karte').getBoundingClientRect().top;
                  return location.hash === '#karte' && top >= -2 && top < h / 8; }""",
        arg=size["height"],
    )


def test_on_a_desk_search_and_map_share_the_first_screen(open_page, server):
    page = open_page(DESK).page
    page.goto(server["base"] + "/")
    marker_count(page)
    assert page.get_by_role("link", name="Zur Karte springen").is_hidden()
    search = page.locator("#f-near").bounding_box()
    the_map = page.locator("#karte").bounding_box()
    assert search["y"] + search["height"] < DESK["height"]
    assert the_map["x"] > search["x"] + search["width"] and the_map["y"] < DESK["height"] / 4


# --- the preview: map above the button, the point without a mouse --------------------------------


@pytest.mark.parametrize("width", SIZES)
def test_the_preview_map_stands_above_the_confirm_button(open_page, server, width):
    page = open_page(SIZES[width]).page
    fill_and_preview(page, server["base"])
    the_map = page.locator(".submit-map").bounding_box()
    confirm = page.locator("#confirm-button").bounding_box()
    assert the_map["y"] + the_map["height"] <= confirm["y"], (the_map, confirm)
    # ... and the map is the one with the point to check, right after the preview's text.
    assert page.locator("section.preview .submit-map .leaflet-marker-icon").count() == 1


def hidden_point(page) -> tuple[float, float]:
    return float(page.input_value("#f-lat")), float(page.input_value("#f-lon"))


def marker_point(page) -> tuple[float, float]:
    return tuple(
        page.evaluate("""() => {
        const ll = window[document.getElementById('point-config').dataset.marker].getLatLng();
        return [ll.lat, ll.lng]; }""")
    )


@pytest.mark.parametrize("width", ["390", "1280"])
def test_the_point_is_corrected_without_a_mouse(open_page, server, width):
    w = open_page(SIZES[width])
    page = w.page
    fill_and_preview(page, server["base"], contact=f"paten-{width}@example.org")
    start = hidden_point(page)
    # The marker is a button named after the project; Tab reaches it from the map.
    marker = page.get_by_role("button", name=PREVIEW["name"], exact=True)
    assert marker.count() == 1
    assert (
        "Pfeiltasten" in page.locator("#" + marker.get_attribute("aria-describedby")).inner_text()
    )
    page.locator(".submit-map .leaflet-container").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.title") == PREVIEW["name"]

    # Three steps east, one north, then a big step south: the hidden fields and the typed ones follow.
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowUp"):
        page.keyboard.press(key)
    east = hidden_point(page)
    assert east[1] > start[1] and east[0] > start[0]
    assert marker_point(page) == pytest.approx(east, abs=1e-6)
    page.keyboard.press("Shift+ArrowDown")
    south = hidden_point(page)
    assert south[0] < east[0] and south[1] == pytest.approx(east[1], abs=1e-6)
    assert (east[0] - south[0]) == pytest.approx(5 * (east[0] - start[0]), rel=0.1)
    assert page.input_value("#point-lat") == f"{south[0]:.6f}".replace(".", ",")
    assert page.input_value("#point-lon") == f"{south[1]:.6f}".replace(".", ",")
    status = page.locator("#point-status").inner_text()
    assert status.startswith(f"Punkt verschoben auf {south[0]:.6f}, {south[1]:.6f}.")
    assert page.evaluate("() => document.activeElement.title") == PREVIEW["name"]  # still on it

    # Or typed in, with a German decimal comma; Enter takes them without sending the form.
    page.fill("#point-lat", "52,381234")
    page.fill("#point-lon", "9,712345")
    page.locator("#point-lon").press("Enter")
    assert hidden_point(page) == (52.381234, 9.712345)
    assert marker_point(page) == pytest.approx((52.381234, 9.712345), abs=1e-6)
    assert page.locator("section.preview").count() == 1  # still the same preview
    page.fill("#point-lat", "nördlich")
    page.locator("#point-lat").press("Enter")
    assert page.locator("#point-status").inner_text().startswith("Bitte Breite und Länge")
    assert hidden_point(page) == (52.381234, 9.712345)  # unchanged

    # Confirmed, the submission keeps the typed point (another test may have sent it before).
    if page.locator("#confirm_duplicate").count():
        page.check("#confirm_duplicate")
    page.get_by_role("button", name="Bestätigen und einreichen").click()
    page.wait_for_url(re.compile(r"/einreichung/[\w-]{40,}\?neu=1$"))
    assert hidden_point(page) == (52.381234, 9.712345)


# --- names and German labels on the maps ----------------------------------------------------------


ENGLISH = re.compile(r"^(Zoom in|Zoom out|Close popup|Layers|Marker|markers)$|interactive maps")


def labels(page) -> list[str]:
    """Every title, aria-label and alt text on the page."""
    return page.evaluate("""() => [...document.querySelectorAll('[title], [aria-label], [alt]')]
        .flatMap(e => ['title', 'aria-label', 'alt'].map(a => e.getAttribute(a)).filter(Boolean))""")


def test_map_controls_and_markers_speak_german(open_page, server):
    base = server["base"]
    page = open_page(DESK).page
    page.goto(base + "/?near=30169&radius_km=10")
    count = marker_count(page)
    zoom_in = page.locator(".leaflet-control-zoom-in")
    assert (zoom_in.get_attribute("title"), zoom_in.get_attribute("aria-label")) == (
        "Vergrößern",
        "Vergrößern",
    )
    assert page.get_by_role("button", name="Verkleinern").count() == 1
    assert "JavaScript-Bibliothek" in page.locator(
        ".leaflet-control-attribution a"
    ).first.get_attribute("title")

    # Clusters say how many projects they hold; single markers are named after their project.
    for label in page.locator(".marker-cluster").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    ):
        assert re.fullmatch(r"\d+ Projekte – vergrößern", label), label
    marker = zoom_to_a_single_marker(page)
    names = {row[4] for row in fetch_json(base + "/api/markers?near=30169&radius_km=10")["rows"]}
    assert len(names) == count
    shown = page.locator(".leaflet-marker-icon.project-marker").evaluate_all(
        "els => els.map(e => e.title)"
    )
    assert shown and set(shown) <= names
    name = marker.get_attribute("title")
    assert page.get_by_role("button", name=name, exact=True).count() >= 1
    marker.focus()
    page.keyboard.press("Enter")  # a marker opens its popup from the keyboard too
    close = page.locator(".leaflet-popup-close-button")
    close.wait_for()
    assert close.get_attribute("aria-label") == "Schließen"
    page.wait_for_function(
        "name => document.querySelector('.leaflet-popup-content h3')?.textContent.startsWith(name)",
        arg=name,
    )
    assert not [t for t in labels(page) if ENGLISH.search(t)]

    page.goto(base + "/regionen/leine-weser")
    page.locator(".leaflet-control-layers-toggle").wait_for(state="attached")
    assert page.locator(".leaflet-control-layers-toggle").get_attribute("title") == "Kartenebenen"
    assert not [t for t in labels(page) if ENGLISH.search(t)]
    for path in ("/regionen", f"/projekte/{LONG_URL_PROJECT}"):
        page.goto(base + path)
        assert page.locator(".leaflet-control-zoom-in").get_attribute("aria-label") == "Vergrößern"
        assert not [t for t in labels(page) if ENGLISH.search(t)]


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


# --- focus rings ----------------------------------------------------------------------------------

FOCUS_RING = """() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    // The ring lies outside the element (or inside it, with a negative offset): the colour it
    // stands on is that of the parent's background, or the element's own.
    let bg = null;
    for (let p = parseFloat(s.outlineOffset) < 0 ? el : el.parentElement; p; p = p.parentElement) {
        const c = rgb(getComputedStyle(p).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c.slice(0, 3); break; }
    }
    bg = bg || [255, 255, 255];
    const a = lum(rgb(s.outlineColor).slice(0, 3)), b = lum(bg);
    return {what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' +
                  (el.getAttribute('aria-label') || el.title || el.textContent.trim().slice(0, 30)),
            style: s.outlineStyle, width: parseFloat(s.outlineWidth),
            ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


@pytest.mark.parametrize("name", ["karte", "vorschau", "region", "verwaltung-einreichung"])
def test_focus_rings_reach_3_to_1(open_page, server, name):
    page = open_page(DESK).page
    go(page, server, name)
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    seen = set()
    for _ in range(45):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring["what"].startswith("body") or ring["what"] in seen:
            continue  # past the page's end, the browser's own controls have the focus
        seen.add(ring["what"])
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert ring["ratio"] >= 3, ring
    assert len(seen) >= 15
