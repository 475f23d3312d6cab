"""Geocoding as people type it, against the committed gazetteer; the online path against a local stub."""

from __future__ import annotations

import gzip
import json
import re
import time

import pytest
from geopy.distance import geodesic
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from atlas.geo import geocoding, regions
from atlas.geo.geocoding import GAZETTEER_FILE, OfflineGeocoder, online_geocoder, resolve
from tests.support.nominatim_stub import FAILING, NominatimStub

ANSWER_KEYS = {
    "lat",
    "lon",
    "label",
    "postcode",
    "district_code",
    "district",
    "region",
    "precision",
}
TOP_KEYS = {"query", "status", "candidates"} | ANSWER_KEYS
USER_AGENT = "gemeinsame-sache-atlas-tests/0.1 (tests@example.org)"
KROEPCKE = (52.3747, 9.7385)  # Hannover's city centre
LUENEBURG_MARKT = (53.2494, 10.4071)


def ok(query, **geocoder):
    answer = resolve(query, **geocoder)
    assert answer["status"] == "ok", answer
    return answer


def names(answers):
    return {(a["label"], a["district"]) for a in answers}


# --- the gazetteer file -------------------------------------------------------------------------


def test_gazetteer_is_small_and_complete():
    assert GAZETTEER_FILE.stat().st_size <= 5 * 1024 * 1024
    with gzip.open(GAZETTEER_FILE, "rt", encoding="utf-8") as fh:
        loaded = geocoding.Gazetteer(json.load(fh))
    kinds = {e.kind for e in loaded.entities}
    assert kinds == {"municipality", "place"}
    assert len([e for e in loaded.entities if e.kind == "municipality"]) > 900
    assert len(loaded.postcodes) > 800


def test_gazetteer_points_lie_in_their_own_district():
    g = geocoding.gazetteer()
    rows = [(e.lat, e.lon, e.district_code) for e in g.entities]
    rows += [(r["lat"], r["lon"], r["district_code"]) for r in g.postcodes.values()]
    found = regions.locate([r[0] for r in rows], [r[1] for r in rows])
    wrong = [(r, f) for r, f in zip(rows, found) if f != r[2]]
    assert not wrong
    assert {r[2] for r in rows} == set(regions.district_codes())


def test_attribution_names_every_source_licence():
    for marker in (
        "GeoBasis-DE / BKG",
        "GeoNames",
        "CC BY 4.0",
        "OpenStreetMap",
        "ODbL",
        "EuroGeographics",
    ):
        assert marker in geocoding.ATTRIBUTION


# --- the answer contract ------------------------------------------------------------------------


def test_ok_answer_has_exactly_the_contract_keys():
    answer = ok("Hannover")
    assert set(answer) == TOP_KEYS
    assert answer["query"] == "Hannover"
    assert answer["district_code"] == "03241"
    assert answer["district"] == regions.district("03241")["name"]
    assert answer["region"] == "leine-weser"
    assert answer["precision"] == "municipality"


def test_hannover_lands_in_the_city_centre():
    answer = ok("Hannover")
    assert geodesic((answer["lat"], answer["lon"]), KROEPCKE).km < 1.5


@pytest.mark.parametrize("query", ["lueneburg", "Lüneburg", "Luneburg", "LÜNEBURG", "  lüneburg "])
def test_umlauts_case_and_spaces_do_not_matter(query):
    answer = ok(query)
    assert answer["label"] == "Lüneburg"
    assert answer["district_code"] == "03355"
    assert geodesic((answer["lat"], answer["lon"]), LUENEBURG_MARKT).km < 1.5


@pytest.mark.parametrize(
    "query, label, district_code",
    [
        ("GÖTTINGEN", "Göttingen", "03159"),
        ("  hannover  ", "Hannover", "03241"),
        ("Verden", "Verden (Aller)", "03361"),
        ("Verden (Aller)", "Verden (Aller)", "03361"),
        ("Winsen (Luhe)", "Winsen (Luhe)", "03353"),
        ("Winsen (Aller)", "Winsen (Aller)", "03351"),
        ("Osterode", "Osterode am Harz", "03159"),  # merged into Göttingen in 2016
        ("Hann. Münden", "Hann. Münden", "03159"),
        ("Hannoversch Münden", "Hann. Münden", "03159"),
        ("Stadt Oldenburg", "Oldenburg (Oldb)", "03403"),
        ("Hansestadt Stade", "Stade", "03359"),
        ("Borkum", "Borkum", "03457"),
        ("Hanover", "Hannover", "03241"),
    ],
)
def test_names_as_people_write_them(query, label, district_code):
    answer = ok(query)
    assert (answer["label"], answer["district_code"]) == (label, district_code)


