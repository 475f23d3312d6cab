"""Pages for the regional offices under /verwaltung/: login, queue, decisions, audit, outbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from atlas.core import accounts, submissions
from atlas.core.outbox import outbox as outbox_messages
from atlas.geo import regions
from atlas.web import auth, mail, maps
from atlas.web.extensions import get_store, get_tiles
from atlas.web.forms import CSRF_MESSAGE, ActionForm, DecisionForm, EditForm, LoginForm, MoveForm
from atlas.web.submit import form_values, place_form, preview_map

bp = Blueprint("moderation", __name__, url_prefix="/verwaltung")


bp.register_error_handler(429, auth.limited_response)


def _local_target(target: str) -> str | None:
    """`target` if it is a path on this site (never another site, never a header break)."""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or not target.isprintable()  # CR and LF above all: a header cannot hold them
        or urlsplit(target).netloc
    ):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@auth.login_limits
def login():
    form = LoginForm()
    error = None
    if request.method == "POST":
        if not form.validate():
            error = CSRF_MESSAGE if form.errors.get("csrf_token") else None
        else:
            user = accounts.authenticate(get_store(), form.email.data, form.password.data)
            if user is None:
                error = "E-Mail-Adresse oder Passwort ist falsch."
            else:
                session.clear()  # nothing from before the login carries over
                auth.log_in(user)
                session.permanent = True
                # Only local targets: never bounce a fresh login to another site.
                target = _local_target(request.args.get("next", ""))
                return redirect(target or url_for("moderation.queue"), 303)
    return render_template("admin_login.html", form=form, error=error), (400 if error else 200)


@bp.post("/logout")
def logout():
    # No form token needed: logging out only ends a session, and an expired token must not
    # keep an officer logged in.
    auth.log_out()
    session.clear()
    return redirect(url_for("moderation.login"), 303)


@bp.get("/")
@auth.login_required
def queue():
    user = auth.current_user()
    region = user.region if not user.is_admin else (request.args.get("region") or None)
    if region is not None and region not in regions.REGIONS:
        region = None
    items = submissions.queue(get_store(), region)
    tiles = get_tiles()
    rendered = maps.render(
        maps.numbered_points(tiles, [(p.lat, p.lon) for p in items]), g.csp_nonce
    )
    return render_template(
        "admin_queue.html",
        user=user,
        items=items,
        region=region,
        logout_form=ActionForm(),
        map=rendered,
    )


def _item_or_403(project_id: str):
    project = submissions.get(get_store(), project_id)
    if project is None:
        abort(404)
    if not accounts.may_moderate(auth.current_user(), project.region):
        abort(403)
    return project


def _show(project, status=200, message=None, edit_form=None):
    user = auth.current_user()
    placement = submissions.Placement(
        lat=project.lat, lon=project.lon, district_code=project.district_code, region=project.region
    )
    rendered, marker = preview_map(placement, g.csp_nonce)
    version = str(project.version)
    edit_form = edit_form or EditForm(obj=project, formdata=None)
    edit_form.version.data = version
    move_form = MoveForm(formdata=None, region=project.region)
    move_form.version.data = version
    decision = DecisionForm(formdata=None)
    decision.version.data = version
    dups = submissions.duplicates(
        get_store(), project.name, project.lat, project.lon, exclude=project.id
    )
    return render_template(
        "admin_item.html",
        user=user,
        project=project,
        map=rendered,
        marker=marker,
        decision=decision,
        edit_form=edit_form,
        move_form=move_form,
        message=message,
        duplicates=dups,
        district_info=regions.district(project.district_code),
        office=regions.REGIONS.get(project.region),
        logout_form=ActionForm(),
    ), status


@bp.get("/einreichungen/<project_id>")
@auth.login_required
def item(project_id: str):
    return _show(_item_or_403(project_id))


def _stale(project_id: str):
    """The other officer was quicker: say so, and show the record as it is now."""
    project = submissions.get(get_store(), project_id)
    message = (
        "Diese Einreichung wurde inzwischen von jemand anderem bearbeitet oder "
        "entschieden. Ihre Aktion wurde nicht ausgeführt; unten sehen Sie den neuen Stand."
    )
    if project is None:
        abort(409, message)
    return _show(project, 409, message)


def _notify_decision(project, approved: bool, reason: str | None) -> None:
    if not project.contact_email:
        return
    office = regions.REGIONS[project.region]["office"]
    if approved:
        body = (
            f"Ihr Projekt „{project.name}“ wurde vom {office} freigegeben und ist jetzt im "
            f"Atlas zu sehen:\n{mail.link('pages.detail', project_id=project.id)}\n"
        )
    else:
        body = (
            f"Ihr Projekt „{project.name}“ wurde vom {office} nicht freigegeben.\n\n"
            f"Begründung: {reason}\n"
        )
    mail.send(
        get_store(),
        [project.contact_email],
        f"Entscheidung zu Ihrer Einreichung: {project.name}",
        body,
        project_id=project.id,
    )


def _decide(project_id: str, approve: bool):
    project = _item_or_403(project_id)
    form = DecisionForm()
    if not form.validate():
        return _show(
            project, 400, CSRF_MESSAGE if form.errors.get("csrf_token") else "Ungültige Anfrage."
        )
    reason = (form.reason.data or "").strip() or None
    if not approve and not reason:
        return _show(project, 400, "Bitte begründen Sie die Ablehnung.")
    actor = auth.current_user().email
    done = submissions.decide(
        get_store(), project_id, int(form.version.data), actor, approve, reason
    )
    if done is None:
        return _stale(project_id)
    _notify_decision(done, approve, reason)
    flash(f"„{done.name}“ wurde {'freigegeben' if approve else 'abgelehnt'}.")
    return redirect(url_for("moderation.queue"), 303)


@bp.post("/einreichungen/<project_id>/freigeben")
@auth.login_required
def approve(project_id: str):
    return _decide(project_id, True)


@bp.post("/einreichungen/<project_id>/ablehnen")
@auth.login_required
def reject(project_id: str):
    return _decide(project_id, False)


@bp.post("/einreichungen/<project_id>/bearbeiten")
@auth.login_required
def edit(project_id: str):
    """Edit and approve in one step: the officer's corrections go live at once."""
    project = _item_or_403(project_id)
    form = EditForm()
    if not form.validate():
        return _show(project, 400, "Bitte prüfen Sie die markierten Felder.", edit_form=form)
    data = form_values(form)
    placement = place_form(data)
    if not placement.ok:
        return _show(project, 400, placement.error, edit_form=form)
    actor = auth.current_user().email
    if not accounts.may_moderate(auth.current_user(), placement.region):
        return _show(
            project,
            403,
            "Der neue Ort liegt in einer anderen Region. Bitte wenden "
            "Sie sich an die Landesverwaltung.",
            edit_form=form,
        )
    done = submissions.update_pending(
        get_store(),
        project_id,
        data,
        placement,
        actor,
        version=int(form.version.data),
        approve=True,
    )
    if done is None:
        return _stale(project_id)
    _notify_decision(done, True, None)
    flash(f"„{done.name}“ wurde bearbeitet und freigegeben.")
    return redirect(url_for("moderation.queue"), 303)


