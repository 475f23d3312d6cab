/* Correcting a submitted point: drag the marker, click the map, move the focused marker with the
   arrow keys (Shift: larger steps), or type the coordinates; the hidden lat/lon fields follow,
   and the server checks the point again when the form is sent. */
(function () {
  "use strict";
  var t = window.atlasText.t;
  var config = document.getElementById("point-config");
  if (!config) { return; }
  var map = window[config.dataset.map];
  var marker = window[config.dataset.marker];
  var lat = document.getElementById("f-lat");
  var lon = document.getElementById("f-lon");
  var status = document.getElementById("point-status");
  if (!map || !marker || !lat || !lon) { return; }
  if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(18); }
  var STEP_PX = 10, BIG_STEP_PX = 50;
  var fields = coordinateFields();

  function say(text) {
    if (status) { status.textContent = text; }
  }

  function moveTo(latlng) {
    marker.setLatLng(latlng);
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    fields.lat.value = german(lat.value);
    fields.lon.value = german(lon.value);
    say(t("pointMoved", { lat: lat.value, lon: lon.value }));
  }
  marker.on("dragend", function () { moveTo(marker.getLatLng()); });
  map.on("click", function (event) { moveTo(event.latlng); });

  // The marker is named after the project (as the form names it), and says how to move it.
  var icon = marker.getElement();
  var nameInput = document.getElementById("name");
  function nameMarker() {
    var name = (nameInput && nameInput.value.trim()) || t("yourProject");
    icon.title = name;
    icon.setAttribute("alt", name);
  }
  if (icon) {
    nameMarker();
    if (nameInput) { nameInput.addEventListener("input", nameMarker); }
    icon.setAttribute("aria-describedby", fields.help.id);
    icon.addEventListener("keydown", function (event) {
      var d = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[event.key];
      if (!d || event.altKey || event.ctrlKey || event.metaKey) { return; }
      // Not the map's own arrow keys, which would pan it instead.
      event.preventDefault();
      event.stopPropagation();
      var step = event.shiftKey ? BIG_STEP_PX : STEP_PX;
      var at = map.latLngToContainerPoint(marker.getLatLng()).add([d[0] * step, d[1] * step]);
      var target = map.containerPointToLatLng(at);
      moveTo(target);
      map.panInside(target, { padding: [30, 30] });
      icon.focus();
    });
  }

  // Two fields for the coordinates, below the map: what the marker shows, and what moves it.
  function coordinateFields() {
    var box = document.createElement("fieldset");
    box.className = "point-fields";
    box.innerHTML =
      '<legend></legend>' +
      '<div class="coordinates">' +
      '<div class="field"><label for="point-lat"></label>' +
      '<input id="point-lat" type="text" inputmode="decimal" autocomplete="off" spellcheck="false"></div>' +
      '<div class="field"><label for="point-lon"></label>' +
      '<input id="point-lon" type="text" inputmode="decimal" autocomplete="off" spellcheck="false"></div>' +
      '</div>' +
      '<p class="hint" id="point-help"></p>';
    // The texts go in as text, never as markup.
    box.querySelector("legend").textContent = t("coordinates");
    box.querySelector("label[for=point-lat]").textContent = t("latitude");
    box.querySelector("label[for=point-lon]").textContent = t("longitude");
    box.querySelector("#point-help").textContent = t("pointHelp");
    var anchor = map.getContainer().parentElement;
    anchor.parentNode.insertBefore(box, anchor.nextSibling);
    var out = {
      lat: box.querySelector("#point-lat"),
      lon: box.querySelector("#point-lon"),
      help: box.querySelector("#point-help")
    };
    out.lat.value = german(lat.value);
    out.lon.value = german(lon.value);
    [out.lat, out.lon].forEach(function (input) {
      input.addEventListener("change", typed);
      input.addEventListener("keydown", function (event) {
        // Enter takes the coordinates here instead of sending the form.
        if (event.key === "Enter") { event.preventDefault(); typed(); }
      });
    });
    return out;
  }

  function typed() {
    var la = number(fields.lat.value), lo = number(fields.lon.value);
    if (la === null || lo === null || la < -90 || la > 90 || lo < -180 || lo > 180) {
      say(t("badCoordinates"));
      return;
    }
    if (la === +lat.value && lo === +lon.value) { return; }
    var target = L.latLng(la, lo);
    moveTo(target);
    map.panTo(target);
  }

  function number(text) {
    var clean = String(text).trim().replace(",", ".");
    return /^-?\d+(\.\d+)?$/.test(clean) ? parseFloat(clean) : null;
  }

  function german(text) {
    return text ? String(text).replace(".", ",") : "";
  }
})();
