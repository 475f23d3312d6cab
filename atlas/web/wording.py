"""How the pages word stored values in German: times in Europe/Berlin with their zone, the
states of a submission, the audit log's actions and changes, the precision of a point, why a
row of an office's list cannot be imported."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from atlas.core.fields import FIELDS
from atlas.core.projects import GERMAN_HEADERS, Reason
from atlas.geo import regions
from atlas.geo.geocoding import PRECISION_LABELS, Precision

BERLIN = ZoneInfo("Europe/Berlin")

#: A submission's state as its submitter reads it on the private page.
STATUS_FOR_SUBMITTER = {
    "pending": _l("wird geprüft"),
    "published": _l("freigegeben und im Atlas sichtbar"),
    "rejected": _l("nicht freigegeben"),
}
#: A rejected project that was published before and taken off by its office.
TAKEN_OFF = _l("vom Amt aus dem Atlas genommen")
#: A project's state as an office reads it.
STATUS_FOR_OFFICE = {
    "pending": "wartet auf Prüfung",
    "published": "freigegeben",
    "rejected": "abgelehnt",
}
#: The audit log's actions (atlas.core.submissions) in German.
ACTIONS = {
    "submitted": "eingereicht",
    "edited": "bearbeitet",
    "edited and approved": "bearbeitet und freigegeben",
    "edited and republished": "bearbeitet und (wieder) freigegeben",
    "approved": "freigegeben",
    "rejected": "abgelehnt",
    "moved": "an andere Region übergeben",
    "withdrawn": "zurückgezogen und gelöscht",
    "change requested": "Änderung beantragt (wieder zur Prüfung)",
    "unpublished": "aus dem Atlas genommen",
    "republished": "wieder freigegeben",
    "import": "Liste importiert",
    "import_undone": "Import rückgängig gemacht",
}
#: The audit log's changed columns in German.
COLUMNS = {
    "name": _l("Name"),
    "organisation": _l("Träger"),
    "description": _l("Beschreibung"),
    "fields": _l("Handlungsfelder"),
    "street": _l("Straße"),
    "postcode": _l("Postleitzahl"),
    "city": _l("Ort"),
    "website": _l("Website"),
    "publish_email": _l("E-Mail veröffentlichen"),
    "lat": _l("Breite"),
    "lon": _l("Länge"),
    "precision": _l("Genauigkeit"),
    "district_code": _l("Landkreis"),
    "region": _l("Region"),
    "status": _l("Stand"),
    "decision_note": _l("Begründung / Hinweis"),
    "language": _l("Sprache der Einreichung"),
    # an import of a list (issue 18)
    "file": _l("Datei"),
    "sheet": _l("Tabellenblatt"),
    "added": _l("neu"),
    "updated": _l("geändert"),
    "unchanged": _l("unverändert"),
    "refused": _l("abgelehnt"),
    "removed": _l("entfernt"),
    "restored": _l("wiederhergestellt"),
}


def berlin_time(moment: datetime | None, seconds: bool = False) -> str:
    """ "05.01.2026, 13:00 MEZ": a stored time (UTC; SQLite gives it without a zone) in Berlin."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    lang = str(get_locale() or "de") if has_request_context() else "de"
    if lang.startswith("de"):
        pattern = "dd.MM.yyyy, HH:mm:ss zzz" if seconds else "dd.MM.yyyy, HH:mm zzz"
        return format_datetime(moment, pattern, tzinfo=BERLIN, locale="de_DE")
    # Another interface language (issue 16): its own date format, the zone as in German.
    day = format_datetime(moment, "medium" if seconds else "short", tzinfo=BERLIN, locale=lang)
    return f"{day} {format_datetime(moment, 'zzz', tzinfo=BERLIN, locale='de_DE')}"


def _value(column: str, value) -> str:
    if value is None or value == "" or value == []:
        return "–"
    if column == "status":
        return STATUS_FOR_OFFICE.get(value, value)
    if column == "region":
        return regions.REGIONS[value]["name"] if value in regions.REGIONS else value
    if column == "district_code":
        info = regions.district(value)
        return f"{info['name']} ({value})" if info else value
    if column == "precision":
        return PRECISION_LABELS.get(value, value)
    if column == "fields":
        return ", ".join(FIELDS.get(f, f) for f in value)
    if isinstance(value, bool):
        return "ja" if value else "nein"
    return str(value)


def changes(entry_changes: dict) -> list[tuple[str, str, str]]:
    """An audit entry's changes as (column, before, after), worded in German."""
    return [
        (COLUMNS.get(k, k), _value(k, old), _value(k, new))
        for k, (old, new) in (entry_changes or {}).items()
    ]


def _column(key: str) -> str:
    """A property as the offices' lists head its column: „PLZ“, „Träger“."""
    return f"„{GERMAN_HEADERS.get(key, key)}“"


def _quoted(values) -> str:
    return ", ".join(f"„{v}“" for v in values)


def _number(value: float, places: int = 5) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def _where(where: str) -> str:
    """ "row 3" (as the import names a row) → "Zeile 3"."""
    units = {"row": "Zeile", "line": "Zeile", "feature": "Objekt"}
    found = re.match(r"(row|line|feature) (\d+)(.*)", where or "")
    return f"{units[found[1]]} {found[2]}{found[3]}" if found else where


