"""Texts that other layers keep as data (atlas.core and atlas.geo import no flask), marked here
so `pybabel extract` puts them into the catalogues; the web layer translates them with
`translated()` as it shows them. tests/test_i18n.py checks that this list keeps up with them."""

from __future__ import annotations

from flask_babel import gettext


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    return text


MARKED = (
    # atlas.core.fields.FIELDS: the fields of action (Handlungsfelder)
    N_("Sprache"),
    N_("Arbeit & Ausbildung"),
    N_("Wohnen & Leben"),
    N_("Bürgerschaftliches Engagement"),
    N_("Gesellschaftliche Teilhabe"),
    # atlas.geo.geocoding.PRECISION_LABELS: what a map point stands for
    N_("Adresse"),
    N_("Mitte des Postleitzahlgebiets (ungefähr)"),
    N_("Ortsmitte der Gemeinde"),
    N_("Ortsmitte (Ortsteil oder Dorf)"),
    N_("nur der Landkreis ist bekannt"),
    N_("ungefähres Gebiet"),
    N_("von Hand auf der Karte gesetzt"),
    # atlas.web.pages.SORT_LABELS
    N_("Name"),
    N_("Entfernung"),
    N_("Neueste zuerst"),
)


def translated(labels: dict) -> dict:
    """A {key: German label} mapping in the request's language."""
    return {key: gettext(label) for key, label in labels.items()}


def office_name(region: dict) -> str:
    """ "Amt für regionale Landesentwicklung Lüneburg" in the request's language."""
    return gettext("Amt für regionale Landesentwicklung %(region)s", region=region["name"])
