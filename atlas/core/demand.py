"""The demand nobody met: nearby searches that found nothing within their radius, counted per
district (of the place searched), field and month for the regional offices.

Only the counter goes up: no address, no query text, no time finer than the month, nothing
that tells one person from another. The offices see a cell's count only when at least
`MIN_SHOWN` searches fell into it; fewer are shown as "< 5", so a single search cannot be
traced back to someone who looked on a given day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from atlas.core.tables import CSV, Flavour, Table
from atlas.geo import regions
from atlas.search import Query, Result
from atlas.store import Store, UnmetDemand, utcnow

_log = logging.getLogger("atlas.demand")

#: Cells with fewer searches are not shown as a number.
MIN_SHOWN = 5
FEWER = f"< {MIN_SHOWN}"
COLUMNS = ["district_code", "district", "field", "month", "count"]
LABELS = {
    "district_code": "Kreisschlüssel",
    "district": "Landkreis / kreisfreie Stadt",
    "field": "Handlungsfeld",
    "month": "Monat",
    "count": "Suchen ohne Ergebnis",
}


def unmet(query: Query, result: Result) -> bool:
    """A nearby search that found nothing within its radius (its first page: paging through
    an empty result is not another search)."""
    return query.near is not None and result.total == 0 and query.offset == 0


def record(store: Store, query: Query, result: Result, now: datetime | None = None) -> bool:
    """Count the search if it found nothing near a place in Lower Saxony; True if counted.
    A failure to count is logged and never fails the search."""
    if not unmet(query, result):
        return False
    try:
        code = regions.locate(query.near.lat, query.near.lon)[0]
    except ValueError:
        return False
    if code is None:
        return False
    month = (now or utcnow()).strftime("%Y-%m")
    dialect = postgresql if store.is_postgres else sqlite
    statement = dialect.insert(UnmetDemand).values(
        district_code=code, field=query.field or "", month=month, count=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["district_code", "field", "month"],
        set_={"count": UnmetDemand.count + 1},
    )
    try:
        with store.session.begin() as s:
            s.execute(statement)
    except SQLAlchemyError as exc:
        _log.warning("unmet search not counted: %s", exc)
        return False
    return True


def cells(store: Store, region: str) -> list[dict]:
    """The region's cells, newest month first, then by district and field; `count` is the
    number, `shown` what the offices see (the number, or "< 5")."""
    codes = [c for c in regions.district_codes() if regions.district(c)["region"] == region]
    with store.session() as s:
        rows = s.execute(select(UnmetDemand).where(UnmetDemand.district_code.in_(codes))).scalars()
        found = [
            {
                "district_code": r.district_code,
                "district": regions.district(r.district_code)["name"],
                "field": r.field,
                "month": r.month,
                "count": r.count,
            }
            for r in rows
        ]
    found.sort(key=lambda c: (-int(c["month"].replace("-", "")), c["district"], c["field"]))
    for cell in found:
        cell["shown"] = cell["count"] if cell["count"] >= MIN_SHOWN else FEWER
    return found


def write_csv(out, found: Iterable[dict], field_names: dict, flavour: Flavour = CSV) -> None:
    """The cells as CSV (atlas.core.tables): a count below MIN_SHOWN is written as "< 5".
    `field_names` words the field slugs ("" is every field)."""
    table = Table(out, COLUMNS, flavour, LABELS)
    for cell in found:
        table.record(
            dict(cell, field=field_names.get(cell["field"], cell["field"]), count=cell["shown"])
        )
