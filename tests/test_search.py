"""Search answers checked against a plain-Python oracle: every filter, sort and page, on the
backend's own path (the in-memory point index on SQLite, PostGIS on PostgreSQL).

The oracle measures with geopy's geodesic, a different library from the one the atlas uses, and
filters and sorts the published projects one by one.
"""

from __future__ import annotations

import random

import pytest
from geopy.distance import geodesic
from pyproj import Geod
from sqlalchemy import update

from atlas import search
from atlas.core.demo import synthetic_projects
from atlas.core.fields import FIELDS
from atlas.core.projects import RowError, clean_record
from atlas.core.text import normalize
from atlas.geo.regions import REGIONS
from atlas.search import postgis
from atlas.search.sqlite import SqliteBackend
from atlas.store import Project
from atlas.web.extensions import get_store

HANNOVER = (52.3745, 9.7386)


@pytest.fixture
def store(app):
    store = get_store(app)
    store.create_schema()
    store.replace_synthetic(synthetic_projects(1500, seed=11))
    # Names that sort by more than ASCII letters, ties on the name, and projects that are not
    # published (never found).
    extra = [
        {"name": name, "fields": "sprache", "city": "Hannover", "lat": lat, "lon": lon}
        for name, lat, lon in [
            ("Über den Tellerrand", 52.38, 9.74),
            ("über den Tellerrand", 52.36, 9.70),
            ("Ankommen", 52.39, 9.75),
            ("ankommen", 52.40, 9.76),
            ("Zusammen", 52.37, 9.73),
        ]
    ]
    store.save_all([clean_record(r, f"extra {i}") for i, r in enumerate(extra)])
    store.save_all(
        [
            clean_record(
                {
                    "name": "Noch nicht frei",
                    "fields": "sprache",
                    "city": "Hannover",
                    "lat": 52.3745,
                    "lon": 9.7386,
                    "status": "pending",
                },
                "pending",
            )
        ]
    )
    return store


def oracle(projects, query: search.Query) -> tuple[int, list[str], list[float | None]]:
    found = []
    for p in projects:
        if query.region and p.region != query.region:
            continue
        if query.district and p.district_code != query.district:
            continue
        if query.field and query.field not in p.fields:
            continue
        if query.q and not all(w in p.search_text for w in normalize(query.q).split()):
            continue
        if query.bbox:
            minlon, minlat, maxlon, maxlat = query.bbox
            if not (minlon <= p.lon <= maxlon and minlat <= p.lat <= maxlat):
                continue
        d = None
        if query.near:
            d = geodesic((query.near.lat, query.near.lon), (p.lat, p.lon)).km
            if d > query.near.radius_km:
                continue
        found.append((p, d))
    key = {
        "distance": lambda pd: (pd[1], pd[0].id),
        "name": lambda pd: (pd[0].name.encode().lower(), pd[0].id),
        "newest": lambda pd: (-pd[0].created_at.timestamp(), pd[0].id),
    }[query.sort]
    found.sort(key=key)
    page = found[query.offset : query.offset + query.limit]
    return len(found), [p.id for p, _ in page], [d for _, d in page]


def random_args(rng: random.Random) -> dict:
    args = {}
    if rng.random() < 0.6:
        args["near"] = f"{rng.uniform(51.4, 53.8):.5f},{rng.uniform(6.8, 11.5):.5f}"
        args["radius_km"] = str(rng.choice([1, 5, 10, 25, 50, 200]))
    if rng.random() < 0.3:
        lon, lat = rng.uniform(7, 11), rng.uniform(51.5, 53.5)
        args["bbox"] = f"{lon},{lat},{lon + rng.uniform(0.1, 2)},{lat + rng.uniform(0.1, 1)}"
    if rng.random() < 0.3:
        args["field"] = rng.choice(list(FIELDS))
    if rng.random() < 0.2:
        args["region"] = rng.choice(list(REGIONS))
    if rng.random() < 0.1:
        args["q"] = rng.choice(["testprojekt 1", "synthetisch", "tellerrand"])
    sorts = ["name", "newest"] + (["distance"] if "near" in args else [])
    args["sort"] = rng.choice(sorts)
    args["offset"] = str(rng.choice([0, 0, 3, 50]))
    args["limit"] = str(rng.choice([5, 20, 100]))
    return args


