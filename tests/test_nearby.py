"""A volunteer's search near a place, with the Flask test client: what the heading says the
distances are measured from, the choices for an unclear place, places outside Lower Saxony,
region and district filters (issue 13, "Volunteers")."""

# ruff: noqa: F811
from __future__ import annotations

import html as html_lib
import re

import pytest

from atlas.core.projects import clean_record
from atlas.web.extensions import get_store
from atlas.web.maps import area_bounds

# `client` is the API tests' fixture (their projects), imported; the tests name it as usual.
from tests.test_api import PROJECTS, client  # noqa: F401


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def heading(html: str) -> str:
    found = re.search(r'<h2 id="results-heading">(.*?)</h2>', html, re.S).group(1)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", found)).split())


def note(html: str) -> str:
    return html_lib.unescape(re.search(r'<p class="hint" id="near-note">(.*?)</p>', html).group(1))


COORDINATES = re.compile(r"\d+\.\d{2,}")


@pytest.mark.parametrize("path", ["/", "/projekte"])
@pytest.mark.parametrize(
    "near, says, measured",
    [
        ("30451", "um 30451 Hannover", "Mitte des Postleitzahlgebiets 30451"),
        ("30175", "um 30175 Hannover (Ortsmitte)", "kennt der Atlas nur den Ort"),
        ("Hannover", "um Hannover (Ortsmitte)", "ab der Ortsmitte"),
        ("Winsen (Luhe)", "um Winsen (Luhe) (Ortsmitte)", "ab der Ortsmitte"),
        ("Landkreis Harburg", "um Landkreis Harburg (Kreismitte)", "Mitte des Landkreises"),
        # the offline gazetteer knows no streets: the heading does not pretend it does
        (
            "Planckstraße 2, 30169 Hannover",
            "um 30169 Hannover",
            "Straßen kennt die Ortssuche nicht",
        ),
    ],
)
def test_the_heading_names_what_the_distance_is_measured_from(client, path, near, says, measured):
    html = page(client, f"{path}?near={near}&radius_km=10")
    assert heading(html).endswith(f"im Umkreis von 10 km {says}")
    assert measured in note(html)


@pytest.mark.parametrize("path", ["/", "/projekte"])
def test_the_device_location_is_your_location_never_coordinates(client, path):
    html = page(client, f"{path}?near=52.37512,9.73201&near_source=device")
    assert heading(html).endswith("um Ihren Standort")
    assert "Ihr Browser" in note(html)
    assert not COORDINATES.search(heading(html))
    # coordinates without the flag name the nearest place
    other = heading(page(client, f"{path}?near=53.2494,10.4071"))
    assert other.endswith("um einen Punkt bei Lüneburg") and not COORDINATES.search(other)


@pytest.mark.parametrize("path", ["/", "/projekte"])
def test_an_unclear_place_offers_its_places_under_the_search_field(client, path):
    html = page(client, f"{path}?near=Winsen&field=teilhabe")
    search_field = html.index('id="f-near"')
    choices = html.index('id="place-problem"')
    assert search_field < choices < html.index('id="f-radius"')  # right under the field
    block = html[choices : html.index("</div>", choices)]
    assert "„Winsen“ gibt es mehrmals" in block
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a> \(([^)]+)\)', block)
    assert [(label, district) for _, label, district in links] == [
        ("Winsen (Luhe)", "Landkreis Harburg"),
        ("Winsen (Aller)", "Landkreis Celle"),
    ]
    # a choice keeps the other filters and searches by name
    chosen = html_lib.unescape(links[0][0])
    assert chosen == f"{path}?field=teilhabe&near=Winsen+%28Luhe%29"
    assert heading(page(client, chosen)).endswith("um Winsen (Luhe) (Ortsmitte)")


