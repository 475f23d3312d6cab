"""The mails an office's action sends to a submitter, in the language they submitted in
(`Project.language`, issue 16; German for imported or older submissions), whatever the office's
own interface language is."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from atlas.geo import regions
from atlas.web import mail
from atlas.web.extensions import get_store
from atlas.web.i18n import DEFAULT, LANGUAGES
from atlas.web.terms import office_name


def language_of(project) -> str:
    lang = getattr(project, "language", None)
    return lang if lang in LANGUAGES else DEFAULT


def _office(project) -> str:
    return office_name(regions.REGIONS[project.region])


def _private_link() -> str:
    return (
        _(
            "Über den persönlichen Link aus unserer ersten Nachricht können Sie die Angaben "
            "ändern oder die Einreichung zurückziehen."
        )
        + "\n"
    )


def _send(project, subject: str, body: str, project_id: str | None = None) -> None:
    mail.send(
        get_store(),
        [project.contact_email],
        f"{subject}: {project.name}",
        body,
        project_id=project_id,
    )


def decision(project, approved: bool, reason: str | None) -> None:
    """Approved or rejected."""
    if not project.contact_email:
        return
    with force_locale(language_of(project)):
        if approved:
            body = (
                _(
                    "Ihr Projekt „%(name)s“ wurde vom %(office)s freigegeben und ist jetzt im "
                    "Atlas zu sehen:",
                    name=project.name,
                    office=_office(project),
                )
                + f"\n{mail.link('pages.detail', project_id=project.id)}\n"
            )
        else:
            body = (
                _(
                    "Ihr Projekt „%(name)s“ wurde vom %(office)s nicht freigegeben.",
                    name=project.name,
                    office=_office(project),
                )
                + "\n\n"
                + _("Begründung: %(reason)s", reason=reason)
                + "\n"
            )
        _send(project, _("Entscheidung zu Ihrer Einreichung"), body, project.id)


def office_edit(after, changed: list[str], note: str | None, republished: bool) -> None:
    """The office changed the published record (`changed`: the columns' keys)."""
    if not after.contact_email:
        return
    from atlas.web.wording import COLUMNS

    with force_locale(language_of(after)):
        if republished:
            body = _(
                "Das %(office)s hat Ihr Projekt „%(name)s“ geändert und wieder freigegeben.",
                office=_office(after),
                name=after.name,
            )
        else:
            body = _(
                "Das %(office)s hat Ihr Projekt „%(name)s“ im Atlas geändert.",
                office=_office(after),
                name=after.name,
            )
        body += "\n\n"
        if changed:
            names = ", ".join(dict.fromkeys(str(COLUMNS.get(k, k)) for k in changed))
            body += _("Geändert: %(columns)s", columns=names) + "\n\n"
        if note:
            body += _("Hinweis: %(note)s", note=note) + "\n\n"
        body += f"{mail.link('pages.detail', project_id=after.id)}\n\n{_private_link()}"
        _send(after, _("Ihr Projekt wurde geändert"), body)


def taken_off_or_put_back(done, publish: bool, again: bool, text: str | None) -> None:
    """The office took a published project off the atlas, or put it (back) on."""
    if not done.contact_email:
        return
    with force_locale(language_of(done)):
        office, name = _office(done), done.name
        if publish:
            subject = (
                _("Ihr Projekt ist wieder im Atlas") if again else _("Ihr Projekt ist im Atlas")
            )
            body = (
                (
                    _(
                        "Das %(office)s hat Ihr Projekt „%(name)s“ wieder freigegeben:",
                        office=office,
                        name=name,
                    )
                    if again
                    else _(
                        "Das %(office)s hat Ihr Projekt „%(name)s“ freigegeben:",
                        office=office,
                        name=name,
                    )
                )
                + f"\n{mail.link('pages.detail', project_id=done.id)}\n\n"
                + ((_("Hinweis: %(note)s", note=text) + "\n\n") if text else "")
            )
        else:
            subject = _("Ihr Projekt ist nicht mehr im Atlas")
            body = (
                _(
                    "Das %(office)s hat Ihr Projekt „%(name)s“ aus dem Atlas genommen.",
                    office=office,
                    name=name,
                )
                + "\n\n"
                + _("Begründung: %(reason)s", reason=text)
                + "\n\n"
            )
        _send(done, subject, body + _private_link())
