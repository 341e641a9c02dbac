// OpenSPC page shell: theme toggle, plant switcher, navigation drawer, dialogs, toasts.
(function () {
  "use strict";

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    try { localStorage.setItem("openspc-theme", theme); } catch (e) { /* private mode */ }
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var item = document.createElement("div");
    item.className = "toast " + (kind || "info");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 4000);
  }
  window.openspcToast = toast;

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
