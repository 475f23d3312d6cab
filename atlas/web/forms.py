"""Web forms (Flask-WTF, CSRF-protected) with German messages next to their fields."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from atlas.core.fields import FIELDS
from atlas.geo.regions import REGIONS
from atlas.web.i18n import description_language_choices, language_choices

CSRF_MESSAGE = _l(
    "Das Formular ist abgelaufen oder unvollständig übertragen worden. "
    "Bitte laden Sie die Seite neu und senden Sie es noch einmal."
)


def _length(low: int, high: int):
    if low:
        return Length(
            low,
            high,
            message=_l("Bitte %(low)s bis %(high)s Zeichen eingeben.", low=low, high=high),
        )
    return Length(max=high, message=_l("Höchstens %(high)s Zeichen.", high=high))


def _strip(value):
    """Fields are checked as they will be stored: without surrounding spaces (so "  ab  " is
    too short for three characters)."""
    return value.strip() if isinstance(value, str) else value


def _http_url(form, field):
    value = (field.data or "").strip()
    if not value:
        return
    if not value.lower().startswith(("http://", "https://")):
        raise ValidationError(_l("Nur Adressen mit http:// oder https:// sind möglich."))
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        host = ""
    if "." not in host.strip(".") or any(c.isspace() for c in value):
        raise ValidationError(
            _l("Bitte eine vollständige Adresse angeben, z. B. https://www.beispiel.de.")
        )


def _number(form, field):
    if field.data:
        try:
            float(field.data)
        except ValueError:
            raise ValidationError(_l("Ungültige Koordinate.")) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        valid = {c.value for c in self.choices}
        unknown = [v for v in self.data or [] if v not in valid]
        if unknown:
            raise ValidationError(
                _l(
                    "Unbekanntes Handlungsfeld: %(unknown)s. Möglich sind: %(known)s.",
                    unknown=", ".join(unknown),
                    known=", ".join(str(c.label) for c in self.choices),
                )
            )


class ProjectForm(FlaskForm):
    """The project's public description and place: shared by submission and moderation."""

    name = StringField(
        _l("Name des Projekts"),
        filters=[_strip],
        validators=[DataRequired(_l("Bitte den Namen des Projekts angeben.")), _length(3, 200)],
    )
    organisation = StringField(
        _l("Träger / Organisation"), filters=[_strip], validators=[Optional(), _length(0, 200)]
    )
    description = TextAreaField(
        _l("Beschreibung"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Bitte beschreiben Sie kurz, was das Projekt tut.")),
            _length(20, 4000),
        ],
    )
    fields = MultiCheckboxField(
        _l("Handlungsfelder"),
        choices=[SelectChoice(k, _l(v)) for k, v in FIELDS.items()],
        validators=[DataRequired(_l("Bitte mindestens ein Handlungsfeld wählen."))],
    )
    languages = MultiCheckboxField(
        _l("Sprachen, in denen das Projekt mit Menschen arbeitet"),
        choices=language_choices(),
        validators=[Optional()],
    )
    street = StringField(
        _l("Straße und Hausnummer"), filters=[_strip], validators=[Optional(), _length(0, 200)]
    )
    postcode = StringField(
        _l("Postleitzahl"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Bitte die Postleitzahl angeben.")),
            Regexp(r"^\s*\d{5}\s*$", message=_l("Eine Postleitzahl hat fünf Ziffern.")),
        ],
    )
    city = StringField(
        _l("Ort"),
        filters=[_strip],
        validators=[DataRequired(_l("Bitte den Ort angeben.")), _length(2, 120)],
    )
    website = URLField(
        _l("Website"), filters=[_strip], validators=[Optional(), _length(0, 300), _http_url]
    )
    lat = HiddenField(validators=[Optional(), _number])
    lon = HiddenField(validators=[Optional(), _number])
    #: The address the point belongs to: a changed address is geocoded again.
    point_for = HiddenField()
    #: The point as the server placed it, with its precision, signed (web.submit.sign_point):
    #: a point still there keeps that precision, a point moved by hand is "manual".
    origin = HiddenField()

    def address_key(self) -> str:
        return "|".join(
            (f.data or "").strip().lower() for f in (self.street, self.postcode, self.city)
        )


