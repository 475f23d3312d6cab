"""Asking whether a project still runs (issue 21).

- `/bestaetigen/<id>/<token>`: the page a reminder links to. Opening it changes nothing (mail
  scanners open links); its three buttons do: "Läuft noch" confirms, "Angaben ändern" opens the
  edit form of the private link (changes go to the office as today), "Gibt es nicht mehr" ends
  the project. The token is signed for that one project and expires after 90 days.
- `/verwaltung/ueberfaellig`: an office's unconfirmed and overdue entries, to confirm, edit or
  end them itself.
- `reminder_mail`, `consent_mail`, `send_due`: the mails, and the daily job of `atlas serve`.
"""

from __future__ import annotations

from functools import partial

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from atlas.core import accounts, reminders, submissions
from atlas.core import coverage as figures
from atlas.core.periodic import Periodic
from atlas.geo import regions
from atlas.store import Project, Status, utcnow
from atlas.web import auth, freshness, mail
from atlas.web.extensions import get_store
from atlas.web.forms import CSRF_MESSAGE, ActionForm

bp = Blueprint("confirm", __name__)


def confirm_link(project_id: str) -> str:
    token = reminders.link_token(current_app.config["SECRET_KEY"], project_id)
    return mail.link("confirm.answer", project_id=project_id, token=token)


#: The mails to a project's contact: subject and body, with the project's name, its office and
#: the link to the answer page put in.
_MAILS = {
    "reminder": (
        lazy_gettext("Läuft Ihr Projekt noch? %(name)s"),
        lazy_gettext(
            "Guten Tag,\n\nIhr Projekt „%(name)s“ steht im Projektatlas „Gemeinsame Sache“. "
            "Damit der Atlas stimmt, fragen wir einmal im Jahr nach: Läuft es noch?\n\n"
            "Ein Klick genügt – auf der Seite hinter diesem Link (gültig 90 Tage) wählen Sie "
            "„Läuft noch“, „Angaben ändern“ oder „Gibt es nicht mehr“:\n%(link)s\n\n"
            "Ohne Antwort zeigt der Atlas das Projekt nach einiger Zeit als „nicht bestätigt“. "
            "Sie haben bei der Einreichung zugestimmt, gefragt zu werden; abbestellen können "
            "Sie es über Ihren persönlichen Link (oder schreiben Sie an das %(office)s).\n"
        ),
    ),
    # The one mail to an imported project's contact: may we ask now and then?
    "consent": (
        lazy_gettext("Ihr Projekt im Projektatlas: %(name)s"),
        lazy_gettext(
            "Guten Tag,\n\nIhr Projekt „%(name)s“ steht im Projektatlas „Gemeinsame Sache“ "
            "des Bündnisses „Niedersachsen packt an“; das %(office)s hat es übernommen. "
            "Damit der Atlas stimmt, würden wir Sie gern einmal im Jahr fragen, ob es noch "
            "läuft – ein Klick genügt.\n\n"
            "Einverstanden? Dann wählen Sie auf dieser Seite „Läuft noch“ (gültig 90 Tage):\n"
            "%(link)s\n\n"
            "Möchten Sie nicht gefragt werden, tun Sie einfach nichts: Wir schreiben Ihnen "
            "dann nicht wieder. Gibt es das Projekt nicht mehr, wählen Sie dort "
            "„Gibt es nicht mehr“.\n"
        ),
    ),
}


def contact_mail(kind: str, project) -> tuple[list[str], str, str]:
    """(recipients, subject, body) of the `kind` mail to the project's contact."""
    subject, body = _MAILS[kind]
    words = {
        "name": project.name,
        "office": regions.REGIONS[project.region]["office"],
        "link": confirm_link(project.id),
    }
    return [project.contact_email], str(subject) % words, str(body) % words


reminder_mail = partial(contact_mail, "reminder")
consent_mail = partial(contact_mail, "consent")


def send_due(app: Flask, *, dry_run: bool = False) -> list:
    """Send the due reminders now (the daily job and `atlas reminders`)."""
    # A request context for url_for; mail.link puts ATLAS_PUBLIC_URL in front.
    with app.test_request_context():
        return reminders.send_reminders(
            get_store(app), app.config, reminder_mail, utcnow(), dry_run=dry_run
        )


def ask_consent(store, project_id: str) -> bool:
    """For the import (issue 18): the one mail asking an imported row's contact whether they
    agree to be asked now and then; sent once, and only to a contact who never answered. Call
    it within the app context (`atlas import` has one) after the row is stored; False if there
    is nothing to ask."""
    app = current_app._get_current_object()
    with app.test_request_context():  # for url_for, as in send_due
        return reminders.ask_consent(store, project_id, app.config, consent_mail)


def start_daily(app: Flask) -> Periodic | None:
    """Send due reminders once a day in a background thread of this process."""
    if not app.config.get("REMINDERS"):
        return None
    return Periodic(lambda: send_due(app)).start()


# --- the page behind the reminder's link -------------------------------------------------------


