"""The atlas's settings, each defined once: its name, type and default, and whether it is meant
for the people who run the atlas (those make up the README's configuration table, which
tests/test_docs.py holds against this class).

The app factory starts from `defaults()`; `ATLAS_<NAME>` environment variables override them
(Flask's `from_prefixed_env`), and `from_environ()` then gives each such value its declared type,
so `ATLAS_SMTP_STARTTLS=no` is false and `ATLAS_SMTP_PASSWORD=1234` stays text. No Flask here:
the domain layers read the same settings from any mapping with `Settings.of()`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import secrets
import tempfile
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

PREFIX = "ATLAS_"
#: Stands for the instance folder in a default (DATABASE_URL's).
INSTANCE = "<instance>"


def _user(default):
    """A setting for the people who run the atlas: documented in the README's table."""
    return dataclasses.field(default=default, metadata={"user": True})


def _internal(default):
    """A setting the app fixes for itself (or that tests use); an override is possible but not
    documented."""
    return dataclasses.field(default=default, metadata={"user": False})


def _env_only(default):
    """Read from the environment before the app exists; not a Flask config key."""
    return dataclasses.field(default=default, metadata={"user": True, "env_only": True})


@dataclasses.dataclass(frozen=True)
class Settings:
    #: The instance folder: the SQLite file and the generated secret key live there.
    INSTANCE_PATH: str = _env_only("./instance")
    #: Any SQLAlchemy URL.
    DATABASE_URL: str = _user(f"sqlite:///{INSTANCE}/atlas.sqlite3")
    #: Flask's secret key; when unset, one is generated once into the instance folder.
    SECRET_KEY: str | None = _user(None)
    #: The basemap: "none", a URL template, or {"url": …, "attribution": …} (JSON); unset means
    #: OpenStreetMap's tiles (see `web.maps.Tiles.from_config`).
    TILES: str | dict | None = _user(None)
    #: "offline" (the gazetteer only) or "nominatim" (asked for what the gazetteer lacks).
    GEOCODER: str = _user("offline")
    NOMINATIM_URL: str = _user("https://nominatim.openstreetmap.org")
    NOMINATIM_USER_AGENT: str = _user("gemeinsame-sache-atlas/0.1 (Niedersachsen packt an)")
    #: Seconds between two requests to the Nominatim server (its usage policy: at most 1/s).
    NOMINATIM_MIN_DELAY: float = _user(1.0)
    #: Where people reach the atlas; links in mails are built on it.
    PUBLIC_URL: str = _user("http://127.0.0.1:8000")
    #: Without a host, notifications wait in the outbox.
    SMTP_HOST: str | None = _user(None)
    SMTP_PORT: int = _user(25)
    SMTP_USER: str | None = _user(None)
    SMTP_PASSWORD: str = _user("")
    SMTP_STARTTLS: bool = _user(False)
    MAIL_FROM: str = _user("gemeinsame-sache@localhost")
    #: Per-client limits on submitting and logging in (off for load tests).
    RATELIMIT_ENABLED: bool = _user(True)
    RATELIMIT_SUBMIT: str = _user("20 per hour")
    RATELIMIT_LOGIN: str = _user("10 per minute")
    #: Heavy requests per client and endpoint: downloads (a region's GeoJSON/CSV is megabytes at
    #: scale), the coverage pages and /api/coverage, the marker feed /api/markers.
    RATELIMIT_DOWNLOAD: str = _user("60 per minute")
    #: Failed logins per e-mail address (whoever tries): an account is locked for the rest of
    #: the window, and told so in German with the time to wait.
    RATELIMIT_LOGIN_ACCOUNT: str = _user("5 per 15 minutes")
    #: Every account must log in with a TOTP code too; one without is sent to enrol first.
    REQUIRE_TOTP: bool = _user(False)
    #: Where the limiter counts; several workers share counters only in a shared store.
    RATELIMIT_STORAGE_URI: str = _user("memory://")
    SESSION_COOKIE_SECURE: bool = _user(False)
    #: Days after which `atlas purge` deletes the contact data of rejected submissions and
    #: sent mails (atlas.core.retention).
    RETENTION_DAYS: int = _user(90)
    # Issue 15 (OGC API – Features):
    #: The licence of the project records, named in the DCAT-AP.de metadata and the downloads'
    #: descriptions; the alliance decides it.
    DATA_LICENSE: str = _user("Datenlizenz Deutschland – Namensnennung – Version 2.0")

    # --- issue 20: several instances ---------------------------------------------------------
    #: Behind reverse proxies: how many of them to trust for X-Forwarded-For/-Proto (werkzeug's
    #: ProxyFix); 0 takes the connection's address and ignores the headers. (The old name
    #: ATLAS_PROXY_FIX is still read.)
    TRUSTED_PROXIES: int = _user(0)
    #: A file holding the secret key (e.g. a systemd credential); used when SECRET_KEY is unset.
    SECRET_KEY_FILE: str | None = _user(None)
    #: Hours after which the outbox stops trying a mail that could not be sent (it stays there,
    #: marked as given up, for an officer to send again).
    OUTBOX_GIVE_UP_HOURS: float = _user(26.0)
    #: Seconds before the first retry of a failed mail; later pauses grow from it (atlas.core.
    #: outbox.backoff).
    OUTBOX_FIRST_RETRY: float = _internal(30.0)
    #: How long a process's claim on a mail it is sending lasts (then another may send it).
    OUTBOX_CLAIM_SECONDS: float = _internal(120.0)
    #: Seconds between two looks at the outbox by each process's background sender.
    OUTBOX_POLL_SECONDS: float = _internal(10.0)

    #: Flask's request size cap: a submission is a few KB of text.
    MAX_CONTENT_LENGTH: int = _internal(256 * 1024)
    SESSION_COOKIE_HTTPONLY: bool = _internal(True)
    SESSION_COOKIE_SAMESITE: str = _internal("Lax")
    #: An officer's login lasts a working day from the login: the server-side session ends then
    #: (atlas.core.accounts), and the cookie is not extended by using it.
    PERMANENT_SESSION_LIFETIME: timedelta = _internal(timedelta(hours=8))
    SESSION_REFRESH_EACH_REQUEST: bool = _internal(False)
    RATELIMIT_HEADERS_ENABLED: bool = _internal(True)
    #: Previews store nothing and do not count against RATELIMIT_SUBMIT; this generous limit
    #: only keeps a script from keeping the geocoder busy.
    RATELIMIT_PREVIEW: str = _internal("300 per hour")
    #: Answer with the worker's process id (tests of multi-process serving).
    EXPOSE_WORKER: bool = _internal(False)
    # --- issue 18: the offices' lists ---
    #: Largest list an officer may upload at /verwaltung/import (bytes).
    IMPORT_MAX_BYTES: int = _user(20 * 1024 * 1024)

    # Issue 21: entries stay true.
    #: Days after its last confirmation that a project's contact is asked whether it still runs
    #: (only contacts who agreed to be asked).
    CONFIRM_AFTER_DAYS: int = _user(365)
    #: Days after a reminder without an answer until the entry shows "Nicht bestätigt seit …".
    CONFIRM_UNANSWERED_DAYS: int = _user(60)
    #: `atlas serve` sends due reminders by itself once a day (off: only `atlas reminders`).
    REMINDERS: bool = _user(True)
    # Issue 22: reaching people where they are.
    #: Sites that may frame the embeds /embed/karte and /embed/liste (origins separated by
    #: spaces or commas, e.g. "https://www.celle.de"); empty: any site.
    EMBED_ORIGINS: str = _user("")
    #: Seconds between two rounds of the alert digests that `atlas serve` sends by itself
    #: (each sign-up gets one a day or a week, only with something new); 0: only
    #: `atlas alerts send`.
    ALERTS_INTERVAL: int = _user(3600)

    @classmethod
    def of(cls, config: Mapping) -> Settings:
        """The settings in a mapping such as the app's config; missing ones take their default."""
        return cls(**{f.name: config[f.name] for f in dataclasses.fields(cls) if f.name in config})


