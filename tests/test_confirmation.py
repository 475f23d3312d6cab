"""Entries stay true (issue 21): every entry dated, contacts asked by one-click reminders through a
real SMTP stand-in, unanswered entries marked for their office, ended projects gone from the
public atlas but kept for the office's statistics. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from atlas.core import reminders
from atlas.core.periodic import Periodic
from atlas.core.projects import clean_record
from atlas.store import OutboxMessage, Project, utcnow
from atlas.web.confirm import ask_consent, send_due
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token
from tests.support.smtp_stub import smtp_server
from tests.test_notify import SUBMITTER, decide, make_app, submitted  # noqa: F401  (fixture)
from tests.test_submissions import login

LINK = re.compile(r"https?://\S+/bestaetigen/\S+")


def _set(app, project_id: str, **values) -> None:
    with get_store(app).session.begin() as s:
        s.execute(update(Project).where(Project.id == project_id).values(**values))


def _get(app, project_id: str) -> Project:
    return get_store(app).get(project_id)


def _published(client, officer="lg@arl.example", **changes) -> str:
    """A submission with consent to be asked, approved by its office; its id."""
    _, project_id = submitted(client, **{"ask_consent": "y", **changes})
    office = client.application.test_client()
    login(office, officer)
    assert decide(office, project_id, "freigeben").status_code == 303
    return project_id


def _age(app, project_id: str, days: int) -> None:
    """Make the project's last confirmation `days` old."""
    then = utcnow() - timedelta(days=days)
    _set(app, project_id, confirmed_at=then, created_at=then)


def _path(url: str) -> str:
    return urlsplit(url).path


def _answer(client, path: str, choice: str):
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "antwort": choice})


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def app(make_app, smtp):  # noqa: F811
    return make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, PUBLIC_URL="https://atlas.example")


def _reminded(app, smtp) -> tuple:
    """A published project a year old, its contact reminded: (client, project id, link path)."""
    client = app.test_client()
    project_id = _published(client)
    _age(app, project_id, 400)
    return client, project_id, _path(_reminder_link(smtp, app))


def _reminder_link(smtp, app) -> str:
    assert send_due(app), "a reminder was due"
    mails = [m for m in smtp.mailbox.to(SUBMITTER) if "Läuft Ihr Projekt noch?" in m.subject]
    assert len(mails) == 1
    url = LINK.search(mails[0].body).group(0)
    assert url.startswith("https://atlas.example/bestaetigen/")  # on ATLAS_PUBLIC_URL
    return url


# --- dated entries ------------------------------------------------------------------------------


def test_approval_confirms_and_every_view_says_when(app):
    client = app.test_client()
    project_id = _published(client)
    project = _get(app, project_id)
    assert project.confirmed_at is not None
    month = {12: "Dezember", 1: "Januar"}.get(project.confirmed_at.month)
    detail = client.get(f"/projekte/{project_id}").get_data(as_text=True)
    assert "Zuletzt bestätigt: " in detail
    if month:
        assert f"Zuletzt bestätigt: {month} {project.confirmed_at.year}" in detail
    listing = client.get("/projekte").get_data(as_text=True)
    assert "Zuletzt bestätigt: " in listing
    props = client.get(f"/api/projects/{project_id}").get_json()["properties"]
    assert props["freshness"].startswith("Zuletzt bestätigt: ")
    assert props["confirmed_at"].startswith(str(project.confirmed_at.year))
    assert "source_date" in props


def test_a_curated_record_says_the_date_of_its_source(app, cli):
    assert cli("init").exit_code == 0
    client = app.test_client()
    page = client.get("/projekte/willkommenskultur-meppen").get_data(as_text=True)
    assert "Stand laut Quelle: 2020" in page
    page = client.get("/projekte/integrationslotsen-seelze").get_data(as_text=True)
    assert "Stand laut Quelle: März 2019" in page
    props = client.get("/api/projects/integrationslotsen-seelze").get_json()["properties"]
    assert props["source_date"] == "2019-03-14" and props["confirmed_at"] is None
    exported = client.get("/api/projects?limit=100").get_json()["features"]
    assert all(f["properties"]["source_date"] for f in exported)


# --- asking -------------------------------------------------------------------------------------


