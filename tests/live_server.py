"""A real atlas server for tests: `atlas serve` (waitress) as a subprocess on 127.0.0.1."""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from databases import fresh_database_url

ATLAS = Path(sys.executable).with_name("atlas")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def atlas_env(instance: Path, **extra: str) -> dict:
    """The environment of an instance: its own folder and database (SQLite file or a fresh
    PostgreSQL schema, see databases.py), no basemap."""
    env = {**os.environ, "ATLAS_INSTANCE_PATH": str(instance), "ATLAS_TILES": "none", **extra}
    if "ATLAS_DATABASE_URL" not in extra:
        url = fresh_database_url()
        if url:
            env["ATLAS_DATABASE_URL"] = url
        else:
            env.pop("ATLAS_DATABASE_URL", None)
    return env


def database_url(env: dict) -> str:
    """The SQLAlchemy URL an instance's server uses, for checking what it stored."""
    return env.get("ATLAS_DATABASE_URL") or \
        f"sqlite:///{Path(env['ATLAS_INSTANCE_PATH']) / 'atlas.sqlite3'}"


def run_atlas(args: list[str], env: dict, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ATLAS), *args], env=env, input=input, capture_output=True,
                          text=True, timeout=300)


@contextmanager
def served(env: dict, threads: int = 8, probe: str = "/api/markers", workers: int = 1):
    """`atlas serve` until the block ends; yields (process, base URL), so a test can kill it.
    Fails with the server's log if it does not come up."""
    instance = Path(env["ATLAS_INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (instance / f"serve-{port}.log").open("w+")
    proc = subprocess.Popen([str(ATLAS), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", str(threads), "--workers", str(workers)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"atlas serve exited with {proc.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(base + probe, timeout=2):
                    break
            except urllib.error.HTTPError as exc:
                log.seek(0)
                raise RuntimeError(f"atlas serve answers {probe} with {exc.code}:\n{log.read()}")
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("atlas serve did not answer within 30 s")
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)          # the server and any worker processes
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@contextmanager
def atlas_server(env: dict, threads: int = 8, probe: str = "/api/markers", workers: int = 1):
    """`atlas serve` until the block ends; yields its base URL."""
    with served(env, threads, probe, workers) as (_proc, base):
        yield base


def submit(base: str, name: str, email: str = "test@example.org") -> tuple[int, str]:
    """One submitter over HTTP: the form (CSRF token, session cookie), then the confirmed
    submission of a synthetic project. Returns the status and the Location (private link)."""
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    try:
        conn.request("GET", "/einreichen")
        page = conn.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        if page.status != 200 or token is None:
            return page.status, ""
        conn.request("POST", "/einreichen", body=urlencode({
            "csrf_token": token.group(1), "step": "confirm", "name": name,
            "description": "Synthetischer Eintrag aus einem Lasttest, kein echtes Projekt.",
            "fields": "sprache", "postcode": "30169", "city": "Hannover",
            "contact_email": email, "consent": "y",
            # test names differ only in a number, so each is a likely duplicate of the others
            "confirm_duplicate": "y"}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location", "")
    finally:
        conn.close()
