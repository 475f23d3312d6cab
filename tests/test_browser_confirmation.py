"""Issue 21 in a real browser against a served instance: an entry whose reminder went unanswered
is drawn muted and says so in its popup; the page behind a reminder's link is accessible, and
its "Läuft noch" button confirms the entry, which then says when."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from atlas.core.reminders import link_token
from atlas.store import Project, Store, utcnow
from tests.support.accessibility import axe_violations, describe
from tests.support.browser import marker_count, settle
from tests.support.live_server import atlas_env, database_url, free_port, run_atlas, served

PROJECT = "willkommenskultur-meppen"  # alone in the Landkreis Emsland


@pytest.fixture(scope="module")
def confirm_instance(tmp_path_factory):
    """`atlas init`, one curated entry with a contact who agreed, reminded 61 days ago; served.
    (base URL, the instance's secret key, its store)."""
    port = free_port()
    folder = tmp_path_factory.mktemp("confirm-instance")
    env = atlas_env(folder, ATLAS_PUBLIC_URL=f"http://127.0.0.1:{port}")
    init = run_atlas(["init"], env)
    assert init.returncode == 0, init.stderr
    store = Store(database_url(env))
    long_ago = utcnow() - timedelta(days=500)
    with store.session.begin() as s:
        s.execute(
            update(Project)
            .where(Project.id == PROJECT)
            .values(
                contact_email="kontakt@example.org",  # synthetic test address
                ask_consent=True,
                confirmed_at=long_ago,
                reminded_at=utcnow() - timedelta(days=61),
            )
        )
    with served(env, port=port) as (_proc, base):
        secret = env["ATLAS_SECRET_KEY"]  # atlas_env gives the instances one shared key
        yield base, secret, store


@pytest.fixture
def server(confirm_instance):  # what tests.support.browser's `watched` serves
    return confirm_instance[0]


def test_an_unanswered_entry_is_muted_on_the_map_and_says_since_when(watched, confirm_instance):
    base, _secret, _store = confirm_instance
    page = watched.page
    page.goto(f"{base}/?district=03454")
    assert marker_count(page) == 1
    marker = page.locator(".leaflet-marker-icon.project-marker")
    assert "unconfirmed" in marker.get_attribute("class")
    assert (
        page.evaluate("() => +getComputedStyle(document.querySelector('.project-marker')).opacity")
        < 0.6
    )
    marker.click()
    popup = page.locator(".leaflet-popup-content .freshness")
    popup.wait_for()
    assert popup.inner_text().startswith("Nicht bestätigt seit ")


def test_the_reminder_page_is_accessible_and_its_button_confirms(watched, confirm_instance):
    base, secret, store = confirm_instance
    page = watched.page
    page.goto(f"{base}/bestaetigen/{PROJECT}/{link_token(secret, PROJECT)}")
    settle(page)
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    opened = store.get(PROJECT).confirmed_at.date()
    assert opened < (utcnow() - timedelta(days=400)).date()  # opening changed nothing
    page.get_by_role("button", name="Läuft noch").click()
    page.get_by_role("status").wait_for()
    assert "ist als laufend bestätigt" in page.get_by_role("status").inner_text()
    page.goto(f"{base}/projekte/{PROJECT}")
    assert re.search(r"Zuletzt bestätigt: \w+ \d{4}", page.locator(".freshness").inner_text())
    violations = axe_violations(page)
    assert violations == [], describe(violations)
