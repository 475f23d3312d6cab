"""The life of a submission after it is stored: the precision of its point, the private link
after the decision (change, withdraw), the offices' work on published projects, and the German
pages officers see. Flask test client and a real database, as in tests/test_submissions.py.
"""

from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
from datetime import UTC, datetime

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from atlas.store import AuditEntry, OutboxMessage, Project
from atlas.web.app import create_app, wording
from atlas.web.extensions import get_store
from tests import test_submissions as base
from tests.test_submissions import VALID, csrf, login, pending, submit

app = base.app  # the seeded store with officers in Lüneburg and Weser-Ems and an administrator
client = base.client

OFFICER = "lg@arl.example"
OTHER_REGION = "we@arl.example"


def hidden(page: str, name: str) -> str:
    """A hidden (or text) input's value as the page renders it."""
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    if found is None:
        found = re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', page)
    return htmllib.unescape(found.group(1)) if found else ""


def point_fields(page: str) -> dict:
    return {k: hidden(page, k) for k in ("lat", "lon", "point_for", "origin")}


def stored(app, project_id: str) -> Project | None:
    with get_store(app).session() as s:
        return s.get(Project, project_id)


def the_only(app) -> Project:
    with get_store(app).session() as s:
        [project] = s.scalars(select(Project).where(Project.token_hash.is_not(None))).all()
    return project


def preview_then_confirm(client, **changes) -> tuple[str, str]:
    """Preview, then confirm with the point the preview set: (private link, preview page)."""
    page = submit(client, step="preview", **changes).get_data(as_text=True)
    done = submit(client, **changes, **point_fields(page))
    assert done.status_code == 303, done.get_data(as_text=True)
    return done.headers["Location"].split("?")[0], page


def approved(app, client, **changes) -> tuple[str, Project]:
    """A submission, approved by the Lüneburg office: (private link, project)."""
    link, _ = preview_then_confirm(client, **changes)
    project = the_only(app)
    officer = app.test_client()
    login(officer, OFFICER)
    url = f"/verwaltung/einreichungen/{project.id}"
    answer = officer.post(
        url + "/freigeben", data={"csrf_token": csrf(officer, url), "version": project.version}
    )
    assert answer.status_code == 303
    return link, stored(app, project.id)


def mails(app, subject_start: str) -> list[OutboxMessage]:
    with get_store(app).session() as s:
        return list(
            s.scalars(select(OutboxMessage).where(OutboxMessage.subject.startswith(subject_start)))
        )


def actions(app, project_id: str) -> list[str]:
    with get_store(app).session() as s:
        return [
            e.action
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.project_id == project_id)
                .order_by(AuditEntry.id)
            )
        ]


# --- the precision of the point -----------------------------------------------------------------


def test_a_point_left_where_the_geocoder_put_it_keeps_the_geocoders_precision(app, client):
    link, page = preview_then_confirm(client)
    # The offline gazetteer knows no streets: the preview says so and asks for the point.
    assert "Die Straße „Rathausstraße 1“ haben wir nicht gefunden." in page
    assert "Bitte ziehen Sie die Markierung an die richtige Stelle" in page
    # 21423 is Winsen's only postcode: the point is the town centre, and says so.
    assert "Genauigkeit des Punkts: Ortsmitte der Gemeinde" in page
    project = the_only(app)
    assert project.precision == "municipality"  # what the geocoder found, not "address"
    assert "Ortsmitte der Gemeinde" in client.get(link).get_data(as_text=True)


def test_a_point_moved_by_hand_is_manual(app, client):
    page = submit(client, step="preview").get_data(as_text=True)
    fields = point_fields(page)
    moved = dict(fields, lat="53.361234", lon="10.222222")
    assert submit(client, **moved).status_code == 303
    project = the_only(app)
    assert (project.lat, project.lon, project.precision) == (53.361234, 10.222222, "manual")


