"""Real servers for tests and benchmarks: `atlas …` as subprocesses on 127.0.0.1.

`serving` runs any server command (the atlas, or datasette in a benchmark) until a block ends;
`served` and `atlas_server` are `atlas serve` on an instance's environment (`atlas_env`).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.support.databases import fresh_database_url
from tests.support.forms import csrf_token, submission

ATLAS = Path(sys.executable).with_name("atlas")
#: atlas_env's default database: the test database (see databases.py).
TEST_DATABASE = "the test database"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def atlas_env(instance: Path, database_url: str | None = TEST_DATABASE, **extra: str) -> dict:
    """The environment of an instance: its own folder, no basemap, a secret key, and as its
    database `database_url`: by default the test database (a fresh PostgreSQL schema when
    ATLAS_TEST_DATABASE_URL is set, else the SQLite file), None for the SQLite file."""
    env = {
        **os.environ,
        "ATLAS_INSTANCE_PATH": str(instance),
        "ATLAS_TILES": "none",
        # One key for every process of the instance, as `atlas serve` requires on PostgreSQL
        # and with several workers (a test of the refusal pops it).
        "ATLAS_SECRET_KEY": "test-only-secret-key-shared-by-the-instances",
        **extra,
    }
    if database_url == TEST_DATABASE:
        database_url = fresh_database_url()
    if database_url:
        env["ATLAS_DATABASE_URL"] = database_url
    else:
        env.pop("ATLAS_DATABASE_URL", None)
    return env


def database_url(env: dict) -> str:
    """The SQLAlchemy URL an instance's server uses, for checking what it stored."""
    return (
        env.get("ATLAS_DATABASE_URL")
        or f"sqlite:///{Path(env['ATLAS_INSTANCE_PATH']) / 'atlas.sqlite3'}"
    )


def run_atlas(
    args: list[str],
    env: dict,
    input: str | None = None,
    timeout: float = 300,
    command: list[str] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess:
    """`atlas ARGS` (or `command ARGS`) to its end; with check, a failure raises with its
    output."""
    done = subprocess.run(
        [*(command or [str(ATLAS)]), *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"atlas {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return done


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextmanager
def serving(
    args: list[str],
    port: int,
    log_path: Path,
    probe: str | None = "/api/markers",
    env: dict | None = None,
    timeout: float = 90,
):
    """Run a server command until the block ends; yields (process, base URL).

    Up once `probe` answers 200 (None: once the port takes connections, so that the first
    request is still the benchmark's); fails with the end of its log if it exits, answers an
    error or is not up within `timeout` s. Started in its own session, so stopping it stops
    gunicorn's workers too (and a test may kill the whole group itself).
    """
    log = open(log_path, "w+b")
    proc = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(args[:2])} exited with {proc.returncode}:\n{tail(log_path)}"
                )
            try:
                if probe is None:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                else:
                    with urllib.request.urlopen(base + probe, timeout=30) as response:
                        response.read()
                break
            except urllib.error.HTTPError as exc:
                raise RuntimeError(
                    f"{' '.join(args[:2])} answers {probe} with {exc.code}:\n{tail(log_path)}"
                ) from None
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{' '.join(args[:2])} did not answer within {timeout:.0f} s:\n{tail(log_path)}"
                )
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the server and any worker processes
                proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@contextmanager
def served(
    env: dict,
    threads: int = 8,
    probe: str | None = "/api/markers",
    workers: int = 1,
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 30,
):
    """`atlas serve` on the instance of `env` until the block ends; yields (process, base URL),
    so a test can kill it. Its log goes to the instance folder unless `log_path` is given."""
    instance = Path(env["ATLAS_INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        str(ATLAS),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--workers",
        str(workers),
    ]
    with serving(
        args, port, log_path or instance / f"serve-{port}.log", probe, env, timeout
    ) as running:
        yield running


@contextmanager
def atlas_server(env: dict, threads: int = 8, probe: str = "/api/markers", workers: int = 1):
    """`atlas serve` until the block ends; yields its base URL."""
    with served(env, threads, probe, workers) as (_proc, base):
        yield base


def _filled_in(conn: http.client.HTTPConnection, path: str) -> tuple[int, str | None, str]:
    """The form page at `path` on `conn`: its status, CSRF token and session cookie."""
    conn.request("GET", path)
    page = conn.getresponse()
    token = csrf_token(page.read().decode())
    return page.status, token, page.getheader("Set-Cookie", "").split(";")[0]


def _post(conn: http.client.HTTPConnection, path: str, fields: dict, token: str, cookie: str):
    conn.request(
        "POST",
        path,
        body=urlencode({"csrf_token": token, **fields}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    answer = conn.getresponse()
    return answer.status, answer.getheader("Location", ""), answer.read().decode()


def _connection(base: str) -> http.client.HTTPConnection:
    host = urlsplit(base)
    return http.client.HTTPConnection(host.hostname, host.port, timeout=60)


def post_form(base: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """A client filling in the form at `path` over HTTP: the page (CSRF token, session cookie),
    then the post of `fields`. Returns the status and the Location."""
    conn = _connection(base)
    try:
        status, token, cookie = _filled_in(conn, path)
        if status != 200 or token is None:
            return status, ""
        return _post(conn, path, fields, token, cookie)[:2]
    finally:
        conn.close()


def post_forms_at_once(jobs: list[tuple[str, str, dict]]) -> list[tuple[int, str]]:
    """Many clients posting forms at the same moment: each (base, path, fields) of `jobs` gets
    its form page first, then all posts go out together (one thread each). Returns each post's
    status and page, in the order of `jobs`."""
    ready = threading.Barrier(len(jobs))

    def one(job):
        base, path, fields = job
        conn = _connection(base)
        try:
            status, token, cookie = _filled_in(conn, path)
            ready.wait(timeout=60)
            if status != 200 or token is None:
                return status, ""
            status, _location, page = _post(conn, path, fields, token, cookie)
            return status, page
        finally:
            conn.close()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


def submit(base: str, name: str, email: str = "test@example.org") -> tuple[int, str]:
    """One submitter over HTTP: the confirmed submission of a synthetic project. Returns the
    status and the Location (private link)."""
    return post_form(base, "/einreichen", submission(name, email))