def _region(slug: str | None) -> str:
    return regions.REGIONS[slug]["name"] if slug in regions.REGIONS else str(slug)


_VALID_FIELDS = ", ".join(FIELDS.values())
#: Why a row cannot be imported, by the reason's code (atlas.core.projects.Reason), in German.
REASONS = {
    "too_long": lambda p: f"Der Text in {_column(p['key'])} ist länger als {p['limit']} Zeichen.",
    "name_missing": lambda p: "Der Name des Projekts fehlt.",
    "not_a_list": lambda p: (
        f"{_column(p['key'])} muss eine Liste oder ein durch „;“ getrennter Text sein."
    ),
    "fields_missing": lambda p: f"Kein Handlungsfeld angegeben; möglich sind: {_VALID_FIELDS}.",
    "fields_unknown": lambda p: (
        f"Unbekanntes Handlungsfeld {_quoted(p['values'])}; möglich sind: {_VALID_FIELDS}."
    ),
    "languages_unknown": lambda p: (
        f"Unbekanntes Sprachkürzel {_quoted(p['values'])}; bitte Kürzel nach ISO 639-1 "
        "angeben (z. B. „de“, „en“, „ar“)."
    ),
    "id_format": lambda p: (
        f"Die Kennung „{p['value']}“ darf nur Kleinbuchstaben, Ziffern und Bindestriche enthalten."
    ),
    "website": lambda p: (
        f"Die Website „{p['value']}“ ist keine Internetadresse (sie muss mit http:// oder "
        "https:// beginnen)."
    ),
    "precision": lambda p: (
        f"Die Genauigkeit „{p['value']}“ ist unbekannt; möglich sind: {', '.join(Precision)}."
    ),
    "source_date": lambda p: (
        f"Der Stand der Quelle „{p['value']}“ ist kein Datum der Form JJJJ, JJJJ-MM oder "
        "JJJJ-MM-TT."
    ),
    "postcode_format": lambda p: f"Die Postleitzahl „{p['value']}“ hat nicht fünf Ziffern.",
    "postcode_unknown": lambda p: f"Die Postleitzahl {p['value']} gibt es in Niedersachsen nicht.",
    "not_a_number": lambda p: f"{GERMAN_HEADERS[p['name']]} „{p['value']}“ ist keine Zahl.",
    "not_finite": lambda p: f"{GERMAN_HEADERS[p['name']]} „{p['value']}“ ist keine endliche Zahl.",
    "one_coordinate": lambda p: "Nur eine der beiden Koordinaten (Breite, Länge) ist angegeben.",
    "no_place": lambda p: (
        "Weder Koordinaten noch eine Adresse (Straße, PLZ, Ort), nach der sich suchen ließe."
    ),
    "place_ambiguous": lambda p: (
        f"Der Ort „{p['query']}“ ist nicht eindeutig; bitte die Postleitzahl ergänzen. "
        f"Möglich sind: {p['options']}."
    ),
    "place_not_found": lambda p: (
        f"Den Ort „{p['query']}“ haben wir in Niedersachsen nicht gefunden."
        + (f" Meinten Sie: {p['suggestions']}?" if p.get("suggestions") else "")
    ),
    "point_invalid": lambda p: "Die Koordinaten sind ungültig.",
    "point_outside": lambda p: (
        f"Der Punkt (Breite {_number(p['lat'])}, Länge {_number(p['lon'])}) liegt außerhalb "
        "Niedersachsens."
    ),
    "id_taken": lambda p: (
        f"Die Kennung „{p['value']}“ steht in dieser Liste schon in {_where(p['where'])}."
    ),
    "not_a_feature": lambda p: "Das ist kein GeoJSON-Feature.",
    "not_a_point": lambda p: "Die Geometrie ist kein Punkt.",
    "outside_region": lambda p: (
        f"Der Ort liegt in der Region {_region(p['region'])}, nicht in der Region "
        f"{_region(p['wanted'])}."
    ),
}


def reason_de(reason: Reason | str) -> str:
    """Why a row cannot be imported, in German; a reason without a known code (kept as plain
    text before reasons had codes) as its English text."""
    worded = REASONS.get(getattr(reason, "code", None))
    try:
        return worded(reason.params) if worded else str(reason)
    except (KeyError, TypeError, ValueError):  # parameters kept in another shape
        return str(reason)


def init_app(app: Flask) -> None:
    app.add_template_filter(berlin_time, "berlin")
    app.add_template_global(PRECISION_LABELS, "PRECISION_LABELS")
    app.add_template_global(STATUS_FOR_SUBMITTER, "STATUS_FOR_SUBMITTER")
    app.add_template_global(STATUS_FOR_OFFICE, "STATUS_FOR_OFFICE")
    app.add_template_global(TAKEN_OFF, "TAKEN_OFF")
    app.add_template_global(ACTIONS, "AUDIT_ACTIONS")
    app.add_template_global(changes, "audit_changes")
    app.add_template_filter(reason_de, "reason_de")
