"""SIGKILL in the middle of an import and of a burst of submissions, then restart: the store
opens cleanly, nothing accepted is lost, nothing is half-written, a rerun adds no duplicates.

Runs on SQLite and, with ATLAS_TEST_DATABASE_URL set, on PostgreSQL. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from atlas.geo import geocoding
from tests.support.databases import drop_database
from tests.support.forms import csrf_token
from tests.support.http_client import Browser
from tests.support.live_server import ATLAS, atlas_env, database_url, run_atlas, served, submit

pytestmark = pytest.mark.database  # the `env` fixture's instance

#: Rows of the big import: enough that cleaning and storing take a few seconds.
ROWS = 4000
#: Kill the import once its open transaction has grown the store by this much (of about 9 MB).
KILL_AT_BYTES = 2_000_000
#: The burst: submissions, client threads, and after how many accepted ones the server dies.
BURST, CLIENTS, KILL_AFTER = 200, 50, 60


@pytest.fixture
def env(tmp_path):
    """An instance (SQLite file or fresh PostgreSQL schema), named for pg_stat_activity."""
    env = atlas_env(
        tmp_path / "instance",
        ATLAS_RATELIMIT_ENABLED="0",
        PGAPPNAME=f"atlas-faults-{uuid.uuid4().hex[:12]}",
    )
    assert run_atlas(["init"], env).returncode == 0
    yield env
    drop_database(env.get("ATLAS_DATABASE_URL"))


def _store_check(env: dict) -> dict:
    """Row counts straight from the database, and SQLite's own integrity check."""
    engine = create_engine(database_url(env))
    try:
        with engine.connect() as db:
            facts = {
                "projects": db.execute(text("SELECT count(*) FROM projects")).scalar(),
                "newest": db.execute(text("SELECT max(updated_at) FROM projects")).scalar(),
            }
            if engine.dialect.name == "sqlite":
                facts["integrity"] = db.execute(text("PRAGMA integrity_check")).scalar()
                facts["foreign_keys"] = db.execute(text("PRAGMA foreign_key_check")).all()
            else:
                facts["integrity"], facts["foreign_keys"] = "ok", []
            facts["names"] = Counter(r[0] for r in db.execute(text("SELECT name FROM projects")))
            facts["pending"] = [
                r[0] for r in db.execute(text("SELECT name FROM projects WHERE status = 'pending'"))
            ]
            facts["submitted"] = Counter(
                r[0]
                for r in db.execute(
                    text("SELECT project_id FROM audit_log WHERE action = 'submitted'")
                )
            )
            facts["mails"] = Counter(r[0] for r in db.execute(text("SELECT subject FROM outbox")))
            facts["pending_ids"] = [
                r[0] for r in db.execute(text("SELECT id FROM projects WHERE status = 'pending'"))
            ]
            facts["imports"] = db.execute(text("SELECT count(*) FROM imports")).scalar()
            facts["import_entries"] = db.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'import'")
            ).scalar()
    finally:
        engine.dispose()
    return facts


@contextmanager
def _write_probe(env: dict):
    """A function that answers, while an import runs: is a write transaction open, and how
    many bytes has the store grown by since the probe began (written, committed or not)."""
    url = env.get("ATLAS_DATABASE_URL")
    if not url:
        path = Path(env["ATLAS_INSTANCE_PATH"]) / "atlas.sqlite3"
        wal = path.with_name(path.name + "-wal")

        def size() -> int:
            return sum(p.stat().st_size for p in (path, wal) if p.exists())

        start = size()

        def sqlite_probe() -> tuple[bool, int]:
            db = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
                return False, size() - start
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return True, size() - start
                raise
            finally:
                db.close()

        yield sqlite_probe
        return
    engine = create_engine(url)
    try:
        with engine.connect() as db:

            def state() -> tuple[bool, int]:
                open_, size = db.execute(
                    text(
                        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"
                        " AND backend_xid IS NOT NULL), pg_total_relation_size('projects')"
                    ),
                    {"app": env["PGAPPNAME"]},
                ).one()
                db.rollback()  # a fresh snapshot of pg_stat_activity each time
                return bool(open_), size

            start = state()[1]

            def postgres_probe() -> tuple[bool, int]:
                open_, size = state()
                return open_, size - start

            yield postgres_probe
    finally:
        engine.dispose()


def _export(env: dict) -> list[dict]:
    done = run_atlas(["export", "--status", "all"], env)
    assert done.returncode == 0, done.stderr
    return [f["properties"] for f in json.loads(done.stdout)["features"]]


