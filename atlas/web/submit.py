"""Pages for initiatives: submit a project, preview and correct its point, follow it with the
private link for as long as it exists: change it, withdraw it."""

from __future__ import annotations

import folium
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from itsdangerous import BadSignature, URLSafeSerializer

from atlas.core import submissions
from atlas.geo import regions
from atlas.geo.geocoding import PRECISION_LABELS, Precision
from atlas.store import Status
from atlas.web import i18n, mail, maps
from atlas.web.errors import wait_text
from atlas.web.extensions import get_geocode, get_store, get_tiles, limiter
from atlas.web.forms import CSRF_MESSAGE, ActionForm, SubmissionForm
from atlas.web.terms import office_name

bp = Blueprint("submit", __name__)

#: Precisions that say the geocoder did not find the street (the point stands for more).
_ROUGH = (Precision.POSTCODE, Precision.MUNICIPALITY, Precision.PLACE, Precision.DISTRICT)


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def _preview_limit() -> str:
    return current_app.config["RATELIMIT_PREVIEW"]


def _not_storing() -> bool:
    """Previews and corrections store nothing: the submission limit leaves them alone."""
    return request.form.get("step") != "confirm"


def _stored(response) -> bool:
    """A submission (or a change) was stored: the form answers with a redirect."""
    return response.status_code == 303


#: The submission limit counts what is stored; a generous one on every POST spares the geocoder.
_limits = (
    limiter.limit(_submit_limit, methods=["POST"], exempt_when=_not_storing, deduct_when=_stored),
    limiter.limit(_preview_limit, methods=["POST"], scope="preview"),
)


def _limited(view):
    for limit in _limits:
        view = limit(view)
    return view


# --- the point and its precision ----------------------------------------------------------------


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="atlas.point")


def _coordinate(value) -> str:
    return f"{float(value):.6f}"


def sign_point(lat, lon, precision, **extra) -> str:
    """The server's point and what it knows of it, signed for a hidden field or a button."""
    return _signer().dumps(
        {
            "lat": _coordinate(lat),
            "lon": _coordinate(lon),
            "precision": str(precision) if precision else None,
            **extra,
        }
    )


def _signed(value: str | None) -> dict | None:
    if not value:
        return None
    try:
        found = _signer().loads(value)
    except BadSignature:
        return None
    return found if isinstance(found, dict) else None


def choice_value(candidate: dict) -> str:
    """A candidate's button: its point, precision, postcode, label and district, signed."""
    return sign_point(
        candidate["lat"],
        candidate["lon"],
        candidate.get("precision"),
        postcode=candidate.get("postcode"),
        label=candidate.get("label"),
        district_code=candidate.get("district_code"),
    )


def keep_point(form, lat, lon, precision) -> None:
    """Put a placed point into the form's hidden fields, for the address it now shows."""
    form.lat.data, form.lon.data = _coordinate(lat), _coordinate(lon)
    form.point_for.data = form.address_key()
    form.origin.data = sign_point(lat, lon, precision)


def form_values(form) -> dict:
    """Clean form data with the point to use and its precision:

    - a chosen candidate: its point and precision; a postcode that is not the place's own is
      corrected, or `notes` say so;
    - a point for this very address: its precision if it is still where the server put it
      (`origin`), else `manual`;
    - a point for another address: none (the address is geocoded again).
    """
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in form.data.items()}
    data["notes"] = []
    data["precision"] = None
    choice = _signed(request.form.get("choose", ""))
    if choice:
        data["lat"], data["lon"] = choice["lat"], choice["lon"]
        data["precision"] = choice.get("precision")
        postcode, note = submissions.postcode_for_choice(data.get("postcode"), choice)
        if postcode != data.get("postcode"):
            data["postcode"] = form.postcode.data = postcode
        if note:
            data["notes"].append(note)
    elif data.get("point_for") != form.address_key():
        data["lat"] = data["lon"] = None
    elif data.get("lat") and data.get("lon"):
        origin = _signed(data.get("origin"))
        try:
            same = origin and (origin["lat"], origin["lon"]) == (
                _coordinate(data["lat"]),
                _coordinate(data["lon"]),
            )
        except ValueError:
            same = False
        data["precision"] = origin.get("precision") if same else Precision.MANUAL
    # Only the fields this form has: an officer's form has no contact fields to erase.
    for key in ("organisation", "street", "website", "contact_name"):
        if key in data:
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
        precision=data.get("precision"),
    )


