"""Numbers for people: German number formats, round scale steps and the stacked bar chart of the
coverage pages (drawn as SVG by templates/coverage_chart.html)."""

from __future__ import annotations

import math
from decimal import Decimal

from babel.numbers import format_decimal
from flask import has_request_context
from flask_babel import get_locale, get_translations, gettext

from atlas.core.fields import FIELD_COLOURS, FIELDS

CHART_WIDTH = 640
CHART_LABEL = 190
CHART_BAR = 18
CHART_GAP = 8
CHART_TOP = 8
CHART_AXIS = 34
#: Room right of the longest bar for its total ("12,5"), which the SVG would otherwise cut off.
CHART_TOTAL = 44


# --- German numbers -----------------------------------------------------------------------------


def _locale() -> str:
    """The request's language (issue 16), German outside a request."""
    return str(get_locale() or "de_DE") if has_request_context() else "de_DE"


def de_number(value, digits: int = 0) -> str:
    """A number in the reader's format: 1.234.567 and 12,5 in German, 1,234,567 and 12.5 in
    English."""
    if value is None:
        return "–"
    # Decimal(value) is the float's exact value: rounded as Python's own format rounds it (1.85 is
    # 1.85000000000000008…, so 1,9), where Babel would round the shortest repr "1.85" to even.
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(value), format=pattern, locale=_locale())


def de_rate(value: float) -> str:
    """Projects per 100,000 inhabitants: one decimal, two below 1 so that a single project never
    reads 0."""
    return de_number(value, 2 if 0 < value < 1 else 1)


def de_percent(share: float) -> str:
    return f"{de_number(share * 100, 1)} %"


def project_words(n: int) -> str:
    # Flask-Babel's ngettext would put in the bare number; this one is formatted (1.200).
    singular, plural = "%(num)s Projekt", "%(num)s Projekte"
    if has_request_context():
        text = get_translations().ungettext(singular, plural, n)
    else:
        text = singular if n == 1 else plural
    return text % {"num": de_number(n)}


def per_100k(value: float) -> str:
    """ "12,5 je 100.000 Einw." in the reader's language."""
    return gettext("%(rate)s je 100.000 Einw.", rate=de_rate(value))


# --- scales -------------------------------------------------------------------------------------


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least `value`, so class limits read easily."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exponent >= value - 1e-12:
            return m * 10**exponent
    return 10 ** (exponent + 1)


def step_digits(step: float) -> int:
    """Decimals that show every multiple of a step exactly (2.5 → 1, 0.05 → 2)."""
    for digits in range(4):
        if abs(step * 10**digits - round(step * 10**digits)) < 1e-9:
            return digits
    return 4


# --- the bar chart ------------------------------------------------------------------------------


def chart(rows: list[dict], name_key: str = "district") -> dict:
    """Stacked bars: projects per 100,000 inhabitants per field, one bar per district (SVG data)."""
    ordered = sorted(rows, key=lambda r: (-sum(r["by_field_per_100k"].values()), r[name_key]))
    top = max((sum(r["by_field_per_100k"].values()) for r in ordered), default=0.0)
    step = nice_step(top / 4) if top > 0 else 1.0
    ticks = [i * step for i in range(math.ceil(top / step - 1e-9) + 1)] or [0.0]
    scale_max = max(ticks[-1], step)
    plot = CHART_WIDTH - CHART_LABEL - CHART_TOTAL
    bars = []
    for i, r in enumerate(ordered):
        y = CHART_TOP + i * (CHART_BAR + CHART_GAP)
        x = float(CHART_LABEL)
        segments = []
        for slug, label in FIELDS.items():
            value = r["by_field_per_100k"][slug]
            width = plot * value / scale_max
            if r["by_field"][slug]:
                title = (
                    f"{r[name_key]} – {gettext(label)}: {project_words(r['by_field'][slug])}, "
                    f"{per_100k(value)}"
                )
                segments.append(
                    {
                        "x": round(x, 2),
                        "width": round(width, 2),
                        "colour": FIELD_COLOURS[slug],
                        "title": title,
                    }
                )
            x += width
        bars.append(
            {
                "label": r[name_key],
                "y": y,
                "segments": segments,
                "total": de_rate(sum(r["by_field_per_100k"].values())),
                "end": round(x, 2),
            }
        )
    height = CHART_TOP + len(ordered) * (CHART_BAR + CHART_GAP) + CHART_AXIS
    digits = step_digits(step)
    axis = [
        {"x": round(CHART_LABEL + plot * t / scale_max, 2), "label": de_number(t, digits)}
        for t in ticks
    ]
    return {
        "width": CHART_WIDTH,
        "height": height,
        "bars": bars,
        "axis": axis,
        "axis_y": height - CHART_AXIS + 4,
        "bar": CHART_BAR,
        "label_x": CHART_LABEL - 8,
    }