def test_a_forged_origin_gives_no_precision(app, client):
    page = submit(client, step="preview").get_data(as_text=True)
    fields = dict(point_fields(page))
    # Signed with another key, as someone claiming "address" for their point would have to.
    claim = {"lat": fields["lat"], "lon": fields["lon"], "precision": "address"}
    fields["origin"] = URLSafeSerializer("not-the-key", salt="atlas.point").dumps(claim)
    assert submit(client, **fields).status_code == 303
    assert the_only(app).precision == "manual"


def test_a_published_hand_placed_point_is_labelled_so(app, client):
    key = "|".join([VALID["street"].lower(), VALID["postcode"], VALID["city"].lower()])
    submit(client, lat="53.3601", lon="10.2202", point_for=key)
    project = the_only(app)
    login(client, OFFICER)
    url = f"/verwaltung/einreichungen/{project.id}"
    client.post(url + "/freigeben", data={"csrf_token": csrf(client, url), "version": 1})
    detail = client.get(f"/projekte/{project.id}").get_data(as_text=True)
    assert "von Hand auf der Karte gesetzt" in detail
    assert client.get(f"/api/projects/{project.id}").get_json()["properties"]["precision"] == (
        "manual"
    )


# --- choosing a candidate ----------------------------------------------------------------------


def choose(client, page: str, lat: str, **changes):
    value = re.search(rf'name="choose" value="([^"]+)"\s+data-lat="{lat}"', page).group(1)
    data = dict(VALID, **changes, csrf_token=csrf(client, "/einreichen"), step="preview")
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/einreichen", data=dict(data, choose=value)).get_data(as_text=True)


def test_choosing_a_candidate_corrects_a_postcode_of_another_place(app, client):
    wrong = {"postcode": "29308", "street": None}  # 29308 is Winsen (Aller)'s
    page = submit(client, step="preview", **wrong).get_data(as_text=True)
    assert "nicht eindeutig" in page
    picked = choose(client, page, "53.35777", **wrong)
    assert "Vorschau: Liegt der Punkt richtig?" in picked
    assert (
        "Die Postleitzahl 29308 gehört nicht zu Winsen (Luhe). Wir haben sie auf 21423 geändert"
        in picked
    )
    assert hidden(picked, "postcode") == "21423"
    done = submit(client, postcode="21423", street=None, **point_fields(picked))
    assert done.status_code == 303
    project = the_only(app)
    assert (project.postcode, project.district_code, project.precision) == (
        "21423",
        "03353",
        "municipality",  # the chosen candidate's own precision
    )


def test_choosing_a_place_with_several_postcodes_says_which(app, client):
    wrong = {"postcode": "30169", "city": "Göttingen", "street": None}
    page = submit(client, step="preview", **wrong).get_data(as_text=True)
    picked = choose(client, page, "51.53443", **wrong)
    assert "Die Postleitzahl 30169 gehört nicht zu Göttingen (dort: 37073, 37075" in picked
    assert hidden(picked, "postcode") == "30169"  # not guessed


# --- the rate limit ----------------------------------------------------------------------------


def test_the_429_page_says_how_long_to_wait_and_keeps_what_was_typed(instance):
    app = create_app({"TESTING": True, "RATELIMIT_SUBMIT": "1 per hour"})
    get_store(app).create_schema()
    client = app.test_client()
    assert submit(client).status_code == 303
    late = submit(client, name="Fahrradwerkstatt Ost", description="Wir reparieren " * 5)
    page = late.get_data(as_text=True)
    assert late.status_code == 429
    assert re.search(r"Bitte warten Sie noch etwa (\d+) Minuten \(bis [^)]+ (MEZ|MESZ)\)", page)
    assert "höchstens 1 pro Stunde" in page and "Ihre Angaben stehen unten noch im Formular" in page
    assert hidden(page, "name") == "Fahrradwerkstatt Ost"
    assert (
        "Wir reparieren Wir reparieren" in page
        and hidden(page, "contact_email") == (VALID["contact_email"])
    )
    assert late.headers["Retry-After"]


