# ruff: noqa: F811  (make_app is test_notify's fixture, imported and asked for by name)
"""Several instances, part two (issue 20): a double click stores one submission, on every
instance and back end; the outbox retries failed mails from the running service and sends
each exactly once; an officer sees what happened and can send a mail again.

Real parts: the test database, `atlas serve` processes on 127.0.0.1, the SMTP stand-in
(tests/support/smtp_stub) that is down first and comes back on the same port."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text, update

from atlas.core import outbox
from atlas.store import OutboxMessage, Project, utcnow
from atlas.web.extensions import get_store
from tests.support.live_server import atlas_env, database_url, served, submit
from tests.support.smtp_stub import closed_port, smtp_server
from tests.test_notify import OFFICE, SUBMITTER, make_app, outbox_rows, submitted  # noqa: F401
from tests.test_submissions import login
from tests.test_submissions import submit as submit_form

pytestmark = pytest.mark.database


def wait_for(condition, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {condition.__doc__ or condition}")
        time.sleep(every)


# --- a double click ---------------------------------------------------------------------------


def test_the_same_submission_twice_is_stored_once_and_the_second_sender_told(make_app):
    app = make_app()
    first = submit_form(app.test_client())
    assert first.status_code == 303
    # Retyped (the likely duplicate it is of itself confirmed, as a second tab would have it).
    again = submit_form(app.test_client(), name="  nähcafé   MITEINANDER ", confirm_duplicate="y")
    assert again.status_code == 409
    assert "Diese Einreichung ist gerade eben schon bei uns eingegangen" in again.get_data(
        as_text=True
    )
    other = submit_form(
        app.test_client(), contact_email="jemand@example.org", confirm_duplicate="y"
    )
    assert other.status_code == 303  # another sender with the same project is not a duplicate
    with get_store(app).session() as s:
        assert s.scalar(select(func.count()).select_from(Project)) == 2


def test_the_window_ends(make_app):
    app = make_app()
    assert submit_form(app.test_client()).status_code == 303
    with get_store(app).session.begin() as s:  # as if the first came an hour ago
        s.execute(text("UPDATE submission_fingerprints SET created_at = :t"),
                  {"t": utcnow() - timedelta(hours=1)})  # fmt: skip
    assert submit_form(app.test_client(), confirm_duplicate="y").status_code == 303


def test_identical_submissions_at_the_same_moment_on_two_instances_are_stored_once(instance):
    env = atlas_env(instance, ATLAS_RATELIMIT_ENABLED="0")
    with (
        served(env, threads=8, probe="/healthz") as (_a, first),
        served(env, threads=8, probe="/healthz") as (_b, second),
    ):
        for round_ in range(3):
            name = f"Doppelklick-Projekt {round_}"
            answers: list[int] = []
            go = threading.Barrier(10)

            def send(base, name=name, answers=answers, go=go):
                go.wait()
                answers.append(submit(base, name, "doppelt@example.org")[0])

            threads = [threading.Thread(target=send, args=(base,)) for base in [first, second] * 5]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(answers) == [303] + [409] * 9, answers
    engine = create_engine(database_url(env))
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM projects WHERE name LIKE 'Doppelklick%'"))
        assert sorted(r[0] for r in names) == [f"Doppelklick-Projekt {i}" for i in range(3)]
    engine.dispose()


def test_a_withdrawal_forgets_the_fingerprint(make_app):
    app = make_app()
    token, _ = submitted(app.test_client())
    client = app.test_client()
    page = client.get(f"/einreichung/{token}/zurueckziehen").get_data(as_text=True)
    from tests.support.forms import csrf_token

    gone = client.post(
        f"/einreichung/{token}/zurueckziehen",
        data={"csrf_token": csrf_token(page), "bestaetigt": "ja"},
    )
    assert gone.status_code in (200, 303)
    with get_store(app).session() as s:
        assert s.scalar(text("SELECT count(*) FROM submission_fingerprints")) == 0


# --- mail that arrives, once -------------------------------------------------------------------


def test_backoff_starts_within_a_minute_and_grows_for_at_least_a_day():
    pauses = [outbox.backoff(n, 30).total_seconds() for n in range(1, 30)]
    assert pauses[0] <= 60
    assert all(a <= b for a, b in zip(pauses, pauses[1:]))
    assert sum(pauses) >= 24 * 3600


def test_failed_mails_go_out_when_the_server_comes_back_and_the_page_says_so(make_app):
    port = closed_port()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, OUTBOX_FIRST_RETRY=0.2)
    token, _ = submitted(app.test_client())
    rows = outbox_rows(app)
    assert len(rows) == 3 and all(r.sent_at is None and r.next_attempt_at for r in rows)
    store = get_store(app)
    time.sleep(0.3)
    assert outbox.deliver_due(store, app.config) == 0  # still down: a second failed try
    assert {r.attempts for r in outbox_rows(app)} == {2}
    with smtp_server(port=port) as smtp:
        time.sleep(1.0)  # the second pause (4 × 0.2 s)
        assert outbox.deliver_due(store, app.config) == 3
        assert outbox.deliver_due(store, app.config) == 0  # nothing twice
        assert sorted(r for m in smtp.received for r in m.recipients) == sorted(
            OFFICE | {SUBMITTER}
        )
    [mine] = [m for m in smtp.received if SUBMITTER in m.recipients]
    assert f"/einreichung/{token}" in mine.body
    admin = app.test_client()
    login(admin, "admin@land.example")
    page = admin.get("/verwaltung/postausgang").get_data(as_text=True)
    assert page.count("zugestellt am") == 3


def test_a_mail_is_given_up_after_the_day_and_an_officer_can_send_it_again(make_app):
    port = closed_port()
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, OUTBOX_GIVE_UP_HOURS=0.0001)
    submitted(app.test_client())  # the first try fails, and the (short) day is over
    rows = outbox_rows(app)
    assert all(r.gave_up_at is not None and r.next_attempt_at is None for r in rows)
    admin = app.test_client()
    login(admin, "admin@land.example")
    page = admin.get("/verwaltung/postausgang").get_data(as_text=True)
    assert page.count("aufgegeben nach 1 Versuch am") == 3
    mine = next(r for r in rows if r.recipient == SUBMITTER)
    from tests.support.forms import csrf_token

    with smtp_server(port=port) as smtp:
        answer = admin.post(
            f"/verwaltung/postausgang/{mine.id}/erneut", data={"csrf_token": csrf_token(page)}
        )
        assert answer.status_code == 303
        assert [m.recipients for m in smtp.received] == [[SUBMITTER]]
    page = admin.get("/verwaltung/postausgang").get_data(as_text=True)
    assert "erneut zum Versand vorgemerkt" in page
    assert page.count("zugestellt am") == 1 and page.count("aufgegeben nach") == 2


def test_general_mails_keep_their_kind_and_headers(make_app):
    app = make_app()
    store = get_store(app)
    with smtp_server() as smtp, store.session.begin() as s:
        messages = outbox.enqueue(
            s, "reminder", "someone@example.org", "Erinnerung", "Text",
            headers={"List-Unsubscribe": "<https://example.org/abmelden>"},
        )  # fmt: skip
    with smtp_server() as smtp:
        config = {**app.config, "SMTP_HOST": smtp.host, "SMTP_PORT": smtp.port}
        outbox.deliver(store, messages, config)
        [got] = smtp.received
    assert got.message["List-Unsubscribe"] == "<https://example.org/abmelden>"
    assert outbox_rows(app)[0].kind == "reminder"


def test_two_instances_send_each_failed_mail_once_and_take_over_a_dead_claim(instance):
    port = closed_port()
    env = atlas_env(
        instance,
        ATLAS_RATELIMIT_ENABLED="0",
        ATLAS_SMTP_HOST="127.0.0.1",
        ATLAS_SMTP_PORT=str(port),
        ATLAS_OUTBOX_FIRST_RETRY="0.3",
        ATLAS_OUTBOX_POLL_SECONDS="0.2",
        ATLAS_OUTBOX_CLAIM_SECONDS="2",
    )
    engine = create_engine(database_url(env))
    with (
        served(env, threads=4, probe="/healthz") as (_a, first),
        served(env, threads=4, probe="/healthz") as (_b, second),
    ):
        for i, base in enumerate([first, second] * 3):
            assert submit(base, f"Postprojekt {i}", f"post{i}@example.org")[0] == 303
        with engine.begin() as conn:  # a process killed while sending left this claim
            conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.recipient == "post0@example.org")
                .values(claim_token="dead", claimed_until=utcnow() + timedelta(seconds=2))
            )
        with smtp_server(port=port) as smtp:
            wait_for(lambda: len(smtp.received) >= 6, timeout=60)
            time.sleep(2.5)  # time enough for a second, wrong delivery
            received = sorted(r for m in smtp.received for r in m.recipients)
    assert received == sorted(f"post{i}@example.org" for i in range(6))
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.sent_at, OutboxMessage.claim_token)).all()
    engine.dispose()
    assert all(sent is not None and token is None for sent, token in rows)
