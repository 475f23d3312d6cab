"""A stand-in for Nominatim's /search on 127.0.0.1, so the online path is tested without internet.

Answers canned results in Nominatim's `json` (geopy's choice) or `jsonv2` format and records each
request, so a test can see whether the cache kept a query from reaching the server.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def _result(place_id, lat, lon, name, display_name, cls, typ, addresstype, address, importance=0.5):
    return {
        "place_id": place_id,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
        "osm_type": "relation",
        "osm_id": place_id,
        "lat": str(lat),
        "lon": str(lon),
        "class": cls,
        "type": typ,
        "place_rank": 16,
        "importance": importance,
        "addresstype": addresstype,
        "name": name,
        "display_name": display_name,
        "address": address,
        "boundingbox": [str(lat - 0.01), str(lat + 0.01), str(lon - 0.01), str(lon + 0.01)],
    }


STAATSKANZLEI = _result(
    1001,
    52.37787,
    9.74680,
    "Niedersächsische Staatskanzlei",
    "Niedersächsische Staatskanzlei, 2, Planckstraße, Zoo, Mitte, Hannover, Region Hannover, Niedersachsen, "
    "30169, Deutschland",
    "building",
    "public",
    "building",
    {
        "house_number": "2",
        "road": "Planckstraße",
        "suburb": "Zoo",
        "city": "Hannover",
        "county": "Region Hannover",
        "state": "Niedersachsen",
        "postcode": "30169",
        "country": "Deutschland",
        "country_code": "de",
    },
)
BREMEN = _result(
    1002,
    53.07582,
    8.80717,
    "Bremen",
    "Bremen, Freie Hansestadt Bremen, Deutschland",
    "boundary",
    "administrative",
    "city",
    {
        "city": "Bremen",
        "state": "Freie Hansestadt Bremen",
        "country": "Deutschland",
        "country_code": "de",
    },
    0.8,
)
WINSEN_LUHE = _result(
    1003,
    53.35777,
    10.21161,
    "Winsen (Luhe)",
    "Winsen (Luhe), Landkreis Harburg, Niedersachsen, Deutschland",
    "boundary",
    "administrative",
    "town",
    {
        "town": "Winsen (Luhe)",
        "county": "Landkreis Harburg",
        "state": "Niedersachsen",
        "postcode": "21423",
        "country": "Deutschland",
        "country_code": "de",
    },
    0.6,
)
WINSEN_ALLER = _result(
    1004,
    52.68251,
    9.90960,
    "Winsen (Aller)",
    "Winsen (Aller), Landkreis Celle, Niedersachsen, Deutschland",
    "boundary",
    "administrative",
    "village",
    {
        "village": "Winsen (Aller)",
        "county": "Landkreis Celle",
        "state": "Niedersachsen",
        "postcode": "29308",
        "country": "Deutschland",
        "country_code": "de",
    },
    0.5,
)
OLDENBURG_CITY = _result(
    1005,
    53.14342,
    8.21464,
    "Oldenburg",
    "Oldenburg, Niedersachsen, Deutschland",
    "boundary",
    "administrative",
    "city",
    {"city": "Oldenburg", "state": "Niedersachsen", "country": "Deutschland", "country_code": "de"},
    0.7,
)
OLDENBURG_DISTRICT = _result(
    1006,
    52.95,
    8.40,
    "Landkreis Oldenburg",
    "Landkreis Oldenburg, Niedersachsen, Deutschland",
    "boundary",
    "administrative",
    "county",
    {
        "county": "Landkreis Oldenburg",
        "state": "Niedersachsen",
        "country": "Deutschland",
        "country_code": "de",
    },
    0.6,
)
OLDENBURG_HOLSTEIN = _result(
    1007,
    54.29,
    10.88,
    "Oldenburg in Holstein",
    "Oldenburg in Holstein, Schleswig-Holstein, Deutschland",
    "boundary",
    "administrative",
    "town",
    {
        "town": "Oldenburg in Holstein",
        "state": "Schleswig-Holstein",
        "country": "Deutschland",
        "country_code": "de",
    },
    0.5,
)

#: Canned answers by query (case and spacing ignored); anything else finds nothing.
CANNED = {
    "planckstraße 2, 30169 hannover": [STAATSKANZLEI],
    "bremen": [BREMEN],
    "winsen": [WINSEN_LUHE, WINSEN_ALLER],
    "oldenburg": [OLDENBURG_CITY, OLDENBURG_DISTRICT, OLDENBURG_HOLSTEIN],
}
#: A query that makes the stub fail like an overloaded server.
FAILING = "server-error"


class NominatimStub:
    """Context manager: `with NominatimStub() as stub: stub.base_url, stub.requests`."""

    def __init__(self, canned: dict[str, list[dict]] | None = None):
        self.canned = CANNED if canned is None else canned
        self.requests: list[dict] = []  # {"path", "params", "user_agent", "at"} per request
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def searches(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"] == "/search")

    def __enter__(self) -> NominatimStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                with stub._lock:
                    stub.requests.append(
                        {
                            "path": url.path,
                            "params": params,
                            "user_agent": self.headers.get("User-Agent"),
                            "at": time.time(),
                        }
                    )
                if url.path != "/search":
                    return self._send(404, {"error": "not found"})
                query = " ".join(params.get("q", "").split()).lower()
                if query == FAILING:
                    return self._send(503, {"error": "Service Unavailable"})
                results = [dict(r) for r in stub.canned.get(query, [])]
                if params.get("format") == "jsonv2":
                    for r in results:
                        r["category"] = r.pop("class")
                if "limit" in params:
                    results = results[: int(params["limit"])]
                if params.get("addressdetails") != "1":
                    for r in results:
                        r.pop("address", None)
                self._send(200, results)

            def _send(self, status, body):
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
