"""A good neighbour to Nominatim with several instances (issue 20): at most one request per
interval across all processes (a throttle row in the shared database), the answers cached
without races (INSERT … ON CONFLICT DO NOTHING), and the configured User-Agent sent.

Real parts: several Python processes with the atlas app on the test database, and the
Nominatim stand-in (tests/support/nominatim_stub) recording when each request came."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from tests.support.live_server import atlas_env, database_url
from tests.support.nominatim_stub import NominatimStub

pytestmark = pytest.mark.database

#: One process: wait for the common start, then look up its queries through the app's
#: configured geocoder (the same one the submission form uses).
_LOOKUPS = """
import sys, time
from atlas.web.app import create_app
from atlas.web.extensions import get_geocode, get_store
app = create_app()
with app.app_context():
    get_store().create_schema()
    geocode = get_geocode()
    start = float(sys.argv[1])
    while time.time() < start:
        time.sleep(0.005)
    for query in sys.argv[2:]:
        print(geocode(query)["status"])
"""

INTERVAL = 0.5
AGENT = "atlas-test/1.0 (instances test; ops@example.org)"


def test_processes_share_one_pace_and_one_cache(instance):
    with NominatimStub() as stub:
        env = atlas_env(
            instance,
            ATLAS_GEOCODER="nominatim",
            ATLAS_NOMINATIM_URL=stub.base_url,
            ATLAS_NOMINATIM_USER_AGENT=AGENT,
            ATLAS_NOMINATIM_MIN_DELAY=str(INTERVAL),
        )
        instance.mkdir(parents=True, exist_ok=True)
        start = time.time() + 8  # all four have imported the app and made the schema by then
        # Each process asks two queries of its own and one that all four ask at once.
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _LOOKUPS,
                    str(start),
                    f"Gartenweg {i}, Celle",
                    f"Lindenallee {i}, Verden",
                    "Bahnhofstraße 99, Nienburg",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i in range(4)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        requests = sorted(r["at"] for r in stub.requests if r["path"] == "/search")
        agents = {r["user_agent"] for r in stub.requests}
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert len(out.split()) == 3 and "Traceback" not in err
    assert min(requests) >= start - 0.1, "a process did not wait for the common start"
    gaps = [b - a for a, b in zip(requests, requests[1:])]
    assert 9 <= len(requests) <= 12  # 8 own queries; the common one once, or by some who missed
    assert min(gaps) >= INTERVAL * 0.9, gaps
    assert agents == {AGENT}
    engine = create_engine(database_url(env))
    with engine.connect() as conn:
        cached = conn.execute(text("SELECT key FROM geocode_cache")).scalars().all()
    engine.dispose()
    assert len(cached) == 9 and len(set(cached)) == 9