class SubmissionForm(ProjectForm):
    #: A short description in one more language (issue 16); the project page shows it to
    #: readers of that language.
    other_language = SelectField(
        _l("Weitere Sprache der Beschreibung"),
        choices=lambda: [SelectChoice("", _l("keine"))] + description_language_choices(),
        validators=[Optional()],
    )
    other_description = TextAreaField(
        _l("Kurze Beschreibung in dieser Sprache (freiwillig)"),
        filters=[_strip],
        validators=[Optional(), _length(0, 1000)],
    )

    def validate_other_description(self, field):
        if field.data and not self.other_language.data:
            raise ValidationError(_l("Bitte wählen Sie die Sprache dieser Beschreibung."))

    contact_name = StringField(
        _l("Ansprechperson"), filters=[_strip], validators=[Optional(), _length(0, 120)]
    )
    contact_email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Bitte eine E-Mail-Adresse angeben, damit wir Sie erreichen.")),
            Email(_l("Das ist keine gültige E-Mail-Adresse."), check_deliverability=False),
            _length(0, 254),
        ],
    )
    publish_email = BooleanField(_l("Die E-Mail-Adresse darf im Atlas veröffentlicht werden."))
    consent = BooleanField(
        _l(
            "Ich habe die Datenschutzhinweise gelesen und bin einverstanden, "
            "dass meine Angaben zur Prüfung gespeichert werden."
        ),
        validators=[
            DataRequired(_l("Ohne Ihre Einwilligung können wir die Einreichung nicht annehmen."))
        ],
    )
    #: Issue 21: may the atlas ask now and then whether the project still runs? Never preset.
    ask_consent = BooleanField(
        _l(
            "Sie dürfen mich einmal im Jahr per E-Mail fragen, ob das Projekt noch läuft "
            "(ein Klick genügt; abbestellen können Sie es über Ihren persönlichen Link)."
        )
    )
    #: Honeypot: hidden from people, filled by simple bots.
    homepage = StringField(_l("Bitte leer lassen"))
    confirm_duplicate = BooleanField(_l("Es handelt sich trotzdem um ein eigenes Projekt."))
    #: Set by the button pressed: "preview" or "confirm".
    step = HiddenField(default="preview")


class LoginForm(FlaskForm):
    email = EmailField("E-Mail-Adresse", validators=[DataRequired("Bitte E-Mail angeben.")])
    password = PasswordField("Passwort", validators=[DataRequired("Bitte Passwort angeben.")])


class CodeForm(FlaskForm):
    """The 6-digit code of an authenticator app (two-factor login and its enrolment)."""

    code = StringField(
        "Code aus der Authenticator-App",
        validators=[DataRequired("Bitte den sechsstelligen Code angeben."), Length(max=20)],
    )


class DecisionForm(FlaskForm):
    """Approve or reject; `version` makes a stale decision fail instead of overwriting."""

    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d+$")])
    reason = TextAreaField(
        "Begründung (wird der Einreicherin / dem Einreicher mitgeteilt)",
        validators=[Optional(), _length(0, 2000)],
    )


class EditForm(ProjectForm):
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d+$")])
    #: Why a published project was changed; told to the submitter.
    note = TextAreaField(
        "Hinweis an die Einreicherin / den Einreicher (optional)",
        validators=[Optional(), _length(0, 2000)],
    )


class MoveForm(FlaskForm):
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d+$")])
    region = SelectField(
        "Neue Region", choices=[SelectChoice(k, v["name"]) for k, v in REGIONS.items()]
    )


class ActionForm(FlaskForm):
    """A button that changes something (withdraw, log out): CSRF only."""
