"""The reference setup in small (issue 20): two `atlas serve` instances on one PostgreSQL,
their limits in a real Redis, mail through the SMTP stand-in, and a short, bounded mixed load
through both at once: every write stored once (none lost, none doubled), the limits counted
together, every mail delivered once, also those that failed while the mail server was down."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.support.databases import PG_URL
from tests.support.live_server import atlas_env, database_url, served, submit
from tests.support.redis_server import redis_server
from tests.support.smtp_stub import closed_port, smtp_server
from tests.test_instances import failed_login
from tests.test_instances_mail import wait_for

pytestmark = pytest.mark.database


def test_two_instances_redis_and_postgresql_under_a_mixed_load(instance, tmp_path):
    if not PG_URL:
        pytest.skip("the reference setup runs on PostgreSQL (the Makefile's second pass)")
    smtp_port = closed_port()
    with redis_server(tmp_path / "redis") as redis_url:
        env = atlas_env(
            instance,
            ATLAS_RATELIMIT_STORAGE_URI=redis_url,
            ATLAS_RATELIMIT_LOGIN="6 per minute",
            ATLAS_RATELIMIT_SUBMIT="1000 per hour",
            ATLAS_RATELIMIT_DOWNLOAD="1000 per minute",
            ATLAS_TRUSTED_PROXIES="0",
            ATLAS_SMTP_HOST="127.0.0.1",
            ATLAS_SMTP_PORT=str(smtp_port),
            ATLAS_OUTBOX_FIRST_RETRY="0.3",
            ATLAS_OUTBOX_POLL_SECONDS="0.3",
        )
        with (
            served(env, threads=8, probe="/healthz") as (_a, first),
            served(env, threads=8, probe="/healthz") as (_b, second),
        ):
            bases = [first, second]
            jobs = []
            # 20 different submissions, alternating between the instances.
            for i in range(20):
                jobs.append(("submit", bases[i % 2], f"Lastprojekt {i}", f"last{i}@example.org"))
            # 5 double clicks: the same submission to both instances at once.
            for i in range(5):
                for base in bases:
                    jobs.append(("submit", base, f"Doppelt {i}", f"doppelt{i}@example.org"))
            # 8 wrong logins from one client, one after the other (failures count once
            # answered), alternating between the instances: the limit of 6 holds across both.
            jobs.append(("logins", None, "niemand", None))
            # Reads in between.
            for i in range(20):
                jobs.append(("read", bases[i % 2], "/api/markers", None))
            start = threading.Barrier(16)

            def run(job):
                kind, base, a, b = job
                if kind == "submit":
                    return kind, a, submit(base, a, b)[0]
                if kind == "logins":
                    return (
                        kind,
                        a,
                        [failed_login(bases[i % 2], f"{a}{i}@example.org") for i in range(8)],
                    )
                with urllib.request.urlopen(base + a, timeout=60) as answer:
                    return kind, a, answer.status

            def first_together(job):
                try:
                    start.wait(timeout=30)
                except threading.BrokenBarrierError:
                    pass
                return run(job)

            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(first_together, jobs))
            by_kind = Counter((k, status) for k, _, status in results if k != "logins")
            assert by_kind[("read", 200)] == 20
            [logins] = [status for k, _, status in results if k == "logins"]
            assert logins == [400] * 6 + [429] * 2
            doubles = Counter(
                status for kind, name, status in results if name.startswith("Doppelt")
            )
            assert doubles == {303: 5, 409: 5}, doubles
            assert all(s == 303 for k, n, s in results if n.startswith("Lastprojekt"))

            # The mail server comes back: every failed mail goes out, once.
            with smtp_server(port=smtp_port) as smtp:
                wait_for(lambda: len(smtp.received) >= 25, timeout=90)
                time.sleep(1.5)  # room for a wrong second delivery
                recipients = Counter(r for m in smtp.received for r in m.recipients)
    assert len(recipients) == 25 and set(recipients.values()) == {1}, recipients
    engine = create_engine(database_url(env))
    with engine.connect() as conn:
        names = Counter(conn.execute(text("SELECT name FROM projects")).scalars())
        unsent = conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()
    engine.dispose()
    assert len(names) == 25 and set(names.values()) == {1}
    assert unsent == 0
