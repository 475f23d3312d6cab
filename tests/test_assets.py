"""Atlas pages load every script, stylesheet, font and icon from our own host, never from a CDN."""

import json
import posixpath
import re

import folium
import pytest
from flask import Flask
from folium import plugins

from atlas.web.assets import (
    MANIFEST,
    ROTATE_CSS,
    STATIC_DIR,
    VENDOR,
    VENDOR_DIR,
    css_urls,
    fetched_urls,
    local_assets,
    remote_urls,
)

PACKAGES = json.loads(MANIFEST.read_text(encoding="utf-8"))["packages"]


@pytest.fixture
def local():
    local_assets()
    yield
    local_assets()  # a test that changed the static URL must not leak it into others


def atlas_map() -> folium.Map:
    """A map with every Folium part the atlas uses: clusters, both icon sets, rotation, locate, fullscreen."""
    m = folium.Map(location=[52.6, 9.5], zoom_start=8, tiles=None)
    cluster = plugins.MarkerCluster().add_to(m)
    folium.Marker(
        [52.37, 9.73], popup="<b>Hannover</b>", icon=folium.Icon(icon="info-sign")
    ).add_to(cluster)
    folium.Marker([53.08, 8.8], icon=folium.Icon(icon="house", prefix="fa", angle=45)).add_to(
        cluster
    )
    plugins.FastMarkerCluster([[52.27, 10.52], [53.25, 10.41]]).add_to(m)
    plugins.LocateControl(strings={"title": "Mein Standort"}).add_to(m)
    plugins.Fullscreen(title="Vollbild").add_to(m)
    return m


def test_folium_map_loads_nothing_from_other_hosts(local):
    html = atlas_map().get_root().render()
    assert remote_urls(html) == []
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I)
    assert not re.search(r"https?://", html), "no CDN URL at all, not even inside scripts"
    loaded = fetched_urls(html)
    for needed in (
        "leaflet.js",
        "leaflet.markercluster.js",
        "L.Control.Locate.min.js",
        "Control.FullScreen.js",
        "all.min.css",
        "bootstrap3-glyphicons.min.css",
        ROTATE_CSS,
    ):
        assert any(u.split("?v=")[0].endswith(needed) for u in loaded), needed


def test_every_linked_file_is_served_by_flask(local):
    html = atlas_map().get_root().render()
    app = Flask("atlas_assets_test", static_folder=str(STATIC_DIR), static_url_path="/static")
    client = app.test_client()
    urls = fetched_urls(html)
    assert len(urls) >= 15
    for url in urls:
        assert url.startswith("/static/"), url
        assert (STATIC_DIR / url.removeprefix("/static/").split("?v=")[0]).is_file(), url
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()


def test_static_url_prefix_is_honoured(local):
    local_assets("/atlas/static/")
    urls = fetched_urls(atlas_map().get_root().render())
    assert urls and all(u.startswith("/atlas/static/") and "//" not in u for u in urls)


def test_unvendored_folium_resource_fails_at_start(monkeypatch):
    monkeypatch.setattr(
        folium.Map, "default_js", [*folium.Map.default_js, ("new_lib", "https://cdn.example/x.js")]
    )
    with pytest.raises(KeyError, match="new_lib"):
        local_assets()


