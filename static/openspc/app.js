// OpenSPC page shell: theme toggle, plant switcher, navigation drawer, dialogs, toasts.
(function () {
  "use strict";

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    try { localStorage.setItem("openspc-theme", theme); } catch (e) { /* private mode */ }
  }

  // Toasts: kind is info, success, error — or a violation's severity (critical, warning, info).
  // Critical ones stay until closed; the others fade. live.js raises a violation's toast and
  // then dispatches its message: the listener below colours that toast by severity, points
  // its link at the sample's inspector and, if this browser asked for it, beeps.
  var STAY = {critical: true}, LASTS = {error: 8000, warning: 8000}, made = null;
  var SOUND_KEY = "openspc-critical-sound", audio = null;

  function dismiss(item) {
    item.classList.add("leaving");
    setTimeout(function () { item.remove(); }, 400);
  }

  function keep(item) {
    clearTimeout(item.openspcTimer);
    item.setAttribute("role", "alert");
    if (item.querySelector(".toast-close")) return;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close icon-button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "✕";
    close.addEventListener("click", function () { dismiss(item); });
    item.appendChild(close);
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    kind = kind || "info";
    var item = document.createElement("div");
    item.className = "toast " + kind;
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    box.appendChild(item);
    if (STAY[kind]) keep(item);
    else item.openspcTimer = setTimeout(function () { dismiss(item); }, LASTS[kind] || 4000);
    made = {item: item, text: message};
    setTimeout(function () { made = null; }, 0);
    return item;
  }
  window.openspcToast = toast;

  function soundOn() {
    try { return localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { return false; }
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    [0, 0.22].forEach(function (at) {  // two short tones
      var tone = audio.createOscillator(), level = audio.createGain(), t = audio.currentTime + at;
      tone.frequency.value = 880;
      level.gain.setValueAtTime(0.0001, t);
      level.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      level.gain.exponentialRampToValueAtTime(0.0001, t + 0.16);
      tone.connect(level).connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.17);
    });
  }

  function unlock() {  // browsers start audio only after the user touched the page
    if (audio && audio.state === "suspended") audio.resume();
    else if (!audio && soundOn() && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
  }
  document.addEventListener("pointerdown", unlock, true);
  document.addEventListener("keydown", unlock, true);

  document.addEventListener("openspc:live", function (event) {
    var message = event.detail || {};
    if (message.kind !== "violation" || !made || made.text !== message.message) return;
    var item = made.item, severity = String(message.severity || "warning").toLowerCase();
    made = null;
    item.className = "toast sev-" + severity;
    var link = item.querySelector("a");
    if (link && message.inspector_url) {
      link.href = message.inspector_url;
      link.textContent = "Inspect sample";
    }
    if (STAY[severity]) {
      keep(item);
      if (soundOn()) beep();
    }
  });

  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-critical-sound]")) return;
    try { localStorage.setItem(SOUND_KEY, event.target.checked ? "on" : "off"); } catch (e) { /* private mode */ }
    if (event.target.checked) beep();  // a user gesture: the browser lets the audio start
  });
  document.querySelectorAll("[data-critical-sound]").forEach(function (box) { box.checked = soundOn(); });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (toggle) {
      setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
      return;
    }
    var nav = event.target.closest("[data-nav-toggle]");
    if (nav) {
      var open = document.body.classList.toggle("nav-open");
      nav.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && !dialog.open) {
        // The form arrives by htmx; never show (or let anyone type into) the previous one.
        var body = dialog.querySelector("[data-dialog-body]");
        if (body) body.innerHTML = '<p class="muted">Loading…</p>';
        dialog.showModal();
      }
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) parent.close();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-plant-switcher]")) {
      window.location.assign(event.target.value);
    }
  });

  document.body.addEventListener("hierarchyChanged", function (event) {
    document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
    toast(event.detail && event.detail.message, "success");
  });
  document.body.addEventListener("hierarchyError", function (event) {
    toast(event.detail && event.detail.message, "error");
  });
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    toast(status === 403 ? "Your role does not allow this." :
          status === 404 ? "Not found." : "The server could not do this (" + status + ").", "error");
  });
})();
