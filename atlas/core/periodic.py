"""A job run every so often in a daemon thread of the serving process (reminders, alert
digests): no cron job needed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_log = logging.getLogger("atlas.periodic")


class Periodic:
    """Runs `job()` every `interval` seconds in a daemon thread, the first time after `delay`;
    an exception is logged and the next run comes as planned. `stop()` ends it."""

    def __init__(self, job: Callable[[], object], interval: float = 86400, delay: float = 60):
        self.job, self.interval, self.delay = job, interval, delay
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="atlas-periodic", daemon=True)

    def start(self) -> Periodic:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        wait = self.delay
        while not self._stop.wait(wait):
            try:
                self.job()
            except Exception:  # a failed run must not end the thread
                _log.exception("periodic job failed")
            wait = self.interval
