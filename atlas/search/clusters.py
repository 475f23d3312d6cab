"""Clusters for the map's view, computed on the server.

The map asks for what it shows: the clusters and single projects inside its bounds at its zoom.
The clustering is Mapbox supercluster's hierarchical greedy algorithm: the matches of a search
are projected to Web Mercator; from the deepest zoom up, each node not yet taken at a zoom
takes every untaken node within `RADIUS_PX` screen pixels (a KD-tree query, scipy's cKDTree)
and they become one cluster at their weighted centre, which the next zoom up clusters again.
Built once per data version and filter set (`index_for`), cached and shared by the threads of a
worker; a view is then a box query on one level's arrays.

The points come from the search back end's marker feed (`Backend.markers`: the same filters as
the listing, on SQLite and PostgreSQL alike), sorted by project id before clustering, so both
back ends give the same clusters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from atlas.core.fields import FIELDS
from atlas.search.backend import Backend
from atlas.search.query import Query
from atlas.store import Store, VersionedCache

MIN_ZOOM = 0
#: The deepest zoom with clusters; from MAX_ZOOM + 1 on, every project is shown on its own.
MAX_ZOOM = 16
#: Nodes closer than this many screen pixels (256-pixel tiles, as Leaflet's) merge.
RADIUS_PX = 60
TILE_PX = 256
FIELD_KEYS = list(FIELDS)

#: Query attributes that say what to show, not which projects: they never split the cache.
VIEW_ATTRIBUTES = frozenset({"bbox", "sort", "limit", "offset", "args"})


def lon_x(lon):
    return np.asarray(lon, dtype=float) / 360.0 + 0.5


def lat_y(lat):
    s = np.sin(np.radians(np.asarray(lat, dtype=float)))
    y = 0.5 - 0.25 * np.log((1 + s) / (1 - s)) / math.pi
    return np.clip(y, 0.0, 1.0)


def x_lon(x):
    return (np.asarray(x) - 0.5) * 360.0


def y_lat(y):
    y2 = (180 - np.asarray(y) * 360) * math.pi / 180
    return 360 * np.arctan(np.exp(y2)) / math.pi - 90


@dataclass(frozen=True)
class Level:
    """The nodes at one zoom: a single project (`point` ≥ 0) or a cluster (`point` == -1)."""

    x: np.ndarray
    y: np.ndarray
    count: np.ndarray  # projects in the node
    fields: np.ndarray  # (nodes, len(FIELD_KEYS)): projects per first field
    point: np.ndarray  # index of the project for a single, -1 for a cluster
    ident: np.ndarray  # a cluster's id (unique in the index), -1 for a single
    expansion: np.ndarray  # a cluster's zoom at which it splits, -1 for a single
    parent: np.ndarray  # the node one zoom up that holds this one (-1 at MIN_ZOOM)


@dataclass(frozen=True)
class View:
    """What the map draws: clusters [id, lat, lon, count, expansion zoom, per-field counts]
    and single projects [id, lat, lon, first field, name]."""

    zoom: int
    clusters: list[list]
    projects: list[list]

    @property
    def in_view(self) -> int:
        return sum(c[3] for c in self.clusters) + len(self.projects)


class ClusterIndex:
    """The cluster hierarchy of one search's matches, every zoom from MIN_ZOOM to MAX_ZOOM + 1."""

    def __init__(self, rows: list[list]):
        rows = sorted(rows, key=lambda r: r[0])
        self.ids = [r[0] for r in rows]
        self.lat = np.array([r[1] for r in rows], dtype=float)
        self.lon = np.array([r[2] for r in rows], dtype=float)
        self.field = [r[3] for r in rows]
        self.names = [r[4] for r in rows]
        n = len(rows)
        fields = np.zeros((n, len(FIELD_KEYS)), dtype=np.int32)
        column = {key: i for i, key in enumerate(FIELD_KEYS)}
        for i, f in enumerate(self.field):
            if f in column:
                fields[i, column[f]] = 1
        self.levels: dict[int, Level] = {}
        level = Level(
            x=lon_x(self.lon).astype(np.float32),
            y=lat_y(self.lat).astype(np.float32),
            count=np.ones(n, dtype=np.int32),
            fields=fields.astype(np.uint16),
            point=np.arange(n, dtype=np.int32),
            ident=np.full(n, -1, dtype=np.int32),
            expansion=np.full(n, -1, dtype=np.int8),
            parent=np.full(n, -1, dtype=np.int32),
        )
        for zoom in range(MAX_ZOOM, MIN_ZOOM - 1, -1):
            above, group = _cluster(level, zoom)
            self.levels[zoom + 1] = dataclasses.replace(level, parent=group)
            level = above
        self.levels[MIN_ZOOM] = level

    @property
    def total(self) -> int:
        return len(self.ids)

    def level(self, zoom: float) -> tuple[int, Level]:
        z = max(MIN_ZOOM, min(int(math.floor(zoom)), MAX_ZOOM + 1))
        return z, self.levels[z]

    def view(self, bbox: tuple[float, float, float, float], zoom: float) -> View:
        """The nodes inside (minlon, minlat, maxlon, maxlat) at a zoom."""
        z, level = self.level(zoom)
        minlon, minlat, maxlon, maxlat = bbox
        x0, x1 = lon_x(minlon), lon_x(maxlon)
        y0, y1 = lat_y(maxlat), lat_y(minlat)
        inside = np.flatnonzero(
            (level.x >= x0) & (level.x <= x1) & (level.y >= y0) & (level.y <= y1)
        )
        singles = inside[level.point[inside] >= 0]
        many = inside[level.point[inside] < 0]
        projects = [
            [self.ids[p], float(self.lat[p]), float(self.lon[p]), self.field[p], self.names[p]]
            for p in level.point[singles].tolist()
        ]
        lats = np.round(y_lat(level.y[many].astype(float)), 5).tolist()
        lons = np.round(x_lon(level.x[many].astype(float)), 5).tolist()
        clusters = [
            [ident, lat, lon, count, expansion, counts]
            for ident, lat, lon, count, expansion, counts in zip(
                level.ident[many].tolist(),
                lats,
                lons,
                level.count[many].tolist(),
                level.expansion[many].tolist(),
                level.fields[many].tolist(),
            )
        ]
        return View(z, clusters, projects)

    def nodes_of_points(self, zoom: int) -> np.ndarray:
        """For each project (in `ids` order), the index of its node at a zoom."""
        node = np.arange(self.total)
        for z in range(MAX_ZOOM + 1, zoom, -1):
            node = self.levels[z].parent[node]
        return node


