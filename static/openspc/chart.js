// OpenSPC charts: draws the Plotly figures spc/charts.py builds and keeps them live.
//
// A chart element carries data-chart and the figure in a <script type="application/json"
// data-figure-for="<element id>">. Every trace names its series in meta.series; live "points"
// messages carry the same series for the new samples, so a point is appended to each trace with
// exactly what the server would have drawn. "refresh" and "resync" messages re-fetch the figure
// of the range shown; "acknowledged" stops the pulse of the acknowledged points.
(function () {
  "use strict";

  var PULSE_MS = 650;
  var charts = [];

  function readJSON(id) {
    var node = document.querySelector('script[data-figure-for="' + id + '"]');
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function themed(layout) {
    var style = getComputedStyle(document.body);
    layout.font = Object.assign({}, layout.font || {}, { color: style.color });
    return layout;
  }

  var CONFIG = {
    responsive: true, displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };

  function seriesIndex(gd) {
    var out = {};
    (gd.data || []).forEach(function (trace, i) {
      if (trace.meta && trace.meta.series) out[trace.meta.series] = i;
    });
    return out;
  }

  function lastX(gd) {
    var last = null;
    (gd.data || []).forEach(function (t) {
      if (t.meta && /\.(value|upper)$/.test(t.meta.series) && t.x && t.x.length) {
        var x = t.x[t.x.length - 1];
        if (last === null || x > last) last = x;
      }
    });
    return last;
  }

  function Chart(el) {
    this.el = el;
    this.characteristic = Number(el.dataset.characteristic);
    this.maxPoints = Number(el.dataset.maxPoints) || 0;
    this.follows = el.dataset.follows !== "false";
    this.known = new Set();
    this.pulseOn = false;
    this.highlighted = [];
    var figure = readJSON(el.id);
    if (figure) this.draw(figure);
  }

  Chart.prototype.draw = function (figure) {
    var self = this;
    figure.layout.uirevision = "chart-" + this.characteristic; // keep the user's zoom
    this.layout = figure.layout;
    this.known = new Set();
    figure.data.forEach(function (t) {
      if (t.meta && /\.(value|upper|excluded)$/.test(t.meta.series)) {
        (t.customdata || []).forEach(function (id) { self.known.add(id); });
      }
    });
    var first = !this.el.classList.contains("js-plotly-plot");
    var done = Plotly.react(this.el, figure.data, themed(figure.layout), CONFIG);
    return done.then(function () {
      self.index = seriesIndex(self.el);
      if (first) self.listen();
      self.applySpecToggle();
      if (self.highlighted.length) self.highlight(self.highlighted);
      self.el.dataset.ready = "true";
      if (first) window.openspcChartReady = performance.now(); // for bench/chart_page.py
      self.el.dispatchEvent(new CustomEvent("chart:drawn", { bubbles: true }));
    });
  };

  Chart.prototype.listen = function () {
    var self = this;
    if (this.el.dataset.sync) {
      // charts of one sync group share their time axis: zoom or pan one, the others follow
      this.el.on("plotly_relayout", function (change) {
        if (self.syncing) return;
        var update = {};
        if (change["xaxis.autorange"]) update["xaxis.autorange"] = true;
        else if (change["xaxis.range[0]"] !== undefined) {
          update["xaxis.range"] = [change["xaxis.range[0]"], change["xaxis.range[1]"]];
        } else if (change["xaxis.range"]) update["xaxis.range"] = change["xaxis.range"];
        else return;
        charts.forEach(function (other) {
          if (other === self || other.el.dataset.sync !== self.el.dataset.sync) return;
          other.syncing = true;
          Plotly.relayout(other.el, update).finally(function () { other.syncing = false; });
        });
      });
    }
    this.el.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      if (!point || point.customdata === undefined || point.customdata === null) return;
      var series = point.data.meta && point.data.meta.series;
      if (!series || /(center|ucl|lcl|z[+-]\d)$/.test(series)) return;
      openInspector(self, point.customdata);
    });
  };

  Chart.prototype.applySpecToggle = function () {
    var box = document.querySelector('[data-toggle-shapes="spec"]');
    if (box && !box.checked) setShapes(this.el, "spec", false); // drawn visible: no redraw
  };

  // --- live -------------------------------------------------------------------------------

  Chart.prototype.extend = function (series) {
    var self = this;
    var names = Object.keys(series);
    // a series the figure has no trace for: draw the whole range as the server sees it
    if (names.some(function (n) { return series[n].ids.length && self.index[n] === undefined; })) {
      return this.refresh();
    }
    var newest = lastX(this.el);
    var update = { x: [], y: [], customdata: [] };
    var indices = [];
    var backdated = false;
    var added = new Set();
    names.forEach(function (name) {
      var s = series[name];
      var keep = [];
      for (var k = 0; k < s.ids.length; k++) {
        if (self.known.has(s.ids[k])) continue; // drawn already (e.g. caught up twice)
        if (newest !== null && s.x[k] < newest) backdated = true;
        keep.push(k);
        added.add(s.ids[k]);
      }
      if (!keep.length) return;
      indices.push(self.index[name]);
      update.x.push(keep.map(function (k) { return s.x[k]; }));
      update.y.push(keep.map(function (k) { return s.y[k]; }));
      update.customdata.push(keep.map(function (k) { return s.ids[k]; }));
    });
    if (backdated) return this.refresh(); // a back-dated point: the limits before it may move
    if (!indices.length) return Promise.resolve();
    added.forEach(function (id) { self.known.add(id); });
    return Plotly.extendTraces(this.el, update, indices).then(function () {
      self.trim();
      self.el.dataset.points = String(self.known.size);
      changed();
    });
  };

  // Keep a "last N" view at N points: drop what fell out on the left.
  Chart.prototype.trim = function () {
    if (!this.maxPoints) return;
    var data = this.el.data;
    var main = data.filter(function (t) { return t.meta && /^p\.(value|upper)$/.test(t.meta.series); })[0];
    if (!main) return;
    var ids = [];
    data.forEach(function (t) {
      if (t.meta && /^p\.(value|upper|excluded)$/.test(t.meta.series)) {
        for (var k = 0; k < t.x.length; k++) ids.push(t.x[k]);
      }
    });
    ids = Array.from(new Set(ids)).sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
    if (ids.length <= this.maxPoints) return;
    var cutoff = ids[ids.length - this.maxPoints];
    var xs = [], ys = [], cds = [], idx = [];
    data.forEach(function (t, i) {
      if (!t.x || !t.x.length || t.x[0] >= cutoff) return;
      var keep = [];
      for (var k = 0; k < t.x.length; k++) if (t.x[k] >= cutoff) keep.push(k);
      var stepped = t.mode === "lines";
      var before = keep.length ? keep[0] - 1 : t.x.length - 1;
      // a stepped line keeps only its changes: its step in force at the cutoff starts there
      if (stepped && before >= 0) keep.unshift(before);
      idx.push(i);
      xs.push(keep.map(function (k, j) { return stepped && j === 0 && k === before ? cutoff : t.x[k]; }));
      ys.push(keep.map(function (k) { return t.y[k]; }));
      cds.push(keep.map(function (k) { return t.customdata ? t.customdata[k] : null; }));
    });
    // the traces' arrays are replaced in place and the figure drawn again: Plotly.restyle of
    // x would make the time axis a linear one (its type is set again from the data)
    idx.forEach(function (i, n) {
      data[i].x = xs[n]; data[i].y = ys[n]; data[i].customdata = cds[n];
    });
    if (idx.length) Plotly.react(this.el, data, this.el.layout);
    // forget what scrolled out, so a page left open for days holds what it shows, no more
    var kept = new Set();
    this.el.data.forEach(function (t) { (t.customdata || []).forEach(function (id) { kept.add(id); }); });
    this.known = kept;
  };

  Chart.prototype.refresh = function () {
    var self = this;
    if (this.pending) return this.pending;
    var url = this.el.dataset.figureUrl + "?" + (this.el.dataset.query || "");
    this.pending = new Promise(function (resolve) { setTimeout(resolve, 250); })
      .then(function () { return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }); })
      .then(function (response) {
        if (!response.ok) throw new Error("chart refresh answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        self.follows = body.follows;
        var work = [self.draw(body.figure)];
        var hist = document.querySelector("[data-histogram]");
        if (hist && body.histogram) work.push(drawHistogram(hist, body.histogram));
        return Promise.all(work);
      })
      .then(function () { changed(); })
      .catch(function (error) { console.warn(error); })
      .finally(function () { self.pending = null; });
    return this.pending;
  };

  Chart.prototype.unpulse = function (sampleIds) {
    var gone = new Set(sampleIds);
    var self = this;
    ["p.pulse", "s.pulse"].forEach(function (name) {
      var i = self.index[name];
      if (i === undefined) return;
      var t = self.el.data[i];
      var keep = [];
      for (var k = 0; k < t.customdata.length; k++) if (!gone.has(t.customdata[k])) keep.push(k);
      if (keep.length === t.customdata.length) return;
      t.x = keep.map(function (k) { return t.x[k]; });
      t.y = keep.map(function (k) { return t.y[k]; });
      t.customdata = keep.map(function (k) { return t.customdata[k]; });
      Plotly.react(self.el, self.el.data, self.el.layout); // not restyle: see trim()
    });
    changed();
  };

  Chart.prototype.pulse = function () {
    var indices = ["p.pulse", "s.pulse"].map(function (n) { return this.index && this.index[n]; }, this)
      .filter(function (i) { return i !== undefined && this.el.data[i] && this.el.data[i].x.length; }, this);
    if (!indices.length) return;
    this.pulseOn = !this.pulseOn;
    Plotly.restyle(this.el, { "marker.size": this.pulseOn ? 26 : 16, "marker.opacity": this.pulseOn ? 0.25 : 0.9 }, indices);
  };

  // --- inspector highlight ------------------------------------------------------------------

  Chart.prototype.highlight = function (sampleIds) {
    this.clearHighlight();
    this.highlighted = sampleIds || [];
    if (!this.highlighted.length) return;
    var want = new Set(this.highlighted);
    var xs = [], ys = [], ids = [];
    var self = this;
    ["p.value", "p.upper", "p.lower"].forEach(function (name) {
      var i = self.index[name];
      if (i === undefined) return;
      var t = self.el.data[i];
      for (var k = 0; k < t.customdata.length; k++) {
        if (want.has(t.customdata[k]) && t.y[k] !== null) {
          xs.push(t.x[k]); ys.push(t.y[k]); ids.push(t.customdata[k]);
        }
      }
    });
    if (!xs.length) return;
    Plotly.addTraces(this.el, {
      type: "scatter", mode: "markers", x: xs, y: ys, customdata: ids, yaxis: "y", xaxis: "x",
      hoverinfo: "skip", showlegend: false, meta: { series: "highlight" },
      marker: { symbol: "circle-open", size: 18, color: "#f59e0b", line: { width: 3 } },
    });
    this.el.dataset.highlighted = String(xs.length);
  };

  Chart.prototype.clearHighlight = function () {
    var i = (this.el.data || []).findIndex(function (t) { return t.meta && t.meta.series === "highlight"; });
    if (i >= 0) Plotly.deleteTraces(this.el, i);
    delete this.el.dataset.highlighted;
  };

  // --- page wiring ----------------------------------------------------------------------------

  function changed() {
    document.body.dispatchEvent(new CustomEvent("chartChanged", { bubbles: true }));
  }

  function setShapes(gd, name, visible) {
    var shapes = (gd.layout && gd.layout.shapes) || [];
    var update = {};
    shapes.forEach(function (s, i) { if (s.name === name) update["shapes[" + i + "].visible"] = visible; });
    if (Object.keys(update).length) Plotly.relayout(gd, update);
  }

  function drawHistogram(el, figure) {
    if (!figure) { el.classList.add("is-empty"); return Promise.resolve(); }
    el.classList.remove("is-empty");
    return Plotly.react(el, figure.data, themed(figure.layout), { responsive: true, displaylogo: false, displayModeBar: false });
  }

  var inspectorChart = null;

  function openDrawer(url) {
    var dialog = document.getElementById("inspector");
    var body = document.getElementById("inspector-body");
    if (!dialog || !body) return;
    body.innerHTML = '<p class="muted">Loading…</p>';
    if (!dialog.open) { dialog.show(); document.body.classList.add("inspecting"); resizeAll(); }
    htmx.ajax("GET", url, { target: body, swap: "innerHTML" });
  }

  // "Note a period": the next drag across the chart selects a span of time; the period form
  // opens in the drawer with it filled in.
  function notePeriod(chart, button) {
    var on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    Plotly.relayout(chart.el, { dragmode: on ? "select" : "zoom", selectdirection: "h" });
    if (!on) return;
    chart.el.once("plotly_selected", function (event) {
      button.setAttribute("aria-pressed", "false");
      Plotly.relayout(chart.el, { dragmode: "zoom", selections: [] });
      Plotly.restyle(chart.el, { selectedpoints: [null] }); // no point stays dimmed by the drag
      var range = event && event.range && event.range.x;
      if (!range) return;
      // x is wall-clock time in milliseconds (spc/charts.py): its UTC reading is the local one
      var local = function (x) { return new Date(typeof x === "number" ? x : x.replace(" ", "T") + "Z").toISOString().slice(0, 16); };
      openDrawer(button.dataset.notePeriod + "?start=" + encodeURIComponent(local(range[0])) +
        "&end=" + encodeURIComponent(local(range[1])));
    });
  }

  function resizeAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) { Plotly.Plots.resize(gd); });
  }

  function openInspector(chart, sampleId) {
    var dialog = document.getElementById("inspector");
    var body = document.getElementById("inspector-body");
    if (!dialog || !body) return;
    inspectorChart = chart;
    body.innerHTML = '<p class="muted">Loading…</p>';
    if (!dialog.open) {
      // a drawer beside the chart, not over it: the pattern it explains stays in sight
      dialog.show();
      document.body.classList.add("inspecting");
      resizeAll();
    }
    var box = chart.el.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) chart.el.scrollIntoView({ block: "center", behavior: "smooth" });
    htmx.ajax("GET", chart.el.dataset.inspectorUrl + sampleId + "/", { target: body, swap: "innerHTML" });
  }

  // Charts of a sync group start on one time span: from the earliest first point to the latest.
  function alignSyncGroups() {
    var groups = {};
    charts.forEach(function (c) {
      if (c.el.dataset.sync) (groups[c.el.dataset.sync] = groups[c.el.dataset.sync] || []).push(c);
    });
    Object.keys(groups).forEach(function (name) {
      var lo = null, hi = null;
      groups[name].forEach(function (c) {
        (c.el.data || []).forEach(function (t) {
          if (!t.meta || !/^p\.(value|upper|excluded)$/.test(t.meta.series) || !t.x.length) return;
          if (lo === null || t.x[0] < lo) lo = t.x[0];
          if (hi === null || t.x[t.x.length - 1] > hi) hi = t.x[t.x.length - 1];
        });
      });
      if (lo === null || lo === hi) return;
      groups[name].forEach(function (c) {
        c.syncing = true;
        Plotly.relayout(c.el, { "xaxis.range": [lo, hi] }).finally(function () { c.syncing = false; });
      });
    });
  }

  function chartFor(characteristic) {
    return charts.filter(function (c) { return c.characteristic === characteristic; });
  }

  function onLive(event) {
    var m = event.detail || {};
    if (m.kind === "resync") { charts.forEach(function (c) { c.refresh(); }); return; }
    if (m.kind === "acknowledged") {
      charts.forEach(function (c) {
        if (!m.characteristics || m.characteristics.indexOf(c.characteristic) >= 0) c.unpulse(m.sample_ids || []);
      });
      return;
    }
    chartFor(m.characteristic).forEach(function (c) {
      if (m.kind === "points") {
        if (!c.follows) return;
        if (m.series) c.extend(m.series); else c.refresh();
      } else if (m.kind === "refresh") {
        c.refresh();
      }
    });
  }

  // Charts that arrive later (the dashboard loads one by htmx) are mounted as they land; a
  // chart whose element left the page is dropped.
  function mount(root) {
    charts = charts.filter(function (c) { return document.body.contains(c.el); });
    window.openspcCharts = charts;
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (!el.id || el.dataset.mounted) return;
      el.dataset.mounted = "true";
      charts.push(new Chart(el));
    });
  }

  function init() {
    if (!window.Plotly) return;
    mount(document);
    document.body.addEventListener("htmx:load", function (event) { mount(event.detail.elt); });
    document.querySelectorAll("[data-histogram]").forEach(function (el) {
      drawHistogram(el, readJSON(el.id));
    });
    window.openspcCharts = charts;
    alignSyncGroups();

    document.addEventListener("openspc:live", onLive);
    document.addEventListener("change", function (event) {
      var box = event.target.closest("[data-toggle-shapes]");
      if (!box) return;
      document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
        setShapes(gd, box.dataset.toggleShapes, box.checked);
      });
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-inspect]");
      if (button && charts.length) openInspector(charts[0], button.dataset.inspect);
      var period = event.target.closest("[data-note-period]");
      if (period && charts.length) notePeriod(charts[0], period);
      var edit = event.target.closest("[data-edit-note]");
      if (edit) openDrawer(edit.dataset.editNote);
    });
    // an action on the server (a note, an acknowledgment, an exclusion) answered chartChanged
    // with its message: draw the chart again now (the live channel tells the other pages)
    document.body.addEventListener("chartChanged", function (event) {
      if (!event.detail || !event.detail.message) return;
      charts.forEach(function (c) { c.refresh(); });
      var dialog = document.getElementById("inspector");
      var form = dialog && dialog.querySelector("form[hx-target='this']");
      if (dialog && dialog.open && form) {
        dialog.close();
        if (window.openspcToast) window.openspcToast(event.detail.message, "success");
      }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (!event.detail.target || event.detail.target.id !== "inspector-body") return;
      var root = event.detail.target.querySelector("[data-highlight]");
      var chart = inspectorChart || charts[0];
      if (!chart) return;
      var ids = [];
      try { ids = JSON.parse(root ? root.dataset.highlight : "[]"); } catch (e) { ids = []; }
      chart.highlight(ids);
    });
    var dialog = document.getElementById("inspector");
    if (dialog) {
      dialog.addEventListener("close", function () {
        document.body.classList.remove("inspecting");
        charts.forEach(function (c) { c.highlighted = []; c.clearHighlight(); });
        resizeAll();
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && dialog.open) dialog.close();
      });
    }
    // the theme toggle changes colours the figures were drawn with
    new MutationObserver(function () {
      document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
        Plotly.relayout(gd, { "font.color": getComputedStyle(document.body).color });
      });
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    setInterval(function () {
      if (document.hidden) return;
      charts.forEach(function (c) { if (c.index) c.pulse(); });
    }, PULSE_MS);
  }

  window.OpenSPCChart = Chart;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