def test_winsen_alone_is_ambiguous_and_names_both_districts():
    answer = resolve("Winsen")
    assert answer["status"] == "ambiguous"
    assert answer["lat"] is answer["lon"] is answer["label"] is None
    assert names(answer["candidates"]) == {
        ("Winsen (Luhe)", "Harburg"),
        ("Winsen (Aller)", "Celle"),
    }
    assert all(
        set(c) == ANSWER_KEYS and c["lat"] and c["district_code"] for c in answer["candidates"]
    )


@pytest.mark.parametrize(
    "query",
    ["Winsen, Landkreis Harburg", "Winsen Harburg", "Winsen LK Harburg", "Winsen (Harburg)"],
)
def test_district_name_settles_winsen(query):
    answer = ok(query)
    assert (answer["label"], answer["district_code"]) == ("Winsen (Luhe)", "03353")


def test_postcode_settles_winsen():
    answer = ok("29308 Winsen")
    assert answer["label"] == "29308 Winsen (Aller)"
    assert answer["district_code"] == "03351"
    assert answer["postcode"] == "29308"
    assert answer["precision"] == "postcode"


def test_oldenburg_means_the_city_and_offers_the_district():
    answer = ok("Oldenburg")
    assert (answer["label"], answer["district_code"]) == ("Oldenburg (Oldb)", "03403")
    assert ("Landkreis Oldenburg", "Landkreis Oldenburg") in names(answer["candidates"])


def test_landkreis_oldenburg_means_the_district():
    answer = ok("Landkreis Oldenburg")
    assert answer["district_code"] == "03458"
    assert answer["precision"] == "district"
    assert regions.locate(answer["lat"], answer["lon"])[0] == "03458"


def test_place_not_in_the_named_district_lets_the_user_choose():
    answer = resolve("Oldenburg, Landkreis Oldenburg")
    assert answer["status"] == "ambiguous"
    assert {c["district_code"] for c in answer["candidates"]} == {"03403", "03458"}


def test_a_town_wins_over_a_much_smaller_village_of_the_same_name():
    answer = ok("Neustadt")
    assert answer["label"] == "Neustadt am Rübenberge"
    assert any(
        c["district_code"] == "03101" for c in answer["candidates"]
    )  # the quarter in Braunschweig


def test_two_municipalities_of_one_name_are_never_guessed():
    answer = resolve("Bergen")
    assert answer["status"] == "ambiguous"
    assert {c["district"] for c in answer["candidates"]} == {"Celle", "Lüchow-Dannenberg"}


# --- postcodes and addresses --------------------------------------------------------------------


def test_postcode_alone():
    answer = ok("30169")
    assert (answer["label"], answer["postcode"], answer["district_code"]) == (
        "30169 Hannover",
        "30169",
        "03241",
    )
    assert answer["precision"] == "postcode"
    assert geodesic((answer["lat"], answer["lon"]), KROEPCKE).km < 1.5


@pytest.mark.parametrize("query", ["30169 Hannover", "Hannover 30169", "30169, Hannover"])
def test_postcode_and_place(query):
    answer = ok(query)
    assert (answer["label"], answer["postcode"], answer["precision"]) == (
        "30169 Hannover",
        "30169",
        "postcode",
    )


def test_street_is_kept_in_the_label_and_postcode_decides():
    answer = ok("Planckstraße 2, 30169 Hannover")
    assert answer["label"] == "Planckstraße 2, 30169 Hannover"
    assert answer["precision"] == "postcode"
    assert answer["postcode"] == "30169"
    assert answer["district_code"] == "03241"


