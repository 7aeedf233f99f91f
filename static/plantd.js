// plantd's UI script for every page, loaded from a file because the Content-Security-Policy
// allows no inline script or event handler: a form with `data-confirm` asks before it is
// submitted (e.g. deleting a device); `<time data-age>` ages ("3 min ago") stay current;
// a `data-copy` button (hidden without the script) copies the text of the element it names.
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

  // Words as the server writes them (src/web/local_time.rs: `age`).
  function age(seconds) {
    var abs = Math.abs(seconds), span;
    if (abs < 5) return "just now";
    if (abs < 60) span = Math.floor(abs) + " s";
    else if (abs < 3600) span = Math.floor(abs / 60) + " min";
    else if (abs < 86400) span = Math.floor(abs / 3600) + " h";
    else {
      var days = Math.floor(abs / 86400);
      span = days + (days === 1 ? " day" : " days");
    }
    return seconds > 0 ? span + " ago" : "in " + span;
  }
  function refreshAges() {
    var times = document.querySelectorAll("time[data-age][datetime]");
    for (var i = 0; i < times.length; i++) {
      var at = Date.parse(times[i].getAttribute("datetime"));
      if (!isNaN(at)) times[i].textContent = age((Date.now() - at) / 1000);
    }
  }
  window.setInterval(refreshAges, 15000);

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  });
  document.addEventListener("click", function (event) {
    var button = event.target;
    if (!(button instanceof HTMLButtonElement) || !button.hasAttribute("data-copy")) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(source); });
    } else {
      select(source);
      try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: copy by hand */ }
    }
  });
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
