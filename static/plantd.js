// plantd's UI script for every page, loaded from a file because the Content-Security-Policy
// allows no inline script or event handler: a form with `data-confirm` asks before it is
// submitted (e.g. deleting a device).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
