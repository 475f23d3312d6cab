/* Correcting a submitted point: drag the marker or click the map; the hidden lat/lon fields
   follow, and the server checks the point again when the form is sent. */
(function () {
  "use strict";
  var config = document.getElementById("point-config");
  if (!config) { return; }
  var map = window[config.dataset.map];
  var marker = window[config.dataset.marker];
  var lat = document.getElementById("f-lat");
  var lon = document.getElementById("f-lon");
  var status = document.getElementById("point-status");
  if (!map || !marker || !lat || !lon) { return; }
  if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(18); }

  function moveTo(latlng) {
    marker.setLatLng(latlng);
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (status) {
      status.textContent = "Punkt verschoben auf " + lat.value + ", " + lon.value +
        ". Landkreis und Amt werden beim Absenden neu bestimmt.";
    }
  }
  marker.on("dragend", function () { moveTo(marker.getLatLng()); });
  map.on("click", function (event) { moveTo(event.latlng); });
})();
