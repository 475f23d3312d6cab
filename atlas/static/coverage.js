/* Coverage overview: name the data sources on the map itself (as text, never as markup), and
   open a region's page when its area on the map is clicked. */
(function () {
  "use strict";
  var config = document.getElementById("coverage-map-config");
  var map = config && window[config.dataset.map];
  if (!map) { return; }
  var span = document.createElement("span");
  span.textContent = config.dataset.attribution;
  map.attributionControl.addAttribution(span.innerHTML);
  map.eachLayer(function (layer) {
    var url = layer.feature && layer.feature.properties && layer.feature.properties.url;
    if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") {
      layer.on("click", function () { window.location.assign(url); });
    }
  });
})();
