"""100 submissions at once against a running server: every one stored, no error answer."""
from __future__ import annotations

import http.client
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

from sqlalchemy import create_engine, text

from live_server import atlas_env, atlas_server, database_url, run_atlas

COUNT = 100


def _submit(base: str, i: int) -> tuple[int, str]:
    """One client: fetch the form (CSRF token and session cookie), then confirm at once."""
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    try:
        conn.request("GET", "/einreichen")
        page = conn.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        body = urlencode({
            "csrf_token": token, "step": "confirm", "name": f"Lastprojekt {i:03d}",
            "description": "Synthetischer Eintrag aus dem Lasttest, kein echtes Projekt.",
            "fields": "sprache", "postcode": "30169", "city": "Hannover",
            "contact_email": f"last{i}@example.org", "consent": "y",
            # the names differ only in their number, so each is a likely duplicate of the others
            "confirm_duplicate": "y"})
        conn.request("POST", "/einreichen", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location", "")
    finally:
        conn.close()


def test_hundred_concurrent_submissions_are_all_stored(tmp_path):
    env = atlas_env(tmp_path / "instance", ATLAS_RATELIMIT_ENABLED="0")
    assert run_atlas(["init"], env).returncode == 0
    with atlas_server(env, threads=16) as base:
        with ThreadPoolExecutor(max_workers=COUNT) as pool:
            answers = list(pool.map(lambda i: _submit(base, i), range(COUNT)))
    assert [status for status, _ in answers] == [303] * COUNT
    assert len({location for _, location in answers}) == COUNT      # one private link each
    engine = create_engine(database_url(env))
    with engine.connect() as db:
        names = [r[0] for r in db.execute(text(
            "SELECT name FROM projects WHERE status = 'pending'"))]
        if engine.dialect.name == "sqlite":
            assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    assert sorted(names) == [f"Lastprojekt {i:03d}" for i in range(COUNT)]
