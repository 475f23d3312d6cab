"""The interface language (issue 16): which one a request gets, the switcher's data, the text
direction, and the compiled catalogues.

A request's language is `?lang=xx` (remembered in a cookie), else the cookie, else the best
match for the browser's Accept-Language, else German. The texts live in gettext catalogues
(atlas/translations/<lang>/LC_MESSAGES/messages.po); the wheel carries them compiled (the build
hook in hatch_build.py) and a checkout compiles a missing or stale `.mo` when the app starts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from flask import Flask, request
from flask_babel import (
    LazyString,
    format_decimal,
    format_number,
    get_locale,
    get_translations,
    gettext,
)

from atlas.core import languages
from atlas.resources import TRANSLATIONS_DIR
from atlas.web.charts import project_words
from atlas.web.problems import problem_text

#: The interface languages, each named in itself (the switcher shows these names).
LANGUAGES = {
    "de": "Deutsch",
    "en": "English",
    "ar": "العربية",
    "uk": "Українська",
    "fa": "فارسی",
    "tr": "Türkçe",
    "ru": "Русский",
}
DEFAULT = "de"
#: Languages written right to left: their pages get dir="rtl" and a mirrored layout.
RTL = frozenset({"ar", "fa"})
COOKIE = "atlas_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

log = logging.getLogger(__name__)


def select_locale() -> str:
    """The interface language of this request (Flask-Babel's locale selector)."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(COOKIE, "")
    if kept in LANGUAGES:
        return kept
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT)


def current() -> str:
    """The language code of this request ("de", "ar" …)."""
    return str(get_locale() or DEFAULT).split("_")[0]


def direction(lang: str | None = None) -> str:
    return "rtl" if (lang or current()) in RTL else "ltr"


def _remember(response):
    """A valid ?lang= is kept in a cookie, so every further link keeps the language."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(
            COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True, path="/"
        )
    return response


def switch_url(lang: str) -> str:
    """This page in another language: the same path and query, with lang=xx."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return request.path + "?" + urlencode(args, doseq=True)


def _plural(singular: str, plural: str) -> dict[str, str]:
    """A counted text for the scripts, by CLDR plural category ("one", "few", "other" …) as
    `Intl.PluralRules` names them; `{n}` stands for the number."""
    rule = Locale.parse(current()).plural_form
    forms: dict[str, str] = {}
    for n in range(0, 200):
        category = rule(n)
        if category not in forms:
            forms[category] = get_translations().ungettext(singular, plural, n) % {"num": "{n}"}
    return forms


def js_texts() -> dict:
    """What the scripts (leaflet-de.js, atlas.js, submit.js) say, in this request's language;
    the page carries it as JSON (base.html), the scripts read it through `atlasText`."""
    return {
        "lang": current(),
        "zoomIn": gettext("Vergrößern"),
        "zoomOut": gettext("Verkleinern"),
        "leafletTitle": gettext("Leaflet, eine JavaScript-Bibliothek für interaktive Karten"),
        "marker": gettext("Kartenpunkt"),
        "layers": gettext("Kartenebenen"),
        "close": gettext("Schließen"),
        "project": gettext("Projekt"),
        "loadFailed": gettext("Die Projekte konnten nicht geladen werden."),
        "onMap": _plural("%(num)s Projekt auf der Karte", "%(num)s Projekte auf der Karte"),
        "cluster": _plural("%(num)s Projekt – vergrößern", "%(num)s Projekte – vergrößern"),
        "loading": gettext("Lädt …"),
        "synthetic": gettext("Testdaten"),
        "details": gettext("Details ansehen"),
        "detailsFailed": gettext("Details konnten nicht geladen werden."),
        "locating": gettext("Standort wird ermittelt …"),
        "noLocation": gettext(
            "Ihr Standort ist nicht verfügbar. Bitte geben Sie Ort oder Postleitzahl ein."
        ),
        "pointMoved": gettext(
            "Punkt verschoben auf %(lat)s, %(lon)s. Landkreis und Amt werden beim Absenden "
            "neu bestimmt.",
            lat="{lat}",
            lon="{lon}",
        ),
        "yourProject": gettext("Ihr Projekt"),
        "coordinates": gettext("Kartenpunkt als Koordinaten (WGS84, Grad)"),
        "latitude": gettext("Breite"),
        "longitude": gettext("Länge"),
        "pointHelp": gettext(
            "Ohne Maus: die Markierung mit der Tabulatortaste wählen und mit den Pfeiltasten "
            "verschieben (mit Umschalttaste in größeren Schritten), oder hier Breite und Länge "
            "eingeben."
        ),
        "badCoordinates": gettext(
            "Bitte Breite und Länge als Zahlen in Grad eingeben, zum Beispiel 52,37590 und 9,73200."
        ),
    }


def language_name(code: str, lang: str | None = None) -> str:
    """A language an initiative works in, named in the reader's language, with its own name
    when that differs: "Arabisch (العربية)" on a German page."""
    here = Locale.parse(lang or current()).languages.get(code) or code
    try:
        itself = Locale.parse(code).get_display_name(code) or ""
    except (ValueError, LookupError, UnknownLocaleError):  # no CLDR data for it
        itself = ""
    itself = itself.split(" (")[0]
    return f"{here} ({itself})" if itself and itself.casefold() != here.casefold() else here


def language_names(codes) -> list[str]:
    return [language_name(c) for c in codes or ()]


def language_choices() -> list:
    """The common languages as form choices, each named in the request's language."""
    from wtforms.fields.choices import SelectChoice

    return [
        SelectChoice(code, LazyString(lambda code=code: language_name(code)))
        for code in languages.COMMON
    ]


def description_language_choices() -> list:
    """The languages a project's further description can be in: the interface languages
    but German, then the other common ones."""
    from wtforms.fields.choices import SelectChoice

    codes = dict.fromkeys([c for c in LANGUAGES if c != DEFAULT] + list(languages.COMMON))
    return [SelectChoice(code, language_name(code)) for code in codes]


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every `.po` whose `.mo` is missing or older; returns the files written. A
    read-only install (whose wheel carries them compiled) is left as it is."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name)
            with mo.open("wb") as f:
                write_mo(f, catalog)
        except OSError as exc:  # pragma: no cover - a read-only install
            log.warning("could not compile %s: %s", po, exc)
            continue
        written.append(mo)
    return written


def init_app(app: Flask) -> None:
    compile_catalogues()
    app.after_request(_remember)

    @app.context_processor
    def _language():
        lang = current()
        return {
            "LANGUAGES": LANGUAGES,
            "current_language": lang,
            "text_direction": direction(lang),
            "language_url": switch_url,
            "js_texts": js_texts,
            "format_number": format_number,
            "format_decimal": format_decimal,
            "problem_text": problem_text,
            "project_count": project_words,
            "language_name": language_name,
            "language_names": language_names,
            "COMMON_LANGUAGES": languages.COMMON,
        }
