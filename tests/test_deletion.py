"""Deletion that deletes: a withdrawal removes every piece of the submitter's personal data (the
record, its mails in the outbox, the texts in its audit entries), and on SQLite nothing of it is
left in the database file's bytes; `atlas purge` applies the retention period; `atlas erase`
deletes on request; `/datenschutz` says so.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from atlas.core.accounts import add_user
from atlas.store import AuditEntry, OutboxMessage, Project, utcnow
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token

PASSWORD = "ein-sicheres-passwort"
EMAIL = "erika.unverwechselbar@example.org"
CONTACT = "Erika Quaxenbrink"
PHONE = "0511 98765432"
NEW_PHONE = "0176 55512345"
SUBMISSION = {
    "step": "confirm",
    "name": "Nähcafé Zwirbelwind",
    "description": f"Wir nähen dienstags gemeinsam. Anmeldung bei Erika unter {PHONE}.",
    "fields": "sprache",
    "postcode": "21423",
    "city": "Winsen (Luhe)",
    "contact_name": CONTACT,
    "contact_email": EMAIL,
    "consent": "y",
}


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})
    store = get_store(app)
    store.create_schema()
    add_user(store, "lg@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "admin@land.example", PASSWORD, None, True)
    return app


def csrf(client, url: str) -> str:
    return csrf_token(client.get(url).get_data(as_text=True))


def submit(client, **changes) -> str:
    """A confirmed submission; returns its private link."""
    data = {**SUBMISSION, **changes, "csrf_token": csrf(client, "/einreichen")}
    response = client.post("/einreichen", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].split("?")[0]


def login(client, email: str) -> None:
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf(client, "/verwaltung/login")}
    assert client.post("/verwaltung/login", data=data).status_code == 303


def traces(app) -> dict:
    """Everything the database holds about submissions, as text."""
    with get_store(app).session() as s:
        return {
            "projects": [
                (p.id, p.name, p.description, p.contact_name, p.contact_email)
                for p in s.scalars(select(Project).where(Project.source.is_not(None)))
            ],
            "outbox": [(m.recipient, m.subject, m.body) for m in s.scalars(select(OutboxMessage))],
            "audit": [
                (e.actor, e.action, e.project_id, e.region, e.changes)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ],
        }


def test_a_withdrawal_leaves_nothing_of_the_submitter_in_the_database(app, instance):
    client = app.test_client()
    link = submit(client)
    token = link.rsplit("/", 1)[1]
    [project_id] = [p[0] for p in traces(app)["projects"]]
    # The submitter edits (the audit keeps old and new description), an administrator moves it
    # (a mail to the other office), and an old mail without a project link waits in the outbox.
    edit = {**SUBMISSION, "description": SUBMISSION["description"] + f" Oder {NEW_PHONE}."}
    assert client.post(link, data={**edit, "csrf_token": csrf(client, link)}).status_code == 303
    admin = app.test_client()
    login(admin, "admin@land.example")
    url = f"/verwaltung/einreichungen/{project_id}"
    moved = admin.post(
        url + "/verschieben",
        data={"csrf_token": csrf(admin, url), "version": 2, "region": "weser-ems"},
    )
    assert moved.status_code == 303
    store = get_store(app)
    with store.session.begin() as s:
        s.add(OutboxMessage(recipient=EMAIL, subject="Alt", body=f"http://x/einreichung/{token}"))
    before = traces(app)
    assert PHONE in str(before) and NEW_PHONE in str(before) and len(before["outbox"]) >= 3

    withdrawn = client.post(
        link + "/zurueckziehen", data={"csrf_token": csrf(client, link), "bestaetigt": "ja"}
    )
    assert withdrawn.status_code == 200

    after = traces(app)
    assert after["projects"] == [] and after["outbox"] == []
    assert [(e[0], e[1]) for e in after["audit"]] == [
        ("Einreichung", "submitted"),
        ("Einreichung", "edited"),
        ("admin@land.example", "moved"),
        ("Einreichung", "withdrawn"),
    ]
    pseudonyms = {e[2] for e in after["audit"]}
    assert len(pseudonyms) == 1 and pseudonyms.pop().startswith("geloescht-")
    assert all(e[4] == {} for e in after["audit"])
    for secret in (EMAIL, CONTACT, PHONE, NEW_PHONE, token, project_id, "Zwirbelwind"):
        assert secret not in str(after), secret

    if store.engine.dialect.name == "sqlite":
        database = Path(instance) / "atlas.sqlite3"
        wal = database.with_name(database.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
        raw = database.read_bytes()
        for secret in (EMAIL, CONTACT, PHONE, NEW_PHONE, "98765432", "55512345", token):
            assert secret.encode() not in raw, f"{secret!r} is still in the database file"
        assert b"Zwirbelwind" not in raw and project_id.encode() not in raw
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1


def test_purge_applies_the_retention_period(app, cli):
    client = app.test_client()
    old_link, new_link = submit(client), submit(client, name="Sprachtreff Zwirbelwind")
    store = get_store(app)
    long_ago = utcnow() - timedelta(days=91)
    with store.session.begin() as s:
        s.execute(
            update(Project)
            .where(Project.source.is_not(None))
            .values(status="rejected", decided_at=utcnow())
        )
        s.execute(
            update(Project).where(Project.name == SUBMISSION["name"]).values(decided_at=long_ago)
        )
        s.add(OutboxMessage(recipient="x@example.org", subject="alt", body="a", sent_at=long_ago))
        s.add(OutboxMessage(recipient="y@example.org", subject="neu", body="b", sent_at=utcnow()))
        s.add(OutboxMessage(recipient="z@example.org", subject="wartet", body="c"))
    result = cli("purge")
    assert result.exit_code == 0, result.output
    assert "older than 90 days" in result.output
    with store.session() as s:
        projects = {p.name: p for p in s.scalars(select(Project))}
        subjects = {m.subject for m in s.scalars(select(OutboxMessage))}
    old, new = projects[SUBMISSION["name"]], projects["Sprachtreff Zwirbelwind"]
    assert (old.contact_name, old.contact_email) == (None, None)
    assert old.description == SUBMISSION["description"]  # the decision and the text stay
    assert new.contact_email == EMAIL
    assert "alt" not in subjects and {"neu", "wartet"} <= subjects
    assert "Ihre Einreichung: Sprachtreff Zwirbelwind" in subjects
    assert "Ihre Einreichung: Nähcafé Zwirbelwind" not in subjects  # the rejected one's mails
    assert client.get(old_link).status_code == 200  # the decision is still visible
    assert client.get(new_link).status_code == 200
    assert cli("purge", "--days", "0").exit_code != 0


def test_the_retention_period_is_a_setting(instance, monkeypatch):
    monkeypatch.setenv("ATLAS_RETENTION_DAYS", "30")
    app = create_app({"TESTING": True})
    assert app.config["RETENTION_DAYS"] == 30
    page = app.test_client().get("/datenschutz").get_data(as_text=True)
    assert "30 Tage nach der Entscheidung" in page


def test_erase_deletes_a_published_project_with_its_personal_data(app, cli):
    client = app.test_client()
    submit(client)
    [project_id] = [p[0] for p in traces(app)["projects"]]
    officer = app.test_client()
    login(officer, "lg@arl.example")
    url = f"/verwaltung/einreichungen/{project_id}"
    approved = officer.post(
        url + "/freigeben", data={"csrf_token": csrf(officer, url), "version": 1}
    )
    assert approved.status_code == 303
    assert client.get(f"/projekte/{project_id}").status_code == 200
    result = cli("erase", project_id)
    assert result.exit_code == 0, result.output
    after = traces(app)
    assert after["projects"] == [] and after["outbox"] == []
    assert [(e[0], e[1]) for e in after["audit"]] == [
        ("Einreichung", "submitted"),
        ("lg@arl.example", "approved"),
        ("atlas erase", "erased"),
    ]
    assert EMAIL not in str(after) and project_id not in str(after)
    assert client.get(f"/projekte/{project_id}").status_code == 404
    assert client.get("/api/projects?q=zwirbelwind").get_json()["total"] == 0
    assert cli("erase", project_id).exit_code != 0


def test_the_privacy_page_says_what_is_stored_and_is_linked(app):
    client = app.test_client()
    page = client.get("/datenschutz").get_data(as_text=True)
    for words in (
        "Was wir speichern",
        "Wozu",
        "Wie lange",
        "Wie Sie Ihre Daten löschen lassen",
        "90 Tage nach der Entscheidung",
        "mit Nullen überschrieben",
        "8 Stunden",
    ):
        assert words in page, words
    assert 'href="/datenschutz"' in client.get("/").get_data(as_text=True)
    assert 'href="/datenschutz"' in client.get("/einreichen").get_data(as_text=True)
