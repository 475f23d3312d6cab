"""What a search asks: request parameters checked and turned into a Query.

Every parameter is validated here and a bad one raises BadQuery with a message that says what is
wrong, so the API answers 400 and the pages show the message, never a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from atlas.core import languages
from atlas.core.fields import FIELDS
from atlas.geo import geocoding
from atlas.geo.geodesy import circle_box
from atlas.geo.regions import REGIONS, district

RADII_KM = (5, 10, 25, 50)
MAX_RADIUS_KM = 200
MAX_LIMIT = 1000
SORTS = ("name", "distance", "newest")
_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")
#: `near_source=device`: the `lat,lon` in `near` is the visitor's own location (the map's
#: "use my location"), so the pages say "um Ihren Standort".
NEAR_SOURCES = ("device",)


class BadQuery(ValueError):
    """A parameter that cannot be used. The message is the API's (English); `extra` carries
    the German wording for the pages (`de`) and, for a place, `candidates` or `suggestions`
    (each with `near`: the text that searches for exactly it)."""

    def __init__(self, message: str, *, code: str = "", params: dict | None = None, **extra):
        super().__init__(message)
        self.extra = extra
        #: What is wrong, for the pages to word in the reader's language (atlas.web.problems):
        #: a code and the values its text names.
        self.code = code
        self.params = params or {}


@dataclass
class Near:
    """A place and a radius: the geodesic circle a search keeps to.

    `source` says what the point is: "place" (a place, postcode or address the geocoder found,
    with its `precision` and `postcode`), "device" (the visitor's own location) or "point"
    (bare coordinates; `label` names the nearest place, "" outside Lower Saxony). `label` never
    holds coordinates, nor a street the geocoder did not find.
    """

    lat: float
    lon: float
    label: str
    radius_km: float
    source: str = "place"
    precision: str | None = None
    postcode: str | None = None
    #: The query named a street that the point does not stand for (the offline gazetteer).
    street_ignored: bool = False

    def box(self) -> tuple[float, float, float, float]:
        """(minlon, minlat, maxlon, maxlat) of a box a little larger than the circle."""
        return circle_box(self.lat, self.lon, self.radius_km)


@dataclass
class Query:
    region: str | None = None
    district: str | None = None
    field: str | None = None
    #: An ISO 639-1 code: projects that work with people in that language (issue 16).
    language: str | None = None
    q: str | None = None
    near: Near | None = None
    bbox: tuple[float, float, float, float] | None = None
    sort: str = "name"
    limit: int = 100
    offset: int = 0
    #: Filters only the OGC API sets (atlas.core.ogc): a precision, and (start, end) of
    #: `updated_at` (either end may be None).
    precision: str | None = None
    updated: tuple | None = None
    args: dict = dataclass_field(default_factory=dict)


def _int(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadQuery(
            f"{name} '{raw}' is not a whole number",
            code="not_whole",
            params={"name": name},
            de=f"„{name}“ muss eine ganze Zahl sein.",
        ) from None
    if not low <= value <= high:
        raise BadQuery(
            f"{name} must be between {low} and {high}, not {value}",
            code="out_of_range",
            params={"name": name, "low": low, "high": high},
            de=f"„{name}“ muss zwischen {low} und {high} liegen.",
        )
    return value


def parse(args: Mapping, *, geocode, default_limit: int = 100, max_limit: int = MAX_LIMIT) -> Query:
    """Check request parameters and turn them into a Query, resolving `near` with `geocode`."""
    query = Query(args={k: v for k, v in args.items() if v not in (None, "")})
    if region := (args.get("region") or "").strip():
        if region not in REGIONS:
            raise BadQuery(
                f"unknown region '{region}'; valid regions: {', '.join(REGIONS)}",
                code="unknown_region",
                de="Diese Region gibt es nicht; bitte wählen Sie eine aus der Liste.",
            )
        query.region = region
    if code := (args.get("district") or "").strip():
        if district(code) is None:
            raise BadQuery(
                f"unknown district key '{code}'; use a 5-digit key such as 03241 "
                f"(see /api/districts)",
                code="unknown_district",
                de="Diesen Landkreis gibt es nicht; bitte wählen Sie einen aus der Liste.",
            )
        query.district = code
    if query.region and query.district and district(query.district)["region"] != query.region:
        own = district(query.district)["region"]
        raise BadQuery(
            f"district {query.district} lies in region '{own}', not in '{query.region}'",
            code="district_outside_region",
            params={
                "district": district(query.district)["name"],
                "own": REGIONS[own]["name"],
                "region": REGIONS[query.region]["name"],
            },
            de=(
                f"„{district(query.district)['name']}“ liegt in der Region "
                f"{REGIONS[own]['name']}, nicht in der Region {REGIONS[query.region]['name']}. "
                f"Zusammen passen diese beiden Filter auf kein Projekt."
            ),
            conflict=True,
        )
    if slug := (args.get("field") or "").strip():
        if slug not in FIELDS:
            raise BadQuery(
                f"unknown field '{slug}'; valid fields: {', '.join(FIELDS)}",
                code="unknown_field",
                de="Dieses Handlungsfeld gibt es nicht; bitte wählen Sie eines aus der Liste.",
            )
        query.field = slug
    if code := (args.get("language") or "").strip().lower():
        if not languages.is_known(code):
            raise BadQuery(
                f"unknown language '{code}'; use an ISO 639-1 code such as ar, fa, uk",
                code="unknown_language",
                de="Diese Sprache kennen wir nicht; bitte wählen Sie eine aus der Liste.",
            )
        query.language = code
    query.q = " ".join((args.get("q") or "").split())[:200] or None
    if raw := (args.get("bbox") or "").strip():
        query.bbox = _bbox(raw)
    source = (args.get("near_source") or "").strip()
    if source and source not in NEAR_SOURCES:
        raise BadQuery(
            f"unknown near_source '{source}'; valid: {', '.join(NEAR_SOURCES)}",
            code="unknown_near_source",
            de="Unbekannte Herkunft des Standorts.",
        )
    if near := (args.get("near") or "").strip():
        query.near = _near(near[:200], args.get("radius_km"), geocode, source)
    elif args.get("radius_km") not in (None, ""):
        _radius(args.get("radius_km"))
    sort = (args.get("sort") or "").strip() or ("distance" if query.near else "name")
    if sort not in SORTS:
        raise BadQuery(
            f"unknown sort '{sort}'; valid: {', '.join(SORTS)}",
            code="unknown_sort",
            de="Diese Sortierung gibt es nicht.",
        )
    if sort == "distance" and not query.near:
        raise BadQuery(
            "sort=distance needs a place in 'near'",
            code="distance_needs_place",
            de="Nach Entfernung sortieren geht nur mit einem Ort.",
        )
    query.sort = sort
    query.limit = _int(args, "limit", default_limit, 1, max_limit)
    query.offset = _int(args, "offset", 0, 0, 10_000_000)
    return query


def _bbox(raw: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    bad_box = "Der Kartenausschnitt (bbox) ist ungültig."
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadQuery(
            f"bbox '{raw}' must be four numbers: minlon,minlat,maxlon,maxlat",
            code="bad_bbox",
            de=bad_box,
        )
    minlon, minlat, maxlon, maxlat = values
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise BadQuery(
            f"bbox '{raw}' is not a box: minlon < maxlon and minlat < maxlat, "
            f"within -180..180 and -90..90",
            code="bad_bbox",
            de=bad_box,
        )
    return values


def _radius(raw) -> float:
    de = f"Der Umkreis muss eine Zahl über 0 und höchstens {MAX_RADIUS_KM} km sein."
    try:
        radius = float(raw)
    except (TypeError, ValueError):
        raise BadQuery(
            f"radius_km '{raw}' is not a number",
            code="bad_radius",
            params={"max": MAX_RADIUS_KM},
            de=de,
        ) from None
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise BadQuery(
            f"radius_km must be more than 0 and at most {MAX_RADIUS_KM}, not {raw}",
            code="bad_radius",
            params={"max": MAX_RADIUS_KM},
            de=de,
        )
    return radius


def _with_choice(answers: list[dict]) -> list[dict]:
    return [dict(a, near=geocoding.choice_query(a)) for a in answers]


def _near(text: str, radius_raw, geocode, source: str = "") -> Near:
    radius = _radius(radius_raw) if radius_raw not in (None, "") else 25.0
    if m := _LATLON.match(text):
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise BadQuery(
                f"near '{text}' is not a valid 'lat,lon'",
                code="bad_coordinates",
                de="Diese Koordinaten gibt es nicht.",
            )
        if source == "device":
            return Near(lat, lon, "Ihr Standort", radius, source="device")
        nearest = geocoding.OfflineGeocoder().reverse((lat, lon))
        return Near(lat, lon, nearest.address if nearest else "", radius, source="point")
    answer = geocode(text)
    if answer["status"] == "ambiguous":
        raise BadQuery(
            f"place '{text}' is ambiguous; choose one of the candidates",
            code="place_ambiguous",
            params={"place": geocoding.quote(text)},
            de=f"Den Ort „{geocoding.quote(text)}“ gibt es mehrmals. Welchen meinen Sie?",
            candidates=_with_choice(answer["candidates"]),
        )
    if answer["status"] != "ok":
        raise BadQuery(
            f"place '{text}' not found in Lower Saxony",
            code=answer.get("error_code") or ("" if answer.get("error") else "place_not_found"),
            params=answer.get("error_params") or {},
            de=answer.get("error") or "Diesen Ort haben wir in Niedersachsen nicht gefunden.",
            suggestions=_with_choice(answer.get("suggestions") or []),
        )
    asked = geocoding.parse(text)
    label, precision = answer["label"], answer.get("precision")
    ignored = bool(asked.street) and precision != geocoding.Precision.ADDRESS
    if ignored and label.startswith(f"{asked.street}, "):
        label = label[len(asked.street) + 2 :]
    return Near(
        answer["lat"],
        answer["lon"],
        label,
        radius,
        precision=str(precision) if precision else None,
        # the postcode the visitor asked for (or the one the point stands for)
        postcode=asked.postcode or (answer["postcode"] if precision == "postcode" else None),
        street_ignored=ignored,
    )