def test_the_reminder_arrives_and_opening_its_link_changes_nothing(app, smtp):
    client, project_id, link = _reminded(app, smtp)
    assert link.startswith("/bestaetigen/")
    before = _get(app, project_id)
    for _ in range(2):  # a mail scanner, then the person
        page = client.get(link)
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    for button in ("Läuft noch", "Angaben ändern", "Gibt es nicht mehr"):
        assert button in html
    after = _get(app, project_id)
    assert (after.version, after.confirmed_at, after.status) == (
        before.version,
        before.confirmed_at,
        before.status,
    )
    # Sent once: the next run finds nothing due.
    assert send_due(app) == []


def test_laeuft_noch_confirms(app, smtp):
    client, project_id, link = _reminded(app, smtp)
    response = _answer(client, link, "laeuft")
    assert response.status_code == 200
    assert "ist als laufend bestätigt" in response.get_data(as_text=True)
    confirmed = _get(app, project_id).confirmed_at
    assert confirmed > utcnow().replace(tzinfo=confirmed.tzinfo) - timedelta(minutes=5)
    assert reminders.due_reminders(get_store(app), utcnow()) == []


def test_angaben_aendern_opens_the_edit_form_reviewed_by_the_office(app, smtp):
    client, project_id, link = _reminded(app, smtp)
    response = _answer(client, link, "aendern")
    assert response.status_code == 303
    private = response.headers["Location"]
    assert private.startswith("/einreichung/")
    page = client.get(private).get_data(as_text=True)
    assert 'name="description"' in page and "Änderungen zur Prüfung senden" in page
    assert _get(app, project_id).status == "published"  # nothing changed yet


def test_gibt_es_nicht_mehr_ends_it_everywhere(app, smtp, cli):
    client, project_id, link = _reminded(app, smtp)
    region = _get(app, project_id).region
    counted = client.get(f"/api/coverage?region={region}").get_json()
    total_before = sum(d["projects"] for d in counted["districts"])
    response = _answer(client, link, "beendet")
    assert response.status_code == 200
    ended = _get(app, project_id)
    assert ended.status == "ended" and ended.ended_at is not None
    told = [m for m in smtp.mailbox.to("lg@arl.example") if "Projekt beendet" in m.subject]
    assert len(told) == 1 and "/verwaltung/projekte?stand=ended" in told[0].body
    # Personal data gone as in a withdrawal: contact, private link, the project's mails.
    assert (ended.contact_email, ended.contact_name, ended.token_hash) == (None, None, None)
    with get_store(app).session() as s:
        assert (
            s.scalars(select(OutboxMessage).where(OutboxMessage.project_id == project_id)).all()
            == []
        )
        assert SUBMITTER not in {m.recipient for m in s.scalars(select(OutboxMessage))}
    if get_store(app).engine.dialect.name == "sqlite":  # not even in the file's free space
        path = get_store(app).engine.url.database
        assert SUBMITTER.encode() not in Path(path).read_bytes()
    # Gone from the public atlas: API 410, page 410, markers, listing, coverage.
    gone = client.get(f"/api/projects/{project_id}")
    assert gone.status_code == 410 and gone.get_json()["ended_at"]
    assert client.get(f"/projekte/{project_id}").status_code == 410
    markers = client.get("/api/markers").get_json()["rows"]
    assert project_id not in {row[0] for row in markers}
    assert project_id not in client.get("/projekte").get_data(as_text=True)
    counted = client.get(f"/api/coverage?region={region}").get_json()
    assert sum(d["projects"] for d in counted["districts"]) == total_before - 1
    # The link does nothing more; the office still has it, with its end date.
    assert client.get(link).status_code == 410
    login(client, "lg@arl.example")
    listed = client.get("/verwaltung/projekte?stand=ended").get_data(as_text=True)
    assert ended.name in listed and "beendet" in listed
    exported = cli("export", "--format", "geojson", "--status", "ended")
    assert project_id in exported.output


def test_a_link_for_one_project_cannot_confirm_another(app, smtp):
    client = app.test_client()
    first = _published(client)
    second = _published(client, name="Sprachcafé Nebenan")
    _age(app, first, 400)
    link = _path(_reminder_link(smtp, app))
    assert link.startswith(f"/bestaetigen/{first}/")
    token = link.rsplit("/", 1)[1]
    other = f"/bestaetigen/{second}/{token}"
    assert client.get(other).status_code == 404
    csrf = csrf_token(client.get(link).get_data(as_text=True))
    for choice in ("laeuft", "beendet"):
        assert client.post(other, data={"csrf_token": csrf, "antwort": choice}).status_code == 404
    assert _get(app, second).status == "published"
    assert _get(app, second).version == _get(app, first).version


