"""What a project record is: its properties, how a raw row becomes a clean record, and how a
record reads and writes as GeoJSON and CSV.

Imports, the curated data and (later) the submission form all pass through `clean_record`, so
every way into the store checks the same things and explains a refusal the same way.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlparse

from atlas.core import languages, placement, tables
from atlas.core.fields import FIELDS, unknown_fields
from atlas.core.placement import Problem
from atlas.core.text import normalize
from atlas.geo import geocoding, regions
from atlas.geo.geocoding import Precision
from atlas.store import Status

#: Public properties, in the order they are exported.
PROPERTIES = [
    "id",
    "name",
    "organisation",
    "description",
    "fields",
    "tags",
    "city",
    "postcode",
    "street",
    "website",
    "source",
    "source_date",
    "precision",
    "location_note",
    "district_code",
    "district",
    "region",
    "status",
    "synthetic",
    "contact_email",
    "confirmed_at",
    "languages",
]
LIST_PROPERTIES = {"fields", "tags", "source", "languages"}
MAX_LENGTH = {
    "id": 120,
    "name": 200,
    "organisation": 200,
    "description": 4000,
    "city": 120,
    "street": 200,
    "website": 300,
    "location_note": 1000,
}
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_POSTCODE = re.compile(r"^\d{5}$")
#: A source's date as precise as the document gives it: "2020", "2019-03" or "2018-11-06".
_SOURCE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def slugify(text: str) -> str:
    """German-aware slug: "Café Überall, Lüneburg" → "cafe-ueberall-lueneburg"."""
    ascii_text = normalize(text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[: MAX_LENGTH["id"]].strip("-")


class Reason(str):
    """Why a row cannot be stored: the English text (what `str` gives: the command line, the
    API, logs) with a `code` and its `params`, so a page words it in its readers' language
    (atlas.web.wording.reason_de for the offices). A reason kept from before it had a code
    (code None) is only its text."""

    code: str | None
    params: dict

    def __new__(cls, text: str, code: str | None = None, **params):
        reason = super().__new__(cls, text)
        reason.code, reason.params = code, params
        return reason

    def as_json(self) -> dict:
        return {"text": str(self), "code": self.code, "params": self.params}

    @classmethod
    def from_json(cls, data: str | dict) -> Reason:
        """A reason as `as_json` keeps it, or a kept plain text (no code)."""
        if isinstance(data, Reason):
            return data
        if isinstance(data, str):
            return cls(data)
        return cls(data["text"], data.get("code"), **(data.get("params") or {}))


class InvalidValue(ValueError):
    """A value that cannot be read; `reason` says why."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


@dataclass
class RowError(Exception):
    """A row that cannot be stored, with every reason, and where it stood in its file."""

    where: str
    reasons: list[Reason] = field(default_factory=list)
    #: The geocoder's placement of the row's address (its candidates when ambiguous), if asked.
    found: placement.Placement | None = None

    def __str__(self) -> str:
        return f"{self.where}: " + "; ".join(self.reasons)


def _text(value) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = re.split(r"[;,|]", value)
    if not isinstance(value, (list, tuple)):
        raise ValueError("must be a list or a text separated by ';'")  # worded by _check
    return [str(v).strip() for v in value if str(v).strip()]