def street_missed(street: str | None, placement: submissions.Placement) -> str | None:
    """What to say when a street was given but the point stands only for the town or postcode."""
    if not street or not placement.ok or placement.precision not in _ROUGH:
        return None
    return _(
        "Die Straße „%(street)s“ haben wir nicht gefunden. Der Punkt steht vorerst nur ungefähr "
        "(%(precision)s). Bitte ziehen Sie die Markierung an die "
        "richtige Stelle oder klicken Sie dort in die Karte.",
        street=street,
        precision=_(PRECISION_LABELS[placement.precision]),
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


def stored_placement(project) -> submissions.Placement:
    return submissions.Placement(
        lat=project.lat,
        lon=project.lon,
        precision=project.precision,
        district_code=project.district_code,
        region=project.region,
    )


# --- submitting ---------------------------------------------------------------------------------


def _render(form, placement=None, dups=(), status=200, notes=(), problem=None):
    placement = placement or submissions.Placement()
    rendered, marker = preview_map(placement, g.csp_nonce)
    info = regions.district(placement.district_code) if placement.district_code else None
    office = regions.REGIONS.get(placement.region) if placement.region else None
    csrf_error = CSRF_MESSAGE if form.errors.get("csrf_token") else None
    return render_template(
        "submit.html",
        form=form,
        placement=placement,
        candidates=[(c, choice_value(c)) for c in placement.candidates],
        map=rendered,
        marker=marker,
        district_info=info,
        office=office,
        duplicates=_visible(dups),
        csrf_error=csrf_error,
        notes=[*notes, *filter(None, [street_missed(form.street.data, placement)])],
        problem=problem,
    ), status


@bp.route("/einreichen", methods=["GET", "POST"])
@_limited
def submit():
    form = SubmissionForm()
    if request.method == "GET":
        return _render(form)
    if form.homepage.data:
        # Looks like a bot: store nothing, say nothing useful.
        return render_template(
            "error.html",
            title=_("Nicht angenommen"),
            message=_("Diese Einreichung konnte nicht angenommen werden."),
        ), 400
    if not form.validate():
        return _render(form, status=400)
    data = form_values(form)
    placement = place_form(data)
    if not placement.ok:
        return _render(
            form,
            placement,
            status=400 if form.step.data == "confirm" else 200,
            notes=data["notes"],
        )
    keep_point(form, placement.lat, placement.lon, placement.precision)
    dups = submissions.duplicates(get_store(), data["name"], placement.lat, placement.lon)
    if form.step.data != "confirm" or (dups and not form.confirm_duplicate.data):
        if form.step.data == "confirm" and dups:
            form.confirm_duplicate.errors = [
                _(
                    "Bitte prüfen Sie die ähnlichen Projekte und "
                    "bestätigen Sie, dass es ein eigenes Projekt ist."
                )
            ]
        form.step.data = "confirm"
        return _render(form, placement, dups, status=200, notes=data["notes"])
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
                # In the language the submitter used the form in.
                _("Ihre Einreichung: %(name)s", name=data["name"]),
                _(
                    "Vielen Dank! Ihre Einreichung wird vom %(office)s geprüft.",
                    office=office_name(office),
                )
                + "\n\n"
                + _(
                    "Unter diesem persönlichen Link sehen Sie den Stand, können die Angaben "
                    "ändern oder die Einreichung zurückziehen – auch nach der Freigabe:"
                )
                + f"\n{mail.link('submit.status', token=token)}\n",
            ),
        ]

    data["language"] = i18n.current()  # later mails to the submitter use it (issue 16)
    if data.get("other_language") and data.get("other_description"):
        data["descriptions"] = {data["other_language"]: data["other_description"]}
    try:
        _project_id, token, messages = submissions.create(store, data, placement, compose)
    except submissions.AlreadySubmitted:
        return render_template(
            "error.html",
            title=_("Bereits eingegangen"),
            message=_(
                "Diese Einreichung ist gerade eben schon bei uns eingegangen (vielleicht wurde "
                "das Formular zweimal abgeschickt). Sie wurde nur einmal gespeichert. Den "
                "persönlichen Link zu Ihrer Einreichung finden Sie auf der Bestätigungsseite "
                "und in der E-Mail, die wir Ihnen geschickt haben."
            ),
        ), 409
    mail.deliver(store, messages)
    return redirect(url_for("submit.status", token=token, neu=1), 303)


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    """The limit is reached: say how long to wait, and give back the form as it was typed."""
    form = SubmissionForm()
    if request.endpoint == "submit.status":
        project = submissions.by_token(get_store(), request.view_args.get("token", ""))
        if project is not None:
            message = (
                wait_text(_("Änderungen")) + " " + _("Ihre Eingaben stehen unten noch im Formular.")
            )
            return _status_page(project, form, stored_placement(project), message, 429)
    if request.endpoint != "submit.submit":
        return render_template("error.html", title=_("Zu viele Anfragen"), message=wait_text()), 429
    problem = wait_text(_("Einreichungen")) + " " + _("Ihre Angaben stehen unten noch im Formular.")
    return _render(form, status=429, problem=problem)


