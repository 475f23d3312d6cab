"""Notifications by e-mail, kept in the outbox whether or not they could be sent, and sent once.

Every mail enters the outbox in the transaction of what it announces (`enqueue`), due at once.
With ATLAS_SMTP_HOST set it is sent right after that commit (`deliver`), and a mail that failed
is tried again by the running service (`deliver_due`, from a background thread in each process:
atlas.web.outbox_worker) with growing pauses (`backoff`: the first within a minute) until it
is sent or, after ATLAS_OUTBOX_GIVE_UP_HOURS, given up. Without a host mails wait here for an
administrator. Nothing is dropped.

Exactly one process sends a mail: it first claims it, by an UPDATE that sets a random claim
token and a lease (`claimed_until`) on mails that are due and not claimed (on PostgreSQL the
candidates are picked with `FOR UPDATE SKIP LOCKED`, so instances never wait for each other;
SQLite's single writer makes the UPDATE atomic anyway). A process killed while sending leaves
its claim behind; when the lease runs out, another process claims the mail and sends it.
"""

from __future__ import annotations

import json
import logging
import secrets
import smtplib
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, or_, select, update

from atlas.config import Settings
from atlas.store import OutboxMessage, Store, User, utcnow

_log = logging.getLogger("atlas.outbox")

#: Pauses after the 1st, 2nd, … failed try, as multiples of the first (OUTBOX_FIRST_RETRY
#: seconds, 30 by default: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, then every 4 h).
_BACKOFF = (1, 4, 20, 60, 120, 240, 480)


def backoff(attempts: int, first_seconds: float) -> timedelta:
    """The pause after `attempts` failed tries."""
    return timedelta(seconds=first_seconds * _BACKOFF[min(attempts, len(_BACKOFF)) - 1])


def enqueue(
    session,
    kind: str | None,
    to: list[str] | str,
    subject: str,
    body: str,
    headers: Mapping[str, str] | None = None,
    project_id: str | None = None,
) -> list[OutboxMessage]:
    """Add mails to the outbox within the caller's transaction: they are stored exactly when
    what they announce is, one per distinct recipient, due at once.

    `kind` names what the mail is ("submission", "reminder", "alert", …); `headers` are extra
    mail headers (e.g. List-Unsubscribe); `project_id` is the submission the mails are about,
    whose withdrawal deletes them."""
    recipients = [to] if isinstance(to, str) else to
    now = utcnow()
    messages = [
        OutboxMessage(
            kind=kind,
            recipient=r,
            subject=subject,
            body=body,
            headers=json.dumps(dict(headers), ensure_ascii=False) if headers else None,
            project_id=project_id,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for r in dict.fromkeys(r for r in recipients if r)
    ]
    session.add_all(messages)
    return messages


def queue(
    session, recipients: list[str], subject: str, body: str, project_id: str | None = None
) -> list[OutboxMessage]:
    """`enqueue` without a kind or headers (the older callers' form)."""
    return enqueue(session, None, recipients, subject, body, project_id=project_id)


def _due(now: datetime):
    unclaimed = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    return and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.gave_up_at.is_(None),
        OutboxMessage.next_attempt_at.is_not(None),
        OutboxMessage.next_attempt_at <= now,
        unclaimed,
    )


def claim(
    store: Store, lease_seconds: float, ids: list[int] | None = None, limit: int = 20
) -> list[OutboxMessage]:
    """Claim due mails for this process (of `ids` only, when given): each is claimed by
    exactly one process at a time. Returns the claimed mails."""
    now = utcnow()
    token = secrets.token_hex(16)
    pick = select(OutboxMessage.id).where(_due(now))
    if ids is not None:
        pick = pick.where(OutboxMessage.id.in_(ids))
    pick = pick.order_by(OutboxMessage.next_attempt_at).limit(limit)
    if store.is_postgres:
        pick = pick.with_for_update(skip_locked=True)
    with store.session.begin() as s:
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(pick.scalar_subquery()), _due(now))
            .values(claim_token=token, claimed_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    with store.session() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.claim_token == token)))