def test_postcode_names_the_place_inside_it():
    drage = ok("21423 Drage")
    winsen = ok("21423 Winsen")
    assert drage["label"] == "21423 Drage" and winsen["label"] == "21423 Winsen (Luhe)"
    assert geodesic((drage["lat"], drage["lon"]), (winsen["lat"], winsen["lon"])).km > 3


def test_postcode_spanning_two_districts_keeps_the_place_in_the_other():
    record = geocoding.gazetteer().postcodes["27726"]
    assert {p["district_code"] for p in record["places"]} >= {"03356", "03357"}
    assert ok("27726 Breddorf")["district_code"] == "03357"
    assert ok("27726")["district_code"] == "03356"


def test_postcode_and_place_that_disagree_let_the_user_choose():
    answer = resolve("30169 Göttingen")
    assert answer["status"] == "ambiguous"
    assert {c["label"] for c in answer["candidates"]} == {"30169 Hannover", "Göttingen"}


@pytest.mark.parametrize("postcode", ["99999", "12345"])
def test_postcode_that_does_not_exist(postcode):
    answer = resolve(postcode)
    assert answer["status"] == "not_found"
    assert answer["lat"] is None and answer["candidates"] == []
    assert "gibt es nicht" in answer["error"]


def test_postcode_outside_lower_saxony():
    answer = resolve("28195 Bremen")
    assert answer["status"] == "not_found"
    assert "nicht in Niedersachsen" in answer["error"]


def test_wrong_postcode_offers_the_place_but_does_not_take_it():
    answer = resolve("99999 Hannover")
    assert answer["status"] == "not_found"
    assert [s["label"] for s in answer["suggestions"]] == ["Hannover"]


# --- not found ----------------------------------------------------------------------------------


def test_typo_is_a_suggestion_never_a_match():
    answer = resolve("Lünebrug")
    assert answer["status"] == "not_found"
    assert answer["lat"] is None and answer["label"] is None
    assert answer["suggestions"][0]["label"] == "Lüneburg"
    assert set(answer["suggestions"][0]) == ANSWER_KEYS
    assert answer["suggestions"][0]["district_code"] == "03355"


@pytest.mark.parametrize(
    "query",
    [
        "Bremen",
        "Bremerhaven",
        "Hamburg",
        "Berlin",
        "Hamburg-Harburg",  # a part of a town outside
        "Bremen Vegesack",
        "Nordrhein-Westfalen",  # another state
        "Enschede",  # across the Dutch border
        "Groningen",
    ],
)
def test_places_outside_lower_saxony_are_not_found(query):
    answer = resolve(query)
    assert answer["status"] == "not_found"
    assert "nicht in Niedersachsen" in answer["error"]
    assert answer["suggestions"] == []


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query(query):
    answer = resolve(query)
    assert answer["status"] == "not_found"
    assert answer["error"]
    # error_code and error_params let a page word the error in its language (issue 16).
    assert set(answer) == TOP_KEYS | {"suggestions", "error", "error_code", "error_params"}


@pytest.mark.parametrize(
    "query",
    [
        "!!!",
        "(",
        "()",
        "12",
        "1234567",
        "a" * 5000,
        "\x00",
        "🙂",
        ",,,",
        "Winsen (",
        "30169 30169",
        "Landkreis",
        "Planckstraße 2",
        None,
        30169,
    ],
)
def test_any_string_gives_an_answer_not_an_exception(query):
    answer = resolve(query)
    assert answer["status"] in {"ok", "ambiguous", "not_found"}
    assert TOP_KEYS <= set(answer)
    if answer["status"] == "not_found":
        assert len(answer["error"]) < 200


# --- geopy interface ----------------------------------------------------------------------------


def test_offline_geocoder_is_a_geopy_geocoder():
    g = OfflineGeocoder()
    assert isinstance(g, Geocoder)
    loc = g.geocode("29308 Winsen")
    assert isinstance(loc, Location)
    assert loc.address == "29308 Winsen (Aller)"
    assert loc.raw["district_code"] == "03351" and loc.raw["precision"] == "postcode"
    both = g.geocode("Winsen", exactly_one=False)
    assert {loc.raw["district_code"] for loc in both} == {"03353", "03351"}
    assert g.geocode("Bremen") is None
    assert resolve("Winsen", geocoder=g)["status"] == "ambiguous"


