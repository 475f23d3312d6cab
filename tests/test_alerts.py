"""E-mail alerts without an account, with real SMTP to the local stand-in: double opt-in, a
digest with a newly approved project (nothing when nothing is new), and the one-click
unsubscribe (RFC 8058) that deletes the address from the database at once."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from atlas.core import alerts
from atlas.store import AlertSubscription, utcnow
from atlas.web.alerts import send_due
from atlas.web.extensions import get_store
from tests.support.smtp_stub import smtp_server
from tests.test_notify import decide, make_app, submitted  # noqa: F401  (make_app: fixture)
from tests.test_submissions import VALID, login

READER = "leserin@example.net"
SIGN_UP = {"email": READER, "frequency": "daily", "region": "lueneburg", "field": "sprache"}


def _path(url: str) -> str:
    return urlsplit(url).path


def _subscriptions(app) -> list[AlertSubscription]:
    with get_store(app).session() as s:
        return list(s.scalars(select(AlertSubscription)))


def test_double_opt_in_digest_and_one_click_unsubscribe(make_app):  # noqa: F811
    with smtp_server() as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port)
        client = app.test_client()
        page = client.get("/projekte?region=lueneburg&field=sprache").get_data(as_text=True)
        assert "Benachrichtigen, wenn hier etwas Neues entsteht" in page
        assert '<input type="hidden" name="region" value="lueneburg">' in page
        assert "Set-Cookie" not in client.get("/projekte").headers

        first = client.post("/benachrichtigen", data=SIGN_UP)
        assert first.status_code == 303
        [confirm_mail] = smtp.mailbox.to(READER)
        confirm_url = re.search(r"http://\S+/benachrichtigen/bestaetigen/\S+", confirm_mail.body)
        assert "Region Lüneburg" in confirm_mail.body and "einmal am Tag" in confirm_mail.body
        # the link opens a page; only its button confirms
        assert client.get(_path(confirm_url.group(0))).status_code == 200
        assert [s.confirmed_at for s in _subscriptions(app)] == [None]
        assert client.post(_path(confirm_url.group(0))).status_code == 200
        assert _subscriptions(app)[0].confirmed_at is not None

        # signing up again reveals nothing: the same answer, one more mail to the address
        again = client.post("/benachrichtigen", data=SIGN_UP)
        assert (again.status_code, again.headers["Location"]) == (303, first.headers["Location"])
        assert len(smtp.mailbox.to(READER)) == 2
        assert (
            client.post("/benachrichtigen", data=dict(SIGN_UP, email="kaputt")).status_code == 400
        )

        # two days later, nothing new: nothing sent
        with get_store(app).session.begin() as s:
            s.execute(update(AlertSubscription).values(last_sent_at=utcnow() - timedelta(days=2)))
        before = len(smtp.received)
        assert send_due(app) == [{"id": 1, "projects": []}]
        assert len(smtp.received) == before

        # a submission in Winsen (Luhe), approved by the Lüneburg office: in the next digest
        submitter = app.test_client()
        _token, project_id = submitted(submitter)
        officer = app.test_client()
        login(officer, "lg@arl.example")
        assert decide(officer, project_id, "freigeben").status_code == 303
        assert send_due(app, dry_run=True)[0]["projects"] == [VALID["name"]]
        assert len(smtp.mailbox.to(READER)) == 2  # a dry run sends nothing
        send_due(app)
        digest = smtp.mailbox.to(READER)[-1]
        assert VALID["name"] in digest.body and f"/projekte/{project_id}" in digest.body
        assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = digest.message["List-Unsubscribe"].strip("<>")
        assert digest.subject == "Neu im Projektatlas: 1 Projekt"
        # not due again before a day has passed, and then with nothing new
        before = len(smtp.received)
        assert send_due(app) == []
        assert send_due(app, now=utcnow() + timedelta(days=1, minutes=1))[0]["projects"] == []
        assert len(smtp.received) == before

        # RFC 8058: a mail program POSTs "List-Unsubscribe=One-Click" to that URL
        key = _path(unsubscribe).rsplit("/", 1)[1]
        answer = client.post(_path(unsubscribe), data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        assert [s.key for s in _subscriptions(app)] != [] and key not in [
            s.key for s in _subscriptions(app)
        ]
        store = get_store(app)
        assert alerts.unsubscribe(store, _subscriptions(app)[0].key)  # the second sign-up
        assert not alerts.unsubscribe(store, key)  # gone already: the same answer
        assert _subscriptions(app) == []
        if not store.is_postgres:
            data = b"".join(
                open(f"{app.instance_path}/atlas.sqlite3{suffix}", "rb").read()
                for suffix in ("", "-wal")
                if __import__("os").path.exists(f"{app.instance_path}/atlas.sqlite3{suffix}")
            )
            assert READER.encode() not in data


def test_one_address_confirming_the_same_search_twice_gets_one_digest(make_app):  # noqa: F811
    store = get_store(make_app())
    first = alerts.subscribe(store, READER, {"region": "lueneburg"}, "weekly", "de")
    other = alerts.subscribe(store, READER, {"region": "weser-ems"}, "weekly", "de")
    second = alerts.subscribe(store, READER, {"region": "lueneburg"}, "daily", "de")
    for key in (first, other, second):
        alerts.confirm(store, key)
    with store.session() as s:
        kept = {(x.filters["region"], x.frequency) for x in s.scalars(select(AlertSubscription))}
    assert kept == {("lueneburg", "daily"), ("weser-ems", "weekly")}


def test_unconfirmed_sign_ups_go_after_seven_days(make_app):  # noqa: F811
    app = make_app()
    store = get_store(app)
    alerts.subscribe(store, READER, {"region": "lueneburg"}, "weekly", "de")
    assert alerts.purge_unconfirmed(store, utcnow() + timedelta(days=6)) == 0
    assert alerts.purge_unconfirmed(store, utcnow() + timedelta(days=7, minutes=1)) == 1
    assert _subscriptions(app) == []


def test_alerts_send_dry_run_from_the_command_line(make_app):  # noqa: F811
    app = make_app()
    store = get_store(app)
    key = alerts.subscribe(store, READER, {"field": "sprache"}, "daily", "de")
    alerts.confirm(store, key, now=utcnow() - timedelta(days=2))
    from atlas import cli as atlas_cli

    result = app.test_cli_runner().invoke(atlas_cli.group(), ["alerts", "send", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 alert(s) due, would send 0 digest(s)." in result.output


def test_the_running_service_sends_due_digests_by_itself(make_app):  # noqa: F811
    """The runner `atlas serve` starts: a confirmed sign-up and a new project, and the digest
    arrives without anyone running `atlas alerts send`."""
    from atlas.core.projects import clean_record
    from atlas.web.alerts import start_runner
    from tests.test_api import PROJECTS

    with smtp_server() as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, ALERTS_INTERVAL=1)
        store = get_store(app)
        key = alerts.subscribe(store, READER, {"field": "sprache"}, "weekly", "de")
        alerts.confirm(store, key, now=utcnow() - timedelta(days=8))
        store.save_all([clean_record(PROJECTS[0], "test 0")])  # Sprachcafé Linden, new now
        runner = start_runner(app)
        try:
            for _ in range(100):
                if smtp.mailbox.to(READER):
                    break
                time.sleep(0.1)
        finally:
            runner.stop()
        [digest] = smtp.mailbox.to(READER)
        assert "Sprachcafé Linden" in digest.body


def test_sign_ups_count_against_the_submission_limit(make_app):  # noqa: F811
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SUBMIT="2 per hour")
    client = app.test_client()
    forged = client.post("/benachrichtigen", data=SIGN_UP, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403  # posted from another site: refused, and not counted
    codes = [client.post("/benachrichtigen", data=SIGN_UP).status_code for _ in range(3)]
    assert codes == [303, 303, 429]


def test_two_instances_sending_at_once_send_one_digest(make_app):  # noqa: F811
    """Two processes on one database both find the sign-up due (the service's runner and
    `atlas alerts send`, or two instances): the database lets one of them send it."""
    from atlas.core.projects import clean_record
    from atlas.web.alerts import _send_digest
    from tests.test_api import PROJECTS

    with smtp_server() as smtp:
        app = make_app(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port)
        store = get_store(app)
        key = alerts.subscribe(store, READER, {"field": "sprache"}, "weekly", "de")
        alerts.confirm(store, key, now=utcnow() - timedelta(days=8))
        store.save_all([clean_record(PROJECTS[0], "test 0")])
        now = utcnow()
        [sub] = alerts.due(store, now)  # both processes read it as due ...
        digest = alerts.new_projects(store, sub, None)
        with app.test_request_context():
            _send_digest(app, store, digest, now)  # ... and both send
            _send_digest(app, store, digest, now)
        assert len(smtp.mailbox.to(READER)) == 1
        assert send_due(app) == []  # and it is no longer due
