"""The offices' lists in the browser, /verwaltung/import: upload a spreadsheet, see every row
with its place on a map, fix the rows that need it, import the good ones in one step, undo an
import within 24 hours. The logic is atlas.core.importing's, the same as `atlas import`'s."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from atlas.core import importing
from atlas.geo import regions
from atlas.web import auth, maps, wording
from atlas.web.extensions import get_geocode, get_store, get_tiles
from atlas.web.forms import CSRF_MESSAGE, ActionForm

bp = Blueprint("imports", __name__, url_prefix="/verwaltung/import")

STATUS_LABELS = {
    importing.OK: "bereit",
    importing.AMBIGUOUS: "Ort mehrdeutig",
    importing.NOT_FOUND: "Ort nicht gefunden",
    importing.OUTSIDE_REGION: "außerhalb der Region",
    importing.INVALID: "fehlerhaft",
}
#: Marker colours on the preview map by a row's state.
COLOURS = {importing.OK: "#1b7837", importing.OUTSIDE_REGION: "#d95f02"}


def _larger_uploads():
    """Lists are larger than other requests: their own limit, set before anything (the app's
    own checks of every form) reads the body."""
    if request.blueprint == bp.name:
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]


@bp.record_once
def _first_of_all(state):
    state.app.before_request_funcs.setdefault(None, []).insert(0, _larger_uploads)


@bp.app_template_global("import_source")
def import_source(project) -> str | None:
    """ "Liste des ArL Lüneburg, 2026-12": where an imported record came from."""
    found = importing.provenance(get_store(), project)
    if found is None:
        return None
    when = found["date"].strftime("%Y-%m")
    office = regions.REGIONS.get(found["region"])
    if office:
        return _("Liste des ArL %(name)s, %(when)s", name=office["name"], when=when)
    return _("Importierte Liste, %(when)s", when=when)


@bp.get("")
@auth.login_required
def index(message: str | None = None, status: int = 200):
    user = auth.current_user()
    done = importing.imports(get_store(), None if user.is_admin else user.region)
    now = datetime.now(UTC)
    return (
        render_template(
            "import_upload.html",
            user=user,
            logout_form=ActionForm(),
            form=ActionForm(),
            imports=done,
            undoable={e.id for e in done if _undoable(e, now)},
            message=message,
            max_mb=current_app.config["IMPORT_MAX_BYTES"] // (1024 * 1024),
        ),
        status,
    )


def _undoable(entry, now) -> bool:
    created = entry.created_at if entry.created_at.tzinfo else entry.created_at.replace(tzinfo=UTC)
    return entry.undone_at is None and now - created <= importing.UNDO_WINDOW


@bp.post("")
@auth.login_required
def upload():
    user = auth.current_user()
    if not ActionForm().validate():
        return index(CSRF_MESSAGE, 400)
    upload = request.files.get("datei")
    if upload is None or not upload.filename:
        return index(_("Bitte wählen Sie eine Datei aus."), 400)
    name = upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    try:
        sheet = importing.read_file(upload.read(), name, request.form.get("blatt") or None)
    except importing.FileError as exc:
        return index(_file_problem(exc), 400)
    region = auth.region_of(user, request.form.get("region"))
    planned = importing.plan(sheet.rows, geocode=get_geocode(), region=region)
    pending_id = importing.keep_pending(
        get_store(), user_id=user.id, region=region, sheet=sheet, planned=planned
    )
    return redirect(url_for("imports.preview", pending_id=pending_id), 303)


def _file_problem(exc: importing.FileError) -> str:
    """Why a file cannot be read, in German."""
    d = exc.details
    if exc.code == "empty":
        return _("Die Datei enthält keine Zeilen.")
    if exc.code == "no_name":
        return _(
            "In der ersten Zeile fehlt eine Spalte für den Namen der Projekte (Überschrift "
            "„Name“ oder „Projekt“). Gefundene Überschriften: %(headers)s",
            headers=d["headers"],
        )
    if exc.code == "no_sheet":
        return _(
            "Ein Tabellenblatt „%(wanted)s“ gibt es nicht; die Datei hat: %(sheets)s",
            wanted=d["wanted"],
            sheets=d["sheets"],
        )
    if exc.code == "crs":
        return _(
            "Die Koordinaten sind in %(crs)s angegeben; bitte die Ebene in EPSG:4326 (WGS 84) "
            "speichern.",
            crs=d["crs"],
        )
    return _(
        "Die Datei lässt sich nicht lesen. Möglich sind .xlsx, .ods, CSV, GeoJSON und "
        "GeoPackage. (%(why)s)",
        why=str(exc),
    )


def _pending_or_404(pending_id: str):
    found = importing.pending(get_store(), pending_id, auth.current_user().id)
    if found is None:
        abort(404)
    return found


@bp.get("/<pending_id>")
@auth.login_required
def preview(pending_id: str):
    entry, rows = _pending_or_404(pending_id)
    rendered = maps.render(maps.overview(get_tiles()), g.csp_nonce)
    counts = {s: sum(r.status == s for r in rows) for s in STATUS_LABELS}
    return render_template(
        "import_preview.html",
        user=auth.current_user(),
        logout_form=ActionForm(),
        form=ActionForm(),
        entry=entry,
        rows=rows,
        table=[(r, _address(r.values), _district_name(r.record)) for r in rows],
        counts=counts,
        labels={k: _(v) for k, v in STATUS_LABELS.items()},
        region=regions.REGIONS.get(entry.region),
        map=rendered,
        points=_points(rows),
    )


def _address(values: dict) -> str:
    town = " ".join(filter(None, [values.get("postcode"), values.get("city")]))
    return ", ".join(filter(None, [values.get("street"), town]))


def _district_name(record: dict | None) -> str:
    info = regions.district(record["district_code"]) if record else None
    return info["name"] if info else ""


def _points(rows) -> list:
    """Every placed row as [lat, lon, colour, row, place or null] (green: ready, orange: outside
    the region) and the candidates of ambiguous rows (blue, with their place): drawn by
    import.js, as a server-rendered layer of thousands of rows would be slow."""
    points = []
    for r in rows:
        if r.record:
            colour = COLOURS.get(r.status, "#2166ac")
            points.append([r.record["lat"], r.record["lon"], colour, r.row, None])
        for c in r.candidates:
            points.append([c["lat"], c["lon"], "#2166ac", r.row, c["label"]])
    return points


@bp.post("/<pending_id>/zeile/<int:row>")
@auth.login_required
def fix(pending_id: str, row: int):
    """A row fixed: a candidate picked, the address edited, or the point placed by hand."""
    entry, rows = _pending_or_404(pending_id)
    if not ActionForm().validate():
        flash(CSRF_MESSAGE)
        return redirect(url_for("imports.preview", pending_id=pending_id), 303)
    current = next((r for r in rows if r.row == row), None)
    if current is None:
        abort(404)
    form = request.form
    action = form.get("aktion")
    if action == "kandidat":
        try:
            picked = current.candidates[int(form.get("kandidat", ""))]
        except (ValueError, IndexError):
            abort(400)
        changes = {
            "lat": picked["lat"],
            "lon": picked["lon"],
            "precision": picked.get("precision"),
            "postcode": current.values.get("postcode") or picked.get("postcode"),
        }
    elif action == "punkt":
        changes = {
            "lat": form.get("lat", "").replace(",", "."),
            "lon": form.get("lon", "").replace(",", "."),
            "precision": "manual",
        }
    else:
        changes = {k: form.get(k, "").strip() or None for k in ("street", "postcode", "city")}
    fixed = importing.replan(current, changes, geocode=get_geocode(), region=entry.region)
    importing.replace_pending_row(get_store(), pending_id, fixed)
    flash(
        _("Zeile %(row)s: %(state)s.", row=row, state=_(STATUS_LABELS[fixed.status]))
        + "".join(" " + wording.reason_de(r) for r in fixed.reasons)
    )
    return redirect(url_for("imports.preview", pending_id=pending_id, _anchor=f"z{row}"), 303)


@bp.post("/<pending_id>/importieren")
@auth.login_required
def apply(pending_id: str):
    entry, rows = _pending_or_404(pending_id)
    if not ActionForm().validate():
        flash(CSRF_MESSAGE)
        return redirect(url_for("imports.preview", pending_id=pending_id), 303)
    result = importing.apply(
        get_store(),
        rows,
        file_name=entry.file_name,
        sheet=entry.sheet,
        region=entry.region,
        actor=auth.current_user().email,
        pending_id=pending_id,
    )
    c = result.counts
    flash(
        _(
            "%(file)s importiert: %(added)s neu, %(updated)s geändert, %(unchanged)s unverändert, "
            "%(refused)s nicht übernommen.",
            file=entry.file_name,
            added=c["added"],
            updated=c["updated"],
            unchanged=c["unchanged"],
            refused=sum(r.status != importing.OK for r in rows),
        )
    )
    return redirect(url_for("imports.index"), 303)


@bp.post("/liste/<import_id>/rueckgaengig")
@auth.login_required
def undo(import_id: str):
    user = auth.current_user()
    if not ActionForm().validate():
        return index(CSRF_MESSAGE, 400)
    entry = importing.import_entry(get_store(), import_id)
    if entry is None or not (user.is_admin or entry.region == user.region):
        abort(404)
    try:
        counts = importing.undo(get_store(), import_id, user.email)
    except importing.UndoError as exc:
        why = {
            "missing": _("Diesen Import gibt es nicht."),
            "undone": _("Dieser Import ist schon rückgängig gemacht."),
            "too_late": _("Ein Import lässt sich nur innerhalb von 24 Stunden rückgängig machen."),
        }[exc.code]
        return index(why, 409)
    flash(
        _(
            "Import von %(file)s rückgängig gemacht: %(removed)s entfernt, %(restored)s "
            "wiederhergestellt.",
            file=entry.file_name,
            removed=counts["removed"],
            restored=counts["restored"],
        )
    )
    return redirect(url_for("imports.index"), 303)


@bp.get("/vorlage.xlsx")
@auth.login_required
def template_xlsx():
    return Response(
        importing.template_xlsx(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="projektliste-vorlage.xlsx"'},
    )


@bp.get("/vorlage.csv")
@auth.login_required
def template_csv():
    out = io.StringIO(newline="")
    importing.template_csv(out)
    return Response(
        out.getvalue().replace("\n", "\r\n"),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="projektliste-vorlage.csv"'},
    )