def test_offline_reverse_gives_the_nearest_place_inside_lower_saxony_only():
    g = OfflineGeocoder()
    assert g.reverse((53.3578, 10.2116)).raw["district_code"] == "03353"
    assert g.reverse("53.0758, 8.8072") is None  # Bremen


# --- online, against the local stub -------------------------------------------------------------


class DictCache:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        assert isinstance(value, dict)
        self.data[key] = value


@pytest.fixture
def stub():
    with NominatimStub() as server:
        yield server


@pytest.fixture
def cache():
    return DictCache()


@pytest.fixture
def online(stub, cache):
    return online_geocoder(stub.base_url, USER_AGENT, min_delay_seconds=0, cache=cache)


def test_online_address_has_address_precision(stub, online):
    answer = ok("Planckstraße 2, 30169 Hannover", geocoder=online)
    assert answer["precision"] == "address"
    assert answer["label"] == "Planckstraße 2, 30169 Hannover"
    assert (answer["district_code"], answer["postcode"]) == ("03241", "30169")
    request = stub.requests[0]
    assert request["user_agent"] == USER_AGENT
    assert request["params"]["countrycodes"] == "de"


def test_online_answers_are_cached(stub, online, cache):
    first = resolve("Planckstraße 2, 30169 Hannover", geocoder=online)
    assert stub.searches() == 1
    again = resolve("planckstraße 2,  30169 Hannover", geocoder=online)
    assert stub.searches() == 1
    assert again["lat"] == first["lat"] and again["precision"] == "address"
    assert len(cache.data) == 1


def test_online_results_outside_lower_saxony_are_dropped(stub, online):
    assert online.geocode("Bremen") is None
    answer = resolve("Bremen", geocoder=online)
    assert answer["status"] == "not_found"
    assert stub.searches() == 1  # the second call came from the cache


def test_online_oldenburg_drops_holstein_and_follows_the_gazetteer(online):
    found = online.geocode("Oldenburg", exactly_one=False)
    assert {loc.raw["district_code"] for loc in found} == {"03403", "03458"}
    answer = ok("Oldenburg", geocoder=online)
    assert answer["district_code"] == "03403"


def test_online_winsen_is_ambiguous(online):
    answer = resolve("Winsen", geocoder=online)
    assert answer["status"] == "ambiguous"
    assert {c["district"] for c in answer["candidates"]} == {"Harburg", "Celle"}


def test_online_falls_back_to_the_gazetteer(stub, online):
    assert ok("Hannover", geocoder=online)["district_code"] == "03241"  # the stub knows nothing
    answer = resolve(FAILING, geocoder=online)  # the server fails
    assert answer["status"] == "not_found"
    typo = resolve("Lünebrug", geocoder=online)
    assert typo["suggestions"][0]["label"] == "Lüneburg"


def test_online_waits_between_requests(stub):
    slow = online_geocoder(stub.base_url, USER_AGENT, min_delay_seconds=0.3)
    started = time.perf_counter()
    slow.geocode("Winsen")
    slow.geocode("Oldenburg")
    assert time.perf_counter() - started >= 0.3
    assert stub.searches() == 2


def test_online_base_url_may_end_in_a_slash(stub):
    g = online_geocoder(stub.base_url + "/", USER_AGENT, min_delay_seconds=0)
    assert g.base_url == stub.base_url
    assert g.geocode("Winsen") is not None


def test_online_needs_a_user_agent(stub):
    with pytest.raises(ValueError):
        online_geocoder(stub.base_url, " ")


def test_a_qualifier_that_contradicts_the_postcode_is_ambiguous():
    answer = resolve("29308 Winsen (Luhe)")
    assert answer["status"] == "ambiguous"
    assert {c["district_code"] for c in answer["candidates"]} == {"03351", "03353"}
    assert resolve("29308 Winsen (Aller)")["district_code"] == "03351"


