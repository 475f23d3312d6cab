"""Caches that live beside the database: values keyed by the data version, and the online
geocoder's answers."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Protocol

from .models import GeocodeAnswer


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
        with self.store.session.begin() as s:
            s.merge(GeocodeAnswer(key=key, answer=json.dumps(value, ensure_ascii=False)))
