"""The map in a real browser at 1k, 10k and 100k projects: the atlas (clusters computed on the
server for each view) against Folium's FastMarkerCluster on the same points, in the same run.

For each size: a fresh SQLite store is filled with synthetic projects (flagged synthetic, as
benchmarks/bench_web.py makes them), the real server (`atlas serve`, waitress) runs on
127.0.0.1, and a Folium FastMarkerCluster page of the same points is written with its scripts
pointed at the atlas's vendored copies (no CDN) and served, gzipped as the atlas is, by a small
server on another port. Debian's Chromium (Playwright) opens each page fresh (new context, empty
cache) under two profiles: "desk" (no throttling) and "phone" (CDP: 4x CPU throttling,
10 Mbit/s, 40 ms RTT, a 412x915 viewport). Measured until the first cluster or marker is in the
page (atlas: and the status line has the count): time since navigation start, bytes over the
wire (CDP encodedDataLength, compressed as sent), JS heap used after a garbage collection. For
the atlas also a zoom's redraw (two levels in, until the new view is drawn) and the server's
answer to view requests (warm cache, p50/p95 over many views).

Writes the table into benchmarks/RESULTS.md under "## Map in the browser".
Run: `.venv/bin/python benchmarks/bench_map_browser.py [--sizes 1000,10000,100000] [--runs 3]`
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import folium
from folium.plugins import FastMarkerCluster
from sqlalchemy import select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_web import fill_store  # noqa: E402
from common import (  # noqa: E402
    SEED,
    bench_env,
    free_port,
    machine,
    machine_line,
    ms,
    percentiles,
    served,
    write_section,
)

from atlas.core.accounts import add_user  # noqa: E402
from atlas.core.demo import synthetic_projects  # noqa: E402
from atlas.resources import STATIC_DIR  # noqa: E402
from atlas.store import Project, Store  # noqa: E402
from atlas.web.assets import local_assets  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

HEADING = "## Map in the browser"
#: A region page (issue 17: the same budget): the coverage choropleth, white spots and clusters.
REGION_PAGE = "/regionen/leine-weser"
#: The moderation queue's map: an administrator's queue (statewide) with QUEUED pending entries.
QUEUE_PAGE = "/verwaltung/"
QUEUED = 30
OFFICER, PASSWORD = "bench@arl.example", "benchmark-passwort-lang"
QUEUE_DRAWN = """() => document.querySelector('.queue-marker') ? performance.now() : false"""
PROFILES = {
    "desk": {"viewport": {"width": 1280, "height": 860}, "cpu": 1, "network": None},
    "phone": {
        "viewport": {"width": 412, "height": 915},
        "cpu": 4,
        "network": {"latency": 40, "throughput": 10_000_000 / 8},
    },
}
ATLAS_DRAWN = """() => document.querySelector('.marker-cluster, .project-marker')
    && document.getElementById('map-status').dataset.count ? performance.now() : false"""
FOLIUM_DRAWN = """() => document.querySelector('.marker-cluster, .leaflet-marker-icon')
    ? performance.now() : false"""


# --- Folium's FastMarkerCluster, served as a static page with gzip ----------------------------


def folium_page(records: list[dict], folder: Path) -> Path:
    """FastMarkerCluster of the points, its scripts and styles from /static/vendor/…"""
    local_assets("/static")
    # No basemap (as the atlas here); markercluster needs a zoom limit, which tiles would set.
    m = folium.Map(location=[52.75, 9.2], zoom_start=7, tiles=None, maxZoom=18)
    FastMarkerCluster([[r["lat"], r["lon"]] for r in records]).add_to(m)
    path = folder / "folium.html"
    m.save(str(path))
    return path


class _Static(SimpleHTTPRequestHandler):
    """/folium.html from the benchmark's folder, /static/… from the atlas's; gzip when asked
    (as the atlas compresses), so the bytes compare like with like."""

    page: Path

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/folium.html":
            file, kind = self.page, "text/html"
        elif path.startswith("/static/"):
            file = STATIC_DIR / path.removeprefix("/static/")
            kind = self.guess_type(str(file))
        else:
            file = None
        if file is None or not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 500:
            body = gzip.compress(body, 6)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def static_server(page: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (_Static,), {"page": page})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- one page load in Chromium ------------------------------------------------------------


def load(browser, url: str, profile: dict, drawn: str, zoom: bool = False) -> dict:
    """Open `url` in a fresh context under `profile`; time, bytes and heap when drawn. The
    queue is opened logged in (the login itself is not timed)."""
    context = browser.new_context(viewport=profile["viewport"], locale="de-DE")
    page = context.new_page()
    if url.endswith(QUEUE_PAGE):
        log_in(page, url.removesuffix(QUEUE_PAGE))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    received = []
    cdp.on("Network.loadingFinished", lambda e: received.append(e["encodedDataLength"]))
    if profile["network"]:
        net = profile["network"]
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": net["latency"],
                "downloadThroughput": net["throughput"],
                "uploadThroughput": net["throughput"],
            },
        )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile["cpu"]})
    # The page notes the moment itself (a check on every frame, from the document's start), and
    # the benchmark reads it over CDP: Playwright's own waiting (wait_for_function) injects its
    # script into the page mid-load, 40–50 ms of the phone's main thread that no visitor's
    # phone spends.
    context.add_init_script(WATCH % drawn)
    try:
        page.goto(url, wait_until="commit", timeout=180_000)
        result = {"ms": _noted(cdp, "window.__drawnAt", 180), "bytes": sum(received)}
        cdp.send("HeapProfiler.collectGarbage")
        result["heap"] = cdp.send("Runtime.getHeapUsage")["usedSize"]
        if zoom:
            result.update(redraw(page))
        return result
    finally:
        context.close()


WATCH = """(() => {
    const drawn = %s;
    const check = () => { const t = drawn(); if (t) { window.__drawnAt = t; } else { requestAnimationFrame(check); } };
    requestAnimationFrame(check);
})();"""


def _noted(cdp, expression: str, timeout: float) -> float:
    """Poll the page (CDP Runtime.evaluate, nothing injected) until `expression` is a number."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if value := found["result"].get("value"):
            return value
        time.sleep(0.02)
    raise TimeoutError(f"{expression} not set within {timeout} s")


