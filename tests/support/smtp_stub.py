"""An SMTP server on 127.0.0.1 for tests: aiosmtpd on an ephemeral port, keeping what it gets.

The atlas talks to it with smtplib exactly as to a real mail server, so a test sees the
envelope (who the mail really went to) and the parsed message (subject, body) as delivered.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")


@dataclass
class Mailbox:
    """The handler: accepts every recipient except those in `refuse` (answered with 550)."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[Received]:
        return [m for m in self.received if recipient in m.recipients]


class _EphemeralController(Controller):
    """aiosmtpd's Controller, but bound to a port the system picks (no clashes between runs)."""

    def _create_server(self):
        async def create():
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received


@contextmanager
def smtp_server(refuse: set[str] | frozenset[str] = frozenset(), port: int | None = None):
    """Run an SMTP server on 127.0.0.1 until the block ends; on `port` if given (a mail server
    that was down and comes back where the atlas expects it)."""
    mailbox = Mailbox(refuse=set(refuse))
    if port is None:
        controller = _EphemeralController(mailbox, hostname="127.0.0.1")
    else:
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, mailbox)
    finally:
        controller.stop()


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
