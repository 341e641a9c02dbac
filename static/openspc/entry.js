// OpenSPC data entry (spc/templates/spc/entry.html): checks while typing, the keyboard flow,
// the dialog other pages open, and what a failed submission says.
//
// The form carries what to check in data attributes (data-usl, data-lsl and how they are
// shown, data-center, data-sigma, data-sigmas, data-example, …). While typing: text is refused in place, a value
// beyond a specification limit turns its box red ("above USL 74.05"), a value more than
// data-sigmas σ from the center asks for confirmation — a second press of Record ("Record
// 740.12 anyway?") ticks "Record anyway" and sends it. The server checks all of it again.
//
// Enter moves to the next box; on the last box it records. Every swap of the dialog settles at
// once (settle:0ms): htmx takes over a new form only when it settles, and an Enter before that
// would post the form the old way, leaving the page. A failed request (network, server)
// swaps nothing, so every typed value stays; the form's idempotency key stays too, so pressing
// Record again records the subgroup once.
//
// Any element with data-enter-url (a link to /p/<plant>/c/<id>/enter/) opens that form in the
// page's <dialog id="entry-dialog"> (spc/entry.html#entry-dialog).
(function () {
  "use strict";
  if (window.openspcEntry) return;
  window.openspcEntry = true;

  var NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  var WHOLE = /^[+-]?\d+$/;
  var FIELDS = "[data-entry-value], [data-entry-count], [data-entry-size]";

  // "74,012" — a decimal comma, as some keypads type it — is read as 74.012.
  function normalized(raw) {
    var t = raw.trim();
    return /^[+-]?\d*,\d+$/.test(t) ? t.replace(",", ".") : t;
  }

  function attr(form, name) {
    var v = form.dataset[name];
    return v === undefined || v === "" ? null : Number(v);
  }

  function fixed(form, x) {
    return x.toFixed(Math.min(Math.max(attr(form, "decimals") || 0, 0), 20));
  }

  // kind: "" fine, "text" refused (blocks the submission), "spec" beyond a spec limit,
  // "wild" implausible (asks for confirmation)
  function judgeValue(form, input, required) {
    var t = normalized(input.value);
    if (!t) return required ? { kind: "text", note: "enter this value" } : { kind: "" };
    if (!NUMBER.test(t) || !isFinite(Number(t))) {
      return { kind: "text", note: "a number, e.g. " + form.dataset.example };
    }
    var x = Number(t), usl = attr(form, "usl"), lsl = attr(form, "lsl");
    var spec = usl !== null && x > usl ? "above USL " + form.dataset.uslText :
      lsl !== null && x < lsl ? "below LSL " + form.dataset.lslText : "";
    var center = attr(form, "center"), sigma = attr(form, "sigma"), k = attr(form, "sigmas") || 10;
    if (center !== null && sigma && Math.abs(x - center) > k * sigma) {
      var far = "more than " + k + "σ from the center " + fixed(form, center) + " — a typo?";
      return { kind: "wild", value: t, spec: !!spec, note: spec ? spec + ", " + far : t + " is " + far };
    }
    return spec ? { kind: "spec", note: spec } : { kind: "" };
  }

  function judgeWhole(form, input, label, least) {
    var t = input.value.trim();
    if (!t) return { kind: "" };
    if (!WHOLE.test(t)) return { kind: "text", note: "a whole number, e.g. " + label };
    if (Number(t) < least) return { kind: "text", note: least ? "at least " + least : "cannot be negative" };
    return { kind: "" };
  }

  function judgeCount(form, input) {
    var verdict = judgeWhole(form, input, "3", 0);
    var size = form.querySelector("[data-entry-size]");
    if (!verdict.kind && size && form.dataset.fraction === "true" && input.value.trim() &&
        WHOLE.test(size.value.trim()) && Number(input.value) > Number(size.value)) {
      return { kind: "text", note: "more than the sample size " + size.value.trim() };
    }
    return verdict;
  }

  function boxesOf(form) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-entry-value]"));
  }

  function judge(form, input, strict) {
    if (input.matches("[data-entry-count]")) return judgeCount(form, input);
    if (input.matches("[data-entry-size]")) return judgeWhole(form, input, form.dataset.n, 1);
    var required = strict && form.dataset.variable !== "true";
    return judgeValue(form, input, required);
  }

  function mark(input, verdict) {
    var box = input.closest(".entry-box, .entry-field");
    if (!box) return;
    box.classList.remove("is-bad");  // the server's verdict, until the value is changed
    box.classList.toggle("is-text", verdict.kind === "text");
    box.classList.toggle("is-spec", verdict.kind === "spec" || !!verdict.spec);
    box.classList.toggle("is-wild", verdict.kind === "wild");
    input.setAttribute("aria-invalid", verdict.kind === "text" ? "true" : "false");
    var note = box.querySelector("[data-entry-note]");
    if (note) note.textContent = verdict.note || "";
  }

  // Every field judged and marked: {refused: [inputs], wild: [texts]}
  function checkAll(form, strict) {
    var out = { refused: [], wild: [] };
    form.querySelectorAll(FIELDS).forEach(function (input) {
      if (input.readOnly) return;
      var verdict = judge(form, input, strict);
      if (!strict || verdict.kind) mark(input, verdict);
      if (verdict.kind === "text") out.refused.push(input);
      if (verdict.kind === "wild") out.wild.push(verdict.value);
    });
    var confirm = form.querySelector("[data-entry-confirm]");
    if (confirm && out.wild.length) confirm.hidden = false;
    return out;
  }

  function submitButton(form) { return form.querySelector("[data-entry-submit]"); }

  function resetConfirmation(form) {
    if (!form.dataset.asked) return;
    delete form.dataset.asked;
    submitButton(form).textContent = "Record";
    var box = form.querySelector("input[name=confirmed]");
    if (box) box.checked = false;
  }

  // kind "ask": a question (amber), else what went wrong (red)
  function say(region, message, kind) {
    var status = region && region.querySelector("[data-entry-status]");
    if (!status) return false;
    status.textContent = message || "";
    status.hidden = !message;
    status.classList.toggle("is-ask", kind === "ask");
    return true;
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(FIELDS)) return;
    var form = input.closest("[data-entry-form]");
    if (!form) return;
    mark(input, judge(form, input, false));
    if (input.matches("[data-entry-size]")) {
      var count = form.querySelector("[data-entry-count]");
      if (count) mark(count, judgeCount(form, count));
    }
    resetConfirmation(form);
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-entry-value]")) return;
    var t = normalized(input.value);
    if (t !== input.value) input.value = t;
  });

  // Enter moves on; on the last box (or an empty spare box of a variable subgroup) it records.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing) return;
    var input = event.target;
    if (!input.matches || !input.matches(FIELDS)) return;
    var form = input.closest("[data-entry-form]");
    if (!form) return;
    var fields = Array.prototype.filter.call(form.querySelectorAll(FIELDS),
      function (f) { return !f.readOnly; });
    var at = fields.indexOf(input);
    var spare = form.dataset.variable === "true" && input.matches("[data-entry-value]") &&
      !input.value.trim() && at >= 2;
    if (at === fields.length - 1 || spare) return; // the form's own submission
    event.preventDefault();
    fields[at + 1].focus();
    fields[at + 1].select();
  });

  // Before htmx sends the form: refuse text, ask once about implausible values.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-entry-form]")) return;
    boxesOf(form).forEach(function (input) { input.value = normalized(input.value); });
    var state = checkAll(form, true);
    if (state.refused.length) {
      event.preventDefault();
      say(form, "Correct the fields marked red — nothing was recorded yet.");
      state.refused[0].focus();
      return;
    }
    var confirmBox = form.querySelector("input[name=confirmed]");
    if (state.wild.length && confirmBox && !confirmBox.checked) {
      var asked = state.wild.join(", ");
      if (form.dataset.asked === asked) {
        confirmBox.checked = true; // the second press: the operator means it
      } else {
        event.preventDefault();
        form.dataset.asked = asked;
        submitButton(form).textContent = "Record " + asked + " anyway?";
        say(form, asked + (state.wild.length > 1 ? " are" : " is") + " far from the usual values. " +
          "Check, then press Record again to record anyway.", "ask");
        return;
      }
    }
    say(form, "");
  });

  function regionOf(elt) {
    return elt.closest && (elt.closest("[data-entry]") || elt.closest("#entry-body"));
  }

  function unreachable(event) {
    var region = regionOf(event.target);
    if (!region) return;
    var message = (event.type === "htmx:timeout" ? "The server did not answer in time." :
      "The server could not be reached.") + " Nothing you typed is lost — press Record " +
      "again when the network is back; the subgroup is recorded once.";
    if (!say(region, message) && region.id === "entry-body") {
      region.innerHTML = '<p class="alert error" role="alert">The form could not be loaded: ' +
        "the server could not be reached. Close this and try again.</p>";
    }
  }
  document.addEventListener("htmx:sendError", unreachable);
  document.addEventListener("htmx:timeout", unreachable);

  document.addEventListener("htmx:responseError", function (event) {
    var region = regionOf(event.target);
    if (!region) return;
    var status = event.detail.xhr.status;
    var message = status === 403 ? "Refused: your session may have ended, or your role does not allow this. " +
        "Your values are kept — log in again in another tab, then press Record." :
      status === 404 ? "This characteristic is not available to you any more. Nothing was recorded." :
      "The server failed (" + status + "). Your values are kept — press Record to try again; " +
        "the subgroup is recorded once.";
    if (!say(region, message) && region.id === "entry-body") {
      region.innerHTML = '<p class="alert error" role="alert"></p>';
      region.firstChild.textContent = message;
    }
  });

  function prepare(root) {
    var forms = root.matches && root.matches("[data-entry-form]") ? [root] :
      Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("[data-entry-form]") : []);
    forms.forEach(function (form) { checkAll(form, false); });
    // the box to type in first — unless the operator is typing in this form already
    var focus = root.querySelector && root.querySelector("[data-entry] [autofocus]");
    if (focus && !focus.closest("[data-entry]").contains(document.activeElement)) focus.focus();
  }

  // A link or button with data-enter-url opens its form in the page's entry dialog.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-enter-url]");
    var dialog = document.getElementById("entry-dialog");
    if (!opener || !dialog || !window.htmx) return; // without the dialog: a link to the page
    event.preventDefault();
    var body = dialog.querySelector("[data-dialog-body]");
    body.innerHTML = '<p class="muted">Loading…</p>';
    if (!dialog.open) dialog.showModal();
    htmx.ajax("GET", opener.dataset.enterUrl, { target: body, swap: "innerHTML settle:0ms" });
  });

  if (window.htmx) {
    htmx.onLoad(prepare);
  } else {
    document.addEventListener("DOMContentLoaded", function () { prepare(document.body); });
  }
})();
