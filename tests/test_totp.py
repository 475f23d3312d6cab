"""Two-factor login with TOTP (issue 14): enrolling (web page and `atlas users totp`), the
second login step with a code from the app (±1 time step), a wrong code refused and counted
towards the login limits, a code not taken twice, and `ATLAS_REQUIRE_TOTP` sending an account
without it to the enrolment page before anything else.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from atlas.core import accounts
from atlas.core.accounts import add_user, enrol_totp
from atlas.store import LoginSession, User
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token

PASSWORD = "ein-sicheres-passwort"
EMAIL = "lg@arl.example"


def make_app(**config):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, **config})
    store = get_store(app)
    store.create_schema()
    add_user(store, EMAIL, PASSWORD, "lueneburg", False)
    return app


@pytest.fixture
def app(instance):
    return make_app()


def enrolled(app) -> pyotp.TOTP:
    secret = accounts.new_totp_secret()
    enrol_totp(get_store(app), EMAIL, secret)
    return pyotp.TOTP(secret)


def password_step(client, password: str = PASSWORD):
    token = csrf_token(client.get("/verwaltung/login").get_data(as_text=True))
    return client.post(
        "/verwaltung/login", data={"email": EMAIL, "password": password, "csrf_token": token}
    )


def code_step(client, code: str):
    page = client.get("/verwaltung/login/code")
    assert page.status_code == 200, page.headers.get("Location")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/verwaltung/login/code", data={"code": code, "csrf_token": token})


def sessions(app) -> int:
    with get_store(app).session() as s:
        return len(s.scalars(select(LoginSession)).all())


def logged_in(client) -> bool:
    return client.get("/verwaltung/").status_code == 200


def test_without_totp_the_password_is_enough(app):
    client = app.test_client()
    assert password_step(client).headers["Location"] == "/verwaltung/"
    assert logged_in(client)


def test_the_password_leads_to_the_code_step_and_the_right_code_logs_in(app):
    totp = enrolled(app)
    client = app.test_client()
    response = password_step(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/verwaltung/login/code"
    assert sessions(app) == 0 and not logged_in(client)  # no session before the code
    page = client.get("/verwaltung/login/code").get_data(as_text=True)
    assert "Code aus der Authenticator-App" in page
    response = code_step(client, totp.now())
    assert response.status_code == 303 and response.headers["Location"] == "/verwaltung/"
    assert sessions(app) == 1 and logged_in(client)


def test_the_code_step_keeps_the_target_of_the_login(app):
    totp = enrolled(app)
    client = app.test_client()
    token = csrf_token(client.get("/verwaltung/login").get_data(as_text=True))
    client.post(
        "/verwaltung/login?next=/verwaltung/projekte",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
    )
    assert code_step(client, totp.now()).headers["Location"] == "/verwaltung/projekte"


def test_a_code_of_the_step_before_counts_but_not_older_ones(app):
    totp = enrolled(app)
    client = app.test_client()
    password_step(client)
    assert code_step(client, totp.at(time.time() - 90)).status_code == 400
    assert code_step(client, totp.at(time.time() - 30)).status_code == 303


def test_a_wrong_code_is_refused_in_german(app):
    totp = enrolled(app)
    client = app.test_client()
    password_step(client)
    wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
    for code in (wrong, "abc", "1234567"):
        response = code_step(client, code)
        assert response.status_code == 400
        assert "Der Code ist falsch" in response.get_data(as_text=True)
    assert sessions(app) == 0 and not logged_in(client)


def test_a_code_is_not_accepted_twice(app):
    totp = enrolled(app)
    first = app.test_client()
    password_step(first)
    code = totp.now()
    assert code_step(first, code).status_code == 303
    second = app.test_client()  # someone who saw the code, with the password
    password_step(second)
    response = code_step(second, code)
    assert response.status_code == 400 and "schon verwendet" in response.get_data(as_text=True)
    assert sessions(app) == 1 and not logged_in(second)


def test_the_code_step_needs_the_password_first(app):
    totp = enrolled(app)
    client = app.test_client()
    assert client.get("/verwaltung/login/code").headers["Location"] == "/verwaltung/login"
    token = csrf_token(client.get("/verwaltung/login").get_data(as_text=True))
    response = client.post("/verwaltung/login/code", data={"code": totp.now(), "csrf_token": token})
    assert response.status_code == 303 and sessions(app) == 0


def test_wrong_codes_count_towards_the_login_limits(instance):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN_ACCOUNT="2 per 15 minutes",
        RATELIMIT_LOGIN="100 per minute",
    )
    totp = enrolled(app)
    client = app.test_client()
    password_step(client)
    for _ in range(2):
        assert (
            code_step(client, "000000" if totp.now() != "000000" else "111111").status_code == 400
        )
    locked = code_step(client, totp.now())
    assert locked.status_code == 429
    assert "für dieses Konto" in locked.get_data(as_text=True)
    assert password_step(app.test_client()).status_code == 429  # the account, from anywhere


def enrol_on_the_page(client) -> tuple[object, str]:
    page = client.get("/verwaltung/zwei-faktor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    uri = re.search(r"otpauth://totp/[^<\s]+", html).group(0).replace("&amp;", "&")
    totp = pyotp.parse_uri(uri)
    assert totp.secret in html and "Gemeinsame%20Sache" in uri
    return totp, csrf_token(html)


def test_an_officer_enrols_on_the_page_with_a_code_from_the_app(app):
    client = app.test_client()
    password_step(client)
    totp, token = enrol_on_the_page(client)
    response = client.post("/verwaltung/zwei-faktor", data={"code": "12", "csrf_token": token})
    assert response.status_code == 400 and "Der Code passt nicht" in response.get_data(as_text=True)
    with get_store(app).session() as s:
        assert s.scalar(select(User.totp_secret)) is None  # not before a right code
    response = client.post(
        "/verwaltung/zwei-faktor", data={"code": totp.now(), "csrf_token": token}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/verwaltung/"
    with get_store(app).session() as s:
        assert s.scalar(select(User.totp_secret)) == totp.secret
    # The next login asks for a code; the one used to enrol is spent.
    other = app.test_client()
    assert password_step(other).headers["Location"] == "/verwaltung/login/code"
    assert code_step(other, totp.now()).status_code == 400
    # Once enrolled, the page offers no new secret: a session alone cannot swap the factor.
    page = client.get("/verwaltung/zwei-faktor").get_data(as_text=True)
    assert 'id="totp-enrolled"' in page and "otpauth://" not in page
    answer = client.post("/verwaltung/zwei-faktor", data={"code": "123456", "csrf_token": token})
    assert answer.status_code == 200
    with get_store(app).session() as s:
        assert s.scalar(select(User.totp_secret)) == totp.secret


def test_required_totp_sends_an_account_without_it_to_enrol_first(instance):
    app = make_app(REQUIRE_TOTP=True)
    client = app.test_client()
    response = password_step(client)
    assert response.headers["Location"] == "/verwaltung/zwei-faktor"
    for path in ("/verwaltung/", "/verwaltung/projekte", "/verwaltung/einreichungen/x"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"] == "/verwaltung/zwei-faktor"
    totp, token = enrol_on_the_page(client)
    assert "vorgeschrieben" in client.get("/verwaltung/zwei-faktor").get_data(as_text=True)
    client.post("/verwaltung/zwei-faktor", data={"code": totp.now(), "csrf_token": token})
    assert logged_in(client)


def test_the_cli_enrols_and_removes_totp(app, cli):
    result = cli("users", "totp", EMAIL)
    assert result.exit_code == 0, result.output
    uri = re.search(r"otpauth://\S+", result.output).group(0)
    secret = pyotp.parse_uri(uri).secret
    assert f"Secret: {secret}" in result.output
    with get_store(app).session() as s:
        assert s.scalar(select(User.totp_secret)) == secret
    assert cli("users", "totp", EMAIL, "--off").exit_code == 0
    with get_store(app).session() as s:
        assert s.scalar(select(User.totp_secret)) is None
    assert cli("users", "totp", "nobody@x.example").exit_code != 0