def _send_claimed(store: Store, messages: list[OutboxMessage], config: Mapping) -> int:
    """Send claimed mails, outside any transaction (a slow mail server never holds the
    database's write lock); record each outcome, if the claim is still ours. Returns how many
    were sent."""
    settings = Settings.of(config)
    sent = 0
    for message in messages:
        now = utcnow()
        attempts = (message.attempts or 0) + 1
        try:
            _deliver(config, message)
            outcome = {"sent_at": utcnow(), "error": None, "next_attempt_at": None}
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            created = message.created_at
            if created.tzinfo is None:  # SQLite gives naive UTC back
                created = created.replace(tzinfo=now.tzinfo)
            retry_at = now + backoff(attempts, settings.OUTBOX_FIRST_RETRY)
            if retry_at - created > timedelta(hours=settings.OUTBOX_GIVE_UP_HOURS):
                outcome = {"error": error, "next_attempt_at": None, "gave_up_at": now}
                _log.error("mail %s to %s given up after %d tries: %s", message.id,
                           message.recipient, attempts, exc)  # fmt: skip
            else:
                outcome = {"error": error, "next_attempt_at": retry_at}
                _log.warning("mail %s to %s not sent (try %d), next try at %s: %s", message.id,
                             message.recipient, attempts, retry_at.isoformat(), exc)  # fmt: skip
        with store.session.begin() as s:
            s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id, OutboxMessage.claim_token == message.claim_token
                )
                .values(attempts=attempts, claim_token=None, claimed_until=None, **outcome)
            )
    return sent


def deliver(store: Store, messages: list[OutboxMessage], config: Mapping) -> None:
    """Send committed outbox messages now (right after the transaction that queued them), if
    no other process has claimed them; a failure is retried later by `deliver_due`.

    `config` holds the SMTP_*, MAIL_FROM and OUTBOX_* settings (the app's config)."""
    if not config.get("SMTP_HOST") or not messages:
        return
    lease = Settings.of(config).OUTBOX_CLAIM_SECONDS
    claimed = claim(store, lease, ids=[m.id for m in messages], limit=len(messages))
    _send_claimed(store, claimed, config)


def deliver_due(store: Store, config: Mapping, limit: int = 20) -> int:
    """Send the mails that are due (failed ones whose pause is over, claims that ran out);
    returns how many were sent. Called by each process's outbox worker."""
    if not config.get("SMTP_HOST"):
        return 0
    claimed = claim(store, Settings.of(config).OUTBOX_CLAIM_SECONDS, limit=limit)
    return _send_claimed(store, claimed, config)


def resend(store: Store, message_id: int) -> bool:
    """An officer asks for a mail to be sent again: due at once, with a fresh count (also one
    that was sent or given up). False if there is no such mail."""
    with store.session.begin() as s:
        done = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                sent_at=None,
                gave_up_at=None,
                error=None,
                attempts=0,
                next_attempt_at=utcnow(),
                claim_token=None,
                claimed_until=None,
            )
        ).rowcount
    return done == 1


def send(
    store: Store,
    recipients: list[str],
    subject: str,
    body: str,
    config: Mapping,
    project_id: str | None = None,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Queue (in a transaction of its own) and send at once."""
    with store.session.begin() as s:
        messages = enqueue(s, kind, recipients, subject, body, headers, project_id)
    deliver(store, messages, config)


def _deliver(config: Mapping, message: OutboxMessage) -> None:
    settings = Settings.of(config)
    msg = EmailMessage()
    msg["From"] = settings.MAIL_FROM
    msg["To"] = message.recipient
    msg["Subject"] = message.subject
    for name, value in json.loads(message.headers or "{}").items():
        msg[name] = value
    msg.set_content(message.body)
    with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=10) as smtp:
        if settings.SMTP_STARTTLS:
            smtp.starttls()
        if settings.SMTP_USER:
            smtp.login(settings.SMTP_USER, settings.SMTP_PASSWORD)
        smtp.send_message(msg)


def office_addresses(store: Store, region: str) -> list[str]:
    """The officers of a region; administrators when a region has none yet."""
    with store.session() as s:
        officers = list(s.scalars(select(User.email).where(User.region == region)))
        return officers or list(s.scalars(select(User.email).where(User.is_admin.is_(True))))


def outbox(store: Store, limit: int = 200) -> list[OutboxMessage]:
    with store.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))
