// The operator dashboard: to-do cards that change state as time passes and as samples arrive,
// red first, then amber, then grey; the chosen card's live chart beside them.
//
// Each card carries the moments the server computed (spc/due.py): data-due-at and
// data-overdue-at (Unix seconds). A timer flips a card when its moment passes; a live message
// about its characteristic (a sample, an acknowledgment, a re-judge) re-reads the card.
(function () {
  "use strict";

  var root = document.querySelector("[data-dashboard]");
  if (!root) return;
  var list = root.querySelector("[data-todo-list]");
  var chartBox = document.getElementById("dashboard-chart");
  var plant = (document.querySelector("[data-live]") || {}).dataset || {};
  var pending = {};
  var selected = root.dataset.selected ? Number(root.dataset.selected) : null;
  var LABEL = { overdue: "Overdue", due: "Due now" };
  var RANK = { overdue: 0, due: 1, idle: 2 };

  function clock(seconds) {
    var d = new Date(seconds * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function ago(seconds) {
    var minutes = Math.floor((Date.now() / 1000 - seconds) / 60);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    return hours < 48 ? hours + " h ago" : Math.floor(hours / 24) + " d ago";
  }

  function stateOf(card, now) {
    if (card.dataset.out === "true") return "overdue";
    var overdue = Number(card.dataset.overdueAt), dueAt = Number(card.dataset.dueAt);
    if (overdue && now >= overdue) return "overdue";
    if (dueAt && now >= dueAt) return "due";
    return "idle";
  }

  // Flip the cards whose moment passed, keep the order, say so to the top bar's badge.
  function tick() {
    var now = Date.now() / 1000, changed = false;
    root.querySelectorAll(".todo-card[data-card]").forEach(function (card) {
      var state = stateOf(card, now);
      if (card.dataset.state !== state) {
        card.dataset.state = state;
        changed = true;
        var label = card.querySelector("[data-state-label]");
        if (label && card.dataset.out !== "true") {
          label.textContent = LABEL[state] || (card.dataset.dueAt ? "Next " + clock(Number(card.dataset.dueAt)) : "No interval");
        }
      }
    });
    root.querySelectorAll("time[data-ago]").forEach(function (t) {
      if (t.dataset.ago) t.textContent = ago(Number(t.dataset.ago));
    });
    if (changed) {
      order();
      document.body.dispatchEvent(new CustomEvent("dueChanged", { bubbles: true }));
    }
    count();
  }

  function order() {
    if (!list) return;
    var cards = Array.prototype.slice.call(list.querySelectorAll(".todo-card"));
    cards.sort(function (a, b) {
      return (RANK[a.dataset.state] - RANK[b.dataset.state]) ||
        ((Number(a.dataset.dueAt) || Infinity) - (Number(b.dataset.dueAt) || Infinity)) ||
        a.dataset.name.localeCompare(b.dataset.name);
    });
    cards.forEach(function (c) { list.appendChild(c); });
  }

  function count() {
    var n = root.querySelectorAll(".todo-card[data-state='due'], .todo-card[data-state='overdue']").length;
    var text = document.querySelector("[data-attention-text]");
    if (text) text.textContent = n + " due or overdue";
  }

  function select(id, url, scroll) {
    selected = id;
    root.querySelectorAll("[data-select]").forEach(function (b) {
      b.setAttribute("aria-pressed", Number(b.dataset.select) === id ? "true" : "false");
    });
    var u = new URL(window.location.href);
    u.searchParams.set("c", id);
    history.replaceState(null, "", u);
    var mine = ++asked; // a slower answer to an earlier choice must not replace this one
    fetch(url + "?embed=1", { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) throw new Error("chart answered " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (mine !== asked) return;
        htmx.swap(chartBox, html, { swapStyle: "innerHTML" });
        if (scroll && window.matchMedia("(max-width: 1100px)").matches) {
          chartBox.scrollIntoView({ behavior: "smooth", block: "start" });
        }
      })
      .catch(function () {
        if (mine === asked && window.openspcToast) window.openspcToast("The chart could not be loaded.", "error");
      });
  }
  var asked = 0;

  function reread(id) {
    if (pending[id]) return;
    pending[id] = setTimeout(function () {
      delete pending[id];
      var target = document.getElementById("todo-" + id) || document.getElementById("tile-" + id);
      if (!target) return;
      htmx.ajax("GET", "/p/" + plant.plant + "/cards/" + id + "/", { target: target, swap: "outerHTML" })
        .then(function () {
          var card = document.getElementById("todo-" + id) || document.getElementById("tile-" + id);
          if (card && selected === id) {
            var b = card.querySelector("[data-select]");
            if (b) b.setAttribute("aria-pressed", "true");
          }
          tick();
          order();
          document.body.dispatchEvent(new CustomEvent("dueChanged", { bubbles: true }));
        });
    }, 300);
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-select]");
    if (!button) return;
    select(Number(button.dataset.select), button.dataset.chartUrl, true);
  });

  document.addEventListener("openspc:live", function (event) {
    var m = event.detail || {};
    var ids = m.characteristics || (m.characteristic ? [m.characteristic] : []);
    if (m.kind === "resync") ids = Array.prototype.map.call(root.querySelectorAll("[data-card]"), function (c) { return Number(c.dataset.characteristic); });
    ids.forEach(reread);
  });

  // Tick at the next moment a card changes (at the latest every 15 s, for the "ago" texts).
  var timer = null;
  function schedule() {
    clearTimeout(timer);
    var now = Date.now() / 1000, next = now + 15;
    root.querySelectorAll(".todo-card[data-card]").forEach(function (card) {
      [Number(card.dataset.dueAt), Number(card.dataset.overdueAt)].forEach(function (at) {
        if (at > now && at < next) next = at;
      });
    });
    timer = setTimeout(function () { tick(); schedule(); }, Math.max(50, (next - now) * 1000 + 50));
  }
  document.body.addEventListener("dueChanged", schedule);

  tick();
  schedule();
  var first = selected && root.querySelector("[data-select='" + selected + "']") ||
    root.querySelector("[data-select]");
  if (first && window.matchMedia("(min-width: 1101px)").matches || first && selected) {
    select(Number(first.dataset.select), first.dataset.chartUrl, false);
  }
})();
