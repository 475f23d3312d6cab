"""The demand nobody met, for the regional offices: "Gesucht, nicht gefunden" on a region's
coverage page (templates/_demand.html) and /regionen/<slug>/gesucht.csv (atlas.core.demand)."""

from __future__ import annotations

import io

from flask import Blueprint
from flask_babel import gettext as _

from atlas.core import demand
from atlas.core.fields import FIELDS
from atlas.core.tables import FLAVOURS
from atlas.web.coverage import _download, _region_or_404
from atlas.web.extensions import get_store, heavy

bp = Blueprint("demand", __name__)


def field_names() -> dict[str, str]:
    return {"": _("alle Handlungsfelder"), **FIELDS}


@bp.app_template_global("unmet_demand")
def unmet_demand(region: str) -> list[dict]:
    """The region's cells for its coverage page."""
    return demand.cells(get_store(), region)


@bp.get("/regionen/<slug>/gesucht.csv", defaults={"flavour": "csv"})
@bp.get("/regionen/<slug>/gesucht-excel.csv", defaults={"flavour": "excel"})
@heavy
def download(slug: str, flavour: str):
    out = io.StringIO()
    demand.write_csv(
        out, demand.cells(get_store(), _region_or_404(slug)), field_names(), FLAVOURS[flavour]
    )
    suffix = "-excel" if flavour == "excel" else ""
    return _download(out.getvalue(), f"gesucht-{slug}{suffix}.csv", "text/csv")