def test_each_database_gets_its_own_back_end(store):
    expected = postgis.PostgisBackend if store.is_postgres else SqliteBackend
    assert isinstance(search.backend_for(store), expected)


def test_every_answer_matches_the_oracle(store):
    projects = store.projects()
    rng = random.Random(20151130)
    checked = nonempty = 0
    for _ in range(120):
        query = search.parse(random_args(rng), geocode=None)
        result = search.run(store, query)
        total, ids, dists = oracle(projects, query)
        context = query.args
        assert result.total == total, context
        assert [p.id for p, _ in result.items] == ids, context
        for (_, got), want in zip(result.items, dists):
            assert (got is None) == (want is None), context
            if want is not None:
                assert got == pytest.approx(want, abs=1e-6), context
        checked += 1
        nonempty += bool(ids)
    assert checked == 120 and nonempty > 60


@pytest.mark.parametrize("radius_km", [0.5, 10, 25, 200])
def test_projects_at_the_edge_of_the_radius_are_measured_exactly(app, radius_km):
    """A metre inside the radius is found, a metre outside is not, in every direction: the
    cheap tests that settle most projects must not decide at the edge."""
    store = get_store(app)
    store.create_schema()
    lat0, lon0 = HANNOVER
    geod = Geod(ellps="WGS84")
    records = []
    for azimuth in range(0, 360, 15):
        for label, metres in (("innen", radius_km * 1000 - 1), ("aussen", radius_km * 1000 + 1)):
            lon, lat, _ = geod.fwd(lon0, lat0, azimuth, metres)
            try:
                records.append(
                    clean_record(
                        {
                            "name": f"Rand {label} {azimuth}",
                            "fields": "sprache",
                            "lat": lat,
                            "lon": lon,
                        },
                        f"{label} {azimuth}",
                    )
                )
            except RowError:  # outside Lower Saxony (200 km reach beyond it)
                pass
    store.save_all(records)
    inside = {r["id"] for r in records if "innen" in r["name"]}
    query = search.parse(
        {"near": f"{lat0},{lon0}", "radius_km": str(radius_km), "limit": "1000"}, geocode=None
    )
    result = search.run(store, query)
    assert {p.id for p, _ in result.items} == inside
    assert result.total == len(inside) > 0
    assert max(d for _, d in result.items) <= radius_km


@pytest.mark.parametrize("lat", [-70, -30, 0, 0.05, 30, 47.3, 52.4, 53.9, 70, 80])
@pytest.mark.parametrize("radius_km", [0.1, 5, 25, 200])
def test_the_shortcuts_never_decide_wrongly_at_the_edge(lat, radius_km):
    """Every point of the geodesic circle lies inside the circle's box, on or outside the
    inner ellipse (which PostgreSQL counts as inside without measuring) and on or inside the
    outer one (beyond which it counts nothing)."""
    near = search.Near(lat, 9.7, "", radius_km)
    geod = Geod(ellps="WGS84")
    azimuths = [a / 4 for a in range(4 * 360)]
    lons, lats, _ = geod.fwd(
        [9.7] * len(azimuths), [lat] * len(azimuths), azimuths, [radius_km * 1000] * len(azimuths)
    )
    minlon, minlat, maxlon, maxlat = near.box()
    assert all(minlon <= x <= maxlon for x in lons) and all(minlat <= y <= maxlat for y in lats)
    (inner_lat, inner_lon), (outer_lat, outer_lon) = postgis.ellipses(near)
    r2 = radius_km**2
    for x, y in zip(lons, lats):
        dlat, dlon = y - lat, x - 9.7
        assert dlat * dlat * inner_lat + dlon * dlon * inner_lon >= r2 * (1 - 1e-12)
        assert dlat * dlat * outer_lat + dlon * dlon * outer_lon <= r2 * (1 + 1e-12)


def test_an_approval_shows_in_the_next_search(app, store):
    query = search.parse(
        {"near": "52.3745,9.7386", "radius_km": "1", "limit": "1000"}, geocode=None
    )
    before = {p.id for p, _ in search.run(store, query).items}
    version = store.data_version()
    pending = [p for p in store.projects("pending")][0]
    with store.session.begin() as s:
        s.execute(update(Project).where(Project.id == pending.id).values(status="published"))
    assert store.data_version() != version
    after = {p.id for p, _ in search.run(store, query).items}
    assert after == before | {pending.id}
