"""Pages for the regional offices under /verwaltung/: login, queue, decisions, the published
projects of a region (edit, take off the atlas, publish again), audit, outbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from atlas.core import accounts, submissions
from atlas.core.outbox import outbox as outbox_messages
from atlas.core.outbox import resend as resend_mail
from atlas.geo import regions
from atlas.store import Status
from atlas.web import auth, mail, maps, submitter_mail
from atlas.web.extensions import get_store, get_tiles
from atlas.web.forms import (
    CSRF_MESSAGE,
    ActionForm,
    CodeForm,
    DecisionForm,
    EditForm,
    LoginForm,
    MoveForm,
)
from atlas.web.submit import (
    form_values,
    keep_point,
    place_form,
    preview_map,
    stored_placement,
)

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
                # Only local targets: never bounce a fresh login to another site.
                target = _local_target(request.args.get("next", ""))
                if user.totp_secret:
                    auth.begin_second_step(user, target)
                    return redirect(url_for("moderation.login_code"), 303)
                return _logged_in(user, target)
    return render_template("admin_login.html", form=form, error=error), (400 if error else 200)


def _logged_in(user, target: str | None):
    session.clear()  # nothing from before the login carries over
    auth.log_in(user)
    session.permanent = True
    if auth.totp_missing(user):
        return redirect(url_for("moderation.totp"), 303)
    return redirect(target or url_for("moderation.queue"), 303)


@bp.route("/login/code", methods=["GET", "POST"])
@auth.login_limits
def login_code():
    """The second step of a login with TOTP: the code of the authenticator app. A wrong code
    counts towards the login limits like a wrong password."""
    pending = auth.pending_second_step()
    if pending is None:
        session.clear()
        return redirect(url_for("moderation.login"), 303)
    form = CodeForm()
    error = None
    if request.method == "POST":
        if not form.validate():
            error = CSRF_MESSAGE if form.errors.get("csrf_token") else None
            error = error or "Bitte geben Sie den sechsstelligen Code ein."
        elif not accounts.check_totp(get_store(), pending["user"], form.code.data):
            error = "Der Code ist falsch, abgelaufen oder wurde schon verwendet."
        else:
            user = accounts.user_by_id(get_store(), pending["user"])
            if user is None:
                session.clear()
                return redirect(url_for("moderation.login"), 303)
            return _logged_in(user, pending.get("next"))
    status = 400 if error else 200
    return render_template("admin_totp_code.html", form=form, error=error), status


@bp.route("/zwei-faktor", methods=["GET", "POST"])
@auth.session_required
def totp():
    """Enrol in two-factor login: a new secret for the authenticator app, confirmed by a code
    from it (only then stored). The secret waits in the signed session cookie meanwhile (of a
    logged-in officer, and removed from it once enrolled)."""
    user = auth.current_user()
    form = CodeForm()
    if user.totp_secret is not None:
        # Not changed on the web: whoever held a session could swap in a second factor of their
        # own. An administrator resets it (`atlas users totp EMAIL --off`).
        return render_template("admin_totp_enrol.html", form=form, enrolled=True), 200
    error = None
    secret = session.get("totp_secret")  # kept across reloads: the app may have it already
    if request.method == "POST" and secret:
        if not form.validate():
            error = CSRF_MESSAGE if form.errors.get("csrf_token") else None
            error = error or "Bitte geben Sie den sechsstelligen Code ein."
        elif accounts.enrol_totp(get_store(), user.email, secret, form.code.data):
            session.pop("totp_secret", None)
            flash("Die Zwei-Faktor-Anmeldung ist eingerichtet.")
            return redirect(url_for("moderation.queue"), 303)
        else:
            error = "Der Code passt nicht. Bitte prüfen Sie die Uhrzeit Ihres Geräts."
    if not secret:
        secret = accounts.new_totp_secret()
        session["totp_secret"] = secret
    page = render_template(
        "admin_totp_enrol.html",
        form=form,
        error=error,
        secret=secret,
        uri=accounts.totp_uri(user.email, secret),
        required=auth.totp_missing(user),
        enrolled=False,
    )
    return page, (400 if error else 200)


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
    region = auth.region_of(user, request.args.get("region"))
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


def _show(project, status=200, message=None, edit_form=None, placement=None, notes=()):
    """The item page; after a failed edit, the officer's form (and point) as sent."""
    user = auth.current_user()
    placement = placement or stored_placement(project)
    rendered, marker = preview_map(placement, g.csp_nonce)
    version = str(project.version)
    if edit_form is None:
        edit_form = EditForm(obj=project, formdata=None)
        edit_form.note.data = None
        keep_point(edit_form, project.lat, project.lon, project.precision)
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
        history=submissions.history(get_store(), project.id),
        taken_off=submissions.taken_off(get_store(), project),
        notes=notes,
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
    submitter_mail.decision(project, approved, reason)


def _notify_office_edit(before, after, note: str | None, republished: bool) -> None:
    changed = [
        k
        for k in (*submissions.EDITABLE, "lat", "lon")
        if k not in submissions.PERSONAL and getattr(before, k) != getattr(after, k)
    ]
    submitter_mail.office_edit(after, changed, note, republished)


def _posted_decision(project, reason_required: str | None = None):
    """The posted decision's version and reason (trimmed, or None), or the item page saying what
    is wrong with it: `(version, reason, None)` or `(None, None, page)`."""
    form = DecisionForm()
    if not form.validate():
        message = CSRF_MESSAGE if form.errors.get("csrf_token") else "Ungültige Anfrage."
        return None, None, _show(project, 400, message)
    reason = (form.reason.data or "").strip() or None
    if reason_required and not reason:
        return None, None, _show(project, 400, reason_required)
    return int(form.version.data), reason, None


