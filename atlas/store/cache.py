"""Caches that live beside the database: values keyed by the data version, and the online
geocoder's answers; and the shared throttle of requests to the online geocoder."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from sqlalchemy import select, update

from .models import GeocodeAnswer, Throttle, utcnow


class Store(Protocol):
    """What the caches need of `atlas.store.Store` (which makes them; so no import back)."""

    url: str
    session: Any

    def data_version(self) -> int: ...


class VersionedCache:
    """Values computed from the projects, kept until any project changes.

    Keyed by the store's data version, so every worker process sees a change on its next
    request; least recently used entries go first.
    """

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def holds(self, store: Store, what: tuple) -> bool:
        """Whether the value for `what` at the current data version is kept (no compute)."""
        with self._lock:
            return (store.url, what, store.data_version()) in self._values

    def get(self, store: Store, what: tuple, compute):
        key = (store.url, what, store.data_version())
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        # One thread computes a missing value; the others that ask for it meanwhile wait for it
        # instead of computing it too (after a change, every thread of a busy server would).
        with building:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
                self._building.pop(key, None)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        return value


class GeocodeCache:
    """Database-backed cache with the get/set interface the online geocoder expects."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str) -> dict | None:
        with self.store.session() as s:
            row = s.get(GeocodeAnswer, key)
            return None if row is None else json.loads(row.answer)

    def set(self, key: str, value: dict) -> None:
        """Keep an answer; when another process stored the same key meanwhile, its answer
        stays (INSERT … ON CONFLICT DO NOTHING: no race between instances)."""
        with self.store.session.begin() as s:
            stmt = _insert(s)(GeocodeAnswer).values(
                key=key, answer=json.dumps(value, ensure_ascii=False), created_at=utcnow()
            )
            s.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def _insert(session):
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class SharedThrottle:
    """At most one request per `interval` seconds to an outside service across every process
    on the database, one at a time: a row per service holds the earliest time (epoch seconds)
    the next request may go. A process takes its turn with a conditional UPDATE that only one
    of several at once can win, which also holds the turn for up to `hold` seconds (the
    request's timeout; a process that dies meanwhile only delays the others that long); when
    its request is answered, `done()` sets the next turn `interval` after that. (The machines'
    clocks are assumed to agree, as NTP keeps them, to well under the interval.)"""

    def __init__(self, store: Store, name: str, interval: float, hold: float = 15.0):
        self.store = store
        self.name = name
        self.interval = interval
        self.hold = hold
        self._ready = False

    def wait(self) -> None:
        """Block until this process may send its request; call done() after it."""
        if self.interval <= 0:
            return
        if not self._ready:
            with self.store.session.begin() as s:
                stmt = _insert(s)(Throttle).values(name=self.name, next_at=0.0)
                s.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            self._ready = True
        while True:
            now = time.time()
            with self.store.session.begin() as s:
                won = s.execute(
                    update(Throttle)
                    .where(Throttle.name == self.name, Throttle.next_at <= now)
                    .values(next_at=now + self.interval + self.hold)
                    .returning(Throttle.name)
                ).first()
                next_at = (
                    None
                    if won
                    else s.scalar(select(Throttle.next_at).where(Throttle.name == self.name))
                )
            if won:
                return
            time.sleep(min(max(0.0, next_at - now), 1.0) + random.uniform(0.0, 0.05))

    def done(self) -> None:
        """The request is answered (or failed): the next may go `interval` from now."""
        if self.interval <= 0:
            return
        with self.store.session.begin() as s:
            s.execute(
                update(Throttle)
                .where(Throttle.name == self.name)
                .values(next_at=time.time() + self.interval)
            )
