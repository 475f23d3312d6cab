"""Build data/projects.geojson from the hand-curated records in data/projects.curated.json.

Every place goes through our own offline geocoder and the district polygons, so the map file
says nothing the curated file and the boundaries don't. An ambiguous or unknown place stops the
build with the record's id: the fix belongs in the curated file (add a postcode or a qualifier),
never in a silent pick. Records with `geocode_query: null` are places the seeds leave open; they
stay in the curated file and off the map.

Usage: .venv/bin/python scripts/build_projects.py [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shapely.geometry import Point, mapping

from atlas.core.fields import FIELDS
from atlas.core.placement import Problem, options, place_address
from atlas.core.projects import PROPERTIES as PUBLIC
from atlas.geo import geocoding
from atlas.geo.geocoding import Precision
from atlas.resources import DATA_DIR

CURATED = DATA_DIR / "projects.curated.json"
OUTPUT = DATA_DIR / "projects.geojson"

#: Map properties in the order they are written (the public ones up to the region; status and
#: contact are the store's); rebuilding gives a byte-identical file.
PROPERTIES = tuple(PUBLIC[: PUBLIC.index("region") + 1])
#: A curated record stands at an address, a postcode or a municipality, or for an area.
PRECISIONS = tuple(
    p.value for p in (Precision.ADDRESS, Precision.POSTCODE, Precision.MUNICIPALITY, Precision.AREA)
)
REQUIRED = ("id", "name", "description", "fields", "source", "precision")


class BuildError(Exception):
    """One or more records cannot be placed; the message names each of them."""


def load_curated(path: Path = CURATED) -> list[dict]:
    """The curated records, checked for the mistakes that would otherwise reach the map."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))
    problems, seen = [], set()
    for i, rec in enumerate(records, start=1):
        rid = rec.get("id") or f"record {i}"
        missing = [k for k in REQUIRED if not rec.get(k)]
        if missing:
            problems.append(f"{rid}: missing {', '.join(missing)}")
        if rid in seen:
            problems.append(f"{rid}: id used twice")
        seen.add(rid)
        if bad := [f for f in rec.get("fields") or [] if f not in FIELDS]:
            problems.append(f"{rid}: unknown field(s) {', '.join(bad)}; valid: {', '.join(FIELDS)}")
        if rec.get("precision") not in PRECISIONS:
            problems.append(f"{rid}: precision {rec.get('precision')!r} not in {PRECISIONS}")
        if rec.get("geocode_query") is None and not (
            rec.get("precision") == Precision.AREA and rec.get("location_note")
        ):
            problems.append(
                f"{rid}: without geocode_query it must be precision 'area' "
                "with a location_note saying why"
            )
    if problems:
        raise BuildError("invalid curated records:\n  " + "\n  ".join(problems))
    return records


def place(rec: dict) -> dict:
    """Coordinates, district and region for one record's geocode_query, or BuildError."""
    query = rec["geocode_query"]
    found = place_address(query, geocoding.resolve)
    if found.problem is Problem.AMBIGUOUS:
        raise BuildError(
            f"{rec['id']}: geocode_query {query!r} is ambiguous "
            f"({options(found.candidates)}); "
            "add a postcode or qualifier in the curated file"
        )
    if found.problem is Problem.NOT_FOUND:
        raise BuildError(
            f"{rec['id']}: geocode_query {query!r} not found ({found.answer.get('status')})"
        )
    if found.problem is Problem.INVALID:
        raise BuildError(f"{rec['id']}: {query!r} gave unusable coordinates: {found.detail}")
    # The map file holds six decimals (the gazetteer's points have five at most).
    lat, lon = round(found.lat, 6), round(found.lon, 6)
    if found.problem is Problem.OUTSIDE:
        raise BuildError(f"{rec['id']}: {query!r} → {lat}, {lon} lies outside Lower Saxony")
    said = found.answer.get("district_code")
    if said and said != found.district_code:
        print(
            f"warning: {rec['id']}: geocoder says district {said}, "
            f"boundaries say {found.district_code}; using the boundaries",
            file=sys.stderr,
        )
    return {
        "lat": lat,
        "lon": lon,
        "district_code": found.district_code,
        "district": found.district,
        "region": found.region,
    }


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def feature(rec: dict, where: dict) -> dict:
    props = {k: rec.get(k) for k in PROPERTIES}
    props.update({k: where[k] for k in ("district_code", "district", "region")})
    for key in ("fields", "tags", "source"):
        props[key] = _as_list(props[key])
    return {
        "type": "Feature",
        "geometry": mapping(Point(where["lon"], where["lat"])),
        "properties": props,
    }


def build(records: list[dict]) -> tuple[dict, list[dict]]:
    """(FeatureCollection sorted by id, records left off the map); BuildError lists every failure."""
    features, unmapped, errors = [], [], []
    for rec in sorted(records, key=lambda r: r["id"]):
        if rec.get("geocode_query") is None:
            unmapped.append(rec)
            continue
        try:
            features.append(feature(rec, place(rec)))
        except BuildError as exc:
            errors.append(str(exc))
    if errors:
        raise BuildError("cannot place:\n  " + "\n  ".join(errors))
    return {"type": "FeatureCollection", "features": features}, unmapped


def dumps(collection: dict) -> str:
    return json.dumps(collection, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curated", type=Path, default=CURATED)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        collection, unmapped = build(load_curated(args.curated))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(dumps(collection), encoding="utf-8")
    print(f"Wrote {len(collection['features'])} projects to {args.output}.", file=sys.stderr)
    for rec in unmapped:
        print(f"kept off the map: {rec['id']} — {rec['location_note']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
