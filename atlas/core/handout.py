"""The handout to print (/projekte/aushang.pdf): a map of the area drawn from the district
outlines with numbered points (SVG, no tiles), a QR code of the live search (segno), and the
page typeset as a real-text PDF by WeasyPrint (Pango shapes Arabic and Persian right to left
with joined letters, in a system font with Arabic glyphs: DejaVu Sans or Noto).

The web layer words and lays out the page (templates/handout.html); here are the parts that need
no Flask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape
from shapely.geometry import box

from atlas.geo import regions

#: Size of the map's drawing (SVG user units; the page scales it to the column).
WIDTH, HEIGHT = 600.0, 380.0
#: Languages set right to left.
RTL = ("ar", "fa", "he", "ur", "ps", "ckb")


@dataclass
class Point:
    number: int
    lat: float
    lon: float


def direction(lang: str) -> str:
    return "rtl" if lang.split("-")[0].split("_")[0] in RTL else "ltr"


def area_box(
    points: list[Point],
    region: str | None = None,
    district: str | None = None,
    near_box: tuple[float, float, float, float] | None = None,
) -> tuple[float, float, float, float]:
    """(west, south, east, north) to draw: the district, region or circle searched, widened to
    every point; all of Lower Saxony when nothing narrows it."""
    if district:
        frame = regions.districts()
        bounds = frame[frame.district_code == district].total_bounds
    elif region:
        frame = regions.regions()
        bounds = frame[frame.region == region].total_bounds
    elif near_box:
        bounds = near_box
    elif points:
        bounds = (
            min(p.lon for p in points),
            min(p.lat for p in points),
            max(p.lon for p in points),
            max(p.lat for p in points),
        )
    else:
        bounds = regions.regions().total_bounds
    west, south, east, north = (float(b) for b in bounds)
    for p in points:
        west, east = min(west, p.lon), max(east, p.lon)
        south, north = min(south, p.lat), max(north, p.lat)
    pad_x, pad_y = max((east - west) * 0.05, 0.02), max((north - south) * 0.05, 0.02)
    return west - pad_x, south - pad_y, east + pad_x, north + pad_y


class _Projection:
    """Plate carrée with the longitude shrunk by cos(latitude): true shapes at this scale."""

    def __init__(self, bounds):
        west, south, east, north = bounds
        self.west, self.north = west, north
        self.kx = math.cos(math.radians((south + north) / 2))
        w, h = (east - west) * self.kx, north - south
        self.scale = min(WIDTH / w, HEIGHT / h)
        self.dx = (WIDTH - w * self.scale) / 2
        self.dy = (HEIGHT - h * self.scale) / 2

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.dx + (lon - self.west) * self.kx * self.scale
        y = self.dy + (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)


def _rings(geometry):
    polygons = getattr(geometry, "geoms", [geometry])
    for polygon in polygons:
        if polygon.geom_type != "Polygon":
            continue
        yield polygon.exterior
        yield from polygon.interiors


def map_svg(points: list[Point], bounds, title: str) -> Markup:
    """The area with every district outline in it (names on the districts wholly shown) and the
    points as numbered circles, as an inline SVG."""
    project = _Projection(bounds)
    frame = regions.districts()
    view = box(*bounds)
    tolerance = (bounds[2] - bounds[0]) / 800
    paths, labels = [], []
    for row in frame.itertuples():
        if not row.geometry.intersects(view):
            continue
        shape = row.geometry.simplify(tolerance)
        d = " ".join(
            "M" + " L".join(f"{x},{y}" for x, y in (project(*c) for c in ring.coords)) + " Z"
            for ring in _rings(shape)
        )
        paths.append(f'<path d="{d}"/>')
        if view.contains(row.geometry.representative_point()) and len(labels) < 60:
            x, y = project(*row.geometry.representative_point().coords[0])
            labels.append(f'<text x="{x}" y="{y}" class="d">{escape(row.name)}</text>')
    dots = []
    for p in points:
        x, y = project(p.lon, p.lat)
        dots.append(
            f'<g class="p"><circle cx="{x}" cy="{y}" r="8"/>'
            f'<text x="{x}" y="{y + 3.5}">{p.number}</text></g>'
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" '
        f'role="img" aria-label="{escape(title)}">'
        "<style>path{fill:#f4f1ea;stroke:#7a7a7a;stroke-width:.8}"
        ".d{font-size:9px;fill:#555;text-anchor:middle}"
        ".p circle{fill:#24507a;stroke:#fff;stroke-width:1.5}"
        ".p text{font-size:9px;font-weight:bold;fill:#fff;text-anchor:middle}</style>"
        f'<rect width="{WIDTH:g}" height="{HEIGHT:g}" fill="#dfeaf2"/>'
        + "".join(paths)
        + "".join(labels)
        + "".join(dots)
        + "</svg>"
    )


def qr_data_uri(url: str) -> str:
    """A QR code of `url` as an SVG data URI (segno), dark on white with its quiet zone."""
    import segno

    return segno.make(url, error="m").svg_data_uri(scale=4, border=4)


def pdf(html: str, base_url: str | None = None) -> bytes:
    """The page typeset by WeasyPrint: real text, A4 from the page's own @page rule."""
    from weasyprint import HTML

    return HTML(string=html, base_url=base_url).write_pdf()
