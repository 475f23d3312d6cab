"""The languages an initiative works in with people (issue 16): ISO 639-1 codes ("ar", "fa",
"uk" …), checked against the codes Babel's CLDR data knows. The web layer names them in the
reader's language."""

from __future__ import annotations

from functools import cache

from babel import Locale

#: Offered as check boxes in the forms and as the filter's choices, most asked-for first:
#: the languages of the largest groups of people who came to Lower Saxony, and English.
COMMON = ("ar", "fa", "uk", "ru", "tr", "ku", "en", "ps", "ti", "so", "fr", "ro", "bg", "pl")


@cache
def known() -> frozenset[str]:
    """Every two-letter ISO 639-1 code."""
    return frozenset(code for code in Locale("en").languages if len(code) == 2 and code.isalpha())


def is_known(code: str) -> bool:
    return code in known()


def clean(values) -> list[str]:
    """The known codes of `values` (a list, or text such as "ar, fa;uk"), lower case, each once,
    in the order given; unknown ones are dropped."""
    if values is None:
        return []
    if isinstance(values, str):
        values = values.replace(";", ",").replace(" ", ",").split(",")
    found = [str(v).strip().lower() for v in values]
    return list(dict.fromkeys(c for c in found if is_known(c)))


def unknown(values) -> list[str]:
    """The codes of `values` that are no ISO 639-1 code."""
    if isinstance(values, str):
        values = values.replace(";", ",").replace(" ", ",").split(",")
    return [
        str(v).strip()
        for v in values or []
        if str(v).strip() and not is_known(str(v).strip().lower())
    ]