def _big_csv(path: Path, prefix: str) -> list[str]:
    """Rows without coordinates (geocoded from their postcode), flagged as synthetic."""
    g = geocoding.gazetteer()
    postcodes = [p for p in sorted(g.postcodes) if geocoding.resolve(p)["status"] == "ok"]
    names = [f"{prefix} {i:05d} (synthetisch)" for i in range(ROWS)]
    # long descriptions: storing takes a while, and SQLite spills the open transaction's pages
    # into its WAL before the commit, which recovery must then ignore
    filler = " ".join(["Synthetischer Eintrag aus dem Abbruchtest, kein echtes Projekt."] * 12)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "fields", "postcode", "description", "tags", "synthetic"])
        for i, name in enumerate(names):
            writer.writerow(
                [
                    name,
                    "sprache;arbeit-ausbildung",
                    postcodes[i % len(postcodes)],
                    f"{name}: {filler}",
                    "synthetisch",
                    "true",
                ]
            )
    return names


def _midway(writing: bool, grown: int) -> bool:
    return writing and grown > KILL_AT_BYTES


def _import_killed_while_storing(env: dict, big: Path, log: Path) -> bool:
    """Start `atlas import big`, SIGKILL it as soon as its transaction has begun writing.
    False if it finished first (its window is a fraction of a second on a busy machine)."""
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would block it
        proc = subprocess.Popen(
            [str(ATLAS), "import", str(big)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        # the progress bar's label says cleaning has begun; then wait until storing has begun
        # and written a good part of the rows (into its one transaction), and kill it
        with _write_probe(env) as probe:
            while f"Prüfe {big.name}" not in log.read_text() or not _midway(*probe()):
                if proc.poll() is not None:
                    assert proc.returncode == 0, log.read_text()[:3000]
                    return False
                assert time.monotonic() < deadline, "the import never began writing"
                time.sleep(0.005)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode == 0 or "Imported" in log.read_text():
        return False  # it committed (and perhaps exited) before the kill arrived
    assert proc.returncode == -signal.SIGKILL and "Imported" not in log.read_text()
    return True


def test_import_killed_mid_transaction_leaves_nothing_and_rerun_adds_each_row_once(env, tmp_path):
    for attempt in range(3):  # a finished import stays; the next file is new
        big = tmp_path / f"BIG{attempt}.csv"
        names = set(_big_csv(big, f"Importtest {attempt}"))
        present = _store_check(env)["projects"]
        if _import_killed_while_storing(env, big, tmp_path / f"import{attempt}.log"):
            break
    else:
        pytest.fail("three imports finished before they could be killed")

    facts = _store_check(env)
    assert facts["integrity"] == "ok" and facts["foreign_keys"] == []
    stored = sum(p["name"] in names for p in _export(env))
    assert stored in (0, ROWS), f"part of an import is stored: {stored} of {ROWS} rows"
    # The import's log entry and audit entry are in the same transaction as its rows.
    assert facts["imports"] == facts["import_entries"] == attempt + (1 if stored else 0)
    print(f"import killed {'before' if not stored else 'after'} its commit")

    rerun = run_atlas(["import", str(big)], env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{ROWS - stored} added, 0 updated, {stored} unchanged" in rerun.stdout
    projects = _export(env)
    by_name = Counter(p["name"] for p in projects if p["name"] in names)
    assert set(by_name) == names and set(by_name.values()) == {1}
    assert len({p["id"] for p in projects}) == len(projects) == present + ROWS
    assert all(
        p["synthetic"] and p["region"] and p["district_code"]
        for p in projects
        if p["name"] in names
    )

    before = _store_check(env)
    again = run_atlas(["import", str(big)], env)
    assert again.returncode == 0, again.stderr
    assert f"0 added, 0 updated, {ROWS} unchanged" in again.stdout
    after = _store_check(env)
    assert (after["projects"], after["newest"]) == (before["projects"], before["newest"])
    assert after["names"] == before["names"] and after["integrity"] == "ok"


# --- the server killed in a burst of submissions --------------------------------------------


def test_server_killed_in_a_burst_of_submissions_loses_nothing_it_accepted(env):
    names = [f"Abbruchprojekt {i:03d} (synthetisch)" for i in range(BURST)]
    accepted: dict[str, str] = {}  # name → private link, for every 303
    other: list = []
    lock, enough = threading.Lock(), threading.Event()

    def client(name: str) -> None:
        try:
            status, location = submit(base, name, "abbruch@example.org")
        except (OSError, http.client.HTTPException) as exc:
            with lock:  # the server died under this request: not accepted
                other.append(type(exc).__name__)
            return
        with lock:
            if status == 303:
                accepted[name] = urlsplit(location).path
                if len(accepted) >= KILL_AFTER:
                    enough.set()
            else:
                other.append(status)

    with served(env, threads=16) as (proc, base):
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            for name in names:
                pool.submit(client, name)
            assert enough.wait(120), f"only {len(accepted)} accepted, answers: {other[:5]}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with lock:
            cut = dict(accepted)
    assert proc.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(cut) < BURST, "the kill did not land in the middle of the burst"
    assert not [o for o in other if isinstance(o, int)], f"answers other than 303: {other}"

    facts = _store_check(env)
    assert facts["integrity"] == "ok" and facts["foreign_keys"] == []
    stored = Counter(facts["pending"])
    assert set(cut) <= set(stored), f"accepted but lost: {sorted(set(cut) - set(stored))}"
    assert set(stored.values()) == {1}, "a submission is stored twice"
    # one transaction each: a stored submission has its audit entry, and nothing else has one
    assert facts["submitted"] == Counter(facts["pending_ids"])
    # the submitter's mail with the private link was queued before the 303 was sent
    assert all(facts["mails"][f"Ihre Einreichung: {name}"] == 1 for name in cut)
    # ... and in the same transaction as the submission: no stored one lacks its private link
    unmailed = [n for n in stored if not facts["mails"][f"Ihre Einreichung: {n}"]]
    assert unmailed == [], f"stored without the mail holding their private link: {unmailed}"
    print(
        f"server killed after {len(cut)} accepted submissions; {len(stored)} stored; "
        f"{len(other)} requests cut off"
    )

    with served(env, threads=16) as (_proc, base):
        for name, link in cut.items():
            with urllib.request.urlopen(base + link, timeout=30) as page:
                assert page.status == 200 and name in page.read().decode()
        after = [f"Nach dem Neustart {i} (synthetisch)" for i in range(5)]
        assert [submit(base, n)[0] for n in after] == [303] * 5
    facts = _store_check(env)
    assert Counter(facts["pending"]) == stored + Counter(after)
    assert facts["integrity"] == "ok"


# --- the server killed while it stores an office's list (the browser import) ------------------

ADMIN = "abbruch-admin@land.example"
ADMIN_PASSWORD = "Abbruchtest-Passwort 123"


def _big_xlsx(path: Path, prefix: str) -> list[str]:
    """The big import's rows as an .xlsx workbook (openpyxl), German headers."""
    import openpyxl

    names = _big_csv(path.with_suffix(".csv"), prefix)
    with path.with_suffix(".csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("Projekte")
    ws.append(["Name", "Handlungsfelder", "PLZ", "Beschreibung", "Schlagworte", "Testdaten"])
    for row in rows[1:]:
        ws.append(row)
    book.save(path)
    return names


def _logged_in(base: str):
    browser = Browser(base)
    token = csrf_token(browser.get("/verwaltung/login"))
    browser.post(
        "/verwaltung/login", {"email": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    return browser


def _preview(base: str, xlsx: Path):
    """Log in as the administrator and upload the list: (browser, preview path, its token)."""
    browser = _logged_in(base)
    token = csrf_token(browser.get("/verwaltung/import"))
    page = browser.post(
        "/verwaltung/import", {"csrf_token": token}, ("datei", xlsx.name, xlsx.read_bytes())
    )
    assert f"{ROWS} bereite Zeilen importieren" in page
    return browser, browser.last_url[len(base) :], csrf_token(page)


def test_server_killed_while_storing_a_list_leaves_nothing_and_the_list_waits(env, tmp_path):
    added = run_atlas(["users", "add", ADMIN, "--admin"], env, input=ADMIN_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    for attempt in range(3):  # a finished import stays; the next list is new
        xlsx = tmp_path / f"liste{attempt}.xlsx"
        names = set(_big_xlsx(xlsx, f"Listentest {attempt}"))
        with served(env) as (proc, base):
            browser, preview, token = _preview(base, xlsx)
            outcome: list = []

            def go(browser=browser, preview=preview, token=token, outcome=outcome):
                try:
                    outcome.append(browser.post(f"{preview}/importieren", {"csrf_token": token}))
                except (OSError, http.client.HTTPException) as exc:
                    outcome.append(exc)

            with _write_probe(env) as probe:
                request = threading.Thread(target=go)
                request.start()
                deadline = time.monotonic() + 60
                while not _midway(*probe()) and request.is_alive():
                    assert time.monotonic() < deadline, "the import never began writing"
                    time.sleep(0.005)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            request.join(30)
        if isinstance(outcome[0], Exception):
            break
    else:
        pytest.fail("three imports finished before the server could be killed")

    facts = _store_check(env)
    assert facts["integrity"] == "ok" and facts["foreign_keys"] == []
    stored = sum(p["name"] in names for p in _export(env))
    assert stored in (0, ROWS), f"part of a list is stored: {stored} of {ROWS} rows"
    assert facts["imports"] == facts["import_entries"] == attempt + (1 if stored else 0)
    print(f"server killed {'before' if not stored else 'after'} the list's commit")

    if stored:
        return  # it committed before the kill: the checked list may be gone with it
    # After the restart the checked list still waits; importing it adds each row once.
    with served(env) as (_proc, base):
        browser = _logged_in(base)
        page = browser.get(preview)
        assert f"{ROWS} bereite Zeilen importieren" in page
        done = browser.post(f"{preview}/importieren", {"csrf_token": csrf_token(page)})
        assert f"{ROWS - stored} neu, 0 geändert, {stored} unverändert" in done
    by_name = Counter(p["name"] for p in _export(env) if p["name"] in names)
    assert set(by_name) == names and set(by_name.values()) == {1}
