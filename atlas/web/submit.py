"""Pages for initiatives: submit a project, preview and correct its point, follow its status."""

from __future__ import annotations

import folium
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from atlas.core import submissions
from atlas.geo import regions
from atlas.store import Status
from atlas.web import mail, maps
from atlas.web.extensions import get_geocode, get_store, get_tiles, limiter
from atlas.web.forms import CSRF_MESSAGE, ActionForm, SubmissionForm

bp = Blueprint("submit", __name__)


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def form_values(form) -> dict:
    """Clean form data; a point chosen among candidates or set for another address is handled."""
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in form.data.items()}
    choice = request.form.get("choose", "")
    if choice.count(",") == 1:
        data["lat"], data["lon"] = choice.split(",")
    elif data.get("point_for") != form.address_key():
        data["lat"] = data["lon"] = None
    for key in ("organisation", "street", "website", "contact_name"):
        data[key] = data.get(key) or None
    if "contact_email" in data:
        data["contact_email"] = (data.get("contact_email") or "").lower() or None
        data["publish_email"] = bool(data.get("publish_email"))
    return data


def place_form(data: dict) -> submissions.Placement:
    """Where the form's address, or the point set for it, lies (see `form_values`)."""
    return submissions.place(
        data["street"],
        data["postcode"],
        data["city"],
        data.get("lat"),
        data.get("lon"),
        geocode=get_geocode(),
    )


def preview_map(placement: submissions.Placement, nonce: str):
    """The submitted point on a map; the marker can be dragged and the map clicked to move it."""
    tiles = get_tiles()
    if placement.lat is None:
        m = maps.overview(tiles)
        marker = None
    else:
        m = maps._base_map(tiles, location=[placement.lat, placement.lon], zoom_start=14)
        marker = folium.Marker([placement.lat, placement.lon], draggable=True)
        marker.add_to(m)
    rendered = maps.render(m, nonce)
    return rendered, (marker.get_name() if marker else "")


def _visible(dups) -> list:
    """The likely duplicates a submitter may see: published projects by name; unreviewed ones
    only as one anonymous line (their names are not public yet)."""
    shown = [d for d in dups if d.status != Status.PENDING]
    if len(shown) < len(dups):
        shown.append({"status": Status.PENDING.value})
    return shown


def _render(form, placement=None, dups=(), status=200):
    placement = placement or submissions.Placement()
    rendered, marker = preview_map(placement, g.csp_nonce)
    info = regions.district(placement.district_code) if placement.district_code else None
    office = regions.REGIONS.get(placement.region) if placement.region else None
    csrf_error = CSRF_MESSAGE if form.errors.get("csrf_token") else None
    return render_template(
        "submit.html",
        form=form,
        placement=placement,
        map=rendered,
        marker=marker,
        district_info=info,
        office=office,
        duplicates=_visible(dups),
        csrf_error=csrf_error,
    ), status