def test_the_map_says_in_its_status_line_which_places_there_are(client):
    html = page(client, "/?near=Winsen")
    status = re.search(r'<div id="map-status"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert "„Winsen“ gibt es mehrmals" in status
    assert "Winsen (Luhe)</a> (Landkreis Harburg)" in status
    assert 'data-clusters=""' in html  # no cluster feed that would only answer 400
    assert "ambiguous" not in html


@pytest.mark.parametrize("place", ["Bremen", "Hamburg", "Bremerhaven", "Hamburg-Harburg"])
@pytest.mark.parametrize("path", ["/", "/projekte"])
def test_a_place_outside_lower_saxony_is_said_to_be_outside(client, path, place):
    html = page(client, f"{path}?near={place}")
    assert f"„{place}“ liegt nicht in Niedersachsen." in html
    assert "Meinten Sie" not in html and "nicht gefunden" not in html


def test_a_typo_is_answered_with_suggestions(client):
    html = page(client, "/projekte?near=L%C3%BCnebrug")
    assert "„Lünebrug“ wurde in Niedersachsen nicht gefunden. Meinten Sie:" in html
    assert '<a href="/projekte?near=L%C3%BCneburg">Lüneburg</a> (Landkreis Lüneburg)' in html


def test_the_region_filter_zooms_the_map_to_the_region(client):
    html = page(client, "/?region=weser-ems")
    assert heading(html) == "1 Projekt in der Region Weser-Ems"
    (south, west), (north, east) = area_bounds("weser-ems")
    assert f"[[{south}, {west}], [{north}, {east}]]" in html
    assert 6.6 < west < east < 8.8  # Weser-Ems, not all of Lower Saxony
    (south, west), (north, east) = area_bounds(None, "03353")
    assert f"[[{south}, {west}], [{north}, {east}]]" in page(client, "/?district=03353")


@pytest.mark.parametrize("path", ["/", "/projekte"])
def test_contradicting_region_and_district_say_so(client, path):
    html = page(client, f"{path}?region=weser-ems&district=03241")
    assert (
        "„Region Hannover“ liegt in der Region Leine-Weser, nicht in der Region Weser-Ems." in html
    )
    assert f'<a href="{path}?district=03241">Nur Region Hannover zeigen</a>' in html
    assert f'<a href="{path}?region=weser-ems">Die ganze Region Weser-Ems zeigen</a>' in html


def test_the_list_heading_names_the_district_in_german(client):
    assert heading(page(client, "/projekte?district=03241")).endswith("in der Region Hannover")


def test_the_api_says_what_near_is_and_words_problems_in_german(client):
    body = client.get("/api/projects?near=30451").get_json()
    assert body["near"]["label"] == "30451 Hannover"
    assert (body["near"]["precision"], body["near"]["source"]) == ("postcode", "place")
    device = client.get("/api/projects?near=52.37,9.73&near_source=device").get_json()
    assert (device["near"]["label"], device["near"]["source"]) == ("Ihr Standort", "device")
    unclear = client.get("/api/markers?near=Winsen")
    assert unclear.status_code == 400
    body = unclear.get_json()
    assert body["de"] == "Den Ort „Winsen“ gibt es mehrmals. Welchen meinen Sie?"
    assert [c["near"] for c in body["candidates"]] == ["Winsen (Luhe)", "Winsen (Aller)"]
    outside = client.get("/api/markers?near=Bremen").get_json()
    assert (
        outside["de"] == "„Bremen“ liegt nicht in Niedersachsen." and outside["suggestions"] == []
    )
    bad = client.get("/api/projects?near=Hannover&near_source=gps")
    assert bad.status_code == 400 and "near_source" in bad.get_json()["error"]
    conflict = client.get("/api/projects?region=weser-ems&district=03241")
    assert conflict.status_code == 400
    assert "lies in region 'leine-weser'" in conflict.get_json()["error"]


@pytest.mark.parametrize(
    "precision, words",
    [("address", "Adresse"), ("postcode", "Mitte des Postleitzahlgebiets (ungefähr)")],
)
def test_the_project_page_words_its_precision_truly(app, precision, words):
    store = get_store(app)
    store.create_schema()
    store.save_all(
        [clean_record(dict(PROJECTS[0], name="Punkt", precision=precision), "test precision")]
    )
    html = app.test_client().get("/projekte/punkt-hannover").get_data(as_text=True)
    assert f"<dd>{words}</dd>" in html and "genau" not in html