def _cluster(level: Level, zoom: int) -> tuple[Level, np.ndarray]:
    """One greedy pass at `zoom` over the nodes of zoom + 1: the new level, and for each old
    node the index of the new node that holds it."""
    m = len(level.x)
    group = np.full(m, -1, dtype=np.int32)
    if m == 0:
        return level, group
    r = RADIUS_PX / (TILE_PX * 2.0**zoom)
    points = np.column_stack([level.x, level.y])
    tree = cKDTree(points)
    # Pairs closer than r: a node without one can neither take nor be taken, so only the
    # others go through the (ordered, greedy) loop.
    pairs = tree.query_pairs(r, output_type="ndarray")
    origin: list[int] = []
    if len(pairs):
        both = np.concatenate([pairs, pairs[:, ::-1]])
        both = both[np.lexsort((both[:, 1], both[:, 0]))]
        starts = np.searchsorted(both[:, 0], np.arange(m + 1))
        neighbours = both[:, 1].tolist()
        bounds = starts.tolist()
        taken = bytearray(m)
        owner = group  # filled in place
        next_id = 0
        for i in np.unique(both[:, 0]).tolist():
            if taken[i]:
                continue
            taken[i] = 1
            free = [j for j in neighbours[bounds[i] : bounds[i + 1]] if not taken[j]]
            owner[i] = next_id
            for j in free:
                taken[j] = 1
                owner[j] = next_id
            origin.append(i)
            next_id += 1
    alone = np.flatnonzero(group < 0)
    group[alone] = np.arange(len(origin), len(origin) + len(alone))
    origin_all = np.concatenate([np.array(origin, dtype=np.int64), alone])
    k = len(origin_all)
    weight = level.count.astype(float)
    count = np.bincount(group, weights=weight, minlength=k)
    x = np.bincount(group, weights=level.x * weight, minlength=k) / count
    y = np.bincount(group, weights=level.y * weight, minlength=k) / count
    fields = np.zeros((k, level.fields.shape[1]), dtype=np.int64)
    np.add.at(fields, group, level.fields)
    # Kept small: at 100,000 projects most of them are nodes of their own down to zoom 12.
    small = np.uint16 if k == 0 or fields.max() <= np.iinfo(np.uint16).max else np.int32
    members = np.bincount(group, minlength=k)
    carried = members == 1
    # A node alone at this zoom carries over as it was; a merged one is a new cluster that
    # splits one zoom deeper (an id as supercluster's: its origin node and zoom).
    point = np.where(carried, level.point[origin_all], -1).astype(np.int32)
    ident = np.where(carried, level.ident[origin_all], (origin_all << 5) + zoom + 1)
    expansion = np.where(carried, level.expansion[origin_all], zoom + 1)
    above = Level(
        x=np.where(carried, level.x[origin_all], x).astype(np.float32),
        y=np.where(carried, level.y[origin_all], y).astype(np.float32),
        count=count.astype(np.int32),
        fields=fields.astype(small),
        point=point,
        ident=ident.astype(np.int32),
        expansion=expansion.astype(np.int8),
        parent=np.full(k, -1, dtype=np.int32),
    )
    return above, group


