// The dashboard's live figures: listens to /dashboard/live (server-sent events, one shared
// computation on the server) and writes each `figures` event into the page in place:
// every element with data-figure="key", the empty-state notes (data-empty="key" shows
// when that figure is 0) and the recent events list. Without this script the page is
// complete as loaded. EventSource reconnects by itself; a 503 (too many watchers) ends it.
(function () {
  "use strict";
  var root = document.getElementById("figures");
  if (!root || !window.EventSource) return;
  var note = document.getElementById("live-note");

  function setNote(text) {
    if (note) note.textContent = text;
  }

  function showEvents(events) {
    var list = document.getElementById("event-list");
    if (!list || !events) return;
    while (list.firstChild) list.removeChild(list.firstChild);
    events.forEach(function (e) {
      var li = document.createElement("li");
      var time = document.createElement("time");
      time.textContent = e.at;
      var kind = document.createElement("code");
      kind.textContent = e.kind;
      li.appendChild(time);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(kind);
      li.appendChild(document.createTextNode(" "));
      if (e.href) {
        var a = document.createElement("a");
        a.href = e.href;
        a.textContent = e.subject;
        li.appendChild(a);
      } else {
        li.appendChild(document.createTextNode(e.subject));
      }
      list.appendChild(li);
    });
    document.querySelectorAll("[data-empty-list='event-list']").forEach(function (p) {
      p.hidden = events.length > 0;
    });
  }

  function show(figures) {
    var values = figures.values || {};
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var key = el.getAttribute("data-figure");
      var text = Object.prototype.hasOwnProperty.call(values, key) ? values[key] : "\u2014";
      if (el.textContent !== text) el.textContent = text;
    });
    document.querySelectorAll("[data-empty]").forEach(function (p) {
      p.hidden = values[p.getAttribute("data-empty")] !== "0";
    });
    showEvents(figures.events);
  }

  var source = new EventSource(root.getAttribute("data-live"));
  source.addEventListener("open", function () {
    setNote("Live: the figures update by themselves.");
    root.setAttribute("data-connected", "true");
  });
  source.addEventListener("figures", function (message) {
    try {
      show(JSON.parse(message.data));
    } catch (err) {
      return;
    }
  });
  source.addEventListener("error", function () {
    root.setAttribute("data-connected", "false");
    if (source.readyState === EventSource.CLOSED) {
      setNote("Not live (the server refused or ended the stream); reload to refresh.");
    } else {
      setNote("Reconnecting\u2026 the figures shown may be out of date.");
    }
  });
})();
