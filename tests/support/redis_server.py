"""A real Redis for tests of shared state (rate limits of several instances): Debian's
`redis-server` on a free loopback port, without persistence, stopped when the block ends."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.live_server import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextmanager
def redis_server(folder: Path):
    """Yields the URL of a fresh Redis (redis://127.0.0.1:PORT/0); skips the test, saying why,
    when redis-server or the Python client is missing (.ci/run installs both)."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server; see .ci/run)")
    pytest.importorskip("redis", reason="pip install -e '.[redis]' for the Redis client")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
        ],
        stdout=open(folder / "redis.log", "wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "redis-server did not start: " + (folder / "redis.log").read_text()
                    ) from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