@bp.route("/einreichen", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def submit():
    form = SubmissionForm()
    if request.method == "GET":
        return _render(form)
    if form.homepage.data:
        # Looks like a bot: store nothing, say nothing useful.
        return render_template(
            "error.html",
            title="Nicht angenommen",
            message="Diese Einreichung konnte nicht angenommen werden.",
        ), 400
    if not form.validate():
        return _render(form, status=400)
    data = form_values(form)
    placement = place_form(data)
    if not placement.ok:
        return _render(form, placement, status=400 if form.step.data == "confirm" else 200)
    form.lat.data, form.lon.data = f"{placement.lat:.6f}", f"{placement.lon:.6f}"
    form.point_for.data = form.address_key()
    dups = submissions.duplicates(get_store(), data["name"], placement.lat, placement.lon)
    if form.step.data != "confirm" or (dups and not form.confirm_duplicate.data):
        if form.step.data == "confirm" and dups:
            form.confirm_duplicate.errors = [
                "Bitte prüfen Sie die ähnlichen Projekte und "
                "bestätigen Sie, dass es ein eigenes Projekt ist."
            ]
        form.step.data = "confirm"
        return _render(form, placement, dups, status=200)
    store = get_store()
    office = regions.REGIONS[placement.region]
    officers = mail.office_addresses(store, placement.region)

    def compose(project_id: str, token: str) -> list[tuple[list[str], str, str]]:
        return [
            (
                officers,
                f"Neue Einreichung: {data['name']}",
                f"Eine neue Einreichung wartet auf Prüfung durch das {office['office']}:\n\n"
                f"{data['name']} ({data['postcode']} {data['city']})\n\n"
                f"{mail.link('moderation.item', project_id=project_id)}\n",
            ),
            (
                [data["contact_email"]],
                f"Ihre Einreichung: {data['name']}",
                f"Vielen Dank! Ihre Einreichung wird vom {office['office']} geprüft.\n\n"
                f"Unter diesem persönlichen Link sehen Sie den Stand, können die Angaben "
                f"ändern oder die Einreichung zurückziehen:\n"
                f"{mail.link('submit.status', token=token)}\n",
            ),
        ]

    _, token, messages = submissions.create(store, data, placement, compose)
    mail.deliver(store, messages)
    return redirect(url_for("submit.status", token=token, neu=1), 303)


@bp.route("/einreichung/<token>", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def status(token: str):
    """The submitter's private page: status, edit while pending (preview, then save)."""
    store = get_store()
    project = submissions.by_token(store, token)
    if project is None:
        abort(404)
    placement = submissions.Placement(
        lat=project.lat, lon=project.lon, district_code=project.district_code, region=project.region
    )
    message, code = None, 200
    if request.method == "GET":
        form = SubmissionForm(obj=project)
        form.consent.data = True
        form.lat.data, form.lon.data = f"{project.lat:.6f}", f"{project.lon:.6f}"
        form.point_for.data = form.address_key()
    else:
        form = SubmissionForm()
        if project.status != Status.PENDING:
            message, code = (
                "Diese Einreichung ist bereits entschieden und kann nicht mehr geändert werden.",
                409,
            )
        elif not form.validate():
            message, code = "Bitte prüfen Sie die markierten Felder.", 400
        else:
            data = form_values(form)
            new_place = place_form(data)
            if not new_place.ok:
                message, code = new_place.error, 400
            elif form.step.data != "confirm":
                placement = new_place
                form.lat.data, form.lon.data = f"{new_place.lat:.6f}", f"{new_place.lon:.6f}"
                form.point_for.data = form.address_key()
                message = "Vorschau: Bitte prüfen Sie den Punkt und speichern Sie dann."
            elif (
                submissions.update_pending(store, project.id, data, new_place, actor="Einreichung")
                is None
            ):
                message, code = (
                    "Die Einreichung wurde inzwischen geändert oder entschieden. "
                    "Bitte laden Sie die Seite neu.",
                    409,
                )
            else:
                return redirect(url_for("submit.status", token=token, gespeichert=1), 303)
    rendered, marker = preview_map(placement, g.csp_nonce)
    return render_template(
        "submission_status.html",
        project=project,
        form=form,
        withdraw_form=ActionForm(),
        map=rendered,
        marker=marker,
        office=regions.REGIONS.get(project.region),
        district_info=regions.district(project.district_code),
        message=message,
        placement=placement,
        # Built on ATLAS_PUBLIC_URL, never on the request's Host header.
        private_link=mail.link("submit.status", token=token),
        csrf_error=CSRF_MESSAGE if form.errors.get("csrf_token") else None,
    ), code


@bp.post("/einreichung/<token>/zurueckziehen")
def withdraw(token: str):
    form = ActionForm()
    if not form.validate():
        abort(400, CSRF_MESSAGE)
    if not submissions.withdraw(get_store(), token):
        abort(404)
    return render_template(
        "error.html",
        title="Einreichung zurückgezogen",
        message="Ihre Einreichung und Ihre Kontaktdaten wurden gelöscht.",
    )