def test_vendor_lookup_for_templates():
    js = VENDOR["leaflet.markercluster"]["js"]
    assert js == ["vendor/leaflet.markercluster/dist/leaflet.markercluster.js"]
    assert all(
        (STATIC_DIR / p).is_file() for spec in VENDOR.values() for p in spec["js"] + spec["css"]
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_package_has_licence_and_the_pinned_version(name):
    folder = VENDOR_DIR / name
    assert [p for p in folder.iterdir() if p.is_file() and "LICEN" in p.name.upper()], (
        f"{name}: no licence file"
    )
    packed = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert (packed["name"], packed["version"]) == (name, PACKAGES[name]["version"])


def stylesheets():
    yield from ((STATIC_DIR / p) for spec in VENDOR.values() for p in spec["css"])
    yield STATIC_DIR / ROTATE_CSS


@pytest.mark.parametrize("css", list(stylesheets()), ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_css_references_resolve_to_vendored_files(css):
    for ref in css_urls(css.read_text(encoding="utf-8")):
        if ref.startswith(("data:", "#")):
            continue
        assert not re.match(r"^(?:[a-z]+:)?//", ref, re.I), f"{css.name} loads {ref} remotely"
        target = (css.parent / ref.split("?")[0].split("#")[0]).resolve()
        assert target.is_file(), f"{css.name}: broken reference {ref}"
        assert VENDOR_DIR in target.parents or target.parent == STATIC_DIR


def test_fonts_and_images_behind_the_icons_are_present():
    def resolved(css_path):
        css = STATIC_DIR / css_path
        return {
            posixpath.basename(r.split("?")[0].split("#")[0])
            for r in css_urls(css.read_text(encoding="utf-8"))
            if not r.startswith(("data:", "#"))
        }

    assert {"fa-solid-900.woff2", "fa-regular-400.woff2"} <= resolved(
        VENDOR["@fortawesome/fontawesome-free"]["css"][0]
    )
    assert "glyphicons-halflings-regular.woff2" in resolved(
        VENDOR["@neos21/bootstrap3-glyphicons"]["css"][0]
    )
    assert {"markers-soft.png", "markers-shadow.png"} <= resolved(
        VENDOR["leaflet.awesome-markers"]["css"][0]
    )
    # Leaflet's JavaScript, not its CSS, asks for the retina marker and the shadow.
    for image in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"):
        assert (VENDOR_DIR / "leaflet/dist/images" / image).is_file()


def test_vendored_scripts_provide_what_folium_calls():
    def source(pkg):
        return (STATIC_DIR / VENDOR[pkg]["js"][0]).read_text(encoding="utf-8")

    assert "markerClusterGroup" in source("leaflet.markercluster")
    assert "control.locate" in source("leaflet.locatecontrol")
    assert "control.fullscreen" in source("leaflet.fullscreen")
    # Folium passes the rotation as extraClasses; the package's stale .min.js ignores it.
    assert "extraClasses" in source("leaflet.awesome-markers")


def test_rotation_classes_cover_every_degree():
    css = (STATIC_DIR / ROTATE_CSS).read_text(encoding="utf-8")
    assert ".fa-rotate-45{transform:rotate(45deg)}" in css
    assert len(re.findall(r"\.fa-rotate-\d+\{", css)) == 360


def test_vendored_tree_stays_small():
    files = [p for p in VENDOR_DIR.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".map" or p.name.endswith("-src.js")]
    assert sum(p.stat().st_size for p in files) < 3 * 1024 * 1024
    top = {p.relative_to(VENDOR_DIR).parts[0] for p in files} - {"manifest.json"}
    assert top == {name.split("/")[0] for name in PACKAGES}, "folders not in manifest.json"


def test_axe_core_is_vendored_for_the_tests_only():
    """axe-core (the accessibility checker of the browser tests) lives under tests/, pinned and
    with its licence (MPL-2.0); the atlas neither ships nor serves it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "vendor_test_assets", STATIC_DIR.parents[1] / "scripts" / "vendor_test_assets.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = script.TEST_VENDOR_DIR / "axe-core"
    packed = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert (packed["name"], packed["version"]) == (
        "axe-core",
        script.PACKAGES["axe-core"]["version"],
    )
    assert packed["license"] == "MPL-2.0"
    assert "Mozilla Public License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert (folder / "axe.min.js").stat().st_size > 100_000
    assert STATIC_DIR not in folder.parents
    assert "axe-core" not in PACKAGES
    assert not [p for p in STATIC_DIR.rglob("*") if "axe" in p.name.lower()]


def test_the_atlas_does_not_serve_axe_core(app):
    client = app.test_client()
    for path in (
        "/static/axe.min.js",
        "/static/vendor/axe-core/axe.min.js",
        "/static/../tests/support/vendor/axe-core/axe.min.js",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        response.close()
    assert "axe" not in client.get("/").get_data(as_text=True).lower()
