// Kiosk / wall display: pages of live charts that rotate, out-of-control ones first, a clock.
// Charts are drawn and kept live by chart.js; this file orders and pages the tiles and keeps
// each tile's headline (last value, state) current from the live messages.
(function () {
  "use strict";

  var root = document.querySelector("[data-kiosk-page]");
  if (!root) return;
  var grid = root.querySelector("[data-kiosk-grid]");
  var perPage = Number(root.dataset.perPage) || 6;
  var rotateMs = (Number(root.dataset.rotate) || 20) * 1000;
  var page = 0;

  function tiles() { return Array.prototype.slice.call(root.querySelectorAll("[data-tile]")); }

  function tileFor(characteristic) {
    return root.querySelector('[data-tile][data-characteristic="' + characteristic + '"]');
  }

  function order() {
    var sorted = tiles().sort(function (a, b) {
      var bad = (b.dataset.state === "bad") - (a.dataset.state === "bad");
      return bad || a.dataset.name.localeCompare(b.dataset.name);
    });
    sorted.forEach(function (t) { grid.appendChild(t); });
    return sorted;
  }

  function show() {
    if (!grid) return;
    var all = order();
    var pages = Math.max(1, Math.ceil(all.length / perPage));
    page = page % pages;
    all.forEach(function (t, i) {
      var visible = Math.floor(i / perPage) === page;
      if (t.hidden === !visible) return;
      t.hidden = !visible;
      if (visible) {
        var plot = t.querySelector(".js-plotly-plot");
        if (plot && window.Plotly) Plotly.Plots.resize(plot);
      }
    });
    var label = root.querySelector("[data-kiosk-pages]");
    if (label) label.textContent = pages > 1 ? "Page " + (page + 1) + " of " + pages : "";
    var bad = all.filter(function (t) { return t.dataset.state === "bad"; }).length;
    var counts = root.querySelector("[data-kiosk-bad]");
    if (counts) counts.textContent = bad ? bad + " out of control" : "All in control";
  }

  function setState(tile, state) {
    if (!tile || tile.dataset.state === state) return;
    tile.dataset.state = state;
    var label = tile.querySelector("[data-tile-state]");
    if (label) label.textContent = state === "bad" ? "OUT OF CONTROL" : "In control";
    show();
  }

  function waiting(tile) {
    var plot = tile.querySelector(".js-plotly-plot");
    return (plot && plot.data || []).some(function (t) {
      return t.meta && /\.pulse$/.test(t.meta.series) && t.x && t.x.length;
    });
  }

  document.addEventListener("openspc:live", function (event) {
    var m = event.detail || {};
    if (m.kind === "points") {
      var tile = tileFor(m.characteristic);
      if (!tile) return;
      var s = m.series && (m.series["p.value"] || m.series["p.upper"]);
      var last = tile.querySelector("[data-tile-last]");
      if (s && s.y.length && last && last.firstChild) {
        var decimals = (m.data && m.data.characteristic && m.data.characteristic.decimal_places) || 3;
        last.firstChild.textContent = Number(s.y[s.y.length - 1]).toFixed(decimals);
      }
      if (m.violations && m.violations.length) setState(tile, "bad");
    } else if (m.kind === "violation") {
      setState(tileFor(m.characteristic), "bad");
    } else if (m.kind === "acknowledged") {
      // after chart.js has dropped the acknowledged points from the pulse
      setTimeout(function () {
        (m.characteristics || []).forEach(function (id) {
          var tile = tileFor(id);
          if (tile && !waiting(tile)) setState(tile, "ok");
        });
      }, 100);
    }
  });

  function tick() {
    var clock = root.querySelector("[data-kiosk-clock]");
    if (clock) clock.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  show();
  tick();
  setInterval(tick, 1000);
  setInterval(function () { page += 1; show(); }, rotateMs);
})();
