"""The search's and the coverage pages' messages about a filter or place they cannot use, in the
reader's language (issue 16). atlas.search, atlas.core and atlas.geo (which import no flask) give
a code and its values (`BadQuery.code`/`.params`, a geocoder answer's `error_code`/
`error_params`); this is the one place that words them. The API keeps its English message."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from atlas.web.charts import de_number

TEXTS = {
    # atlas.search.query
    "not_whole": _l("„%(name)s“ muss eine ganze Zahl sein."),
    "out_of_range": _l("„%(name)s“ muss zwischen %(low)s und %(high)s liegen."),
    "unknown_region": _l("Diese Region gibt es nicht; bitte wählen Sie eine aus der Liste."),
    "unknown_district": _l("Diesen Landkreis gibt es nicht; bitte wählen Sie einen aus der Liste."),
    "district_outside_region": _l(
        "„%(district)s“ liegt in der Region %(own)s, nicht in der Region %(region)s. "
        "Zusammen passen diese beiden Filter auf kein Projekt."
    ),
    "unknown_field": _l(
        "Dieses Handlungsfeld gibt es nicht; bitte wählen Sie eines aus der Liste."
    ),
    "unknown_language": _l("Diese Sprache kennen wir nicht; bitte wählen Sie eine aus der Liste."),
    "unknown_near_source": _l("Unbekannte Herkunft des Standorts."),
    "unknown_sort": _l("Diese Sortierung gibt es nicht."),
    "distance_needs_place": _l("Nach Entfernung sortieren geht nur mit einem Ort."),
    "bad_bbox": _l("Der Kartenausschnitt (bbox) ist ungültig."),
    "bad_radius": _l("Der Umkreis muss eine Zahl über 0 und höchstens %(max)s km sein."),
    "bad_coordinates": _l("Diese Koordinaten gibt es nicht."),
    "place_ambiguous": _l("Den Ort „%(place)s“ gibt es mehrmals. Welchen meinen Sie?"),
    "place_not_found": _l("Diesen Ort haben wir in Niedersachsen nicht gefunden."),
    # atlas.core.coverage
    "no_region": _l("Bitte wählen Sie eine Region."),
    "not_a_distance": _l("Die Entfernung „%(raw)s“ ist keine Zahl."),
    "bad_distance": _l("Die Entfernung muss eine Zahl über 0 und höchstens %(max)s km sein."),
    "unknown_order": _l("Die Sortierrichtung muss „asc“ oder „desc“ sein."),
    # atlas.geo.geocoding (a geocoder answer's error_code)
    "empty": _l("Bitte geben Sie einen Ort oder eine Postleitzahl ein."),
    "postcode_digits": _l("Eine Postleitzahl hat fünf Ziffern."),
    "outside": _l("„%(place)s“ liegt nicht in Niedersachsen."),
    "not_found": _l("„%(place)s“ wurde in Niedersachsen nicht gefunden."),
    "postcode_outside": _l("Die Postleitzahl %(postcode)s liegt nicht in Niedersachsen."),
    "postcode_unknown": _l("Die Postleitzahl %(postcode)s gibt es nicht."),
    "internal": _l("Interner Fehler bei der Ortssuche."),
}


def _worded(params: dict) -> dict:
    return {k: de_number(v) if isinstance(v, (int, float)) else v for k, v in params.items()}


def problem_text(problem) -> str:
    """What is wrong with a filter (a BadQuery), in the request's language; the German text a
    code-less problem carries, else its (English) message."""
    code = getattr(problem, "code", "")
    if code in TEXTS:
        return str(TEXTS[code]) % _worded(getattr(problem, "params", {}))
    extra = getattr(problem, "extra", {}) or {}
    return extra.get("de") or str(problem)


def answer_text(answer: dict) -> str:
    """A geocoder answer's error in the request's language."""
    code = answer.get("error_code") or ""
    if code in TEXTS:
        return str(TEXTS[code]) % _worded(answer.get("error_params") or {})
    return answer.get("error") or ""
