// Charts drawn by the server (src/web/chart.rs) get two things here: a readout (hover,
// touch or the arrow keys show a point's time and value) and, in a device's telemetry
// section, live samples from the server-sent event stream appended to the line. The scale
// is read from the <svg>'s data-* attributes; nothing is redrawn that the server drew.
// Without JavaScript the charts read the same, without readout and live samples.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";

  function fmt(v) {
    return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  }

  // The same form as chart_time::format_time(.., Full), in the plant time zone that
  // base.html names on <html data-zone>; UTC where the browser lacks that zone.
  var ZONE = document.documentElement.getAttribute("data-zone") || "UTC";
  var zoned = null;
  try {
    zoned = new Intl.DateTimeFormat("en-GB", {
      timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
  } catch (e) { zoned = null; }
  function fmtTime(ms) {
    if (!zoned) return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    var p = {};
    zoned.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" +
      p.second + " " + p.timeZoneName;
  }

  function num(svg, name) { return Number(svg.getAttribute("data-" + name)); }

  function Chart(svg) {
    this.svg = svg;
    this.fig = svg.closest("figure");
    this.out = this.fig ? this.fig.querySelector("output.readout") : null;
    this.from = num(svg, "from"); this.to = num(svg, "to");
    this.lo = num(svg, "lo"); this.hi = num(svg, "hi");
    this.x0 = num(svg, "x0"); this.x1 = num(svg, "x1");
    this.y0 = num(svg, "y0"); this.y1 = num(svg, "y1");
    this.unit = svg.getAttribute("data-unit") || "";
    // [ms after data-from, avg, min, max, count], or [ms after data-from, value].
    var raw = [];
    try { raw = JSON.parse(svg.getAttribute("data-points") || "[]"); } catch (e) { raw = []; }
    var from = this.from;
    this.points = raw.map(function (p) {
      return p.length > 2 ? [from + p[0], p[1], p[2], p[3], p[4]] : [from + p[0], p[1], p[1], p[1], 1];
    });
    this.index = -1;
    svg.setAttribute("data-count", String(this.points.length));
    this.cursor = document.createElementNS(SVGNS, "line");
    this.cursor.setAttribute("class", "cursor");
    this.cursor.setAttribute("y1", this.y0); this.cursor.setAttribute("y2", this.y1);
    this.dot = document.createElementNS(SVGNS, "circle");
    this.dot.setAttribute("class", "cursor-dot"); this.dot.setAttribute("r", "3.5");
    this.hide();
    svg.appendChild(this.cursor); svg.appendChild(this.dot);
    var self = this;
    svg.addEventListener("pointermove", function (e) { self.pointAt(e); });
    svg.addEventListener("pointerdown", function (e) { self.pointAt(e); });
    svg.addEventListener("pointerleave", function () { self.hide(); });
    svg.addEventListener("focus", function () { self.show(self.index < 0 ? self.points.length - 1 : self.index); });
    svg.addEventListener("blur", function () { self.hide(); });
    svg.addEventListener("keydown", function (e) { self.key(e); });
  }

  Chart.prototype.x = function (ts) {
    return this.x0 + (ts - this.from) / Math.max(1, this.to - this.from) * (this.x1 - this.x0);
  };
  Chart.prototype.y = function (v) {
    return this.y1 - (v - this.lo) / (this.hi - this.lo || 1) * (this.y1 - this.y0);
  };

  Chart.prototype.hide = function () {
    this.cursor.setAttribute("visibility", "hidden");
    this.dot.setAttribute("visibility", "hidden");
  };

  Chart.prototype.show = function (i) {
    if (i < 0 || i >= this.points.length) return;
    this.index = i;
    var p = this.points[i], x = this.x(p[0]), y = this.y(p[1]);
    this.cursor.setAttribute("x1", x); this.cursor.setAttribute("x2", x);
    this.dot.setAttribute("cx", x); this.dot.setAttribute("cy", y);
    this.cursor.setAttribute("visibility", "visible");
    this.dot.setAttribute("visibility", "visible");
    var text = fmtTime(p[0]) + " · " + fmt(p[1]) + (this.unit ? " " + this.unit : "");
    if (p[4] > 1) text += " (average of " + p[4] + ": min " + fmt(p[2]) + ", max " + fmt(p[3]) + ")";
    if (this.out) this.out.textContent = text;
  };

  // The point nearest the pointer's time.
  Chart.prototype.pointAt = function (e) {
    if (!this.points.length) return;
    var rect = this.svg.getBoundingClientRect();
    var box = this.svg.viewBox.baseVal;
    var ux = (e.clientX - rect.left) / rect.width * box.width;
    var ts = this.from + (ux - this.x0) / (this.x1 - this.x0) * (this.to - this.from);
    var best = 0, bestGap = Infinity;
    for (var i = 0; i < this.points.length; i++) {
      var gap = Math.abs(this.points[i][0] - ts);
      if (gap < bestGap) { best = i; bestGap = gap; }
    }
    this.show(best);
  };

  Chart.prototype.key = function (e) {
    var n = this.points.length, i = this.index < 0 ? n - 1 : this.index;
    var step = e.shiftKey ? Math.max(1, Math.round(n / 20)) : 1;
    if (e.key === "ArrowLeft") i = Math.max(0, i - step);
    else if (e.key === "ArrowRight") i = Math.min(n - 1, i + step);
    else if (e.key === "Home") i = 0;
    else if (e.key === "End") i = n - 1;
    else return;
    e.preventDefault();
    this.show(i);
  };

  // A live sample: one more vertex on the line (and a dot) when it falls in the range.
  Chart.prototype.append = function (ts, v) {
    if (this.points.length && ts <= this.points[this.points.length - 1][0]) return false;
    this.points.push([ts, v, v, v, 1]);
    this.svg.setAttribute("data-count", String(this.points.length));
    if (ts > this.to) return false;
    var line = this.svg.querySelector("path.line");
    if (line) {
      var d = line.getAttribute("d") || "";
      line.setAttribute("d", d + (d ? "L" : "M") + this.x(ts).toFixed(1) + "," + this.y(v).toFixed(1));
    }
    var dot = document.createElementNS(SVGNS, "circle");
    dot.setAttribute("class", "dot live");
    dot.setAttribute("cx", this.x(ts).toFixed(1)); dot.setAttribute("cy", this.y(v).toFixed(1));
    dot.setAttribute("r", "2.5");
    var plot = line ? line.parentNode : this.svg;
    plot.appendChild(dot);
    var empty = this.svg.querySelector("text.empty");
    if (empty) empty.parentNode.removeChild(empty);
    return true;
  };

  var charts = {};
  function bind(root) {
    root.querySelectorAll("svg.plot[data-points]").forEach(function (svg) {
      var chart = new Chart(svg);
      if (chart.fig && chart.fig.getAttribute("data-metric")) charts[chart.fig.getAttribute("data-metric")] = chart;
    });
  }
  bind(document);

  var section = document.querySelector("section.telemetry[data-device]");
  if (!section || !window.EventSource) return;
  var device = section.getAttribute("data-device");
  var state = section.querySelector(".live-state");

  // A sample after the drawn range: the server draws the charts again for the range as it
  // is now (a preset or the fitted range moves with time), at most every 10 s.
  var refreshing = false, lastRefresh = 0;
  function refresh() {
    if (refreshing || Date.now() - lastRefresh < 10000) return;
    refreshing = true; lastRefresh = Date.now();
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("section.telemetry[data-device]");
        if (!fresh) return;
        section.querySelectorAll("figure.chart[data-metric]").forEach(function (fig) {
          var metric = fig.getAttribute("data-metric");
          var next = fresh.querySelector('figure.chart[data-metric="' + CSS.escape(metric) + '"] svg.plot');
          var old = fig.querySelector("svg.plot");
          if (next && old) {
            old.replaceWith(document.importNode(next, true));
          }
        });
        var label = fresh.querySelector(".range-label"), here = section.querySelector(".range-label");
        if (label && here) here.textContent = label.textContent;
        charts = {};
        bind(section);
        if (state) state.textContent = "live";
      })
      .catch(function () { if (state) state.textContent = "live · newer samples are past this range: reload to see them"; })
      .then(function () { refreshing = false; });
  }

  var source = new EventSource("/api/v1/devices/" + encodeURIComponent(device) + "/telemetry/live");
  source.onopen = function () { if (state) state.textContent = "live"; };
  source.onerror = function () { if (state) state.textContent = "reconnecting…"; };
  source.addEventListener("samples", function (event) {
    var samples;
    try { samples = JSON.parse(event.data); } catch (e) { return; }
    var beyond = false;
    samples.forEach(function (s) {
      var ts = Date.parse(s.ts);
      var latest = section.querySelector('[data-latest="' + CSS.escape(s.metric) + '"]');
      if (latest) latest.textContent = fmt(s.value);
      var at = section.querySelector('[data-latest-at="' + CSS.escape(s.metric) + '"]');
      if (at) at.textContent = fmtTime(ts);
      var chart = charts[s.metric];
      if (chart && chart.svg.getAttribute("data-live") === "1" && !chart.append(ts, s.value) && ts > chart.to) beyond = true;
    });
    if (beyond && section.getAttribute("data-range") !== "custom") refresh();
  });
})();