@bp.post("/einreichungen/<project_id>/verschieben")
@auth.admin_required
def move(project_id: str):
    project = _item_or_403(project_id)
    form = MoveForm()
    if not form.validate():
        return _show(project, 400, "Ungültige Region.")
    moved = submissions.move(
        get_store(), project_id, int(form.version.data), auth.current_user().email, form.region.data
    )
    if moved is None:
        return _stale(project_id)
    store = get_store()
    mail.send(
        store,
        mail.office_addresses(store, moved.region),
        f"Einreichung an Ihre Region übergeben: {moved.name}",
        f"{mail.link('moderation.item', project_id=moved.id)}\n",
        project_id=moved.id,
    )
    flash(f"„{moved.name}“ liegt jetzt bei der Region {regions.REGIONS[moved.region]['name']}.")
    return redirect(url_for("moderation.queue"), 303)


@bp.get("/protokoll")
@auth.admin_required
def audit():
    return render_template(
        "admin_audit.html",
        user=auth.current_user(),
        entries=submissions.audit_log(get_store()),
        logout_form=ActionForm(),
    )


@bp.get("/postausgang")
@auth.admin_required
def outbox():
    return render_template(
        "admin_outbox.html",
        user=auth.current_user(),
        messages=outbox_messages(get_store()),
        logout_form=ActionForm(),
    )
