"""Several worker processes share one store: what one approves, every other shows at once."""

from __future__ import annotations

import json
import re
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest

from tests.support.forms import csrf_token
from tests.support.live_server import atlas_env, atlas_server, run_atlas

PASSWORD = "ein-sicheres-passwort"


def _client():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def _post(opener, base, path, data, form_page=None):
    """Fetch the CSRF token from the page holding the form, then post the form."""
    html = opener.open(base + (form_page or path)).read().decode()
    return opener.open(
        base + path, urlencode({**data, "csrf_token": csrf_token(html)}, doseq=True).encode()
    )


def _get_json(base, path):
    with urllib.request.urlopen(base + path) as response:
        return json.load(response), response.headers.get("X-Atlas-Worker")


@pytest.mark.database
def test_an_approval_is_seen_by_every_worker(tmp_path):
    env = atlas_env(tmp_path / "instance", ATLAS_RATELIMIT_ENABLED="0", ATLAS_EXPOSE_WORKER="1")
    assert run_atlas(["init"], env).returncode == 0
    assert (
        run_atlas(
            ["users", "add", "lg@arl.example", "--region", "lueneburg"], env, input=PASSWORD + "\n"
        ).returncode
        == 0
    )
    with atlas_server(env, workers=3) as base:
        pids = {_get_json(base, "/api/projects?limit=1")[1] for _ in range(30)}
        assert len(pids) > 1, "requests did not reach more than one worker"
        before = {_get_json(base, "/api/markers")[0]["rows"].__len__() for _ in range(12)}
        submitter = _client()
        _post(
            submitter,
            base,
            "/einreichen",
            {
                "step": "confirm",
                "name": "Werkstattcafé Lüneburg",
                "fields": "teilhabe",
                "description": "Gemeinsam reparieren und dabei ins Gespräch kommen.",
                "postcode": "21335",
                "city": "Lüneburg",
                "contact_email": "a@example.org",
                "consent": "y",
            },
        )
        officer = _client()
        _post(officer, base, "/verwaltung/login", {"email": "lg@arl.example", "password": PASSWORD})
        queue = officer.open(base + "/verwaltung/").read().decode()
        item = re.search(r'href="(/verwaltung/einreichungen/[^"]+)"', queue).group(1)
        _post(officer, base, item + "/freigeben", {"version": "1"}, form_page=item)
        # every following request, whichever worker answers it, shows the approved project
        for _ in range(20):
            body, _pid = _get_json(base, "/api/projects?q=werkstattcafe")
            assert body["total"] == 1
        after = {len(_get_json(base, "/api/markers")[0]["rows"]) for _ in range(12)}
    assert len(before) == 1 and after == {before.pop() + 1}