def test_the_configured_app_geocodes_online_and_caches_in_its_database(instance, stub):
    """ATLAS_GEOCODER=nominatim: the API asks the server once, and the answer outlives a restart."""
    from atlas.web.app import create_app
    from atlas.web.extensions import get_store

    config = {
        "TESTING": True,
        "GEOCODER": "nominatim",
        "NOMINATIM_URL": stub.base_url,
        "NOMINATIM_MIN_DELAY": 0,
    }
    app = create_app(config)
    get_store(app).create_schema()
    query = {"q": "Planckstraße 2, 30169 Hannover"}
    first = app.test_client().get("/api/geocode", query_string=query).get_json()
    assert first["status"] == "ok" and first["precision"] == "address" and stub.searches() == 1
    restarted = create_app(config)
    again = restarted.test_client().get("/api/geocode", query_string=query).get_json()
    assert again == first and stub.searches() == 1
    user_agent = stub.requests[0]["user_agent"]
    assert user_agent.startswith("gemeinsame-sache-atlas/")


# --- precision: what the point really is --------------------------------------------------------


def point(answer):
    return answer["lat"], answer["lon"]


def test_two_postcodes_of_one_city_are_two_points():
    """GeoNames gives Hannover's postcodes points of their own (Linden, Bothfeld)."""
    linden, bothfeld, town = ok("30451"), ok("30659"), ok("Hannover")
    assert linden["precision"] == bothfeld["precision"] == "postcode"
    assert (linden["label"], bothfeld["label"]) == ("30451 Hannover", "30659 Hannover")
    assert geodesic(point(linden), point(bothfeld)).km > 5
    assert point(town) not in (point(linden), point(bothfeld))
    assert regions.locate(*point(linden))[0] == regions.locate(*point(bothfeld))[0] == "03241"


def test_a_postcode_without_a_point_of_its_own_is_the_town_centre():
    """GeoNames gives 30175 only the point it gives several Hannover postcodes: the town's."""
    answer = ok("30175")
    assert answer["precision"] == "municipality"
    assert point(answer) == point(ok("Hannover"))


def test_a_postcode_that_says_no_more_than_its_town_is_the_town_centre():
    """Winsen (Luhe) has one postcode; 21423 is its centre, and says so."""
    answer = ok("21423 Winsen")
    assert answer["label"] == "21423 Winsen (Luhe)"
    assert answer["precision"] == "municipality"
    assert point(answer) == point(ok("Winsen (Luhe)"))


def test_every_postcode_says_truly_what_its_point_is():
    g = geocoding.gazetteer()
    town_points = {(e.lat, e.lon) for e in g.entities}
    for code in g.postcodes:
        answer = ok(code)
        assert answer["precision"] in ("postcode", "municipality"), code
        if answer["precision"] == "municipality":
            assert point(answer) in town_points, code
        else:
            assert point(answer) not in town_points, code


@pytest.mark.parametrize(
    "query, without_street",
    [
        ("Planckstraße 2, 30169 Hannover", "30169 Hannover"),
        ("Planckstraße 2, 30175 Hannover", "30175 Hannover"),
        ("Planckstraße 2 Hannover", "Hannover"),
        ("Schloßplatz 1, Winsen (Luhe)", "Winsen (Luhe)"),
    ],
)
def test_offline_a_street_is_never_an_address(query, without_street):
    """The gazetteer knows no streets: the point and its precision are those without one."""
    answer, plain = ok(query), ok(without_street)
    assert answer["precision"] != "address"
    assert (point(answer), answer["precision"]) == (point(plain), plain["precision"])


def test_a_choice_searches_for_exactly_that_candidate():
    for query in (
        "Winsen",
        "Bergen",
        "Asendorf",
        "30169 Göttingen",
        "Oldenburg, Landkreis Oldenburg",
    ):
        candidates = resolve(query)["candidates"]
        assert len(candidates) >= 2
        for c in candidates:
            text = geocoding.choice_query(c)
            assert not re.match(r"^-?[\d.]+,-?[\d.]+$", text), text  # a name, not coordinates
            assert point(ok(text)) == point(c), text
    assert geocoding.choice_query(resolve("Winsen")["candidates"][0]) == "Winsen (Luhe)"
    bergen = {c["district"]: geocoding.choice_query(c) for c in resolve("Bergen")["candidates"]}
    assert bergen["Celle"] == "Bergen, Landkreis Celle"