def _project_or_404(project_id: str, token: str):
    if not reminders.check_token(current_app.config["SECRET_KEY"], token, project_id):
        abort(404, _("Dieser Link ist ungültig oder abgelaufen."))
    project = get_store().get(project_id)
    if project is None:
        abort(404, _("Dieser Link ist ungültig oder abgelaufen."))
    if project.status == Status.ENDED:
        abort(410, _("Dieses Projekt ist als beendet gemeldet und nicht mehr im Atlas."))
    if project.status != Status.PUBLISHED:
        abort(404, _("Dieses Projekt ist zurzeit nicht im Atlas."))
    return project


@bp.route("/bestaetigen/<project_id>/<token>", methods=["GET", "POST"])
def answer(project_id: str, token: str):
    project = _project_or_404(project_id, token)
    form = ActionForm()
    if request.method == "GET":
        return render_template("confirm.html", project=project, form=form)
    if not form.validate():
        abort(400, CSRF_MESSAGE)
    choice = request.form.get("antwort")
    store = get_store()
    if choice == "laeuft":
        done = submissions.confirm(store, project_id, "Kontakt")
        if done is not None and done.ask_consent is None:
            _set_consent(project_id)
        return render_template("confirm_done.html", project=done or project, answer=choice)
    if choice == "aendern":
        private = submissions.new_private_link(store, project_id)
        if private is None:
            abort(409)
        return redirect(url_for("submit.status", token=private), 303)
    if choice == "beendet":
        done = submissions.end(store, project_id, "Kontakt")
        if done is not None:
            _tell_office(done)
        return render_template("confirm_done.html", project=done or project, answer=choice)
    return redirect(url_for("confirm.answer", project_id=project_id, token=token), 303)


def _set_consent(project_id: str) -> None:
    """An imported row's contact who answers the one mail with "Läuft noch" agrees to be asked."""
    with get_store().session.begin() as s:
        project = s.get(Project, project_id)
        if project is not None and project.ask_consent is None:
            project.ask_consent = True


def _tell_office(project) -> None:
    store = get_store()
    mail.send(
        store,
        mail.office_addresses(store, project.region),
        f"Projekt beendet: {project.name}",
        f"Der Kontakt hat „{project.name}“ als beendet gemeldet. Es ist nicht mehr im Atlas "
        "und zählt in der Statistik Ihrer Region als beendet; die Kontaktdaten sind gelöscht.\n\n"
        f"{mail.link('moderation.projects', stand=Status.ENDED.value)}\n",
    )


# --- the office's page ------------------------------------------------------------------------


@bp.get("/verwaltung/ueberfaellig")
@auth.login_required
def overdue():
    user = auth.current_user()
    region = auth.region_of(user, request.args.get("region"))
    config = current_app.config
    items = reminders.overdue(
        get_store(),
        region,
        utcnow(),
        config["CONFIRM_AFTER_DAYS"],
        config["CONFIRM_UNANSWERED_DAYS"],
    )
    return render_template(
        "admin_overdue.html",
        user=user,
        items=items,
        region=region,
        form=ActionForm(),
        logout_form=ActionForm(),
    )


@bp.post("/verwaltung/ueberfaellig/<project_id>")
@auth.login_required
def act(project_id: str):
    store = get_store()
    project = store.get(project_id)
    if project is None:
        abort(404)
    user = auth.current_user()
    if not accounts.may_moderate(user, project.region):
        abort(403)
    if not ActionForm().validate():
        abort(400, CSRF_MESSAGE)
    choice = request.form.get("antwort")
    if choice == "laeuft":
        done = submissions.confirm(store, project_id, user.email)
        words = "als laufend bestätigt"
    elif choice == "beendet":
        done = submissions.end(store, project_id, user.email)
        words = "als beendet aus dem Atlas genommen"
    else:
        abort(400)
    if done is None:
        flash(f"„{project.name}“ wurde inzwischen geändert; bitte prüfen Sie den neuen Stand.")
    else:
        flash(f"„{done.name}“ {words}.")
    return redirect(url_for("confirm.overdue", **request.args), 303)


# --- what the coverage figures count ---------------------------------------------------------

#: The parameter of the coverage pages and /api/coverage that counts unconfirmed entries too.
INCLUDE_UNCONFIRMED = "include_unconfirmed"


def _set_counting() -> None:
    """Each request says for itself what coverage counts (atlas.core.coverage.COUNTING)."""
    include = request.args.get(INCLUDE_UNCONFIRMED, "").strip().lower() in ("1", "true", "yes")
    days = current_app.config["CONFIRM_UNANSWERED_DAYS"]
    figures.COUNTING.set(figures.Counting(include, days, utcnow().date()))


def counting_link(include: bool) -> str:
    """This page, counting unconfirmed entries too (or not)."""
    args = {k: v for k, v in request.args.items() if k != INCLUDE_UNCONFIRMED}
    if include:
        args[INCLUDE_UNCONFIRMED] = "1"
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    freshness.init_app(app)
    app.before_request(_set_counting)
    app.add_template_global(figures.counting, "coverage_counting")
    app.add_template_global(counting_link, "counting_link")
