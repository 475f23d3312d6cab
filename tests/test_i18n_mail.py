"""Mails to a submitter in the language they submitted in (issue 16), whatever language the
office works in; the submitter's private pages in that language too. Flask test client and a
real database (SQLite and PostgreSQL), as in tests/test_lifecycle.py."""

from __future__ import annotations

from tests import test_submissions as base
from tests.test_lifecycle import approved, mails, preview_then_confirm, stored, the_only

app = base.app
client = base.client


def test_a_submission_in_arabic_gets_its_mails_in_arabic(app, client):
    client.get("/einreichen?lang=ar")  # the switcher: kept in a cookie
    link, project = approved(app, client)
    assert stored(app, project.id).language == "ar"
    [first] = mails(app, "طلبكم")
    assert "%(" not in first.body and "مكتب التنمية الإقليمية" in first.body
    [decision] = mails(app, "القرار بشأن طلبكم")
    assert "وافق مكتب التنمية الإقليمية" in decision.body and project.name in decision.subject
    page = client.get(link).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "تمت الموافقة عليه وهو ظاهر في الأطلس" in page  # the state, translated
    withdraw = client.get(link + "/zurueckziehen").get_data(as_text=True)
    assert "Ja, endgültig" not in withdraw and "نعم، سحب الطلب نهائيًا" in withdraw


def test_a_submission_in_german_keeps_german_mails(app, client):
    preview_then_confirm(client)
    project = the_only(app)
    assert project.language == "de"
    assert mails(app, "Ihre Einreichung")


def test_a_description_in_another_language_is_shown_to_its_readers(app, client):
    _link, project = approved(
        app,
        client,
        other_language="ar",
        other_description="دروس لغة ألمانية مع متطوعين يتحدثون العربية.",
    )
    assert stored(app, project.id).descriptions == {
        "ar": "دروس لغة ألمانية مع متطوعين يتحدثون العربية."
    }
    arabic = client.get(f"/projekte/{project.id}?lang=ar").get_data(as_text=True)
    assert 'lang="ar" id="own-description">دروس لغة ألمانية' in arabic
    assert f'<p class="description" lang="de">{project.description}</p>' in arabic
    english = client.get(f"/projekte/{project.id}?lang=en").get_data(as_text=True)
    assert "own-description" not in english and "This description is in German." in english
    german = client.get(f"/projekte/{project.id}?lang=de").get_data(as_text=True)
    assert "own-description" not in german and "Diese Beschreibung ist auf Deutsch" not in german


def test_a_further_description_needs_its_language(app, client):
    page = base.submit(client, step="preview", other_description="Ohne Sprache").get_data(
        as_text=True
    )
    assert "Bitte wählen Sie die Sprache dieser Beschreibung." in page
