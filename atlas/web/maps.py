"""Folium maps of the atlas: the overview of Lower Saxony and the small map of one project.

The overview never embeds projects: static/atlas.js asks /api/clusters for the clusters and
projects of each view (computed on the server), so the page stays the same size for 10 or
100,000 projects.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import folium
from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup, escape

from atlas.core.fields import FIELD_COLOURS
from atlas.geo import regions
from atlas.search.clusters import lat_y, lon_x, x_lon, y_lat

#: Lower Saxony's extent, for the first view of the map.
BOUNDS = [[51.29, 6.65], [53.9, 11.6]]
#: Display-only simplification of the region outlines (about 300 m): drawn at state scale,
#: where the data files' 50 m accuracy is invisible but would multiply the page's HTML.
DISPLAY_TOLERANCE_DEG = 0.003

#: Map panes (CSS pixels) whose first view is sent with the page (`first_view_boxes`): a phone's map
#: (the screen's width, 70 % of its height) and a desk's (beside the 300–380 px sidebar).
PANE_SIZES = [(w, h) for w in (320, 412, 480) for h in (400, 650)] + [
    (w, h) for w in (600, 900, 1300) for h in (500, 800)
]

_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>\s*', re.S)
_BODY_STYLE = re.compile(r"<style>\s*html, body \{.*?</style>\s*", re.S)
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])")


@dataclass
class Tiles:
    """The basemap: a URL template and its attribution, or none at all."""

    url: str | None
    attribution: str

    @classmethod
    def from_config(cls, value) -> Tiles:
        """ATLAS_TILES: "none", a URL template, or {"url": ..., "attribution": ...}."""
        osm = "© OpenStreetMap-Mitwirkende (ODbL)"
        if value is None or value == "":
            return cls("https://tile.openstreetmap.org/{z}/{x}/{y}.png", osm)
        if isinstance(value, str):
            return cls(None, "") if value.strip().lower() == "none" else cls(value.strip(), osm)
        return cls(value.get("url") or None, value.get("attribution") or "")

    @property
    def origin(self) -> str | None:
        """Scheme and host of the tile server, for the Content-Security-Policy."""
        if not self.url:
            return None
        match = re.match(r"^(https?://[^/]+)", self.url.replace("{s}.", ""))
        return match.group(1) if match else None


@dataclass
class RenderedMap:
    """The three parts of a rendered Folium figure, ready for a Jinja template."""

    name: str
    header: Markup
    html: Markup
    script: Markup


def render(m: folium.Map, nonce: str) -> RenderedMap:
    """Split Folium's figure into head/body/script; drop its zoom lock and add the CSP nonce."""
    figure = m.get_root()
    figure.render()
    header = _VIEWPORT.sub("", figure.header.render())
    header = _BODY_STYLE.sub("", header)
    header = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', header)
    return RenderedMap(
        m.get_name(), Markup(header), Markup(figure.html.render()), Markup(figure.script.render())
    )


class LeanMap(folium.Map):
    """A Folium map that links Leaflet's own script and style only. Folium's Map also links
    jQuery, Bootstrap (script and style), Glyphicons, Font Awesome and awesome-markers, for
    parts the atlas never uses: about 100 KB compressed, and on a phone most of the time until
    the map is drawn (parsing and applying their styles)."""

    @property
    def default_js(self):
        return [(name, url) for name, url in folium.Map.default_js if name == "leaflet"]

    @property
    def default_css(self):
        return [(name, url) for name, url in folium.Map.default_css if name == "leaflet_css"]