# --- the private link ---------------------------------------------------------------------------


def _status_page(project, form, placement, message=None, code=200, notes=()):
    rendered, marker = preview_map(placement, g.csp_nonce)
    return render_template(
        "submission_status.html",
        project=project,
        form=form,
        map=rendered,
        marker=marker,
        office=regions.REGIONS.get(project.region),
        district_info=regions.district(project.district_code),
        message=message,
        notes=notes,
        placement=placement,
        # Built on ATLAS_PUBLIC_URL, never on the request's Host header.
        private_link=mail.link("submit.status", token=request.view_args["token"]),
        csrf_error=CSRF_MESSAGE if form.errors.get("csrf_token") else None,
        token=request.view_args["token"],
        taken_off=submissions.taken_off(get_store(), project),
    ), code


def _notify_change_request(project) -> None:
    store = get_store()
    office = regions.REGIONS[project.region]["office"]
    mail.send(
        store,
        mail.office_addresses(store, project.region),
        f"Änderungswunsch: {project.name}",
        f"Die Einreicherin / der Einreicher hat Änderungen an „{project.name}“ geschickt. "
        f"Das Projekt wartet wieder auf Prüfung durch das {office}"
        " und ist bis zur Freigabe nicht im Atlas zu sehen:\n\n"
        f"{mail.link('moderation.item', project_id=project.id)}\n",
    )


@bp.route("/einreichung/<token>", methods=["GET", "POST"])
@_limited
def status(token: str):
    """The submitter's private page, in every state: the status, and the form to change it.

    A pending submission is simply saved. A decided one goes back to the office's queue when
    the change touches what the atlas shows (a published project leaves the atlas until it is
    approved again); a change of unpublished contact data is saved and it stays as it is."""
    store = get_store()
    project = submissions.by_token(store, token)
    if project is None:
        abort(404)
    placement = stored_placement(project)
    if request.method == "GET":
        form = SubmissionForm(obj=project)
        form.consent.data = True
        keep_point(form, project.lat, project.lon, project.precision)
        return _status_page(project, form, placement)
    form = SubmissionForm()
    if not form.validate():
        return _status_page(
            project, form, placement, _("Bitte prüfen Sie die markierten Felder."), 400
        )
    data = form_values(form)
    new_place = place_form(data)
    if not new_place.ok:
        return _status_page(project, form, placement, new_place.error, 400, data["notes"])
    if form.step.data != "confirm":
        keep_point(form, new_place.lat, new_place.lon, new_place.precision)
        notes = [*data["notes"], *filter(None, [street_missed(data["street"], new_place)])]
        message = "Vorschau: Bitte prüfen Sie den Punkt und speichern Sie dann."
        return _status_page(project, form, new_place, message, 200, notes)
    if project.status == Status.PENDING:
        done = submissions.update_pending(store, project.id, data, new_place, actor="Einreichung")
        flag = "gespeichert"
    elif not submissions.public_change(project, data, new_place):
        done = submissions.edit(
            store, project.id, data, new_place, "Einreichung", from_status=project.status
        )
        flag = "gespeichert"
    else:
        done = submissions.request_change(store, project.id, data, new_place)
        flag = "zur_pruefung"
        if done is not None:
            _notify_change_request(done)
    if done is None:
        message = (
            "Die Einreichung wurde inzwischen vom Amt geändert oder entschieden. "
            "Bitte laden Sie die Seite neu."
        )
        return _status_page(project, form, placement, message, 409)
    return redirect(url_for("submit.status", token=token, **{flag: 1}), 303)


@bp.route("/einreichung/<token>/zurueckziehen", methods=["GET", "POST"])
def withdraw(token: str):
    """Withdraw in two steps: this page says what will happen, its button does it."""
    store = get_store()
    project = submissions.by_token(store, token)
    if project is None:
        abort(404)
    form = ActionForm()
    if request.method == "GET":
        return render_template("submission_withdraw.html", project=project, form=form, token=token)
    if not form.validate():
        abort(400, CSRF_MESSAGE)
    if request.form.get("bestaetigt") != "ja":
        return redirect(url_for("submit.withdraw", token=token), 303)
    was_public = project.status == Status.PUBLISHED
    if not submissions.withdraw(store, token):
        abort(404)
    message = "Ihre Einreichung und Ihre Kontaktdaten wurden gelöscht."
    if was_public:
        message += " Das Projekt ist nicht mehr im Atlas zu sehen."
    return render_template("error.html", title="Einreichung zurückgezogen", message=message)