def _coordinate(value, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InvalidValue(
            Reason(f"{name} '{value}' is not a number", "not_a_number", name=name, value=str(value))
        ) from None
    if not math.isfinite(number):
        raise InvalidValue(
            Reason(
                f"{name} '{value}' is not a finite number",
                "not_finite",
                name=name,
                value=str(value),
            )
        )
    return number


def clean_record(raw: dict, where: str, *, geocode=None) -> dict:
    """Check one raw row and return the record to store, or raise RowError with every reason.

    Location: given coordinates must lie in Lower Saxony; without them street, postcode and city
    are geocoded, and an ambiguous or unknown place is refused (never guessed). District and
    region always come from the point, never from the row.
    """
    rec, reasons, point = _check(raw, geocode or geocoding.resolve)
    return _finish(
        rec, reasons, point, placement.locate_point(*point) if point is not None else None, where
    )


def _check(raw: dict, geocode) -> tuple[dict, list[Reason], tuple[float, float] | None]:
    """Everything of clean_record but locating the point: (record, reasons, point to locate)."""
    reasons: list[Reason] = []
    rec: dict = {}
    for key in (
        "id",
        "name",
        "organisation",
        "description",
        "city",
        "street",
        "website",
        "location_note",
        "precision",
        "postcode",
        "source_date",
    ):
        rec[key] = _text(raw.get(key))
        limit = MAX_LENGTH.get(key)
        if limit and rec[key] and len(rec[key]) > limit:
            reasons.append(
                Reason(f"{key} is longer than {limit} characters", "too_long", key=key, limit=limit)
            )
    if not rec["name"]:
        reasons.append(Reason("name is missing", "name_missing"))
    for key in LIST_PROPERTIES:
        try:
            rec[key] = _as_list(raw.get(key))
        except ValueError as exc:
            rec[key] = []
            reasons.append(Reason(f"{key} {exc}", "not_a_list", key=key))
    if not rec["fields"]:
        reasons.append(
            Reason(f"fields is empty; valid fields: {', '.join(FIELDS)}", "fields_missing")
        )
    elif bad := unknown_fields(rec["fields"]):
        reasons.append(
            Reason(
                f"unknown field(s) {', '.join(repr(b) for b in bad)}; "
                f"valid fields: {', '.join(FIELDS)}",
                "fields_unknown",
                values=bad,
            )
        )
    if bad := languages.unknown(rec["languages"]):
        reasons.append(
            Reason(
                f"unknown language code(s) {', '.join(repr(b) for b in bad)}; use ISO 639-1",
                "languages_unknown",
                values=bad,
            )
        )
    rec["languages"] = languages.clean(rec["languages"])
    if rec["id"] and not _ID.match(rec["id"]):
        reasons.append(
            Reason(
                f"id '{rec['id']}' must be lower-case letters, digits and hyphens",
                "id_format",
                value=rec["id"],
            )
        )
    if rec["website"]:
        url = urlparse(rec["website"])
        if url.scheme not in ("http", "https") or not url.netloc:
            reasons.append(
                Reason(
                    f"website '{rec['website']}' is not an http(s) address",
                    "website",
                    value=rec["website"],
                )
            )
    if rec["precision"]:
        try:
            rec["precision"] = Precision(rec["precision"])
        except ValueError:
            reasons.append(
                Reason(
                    f"precision '{rec['precision']}' is not one of {', '.join(Precision)}",
                    "precision",
                    value=rec["precision"],
                )
            )
    if rec["source_date"] and not _SOURCE_DATE.match(rec["source_date"]):
        reasons.append(
            Reason(
                f"source_date '{rec['source_date']}' is not YYYY, YYYY-MM or YYYY-MM-DD",
                "source_date",
                value=rec["source_date"],
            )
        )
    if rec["postcode"]:
        if not _POSTCODE.match(rec["postcode"]):
            reasons.append(
                Reason(
                    f"postcode '{rec['postcode']}' is not five digits",
                    "postcode_format",
                    value=rec["postcode"],
                )
            )
        elif geocode(rec["postcode"])["status"] == "not_found":
            reasons.append(
                Reason(
                    f"postcode {rec['postcode']} does not exist in Lower Saxony",
                    "postcode_unknown",
                    value=rec["postcode"],
                )
            )
    rec["synthetic"] = str(raw.get("synthetic", "")).lower() in ("1", "true", "yes")
    rec["status"] = _text(raw.get("status")) or Status.PUBLISHED

    try:
        lat, lon = _coordinate(raw.get("lat"), "lat"), _coordinate(raw.get("lon"), "lon")
    except InvalidValue as exc:
        reasons.append(exc.reason)
        lat = lon = None
    else:
        if (lat is None) != (lon is None):
            reasons.append(Reason("only one of lat and lon is given", "one_coordinate"))
            lat = lon = None
        elif lat is None and not reasons:
            lat, lon = _geocode_row(rec, geocode, reasons)
    return rec, reasons, ((lat, lon) if lat is not None and not reasons else None)


def _finish(
    rec: dict, reasons: list[Reason], point, located: placement.Placement | None, where: str
) -> dict:
    """The located record, or RowError with every reason."""
    found = rec.pop("_geocoded", None)
    if point is not None:
        lat, lon = point
        if located.problem is Problem.INVALID:
            reasons.append(Reason(located.detail, "point_invalid"))
        elif located.problem is Problem.OUTSIDE:
            reasons.append(
                Reason(
                    f"coordinates {lat:.5f}, {lon:.5f} lie outside Lower Saxony",
                    "point_outside",
                    lat=lat,
                    lon=lon,
                )
            )
        else:
            rec.update(lat=lat, lon=lon, district_code=located.district_code, region=located.region)
    if reasons:
        raise RowError(where, reasons, found)
    rec["id"] = rec["id"] or slugify(" ".join(filter(None, [rec["name"], rec["city"]])))
    return rec


def _geocode_row(rec: dict, geocode, reasons: list[Reason]):
    query = placement.address_query(rec["street"], rec["postcode"], rec["city"])
    if not query:
        reasons.append(
            Reason("no coordinates and no address (street, postcode, city) to geocode", "no_place")
        )
        return None, None
    found = placement.geocode_address(query, geocode)
    rec["_geocoded"] = found
    if found.problem is Problem.AMBIGUOUS:
        options = placement.options(found.candidates)
        reasons.append(
            Reason(
                f"place '{query}' is ambiguous, add a postcode: {options}",
                "place_ambiguous",
                query=query,
                options=options,
            )
        )
        return None, None
    if found.problem:
        hint = ", ".join(s["label"] for s in found.suggestions)
        reasons.append(
            Reason(
                f"place '{query}' not found" + (f" (did you mean: {hint}?)" if hint else ""),
                "place_not_found",
                query=query,
                suggestions=hint,
            )
        )
        return None, None
    rec["precision"] = rec["precision"] or found.precision
    rec["postcode"] = rec["postcode"] or found.postcode
    return found.lat, found.lon


# --- reading files -------------------------------------------------------------------------


#: What a file's reader says of a row it cannot read at all (as the row's "__error__").
NOT_A_FEATURE = Reason("is not a GeoJSON Feature", "not_a_feature")
NOT_A_POINT = Reason("geometry is not a Point with [lon, lat]", "not_a_point")
NOT_A_POINT_GEOMETRY = Reason("geometry is not a Point", "not_a_point")
#: The same with their codes, by their text (a reader's cells may pass as plain text).
_ROW_ERRORS = {r: r for r in (NOT_A_FEATURE, NOT_A_POINT, NOT_A_POINT_GEOMETRY)}


def read_rows(data: str, filename: str) -> list[tuple[str, dict]]:
    """Raw rows of a GeoJSON text, each with where it stood ("feature 3"): the curated data.
    The offices' lists in every format (CSV too) are read by atlas.core.importing.

    A file that cannot be parsed at all raises RowError naming the place of the fault.
    """
    return _geojson_rows(data.removeprefix(tables.BOM), filename)


def _geojson_rows(data: str, filename: str) -> list[tuple[str, dict]]:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise RowError(
            filename, [f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise RowError(filename, ["not a GeoJSON FeatureCollection with a list of features"])
    rows = []
    for i, feature in enumerate(doc["features"], start=1):
        where = f"feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            rows.append((where, {"__error__": NOT_A_FEATURE}))
            continue
        props = dict(feature.get("properties") or {})
        props.pop("lat", None), props.pop("lon", None)
        geom = feature.get("geometry")
        if geom is not None:
            coords = geom.get("coordinates") if isinstance(geom, dict) else None
            if not (
                isinstance(geom, dict)
                and geom.get("type") == "Point"
                and isinstance(coords, list)
                and len(coords) >= 2
            ):
                rows.append((where, {"__error__": NOT_A_POINT}))
                continue
            props["lon"], props["lat"] = coords[0], coords[1]
        where = f"feature {i}" + (f" ({props['name']})" if props.get("name") else "")
        rows.append((where, props))
    return rows


def clean_rows(rows: list[tuple[str, dict]], *, progress=None, geocode=None):
    """Clean every row; return (records, errors). Duplicate ids within one file are errors."""
    records, errors = [], []
    for outcome in clean_each(rows, progress=progress, geocode=geocode):
        (errors if isinstance(outcome, RowError) else records).append(outcome)
    return records, errors


def clean_each(rows: list[tuple[str, dict]], *, progress=None, geocode=None) -> list:
    """Each row cleaned, in order: its record, or the RowError with every reason."""
    # One answer per distinct query within the file: files repeat their places.
    geocode = cache(geocode or geocoding.resolve)
    checked = []
    for where, raw in progress(rows) if progress else rows:
        if "__error__" in raw:
            error = _ROW_ERRORS.get(raw["__error__"]) or Reason(raw["__error__"])
            checked.append((where, RowError(where, [error])))
        else:
            checked.append((where, _check(raw, geocode)))
    # All points of the file located at once; then each row finished as clean_record would.
    points = [c[2] for _, c in checked if not isinstance(c, RowError) and c[2] is not None]
    places = iter(placement.locate([placement.Placement(lat=lat, lon=lon) for lat, lon in points]))
    outcomes, seen = [], {}
    for where, c in checked:
        try:
            if isinstance(c, RowError):
                raise c
            rec, reasons, point = c
            rec = _finish(rec, reasons, point, next(places) if point is not None else None, where)
            if rec["id"] in seen:
                text = f"id '{rec['id']}' already used by {seen[rec['id']]}"
                raise RowError(
                    where, [Reason(text, "id_taken", value=rec["id"], where=seen[rec["id"]])]
                )
            seen[rec["id"]] = where
            outcomes.append(rec)
        except RowError as exc:
            outcomes.append(exc)
    return outcomes


# --- writing files -------------------------------------------------------------------------


def public_properties(project) -> dict:
    """The exported properties of a stored project (an ORM object or a dict)."""
    get = project.get if isinstance(project, dict) else lambda k: getattr(project, k, None)
    props = {k: get(k) for k in PROPERTIES}
    info = regions.district(props["district_code"]) if props["district_code"] else None
    props["district"] = info["name"] if info else None
    # Personal data only with consent: the e-mail is public when its owner said so.
    props["contact_email"] = get("contact_email") if get("publish_email") else None
    confirmed = props["confirmed_at"]
    props["confirmed_at"] = confirmed.isoformat() if hasattr(confirmed, "isoformat") else confirmed
    return props


def to_feature(project) -> dict:
    get = project.get if isinstance(project, dict) else lambda k: getattr(project, k)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(get("lon"), 6), round(get("lat"), 6)]},
        "properties": public_properties(project),
    }


