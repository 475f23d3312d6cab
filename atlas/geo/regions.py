"""The 45 districts of Lower Saxony and the four ArL regions: names, boundaries, point assignment.

This is the one source for district names and codes. The boundary files in data/regions/ are
built by scripts/build_regions.py; nothing here needs npm or the build directory.
"""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import shapely

from atlas.resources import DATA_DIR

REGIONS_DIR = DATA_DIR / "regions"

REGIONS: dict[str, dict[str, str]] = {
    "braunschweig": {
        "name": "Braunschweig",
        "office": "Amt für regionale Landesentwicklung Braunschweig",
    },
    "leine-weser": {
        "name": "Leine-Weser",
        "office": "Amt für regionale Landesentwicklung Leine-Weser",
    },
    "lueneburg": {"name": "Lüneburg", "office": "Amt für regionale Landesentwicklung Lüneburg"},
    "weser-ems": {"name": "Weser-Ems", "office": "Amt für regionale Landesentwicklung Weser-Ems"},
}
#: Third digit of the district key → region slug.
REGION_BY_DIGIT = {"1": "braunschweig", "2": "leine-weser", "3": "lueneburg", "4": "weser-ems"}

#: Required by the sources: BKG (GeoNutzV: "© GeoBasis-DE / BKG <year>", mark changes) and
#: Destatis (CC BY 4.0, wording of the landkreise-deutschland readme).
#: The short credit on maps that draw the boundaries (the full one stands in footer and README).
MAP_ATTRIBUTION = "Grenzen: © GeoBasis-DE / BKG 2016 (VG250, verändert)"
ATTRIBUTION = (
    "Verwaltungsgrenzen: © GeoBasis-DE / BKG 2016 (VG250, Daten verändert), "
    "Nutzung nach GeoNutzV; "
    "Einwohner und Fläche: © Statistisches Bundesamt (Destatis), 2019, "
    "Daten im Auftrag der Herausgebergemeinschaft Statistische Ämter des Bundes und der Länder, "
    "Lizenz CC BY 4.0"
)

DISTRICT_FIELDS = (
    "code",
    "name",
    "kind",
    "nuts3",
    "population",
    "area_km2",
    "region",
    "region_name",
)


@cache
def districts() -> gpd.GeoDataFrame:
    """The committed district polygons (WGS84), sorted by district code."""
    frame = gpd.read_file(REGIONS_DIR / "districts.geojson", engine="pyogrio")
    return frame.sort_values("district_code").reset_index(drop=True)


@cache
def regions() -> gpd.GeoDataFrame:
    """The four ArL regions dissolved from the districts (WGS84)."""
    return gpd.read_file(REGIONS_DIR / "regions.geojson", engine="pyogrio")


@cache
def _district_table() -> dict[str, dict]:
    table = {}
    for row in districts().drop(columns="geometry").to_dict("records"):
        table[row["district_code"]] = {
            "code": row["district_code"],
            "name": row["name"],
            "kind": row["kind"],
            "nuts3": row["nuts3"],
            "population": int(row["population"]),
            "area_km2": float(row["area_km2"]),
            "region": row["region"],
            "region_name": row["region_name"],
        }
    return table


def district(code: str) -> dict | None:
    """District record by its 5-digit key ("03241"); None for unknown keys (e.g. pre-2016 03152)."""
    row = _district_table().get(str(code).strip().zfill(5))
    return dict(row) if row else None


def district_label(code: str) -> str:
    """A district as a German sentence names it: "Landkreis Harburg", "Region Hannover",
    "Landkreis Oldenburg", "kreisfreie Stadt Osnabrück"."""
    row = district(code)
    if row is None:
        return code
    name = row["name"]
    if row["kind"] == "Kreisfreie Stadt":
        return f"kreisfreie Stadt {name.removesuffix(' (Stadt)')}"
    return name if name.startswith(("Landkreis ", "Region ")) else f"{row['kind']} {name}"


def district_codes() -> list[str]:
    """All 45 district keys in order."""
    return list(_district_table())


# --- point assignment -------------------------------------------------------------------------
# A regular lon/lat grid over the state's bounding box answers most points by one array lookup:
# a cell that no district boundary crosses lies wholly in one district (or wholly outside). Only
# points in the thin band of boundary cells get an exact point-in-polygon test, and only against
# the districts whose boundary crosses their cell.

