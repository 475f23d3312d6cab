"""Placing a project: geocode its address, then find the district and region its point lies in.

The one implementation for every way into the atlas: the import (`projects.clean_record`,
`projects.clean_rows`), the submission and moderation forms (`submissions.place`) and the map
file of the curated projects (scripts/build_projects.py). The steps say what went wrong as a
`Problem`; each caller words it for its readers (import reasons, form messages, build errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from atlas.geo import regions
from atlas.geo.geocoding import Precision


class Problem(StrEnum):
    """Why an address or a point cannot be placed."""

    AMBIGUOUS = "ambiguous"  # the address names several places: `candidates`
    NOT_FOUND = "not_found"  # the geocoder knows no such place: `suggestions`
    INVALID = "invalid"  # not a coordinate: `detail` says why
    OUTSIDE = "outside"  # a point outside Lower Saxony: `lat`, `lon`


@dataclass
class Placement:
    """Where an address or a point lies, or why it cannot be placed (`problem`)."""

    lat: float | None = None
    lon: float | None = None
    precision: Precision | None = None
    #: The geocoder's postcode for the address (None for a point, or where it is not one).
    postcode: str | None = None
    district_code: str | None = None
    district: str | None = None
    region: str | None = None
    candidates: list[dict] = field(default_factory=list)
    suggestions: list[dict] = field(default_factory=list)
    problem: Problem | None = None
    #: The coordinate check's own message for an INVALID point.
    detail: str | None = None
    #: The message a caller shows its users for the problem (the forms set it).
    error: str | None = None
    #: The geocoder's whole answer, for callers that compare it with the boundaries.
    answer: dict | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.lat is not None and self.problem is None and self.error is None


def address_query(street: str | None, postcode: str | None, city: str | None) -> str:
    """What the geocoder is asked for an address: "Planckstraße 2, 30169 Hannover"."""
    return ", ".join(filter(None, [street, " ".join(filter(None, [postcode, city]))]))


def options(candidates: list[dict]) -> str:
    """The places an ambiguous address can mean, for a message: "Winsen (Luhe) (Harburg);
    Winsen (Aller) (Celle)"."""
    return "; ".join(f"{c.get('label')} ({c.get('district')})" for c in candidates)


def geocode_address(query: str, geocode) -> Placement:
    """The point `geocode(query)` gives, with its precision and postcode, not yet located;
    an ambiguous or unknown place is a problem, never a guess."""
    answer = geocode(query)
    if answer["status"] == "ambiguous":
        return Placement(problem=Problem.AMBIGUOUS, candidates=answer["candidates"], answer=answer)
    if answer["status"] != "ok":
        return Placement(
            problem=Problem.NOT_FOUND, suggestions=answer.get("suggestions") or [], answer=answer
        )
    return Placement(
        lat=answer["lat"],
        lon=answer["lon"],
        precision=answer.get("precision"),
        postcode=answer.get("postcode"),
        answer=answer,
    )


def locate(placements: list[Placement]) -> list[Placement]:
    """Fill in district and region of each placement's point (the same objects, returned);
    a point that is not a coordinate becomes INVALID, one outside Lower Saxony OUTSIDE.

    Valid points are located in ONE vectorised `regions.locate` call, as an import of thousands
    of rows must not pay for a call per point; any other point goes through `locate_one` alone,
    so its message is exactly the one `locate_one` gives.
    """
    todo = [p for p in placements if p.problem is None and p.lat is not None]
    batch = [p for p in todo if _valid(p.lat, p.lon)]
    codes = (
        regions.locate([float(p.lat) for p in batch], [float(p.lon) for p in batch])
        if batch
        else []
    )
    where = {id(p): regions.describe(p.lat, p.lon, code) for p, code in zip(batch, codes)}
    for p in todo:
        if id(p) not in where:
            try:
                where[id(p)] = regions.locate_one(p.lat, p.lon)
            except ValueError as exc:
                p.lat = p.lon = None
                p.problem, p.detail = Problem.INVALID, str(exc)
                continue
        found = where[id(p)]
        p.lat, p.lon = found["lat"], found["lon"]
        if found.get("error"):
            p.problem = Problem.OUTSIDE
        else:
            p.district_code, p.district = found["district_code"], found["district"]
            p.region = found["region"]
    return placements


def _valid(lat, lon) -> bool:
    return (
        all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in (lat, lon)
        )
        and abs(lat) <= 90
        and abs(lon) <= 180
    )


def locate_point(lat, lon, precision: Precision | None = None) -> Placement:
    """A given point located: numbers, or text that reads as numbers (a form's fields)."""
    return locate([Placement(lat=lat, lon=lon, precision=precision)])[0]


def place_address(query: str, geocode) -> Placement:
    """An address geocoded by `geocode` (query → answer dict, geocoding.resolve or the app's
    configured one) and located."""
    return locate([geocode_address(query, geocode)])[0]