def write_geojson(projects, out) -> None:
    json.dump(
        {"type": "FeatureCollection", "features": [to_feature(p) for p in projects]},
        out,
        ensure_ascii=False,
        indent=1,
    )
    out.write("\n")


#: Column headers of the Excel flavour of the CSV (German spreadsheets).
GERMAN_HEADERS = {
    "id": "Kennung",
    "name": "Name",
    "organisation": "Träger",
    "description": "Beschreibung",
    "fields": "Handlungsfelder",
    "tags": "Schlagworte",
    "city": "Ort",
    "postcode": "PLZ",
    "street": "Straße",
    "website": "Website",
    "source": "Quelle",
    "source_date": "Stand der Quelle",
    "precision": "Genauigkeit",
    "location_note": "Hinweis zum Ort",
    "district_code": "Kreisschlüssel",
    "district": "Landkreis",
    "region": "Region",
    "status": "Status",
    "synthetic": "Testdaten",
    "contact_email": "E-Mail",
    "confirmed_at": "Zuletzt bestätigt",
    "languages": "Sprachen",
    "lat": "Breite",
    "lon": "Länge",
}


def write_csv(projects, out, flavour: tables.Flavour = tables.CSV) -> None:
    """The projects as CSV (see atlas.core.tables: neutralised cells, byte order mark); both
    flavours are what `atlas import` (atlas.core.importing) reads back."""
    table = tables.Table(out, PROPERTIES + ["lat", "lon"], flavour, GERMAN_HEADERS)
    for p in projects:
        row = public_properties(p)
        row.update({k: ";".join(row[k] or []) for k in LIST_PROPERTIES})
        row["lat"], row["lon"] = round(p.lat, 6), round(p.lon, 6)
        table.record(row)