def _hashable(value):
    if dataclasses.is_dataclass(value):
        return tuple(_hashable(v) for v in dataclasses.astuple(value))
    if isinstance(value, list | tuple | set | frozenset):
        items = [_hashable(v) for v in value]
        return tuple(sorted(items, key=repr) if isinstance(value, set | frozenset) else items)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def filter_key(query: Query) -> tuple:
    """What the matches of a query depend on: every attribute of the parsed Query but the
    view's (box, order, page), whatever filters the Query holds."""
    return tuple(
        (f.name, _hashable(getattr(query, f.name)))
        for f in dataclasses.fields(query)
        if f.name not in VIEW_ATTRIBUTES
    )


#: Cluster indexes by store, data version and filter set: about 20 MB each at 100,000 matches
#: (arrays of every zoom, and the ids and names).
_INDEXES = VersionedCache(6)


def build_index(store: Store, query: Query, backend: Backend) -> ClusterIndex:
    """The cluster index of a query's matches (its box left out: the view is not a filter),
    built anew."""
    rows = backend.markers(store, dataclasses.replace(query, bbox=None, offset=0))
    if query.field:
        # Filtered by a field, every match is shown in that field's colour (the legend's),
        # whichever field its record names first.
        rows = [[r[0], r[1], r[2], query.field, *r[4:]] for r in rows]
    return ClusterIndex(rows)


def index_ready(store: Store, query: Query) -> bool:
    """Whether the query's cluster index is built already (a view of it costs milliseconds)."""
    return _INDEXES.holds(store, ("clusters", filter_key(query)))


def index_for(store: Store, query: Query, backend: Backend) -> ClusterIndex:
    """`build_index`, once per store, data version and filter set."""
    return _INDEXES.get(
        store, ("clusters", filter_key(query)), lambda: build_index(store, query, backend)
    )
