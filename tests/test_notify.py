"""Notifications: real SMTP to a local stand-in, and the outbox that keeps every message.

The stand-in (tests/support/smtp_stub.py) is an aiosmtpd server on 127.0.0.1; the atlas reaches it with
smtplib as it would a real mail server, so the test sees what an office or submitter receives.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from atlas.core.accounts import add_user
from atlas.core.submissions import hash_token
from atlas.store import OutboxMessage, Project
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token
from tests.support.smtp_stub import closed_port, smtp_server
from tests.test_submissions import PASSWORD, VALID, login, submit

OFFICE = {"lg@arl.example", "lg2@arl.example"}  # the Lüneburg officers
SUBMITTER = VALID["contact_email"]
MAIL_FROM = "gemeinsame-sache@atlas.example"


@pytest.fixture
def make_app(instance, monkeypatch):
    """An app with officers in two regions and an administrator, SMTP as the test says."""
    for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        monkeypatch.delenv(f"ATLAS_{key}", raising=False)

    def make(**config):
        app = create_app(
            {"TESTING": True, "RATELIMIT_ENABLED": False, "MAIL_FROM": MAIL_FROM, **config}
        )
        store = get_store(app)
        store.create_schema()
        for email in sorted(OFFICE):
            add_user(store, email, PASSWORD, "lueneburg", False)
        add_user(store, "we@arl.example", PASSWORD, "weser-ems", False)
        add_user(store, "admin@land.example", PASSWORD, None, True)
        return app

    return make


def outbox_rows(app) -> list[OutboxMessage]:
    with get_store(app).session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def submitted(client, **changes) -> tuple[str, str]:
    """Submit and confirm; the private token and the project id."""
    response = submit(client, **changes)
    assert response.status_code == 303, response.get_data(as_text=True)
    token = re.match(r"^/einreichung/([\w-]+)\?neu=1$", response.headers["Location"]).group(1)
    with get_store(client.application).session() as s:
        project_id = s.scalar(select(Project.id).where(Project.token_hash == hash_token(token)))
    return token, project_id


def decide(client, project_id: str, action: str, reason: str | None = None):
    url = f"/verwaltung/einreichungen/{project_id}"
    html = client.get(url).get_data(as_text=True)
    token = csrf_token(html)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    data = {"csrf_token": token, "version": version}
    if reason:
        data["reason"] = reason
    return client.post(f"{url}/{action}", data=data)


def test_a_submission_mails_the_office_and_the_submitter(make_app):
    with smtp_server() as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port)
        client = app.test_client()
        token, project_id = submitted(client)
        received = list(smtp.received)

    # One mail per recipient: each Lüneburg officer and the submitter, nobody else.
    assert sorted(r for m in received for r in m.recipients) == sorted(OFFICE | {SUBMITTER})
    assert all(len(m.recipients) == 1 and m.sender == MAIL_FROM for m in received)
    office = [m for m in received if m.recipients[0] in OFFICE]
    [mine] = [m for m in received if m.recipients == [SUBMITTER]]
    for m in office:
        assert m.subject == f"Neue Einreichung: {VALID['name']}"
        assert m.message["To"] == m.recipients[0]
        assert f"/verwaltung/einreichungen/{project_id}" in m.body
        assert "Amt für regionale Landesentwicklung Lüneburg" in m.body
        assert token not in m.body  # the private link is the submitter's alone
    assert mine.subject == f"Ihre Einreichung: {VALID['name']}"
    assert f"http://127.0.0.1:8000/einreichung/{token}\n" in mine.body
    assert "/verwaltung/" not in mine.body
    # The private link in the mail opens the submitter's status page.
    assert "wird geprüft" in client.get(f"/einreichung/{token}").get_data(as_text=True)

    rows = outbox_rows(app)
    assert sorted(r.recipient for r in rows) == sorted(OFFICE | {SUBMITTER})
    assert all(r.sent_at is not None and r.error is None for r in rows)


def test_a_decision_mails_the_submitter_only(make_app):
    with smtp_server() as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port))  # as from the env
        client = app.test_client()
        _, approved = submitted(client)
        _, rejected = submitted(
            client, name="Fahrradwerkstatt für alle", contact_email="bernd@example.org"
        )
        before = len(smtp.received)
        login(client, "lg@arl.example")
        assert decide(client, approved, "freigeben").status_code == 303
        reason = "Das Projekt ist bereits unter anderem Namen im Atlas."
        assert decide(client, rejected, "ablehnen", reason).status_code == 303
        decisions = smtp.received[before:]

    assert [m.recipients for m in decisions] == [[SUBMITTER], ["bernd@example.org"]]
    yes, no = decisions
    assert yes.subject == f"Entscheidung zu Ihrer Einreichung: {VALID['name']}"
    assert "wurde vom Amt für regionale Landesentwicklung Lüneburg freigegeben" in yes.body
    assert f"http://127.0.0.1:8000/projekte/{approved}" in yes.body
    assert no.subject == "Entscheidung zu Ihrer Einreichung: Fahrradwerkstatt für alle"
    assert "nicht freigegeben" in no.body and f"Begründung: {reason}" in no.body
    assert all(r.sent_at is not None for r in outbox_rows(app))


def test_with_the_mail_server_down_the_submission_succeeds_and_the_outbox_keeps_all(make_app):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port())
    client = app.test_client()
    token, project_id = submitted(client)
    with get_store(app).session() as s:
        assert s.get(Project, project_id).status == "pending"

    rows = outbox_rows(app)
    assert sorted(r.recipient for r in rows) == sorted(OFFICE | {SUBMITTER})
    assert all(r.sent_at is None and r.error.startswith("ConnectionRefusedError") for r in rows)
    [mine] = [r for r in rows if r.recipient == SUBMITTER]
    assert f"/einreichung/{token}" in mine.body  # the private link is not lost

    login(client, "admin@land.example")
    page = client.get("/verwaltung/postausgang").get_data(as_text=True)
    assert page.count("nicht zugestellt nach 1 Versuch: ConnectionRefusedError") == 3
    assert page.count("nächster Versuch um") == 3
    assert f"Ihre Einreichung: {VALID['name']}" in page and SUBMITTER in page


def test_a_refused_recipient_is_kept_while_the_others_are_sent(make_app):
    with smtp_server(refuse={SUBMITTER}) as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port)
        token, _ = submitted(app.test_client())
        delivered = sorted(r for m in smtp.received for r in m.recipients)
    assert delivered == sorted(OFFICE)
    rows = {r.recipient: r for r in outbox_rows(app)}
    assert all(rows[o].sent_at is not None for o in OFFICE)
    mine = rows[SUBMITTER]
    assert mine.sent_at is None and mine.error.startswith("SMTPRecipientsRefused")
    assert f"/einreichung/{token}" in mine.body


def test_without_smtp_every_message_waits_in_the_outbox_for_the_administrators(make_app):
    app = make_app()
    client = app.test_client()
    token, project_id = submitted(client)
    login(client, "lg@arl.example")
    assert decide(client, project_id, "freigeben").status_code == 303
    assert client.get("/verwaltung/postausgang").status_code == 403  # officers: no

    rows = outbox_rows(app)
    assert [r.recipient for r in rows] == [*sorted(OFFICE), SUBMITTER, SUBMITTER]
    assert all(r.sent_at is None and r.error is None for r in rows)

    admin = app.test_client()
    login(admin, "admin@land.example")
    page = admin.get("/verwaltung/postausgang").get_data(as_text=True)
    articles = re.findall(r'<article class="mail">(.*?)</article>', page, re.S)
    assert len(articles) == 4
    assert all("nicht versandt (kein SMTP)" in a for a in articles)
    # Newest first: the decision, then the submitter's receipt, then the office's notices.
    subjects = [re.search(r"<h2>(.*?)</h2>", a).group(1) for a in articles]
    assert subjects[0].startswith("Entscheidung zu Ihrer Einreichung")
    assert subjects[1].startswith("Ihre Einreichung")
    assert all(s.startswith("Neue Einreichung") for s in subjects[2:])
    recipients = [re.search(r"An (\S+) ·", a).group(1) for a in articles]
    assert recipients == [SUBMITTER, SUBMITTER, *sorted(OFFICE, reverse=True)]
    assert f"/einreichung/{token}" in articles[1]