def settings() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Settings))


def user_settings() -> list[str]:
    """The names meant for the people who run the atlas (`ATLAS_<NAME>`)."""
    return [f.name for f in settings() if f.metadata["user"]]


def instance_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The instance folder: ATLAS_INSTANCE_PATH, relative to the working directory if relative."""
    return Path(environ.get(PREFIX + "INSTANCE_PATH") or Settings.INSTANCE_PATH).absolute()


def defaults(instance: Path) -> dict[str, object]:
    """The Flask config defaults. A setting whose default is None is left out (Flask's own
    default, or unset), so that `config.get(name)` still answers None for it."""
    values = {}
    for f in settings():
        if f.metadata.get("env_only") or f.default is None:
            continue
        value = f.default
        if isinstance(value, str) and INSTANCE in value:
            value = value.replace(INSTANCE, str(instance))
        values[f.name] = value
    return values


def from_environ(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """The declared settings given as `ATLAS_<NAME>` in the environment, each converted to its
    type from the raw text (Flask's JSON reading would make `ATLAS_SMTP_PASSWORD=1234` a number
    and leave `ATLAS_SMTP_STARTTLS=no` a true string). TILES, which may be JSON, is left as Flask
    reads it, with its `ATLAS_TILES__url` style of nested keys."""
    return {
        f.name: parse(f.name, environ[PREFIX + f.name])
        for f in settings()
        if PREFIX + f.name in environ
        and not f.metadata.get("env_only")
        and dict not in _kinds(f.name)
    }


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse(name: str, text: str) -> object:
    """The value of setting `name` written as `text` (an environment variable's value)."""
    kinds = _kinds(name)
    try:
        if kinds == {bool}:
            word = text.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError("not a yes/no value (1/0, true/false, yes/no, on/off)")
            return word in _TRUE
        if kinds == {int}:
            return int(text)
        if kinds == {float}:
            return float(text)
        if kinds == {timedelta}:
            return timedelta(seconds=float(text))
        if dict in kinds:
            try:
                value = json.loads(text)
            except ValueError:
                return text
            return value if isinstance(value, (dict, str)) else text
        return text
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name}={text!r}: {exc}") from None


