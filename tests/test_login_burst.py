"""Login limits under a burst (issue 20 follow-up): wrong passwords sent at the same moment are
counted as they come in, not once answered, so exactly the limit of them is checked and the
rest refused; the same across two instances sharing their limits in Redis. Successful logins
still do not count, also when they come at once.

Real servers (`atlas serve` on 127.0.0.1), real threads posting at once, Debian's redis-server."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import pytest

from tests.support.live_server import atlas_env, post_forms_at_once, run_atlas, served
from tests.support.redis_server import redis_server

pytestmark = pytest.mark.database

PASSWORD = "ein-sicheres-passwort"
COLLEAGUE = "lg@arl.example"
LOGIN = "/verwaltung/login"


def at_once(bases: list[str], emails: list[str], password: str) -> list[tuple[int, str]]:
    """One login per e-mail address, all posted together, spread over the instances."""
    return post_forms_at_once(
        [
            (bases[i % len(bases)], LOGIN, {"email": email, "password": password})
            for i, email in enumerate(emails)
        ]
    )


def statuses(answers) -> Counter:
    return Counter(status for status, _page in answers)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_a_burst_of_wrong_passwords_gets_exactly_the_limit(instance, tmp_path, storage):
    with ExitStack() as stack:
        limits = {
            "ATLAS_RATELIMIT_LOGIN_ACCOUNT": "3 per 15 minutes",
            "ATLAS_RATELIMIT_LOGIN": "8 per minute",
        }
        if storage == "redis":
            limits["ATLAS_RATELIMIT_STORAGE_URI"] = stack.enter_context(
                redis_server(tmp_path / "redis")
            )
        env = atlas_env(instance, **limits)
        run_atlas(
            ["users", "add", COLLEAGUE, "--region", "lueneburg"], env, PASSWORD + "\n", check=True
        )
        count = 1 if storage == "memory" else 2  # memory:// counts per process
        bases = [stack.enter_context(served(env, probe="/healthz"))[1] for _ in range(count)]

        # Colleagues logging in at once are not counted, by the account or by the address.
        assert statuses(at_once(bases, [COLLEAGUE] * 3, PASSWORD)) == {303: 3}

        # Ten wrong passwords for one account at once: three are checked, seven refused.
        answers = at_once(bases, [COLLEAGUE] * 10, "falsch-falsch")
        assert statuses(answers) == {400: 3, 429: 7}
        refused = [page for status, page in answers if status == 429]
        assert all("Anmeldeversuche für dieses Konto" in page for page in refused)

        # The refused ones did not count against the address either: five of its eight are
        # left, for ten other accounts tried at once.
        answers = at_once(bases, [f"niemand{i}@example.org" for i in range(10)], "falsch-falsch")
        assert statuses(answers) == {400: 5, 429: 5}
        refused = [page for status, page in answers if status == 429]
        assert all("Anmeldeversuche von Ihrem Anschluss aus" in page for page in refused)
