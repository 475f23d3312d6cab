"""Submitting a project and its moderation, with the Flask test client and a real SQLite file."""

from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import select

from atlas.core.accounts import add_user
from atlas.core.projects import clean_record
from atlas.store import AuditEntry, OutboxMessage, Project
from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.forms import csrf_token

PASSWORD = "ein-sicheres-passwort"
VALID = {
    "name": "Nähcafé Miteinander",
    "organisation": "Verein Miteinander e. V.",
    "description": "Wir nähen jeden Dienstag gemeinsam und sprechen dabei Deutsch.",
    "fields": ["sprache", "teilhabe"],
    "street": "Rathausstraße 1",
    "postcode": "21423",
    "city": "Winsen (Luhe)",
    "website": "https://example.org/naehcafe",
    "contact_name": "Erika Beispiel",
    "contact_email": "erika@example.org",
    "consent": "y",
}


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True})
    store = get_store(app)
    store.create_schema()
    store.save_all(
        [
            clean_record(
                {
                    "name": "Internationales Café",
                    "fields": "teilhabe",
                    "city": "Winsen (Luhe)",
                    "lat": 53.3578,
                    "lon": 10.2116,
                },
                "seed",
            )
        ]
    )
    add_user(store, "lg@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "lg2@arl.example", PASSWORD, "lueneburg", False)
    add_user(store, "we@arl.example", PASSWORD, "weser-ems", False)
    add_user(store, "admin@land.example", PASSWORD, None, True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(client, url: str) -> str:
    return csrf_token(client.get(url).get_data(as_text=True))


def submit(client, step="confirm", **changes):
    data = dict(VALID, **changes)
    data = {k: v for k, v in data.items() if v is not None}
    data["csrf_token"] = csrf(client, "/einreichen")
    data["step"] = step
    return client.post("/einreichen", data=data)


def pending(app) -> list[Project]:
    with get_store(app).session() as s:
        return list(s.scalars(select(Project).where(Project.status == "pending")))


def login(client, email: str):
    token = csrf(client, "/verwaltung/login")
    return client.post(
        "/verwaltung/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )


def test_the_form_has_every_field(client):
    html = client.get("/einreichen").get_data(as_text=True)
    for name in (
        "name",
        "organisation",
        "description",
        "fields",
        "street",
        "postcode",
        "city",
        "website",
        "contact_name",
        "contact_email",
        "publish_email",
        "consent",
        "csrf_token",
    ):
        assert f'name="{name}"' in html, name
    assert 'class="honeypot"' in html


def test_preview_shows_district_and_office_then_confirm_stores_pending(app, client):
    preview = submit(client, step="preview")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Harburg" in html and "Amt für regionale Landesentwicklung Lüneburg" in html
    assert 'value="confirm"' in html and pending(app) == []
    done = submit(client)
    assert done.status_code == 303
    assert re.match(r"^/einreichung/[\w-]{40,}\?neu=1$", done.headers["Location"])
    [stored] = pending(app)
    assert stored.region == "lueneburg" and stored.district_code == "03353"
    assert stored.contact_email == "erika@example.org" and stored.token_hash
    assert client.get("/api/projects?q=naehcafe").get_json()["total"] == 0
    status = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "wird geprüft" in status and "Vielen Dank" in status
    with get_store(app).session() as s:
        mails = list(s.scalars(select(OutboxMessage)))
    assert {m.recipient for m in mails} == {
        "lg@arl.example",
        "lg2@arl.example",
        "erika@example.org",
    }
    assert all(m.sent_at is None for m in mails)  # no SMTP: kept in the outbox


def test_a_missing_csrf_token_stores_nothing(app, client):
    data = dict(VALID, step="confirm")
    response = client.post("/einreichen", data=data)
    assert response.status_code == 400
    assert "Das Formular ist abgelaufen" in response.get_data(as_text=True)
    assert pending(app) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "Bitte den Namen des Projekts angeben."),
        ({"name": "x" * 201}, "Bitte 3 bis 200 Zeichen eingeben."),
        ({"description": "zu kurz"}, "Bitte 20 bis 4000 Zeichen eingeben."),
        ({"fields": None}, "Bitte mindestens ein Handlungsfeld wählen."),
        ({"fields": ["kochen"]}, "Unbekanntes Handlungsfeld: kochen."),
        ({"postcode": "2142"}, "Eine Postleitzahl hat fünf Ziffern."),
        ({"city": ""}, "Bitte den Ort angeben."),
        ({"website": "ftp://example.org"}, "Nur Adressen mit http:// oder https://"),
        ({"website": "javascript:alert(1)"}, "Nur Adressen mit http:// oder https://"),
        ({"contact_email": "keine-adresse"}, "Das ist keine gültige E-Mail-Adresse."),
        ({"contact_email": ""}, "Bitte eine E-Mail-Adresse angeben"),
        ({"consent": None}, "Ohne Ihre Einwilligung"),
        (
            {"postcode": "28195", "city": "Bremen", "street": None},
            "in Niedersachsen nicht gefunden",
        ),
        ({"lat": "53.0793", "lon": "8.8017"}, "liegt nicht in Niedersachsen"),
        ({"lat": "abc", "lon": "8.8"}, "Ungültige Koordinate."),
    ],
)
def test_every_invalid_field_is_explained_and_nothing_is_stored(app, client, changes, message):
    if "lat" in changes:
        changes["point_for"] = "|".join(
            [VALID["street"].lower(), VALID["postcode"], VALID["city"].lower()]
        )
    response = submit(client, **changes)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert pending(app) == []