@functools.cache
def _kinds(name: str) -> frozenset[type]:
    """The types a setting's value may have, None left out."""
    hint = typing.get_type_hints(Settings)[name]
    return frozenset(t for t in (typing.get_args(hint) or (hint,)) if t is not type(None))


class ConfigurationProblem(Exception):
    """A setting that keeps the atlas from starting; its text is the one line the operator
    reads (the CLI prints it without a traceback)."""


def instance_secret(instance: Path) -> str:
    """A secret generated once per instance, so sessions survive restarts without configuration;
    readable by its owner only from the moment it exists.

    Processes starting at once share one key: each writes its candidate to a private temporary
    file and links it to the final name, which succeeds for exactly one of them (link(2) never
    replaces a file); the others read the winner's, which is complete from the moment it exists.
    """
    path = instance / "secret_key"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp makes it 0600
                out.write(secrets.token_urlsafe(48))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def secret_from_file(name: str) -> str:
    """The secret key in the file SECRET_KEY_FILE names."""
    try:
        key = Path(name).read_text().strip()
    except OSError as exc:
        raise ConfigurationProblem(
            f"ATLAS_SECRET_KEY_FILE={name}: cannot read it ({exc.strerror})"
        ) from None
    if not key:
        raise ConfigurationProblem(f"ATLAS_SECRET_KEY_FILE={name}: the file is empty")
    return key
