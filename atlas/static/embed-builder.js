/* /einbetten: the "Code kopieren" button copies the snippet (the text area stays selectable). */
(function () {
  "use strict";
  var button = document.getElementById("copy-snippet");
  var area = document.getElementById("embed-snippet");
  var status = document.getElementById("copy-status");
  if (!button || !area) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    area.select();
    var done = function () { status.textContent = button.dataset.done; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(area.value).then(done, function () { document.execCommand("copy"); done(); });
    } else { document.execCommand("copy"); done(); }
  });
})();