def test_honeypot_catches_a_bot(app, client):
    response = submit(client, homepage="http://spam.example")
    assert response.status_code == 400 and pending(app) == []


def test_submissions_are_rate_limited_per_client(instance):
    """The limit counts stored submissions; previews never use it up."""
    app = create_app({"TESTING": True, "RATELIMIT_SUBMIT": "3 per minute"})
    get_store(app).create_schema()
    client = app.test_client()
    assert [submit(client, step="preview").status_code for _ in range(5)] == [200] * 5
    names = ["Nähcafé", "Fahrradwerkstatt Ost", "Kochtreff International", "Hausaufgabenhilfe"]
    codes = [submit(client, name=n).status_code for n in names]
    assert codes == [303, 303, 303, 429]
    assert submit(client, step="preview").status_code == 200  # a preview still works
    assert len(pending(app)) == 3


def test_rate_limit_can_be_switched_off(instance, monkeypatch):
    monkeypatch.setenv("ATLAS_RATELIMIT_ENABLED", "0")
    app = create_app({"TESTING": True, "RATELIMIT_SUBMIT": "1 per minute"})
    get_store(app).create_schema()
    client = app.test_client()
    assert [submit(client, step="preview").status_code for _ in range(3)] == [200, 200, 200]


def test_a_likely_duplicate_is_pointed_out_before_it_is_stored(app, client):
    response = submit(client, name="Internationales Cafe")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Ähnliche Projekte gibt es in der Nähe schon" in html
    assert "Bitte prüfen Sie die ähnlichen Projekte" in html and pending(app) == []
    assert submit(client, name="Internationales Cafe", confirm_duplicate="y").status_code == 303
    assert len(pending(app)) == 1


def test_an_ambiguous_place_offers_candidates_to_pick(app, client):
    response = submit(client, step="preview", postcode="29308", street=None)
    html = response.get_data(as_text=True)
    assert "nicht eindeutig" in html and 'name="choose"' in html
    choice = re.search(r'name="choose" value="([^"]+)"', html).group(1)
    data = dict(
        VALID,
        postcode="29308",
        street="",
        csrf_token=csrf(client, "/einreichen"),
        step="preview",
        choose=choice,
    )
    picked = client.post("/einreichen", data=data).get_data(as_text=True)
    assert "Vorschau: Liegt der Punkt richtig?" in picked


