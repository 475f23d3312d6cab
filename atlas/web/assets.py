"""Front-end files served by the atlas itself instead of Folium's CDNs.

Public bodies in Germany must not hand their visitors' IP addresses to jsDelivr, cdnjs,
code.jquery.com or netdna, which is what Folium's default links do. The packages live in
``atlas/static/vendor/<npm name>/`` (refreshed by ``scripts/vendor_assets.py`` from
``manifest.json``); :func:`local_assets` points Folium at them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from functools import lru_cache
from html.parser import HTMLParser

from atlas.resources import STATIC_DIR

VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"

#: Folium's per-degree icon rotation classes (``fa-rotate-1`` … ``fa-rotate-360``). Folium loads
#: them from a file in its GitHub repository, not from any npm package, so
#: ``scripts/vendor_assets.py`` writes our own equivalent; path relative to STATIC_DIR.
ROTATE_CSS = "leaflet.awesome.rotate.css"


def _load_vendor() -> dict[str, dict]:
    """Manifest entries with paths relative to STATIC_DIR, ready for ``url_for('static', filename=...)``."""
    packages = json.loads(MANIFEST.read_text(encoding="utf-8"))["packages"]
    return {
        name: {
            "version": spec["version"],
            "js": [f"vendor/{name}/{f}" for f in spec["js"]],
            "css": [f"vendor/{name}/{f}" for f in spec["css"]],
        }
        for name, spec in packages.items()
    }


#: ``VENDOR["leaflet.markercluster"]["js"]`` → ``["vendor/leaflet.markercluster/dist/leaflet.markercluster.js"]``
VENDOR: dict[str, dict] = _load_vendor()


@lru_cache(maxsize=256)
def fingerprint(path: str) -> str:
    """A short hash of a static file's content (path relative to STATIC_DIR): asked for with
    `?v=<fingerprint>`, a vendored file may be cached for good (atlas.web.caching), since
    new content is a new URL."""
    return hashlib.blake2b((STATIC_DIR / path).read_bytes(), digest_size=6).hexdigest()


def versioned(path: str) -> str:
    """`path?v=<fingerprint>` for a vendored file, else the path as it is."""
    return f"{path}?v={fingerprint(path)}" if path.startswith("vendor/") else path


def _folium_links() -> dict[str, dict[str, str]]:
    """Folium resource name → our file, per Folium class; Folium's names are kept so its de-duplication still works."""
    js = lambda pkg, i=0: VENDOR[pkg]["js"][i]  # noqa: E731
    css = lambda pkg, i=0: VENDOR[pkg]["css"][i]  # noqa: E731
    return {
        "folium.folium.Map": {
            "leaflet": js("leaflet"),
            "jquery": js("jquery"),
            "bootstrap": js("bootstrap"),
            "awesome_markers": js("leaflet.awesome-markers"),
            "leaflet_css": css("leaflet"),
            "bootstrap_css": css("bootstrap"),
            "glyphicons_css": css("@neos21/bootstrap3-glyphicons"),
            "awesome_markers_font_css": css("@fortawesome/fontawesome-free"),
            "awesome_markers_css": css("leaflet.awesome-markers"),
            "awesome_rotate_css": ROTATE_CSS,
        },
        "folium.plugins.MarkerCluster": {
            "markerclusterjs": js("leaflet.markercluster"),
            "markerclustercss": css("leaflet.markercluster", 0),
            "markerclusterdefaultcss": css("leaflet.markercluster", 1),
        },
        "folium.plugins.LocateControl": {
            "Control_locate_min_js": js("leaflet.locatecontrol"),
            "Control_locate_min_css": css("leaflet.locatecontrol"),
        },
        "folium.plugins.Fullscreen": {
            "Control.Fullscreen.js": js("leaflet.fullscreen"),
            "Control.FullScreen.css": css("leaflet.fullscreen"),
        },
    }


def _folium_class(dotted: str) -> type:
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def local_assets(static_url: str = "/static") -> None:
    """Make every Folium Map, MarkerCluster (and FastMarkerCluster), LocateControl and Fullscreen link our files.

    Patches the classes' ``default_js``/``default_css`` once at app start, so each map built
    afterwards renders local URLs without per-element work. Idempotent. Raises KeyError when
    a Folium upgrade adds a resource we do not vendor, instead of silently linking a CDN.
    """
    base = static_url.rstrip("/")
    for dotted, files in _folium_links().items():
        cls = _folium_class(dotted)
        for attr in ("default_js", "default_css"):
            current = getattr(cls, attr)
            missing = [name for name, _ in current if name not in files]
            if missing:
                raise KeyError(
                    f"{dotted}.{attr}: no vendored file for {missing}; add it to manifest.json"
                )
            # A fresh list: Folium's add_js_link/add_css_link mutate these lists in place.
            setattr(cls, attr, [(name, f"{base}/{versioned(files[name])}") for name, _ in current])


_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"]*?))\s*\)""")
_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""")


def css_urls(css: str) -> list[str]:
    """Every ``url(...)`` and ``@import "..."`` target in a stylesheet, as written."""
    return [
        next(g for g in m.groups() if g is not None)
        for m in (*_URL.finditer(css), *_IMPORT.finditer(css))
    ]


class _Fetches(HTMLParser):
    """Collect URLs a browser fetches while loading the page's markup."""

    ATTRS = {
        "script": "src",
        "link": "href",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "embed": "src",
        "object": "data",
        "input": "src",
    }

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        wanted = self.ATTRS.get(tag)
        if (
            wanted
            and attrs.get(wanted)
            and not (tag == "link" and attrs.get("rel") in ("canonical", "alternate"))
        ):
            self.urls.append(attrs[wanted])
        if attrs.get("style"):
            self.urls.extend(css_urls(attrs["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls.extend(css_urls(data))


def fetched_urls(html: str) -> list[str]:
    """URLs of scripts, stylesheets, images, frames and inline-CSS resources the page's markup loads."""
    parser = _Fetches()
    parser.feed(html)
    return parser.urls


def remote_urls(html: str) -> list[str]:
    """The fetched URLs that leave our host (absolute or protocol-relative); should be empty for every page."""
    return [
        u for u in fetched_urls(html) if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", u.strip(), re.I)
    ]
