/* Leaflet in German: the titles and labels its controls read out (zoom, layers, popups, the
   attribution's prefix, the default marker text). Loaded after leaflet.js and before any map is
   made, so every map's controls take these defaults. */
(function () {
  "use strict";
  // The page's texts in its language (the JSON block #atlas-texts, rendered by base.html):
  // atlasText.t("key", {name: value}) and atlasText.count("key", n) for counted texts.
  var node = document.getElementById("atlas-texts");
  var texts = node ? JSON.parse(node.textContent) : {};
  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? values[name] : all;
    });
  }
  window.atlasText = {
    t: function (key, values) { return fill(key in texts ? texts[key] : key, values); },
    count: function (key, n) {
      var forms = texts[key] || {};
      var category = window.Intl && Intl.PluralRules ? new Intl.PluralRules(texts.lang || "de").select(n) : "other";
      return fill(forms[category] || forms.other || String(n), { n: n });
    }
  };
  var t = window.atlasText.t;
  if (!window.L) { return; }
  L.Control.Zoom.prototype.options.zoomInTitle = t("zoomIn");
  L.Control.Zoom.prototype.options.zoomOutTitle = t("zoomOut");
  // The credit links to Leaflet's licence as served here, not to leafletjs.com: a page of the
  // atlas points to no other host than the tile server.
  var here = document.currentScript ? document.currentScript.src : "";
  var licence = here.replace(/leaflet-de\.js(\?.*)?$/, "vendor/leaflet/LICENSE");
  L.Control.Attribution.prototype.options.prefix =
    '<a href="' + licence + '" title="' + t("leafletTitle").replace(/"/g, "&quot;") + '">Leaflet</a>';
  L.Marker.prototype.options.alt = t("marker");

  var layersLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.include({
    _initLayout: function () {
      layersLayout.call(this);
      if (this._layersLink) {
        this._layersLink.title = t("layers");
        this._layersLink.setAttribute("aria-label", t("layers"));
      }
    }
  });

  var popupLayout = L.Popup.prototype._initLayout;
  L.Popup.include({
    _initLayout: function () {
      popupLayout.call(this);
      if (this._closeButton) {
        this._closeButton.setAttribute("aria-label", t("close"));
        this._closeButton.title = t("close");
      }
    }
  });
})();