def test_a_corrected_point_is_kept(app, client):
    key = "|".join([VALID["street"].lower(), VALID["postcode"], VALID["city"].lower()])
    response = submit(client, lat="53.3601", lon="10.2202", point_for=key)
    assert response.status_code == 303
    [stored] = pending(app)
    # Placed by hand (no signed origin says otherwise): "manual", never "address".
    assert (stored.lat, stored.lon, stored.precision) == (53.3601, 10.2202, "manual")


def test_a_changed_address_is_geocoded_again(app, client):
    stale_key = "|".join(["", "30169", "hannover"])
    response = submit(client, lat="52.37", lon="9.73", point_for=stale_key)
    assert response.status_code == 303
    assert pending(app)[0].district_code == "03353"  # Winsen, not the old Hannover point


def private_link(app, client) -> str:
    return submit(client).headers["Location"].split("?")[0]


def test_the_private_link_edits_and_withdraws(app, client):
    link = private_link(app, client)
    data = dict(
        VALID, name="Nähcafé Miteinander Winsen", step="confirm", csrf_token=csrf(client, link)
    )
    saved = client.post(link, data=data)
    assert saved.status_code == 303
    assert pending(app)[0].name == "Nähcafé Miteinander Winsen"
    asked = client.get(link + "/zurueckziehen").get_data(as_text=True)
    assert "endgültig zurückziehen" in asked and pending(app)  # asking deletes nothing
    unconfirmed = client.post(link + "/zurueckziehen", data={"csrf_token": csrf(client, link)})
    assert unconfirmed.status_code == 303 and pending(app)
    withdraw = client.post(
        link + "/zurueckziehen", data={"csrf_token": csrf(client, link), "bestaetigt": "ja"}
    )
    assert withdraw.status_code == 200 and "gelöscht" in withdraw.get_data(as_text=True)
    with get_store(app).session() as s:
        assert s.scalar(select(Project).where(Project.contact_email == "erika@example.org")) is None
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        entries = json.dumps([e.changes for e in s.scalars(select(AuditEntry))])
    assert actions == ["submitted", "edited", "withdrawn"]
    assert "erika" not in entries.lower()
    assert client.get(link).status_code == 404
    assert client.get("/einreichung/ratet-mal").status_code == 404


def test_login_wrong_password_and_cookie_flags(app, client):
    assert client.get("/verwaltung/").status_code == 302
    token = csrf(client, "/verwaltung/login")
    wrong = client.post(
        "/verwaltung/login",
        data={"email": "lg@arl.example", "password": "falsch", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert "E-Mail-Adresse oder Passwort ist falsch." in wrong.get_data(as_text=True)
    right = login(client, "lg@arl.example")
    assert right.status_code == 303 and right.headers["Location"] == "/verwaltung/"
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/verwaltung/").status_code == 200


def test_login_is_rate_limited(instance):
    app = create_app({"TESTING": True, "RATELIMIT_LOGIN": "2 per minute"})
    get_store(app).create_schema()
    client = app.test_client()
    codes = [
        client.post("/verwaltung/login", data={"email": "a@b.de", "password": "x"}).status_code
        for _ in range(3)
    ]
    assert codes[-1] == 429


def approve(client, project: Project, version=None):
    url = f"/verwaltung/einreichungen/{project.id}"
    return client.post(
        url + "/freigeben",
        data={"csrf_token": csrf(client, url), "version": version or project.version},
    )


def test_officer_sees_own_region_and_approves(app, client):
    submit(client)
    [item] = pending(app)
    login(client, "lg@arl.example")
    queue = client.get("/verwaltung/").get_data(as_text=True)
    assert "Nähcafé Miteinander" in queue
    assert queue.count('class=\\"queue-number\\"') == 1  # numbered on the map
    response = approve(client, item)
    assert response.status_code == 303
    public = client.get("/api/projects?q=naehcafe").get_json()
    assert public["total"] == 1 and public["features"][0]["properties"]["region"] == "lueneburg"
    assert "Nähcafé Miteinander" in client.get("/projekte?q=naehcafe").get_data(as_text=True)
    with get_store(app).session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "approved")).one()
        mail = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.recipient == "erika@example.org",
                OutboxMessage.subject.like("Entscheidung%"),
            )
        ).one()
    assert entry.actor == "lg@arl.example" and entry.changes["status"] == ["pending", "published"]
    assert "freigegeben" in mail.body


