"""The five fields of action (Handlungsfelder) and the focus tags of the alliance's report."""

FIELDS: dict[str, str] = {
    "sprache": "Sprache",
    "arbeit-ausbildung": "Arbeit & Ausbildung",
    "wohnen-leben": "Wohnen & Leben",
    "engagement": "Bürgerschaftliches Engagement",
    "teilhabe": "Gesellschaftliche Teilhabe",
}

#: Marker colours per field (ColorBrewer "Dark2": distinguishable, also for most colour-blind eyes).
FIELD_COLOURS: dict[str, str] = {
    "sprache": "#1b9e77",
    "arbeit-ausbildung": "#d95f02",
    "wohnen-leben": "#7570b3",
    "engagement": "#e7298a",
    "teilhabe": "#66a61e",
}

#: Focus topics the report puts forward; free tags are allowed beside them.
FOCUS_TAGS: dict[str, str] = {"frauen": "Frauen", "kultur": "Kultur"}


def unknown_fields(slugs) -> list[str]:
    """Slugs that are not fields of action, so a caller can name them and list the valid ones."""
    return [s for s in slugs if s not in FIELDS]
