/* An embedded page tells the page that frames it how tall it is, whenever that changes, so the
   snippet of /einbetten can size the iframe to its content (no scroll bar inside). */
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function tell() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ atlasEmbedHeight: height }, "*");
    }
  }
  window.addEventListener("load", tell);
  window.addEventListener("resize", tell);
  if (window.ResizeObserver) { new ResizeObserver(tell).observe(document.body); }
  tell();
})();