#: Grid cell size in degrees (lon, lat), about 340 m x 330 m at 52.5° N: builds in ~0.1 s and
#: leaves ~3 % of the bounding box for exact tests; finer grids build slower for no faster lookup.
CELL_DEG = (0.005, 0.003)
_OUTSIDE = -1


class _Grid:
    def __init__(self, geoms: np.ndarray, cell: tuple[float, float] = CELL_DEG):
        self.geoms = geoms
        shapely.prepare(geoms)
        self.dx, self.dy = cell
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        self.x0, self.y0 = xmin - self.dx, ymin - self.dy
        self.nx = int(np.ceil((xmax - self.x0) / self.dx)) + 2
        self.ny = int(np.ceil((ymax - self.y0) / self.dy)) + 2

        # Boundary cells: densify every boundary so no piece is longer than half a cell; a piece
        # then touches the cells of its two ends and, if it moves diagonally, one cell between
        # them (both when it passes through the corner). Each touched cell gets the district as a
        # candidate; a district that covers part of a cell always has its boundary in that cell.
        step = 0.5 * min(self.dx, self.dy)
        pairs = []
        for i, ring in enumerate(shapely.segmentize(shapely.boundary(geoms), step)):
            for part in shapely.get_parts(ring):
                cells = self._traversed_cells(shapely.get_coordinates(part))
                pairs.append(cells * len(geoms) + i)
        pairs = np.unique(np.concatenate(pairs))  # (cell, district) as one sortable key
        pair_cell, pair_district = np.divmod(pairs, len(geoms))
        cells, first, counts = np.unique(pair_cell, return_index=True, return_counts=True)
        self.candidates = np.full((cells.size, counts.max()), _OUTSIDE, dtype=np.int32)
        slot = np.arange(len(pairs)) - np.repeat(first, counts)
        self.candidates[np.repeat(np.arange(cells.size), counts), slot] = pair_district

        # Other cells: each horizontal run of them lies in one district or outside; one test per run.
        grid = np.full(self.nx * self.ny, _OUTSIDE, dtype=np.int32)
        boundary = np.zeros(self.nx * self.ny, dtype=bool)
        boundary[cells] = True
        free = ~boundary.reshape(self.ny, self.nx)
        starts = free.copy()
        starts[:, 1:] &= ~free[:, :-1]
        start_idx = np.flatnonzero(starts)
        sx, sy = start_idx % self.nx, start_idx // self.nx
        centres = shapely.points(self.x0 + (sx + 0.5) * self.dx, self.y0 + (sy + 0.5) * self.dy)
        run_value = np.full(start_idx.size, _OUTSIDE, dtype=np.int32)
        hit_run, hit_district = shapely.STRtree(geoms).query(centres, predicate="intersects")
        run_value[hit_run] = hit_district
        run_id = np.cumsum(starts.ravel()) - 1
        free_flat = free.ravel()
        grid[free_flat] = run_value[run_id[free_flat]]
        grid[cells] = -2 - np.arange(cells.size)  # boundary cell k is stored as -2 - k
        self.grid = grid

    def _traversed_cells(self, xy: np.ndarray) -> np.ndarray:
        """Flat indices of the cells a densified line passes through (pieces shorter than a cell)."""
        ix, iy = self._cell_xy(xy[:, 0], xy[:, 1])
        x0, y0, x1, y1 = xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]
        ix0, iy0, ix1, iy1 = ix[:-1], iy[:-1], ix[1:], iy[1:]
        diagonal = np.flatnonzero((ix0 != ix1) & (iy0 != iy1))
        # Where the piece crosses the vertical grid line between its end cells, in which row is it?
        edge_x = self.x0 + np.maximum(ix0, ix1)[diagonal] * self.dx
        t = (edge_x - x0[diagonal]) / (x1[diagonal] - x0[diagonal])
        row = (y0[diagonal] + t * (y1[diagonal] - y0[diagonal]) - self.y0) / self.dy
        tol = 1e-9
        via_first_row = np.floor(row + tol) == iy0[diagonal]
        via_first_row |= np.floor(row - tol) == iy0[diagonal]
        via_second_row = np.floor(row + tol) == iy1[diagonal]
        via_second_row |= np.floor(row - tol) == iy1[diagonal]
        flat = [
            iy * self.nx + ix,
            (iy0[diagonal] * self.nx + ix1[diagonal])[via_first_row],
            (iy1[diagonal] * self.nx + ix0[diagonal])[via_second_row],
        ]
        return np.concatenate(flat)

    def _cell_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.floor((x - self.x0) / self.dx).astype(np.int64),
            np.floor((y - self.y0) / self.dy).astype(np.int64),
        )

    def _exact(self, x: np.ndarray, y: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """District index per point among its candidate columns (-1 padding), or _OUTSIDE."""
        result = np.full(x.size, _OUTSIDE, dtype=np.int32)
        rows, cols = np.nonzero(candidates >= 0)
        dist = candidates[rows, cols]
        order = np.argsort(dist, kind="stable")
        rows, dist = rows[order], dist[order]
        bounds = np.flatnonzero(np.diff(dist)) + 1
        for chunk_rows, chunk_dist in zip(np.split(rows, bounds), np.split(dist, bounds)):
            if chunk_rows.size:
                hit = shapely.intersects_xy(self.geoms[chunk_dist[0]], x[chunk_rows], y[chunk_rows])
                result[chunk_rows[hit]] = chunk_dist[0]
        return result

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix, iy = self._cell_xy(x, y)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        value = np.full(x.size, _OUTSIDE, dtype=np.int32)
        value[inside] = self.grid[iy[inside] * self.nx + ix[inside]]
        pending = np.flatnonzero(value <= -2)
        if pending.size:
            cand = self.candidates[-2 - value[pending]]
            value[pending] = self._exact(x[pending], y[pending], cand)
        return value


@cache
def _grid() -> _Grid:
    return _Grid(np.asarray(districts().geometry.values))


def _coords(lats, lons) -> tuple[np.ndarray, np.ndarray]:
    try:
        lat, lon = np.broadcast_arrays(np.asarray(lats, dtype=float), np.asarray(lons, dtype=float))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"lat/lon must be numbers or arrays of numbers of matching shape: {exc}"
        ) from None
    lat, lon = np.atleast_1d(lat).ravel(), np.atleast_1d(lon).ravel()
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"invalid coordinate at index {i}: lat={lat[i]!r}, lon={lon[i]!r} "
            f"(need finite lat in [-90, 90] and lon in [-180, 180]); {int(bad.sum())} invalid"
        )
    return lat, lon


