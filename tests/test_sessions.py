"""Sessions that end: logging out, a new password or a removed account ends the session on the
server, whatever copies of the cookie exist; a login ends 8 hours after it was made, however it
is used; logging out needs no form token. With the Flask test client and, once, a real server
over HTTP (urllib).
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from atlas.core.accounts import add_user
from atlas.store import LoginSession, User, utcnow
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token
from tests.support.live_server import atlas_env, atlas_server, run_atlas

PASSWORD = "ein-sicheres-passwort"
NEW_PASSWORD = "ein-neues-passwort-1"


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})
    store = get_store(app)
    store.create_schema()
    add_user(store, "lg@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "admin@land.example", PASSWORD, None, True)
    return app


def login(app, email: str = "lg@arl.example", password: str = PASSWORD):
    """A new client (a browser) logged in as `email`; asserts the login worked."""
    client = app.test_client()
    token = csrf_token(client.get("/verwaltung/login").get_data(as_text=True))
    response = client.post(
        "/verwaltung/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def replay(app, cookie: str):
    """A client that only has a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def logged_in(client) -> bool:
    response = client.get("/verwaltung/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_cookie_copied_before_logout_is_refused_afterwards(app):
    client = login(app)
    copy = client.get_cookie("session").value
    assert logged_in(replay(app, copy))
    page = client.get("/verwaltung/").get_data(as_text=True)
    client.post("/verwaltung/logout", data={"csrf_token": csrf_token(page)})
    assert not logged_in(client)
    assert not logged_in(replay(app, copy))
    with get_store(app).session() as s:
        assert s.scalars(select(LoginSession)).all() == []


def test_logout_works_without_a_valid_form_token(app):
    client = login(app)
    copy = client.get_cookie("session").value
    response = client.post("/verwaltung/logout", data={"csrf_token": "abgelaufen"})
    assert response.status_code == 303 and response.headers["Location"] == "/verwaltung/login"
    assert not logged_in(client) and not logged_in(replay(app, copy))


def test_logging_out_ends_only_that_session(app):
    laptop, phone = login(app), login(app)
    laptop.post("/verwaltung/logout")
    assert not logged_in(laptop) and logged_in(phone)


def test_a_new_password_ends_every_session_of_the_account(app, cli):
    laptop, phone, admin = login(app), login(app), login(app, "admin@land.example")
    copy = laptop.get_cookie("session").value
    result = cli("users", "passwd", "LG@arl.example", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "2 session(s) ended" in result.output
    assert not logged_in(laptop) and not logged_in(phone) and not logged_in(replay(app, copy))
    assert logged_in(admin)  # other accounts keep theirs
    login(app, "lg@arl.example", NEW_PASSWORD)
    too_short = cli("users", "passwd", "lg@arl.example", input="kurz\n")
    assert too_short.exit_code != 0 and "at least 10 characters" in too_short.output
    unknown = cli("users", "passwd", "wer@arl.example", input=NEW_PASSWORD + "\n")
    assert unknown.exit_code != 0 and "no user 'wer@arl.example'" in unknown.output


def test_a_removed_account_is_logged_out_at_once_and_cannot_log_in(app, cli):
    client = login(app)
    copy = client.get_cookie("session").value
    result = cli("users", "remove", "lg@arl.example")
    assert result.exit_code == 0, result.output
    assert not logged_in(client) and not logged_in(replay(app, copy))
    token = csrf_token(app.test_client().get("/verwaltung/login").get_data(as_text=True))
    again = app.test_client().post(
        "/verwaltung/login",
        data={"email": "lg@arl.example", "password": PASSWORD, "csrf_token": token},
    )
    assert again.status_code == 400
    assert [u.email for u in get_store(app).session().scalars(select(User))] == [
        "admin@land.example"
    ]
    assert cli("users", "remove", "lg@arl.example").exit_code != 0


def test_users_logout_ends_every_session_and_list_shows_the_last_login(app, cli):
    listed = cli("users", "list").output.splitlines()
    assert listed == ["admin@land.example\tadmin\tnever", "lg@arl.example\tlueneburg\tnever"]
    client = login(app)
    today = utcnow().strftime("%Y-%m-%d")
    assert f"lg@arl.example\tlueneburg\t{today} " in cli("users", "list").output
    result = cli("users", "logout", "lg@arl.example")
    assert result.exit_code == 0 and "1 session(s)" in result.output
    assert not logged_in(client)


def test_a_session_ends_8_hours_after_the_login_however_it_is_used(app):
    client = login(app)
    store = get_store(app)
    with store.session() as s:
        [row] = s.scalars(select(LoginSession)).all()
    assert row.expires_at - row.created_at == timedelta(hours=8)
    client.get("/verwaltung/")  # the first page stores its form token in the session
    response = client.get("/verwaltung/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # using it does not extend the cookie
    with store.session() as s:
        assert s.get(LoginSession, row.id_hash).expires_at == row.expires_at
    with store.session.begin() as s:
        s.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not logged_in(client)


def test_a_forged_or_old_style_cookie_opens_nothing(app):
    """A cookie signed with the app's key but naming an account id (as before migration 0007)
    or a made-up session id is refused."""
    client = app.test_client()
    for value in ("1", "2", "ausgedacht"):
        with client.session_transaction() as session:
            session["_user_id"] = value
            session["_fresh"] = True
        assert not logged_in(client)


@pytest.mark.database
def test_a_replayed_cookie_is_refused_by_a_real_server(tmp_path):
    env = atlas_env(tmp_path / "instance")
    run_atlas(["migrate"], env, check=True)
    run_atlas(
        ["users", "add", "lg@arl.example", "--region", "lueneburg"],
        env,
        input=PASSWORD + "\n",
        check=True,
    )
    with atlas_server(env) as base:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = browser.open(base + "/verwaltung/login").read().decode()
        form = {"email": "lg@arl.example", "password": PASSWORD, "csrf_token": csrf_token(page)}
        assert browser.open(base + "/verwaltung/login", urlencode(form).encode()).status == 200
        [cookie] = [c.value for c in jar if c.name == "session"]

        def with_copy(path: str) -> int:
            request = urllib.request.Request(base + path, headers={"Cookie": f"session={cookie}"})
            opener = urllib.request.build_opener(NoRedirect)
            try:
                return opener.open(request).status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert with_copy("/verwaltung/") == 200
        browser.open(base + "/verwaltung/logout", b"")
        assert with_copy("/verwaltung/") == 302


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