def test_the_login_limit_answers_in_german(instance):
    app = create_app({"TESTING": True, "RATELIMIT_LOGIN": "1 per minute"})
    get_store(app).create_schema()
    client = app.test_client()
    for _ in range(2):
        answer = client.post("/verwaltung/login", data={"email": "a@b.de", "password": "x"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 429 and "Zu viele fehlgeschlagene Anmeldeversuche" in page
    assert "Bitte warten Sie eine Minute" in page and answer.headers["Retry-After"]


# --- the private link after the decision ---------------------------------------------------------


def edit_via_link(client, link: str, **changes):
    page = client.get(link).get_data(as_text=True)
    data = dict(VALID, **changes, **point_fields(page), step="confirm")
    data["csrf_token"] = csrf(client, link)
    return client.post(link, data={k: v for k, v in data.items() if v is not None})


def test_after_approval_a_change_of_unpublished_contact_data_is_saved_at_once(app, client):
    link, project = approved(app, client)
    answer = edit_via_link(client, link, contact_name="Erika Muster")
    assert answer.status_code == 303 and "gespeichert=1" in answer.headers["Location"]
    now = stored(app, project.id)
    assert now.status == "published" and now.contact_name == "Erika Muster"
    assert client.get(f"/api/projects/{project.id}").status_code == 200
    assert (now.lat, now.lon, now.precision) == (project.lat, project.lon, project.precision)


def test_after_approval_a_public_change_goes_back_to_the_queue(app, client):
    link, project = approved(app, client)
    page = client.get(link).get_data(as_text=True)
    assert "Änderung beantragen" in page and "Bis zur erneuten Freigabe" in page
    answer = edit_via_link(client, link, description=VALID["description"] + " Neu: auch samstags.")
    assert answer.status_code == 303 and "zur_pruefung=1" in answer.headers["Location"]
    now = stored(app, project.id)
    assert now.status == "pending" and now.description.endswith("auch samstags.")
    # Off the atlas until checked; in the office's queue, marked as a change; the office told.
    assert client.get(f"/api/projects/{project.id}").status_code == 404
    status_page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "liegen dem Amt für regionale Landesentwicklung Lüneburg zur Prüfung vor" in status_page
    [notice, _] = sorted(mails(app, "Änderungswunsch"), key=lambda m: m.recipient)
    assert f"/verwaltung/einreichungen/{project.id}" in notice.body
    officer = app.test_client()
    login(officer, OFFICER)
    queue = officer.get("/verwaltung/").get_data(as_text=True)
    assert "Änderungswunsch" in queue and project.name in queue
    url = f"/verwaltung/einreichungen/{project.id}"
    officer.post(
        url + "/freigeben", data={"csrf_token": csrf(officer, url), "version": now.version}
    )
    assert stored(app, project.id).status == "published"
    assert actions(app, project.id) == ["submitted", "approved", "change requested", "approved"]


def test_a_rejected_submission_can_be_revised_and_sent_again(app, client):
    link, _ = preview_then_confirm(client)
    project = the_only(app)
    login(client, OFFICER)
    url = f"/verwaltung/einreichungen/{project.id}"
    client.post(
        url + "/ablehnen",
        data={"csrf_token": csrf(client, url), "version": 1, "reason": "Bitte genauer."},
    )
    page = client.get(link).get_data(as_text=True)
    assert "Überarbeiten und erneut einreichen" in page and "Bitte genauer." in page
    edit_via_link(client, link, description=VALID["description"] + " Genauer: dienstags 17 Uhr.")
    assert stored(app, project.id).status == "pending"


def public_ids(app, client, cli, name: str) -> dict[str, bool]:
    """Where a project named `name` shows: map markers, list, API, downloads, CLI export."""
    with get_store(app).session() as s:
        project_id = s.scalar(select(Project.id).where(Project.name == name))
    markers = client.get("/api/markers?region=lueneburg").get_json()["rows"]
    region_csv = client.get("/regionen/lueneburg/projekte.csv").get_data(as_text=True)
    region_geo = client.get("/regionen/lueneburg/projekte.geojson").get_json()
    exported = json.loads(cli("export").stdout)
    exported_csv = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv").stdout)))
    return {
        "markers": any(row[0] == project_id for row in markers),
        "list": name in client.get("/projekte?q=naehcafe").get_data(as_text=True),
        "detail": client.get(f"/projekte/{project_id}").status_code == 200,
        "api": client.get("/api/projects?q=naehcafe").get_json()["total"] == 1,
        "api item": client.get(f"/api/projects/{project_id}").status_code == 200,
        "region csv": name in region_csv,
        "region geojson": any(f["properties"]["name"] == name for f in region_geo["features"]),
        "export geojson": any(f["properties"]["name"] == name for f in exported["features"]),
        "export csv": any(r["name"] == name for r in exported_csv),
    }


def test_a_withdrawn_published_project_is_gone_from_map_list_api_and_exports(app, client, cli):
    link, project = approved(app, client)
    assert all(public_ids(app, client, cli, VALID["name"]).values())
    confirm_page = client.get(link + "/zurueckziehen").get_data(as_text=True)
    assert "verschwindet das Projekt sofort aus dem Atlas" in confirm_page
    assert all(public_ids(app, client, cli, VALID["name"]).values())  # asking changes nothing
    done = client.post(
        link + "/zurueckziehen", data={"csrf_token": csrf(client, link), "bestaetigt": "ja"}
    )
    assert done.status_code == 200
    assert "Das Projekt ist nicht mehr im Atlas zu sehen." in done.get_data(as_text=True)
    where = public_ids(app, client, cli, VALID["name"])
    assert not any(where.values()), where
    assert stored(app, project.id) is None and client.get(link).status_code == 404
    # The log keeps that it happened, under a pseudonym (the id is made from the name).
    assert actions(app, project.id) == []
    with get_store(app).session() as s:
        kept = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert kept == ["submitted", "approved", "withdrawn"]


# --- the offices ---------------------------------------------------------------------------------


def officer_edit(client, project_id: str, **changes):
    """The item page's edit form as the page fills it, with the officer's changes."""
    url = f"/verwaltung/einreichungen/{project_id}"
    page = client.get(url).get_data(as_text=True)
    form = page[page.index('action="' + url + '/bearbeiten"') :]
    data = {
        k: hidden(form, k)
        for k in ("name", "organisation", "street", "postcode", "city", "website", "version")
    }
    data.update(point_fields(form), csrf_token=csrf(client, url))
    data["description"] = htmllib.unescape(
        re.search(r'<textarea[^>]*name="description"[^>]*>\s*(.*?)</textarea>', form, re.S).group(1)
    )
    data["fields"] = re.findall(r'checked[^>]*name="fields"[^>]*value="([^"]+)"', form) or (
        re.findall(r'name="fields"[^>]*value="([^"]+)"[^>]*checked', form)
    )
    data.update(changes)
    return client.post(url + "/bearbeiten", data=data)


def test_an_officer_edit_keeps_a_hand_corrected_point_and_the_contact_data(app, client):
    key = "|".join([VALID["street"].lower(), VALID["postcode"], VALID["city"].lower()])
    submit(client, lat="53.3601", lon="10.2202", point_for=key)  # set by hand on the map
    project = the_only(app)
    assert project.precision == "manual"
    login(client, OFFICER)
    answer = officer_edit(client, project.id, name="Nähcafé Miteinander Winsen")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    now = stored(app, project.id)
    assert now.status == "published" and now.name == "Nähcafé Miteinander Winsen"
    assert (now.lat, now.lon, now.precision) == (53.3601, 10.2202, "manual")
    assert (now.contact_name, now.contact_email) == ("Erika Beispiel", "erika@example.org")
    assert now.publish_email == project.publish_email


def test_an_officer_edit_keeps_an_unknown_precision_unknown(app, client):
    _, project = approved(app, client)
    with get_store(app).session.begin() as s:
        s.get(Project, project.id).precision = None  # as imported without one
    login(client, OFFICER)
    assert officer_edit(client, project.id, name="Nähcafé Winsen").status_code == 303
    now = stored(app, project.id)
    assert (now.lat, now.lon, now.precision) == (project.lat, project.lon, None)


def test_an_officer_can_move_the_point_of_a_published_project(app, client):
    _, project = approved(app, client)
    assert project.precision == "municipality"
    login(client, OFFICER)
    answer = officer_edit(client, project.id, lat="53.362000", lon="10.215000")
    assert answer.status_code == 303
    now = stored(app, project.id)
    assert (now.lat, now.lon, now.precision, now.status) == (53.362, 10.215, "manual", "published")
    assert now.contact_name == "Erika Beispiel"
    feature = client.get(f"/api/projects/{project.id}").get_json()
    assert feature["geometry"]["coordinates"] == [10.215, 53.362]


def test_offices_unpublish_edit_and_republish_published_projects(app, client):
    link, project = approved(app, client)
    url = f"/verwaltung/einreichungen/{project.id}"
    outsider = app.test_client()
    login(outsider, OTHER_REGION)
    denied = outsider.post(
        url + "/zuruecknehmen",
        data={
            "csrf_token": csrf(outsider, "/verwaltung/"),
            "version": project.version,
            "reason": "x",
        },
    )
    assert denied.status_code == 403 and "Kein Zugriff" in denied.get_data(as_text=True)

    login(client, OFFICER)
    listed = client.get("/verwaltung/projekte?q=nähcafé").get_data(as_text=True)
    assert f'href="{url}">{project.name}</a>' in listed
    bare = client.post(
        url + "/zuruecknehmen", data={"csrf_token": csrf(client, url), "version": project.version}
    )
    assert bare.status_code == 400 and "Bitte begründen Sie" in bare.get_data(as_text=True)
    reason = "Das Angebot ruht bis zum Frühjahr."
    done = client.post(
        url + "/zuruecknehmen",
        data={"csrf_token": csrf(client, url), "version": project.version, "reason": reason},
    )
    assert done.status_code == 303
    assert stored(app, project.id).status == "rejected"  # audited as "unpublished"
    assert client.get(f"/api/projects/{project.id}").status_code == 404
    mine = client.get(link).get_data(as_text=True)
    assert "vom Amt aus dem Atlas genommen" in mine and reason in mine
    [told] = mails(app, "Ihr Projekt ist nicht mehr im Atlas")
    assert told.recipient == "erika@example.org" and f"Begründung: {reason}" in told.body
    off = client.get("/verwaltung/projekte?stand=rejected").get_data(as_text=True)
    assert "aus dem Atlas genommene Projekte" in off and f'href="{url}"' in off
    assert "aus dem Atlas genommen (lg@arl.example" in client.get(url).get_data(as_text=True)

    version = stored(app, project.id).version
    back = client.post(
        url + "/wieder-freigeben", data={"csrf_token": csrf(client, url), "version": version}
    )
    assert back.status_code == 303 and stored(app, project.id).status == "published"
    assert client.get(f"/api/projects/{project.id}").status_code == 200
    assert mails(app, "Ihr Projekt ist wieder im Atlas")

    answer = officer_edit(
        client, project.id, name="Nähcafé Winsen", note="Name wie auf Ihrer Website."
    )
    assert answer.status_code == 303
    now = stored(app, project.id)
    assert (now.status, now.name, now.contact_name) == (
        "published",
        "Nähcafé Winsen",
        "Erika Beispiel",
    )
    [changed] = mails(app, "Ihr Projekt wurde geändert")
    assert (
        "Geändert: Name" in changed.body and "Hinweis: Name wie auf Ihrer Website." in changed.body
    )
    assert actions(app, project.id) == [
        "submitted",
        "approved",
        "unpublished",
        "republished",
        "edited",
    ]
    with get_store(app).session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "unpublished")).one()
    assert entry.actor == OFFICER and entry.changes["decision_note"] == [None, reason]


