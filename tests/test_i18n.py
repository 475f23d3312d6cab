"""Interface languages (issue 16): catalogues complete, templates without German outside _(),
the language chosen by ?lang= (kept in a cookie), Accept-Language or German, and pages in
Arabic/English without German interface text."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from atlas.core.fields import FIELDS
from atlas.geo.geocoding import PRECISION_LABELS
from atlas.resources import TEMPLATES_DIR, TRANSLATIONS_DIR
from atlas.web import i18n, terms
from atlas.web.pages import SORT_LABELS

LANGS = ["en", "ar", "uk", "fa", "tr", "ru"]
#: Templates of the office pages (/verwaltung) and the coverage pages stay German for now;
#: Leichte Sprache is German on purpose.
GERMAN_ON_PURPOSE = ("admin_", "_admin", "easy_language")
#: Proper names and the link to the German Leichte Sprache page, the same in every language.
NAMES = {"Gemeinsame Sache", "Leichte Sprache", "km", "GeoJSON", "CSV", "/api/coverage"}
#: Names in the data that contain a word of the interface ("Landkreis", "Niedersachsen").
DATA_NAMES = ("Niedersachsen packt an", "Landkreis Oldenburg", "Landkreis Osnabrück")


def catalogue(lang):
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def msgids():
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as f:
        pot = read_po(f)
    return [m.id for m in pot if m.id]


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_translates_every_text(lang):
    cat = catalogue(lang)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}
    wanted = {m if isinstance(m, str) else m[0] for m in msgids()}
    assert wanted <= ids, f"{lang}: run scripts/translations.sh; missing {sorted(wanted - ids)[:5]}"
    untranslated = [
        m.id
        for m in cat
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)
    ]
    assert not untranslated, f"{lang}: untranslated or fuzzy: {untranslated[:5]}"


def test_data_labels_are_marked_for_translation():
    marked = set(terms.MARKED)
    for labels in (FIELDS, PRECISION_LABELS, SORT_LABELS):
        assert set(labels.values()) <= marked


def _german_outside_gettext(text: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    # Scripts, styles and code (paths, HTTP methods) are not interface text.
    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    text = unescape(text)
    for name in NAMES:
        text = text.replace(name, " ")
    return re.findall(r"[A-Za-zÄÖÜäöüß]{2,}(?:[ \-][A-Za-zÄÖÜäöüß]+)*", text)


def _attributes_outside_gettext(text: str) -> list[str]:
    found = re.findall(r'(?:aria-label|placeholder|title|alt)="([^"{]+)"', text)
    return [f for f in found if re.search(r"[A-Za-zÄÖÜäöüß]{2,}", f)]


def test_public_templates_hold_no_german_outside_the_catalogue():
    offenders = {}
    for path in sorted(Path(TEMPLATES_DIR).glob("*.html")):
        if path.name.startswith(GERMAN_ON_PURPOSE):
            continue
        source = path.read_text(encoding="utf-8")
        found = _german_outside_gettext(source) + _attributes_outside_gettext(source)
        if found:
            offenders[path.name] = found
    assert not offenders, offenders


@pytest.fixture
def client(app):
    return app.test_client()


def lang_dir(html: str) -> tuple[str, str]:
    m = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', html)
    return m.group(1), m.group(2)


def test_german_by_default(client):
    assert lang_dir(client.get("/").get_data(as_text=True)) == ("de", "ltr")


def test_the_browser_language_is_followed(client):
    page = client.get("/projekte", headers={"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
    assert lang_dir(page.get_data(as_text=True)) == ("fa", "rtl")
    page = client.get("/projekte", headers={"Accept-Language": "ja, fr;q=0.5"})
    assert lang_dir(page.get_data(as_text=True)) == ("de", "ltr")


def test_a_chosen_language_is_kept_in_a_cookie(client):
    page = client.get("/?lang=ar", headers={"Accept-Language": "en"})
    assert lang_dir(page.get_data(as_text=True)) == ("ar", "rtl")
    assert "atlas_lang=ar" in page.headers["Set-Cookie"]
    later = client.get("/projekte", headers={"Accept-Language": "en"})
    assert lang_dir(later.get_data(as_text=True)) == ("ar", "rtl")
    assert lang_dir(client.get("/?lang=xx").get_data(as_text=True)) == ("ar", "rtl")
    assert lang_dir(client.get("/?lang=tr").get_data(as_text=True)) == ("tr", "ltr")


def test_the_switcher_names_each_language_in_itself(client):
    html = client.get("/projekte?field=sprache").get_data(as_text=True)
    for code, name in i18n.LANGUAGES.items():
        assert f'lang="{code}"' in html and name in html
    assert "/projekte?field=sprache&amp;lang=uk" in html


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<[^>]*\blang="de"[^>]*>[^<]*<', "<", html)  # the Leichte Sprache link
    text = unescape(re.sub(r"<[^>]*>", " ", html))
    for name in DATA_NAMES:
        text = text.replace(name, " ")
    return text


@pytest.mark.parametrize("lang", ["ar", "en"])
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/projekte",
        "/einreichen",
        "/gibt-es-nicht",
        "/regionen",
        "/regionen/braunschweig?field=sprache",
        "/datenschutz",
        "/projekte?region=atlantis",
        "/projekte?near=Atlantis",
    ],
)
def test_translated_pages_show_no_german_interface_text(client, lang, path):
    joiner = "&" if "?" in path else "?"
    html = client.get(f"{path}{joiner}lang={lang}").get_data(as_text=True)
    text = _visible_text(html)
    cat = catalogue(lang)
    leftovers = [
        m
        for m in msgids()
        if isinstance(m, str)
        and len(m) > 6
        and "%(" not in m
        and cat[m].string != m
        and re.search(rf"(?<!\w){re.escape(m)}(?!\w)", text)
    ]
    assert not leftovers, leftovers


def test_leichte_sprache_is_linked_from_start_page_and_footer(client):
    html = client.get("/?lang=ar").get_data(as_text=True)
    assert html.count('href="/leichte-sprache"') == 2
    page = client.get("/leichte-sprache").get_data(as_text=True)
    assert "Was ist der Projekt-Atlas?" in page and "So finden Sie ein Projekt" in page
