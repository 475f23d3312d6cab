"""The smaller findings of the security review (issue 14): private pages not cached, HSTS behind
HTTPS, a private instance folder and database file, CR/LF-safe login redirects, no names of
unreviewed submissions in the duplicate hint, control characters refused in every kind of body,
private links built on ATLAS_PUBLIC_URL, lengths checked after trimming, websites with a host,
login limits per account and per client address, and ProxyFix.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from atlas.core.accounts import add_user
from atlas.store import Project
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token

PASSWORD = "ein-sicheres-passwort"
VALID = {
    "step": "confirm",
    "name": "Nähcafé Miteinander",
    "description": "Wir nähen jeden Dienstag gemeinsam und sprechen dabei Deutsch.",
    "fields": "sprache",
    "postcode": "21423",
    "city": "Winsen (Luhe)",
    "contact_email": "erika@example.org",
    "consent": "y",
}


def make_app(**config):
    app = create_app({"TESTING": True, **config})
    store = get_store(app)
    store.create_schema()
    add_user(store, "lg@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "we@arl.example", PASSWORD, "weser-ems", False)
    return app


@pytest.fixture
def app(instance):
    return make_app(RATELIMIT_ENABLED=False)


def csrf(client, url: str, **kwargs) -> str:
    return csrf_token(client.get(url, **kwargs).get_data(as_text=True))


def submit(client, base_url="http://localhost", **changes):
    data = {**VALID, **changes, "csrf_token": csrf(client, "/einreichen", base_url=base_url)}
    return client.post("/einreichen", data=data, base_url=base_url)


def login(client, email="lg@arl.example", password=PASSWORD, next=None, **kwargs):
    token = csrf(client, "/verwaltung/login", **kwargs)
    url = "/verwaltung/login" + (f"?next={next}" if next else "")
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post(url, data=data, **kwargs)


def test_private_pages_are_never_cached_public_ones_may_be(app):
    client = app.test_client()
    link = submit(client).headers["Location"].split("?")[0]
    login(client)
    for url in (link, "/einreichen", "/verwaltung/", "/verwaltung/login"):
        assert client.get(url).headers.get("Cache-Control") == "no-store", url
    assert "no-store" not in client.get("/projekte").headers.get("Cache-Control", "")


def test_hsts_only_when_the_session_cookie_is_secure(instance):
    plain = create_app({"TESTING": True}).test_client()
    assert "Strict-Transport-Security" not in plain.get("/").headers
    secure = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": True}).test_client()
    assert secure.get("/").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_instance_folder_and_the_database_file_are_private(app, instance):
    assert stat.S_IMODE(Path(instance).stat().st_mode) == 0o700
    assert stat.S_IMODE((Path(instance) / "secret_key").stat().st_mode) == 0o600
    if get_store(app).engine.dialect.name == "sqlite":
        for name in ("atlas.sqlite3", "atlas.sqlite3-wal", "atlas.sqlite3-shm"):
            path = Path(instance) / name
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_an_existing_world_readable_database_file_is_tightened(tmp_path):
    from atlas.store import Store

    path = tmp_path / "alt.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    Store(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "target",
    ["/verwaltung/%0D%0ASet-Cookie:%20x=1", "/verwaltung/%0Aevil", "/%5C%5Cevil.example", "//x"],
)
def test_a_login_target_with_a_line_break_or_another_site_goes_to_the_queue(app, target):
    response = login(app.test_client(), next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/verwaltung/"


def test_the_duplicate_hint_names_published_projects_only(app):
    client = app.test_client()
    assert submit(client, name="Nähcafé Miteinandr").status_code == 303  # pending, unreviewed
    html = submit(app.test_client(), step="preview").get_data(as_text=True)
    assert "ein ähnliches Projekt wird gerade geprüft" in html
    assert "Miteinandr" not in html
    with get_store(app).session.begin() as s:
        s.scalar(select(Project).where(Project.name == "Nähcafé Miteinandr")).status = "published"
    html = submit(app.test_client(), step="preview").get_data(as_text=True)
    assert "Nähcafé Miteinandr" in html and "wird gerade geprüft" not in html


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"name": "a\u0000b"}},
        {"json": {"na\u0001me": "x"}},
        {"json": [{"deep": ["\u001b[31m"]}]},
        {"data": b"name=a\x00b", "content_type": "text/plain"},
        {"data": {"name": "a\x00b"}},
        {"data": {"description": "ab\x07c"}},
        {"query_string": {"q": "a\x01"}},
    ],
)
def test_control_characters_are_refused_in_every_body_type(app, kwargs):
    response = app.test_client().post("/einreichen", **kwargs)
    assert response.status_code == 400
    assert app.test_client().post("/api/projects", **kwargs).status_code == 400


def test_tabs_and_line_breaks_in_a_text_are_fine(app):
    client = app.test_client()
    response = submit(client, description="Zeile eins\r\nZeile zwei\tmit Tab, lang genug.")
    assert response.status_code == 303


def test_the_private_link_on_the_confirmation_page_is_built_on_the_public_url(app):
    client = app.test_client()
    done = submit(client, base_url="http://evil.example")
    page = client.get(done.headers["Location"], base_url="http://evil.example")
    html = page.get_data(as_text=True)
    assert 'id="private-link">http://127.0.0.1:8000/einreichung/' in html
    assert "evil.example" not in html


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "  ab   "}, "Bitte 3 bis 200 Zeichen eingeben."),
        ({"description": "   kurz, zu kurz       "}, "Bitte 20 bis 4000 Zeichen eingeben."),
        ({"city": "   "}, "Bitte den Ort angeben."),
        ({"website": "https://"}, "Bitte eine vollständige Adresse angeben"),
        ({"website": "http://localhost"}, "Bitte eine vollständige Adresse angeben"),
        ({"website": "https://exa mple.org"}, "Bitte eine vollständige Adresse angeben"),
    ],
)
def test_lengths_are_checked_after_trimming_and_a_website_needs_a_host(app, changes, message):
    response = submit(app.test_client(), **changes)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_a_trimmed_name_is_stored_trimmed(app):
    assert (
        submit(app.test_client(), name="   Nähcafé   ", website=" https://x.example ").status_code
        == 303
    )
    with get_store(app).session() as s:
        project = s.scalar(select(Project))
    assert (project.name, project.website) == ("Nähcafé", "https://x.example")


def test_a_locked_account_is_told_in_german_how_long_to_wait(instance):
    app = make_app(RATELIMIT_LOGIN_ACCOUNT="2 per 15 minutes", RATELIMIT_LOGIN="100 per minute")
    for _ in range(2):
        assert login(app.test_client(), password="falsch").status_code == 400
    locked = login(app.test_client())  # even the right password, from anywhere
    assert locked.status_code == 429
    html = locked.get_data(as_text=True)
    assert "Zu viele fehlgeschlagene Anmeldeversuche für dieses Konto" in html
    assert "Bitte warten Sie 15 Minuten" in html
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    assert login(app.test_client(), "we@arl.example").status_code == 303  # other accounts


def test_colleagues_behind_one_address_do_not_lock_each_other_out(instance):
    app = make_app(RATELIMIT_LOGIN="2 per minute")
    for _ in range(5):  # successful logins do not count
        assert login(app.test_client()).status_code == 303
    for _ in range(2):
        assert login(app.test_client(), "we@arl.example", "falsch").status_code == 400
    blocked = login(app.test_client())
    assert blocked.status_code == 429
    assert "von Ihrem Anschluss aus" in blocked.get_data(as_text=True)


def test_behind_a_proxy_the_limits_see_the_real_client(instance):
    behind = make_app(RATELIMIT_LOGIN="2 per minute", TRUSTED_PROXIES=1)
    first = {"headers": {"X-Forwarded-For": "198.51.100.1"}}
    second = {"headers": {"X-Forwarded-For": "198.51.100.2"}}
    for _ in range(2):
        assert login(behind.test_client(), "we@arl.example", "falsch", **first).status_code == 400
    assert login(behind.test_client(), **first).status_code == 429
    assert login(behind.test_client(), **second).status_code == 303
    # Without TRUSTED_PROXIES the header is the client's own word and is ignored.
    direct = create_app({"TESTING": True, "RATELIMIT_LOGIN": "2 per minute"})
    for _ in range(2):
        assert login(direct.test_client(), "we@arl.example", "falsch", **first).status_code == 400
    assert login(direct.test_client(), **second).status_code == 429


def test_the_api_answers_json_for_a_control_character(app):
    response = app.test_client().get("/api/projects?q=%01")
    assert response.status_code == 400 and "control character" in json.loads(response.data)["error"]


# --- heavy endpoints ----------------------------------------------------------------------------


def test_unknown_parameters_do_not_make_new_marker_cache_entries(app):
    from atlas.web import api

    client = app.test_client()
    api._MARKERS.clear()
    first = client.get("/api/markers?field=sprache")
    for n in range(5):
        again = client.get(f"/api/markers?field=sprache&_={n}&utm_source=x{n}")
        assert again.data == first.data
    assert client.get("/api/markers?field=+sprache+").data == first.data
    assert len(api._MARKERS._values) == 1


def test_a_region_download_is_built_once_per_data_version(app, monkeypatch):
    from atlas.core import projects
    from atlas.web import coverage

    coverage._DOWNLOADS.clear()
    builds = []
    real = projects.write_geojson
    monkeypatch.setattr(coverage, "write_geojson", lambda p, out: (builds.append(1), real(p, out)))
    client = app.test_client()
    first = client.get("/regionen/lueneburg/projekte.geojson")
    assert client.get("/regionen/lueneburg/projekte.geojson?x=1").data == first.data
    assert len(builds) == 1
    submit(client)  # a pending submission is not public: the download stays valid
    assert client.get("/regionen/lueneburg/projekte.geojson").data == first.data
    assert len(builds) == 1
    with get_store(app).session.begin() as s:
        s.scalar(select(Project)).status = "published"  # a new data version
    changed = client.get("/regionen/lueneburg/projekte.geojson")
    assert len(builds) == 2 and b"Miteinander" in changed.data


def test_region_downloads_are_rate_limited_per_client(instance):
    app = make_app(RATELIMIT_DOWNLOAD="2 per minute")
    client = app.test_client()
    codes = [client.get("/regionen/lueneburg/projekte.csv").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
