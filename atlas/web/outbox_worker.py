"""The outbox's background sender: one daemon thread per serving process that, every
OUTBOX_POLL_SECONDS (with some jitter, so instances do not poll in step), sends the mails that
are due (atlas.core.outbox.deliver_due). No cron job needed; with several instances each mail
is claimed and sent by exactly one of them.

Started with the process's first request (so a gunicorn worker starts its own after the fork),
only when SMTP is configured and the app is not under test (TESTING)."""

from __future__ import annotations

import logging
import random
import threading

from flask import Flask

from atlas.core import outbox
from atlas.web.extensions import get_store

_log = logging.getLogger("atlas.outbox")
_START = threading.Lock()


def start(app: Flask) -> threading.Thread | None:
    """The app's sender thread, started once; None where none should run."""
    if app.testing or not app.config.get("SMTP_HOST"):
        return None
    with _START:
        thread = app.extensions.get("atlas.outbox_worker")
        if thread is None or not thread.is_alive():
            thread = threading.Thread(target=_run, args=(app,), name="atlas-outbox", daemon=True)
            app.extensions["atlas.outbox_worker"] = thread
            thread.start()
    return thread


def _run(app: Flask) -> None:
    poll = float(app.config["OUTBOX_POLL_SECONDS"])
    stop = threading.Event()
    while not stop.wait(poll * random.uniform(0.7, 1.3)):
        try:
            with app.app_context():
                while outbox.deliver_due(get_store(app), app.config) > 0:
                    pass  # a full batch went out: look again at once
        except Exception:  # never let the sender die: log and try on the next round
            _log.exception("the outbox sender failed; trying again later")
