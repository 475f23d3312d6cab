/* Leaflet in German: the titles and labels its controls read out (zoom, layers, popups, the
   attribution's prefix, the default marker text). Loaded after leaflet.js and before any map is
   made, so every map's controls take these defaults. */
(function () {
  "use strict";
  if (!window.L) { return; }
  L.Control.Zoom.prototype.options.zoomInTitle = "Vergrößern";
  L.Control.Zoom.prototype.options.zoomOutTitle = "Verkleinern";
  // The credit links to Leaflet's licence as served here, not to leafletjs.com: a page of the
  // atlas points to no other host than the tile server.
  var here = document.currentScript ? document.currentScript.src : "";
  var licence = here.replace(/leaflet-de\.js(\?.*)?$/, "vendor/leaflet/LICENSE");
  L.Control.Attribution.prototype.options.prefix =
    '<a href="' + licence + '" title="Leaflet, eine JavaScript-Bibliothek für interaktive Karten">Leaflet</a>';
  L.Marker.prototype.options.alt = "Kartenpunkt";

  var layersLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.include({
    _initLayout: function () {
      layersLayout.call(this);
      if (this._layersLink) {
        this._layersLink.title = "Kartenebenen";
        this._layersLink.setAttribute("aria-label", "Kartenebenen");
      }
    }
  });

  var popupLayout = L.Popup.prototype._initLayout;
  L.Popup.include({
    _initLayout: function () {
      popupLayout.call(this);
      if (this._closeButton) {
        this._closeButton.setAttribute("aria-label", "Schließen");
        this._closeButton.title = "Schließen";
      }
    }
  });
})();
