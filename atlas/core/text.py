"""Text as people type it: one way to compare names and search words across the atlas."""

from __future__ import annotations

import re
import unicodedata

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


def normalize(text: str, fold: bool = False) -> str:
    """Key for comparing names as people type them: case, umlauts, ß, accents, punctuation.

    "Lüneburg" → "lueneburg" (fold=True: "luneburg", for people who drop the umlaut dots).
    """
    text = unicodedata.normalize("NFC", text).lower().translate(_FOLD if fold else _TRANSLIT)
    if not text.isascii():  # only non-ASCII text can hold accents (most rows are ASCII by now)
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def search_text(rec: dict) -> str:
    """What the free-text filter searches in: name, organisation, description, place, tags."""
    parts = [rec.get(k) or "" for k in ("name", "organisation", "description", "city", "postcode")]
    return normalize(" ".join(parts + list(rec.get("tags") or [])))
