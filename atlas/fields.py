"""The five fields of action (Handlungsfelder) and the focus tags of the alliance's report."""

FIELDS: dict[str, str] = {
    "sprache": "Sprache",
    "arbeit-ausbildung": "Arbeit & Ausbildung",
    "wohnen-leben": "Wohnen & Leben",
    "engagement": "Bürgerschaftliches Engagement",
    "teilhabe": "Gesellschaftliche Teilhabe",
}

#: Focus topics the report puts forward; free tags are allowed beside them.
FOCUS_TAGS: dict[str, str] = {"frauen": "Frauen", "kultur": "Kultur"}


def unknown_fields(slugs) -> list[str]:
    """Slugs that are not fields of action, so a caller can name them and list the valid ones."""
    return [s for s in slugs if s not in FIELDS]
