/* The atlas map: clusters and single projects of the current view from /api/clusters (computed
   on the server for the view's box and zoom, with the page's filters); popups built as DOM
   nodes (textContent only), so nothing a submitter typed can become markup. */
(function () {
  "use strict";
  var t = window.atlasText.t, count = window.atlasText.count;
  var config = document.getElementById("atlas-map-config");
  if (config) { initMap(config); }
  initLocationButton();
  keepFormsWithTheirResults();

  function initMap(config) {
    var map = window[config.dataset.map];
    var fields = JSON.parse(config.dataset.fields);
    var colours = JSON.parse(config.dataset.colours || "{}");
    var status = document.getElementById("map-status");
    if (!map) { return; }
    var span = document.createElement("span");
    span.textContent = config.dataset.attribution;
    map.attributionControl.addAttribution(span.innerHTML);

    // No cluster feed: the page could not use a filter, and the status line says why.
    if (!config.dataset.clusters) { map.fire("atlas:drawn"); return; }
    // Without a basemap (ATLAS_TILES=none) nothing sets a zoom limit; clusters need one.
    if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(18); }
    var layer = L.layerGroup().addTo(map);
    var shown = {};  // "c<id>" / "p<id>" → the marker on the map
    var asked = 0;

    // The answer for a view: the last one asked for when it holds this view at this zoom (a
    // small pan, or the zoom that the animation's start already asked for), else a new one.
    var last = null;
    // The first view's answers came with the page (one per zoom its first view can have). They
    // serve the first view, also when a late layout change redraws it; the first zoom, and
    // anything after ten seconds, asks the server (the data may have changed since).
    var island = document.getElementById("atlas-first-views");
    var seeds = island ? JSON.parse(island.textContent) : [];
    var seededUntil = Date.now() + 10000;
    map.once("zoomstart", function () { seeds = []; });
    function request(center, zoom) {
      zoom = Math.floor(zoom);
      var view = boundsAt(center, zoom);
      if (last && last.zoom === zoom && last.box.contains(view)) { return last.answer; }
      var seed = Date.now() < seededUntil &&
        seeds.filter(function (s) { return s.answer.zoom === zoom; })[0];
      if (seed) {
        var b = seed.bbox, sbox = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
        if (sbox.contains(view)) {
          last = { zoom: zoom, box: sbox, answer: Promise.resolve({ ok: true, body: seed.answer }) };
          return last.answer;
        }
      }
      var box = view.pad(0.3);
      var answer = fetch(viewUrl(box, zoom), { headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); });
      last = { zoom: zoom, box: box, answer: answer };
      answer.catch(function () { if (last && last.answer === answer) { last = null; } });
      return answer;
    }

    function load() {
      var mine = ++asked;
      status.setAttribute("aria-busy", "true");
      request(map.getCenter(), map.getZoom())
        .then(function (res) {
          if (mine !== asked) { return; }  // a later view is on its way
          status.removeAttribute("aria-busy");
          // The API's German wording (`de`); its `error` is English, for programs.
          if (!res.ok) { status.textContent = res.body.de || t("loadFailed"); return; }
          draw(res.body);
          // What waited for the first view (the region outlines) may follow now.
          map.fire("atlas:drawn");
          var n = res.body.total;
          status.textContent = count("onMap", n);
          status.dataset.count = String(n);
          // How many views were drawn (for the benchmarks and tests: a new view has arrived).
          status.dataset.views = String(+(status.dataset.views || 0) + 1);
        })
        .catch(function () {
          if (mine !== asked) { return; }
          status.removeAttribute("aria-busy");
          status.textContent = t("loadFailed");
        });
    }

    // The map's bounds at a centre and zoom (where a zoom animation is going).
    function boundsAt(center, zoom) {
      var half = map.getSize().divideBy(2), c = map.project(center, zoom);
      return L.latLngBounds(map.unproject(c.subtract(half), zoom), map.unproject(c.add(half), zoom));
    }

    // The box (the view with a margin, so a pan shows what lies beside it at once), clamped to
    // the range the API accepts.
    function viewUrl(b, zoom) {
      var clamp = function (v, lo, hi) { return Math.max(lo, Math.min(hi, v)).toFixed(4); };
      var box = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -85, 84.9),
                 clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -84.9, 85)].join(",");
      var base = config.dataset.clusters;
      return base + (base.indexOf("?") < 0 ? "?" : "&") + "bbox=" + box + "&zoom=" + zoom;
    }

    function draw(body) {
      var next = {};
      body.clusters.forEach(function (c) {
        var key = "c" + c[0];
        next[key] = shown[key] || clusterMarker(c, body.fields);
      });
      body.projects.forEach(function (row) {
        var key = "p" + row[0];
        next[key] = shown[key] || projectMarker(row);
      });
      Object.keys(shown).forEach(function (key) { if (!next[key]) { layer.removeLayer(shown[key]); } });
      Object.keys(next).forEach(function (key) { if (!shown[key]) { layer.addLayer(next[key]); } });
      shown = next;
    }

    function clusterMarker(c, order) {
      var n = c[3];
      var marker = L.marker([c[1], c[2]], {
        icon: new ClusterIcon({
          html: "<div><span>" + n + "</span></div>",
          className: "marker-cluster marker-cluster-" + (n < 10 ? "small" : n < 100 ? "medium" : "large"),
          iconSize: L.point(40, 40),
          label: count("cluster", n),
          ring: ring(c[5], order, n)
        }),
        // In front of single markers, as a cluster of a denser area is.
        zIndexOffset: 1000
      });
      // Zoom to where the cluster splits, centred on it.
      marker.on("click", function () {
        map.setView([c[1], c[2]], Math.min(c[4], map.getMaxZoom()));
      });
      return marker;
    }

    // The ring's colours: each field's share of the cluster (by its projects' first field).
    function ring(counts, order, n) {
      var parts = [], at = 0;
      counts.forEach(function (k, i) {
        if (!k) { return; }
        var to = at + 100 * k / n;
        parts.push((colours[order[i]] || "#777") + " " + at.toFixed(2) + "% " + to.toFixed(2) + "%");
        at = to;
      });
      if (at < 99.99) { parts.push("#999 " + at.toFixed(2) + "% 100%"); }
      return "conic-gradient(" + parts.join(", ") + ")";
    }

    function projectMarker(row) {
      var icon = L.divIcon({ className: "project-marker field-" + (row[3] || "none") + (row[5] ? " unconfirmed" : ""), iconSize: [16, 16] });
      // The project's name is the marker's accessible name (and its tooltip).
      var marker = L.marker([row[1], row[2]], { icon: icon, title: row[4] || t("project"), alt: row[4] || t("project") });
      marker.bindPopup(function () { return popupFor(row[0], marker, fields); }, { maxWidth: 300 });
      return marker;
    }

    // A zoom asks for its view as its animation starts; the view is drawn when it ends.
    map.on("zoomanim", function (e) { request(e.center, e.zoom); });
    map.on("moveend", load);
    load();
  }

  // A cluster reads as "12 Projekte – vergrößern" (its visible number first), not just "12";
  // its ring shows the fields of its projects.
  var ClusterIcon = window.L && L.DivIcon.extend({
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.setAttribute("aria-label", this.options.label);
      div.setAttribute("role", "button");
      if (this.options.ring) { div.style.background = this.options.ring; }
      return div;
    }
  });

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  function popupFor(id, marker, fields) {
    var box = el("div", t("loading"), "popup");
    fetch("/api/projects/" + encodeURIComponent(id))
      .then(function (r) { return r.json(); })
      .then(function (feature) {
        var p = feature.properties;
        box.textContent = "";
        var title = el("h3", p.name);
        if (p.synthetic) { title.appendChild(document.createTextNode(" ")); title.appendChild(el("span", t("synthetic"), "badge synthetic")); }
        box.appendChild(title);
        if (p.organisation) { box.appendChild(el("p", p.organisation, "org")); }
        var place = [p.postcode, p.city].filter(Boolean).join(" ");
        box.appendChild(el("p", [place, p.district].filter(Boolean).join(" · ")));
        if (p.freshness) { box.appendChild(el("p", p.freshness, "freshness")); }
        box.appendChild(el("p", (p.fields || []).map(function (f) { return fields[f] || f; }).join(", ")));
        var link = el("a", t("details"));
        link.href = "/projekte/" + encodeURIComponent(p.id);
        box.appendChild(link);
        // setContent, not update(): update() would call this content function again.
        if (marker.getPopup()) { marker.getPopup().setContent(box); }
      })
      .catch(function () { box.textContent = t("detailsFailed"); });
    return box;
  }

  function initLocationButton() {
    var button = document.getElementById("use-location");
    if (!button || !navigator.geolocation) { return; }
    var status = document.getElementById("location-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = t("locating");
      navigator.geolocation.getCurrentPosition(function (pos) {
        var input = document.getElementById("f-near");
        input.value = pos.coords.latitude.toFixed(5) + "," + pos.coords.longitude.toFixed(5);
        // Tells the page that these coordinates are the visitor's own: "um Ihren Standort".
        document.getElementById("f-near-source").value = "device";
        input.form.submit();
      }, function () {
        status.textContent = t("noLocation");
      }, { timeout: 10000 });
    });
    // A place typed over the coordinates is not the device's location any more.
    document.getElementById("f-near").addEventListener("input", function () {
      document.getElementById("f-near-source").value = "";
    });
  }

  // The filter forms show what the URL asked for: the browser's Back button restores the page,
  // but Chromium and Firefox also restore what was last typed or chosen in its fields, which
  // then disagrees with the results. reset() returns every field to the value the server
  // rendered from the URL.
  function keepFormsWithTheirResults() {
    window.addEventListener("pageshow", function () {
      var forms = document.querySelectorAll("form.filters");
      for (var i = 0; i < forms.length; i++) { forms[i].reset(); }
    });
  }
})();
