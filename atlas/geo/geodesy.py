"""Distances on the WGS84 ellipsoid, from one geodesic library: pyproj's Geod.

`distances_km` is the answer wherever a distance is shown or compared with a radius.
`sphere_km` and the box and degree lengths below are cheap bounds that let callers skip most
exact measurements; they never decide on their own near a radius.
"""

from __future__ import annotations

import math

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")

#: Largest relative difference between `sphere_km` and the WGS84 geodesic that callers allow
#: for (the true one is about 0.5 %).
SPHERE_ERROR = 0.01
#: Mean Earth radius (IUGG), the sphere of `sphere_km`.
_EARTH_KM = 6371.0088
#: A degree of latitude is at least 110.57 km, one of longitude at least 111.32 km times the
#: cosine of the latitude: dividing a distance by a little less gives a span of degrees that
#: surely holds every point a geodesic of that length can reach.
_DEGREE_KM_AT_LEAST = 110.0


def distances_km(lat, lon, lats, lons) -> np.ndarray:
    """Geodesic distances (WGS84 ellipsoid) in km, vectorised: one point to many, or pairwise."""
    lat, lon, lats, lons = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lat, lon, lats, lons))
    )
    _, _, metres = GEOD.inv(np.ravel(lon), np.ravel(lat), np.ravel(lons), np.ravel(lats))
    return (np.asarray(metres) / 1000.0).reshape(lat.shape)


def sphere_km(lat, lon, lats, lons) -> np.ndarray:
    """Great-circle distances on the mean sphere (haversine): a cheap bound, never an answer;
    distances shown or compared with a radius at the edge come from `distances_km`."""
    p1, p2 = np.radians(lat), np.radians(lats)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
    )
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def latitude_reach(radius_km: float) -> float:
    """Degrees of latitude, a little more than a geodesic of `radius_km` can cover."""
    return radius_km / _DEGREE_KM_AT_LEAST


def circle_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(minlon, minlat, maxlon, maxlat) of a box around the geodesic circle, a little larger
    than it: the circle is widest in longitude at its side nearest the pole."""
    dlat = latitude_reach(radius_km)
    pole_side = min(abs(lat) + dlat, 89.0)
    dlon = min(radius_km / (_DEGREE_KM_AT_LEAST * math.cos(math.radians(pole_side))), 180.0)
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def degree_km(lat: float) -> tuple[float, float]:
    """Kilometres per degree of latitude (meridian) and of longitude (parallel) at `lat`."""
    a_km, e2 = GEOD.a / 1000.0, GEOD.f * (2 - GEOD.f)  # e² from the flattening
    s2 = math.sin(math.radians(lat)) ** 2
    meridian = a_km * (1 - e2) / (1 - e2 * s2) ** 1.5
    parallel = a_km / math.sqrt(1 - e2 * s2) * math.cos(math.radians(lat))
    return math.radians(meridian), math.radians(max(parallel, 0.0))