def test_the_link_expires_after_90_days(monkeypatch):
    token = reminders.link_token("secret", "projekt-a")
    assert reminders.check_token("secret", token, "projekt-a")
    assert not reminders.check_token("other-secret", token, "projekt-a")
    import itsdangerous.timed as timed

    real = timed.time.time
    monkeypatch.setattr(timed.time, "time", lambda: real() + 91 * 86400)
    assert not reminders.check_token("secret", token, "projekt-a")


def test_only_contacts_who_agreed_are_asked(app, smtp, cli):
    client = app.test_client()
    project_id = _published(client, ask_consent=None)
    _age(app, project_id, 400)
    assert _get(app, project_id).ask_consent is False
    listed = cli("reminders", "--dry-run")
    assert listed.exit_code == 0 and project_id not in listed.output
    assert send_due(app) == []
    assert not [m for m in smtp.mailbox.to(SUBMITTER) if "Läuft" in m.subject]


def test_the_cli_lists_then_sends(app, smtp, cli):
    client = app.test_client()
    project_id = _published(client)
    _age(app, project_id, 400)
    listed = cli("reminders", "--dry-run")
    assert project_id in listed.output and "1 reminder(s) due" in listed.output
    assert not [m for m in smtp.mailbox.to(SUBMITTER) if "Läuft" in m.subject]
    sent = cli("reminders")
    assert "1 reminder(s) sent" in sent.output
    assert len([m for m in smtp.mailbox.to(SUBMITTER) if "Läuft" in m.subject]) == 1


def test_an_imported_contact_is_asked_once(app, smtp):
    store = get_store(app)
    record = clean_record(
        {
            "name": "Lesepaten Lüneburg",
            "fields": "sprache",
            "city": "Lüneburg",
            "lat": 53.2464,
            "lon": 10.4115,
        },
        "import",
    )
    record["contact_email"] = "paten@example.org"
    store.save_all([record])
    with app.app_context():  # as in `atlas import`: no request
        assert ask_consent(store, record["id"]) is True
        assert ask_consent(store, record["id"]) is False  # once
    mails = smtp.mailbox.to("paten@example.org")
    assert len(mails) == 1 and "tun Sie einfach nichts" in mails[0].body
    path = _path(LINK.search(mails[0].body).group(0))
    client = app.test_client()
    assert _get(app, record["id"]).ask_consent is None  # opening it is no answer
    client.get(path)
    assert _get(app, record["id"]).ask_consent is None
    _answer(client, path, "laeuft")
    assert _get(app, record["id"]).ask_consent is True


# --- unanswered → marked --------------------------------------------------------------------------


def test_unanswered_entries_are_marked_and_listed_for_their_office(app, smtp):
    client = app.test_client()
    project_id = _published(client)
    _age(app, project_id, 500)
    _reminder_link(smtp, app)
    page = client.get(f"/projekte/{project_id}").get_data(as_text=True)
    assert "Nicht bestätigt seit" not in page  # the reminder is fresh
    _set(app, project_id, reminded_at=utcnow() - timedelta(days=61))
    page = client.get(f"/projekte/{project_id}").get_data(as_text=True)
    assert "Nicht bestätigt seit" in page and "freshness-unconfirmed" in page
    props = client.get(f"/api/projects/{project_id}").get_json()["properties"]
    assert props["freshness"].startswith("Nicht bestätigt seit")
    rows = client.get("/api/markers").get_json()["rows"]
    assert {row[0]: row[5] for row in rows}[project_id] == 1  # drawn muted on the map

    login(client, "we@arl.example")  # another region's office does not see it
    assert project_id not in client.get("/verwaltung/ueberfaellig").get_data(as_text=True)
    client = app.test_client()
    login(client, "lg@arl.example")
    html = client.get("/verwaltung/ueberfaellig").get_data(as_text=True)
    assert f'id="overdue-{project_id}"' in html
    response = client.post(
        f"/verwaltung/ueberfaellig/{project_id}",
        data={"csrf_token": csrf_token(html), "antwort": "laeuft"},
    )
    assert response.status_code == 303
    assert f'id="overdue-{project_id}"' not in client.get("/verwaltung/ueberfaellig").text
    assert "Zuletzt bestätigt" in client.get(f"/projekte/{project_id}").text


