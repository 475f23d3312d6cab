"""Forms as a client fills them in: a page's CSRF token, and a synthetic submission."""

from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str | None:
    """The CSRF token of the (first) form on a page; None if it has none."""
    found = _CSRF.search(html)
    return found.group(1) if found else None


def submission(name: str, email: str = "test@example.org", **changes: str) -> dict[str, str]:
    """The fields of a confirmed submission of a synthetic project (as the form posts them
    after the preview), without the CSRF token. Test names differ only in a number, so each
    is a likely duplicate of the others: the duplicate warning is confirmed."""
    return {
        "step": "confirm",
        "name": name,
        "description": "Synthetischer Eintrag aus einem Lasttest, kein echtes Projekt.",
        "fields": "sprache",
        "postcode": "30169",
        "city": "Hannover",
        "contact_email": email,
        "consent": "y",
        "confirm_duplicate": "y",
        **changes,
    }
