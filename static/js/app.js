// Journeymap: small behaviours htmx leaves to us. No inline scripts anywhere (CSP).
(function () {
  "use strict";

  // A v4 UUID from getRandomValues: crypto.randomUUID needs a secure context, and phones
  // often join a workshop over plain http on the shop's network.
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Each form that changes the board carries a client-generated request id. A retry of the
  // same submission (a flaky network, a double tap) sends the same id and takes effect once;
  // a fresh form gets a fresh id.
  function fillRequestIds(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll('input[name="request_id"]').forEach(function (input) {
      if (!input.value) input.value = uuid();
    });
  }

  window.journeymap = { uuid: uuid, fillRequestIds: fillRequestIds };

  document.addEventListener("htmx:load", function (e) { fillRequestIds(e.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { fillRequestIds(document); });

  // The server's own error messages are fragments (a form with its errors, a 403's or a 404's
  // message): they are swapped where the request asked, and kept from django-htmx's DEBUG handler
  // on the document, which would put them in place of the whole page. Whole documents (Django's
  // technical pages under DEBUG) still go to it.
  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("htmx:beforeOnLoad", function (e) {
      var xhr = e.detail.xhr;
      if (xhr && xhr.status >= 400 && !/^\s*<(!doctype|html)/i.test(xhr.responseText)) e.stopPropagation();
    });
  });

  // The dialog: forms load into #dialog-body; a successful post closes it.
  function dialog() { return document.getElementById("dialog"); }
  var opener = null;

  // Keyboard users keep their place when what they used is redrawn (a push, a dialog's save):
  // markFocus notes the control, findAgain finds the same one in what replaced it, or the nearest.
  var FOCUSABLE = "button, a[href], input:not([type=hidden]), select, textarea";
  function visible(el) {
    return !!(el && el.offsetParent !== null && !el.disabled && getComputedStyle(el).visibility !== "hidden");
  }
  function formOf(el) { var f = el.closest("form"); return f ? f.getAttribute("hx-post") || f.getAttribute("action") : null; }
  function markFocus(el) {
    if (!el || el === document.body || !el.parentElement) return null;
    var holder = el.parentElement.closest("[id]");
    return { el: el, id: el.id, holder: holder && holder.id, label: el.getAttribute("aria-label"),
             form: formOf(el), name: el.getAttribute("name"), value: el.getAttribute("value") };
  }
  function findAgain(was) {
    var scope = (was.holder && document.getElementById(was.holder)) || null;
    var found = was.id ? document.getElementById(was.id) : null;
    if (!found && scope) {
      var all = Array.prototype.filter.call(scope.querySelectorAll(FOCUSABLE), visible);
      found = all.filter(function (c) { return was.label && c.getAttribute("aria-label") === was.label; })[0]
        || all.filter(function (c) { return was.form && formOf(c) === was.form && c.getAttribute("name") === was.name && c.getAttribute("value") === was.value; })[0]
        || all.filter(function (c) { return was.form && formOf(c) === was.form; })[0]
        || all[0];
    }
    return visible(found) ? found : null;
  }
  window.journeymap.markFocus = markFocus;
  window.journeymap.findAgain = findAgain;
  function closeDialog() {
    var d = dialog();
    if (d && d.open) d.close();
  }
  document.addEventListener("htmx:afterSwap", function (e) {
    var d = dialog();
    if (!d || !e.detail.target || e.detail.target.id !== "dialog-body") return;
    if (!d.open) {
      opener = markFocus(document.activeElement);
      d.showModal();
    }
    var first = d.querySelector("[autofocus]") || d.querySelector("textarea, input:not([type=hidden]), select");
    if (first) first.focus();
  });
  document.addEventListener("dialog:close", closeDialog);

  // The toast tells one person what happened to their click; it fades after a while.
  var toastTimer = null;
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "toast") return;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { e.detail.target.replaceChildren(); }, 6000);
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest(".dialog-cancel")) return;
    if (e.target.closest("#toast")) e.target.closest("#toast").replaceChildren();
    else closeDialog();
  });
  // The error page's message (403, 404) for a form that swaps itself, like the capture form, is
  // told in the toast: the form, and what was typed in it, stay.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr, toast = document.getElementById("toast"), target = e.detail.target;
    if (!toast || !xhr || (xhr.status !== 403 && xhr.status !== 404)) return;
    if (!xhr.getResponseHeader("X-Error-Fragment")) return; // a form with its own errors: in place
    if (target && (target.id === "dialog-body" || target.id === "toast")) return;
    e.detail.target = toast;
    e.detail.swapOverride = "innerHTML";
  });
  document.addEventListener("close", function (e) {
    if (e.target.id !== "dialog") return;
    document.getElementById("dialog-body").replaceChildren();
    // Focus goes back to what opened the dialog; if a push has redrawn it meanwhile (the note
    // just edited), to the same control in what replaced it.
    var back = opener && (opener.el.isConnected ? opener.el : findAgain(opener));
    opener = null;
    if (back && document.activeElement !== back) back.focus();
  }, true);

  // A form that can't be undone asks first (data-confirm holds the question).
  document.addEventListener("submit", function (e) {
    var question = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  }, true);

  // "Copy link": the field's text to the clipboard (or selected, where the page may not copy:
  // plain http on a shop's network), and the button says which.
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-copy-from]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-from"));
    if (!field) return;
    field.select();
    var said = function (text) { button.textContent = text; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { said("Copied"); }, function () { said("Selected: copy it"); });
    } else {
      said(document.execCommand && document.execCommand("copy") ? "Copied" : "Selected: copy it");
    }
  });

  // "Full screen": an element (the invitation's QR code) over the whole projector.
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-fullscreen]");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-fullscreen"));
    if (!target || !target.requestFullscreen) return;
    if (document.fullscreenElement) document.exitFullscreen();
    else target.requestFullscreen().catch(function () {});
  });
  document.addEventListener("fullscreenchange", function () {
    document.querySelectorAll("[data-fullscreen]").forEach(function (button) {
      button.textContent = document.fullscreenElement ? "Leave full screen" : "Full screen";
    });
  });

  // A request that failed on the network keeps its form (and its request id) so it can be retried.
  document.addEventListener("htmx:sendError", function (e) {
    var form = e.detail.elt.closest && e.detail.elt.closest("form");
    var msg = "Couldn't reach the server. Check your connection and try again: nothing is sent twice.";
    if (form) {
      var box = form.querySelector(".net-error");
      if (!box) {
        box = document.createElement("p");
        box.className = "error net-error";
        box.setAttribute("role", "alert");
        form.appendChild(box);
      }
      box.textContent = msg;
      var sent = form.querySelector(".sent");  // an earlier "Sent" would say the opposite
      if (sent) sent.remove();
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt.closest && e.detail.elt.closest("form");
    var box = form && form.querySelector(".net-error");
    if (box && e.detail.successful) box.remove();
  });
})();
