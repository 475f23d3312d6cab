/* The preview of a list (/verwaltung/import/<id>): the rows' points on the map (green ready,
   orange outside the region, blue the places an ambiguous row may mean), and a click on the map
   fills the coordinates of the row whose "Punkt von Hand setzen" was opened last. */
(function () {
  "use strict";
  var holder = document.querySelector(".import-map");
  if (!holder) { return; }
  var map = window[holder.dataset.map];
  if (!map) { return; }
  var data = document.getElementById("import-points");
  var points = data ? JSON.parse(data.textContent) : [];
  // Thousands of points draw on a canvas; a few stay SVG paths, each its own element.
  var renderer = points.length > 1000 ? L.canvas() : L.svg();
  var bounds = [];
  points.forEach(function (p) {
    L.circleMarker([p[0], p[1]], {
      renderer: renderer, radius: 6, weight: 1, color: p[2], fillColor: p[2], fillOpacity: 0.8
    }).bindTooltip(holder.dataset.rowWord + " " + p[3] + (p[4] ? ": " + p[4] : "")).addTo(map);
    bounds.push([p[0], p[1]]);
  });
  if (bounds.length) { map.fitBounds(L.latLngBounds(bounds).pad(0.1)); }
  var active = null;
  document.querySelectorAll("details.manual-point").forEach(function (d) {
    d.addEventListener("toggle", function () { if (d.open) { active = d; } });
  });
  map.on("click", function (e) {
    if (!active) { return; }
    active.querySelector("input[name=lat]").value = e.latlng.lat.toFixed(6);
    active.querySelector("input[name=lon]").value = e.latlng.lng.toFixed(6);
  });
}());