class Label(MacroElement):
    """A text on the map that is not a control: a Leaflet marker made with its div icon at
    once. (Folium's Marker with a DivIcon first makes Leaflet's default image icon, which
    makes Leaflet probe the page's styles for the image path and fetch two images, on the way
    to the first view.)"""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.marker({{ this.location|tojson }}, {icon: L.divIcon({{ this.icon|tojson }}),
  interactive: false, keyboard: false}).addTo({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, location, html: str, class_name: str, size: tuple[int, int]):
        super().__init__()
        self._name = "Label"
        self.location = [float(location[0]), float(location[1])]
        self.icon = {
            "html": str(html),
            "className": class_name,
            "iconSize": list(size),
            "iconAnchor": [size[0] // 2, size[1] // 2],
        }


class Outlines(MacroElement):
    """The four regions' outlines. On a map whose projects atlas.js draws, they follow its first
    view (the projects are what a visitor waits for: about 40 ms sooner on a phone), or a
    second later at most; elsewhere at once. The GeoJSON comes as a string for JSON.parse,
    which reads it faster than the same data written as a script's object literal."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map, text) {
  var done = false;
  function add() {
    if (done) { return; }
    done = true;
    L.geoJson(JSON.parse(text), {interactive: false,
      style: function () { return {{ this.style|tojson }}; }}).addTo(map);
  }
  if (document.getElementById("atlas-first-views")) {
    map.once("atlas:drawn", add);
    setTimeout(add, 1000);
  } else {
    add();
  }
})({{ this._parent.get_name() }}, {{ this.text|tojson }});
{% endmacro %}"""
    )

    def __init__(self, data: dict):
        super().__init__()
        self._name = "Outlines"
        self.text = json.dumps(data, separators=(",", ":"))
        self.style = {"color": "#24507a", "weight": 2, "fill": False, "interactive": False}


def _base_map(tiles: Tiles, **kwargs) -> folium.Map:
    m = LeanMap(tiles=None, control_scale=True, **kwargs)
    if tiles.url:
        folium.TileLayer(tiles=tiles.url, attr=tiles.attribution, name="Karte", max_zoom=18).add_to(
            m
        )
    return m


@lru_cache(maxsize=1)
def _region_outlines() -> tuple[dict, list[tuple[str, float, float]]]:
    frame = regions.regions()[["region", "name", "geometry"]].copy()
    frame["geometry"] = frame.geometry.simplify(DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    labels = []
    for row in frame.itertuples():
        point = row.geometry.representative_point()
        labels.append((row.name, point.y, point.x))
    return frame.__geo_interface__, labels


def fit_zoom(bounds: list, width: float, height: float) -> int:
    """The zoom Leaflet's fitBounds gives `bounds` ([[south, west], [north, east]]) on a map
    pane of width × height pixels: the deepest whole zoom at which they fit (zoomSnap 1)."""
    (south, west), (north, east) = bounds
    span_x = (float(lon_x(east)) - float(lon_x(west))) * 256
    span_y = (float(lat_y(south)) - float(lat_y(north))) * 256
    scale = min(width / max(span_x, 1e-9), height / max(span_y, 1e-9))
    # Leaflet rounds to a hundredth of a zoom before flooring ("don't jump if within 1 %").
    return max(0, min(18, math.floor(round(math.log2(scale), 2))))


def first_view_boxes(bounds: list) -> dict[int, tuple[float, float, float, float]]:
    """Each zoom the first view of `bounds` can have on the atlas's map panes (PANE_SIZES),
    with the box (minlon, minlat, maxlon, maxlat) that holds that view on the largest of those
    panes, and a margin: fitBounds centres the view on the bounds' projected middle."""
    (south, west), (north, east) = bounds
    cx = (float(lon_x(west)) + float(lon_x(east))) / 2
    cy = (float(lat_y(north)) + float(lat_y(south))) / 2
    panes: dict[int, tuple[int, int]] = {}
    for w, h in PANE_SIZES:
        zoom = fit_zoom(bounds, w, h)
        most = panes.get(zoom, (0, 0))
        panes[zoom] = (max(most[0], w), max(most[1], h))
    boxes = {}
    for zoom, (w, h) in sorted(panes.items()):
        half_x, half_y = 0.6 * w / (256 * 2**zoom), 0.6 * h / (256 * 2**zoom)
        x0, x1 = max(0.0, cx - half_x), min(1.0, cx + half_x)
        y0, y1 = max(0.0, cy - half_y), min(1.0, cy + half_y)
        boxes[zoom] = (
            float(x_lon(x0)),
            max(-85.0, float(y_lat(y1))),
            float(x_lon(x1)),
            min(85.0, float(y_lat(y0))),
        )
    return boxes


def area_bounds(region: str | None = None, district: str | None = None) -> list | None:
    """[[south, west], [north, east]] of a district, else of a region; None for neither."""
    if district:
        frame = regions.districts()
        shapes = frame[frame.district_code == district]
    elif region:
        frame = regions.regions()
        shapes = frame[frame.region == region]
    else:
        return None
    if shapes.empty:
        return None
    west, south, east, north = shapes.total_bounds
    return [[float(south), float(west)], [float(north), float(east)]]


def overview(tiles: Tiles, near=None, bounds: list | None = None) -> folium.Map:
    """Lower Saxony with the four regions outlined and labelled; with `near`, its radius (and
    the view on it), else the view on `bounds` (a region's or district's, `area_bounds`)."""
    m = _base_map(tiles, location=[52.75, 9.2], zoom_start=7)
    outlines, labels = _region_outlines()
    Outlines(outlines).add_to(m)
    for name, lat, lon in labels:
        Label(
            [lat, lon],
            html=f'<span class="region-label">{escape(name)}</span>',
            class_name="region-label-icon",
            size=(140, 24),
        ).add_to(m)
    if near is not None:
        folium.Circle(
            [near.lat, near.lon],
            radius=near.radius_km * 1000,
            color="#24507a",
            weight=2,
            fill=True,
            fill_opacity=0.06,
            interactive=False,
        ).add_to(m)
        # No Folium tooltip: it puts its text into a JavaScript template literal unescaped,
        # and the label may hold what the visitor typed. The page names the place instead.
        folium.CircleMarker(
            [near.lat, near.lon],
            radius=5,
            color="#24507a",
            fill=True,
            fill_opacity=1,
            interactive=False,
        ).add_to(m)
    m.fit_bounds(first_bounds(near, bounds))
    return m


def first_bounds(near=None, bounds: list | None = None) -> list:
    """What the overview's first view fits: the radius around `near`, else `bounds`, else the
    state."""
    if near is not None:
        dlat = near.radius_km / 110.0
        dlon = dlat / max(0.2, math.cos(math.radians(near.lat)))
        return [[near.lat - dlat, near.lon - dlon], [near.lat + dlat, near.lon + dlon]]
    return bounds or BOUNDS


def project_map(tiles: Tiles, project) -> folium.Map:
    """A small map with the one project; its point is as precise as the record says."""
    m = _base_map(tiles, location=[project.lat, project.lon], zoom_start=12)
    colour = FIELD_COLOURS.get((project.fields or [None])[0], "#555555")
    folium.CircleMarker(
        [project.lat, project.lon],
        radius=9,
        color="#ffffff",
        weight=2,
        fill=True,
        fill_color=colour,
        fill_opacity=1,
        interactive=False,
    ).add_to(m)
    return m


def numbered_points(tiles: Tiles, points: list[tuple[float, float]]) -> folium.Map:
    """Points labelled 1, 2, 3 … as in a table beside the map; no submitted text on the map."""
    m = overview(tiles)
    for number, (lat, lon) in enumerate(points, start=1):
        # Labels, as the table's numbers are: nothing to click, so no nameless tab stop.
        Label(
            [lat, lon],
            html=f'<span class="queue-number">{number}</span>',
            class_name="queue-marker",
            size=(26, 26),
        ).add_to(m)
    if points:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        pad = 0.05
        m.fit_bounds([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]])
    return m
