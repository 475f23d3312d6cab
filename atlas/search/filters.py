"""The SQL side of a search that both back ends share: the conditions of a query, the orders
by name and newest, and the plain listing of a search without a place."""

from __future__ import annotations

from sqlalchemy import String, and_, cast, func, select

from atlas.core.text import normalize
from atlas.search.backend import Result
from atlas.search.query import Query
from atlas.store import Project, Store

#: Sorts besides distance, with the id to break ties.
ORDER = {
    "name": [func.lower(Project.name), Project.id],
    "newest": [Project.created_at.desc(), Project.id],
}


#: The marker feed's columns: [id, lat, lon, first field, name] (the name is each marker's
#: accessible name on the map).
MARKER_COLUMNS = (Project.id, Project.lat, Project.lon, Project.fields[0].as_string(), Project.name)


def marker_row(row) -> list:
    """One row of the marker feed, coordinates to 5 decimals (about a metre)."""
    return [row[0], round(row[1], 5), round(row[2], 5), row[3], row[4]]


def has_field(slug: str):
    """Projects working in a field: a match on the JSON text, the same on SQLite and PostgreSQL."""
    return cast(Project.fields, String).like(f'%"{slug}"%')


def has_language(code: str):
    """Projects working with people in a language: a match on the JSON text, as `has_field`."""
    return cast(Project.languages, String).like(f'%"{code}"%')


def conditions(query: Query) -> list:
    """Published projects that match every filter; with a place, those in the box around its
    circle (the back end decides which of them are inside the circle)."""
    return attributes(query) + boxes(query)


def attributes(query: Query) -> list:
    """Published projects of the query's region, district and field, with its words."""
    cond = [Project.status == "published"]
    if query.region:
        cond.append(Project.region == query.region)
    if query.district:
        cond.append(Project.district_code == query.district)
    if query.field:
        cond.append(has_field(query.field))
    if query.precision:
        cond.append(Project.precision == query.precision)
    if query.updated:
        start, end = query.updated
        if start is not None:
            cond.append(Project.updated_at >= start)
        if end is not None:
            cond.append(Project.updated_at <= end)
    if query.language:
        cond.append(has_language(query.language))
    if query.q:
        for word in normalize(query.q).split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            cond.append(Project.search_text.like(f"%{escaped}%", escape="\\"))
    return cond


def boxes(query: Query) -> list:
    """Points in the query's bbox and in the box around its circle, on the plain columns."""
    cond = []
    if query.bbox:
        minlon, minlat, maxlon, maxlat = query.bbox
        cond += [Project.lon.between(minlon, maxlon), Project.lat.between(minlat, maxlat)]
    if query.near:
        minlon, minlat, maxlon, maxlat = query.near.box()
        cond += [Project.lat.between(minlat, maxlat), Project.lon.between(minlon, maxlon)]
    return cond


def listing(store: Store, query: Query) -> Result:
    """A search without a place, all in SQL: the count, and the page by name or newest."""
    cond = and_(*conditions(query))
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Project).where(cond))
        rows = s.scalars(
            select(Project)
            .where(cond)
            .order_by(*ORDER[query.sort])
            .limit(query.limit)
            .offset(query.offset)
        ).all()
    return Result(total, [(p, None) for p in rows])