def _decide(project_id: str, approve: bool):
    project = _item_or_403(project_id)
    version, reason, invalid = _posted_decision(
        project, None if approve else "Bitte begründen Sie die Ablehnung."
    )
    if invalid:
        return invalid
    actor = auth.current_user().email
    done = submissions.decide(get_store(), project_id, version, actor, approve, reason)
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
    """Edit: a pending submission is approved with the corrections, a published project stays
    published, one taken off (or rejected) is published again. The point and the contact data
    stay as they are unless the officer changed them."""
    project = _item_or_403(project_id)
    form = EditForm()
    if not form.validate():
        return _show(project, 400, "Bitte prüfen Sie die markierten Felder.", edit_form=form)
    data = form_values(form)
    placement = place_form(data)
    if not placement.ok:
        return _show(project, 400, placement.error, edit_form=form, notes=data["notes"])
    actor = auth.current_user().email
    if not accounts.may_moderate(auth.current_user(), placement.region):
        return _show(
            project,
            403,
            "Der neue Ort liegt in einer anderen Region. Bitte wenden "
            "Sie sich an die Landesverwaltung.",
            edit_form=form,
        )
    note = (form.note.data or "").strip() or None
    store, version = get_store(), int(form.version.data)
    if project.status == Status.PENDING:
        done = submissions.update_pending(
            store, project_id, data, placement, actor, version=version, approve=True
        )
    else:
        done = submissions.edit(
            store,
            project_id,
            data,
            placement,
            actor,
            from_status=project.status,
            version=version,
            publish=project.status != Status.PUBLISHED,
            note=note,
        )
    if done is None:
        return _stale(project_id)
    if project.status == Status.PENDING:
        _notify_decision(done, True, None)
        flash(f"„{done.name}“ wurde bearbeitet und freigegeben.")
        return redirect(url_for("moderation.queue"), 303)
    _notify_office_edit(project, done, note, republished=project.status != Status.PUBLISHED)
    flash(
        f"„{done.name}“ wurde bearbeitet"
        + (
            " und ist weiter im Atlas."
            if project.status == Status.PUBLISHED
            else " und wieder freigegeben."
        )
    )
    return redirect(url_for("moderation.item", project_id=project_id), 303)


@bp.post("/einreichungen/<project_id>/zuruecknehmen")
@auth.login_required
def unpublish(project_id: str):
    """Take a published project off the atlas, with a reason the submitter is told."""
    return _take_off_or_put_back(project_id, publish=False)


@bp.post("/einreichungen/<project_id>/wieder-freigeben")
@auth.login_required
def republish(project_id: str):
    """Publish a project taken off (or rejected) after all, with an optional note."""
    return _take_off_or_put_back(project_id, publish=True)


def _take_off_or_put_back(project_id: str, publish: bool):
    project = _item_or_403(project_id)
    version, text, invalid = _posted_decision(
        project, None if publish else "Bitte begründen Sie, warum das Projekt aus dem Atlas soll."
    )
    if invalid:
        return invalid
    again = "wieder " if publish and submissions.taken_off(get_store(), project) else ""
    act = submissions.republish if publish else submissions.unpublish
    done = act(get_store(), project_id, version, auth.current_user().email, text)
    if done is None:
        return _stale(project_id)
    submitter_mail.taken_off_or_put_back(done, publish, bool(again), text)
    flash(f"„{done.name}“ ist {again if publish else 'nicht mehr '}im Atlas.")
    return redirect(url_for("moderation.item", project_id=project_id), 303)


#: The states an office can list, with their headings.
LISTED = {
    Status.PUBLISHED: "Veröffentlichte Projekte",
    Status.REJECTED: "Abgelehnte oder aus dem Atlas genommene Projekte",
    Status.ENDED: "Beendete Projekte (nicht mehr im Atlas)",  # issue 21
}


@bp.get("/projekte")
@auth.login_required
def projects():
    """The projects of the officer's region in one state, to edit, take off or publish again."""
    user = auth.current_user()
    region = auth.region_of(user, request.args.get("region"))
    status = request.args.get("stand", Status.PUBLISHED)
    if status not in LISTED:
        status = Status.PUBLISHED
    q = request.args.get("q", "")[:100]
    items, total = submissions.projects_of(get_store(), region, status, q)
    return render_template(
        "admin_projects.html",
        user=user,
        items=items,
        total=total,
        region=region,
        status=status,
        listed=LISTED,
        q=q,
        logout_form=ActionForm(),
    )


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
    store = get_store()
    entries = submissions.audit_log(store)
    return render_template(
        "admin_audit.html",
        user=auth.current_user(),
        entries=entries,
        names=submissions.names(store, [e.project_id for e in entries]),
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
        resend_form=ActionForm(),
        smtp=bool(current_app.config.get("SMTP_HOST")),
    )


@bp.post("/postausgang/<int:message_id>/erneut")
@auth.admin_required
def resend(message_id: int):
    """Send a mail again (one that failed, was given up, or should go once more)."""
    if not ActionForm().validate():
        abort(400)
    if not resend_mail(get_store(), message_id):
        abort(404)
    mail.deliver_again(get_store(), message_id)
    flash(_("Die Nachricht ist erneut zum Versand vorgemerkt."))
    return redirect(url_for("moderation.outbox"), 303)
