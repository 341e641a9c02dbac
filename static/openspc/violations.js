// OpenSPC violations page (alerts/views.py): selecting rows to acknowledge, and keeping the
// table live from the page's channel (static/openspc/live.js re-dispatches every message as an
// `openspc:live` event on document):
//   acknowledged → the rows of those violations shown here are read again and put in place
//                  (with the summary of the filters), so nobody's selection is lost;
//   violation    → a bar "N new violations — Show" when they may belong to the filtered set;
//                  Show reads the first page again.
(function () {
  "use strict";

  var fresh = 0;

  function results() { return document.getElementById("violations-results"); }

  function boxes(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll("input[name=ids]"));
  }

  function updateSelection() {
    var all = boxes(), chosen = all.filter(function (b) { return b.checked; });
    var count = document.querySelector("[data-selected-count]");
    if (count) count.textContent = chosen.length ? chosen.length + " selected" : "None selected";
    var submit = document.querySelector("[data-ack-submit]");
    if (submit) submit.disabled = chosen.length === 0;
    var every = document.querySelector("[data-select-all]");
    if (every) {
      every.checked = all.length > 0 && chosen.length === all.length;
      every.indeterminate = chosen.length > 0 && chosen.length < all.length;
      every.disabled = all.length === 0;
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      boxes().forEach(function (b) { b.checked = event.target.checked; });
    }
    if (event.target.matches("[data-select-all], input[name=ids]")) updateSelection();
  });

  function rowsUrl(section, ids) {
    var query = section.dataset.query ? section.dataset.query + "&" : "";
    return section.dataset.rowsUrl + "?" + query +
      ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
  }

  function putRows(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var template = holder.querySelector("template");
    var rows = template ? template.content.querySelectorAll("tr[data-violation]") : [];
    Array.prototype.forEach.call(rows, function (row) {
      var old = document.getElementById(row.id);
      if (!old) return;
      var was = old.querySelector("input[name=ids]");
      var box = row.querySelector("input[name=ids]");
      if (was && box) box.checked = was.checked;  // still open: keep the user's selection
      old.replaceWith(row);
      row.classList.add("just-changed");
      if (window.htmx) window.htmx.process(row);
    });
    var summary = holder.querySelector("#violations-summary");
    var current = document.getElementById("violations-summary");
    if (summary && current) current.replaceWith(summary);
    updateSelection();
  }

  function reread(ids) {
    var section = results();
    if (!section) return;
    // the rows shown here, and in any case the summary (its counts and median changed)
    var shown = ids.filter(function (id) { return document.getElementById("violation-" + id); });
    fetch(rowsUrl(section, shown), {headers: {"HX-Request": "true"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) putRows(html); })
      .catch(function () { /* the next message or a reload brings the rows */ });
  }

  function mayBelong(message) {
    var section = results();
    if (!section || section.dataset.followsNew !== "true") return false;
    var watched = section.dataset.watched;
    if (!watched) return true;
    return watched.split(",").indexOf(String(message.characteristic)) >= 0;
  }

  function announce(message) {
    if (!mayBelong(message)) return;
    fresh += (message.violation_ids || []).length || 1;
    var bar = document.getElementById("violations-new");
    if (!bar) return;
    bar.querySelector("[data-new-text]").textContent =
      fresh + " new violation" + (fresh === 1 ? "" : "s") + " since this page was read.";
    bar.hidden = false;
  }

  function missed() {
    // The channel could not replay what this page missed: offer to read the table again.
    var bar = document.getElementById("violations-new");
    if (!bar || !results()) return;
    bar.querySelector("[data-new-text]").textContent = "This table may have changed while the connection was lost.";
    bar.hidden = false;
  }

  function showNew() {
    var section = results();
    if (!section || !window.htmx) return;
    var query = section.dataset.query;
    var url = location.pathname + (query ? "?" + query : "");
    window.htmx.ajax("GET", url, {target: "#violations-results", swap: "outerHTML"}).then(function () {
      history.replaceState(history.state, "", url);
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-show-new]")) showNew();
  });

  // A new table (filters, another page, an acknowledgment, Show) is up to date: no bar.
  var seen = null;
  document.addEventListener("htmx:afterSettle", function () {
    if (results() !== seen) {
      seen = results();
      fresh = 0;
      var bar = document.getElementById("violations-new");
      if (bar) bar.hidden = true;
    }
    updateSelection();
  });

  document.addEventListener("openspc:live", function (event) {
    var message = event.detail || {};
    if (message.kind === "acknowledged") reread(message.violation_ids || []);
    else if (message.kind === "violation") announce(message);
    else if (message.kind === "resync") missed();
  });

  function start() {
    seen = results();
    updateSelection();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
