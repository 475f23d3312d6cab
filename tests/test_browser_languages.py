"""The atlas in each of its languages in a real browser (issue 16): on a phone (390 px) and a desk
(1280 px), each of the start page, the list, a project, the submission form, the coverage
overview, an error page and the Leichte Sprache page has the right `lang`/`dir`, does not scroll
sideways (right to left neither), passes axe-core's WCAG 2.0/2.1 A and AA rules, and shows no
German interface text (the Leichte Sprache page is German on purpose, marked lang="de").
One browser context per language and size; the pages follow one another in it.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from atlas.resources import TRANSLATIONS_DIR
from tests.support.accessibility import DESK, PHONE, assert_no_sideways_scroll, axe_violations
from tests.support.accessibility import describe as describe_violations
from tests.support.browser import Watched, settle

PAGES = {
    "start": "/",
    "list": "/projekte",
    "project": None,  # the first project of the list
    "submit": "/einreichen",
    "coverage": "/regionen",
    "error": "/gibt-es-nicht",
    "easy": "/leichte-sprache",
}
SIZES = {"390": PHONE, "1280": DESK}


def german_texts(lang: str) -> list[str]:
    """The catalogue's German texts that read differently in `lang` (longer than a word)."""
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cat = read_po(f, locale=lang)
    return [
        m.id
        for m in cat
        if isinstance(m.id, str) and len(m.id) > 6 and "%(" not in m.id and m.string != m.id
    ]


#: Names in the data: the alliance, and the synthetic projects' organisation.
DATA_NAMES = ("Niedersachsen packt an", "Synthetische Testdaten")


def visible_text(page) -> str:
    """What the page shows, without what is marked German on purpose (names, the Leichte
    Sprache link and page), the map's credits (names and licences) and names in the data."""
    text = page.evaluate("""() => {
        const copy = document.body.cloneNode(true);
        copy.querySelectorAll('[lang="de"], script, style, [hidden], .leaflet-control-attribution')
            .forEach(e => e.remove());
        return copy.innerText;
    }""")
    for name in DATA_NAMES:
        text = text.replace(name, " ")
    return text


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["ar", "en", "fa", "ru", "tr", "uk"])
def test_pages_in_each_language(browser, server, lang, size):
    viewport = SIZES[size]
    context = browser.new_context(
        viewport=viewport,
        locale=lang,
        is_mobile=viewport["width"] < 800,
        has_touch=viewport["width"] < 800,
    )
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:)"), lambda route: route.abort())
    context.set_default_timeout(10_000)
    w = Watched(context.new_page())
    page = w.page
    german = german_texts(lang)
    problems = []
    try:
        for name, path in PAGES.items():
            if path is None:
                page.goto(f"{server}/projekte?lang={lang}")
                path = page.locator("main li.project h3 a").first.get_attribute("href")
            page.goto(f"{server}{path}{'&' if '?' in path else '?'}lang={lang}")
            if name == "start":
                page.locator("#map-status[data-count]").wait_for()
                settle(page)
            html = page.locator("html")
            want_dir = "rtl" if lang in ("ar", "fa") else "ltr"
            if (html.get_attribute("lang"), html.get_attribute("dir")) != (lang, want_dir):
                problems.append(
                    f"{name}: lang/dir {html.get_attribute('lang')}/{html.get_attribute('dir')}"
                )
            try:
                assert_no_sideways_scroll(page, f"{name} ({lang}, {size} px)")
            except AssertionError as exc:
                problems.append(str(exc))
            found = axe_violations(page)
            if found:
                problems.append(f"{name}: axe-core\n{describe_violations(found)}")
            if name != "easy":
                text = visible_text(page)
                left = [g for g in german if re.search(rf"(?<!\w){re.escape(g)}(?!\w)", text)]
                if left:
                    problems.append(f"{name}: German interface text {left[:6]}")
        assert not problems, "\n".join(problems)
        assert w.foreign_requests() == [], "the page asked hosts other than its own"
        # The error page answers 404 on purpose; Chromium logs that.
        errors = [e for e in w.errors if "/gibt-es-nicht?" not in e]
        assert errors == [], "the page logged errors"
    finally:
        context.close()
