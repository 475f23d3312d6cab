/* Coverage overview: name the data sources on the map itself (as text, never as markup). */
(function () {
  "use strict";
  var config = document.getElementById("coverage-map-config");
  var map = config && window[config.dataset.map];
  if (!map) { return; }
  var span = document.createElement("span");
  span.textContent = config.dataset.attribution;
  map.attributionControl.addAttribution(span.innerHTML);
})();
