"""The coverage maps (Folium): districts or regions coloured by projects per 100,000
inhabitants, their classes and legend, and the white spots on top."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import folium
import numpy as np
import shapely
from flask_babel import gettext, lazy_gettext

from atlas.core.coverage import count_and_rate
from atlas.geo import regions
from atlas.web import maps
from atlas.web.charts import de_number, nice_step, per_100k, project_words, step_digits

#: Display-only simplification of district outlines on a region map (about 150–200 m, under a
#: pixel at the region's zoom): shared borders stay shared (coverage simplification), and the
#: page stays small (a phone draws the region page 0.15 s sooner than at 100 m, RESULTS.md).
REGION_DISPLAY_TOLERANCE_DEG = 0.002
STATE_DISPLAY_TOLERANCE_DEG = 0.003
#: ColorBrewer YlGnBu, five classes; districts without any project get their own grey.
CLASS_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
ZERO_COLOUR = "#d4d4d4"
WHITE_SPOT_COLOUR = "#8e2a1f"
#: The short credit on the coverage maps (the full one stands on the page).
MAP_ATTRIBUTION = (
    regions.MAP_ATTRIBUTION + "; Einwohner: © Destatis 2019 (CC BY 4.0); "
    "Gemeinden: GeoNames (CC BY 4.0)"
)
LAYER_NAME = lazy_gettext("Projekte je 100.000 Einwohner")


@dataclass
class Classes:
    """Equal classes from 0 to a round maximum; 0 itself is its own class (a gap)."""

    step: float

    @classmethod
    def for_values(cls, values) -> Classes:
        top = max([v for v in values if v > 0], default=0.0)
        return cls(nice_step(top / len(CLASS_COLOURS)))

    @classmethod
    def for_rows(cls, rows: list[dict], field: str | None) -> Classes:
        """Classes for the rows' projects per 100,000 inhabitants (of the field, or of all)."""
        return cls.for_values([count_and_rate(r, field)[1] for r in rows])

    def index(self, value: float) -> int:
        """-1 for 0, else 0…4."""
        if value <= 0:
            return -1
        return min(len(CLASS_COLOURS) - 1, max(0, math.ceil(value / self.step - 1e-9) - 1))

    def colour(self, value: float) -> str:
        i = self.index(value)
        return ZERO_COLOUR if i < 0 else CLASS_COLOURS[i]

    def legend(self) -> list[dict]:
        digits = step_digits(self.step)
        items = [{"colour": ZERO_COLOUR, "label": gettext("keine Projekte (Lücke)")}]
        for i, colour in enumerate(CLASS_COLOURS):
            low, high = i * self.step, (i + 1) * self.step
            label = (
                gettext(
                    "über %(low)s bis %(high)s",
                    low=de_number(low, digits),
                    high=de_number(high, digits),
                )
                if i < len(CLASS_COLOURS) - 1
                else gettext("über %(low)s", low=de_number(low, digits))
            )
            items.append({"colour": colour, "label": label})
        return items


def _rounded(geometry):
    """Four decimals (about 10 m, far below the simplification) are plenty on screen and
    halve the page's size."""
    return shapely.transform(geometry, lambda xy: np.round(xy, 4))


@cache
def _district_shapes(region: str) -> tuple[tuple[str, dict], ...]:
    frame = regions.districts()
    part = frame[frame["region"] == region]
    simple = part.geometry.simplify_coverage(REGION_DISPLAY_TOLERANCE_DEG)
    return tuple(
        (code, _rounded(geom).__geo_interface__)
        for code, geom in zip(part["district_code"], simple)
    )


@cache
def _region_shapes() -> tuple[tuple[str, dict], ...]:
    frame = regions.regions()
    simple = frame.geometry.simplify_coverage(STATE_DISPLAY_TOLERANCE_DEG)
    return tuple(
        (slug, _rounded(geom).__geo_interface__) for slug, geom in zip(frame["region"], simple)
    )


def _choropleth(
    m: folium.Map,
    shapes,
    rows: list[dict],
    key: str,
    name_key: str,
    field: str | None,
    classes: Classes,
    links: dict[str, str] | None = None,
) -> None:
    """Areas coloured by their rate; with `links`, an area's page to open on a click
    (static/coverage.js)."""
    by_key = {r[key]: r for r in rows}
    features = []
    for code, geometry in shapes:
        row = by_key[code]
        count, value = count_and_rate(row, field)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "name": row[name_key],
                    "fill": classes.colour(value),
                    "label": f"{project_words(count)} · {per_100k(value)}",
                    **({"url": links[code]} if links and code in links else {}),
                },
            }
        )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=str(LAYER_NAME),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.72,
            "color": "#24507a",
            "weight": 1.2,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(fields=["name", "label"], labels=False),
    ).add_to(m)


def region_map(
    tiles: maps.Tiles,
    region: str,
    rows: list[dict],
    field: str | None,
    spots: dict,
    classes: Classes,
) -> folium.Map:
    """The region's districts coloured by projects per 100,000 inhabitants, white spots on top."""
    m = maps._base_map(tiles, location=[52.75, 9.2], zoom_start=8)
    _choropleth(m, _district_shapes(region), rows, "district_code", "district", field, classes)
    if spots["items"]:
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                "properties": {"name": s["name"], "label": _spot_label(s)},
            }
            for s in spots["items"]
        ]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=gettext("Weiße Flecken"),
            marker=folium.CircleMarker(radius=5, fill=True),
            # Literally white, ringed dark red: unlike the projects' filled dots with white rims.
            style_function=lambda f: {
                "color": WHITE_SPOT_COLOUR,
                "weight": 2.5,
                "fillColor": "#ffffff",
                "fillOpacity": 1,
                "className": "white-spot",
            },
            tooltip=folium.GeoJsonTooltip(fields=["name", "label"], labels=False),
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    minx, miny, maxx, maxy = regions.regions().set_index("region").loc[region, "geometry"].bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _spot_label(spot: dict) -> str:
    if spot["nearest_km"] is None:
        return gettext("kein Projekt in diesem Handlungsfeld")
    return gettext("nächstes Projekt %(km)s km entfernt", km=de_number(spot["nearest_km"], 1))


def state_map(
    tiles: maps.Tiles,
    rows: list[dict],
    field: str | None,
    classes: Classes,
    links: dict[str, str] | None = None,
) -> folium.Map:
    """The four regions coloured by projects per 100,000 inhabitants; a click on a region
    opens its page (`links`: region slug → URL)."""
    m = maps._base_map(tiles, location=[52.75, 9.2], zoom_start=7)
    _choropleth(m, _region_shapes(), rows, "region", "region_name", field, classes, links)
    m.fit_bounds(maps.BOUNDS)
    return m
