"""Mail from the web app: absolute links for messages, and sending with the app's SMTP settings
(the outbox itself is `atlas.core.outbox`)."""

from __future__ import annotations

from flask import current_app, url_for

from atlas.core import outbox
from atlas.core.outbox import enqueue, office_addresses, queue  # noqa: F401  (what pages use)
from atlas.store import OutboxMessage, Store


def link(endpoint: str, **values) -> str:
    """An absolute link for a mail, built on ATLAS_PUBLIC_URL, never on the request's Host
    header (which a client chooses, and could point officers to a phishing site)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return base + url_for(endpoint, **values)


def deliver(store: Store, messages: list[OutboxMessage]) -> None:
    outbox.deliver(store, messages, current_app.config)


def deliver_again(store: Store, message_id: int) -> None:
    """Send one outbox mail now (after `outbox.resend` made it due)."""
    with store.session() as s:
        message = s.get(OutboxMessage, message_id)
    if message is not None:
        deliver(store, [message])


def send(
    store: Store,
    recipients: list[str],
    subject: str,
    body: str,
    project_id: str | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Queue and send; `project_id` links the mails to the submission they are about. A mail
    that fails is retried by the outbox worker (atlas.web.outbox_worker)."""
    outbox.send(
        store, recipients, subject, body, current_app.config, project_id, kind=kind, headers=headers
    )
