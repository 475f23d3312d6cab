/* The atlas map: markers from /api/markers, clustered in the browser; popups built as DOM nodes
   (textContent only), so nothing a submitter typed can become markup. */
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
    var status = document.getElementById("map-status");
    if (!map) { return; }
    var span = document.createElement("span");
    span.textContent = config.dataset.attribution;
    map.attributionControl.addAttribution(span.innerHTML);

    // No marker feed: the page could not use a filter, and the status line says why.
    if (!config.dataset.markers) { return; }
    // Without a basemap (ATLAS_TILES=none) nothing sets a zoom limit, and clustering needs one.
    if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(18); }
    var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false,
                                         iconCreateFunction: clusterIcon });
    map.addLayer(cluster);
    fetch(config.dataset.markers, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        // The API's German wording (`de`); its `error` is English, for programs.
        if (!res.ok) { status.textContent = res.body.de || t("loadFailed"); return; }
        var markers = res.body.rows.map(function (row) {
          var icon = L.divIcon({ className: "project-marker field-" + (row[3] || "none"), iconSize: [16, 16] });
          // The project's name is the marker's accessible name (and its tooltip).
          var marker = L.marker([row[1], row[2]], { icon: icon, title: row[4] || t("project"), alt: row[4] || t("project") });
          marker.bindPopup(function () { return popupFor(row[0], marker, fields); }, { maxWidth: 300 });
          return marker;
        });
        cluster.addLayers(markers);
        status.textContent = count("onMap", markers.length);
        status.dataset.count = String(markers.length);
      })
      .catch(function () { status.textContent = t("loadFailed"); });
  }

  // A cluster reads as "12 Projekte – vergrößern" (its visible number first), not just "12".
  var ClusterIcon = window.L && L.DivIcon.extend({
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.setAttribute("aria-label", this.options.label);
      return div;
    }
  });

  function clusterIcon(group) {
    var n = group.getChildCount();
    return new ClusterIcon({
      html: "<div><span>" + n + "</span></div>",
      className: "marker-cluster marker-cluster-" + (n < 10 ? "small" : n < 100 ? "medium" : "large"),
      iconSize: L.point(40, 40),
      label: count("cluster", n)
    });
  }

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
