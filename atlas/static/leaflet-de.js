/* Leaflet in German: the titles and labels its controls read out (zoom, layers, popups, the
   attribution's prefix, the default marker text). Loaded after leaflet.js and before any map is
   made, so every map's controls take these defaults. */
(function () {
  "use strict";
  if (!window.L) { return; }
  L.Control.Zoom.prototype.options.zoomInTitle = "Vergrößern";
  L.Control.Zoom.prototype.options.zoomOutTitle = "Verkleinern";
  L.Control.Attribution.prototype.options.prefix =
    '<a href="https://leafletjs.com" title="Leaflet, eine JavaScript-Bibliothek für interaktive Karten">Leaflet</a>';
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