def test_an_imported_project_can_be_taken_off_without_a_mail(app, client):
    login(client, OFFICER)
    with get_store(app).session() as s:
        seed = s.scalar(select(Project).where(Project.name == "Internationales Café"))
    url = f"/verwaltung/einreichungen/{seed.id}"
    done = client.post(
        url + "/zuruecknehmen",
        data={
            "csrf_token": csrf(client, url),
            "version": seed.version,
            "reason": "Gibt es nicht mehr.",
        },
    )
    assert done.status_code == 303 and stored(app, seed.id).status == "rejected"
    assert mails(app, "Ihr Projekt") == []


# --- German pages, Berlin times ---------------------------------------------------------------


def test_berlin_times_name_their_zone():
    assert wording.berlin_time(datetime(2026, 1, 5, 12, 0, tzinfo=UTC)) == "05.01.2026, 13:00 MEZ"
    assert wording.berlin_time(datetime(2026, 7, 5, 12, 0, tzinfo=UTC)) == "05.07.2026, 14:00 MESZ"
    assert wording.berlin_time(datetime(2026, 7, 5, 12, 0)) == "05.07.2026, 14:00 MESZ"  # SQLite
    assert wording.berlin_time(None) == "–"


@pytest.mark.parametrize("code", [400, 403, 404, 409, 429, 500])
def test_every_error_page_is_german(app, code):
    from flask import abort

    @app.get(f"/test-fehler-{code}")
    def fails():
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    answer = app.test_client().get(f"/test-fehler-{code}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == code
    title, _ = base_title(page)
    assert title in {
        "Ungültige Anfrage",
        "Kein Zugriff",
        "Seite nicht gefunden",
        "Inzwischen geändert",
        "Zu viele Anfragen",
        "Fehler",
    }
    for english in ("Bad Request", "Forbidden", "Not Found", "Conflict", "Too Many", "Internal"):
        assert english not in page


def base_title(page: str) -> tuple[str, str]:
    title = re.search(r"<h1>(.*?)</h1>", page).group(1)
    message = re.search(r"</h1>\s*<p>(.*?)</p>", page, re.S).group(1)
    return title, message


def test_a_stale_action_says_so_in_german(app, client):
    submit(client)
    [item] = pending(app)
    login(client, OFFICER)
    url = f"/verwaltung/einreichungen/{item.id}"
    late = client.post(url + "/freigeben", data={"csrf_token": csrf(client, url), "version": 7})
    assert late.status_code == 409 and "inzwischen von jemand anderem" in late.get_data(
        as_text=True
    )


def test_the_audit_log_and_the_outbox_are_german_with_names_and_berlin_times(app, client):
    link, project = approved(app, client)
    admin = app.test_client()
    login(admin, "admin@land.example")
    before = admin.get("/verwaltung/protokoll").get_data(as_text=True)
    assert "<strong>Stand</strong>: wartet auf Prüfung → freigegeben" in before
    client.post(
        link + "/zurueckziehen", data={"csrf_token": csrf(client, link), "bestaetigt": "ja"}
    )
    preview_then_confirm(client, name="Fahrradwerkstatt Ost")
    audit = admin.get("/verwaltung/protokoll").get_data(as_text=True)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td>", audit)
    assert {r[2] for r in rows} == {"eingereicht", "freigegeben", "zurückgezogen und gelöscht"}
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d (MEZ|MESZ)", r[0]) for r in rows)
    assert any("Fahrradwerkstatt Ost</a>" in r[3] for r in rows)  # the name, linked
    assert any(r[3].startswith("gelöscht") for r in rows)  # the withdrawn one is gone
    assert "published" not in audit and "approved" not in audit and "UTC" not in audit
    outbox = admin.get("/verwaltung/postausgang").get_data(as_text=True)
    assert re.search(r"An \S+ · \d\d\.\d\d\.\d{4}, \d\d:\d\d (MEZ|MESZ) ·", outbox)
    queue = admin.get("/verwaltung/").get_data(as_text=True)
    assert re.search(r"<td>\d\d\.\d\d\.\d{4}, \d\d:\d\d (MEZ|MESZ)</td>", queue)
