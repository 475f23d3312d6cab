"""Notifications by e-mail, kept in the outbox whether or not they could be sent.

With ATLAS_SMTP_HOST set, each message is sent at once and marked sent; without it (or when the
server refuses), it stays in the outbox for an administrator to read. Nothing is dropped.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage

from sqlalchemy import select, update

from atlas.config import Settings
from atlas.store import OutboxMessage, Store, User, utcnow

_log = logging.getLogger("atlas.outbox")


def queue(
    session, recipients: list[str], subject: str, body: str, project_id: str | None = None
) -> list[OutboxMessage]:
    """Add messages to the outbox within the caller's transaction: they are stored exactly when
    what they announce is. `project_id`: the submission they are about, whose withdrawal
    deletes them."""
    messages = [
        OutboxMessage(recipient=r, subject=subject, body=body, project_id=project_id)
        for r in dict.fromkeys(r for r in recipients if r)
    ]
    session.add_all(messages)
    return messages


def deliver(
    store: Store, messages: list[OutboxMessage], config: Mapping, headers: Mapping | None = None
) -> None:
    """Send committed outbox messages by SMTP, outside any transaction, so a slow mail server
    never holds the database's write lock; each outcome is recorded on its message.

    `config` holds the SMTP_* and MAIL_FROM settings (the app's config); `headers` are added
    to each message (the alerts' List-Unsubscribe)."""
    if not config.get("SMTP_HOST"):
        return
    for message in messages:
        try:
            _deliver(config, message.recipient, message.subject, message.body, headers)
            outcome = {"sent_at": utcnow()}
        except (OSError, smtplib.SMTPException) as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
            _log.warning("mail to %s not sent: %s", message.recipient, exc)
        with store.session.begin() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**outcome))


def send(
    store: Store,
    recipients: list[str],
    subject: str,
    body: str,
    config: Mapping,
    project_id: str | None = None,
) -> None:
    with store.session.begin() as s:
        messages = queue(s, recipients, subject, body, project_id)
    deliver(store, messages, config)


def _deliver(
    config: Mapping, recipient: str, subject: str, body: str, headers: Mapping | None = None
) -> None:
    settings = Settings.of(config)
    msg = EmailMessage()
    msg["From"] = settings.MAIL_FROM
    msg["To"] = recipient
    msg["Subject"] = subject
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
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
