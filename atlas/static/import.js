/* The preview of a list (/verwaltung/import/<id>): a click on the map fills the coordinates of
   the row whose "Punkt von Hand setzen" was opened last. */
(function () {
  "use strict";
  var holder = document.querySelector(".import-map");
  if (!holder) { return; }
  var map = window[holder.dataset.map];
  if (!map) { return; }
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