def log_in(page, base: str) -> None:
    page.goto(base + "/verwaltung/login")
    page.fill("#email", OFFICER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(base + QUEUE_PAGE)
    page.goto("about:blank")


def queue_some(folder: Path) -> None:
    """An administrator, and QUEUED of the synthetic projects back in the queue (pending)."""
    store = Store(f"sqlite:///{folder / 'atlas.sqlite3'}")
    add_user(store, OFFICER, PASSWORD, None, True)
    with store.session.begin() as s:
        first = select(Project.id).order_by(Project.id).limit(QUEUED).scalar_subquery()
        s.execute(update(Project).where(Project.id.in_(first)).values(status="pending"))
    store.engine.dispose()


def redraw(page) -> dict:
    """Two zoom levels in on the middle: ms from the zoom's start until the new view's clusters
    are drawn, and of them the ms after Leaflet's zoom animation (250 ms) ended."""
    # Nothing of the first view still on its way, and Playwright's waiting script in the page
    # before the clock starts.
    page.wait_for_function("() => !document.querySelector('[aria-busy=true]')")
    # The first view may be drawn once more after the page has loaded (a second moveend, from
    # the cached answer): wait until the count of drawn views holds still, or that redraw would
    # be taken for the zoom's.
    count = "() => +(document.getElementById('map-status').dataset.views || 0)"
    views = None
    while views != (views := page.evaluate(count)):
        page.wait_for_timeout(400)
    page.evaluate("""() => {
        const map = window[document.getElementById('atlas-map-config').dataset.map];
        map.once('zoomend', () => { window.__zoomEnd = performance.now(); });
        window.__zoomStart = performance.now();
        map.setZoom(map.getZoom() + 2);
    }""")
    handle = page.wait_for_function(
        """n => +document.getElementById('map-status').dataset.views > n
            ? [performance.now() - window.__zoomStart, performance.now() - window.__zoomEnd]
            : false""",
        arg=views,
        polling="raf",
        timeout=60_000,
    )
    total, after = handle.json_value()
    return {"zoom_ms": total, "zoom_after_ms": after}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


# --- the server's view answers --------------------------------------------------------------


def view_requests(base: str, count: int = 200) -> dict:
    """Warm /api/clusters answers for views across the state at zooms 7–14: p50/p95 ms."""
    host, port = base.removeprefix("http://").split(":")
    paths = []
    for i in range(count):
        zoom = 7 + i % 8
        half_lon, half_lat = 5.0 / 2 ** (zoom - 7), 3.0 / 2 ** (zoom - 7)
        lon = 7.0 + (i * 0.37) % 4.5
        lat = 51.5 + (i * 0.23) % 2.2
        box = f"{lon - half_lon:.4f},{lat - half_lat:.4f},{lon + half_lon:.4f},{lat + half_lat:.4f}"
        paths.append(f"/api/clusters?bbox={box}&zoom={zoom}")
    times, sizes = [], []
    for round_ in range(2):  # the first round warms the index (built once per data version)
        for path in paths:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            t = time.perf_counter()
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - t
            conn.close()
            assert response.status == 200, (path, body[:200])
            if round_:
                times.append(elapsed)
                sizes.append(len(body))
    return {**percentiles(times, (50, 95)), "bytes": statistics.median(sizes)}


def first_build(base: str) -> float:
    """The first view after a start: the cluster index is built (cold)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    t = time.perf_counter()
    conn.request("GET", "/api/clusters?bbox=5,50,13,55&zoom=7")
    conn.getresponse().read()
    return time.perf_counter() - t


# --- the run --------------------------------------------------------------------------------


def human(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="page loads per cell (median)")
    parser.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    if not CHROMIUM.exists():
        sys.exit("Debian's Chromium (/usr/bin/chromium) is needed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    info = machine("flask", "waitress", "folium", "numpy", "scipy", "playwright")
    info["Chromium"] = CHROMIUM.resolve().name
    print(machine_line(info), flush=True)
    results: dict[int, dict] = {}
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix=f"bench-map-{n}-") as tmp:
                folder = Path(tmp)
                generated, inserted = fill_store(folder, n)
                queue_some(folder)
                print(f"\n{n:,} projects: inserted in {inserted:.1f} s", flush=True)
                page = folium_page(synthetic_projects(n, SEED), folder)
                static, static_base = static_server(page)
                row: dict = {"insert": inserted}
                try:
                    with served(
                        bench_env(folder), probe=None, log_path=folder / "server.log", timeout=60
                    ) as (_proc, base):
                        row["build"] = first_build(base)
                        for name, profile in PROFILES.items():
                            for what, url, drawn in (
                                ("atlas", base + "/", ATLAS_DRAWN),
                                ("region", base + REGION_PAGE, ATLAS_DRAWN),
                                ("queue", base + QUEUE_PAGE, QUEUE_DRAWN),
                                ("folium", static_base + "/folium.html", FOLIUM_DRAWN),
                            ):
                                atlas = what == "atlas"
                                load(browser, url, profile, drawn)  # warm-up (server side)
                                runs = [
                                    load(browser, url, profile, drawn, zoom=atlas)
                                    for _ in range(args.runs)
                                ]
                                row[what, name] = r = median_of(runs)
                                print(
                                    f"  {what:6} {name:5}: drawn {r['ms']:,.0f} ms, "
                                    f"{human(r['bytes'])}, heap {human(r['heap'])}"
                                    + (
                                        f", zoom {r['zoom_ms']:,.0f} ms "
                                        f"({r['zoom_after_ms']:,.0f} ms after its animation)"
                                        if atlas
                                        else ""
                                    ),
                                    flush=True,
                                )
                        row["views"] = v = view_requests(base)
                        print(
                            f"  /api/clusters warm: p50 {ms(v['p50'])}, p95 {ms(v['p95'])}; "
                            f"first build {row['build']:.2f} s",
                            flush=True,
                        )
                finally:
                    static.shutdown()
                results[n] = row
    finally:
        browser.close()
        pw.stop()
    text = section(results, info, args)
    print("\n" + text)
    if not args.no_doc:
        write_section(HEADING, text)
        print("wrote benchmarks/RESULTS.md")


def section(results: dict[int, dict], info: dict, args) -> str:
    sizes = sorted(results)
    head = "| | " + " | ".join(f"{n:,} projects" for n in sizes) + " |"
    rows = [head, "| --- |" + " --- |" * len(sizes)]

    def cell(n, what, profile):
        r = results[n][what, profile]
        return f"{r['ms']:,.0f} ms; {human(r['bytes'])}; heap {human(r['heap'])}"

    for profile in PROFILES:
        rows.append(
            f"| **atlas** `/`, {profile}: drawn; bytes; JS heap | "
            + " | ".join(cell(n, "atlas", profile) for n in sizes)
            + " |"
        )
        rows.append(
            f"| Folium FastMarkerCluster, {profile}: drawn; bytes; JS heap | "
            + " | ".join(cell(n, "folium", profile) for n in sizes)
            + " |"
        )
    for profile in PROFILES:
        rows.append(
            f"| **atlas** `{REGION_PAGE}`, {profile}: drawn; bytes; JS heap | "
            + " | ".join(cell(n, "region", profile) for n in sizes)
            + " |"
        )
    for profile in PROFILES:
        rows.append(
            f"| **atlas** moderation queue `{QUEUE_PAGE}` ({QUEUED} entries), {profile}: "
            "drawn; bytes; JS heap | " + " | ".join(cell(n, "queue", profile) for n in sizes) + " |"
        )
    for profile in PROFILES:
        rows.append(
            f"| atlas, {profile}: zoom two levels in until redrawn (of it, after the 250 ms "
            "zoom animation) | "
            + " | ".join(
                f"{results[n]['atlas', profile]['zoom_ms']:,.0f} ms "
                f"({results[n]['atlas', profile]['zoom_after_ms']:,.0f} ms)"
                for n in sizes
            )
            + " |"
        )
    rows.append(
        "| `/api/clusters` warm, p50 / p95 (200 views, zooms 7–14); median answer (gzip) | "
        + " | ".join(
            f"{ms(results[n]['views']['p50'])} / {ms(results[n]['views']['p95'])}; "
            f"{human(results[n]['views']['bytes'])}"
            for n in sizes
        )
        + " |"
    )
    rows.append(
        "| first view after a start (cluster index built, cold) | "
        + " | ".join(f"{results[n]['build'] * 1000:,.0f} ms" for n in sizes)
        + " |"
    )
    ratios = []
    for profile in PROFILES:
        ratios.append(
            f"| {profile}: FastMarkerCluster time / atlas time | "
            + " | ".join(
                f"{results[n]['folium', profile]['ms'] / results[n]['atlas', profile]['ms']:.1f}x"
                for n in sizes
            )
            + " |"
        )
    command = ".venv/bin/python benchmarks/bench_map_browser.py" + (
        f" --sizes {args.sizes}" if args.sizes != "1000,10000,100000" else ""
    )
    flat = ""
    if len(sizes) > 1:
        phone = [results[n]["atlas", "phone"]["ms"] for n in (sizes[0], sizes[-1])]
        flat = (
            f"\nOn the phone profile the atlas at {sizes[-1]:,} takes "
            f"{phone[1] / phone[0]:.2f}x its time at {sizes[0]:,} (goal: at most 1.5x).\n"
        )
    return f"""{HEADING}

`benchmarks/bench_map_browser.py`, run on {date.today().isoformat()} with `{command}`.

Synthetic projects (`atlas.core.demo.synthetic_projects(n, seed={SEED})`, flagged synthetic) in a
fresh SQLite store; the real server (`atlas serve`, waitress, `ATLAS_TILES=none`, so no tiles
anywhere) on 127.0.0.1. Beside it, in the same run, Folium's FastMarkerCluster of the same points
with its scripts and styles pointed at the atlas's vendored copies, served gzipped by a static
server. Debian's Chromium via Playwright, each load in a fresh context with the cache off, after
one warm-up load; medians of {args.runs} loads. "phone": CDP CPU throttling 4x, 10 Mbit/s both
ways, 40 ms RTT, 412x915 viewport; "desk": no throttling, 1280x860. "drawn": from navigation start
until the first cluster or marker is in the page (the atlas: and its status line shows the count);
bytes: everything received until then, as sent (CDP encodedDataLength: compressed, with
headers); heap: JS heap used after a forced garbage collection.

Machine: {machine_line(info)}. The machine is shared with other jobs and has 2 cores, so figures
are noisy; compare columns of one run, not runs.

{chr(10).join(rows)}
{chr(10).join(ratios)}
{flat}"""


if __name__ == "__main__":
    main()
