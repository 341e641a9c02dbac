// OpenSPC live channel: one WebSocket per page (alerts/consumers.py).
//
// The page says what it shows with [data-live] elements (templates/includes/live.html): the
// plant's code, the characteristics it draws and the bookmark (the last message id when it was
// rendered). Every message comes here once, in id order: `html` fragments are swapped in by
// htmx (hx-swap-oob), `violation` raises a toast, and every message is re-dispatched as
//   document.dispatchEvent(new CustomEvent("openspc:live", {detail: message}))
// for the modules of the page (the chart acts on points / refresh / acknowledged / resync).
// After a lost connection it reconnects with exponential backoff (1 s → 30 s, jittered) and
// asks for what it missed since its bookmark: no reload, no gap, no duplicate.
(function () {
  "use strict";
  if (window.openspcLive || !window.WebSocket) return;

  var PING_MS = 60000, PONG_MS = 10000, MIN_DELAY = 1000, MAX_DELAY = 30000;
  var FINAL = {4400: "live: refused", 4403: "live: no access"};
  var socket = null, attempt = 0, retry = null, pinger = null, pongWait = null;
  var subscribed = null, last = null, knownAt = null, finalState = null, toasts = [];

  function wanted() {
    var nodes = document.querySelectorAll("[data-live]");
    if (!nodes.length) return null;
    var plant = nodes[0].dataset.plant, ids = {}, since = null, at = null;
    nodes.forEach(function (node) {
      (node.dataset.characteristics || "").split(",").forEach(function (part) {
        var id = parseInt(part, 10);
        if (id > 0) ids[id] = true;
      });
      var mark = parseInt(node.dataset.since, 10);  // -1: rendered without a known bookmark
      if (!isNaN(mark) && (since === null || mark < since)) since = mark;
      var moment = parseFloat(node.dataset.at);
      if (!node.dataset.liveSeen && moment > 0 && (at === null || moment < at)) at = moment;
    });
    var characteristics = Object.keys(ids).map(Number).sort(function (a, b) { return a - b; });
    return {plant: plant, characteristics: characteristics, since: since, at: at, nodes: nodes};
  }

  var LOOKS = {live: "chip", reconnecting: "chip warn", off: "chip bad"};

  function setStatus(state, text) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.dataset.state = state;
      el.hidden = false;
      el.className = LOOKS[state];
      el.textContent = text;
    });
  }

  function address() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live/";
    var kiosk = document.querySelector("[data-live][data-kiosk]"); // a wall display's link
    return kiosk ? url + "?kiosk=" + encodeURIComponent(kiosk.dataset.kiosk) : url;
  }

  function subscribe() {
    var want = wanted();
    if (!want || !socket || socket.readyState !== WebSocket.OPEN) return;
    if (last === null) last = want.since;
    // Up to when the page knows what it shows: its render, then each pong; a part brought in
    // later (htmx) counts from its own render if that is older.
    if (want.at !== null && (knownAt === null || want.at < knownAt)) knownAt = want.at;
    want.nodes.forEach(function (node) { node.dataset.liveSeen = "1"; });
    subscribed = JSON.stringify({plant: want.plant, characteristics: want.characteristics});
    socket.send(JSON.stringify({subscribe: JSON.parse(subscribed), since: last, at: knownAt}));
  }

  function connect() {
    retry = null;
    if (finalState || !wanted()) return;
    socket = new WebSocket(address());
    socket.onopen = function () {
      attempt = 0;
      setStatus("live", "live");
      subscribe();
      pinger = setInterval(ping, PING_MS);
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      receive(message);
    };
    socket.onclose = function (event) {
      clearInterval(pinger);
      clearTimeout(pongWait);
      socket = null;
      if (FINAL[event.code]) {
        finalState = FINAL[event.code];
        setStatus("off", finalState);
        return;
      }
      reconnectLater();
    };
  }

  function reconnectLater() {
    if (retry || finalState) return;
    setStatus("reconnecting", "reconnecting…");
    var ceiling = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, attempt));
    attempt += 1;
    retry = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  function ping() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send('{"ping": true}');
    clearTimeout(pongWait);
    pongWait = setTimeout(function () { if (socket) socket.close(); }, PONG_MS);
  }

  function receive(message) {
    if (message.kind === "pong") {
      clearTimeout(pongWait);
      if (typeof message.at === "number") knownAt = message.at;
      return;
    }
    if (typeof message.id === "number") {
      if (last !== null && message.id <= last) return;  // seen already
      last = message.id;
    }
    if (message.kind === "resync" && typeof message.last === "number") last = message.last;
    if (message.kind === "html") swapIn(message.html);
    if (message.kind === "violation") toast(message);
    document.dispatchEvent(new CustomEvent("openspc:live", {detail: message}));
  }

  function swapIn(html) {
    if (!window.htmx || !html) return;
    // Only the fragments marked hx-swap-oob land (each on the element of its id); the rest of
    // the message is dropped.
    window.htmx.swap(document.body, html, {swapStyle: "none"});
  }

  function toast(message) {
    // A burst (a reconnect that replays many) shows the first few; the rest wait on their page.
    var now = Date.now();
    toasts = toasts.filter(function (at) { return now - at < 10000; });
    if (toasts.length >= 3 || !window.openspcToast) return;
    toasts.push(now);
    window.openspcToast(message.message, "error");
    var box = document.getElementById("toasts");
    var item = box && box.lastElementChild;
    if (item && message.url) {
      var link = document.createElement("a");
      link.href = message.url;
      link.textContent = "Open chart";
      item.appendChild(document.createTextNode(" "));
      item.appendChild(link);
    }
  }

  // htmx may bring in a new part of the page that shows other characteristics.
  document.addEventListener("htmx:afterSettle", function () {
    var want = wanted();
    if (!want) return;
    var now = JSON.stringify({plant: want.plant, characteristics: want.characteristics});
    if (now !== subscribed) subscribe();
  });
  window.addEventListener("online", function () {
    if (retry) { clearTimeout(retry); connect(); }
  });

  window.openspcLive = {
    lastId: function () { return last; },
    connected: function () { return !!socket && socket.readyState === WebSocket.OPEN; }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