def test_an_officer_cannot_act_on_another_region(app, client):
    submit(client)
    [item] = pending(app)
    login(client, "we@arl.example")
    url = f"/verwaltung/einreichungen/{item.id}"
    assert client.get(url).status_code == 403
    assert "Nähcafé" not in client.get("/verwaltung/?region=lueneburg").get_data(as_text=True)
    token = csrf(client, "/verwaltung/")
    for action in ("freigeben", "ablehnen", "bearbeiten", "verschieben"):
        response = client.post(
            f"{url}/{action}",
            data={"csrf_token": token, "version": "1", "reason": "x", "region": "weser-ems"},
        )
        assert response.status_code == 403, action
    assert pending(app)[0].version == 1


def test_reject_needs_a_reason_and_tells_the_submitter(app, client):
    link = private_link(app, client)
    [item] = pending(app)
    login(client, "lg@arl.example")
    url = f"/verwaltung/einreichungen/{item.id}"
    bare = client.post(url + "/ablehnen", data={"csrf_token": csrf(client, url), "version": 1})
    assert bare.status_code == 400 and "Bitte begründen" in bare.get_data(as_text=True)
    done = client.post(
        url + "/ablehnen",
        data={
            "csrf_token": csrf(client, url),
            "version": 1,
            "reason": "Kein Bezug zu Niedersachsen.",
        },
    )
    assert done.status_code == 303
    status = client.get(link).get_data(as_text=True)
    assert "nicht freigegeben" in status and "Kein Bezug zu Niedersachsen." in status


def test_two_officers_at_once_one_wins_the_other_is_told(app):
    first, second = app.test_client(), app.test_client()
    submit(first)
    [item] = pending(app)
    login(first, "lg@arl.example")
    login(second, "lg2@arl.example")
    url = f"/verwaltung/einreichungen/{item.id}"
    t1, t2 = csrf(first, url), csrf(second, url)
    assert first.post(url + "/freigeben", data={"csrf_token": t1, "version": 1}).status_code == 303
    late = second.post(url + "/ablehnen", data={"csrf_token": t2, "version": 1, "reason": "nein"})
    assert late.status_code == 409
    assert "inzwischen von jemand anderem" in late.get_data(as_text=True)
    with get_store(app).session() as s:
        assert s.get(Project, item.id).status == "published"
        assert [
            e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.project_id == item.id))
        ] == ["submitted", "approved"]


def test_concurrent_decisions_in_threads_apply_exactly_one(app):
    from atlas.core import submissions

    client = app.test_client()
    submit(client)
    [item] = pending(app)
    store = get_store(app)
    results = []
    barrier = threading.Barrier(8)

    def act(i):
        barrier.wait()
        results.append(submissions.decide(store, item.id, 1, f"officer{i}", i % 2 == 0, "x"))

    threads = [threading.Thread(target=act, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    with store.session() as s:
        assert (
            len(
                s.scalars(
                    select(AuditEntry).where(AuditEntry.action.in_(("approved", "rejected")))
                ).all()
            )
            == 1
        )


def test_edit_and_approve(app, client):
    submit(client)
    [item] = pending(app)
    login(client, "lg@arl.example")
    url = f"/verwaltung/einreichungen/{item.id}"
    data = {
        "csrf_token": csrf(client, url),
        "version": 1,
        "name": "Nähcafé Winsen",
        "description": VALID["description"],
        "fields": ["sprache"],
        "postcode": "21423",
        "city": "Winsen (Luhe)",
        "street": "",
        "organisation": "",
        "website": "",
    }
    assert client.post(url + "/bearbeiten", data=data).status_code == 303
    with get_store(app).session() as s:
        project = s.get(Project, item.id)
        edited = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "edited and approved")
        ).one()
    assert project.status == "published" and project.name == "Nähcafé Winsen"
    assert edited.changes["name"] == ["Nähcafé Miteinander", "Nähcafé Winsen"]
    assert edited.changes["status"] == ["pending", "published"]