def locate(lats, lons) -> np.ndarray:
    """District code per point (object array, None outside Lower Saxony); scalars or arrays, WGS84.

    The result has the broadcast shape of the inputs, at least 1-d. Raises ValueError on any
    non-finite or out-of-range coordinate.
    """
    shape = np.broadcast_shapes(np.shape(lats), np.shape(lons)) or (1,)
    lat, lon = _coords(lats, lons)
    index = _grid().lookup(lon, lat)
    codes = np.array(list(districts().district_code) + [None], dtype=object)
    return codes[index].reshape(shape)  # _OUTSIDE (-1) picks the trailing None


def locate_one(lat: float, lon: float) -> dict:
    """District and region of one WGS84 point, in the shape the API and CLI return."""
    if isinstance(lat, bool) or isinstance(lon, bool):
        raise ValueError("lat/lon must be numbers")
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValueError(f"lat/lon must be numbers, got {lat!r}, {lon!r}") from None
    return describe(lat_f, lon_f, locate(lat_f, lon_f)[0])


def describe(lat: float, lon: float, code: str | None) -> dict:
    """The answer for a point already located (so a stream of points needs one `locate` call)."""
    lat_f, lon_f = float(lat), float(lon)
    if code is None:
        return {
            "lat": lat_f,
            "lon": lon_f,
            "district_code": None,
            "district": None,
            "region": None,
            "region_name": None,
            "error": "outside Lower Saxony",
        }
    row = _district_table()[code]
    return {
        "lat": lat_f,
        "lon": lon_f,
        "district_code": code,
        "district": row["name"],
        "region": row["region"],
        "region_name": row["region_name"],
    }