def test_the_office_can_end_an_entry_but_not_without_csrf(app):
    client = app.test_client()
    project_id = _published(client)
    login(client, "lg@arl.example")
    url = f"/verwaltung/ueberfaellig/{project_id}"
    assert client.post(url, data={"antwort": "beendet"}).status_code == 400
    html = client.get("/verwaltung/ueberfaellig").get_data(as_text=True)
    other = app.test_client()
    login(other, "we@arl.example")
    token = csrf_token(other.get("/verwaltung/ueberfaellig").get_data(as_text=True))
    assert other.post(url, data={"csrf_token": token, "antwort": "beendet"}).status_code == 403
    client.post(url, data={"csrf_token": csrf_token(html), "antwort": "beendet"})
    assert _get(app, project_id).status == "ended"
    assert client.get(f"/api/projects/{project_id}").status_code == 410


@pytest.mark.no_database
def test_the_daily_runner_repeats_and_survives_a_failure():
    calls = []
    done = threading.Event()

    def job():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("mail server away")
        if len(calls) >= 3:
            done.set()

    runner = Periodic(job, interval=0.01, delay=0).start()
    try:
        assert done.wait(5)
    finally:
        runner.stop()
    assert len(calls) >= 3


def test_coverage_counts_confirmed_projects_and_says_so(app):
    client = app.test_client()
    project_id = _published(client)
    region = _get(app, project_id).region

    def counted(query=""):
        body = client.get(f"/api/coverage?region={region}{query}").get_json()
        return body["counted"], sum(d["projects"] for d in body["districts"])

    assert counted() == ("confirmed", 1)
    _age(app, project_id, 400)
    _set(app, project_id, reminded_at=utcnow() - timedelta(days=61))  # unanswered now
    assert counted() == ("confirmed", 0)
    assert counted("&include_unconfirmed=1") == ("all", 1)
    page = client.get(f"/regionen/{region}").get_data(as_text=True)
    assert "Gezählt: bestätigte Projekte" in page
    switch = re.search(r'href="([^"]+)">Auch nicht bestätigte Projekte zählen', page).group(1)
    assert "include_unconfirmed=1" in switch
    page = client.get(switch.replace("&amp;", "&")).get_data(as_text=True)
    assert "Gezählt: alle veröffentlichten Projekte, auch nicht bestätigte." in page
    sorting = re.findall(r'href="([^"]*sort=[^"]*)"', page)
    assert sorting and all("include_unconfirmed=1" in link for link in sorting)  # kept
    # The downloads and the API link count what the page counts.
    table = re.search(r'href="([^"]*kreise\.csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "include_unconfirmed=1" in table
    assert "include_unconfirmed=1" in re.search(r'href="(/api/coverage[^"]*)"', page).group(1)

    def csv_total(url):
        rows = list(
            csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True).lstrip("\ufeff")))
        )
        return sum(int(r["projects"]) for r in rows if r["district_code"].isdigit())

    assert csv_total(table) == 1
    assert csv_total(f"/regionen/{region}/kreise.csv") == 0
    overview = client.get("/regionen?include_unconfirmed=1").get_data(as_text=True)
    assert f'href="/regionen/{region}?include_unconfirmed=1"' in overview


def test_the_consent_box_is_not_ticked_and_the_privacy_notice_names_it(app):
    client = app.test_client()
    html = client.get("/einreichen").get_data(as_text=True)
    box = re.search(r"<input[^>]*name=\"ask_consent\"[^>]*>", html).group(0)
    assert 'type="checkbox"' in box and "checked" not in box
    assert "einmal im Jahr per E-Mail fragen" in html
    privacy = client.get("/datenschutz").get_data(as_text=True)
    assert "fragen wir Sie einmal im Jahr per E-Mail, ob das Projekt noch läuft" in privacy
    assert "Gibt es nicht mehr" in privacy


def test_the_serving_process_starts_the_daily_sender_unless_switched_off(app):
    from atlas.web.confirm import start_daily

    runner = start_daily(app)
    try:
        assert runner.thread.is_alive() and runner.interval == 86400
    finally:
        runner.stop()
    app.config["REMINDERS"] = False
    assert start_daily(app) is None