def test_admin_moves_between_regions_and_reads_audit_and_outbox(app, client):
    submit(client)
    [item] = pending(app)
    login(client, "admin@land.example")
    queue = client.get("/verwaltung/").get_data(as_text=True)
    assert "Nähcafé Miteinander" in queue
    url = f"/verwaltung/einreichungen/{item.id}"
    moved = client.post(
        url + "/verschieben",
        data={"csrf_token": csrf(client, url), "version": 1, "region": "weser-ems"},
    )
    assert moved.status_code == 303
    assert pending(app)[0].region == "weser-ems"
    audit = client.get("/verwaltung/protokoll").get_data(as_text=True)
    assert (
        "an andere Region übergeben" in audit
        and "<strong>Region</strong>: Lüneburg → Weser-Ems" in audit
    )
    assert f'href="/verwaltung/einreichungen/{item.id}">Nähcafé Miteinander</a>' in audit
    outbox = client.get("/verwaltung/postausgang").get_data(as_text=True)
    assert "Neue Einreichung: Nähcafé Miteinander" in outbox
    assert "Einreichung an Ihre Region übergeben" in outbox and "we@arl.example" in outbox
    officer = app.test_client()
    login(officer, "we@arl.example")
    assert officer.get(url).status_code == 200
    assert officer.get("/verwaltung/protokoll").status_code == 403
    assert officer.get("/verwaltung/postausgang").status_code == 403


def test_login_redirect_stays_on_this_site(app, client):
    token = csrf(client, "/verwaltung/login?next=//evil.example/")
    response = client.post(
        "/verwaltung/login?next=//evil.example/",
        data={"email": "lg@arl.example", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/verwaltung/"


def test_request_size_is_capped(app, client):
    response = client.post("/einreichen", data={"description": "x" * 400_000})
    assert response.status_code == 413 and pending(app) == []


def test_export_with_status(app, client, cli):
    submit(client)
    result = cli("export", "--format", "csv", "--status", "pending")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and ",pending," in lines[1] and "Nähcafé Miteinander" in lines[1]
    everything = json.loads(cli("export", "--status", "all").stdout)
    assert {f["properties"]["status"] for f in everything["features"]} == {"pending", "published"}


def test_mail_links_use_the_configured_address_not_the_host_header(app):
    client = app.test_client()
    page = client.get("/einreichen", base_url="http://evil.example").get_data(as_text=True)
    data = dict(VALID, step="confirm", csrf_token=csrf_token(page))
    assert client.post("/einreichen", data=data, base_url="http://evil.example").status_code == 303
    with get_store(app).session() as s:
        bodies = [m.body for m in s.scalars(select(OutboxMessage))]
    assert bodies and all("evil.example" not in b for b in bodies)
    assert all("http://127.0.0.1:8000/" in b for b in bodies)


def test_a_page_of_the_offices_asks_for_login_and_returns_there_and_logout_ends_it(app, client):
    response = client.get("/verwaltung/einreichungen/x")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        "/verwaltung/login?next=/verwaltung/einreichungen/x?"
    )
    token = csrf(client, "/verwaltung/login")
    response = client.post(
        "/verwaltung/login?next=/verwaltung/protokoll",
        data={"email": "admin@land.example", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/verwaltung/protokoll"
    assert client.get("/verwaltung/protokoll").status_code == 200
    client.post("/verwaltung/logout", data={"csrf_token": csrf(client, "/verwaltung/")})
    assert client.get("/verwaltung/protokoll").status_code == 302
