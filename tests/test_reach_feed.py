"""The feed of a search (/projekte.atom), read with feedparser as a feed reader would."""

from __future__ import annotations

import feedparser

from tests.test_api import client  # noqa: F401  (the fixture: the test projects stored)


def _feed(client, query: str = ""):  # noqa: F811
    response = client.get("/projekte.atom" + query)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_the_feed_lists_every_published_project_with_stable_ids(client):  # noqa: F811
    parsed = _feed(client)
    assert parsed.version == "atom10"
    titles = {e.title for e in parsed.entries}
    assert "Sprachcafé Linden" in titles and "Werkstatt Meppen" in titles
    assert "Wartet noch" not in titles  # pending
    for entry in parsed.entries:
        assert entry.id == entry.link
        assert entry.link.startswith("http://127.0.0.1:8000/projekte/")
        assert entry.updated_parsed and entry.summary
    assert [e.id for e in _feed(client).entries] == [e.id for e in parsed.entries]


def test_the_feed_takes_the_listings_filters(client):  # noqa: F811
    by_field = _feed(client, "?field=teilhabe")
    assert {e.title for e in by_field.entries} == {"Werkstatt Meppen", "Café International Winsen"}
    by_region = _feed(client, "?region=weser-ems")
    assert [e.title for e in by_region.entries] == ["Werkstatt Meppen"]
    nearby = _feed(client, "?near=30169+Hannover&radius_km=10")
    assert [e.title for e in nearby.entries] == ["Sprachcafé Linden"]
    assert "Hannover" in nearby.feed.title
    by_text = _feed(client, "?q=sprachcaf%C3%A9")
    assert [e.title for e in by_text.entries] == ["Sprachcafé Linden"]
    assert _feed(client, "?district=03241&field=arbeit-ausbildung").entries == []


def test_a_bad_filter_answers_400_in_german(client):  # noqa: F811
    response = client.get("/projekte.atom?field=nichts")
    assert response.status_code == 400
    assert "Handlungsfeld" in response.get_data(as_text=True)


def test_map_and_listing_announce_the_feed_of_their_filters(client):  # noqa: F811
    for path in ("/?field=sprache", "/projekte?field=sprache&sort=newest"):
        html = client.get(path).get_data(as_text=True)
        assert (
            '<link rel="alternate" type="application/atom+xml" '
            'title="Neue Projekte dieser Suche (Feed)" href="/projekte.atom?field=sprache">'
        ) in html
        assert 'href="/projekte.atom?field=sprache"' in html and "Als Feed abonnieren" in html
    assert "application/atom+xml" not in client.get("/datenschutz").get_data(as_text=True)


def test_a_reader_asking_again_gets_304(client):  # noqa: F811
    first = client.get("/projekte.atom?field=sprache")
    again = client.get(
        "/projekte.atom?field=sprache", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
