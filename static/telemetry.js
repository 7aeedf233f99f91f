// Live updates of the telemetry section: new samples from the device's server-sent event
// stream update the latest values and redraw the charts. Without JavaScript the section
// still shows what the server drew.
(function () {
  "use strict";
  var section = document.querySelector("section.telemetry[data-device]");
  if (!section || !window.EventSource) return;
  var device = section.getAttribute("data-device");
  var rangeMs = Number(section.getAttribute("data-range-ms")) || 86400000;
  var state = section.querySelector(".live-state");
  var charts = {};
  section.querySelectorAll("figure.chart").forEach(function (fig) {
    var points = [];
    try { points = JSON.parse(fig.getAttribute("data-points") || "[]"); } catch (e) { points = []; }
    charts[fig.getAttribute("data-metric")] = { fig: fig, points: points };
  });

  function fmt(v) {
    return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  }

  function redraw(chart) {
    var to = Math.max(Date.now(), chart.points.length ? chart.points[chart.points.length - 1][0] : 0);
    var from = to - rangeMs;
    var pts = chart.points.filter(function (p) { return p[0] >= from; });
    chart.points = pts;
    if (!pts.length) return;
    var min = Infinity, max = -Infinity;
    pts.forEach(function (p) { min = Math.min(min, p[1]); max = Math.max(max, p[1]); });
    var line = pts.map(function (p) {
      var x = (p[0] - from) / rangeMs * 600;
      var y = max > min ? 120 - (p[1] - min) / (max - min) * 120 : 60;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    chart.fig.querySelector("polyline").setAttribute("points", line);
    var lo = chart.fig.querySelector("[data-min]"), hi = chart.fig.querySelector("[data-max]");
    if (lo) lo.textContent = fmt(min);
    if (hi) hi.textContent = fmt(max);
  }

  var source = new EventSource("/api/v1/devices/" + encodeURIComponent(device) + "/telemetry/live");
  source.onopen = function () { if (state) state.textContent = "live"; };
  source.onerror = function () { if (state) state.textContent = "reconnecting…"; };
  source.addEventListener("samples", function (event) {
    var samples;
    try { samples = JSON.parse(event.data); } catch (e) { return; }
    var touched = {};
    samples.forEach(function (s) {
      var ts = Date.parse(s.ts);
      var latest = section.querySelector('[data-latest="' + s.metric + '"]');
      if (latest) latest.textContent = fmt(s.value);
      var at = section.querySelector('[data-latest-at="' + s.metric + '"]');
      if (at) at.textContent = s.ts;
      var chart = charts[s.metric];
      if (chart) { chart.points.push([ts, s.value]); touched[s.metric] = chart; }
    });
    Object.keys(touched).forEach(function (m) {
      var chart = touched[m];
      chart.points.sort(function (a, b) { return a[0] - b[0]; });
      redraw(chart);
    });
  });
})();
