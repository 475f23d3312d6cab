"""Synthetic projects for tests and benchmarks: generated, flagged, never written to data/.

Points follow the districts' population so clusters look like the real state, and every record
says it is synthetic in its id, name, organisation, tags and the `synthetic` flag.
"""

from __future__ import annotations

import numpy as np

from atlas.core.fields import FIELDS
from atlas.core.text import search_text
from atlas.geo import regions
from atlas.geo.geocoding import Precision
from atlas.store import Status

SYNTHETIC_PREFIX = "synthetic-"


def synthetic_projects(count: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    frame = regions.districts()
    weights = frame["population"].to_numpy(dtype=float)
    per_district = rng.multinomial(count, weights / weights.sum())
    lats, lons, codes = [], [], []
    for (_, row), n in zip(frame.iterrows(), per_district):
        minx, miny, maxx, maxy = row.geometry.bounds
        got_lat, got_lon = np.empty(0), np.empty(0)
        while len(got_lat) < n:
            k = max(64, 3 * (n - len(got_lat)))
            la, lo = rng.uniform(miny, maxy, k), rng.uniform(minx, maxx, k)
            keep = regions.locate(la, lo) == row["district_code"]
            got_lat, got_lon = np.r_[got_lat, la[keep]], np.r_[got_lon, lo[keep]]
        lats.append(got_lat[:n])
        lons.append(got_lon[:n])
        codes += [row["district_code"]] * n
    lats, lons = np.concatenate(lats), np.concatenate(lons)
    slugs = list(FIELDS)
    first = rng.integers(0, len(slugs), count)
    second = rng.integers(0, len(slugs), count)
    two = rng.random(count) < 0.3
    records = []
    for i in range(count):
        fields = [slugs[first[i]]] + (
            [slugs[second[i]]] if two[i] and second[i] != first[i] else []
        )
        code = codes[i]
        rec = {
            "id": f"{SYNTHETIC_PREFIX}{seed}-{i:06d}",
            "name": f"Testprojekt {i + 1} (synthetisch)",
            "organisation": "Synthetische Testdaten",
            "description": "Synthetischer Eintrag für Tests und Lastmessungen, kein echtes Projekt.",
            "fields": fields,
            "tags": ["synthetisch"],
            "city": None,
            "postcode": None,
            "street": None,
            "website": None,
            "source": ["atlas demo-data"],
            "precision": Precision.AREA,
            "location_note": None,
            "lat": round(float(lats[i]), 6),
            "lon": round(float(lons[i]), 6),
            "district_code": code,
            "region": regions.district(code)["region"],
            "status": Status.PUBLISHED,
            "synthetic": True,
        }
        rec["search_text"] = search_text(rec)
        records.append(rec)
    return records
