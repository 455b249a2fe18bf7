// The live board: keep the websocket connected, apply pushes in seq order, and drag notes.
//
// Every push starts with <span id="board-seq" data-seq="N">. A message holds one push, or on a
// busy board several consecutive ones (N, N+1, …, M), each with its own marker. We apply it only
// if N is the next one; an old one is dropped, and a gap makes us reconnect with ?since=<last
// applied>, so the server replays exactly what we missed (or sends a fresh board, marked
// data-reset).
(function () {
  "use strict";

  var SEQ = /^<span id="board-seq" data-seq="(\d+)"( data-reset)?/;
  var ANY_SEQ = /<span id="board-seq" data-seq="(\d+)"/g;
  var RETRIED_BY_HTMX = [1006, 1011, 1012, 1013];
  var CLOSE_FORBIDDEN = 4403;
  var root = document.getElementById("board-root");
  var HEARTBEAT_MS = (root && parseInt(root.getAttribute("data-heartbeat"), 10)) || 20000;
  var lastHeard = Date.now();
  var current = null;      // the WebSocket we consider live
  var wrapper = null;      // htmx's socket wrapper: reconnect() opens a new socket
  var retries = 0;
  var timer = null;

  function lastSeq() {
    var el = document.getElementById("board-seq");
    return el ? parseInt(el.getAttribute("data-seq"), 10) || 0 : 0;
  }

  function setStatus(state, text) {
    var el = document.getElementById("sync-status");
    if (!el) return;
    el.setAttribute("data-state", state);
    el.textContent = text;
  }

  function backoff(n) {
    return Math.min(250 * Math.pow(2, n), 5000) * (0.5 + Math.random() / 2);
  }

  htmx.config.wsReconnectDelay = backoff;
  htmx.createWebSocket = function (url) {
    var u = new URL(url, window.location.href);
    u.searchParams.set("since", String(lastSeq()));
    current = new WebSocket(u.toString());
    return current;
  };

  function reconnectSoon(delay) {
    if (timer || !wrapper) return;
    setStatus("offline", "Reconnecting…");
    timer = setTimeout(function () {
      timer = null;
      retries += 1;
      wrapper.reconnect();
    }, delay);
  }

  // Closed for good: say so over the whole board, which stays in sight but takes no more input.
  function cutOff() {
    var notice = document.getElementById("access-ended");
    if (!notice) return;
    document.body.classList.add("is-cut-off");
    document.querySelectorAll("#board-root, .capture").forEach(function (el) { el.inert = true; });
    notice.hidden = false;
  }

  document.addEventListener("htmx:wsConnecting", function () {
    if (retries > 0) setStatus("connecting", "Reconnecting…");
  });

  document.addEventListener("htmx:wsOpen", function (e) {
    lastHeard = Date.now();
    wrapper = e.detail.socketWrapper;
    retries = 0;
    setStatus("live", "Connected");
  });

  document.addEventListener("htmx:wsClose", function (e) {
    wrapper = e.detail.socketWrapper;
    var ev = e.detail.event;
    if (ev.target !== current) return; // a socket we replaced on purpose
    if (ev.code === CLOSE_FORBIDDEN) {
      setStatus("forbidden", "You no longer have access to this board.");
      cutOff();
      return;
    }
    setStatus("offline", "Offline, reconnecting…");
    // htmx retries 1006, 1011, 1012 and 1013 itself; every other close is ours to retry.
    if (RETRIED_BY_HTMX.indexOf(ev.code) < 0) reconnectSoon(backoff(retries));
  });

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    lastHeard = Date.now();
    if (e.detail.message === "pong") {
      e.preventDefault();
      return;
    }
    var m = SEQ.exec(e.detail.message);
    if (!m || m[2]) return; // presence (no seq), or a fresh board to take whole
    var seq = parseInt(m[1], 10);
    var markers = e.detail.message.match(ANY_SEQ); // every push's marker, in order
    var upTo = parseInt(markers[markers.length - 1].match(/data-seq="(\d+)"/)[1], 10);
    var last = lastSeq();
    if (upTo <= last) {
      e.preventDefault(); // already applied
    } else if (seq !== last + 1) {
      e.preventDefault(); // a gap: ask for what we missed
      wrapper = e.detail.socketWrapper;
      wrapper.reconnect();
    }
  });

  // Per-viewer touches the shared pushes don't carry: my dots, the focused phase, the timer.
  var serverOffset = (parseInt(document.body.getAttribute("data-server-now"), 10) || Date.now()) - Date.now();
  var lastFocus = null;

  function paintMyDots() {
    var panel = document.getElementById("my-panel");
    var votes = {};
    try { votes = JSON.parse(panel ? panel.getAttribute("data-votes") : "{}") || {}; } catch (err) { votes = {}; }
    // What the server would refuse is not offered: "+ dot" at the note's cap or with no dot
    // left, "− dot" where this person has none (the server checks anyway).
    var session = document.getElementById("session");
    var open = session && session.getAttribute("data-voting") === "open" && panel &&
      panel.getAttribute("data-round") === session.getAttribute("data-round");
    var budget = open ? parseInt(session.getAttribute("data-budget"), 10) : NaN;
    var cap = open ? parseInt(session.getAttribute("data-cap"), 10) : NaN;
    var used = Object.keys(votes).reduce(function (sum, k) { return sum + (votes[k] || 0); }, 0);
    document.querySelectorAll(".my-dots[data-note]").forEach(function (el) {
      var n = votes[el.getAttribute("data-note")] || 0;
      el.textContent = n ? new Array(n + 1).join("●") : "";
      el.setAttribute("aria-label", n ? "Your dots: " + n : "");
      var tools = el.parentElement;
      var add = tools.querySelector(".vote-add"), remove = tools.querySelector(".vote-remove");
      if (add) add.disabled = open && (n >= cap || used >= budget);
      if (remove) remove.disabled = open && n === 0;
    });
  }

  // The dots this person has left in the open round: the round and its budget come from the
  // session bar (the same for everyone), their own dots from #my-panel (pushed to them alone).
  function paintDotsLeft() {
    var el = document.getElementById("dots-left");
    var session = document.getElementById("session");
    if (!el || !session) return;
    var round = session.getAttribute("data-round");
    var budget = parseInt(session.getAttribute("data-budget"), 10);
    if (session.getAttribute("data-voting") !== "open" || !round || isNaN(budget)) {
      el.hidden = true;
      return;
    }
    var panel = document.getElementById("my-panel");
    var votes = {};
    if (panel && panel.getAttribute("data-round") === round) {
      try { votes = JSON.parse(panel.getAttribute("data-votes")) || {}; } catch (err) { votes = {}; }
    }
    var used = Object.keys(votes).reduce(function (sum, k) { return sum + (votes[k] || 0); }, 0);
    var strong = document.createElement("strong");
    strong.textContent = String(Math.max(0, budget - used));
    if (used >= budget) el.replaceChildren("All your " + budget + " dots are placed: take one back to move it");
    else el.replaceChildren("Your dots: ", strong, " of " + budget + " left");
    el.classList.toggle("is-spent", used >= budget);
    el.hidden = false;
  }

  // Consensus mode: light up the emotion this person gave each step (only they see it).
  function paintMyRatings() {
    var panel = document.getElementById("my-panel");
    var mine = {};
    try { mine = JSON.parse(panel ? panel.getAttribute("data-ratings") : "{}") || {}; } catch (err) { mine = {}; }
    document.querySelectorAll(".rate-tools[data-interaction]").forEach(function (tools) {
      var value = mine[tools.getAttribute("data-interaction")];
      tools.querySelectorAll("button.rate[data-value]").forEach(function (b) {
        var on = value !== undefined && String(value) === b.getAttribute("data-value");
        b.classList.toggle("is-mine", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
    });
  }

  function applyFocus() {
    var session = document.getElementById("session");
    var focus = session ? session.getAttribute("data-focus") : "";
    document.querySelectorAll(".phase.is-focused").forEach(function (p) {
      if (p.getAttribute("data-phase") !== focus) p.classList.remove("is-focused");
    });
    var phase = focus && document.querySelector('.phase[data-phase="' + focus + '"]');
    if (phase) phase.classList.add("is-focused");
    if (phase && focus !== lastFocus) phase.scrollIntoView({ behavior: "smooth", block: "nearest", inline: "start" });
    if (phase && lastFocus !== null && focus !== lastFocus) followFocus(focus);
    lastFocus = focus;
  }

  // The room moves to a phase: an idle capture form follows, so the next note lands there. One
  // being written (text typed, or a field in use) stays where its writer put it.
  function followFocus(focus) {
    var select = document.getElementById("capture-phase");
    var text = document.getElementById("capture-text");
    if (!select || select.value === focus || (text && text.value.trim())) return;
    if (select.form && select.form.contains(document.activeElement)) return;
    if (!select.querySelector('option[value="' + focus + '"]')) return;
    select.value = focus;
    htmx.trigger(select, "change"); // its micro-interactions come with it
  }

  function tick() {
    var timer = document.querySelector("#session .timer");
    if (!timer || timer.getAttribute("data-state") !== "running") return;
    var ends = parseInt(timer.getAttribute("data-ends"), 10);
    var left = Math.max(0, Math.ceil((ends - (Date.now() + serverOffset)) / 1000));
    var text = left === 0 ? "Time's up" : Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
    if (timer.textContent !== text) timer.textContent = text;
    timer.classList.toggle("is-over", left === 0);
  }

  // The facilitator's panel is part of the pushed session bar: keep it open across pushes.
  var controlsOpen = false;
  document.addEventListener("toggle", function (e) {
    if (e.target.matches && e.target.matches("#session details.controls")) controlsOpen = e.target.open;
  }, true);
  function keepControls() {
    var details = document.querySelector("#session details.controls");
    if (details && details.open !== controlsOpen) details.open = controlsOpen;
  }

  // The capture form is the viewer's own (what they picked, what they are typing), so pushes
  // leave it alone: its Phase and Micro-interaction lists follow the board's phases here.
  function syncOptions(select, items, keepFirst) {
    if (!select) return;
    var wanted = items.map(function (i) { return i.value + "\u0000" + i.text; }).join("\u0001");
    var first = keepFirst ? 1 : 0;
    var have = Array.prototype.slice.call(select.options, first)
      .map(function (o) { return o.value + "\u0000" + o.text; }).join("\u0001");
    if (have === wanted) return;
    var chosen = select.value;
    while (select.options.length > first) select.remove(first);
    items.forEach(function (i) { select.add(new Option(i.text, i.value)); });
    select.value = chosen;
    if (select.value !== chosen || select.selectedIndex < 0) {
      select.selectedIndex = 0;
      syncing = true;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      syncing = false;
      if (chosen) notice(select.id === "capture-phase"
        ? "The phase you picked is no longer on the board: pick where your note goes."
        : "The micro-interaction you picked is no longer on the board: your note goes on the whole phase, or pick another.");
    }
  }
  var syncing = false;
  function notice(text) {
    var el = document.getElementById("capture-notice");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }
  // A choice made, or a note sent, answers the notice.
  document.addEventListener("change", function (e) {
    if (!syncing && e.target.closest && e.target.closest("#capture-form")) notice("");
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "capture-form") notice("");
  });
  function syncCapture() {
    var phases = Array.prototype.map.call(document.querySelectorAll("#board .phase[data-phase]"), function (p) {
      var name = p.querySelector(".phase-head h2");
      return { value: p.getAttribute("data-phase"), text: name ? name.textContent : "" };
    });
    var phaseSelect = document.getElementById("capture-phase");
    syncOptions(phaseSelect, phases, false);
    var column = phaseSelect && phaseSelect.value && document.getElementById("phase-" + phaseSelect.value);
    if (!column) return;
    var steps = Array.prototype.map.call(column.querySelectorAll(".interaction[data-interaction]"), function (m) {
      var action = m.querySelector(".interaction-action");
      return { value: m.getAttribute("data-interaction"), text: action ? action.textContent : "" };
    });
    syncOptions(document.getElementById("capture-mi"), steps, true);
  }

  // A private round: everyone's board holds a placeholder for each hidden note, the same for
  // all. Its author sees their own note in its place, from #my-panel (pushed to them alone).
  function paintMyHiddenNotes() {
    var me = document.body.getAttribute("data-member");
    if (!me) return;
    document.querySelectorAll('#board .note-hidden[data-author="' + me + '"]').forEach(function (slot) {
      var mine = document.getElementById("my-note-" + slot.getAttribute("data-note"));
      if (!mine || slot.getAttribute("data-shown") === mine.getAttribute("data-version")) return;
      var parts = Array.prototype.map.call(mine.childNodes, function (n) { return n.cloneNode(true); });
      var badge = document.createElement("span");
      badge.className = "note-only-you";
      badge.textContent = "Only you see this until the reveal";
      parts.push(badge);
      slot.replaceChildren.apply(slot, parts);
      slot.className = mine.className + " note-hidden is-mine";
      slot.setAttribute("data-shown", mine.getAttribute("data-version"));
      if (window.htmx) window.htmx.process(slot);
    });
  }

  // Present: large type and only the board, full screen, for the room. Leaving full screen
  // (Esc) ends it too.
  function present(on) {
    document.body.classList.toggle("is-presenting", on);
    document.querySelectorAll("[data-present]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "Stop presenting" : "Present";
    });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-present]");
    if (!button) return;
    var on = !document.body.classList.contains("is-presenting");
    present(on);
    var root = document.documentElement;
    if (on && root.requestFullscreen && !document.fullscreenElement) root.requestFullscreen().catch(function () {});
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(function () {});
  });
  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement && document.body.classList.contains("is-presenting")) present(false);
  });
  document.addEventListener("keydown", function (e) {  // where full screen was refused, Esc still ends it
    if (e.key === "Escape" && document.body.classList.contains("is-presenting") && !document.querySelector("dialog[open]")) {
      present(false);
    }
  });

  function refresh() {
    keepControls();
    paintMyHiddenNotes();
    syncCapture();
    paintMyDots();
    paintDotsLeft();
    paintMyRatings();
    applyFocus();
    tick();
  }
  document.addEventListener("htmx:wsAfterMessage", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  // What this person just added (a phase, far right on a wide board) comes into sight, whether
  // its push arrives before the answer to their post or after it.
  var toReveal = null;
  function reveal() {
    var el = toReveal && document.getElementById(toReveal);
    if (!el) return;
    toReveal = null;
    // On a phone the note form is fixed at the bottom: stop above it, however tall it is now.
    var form = document.querySelector(".capture");
    var fixed = form && getComputedStyle(form).position === "fixed";
    el.style.scrollMarginBottom = fixed ? form.offsetHeight + 12 + "px" : "";
    el.scrollIntoView({ behavior: "smooth", block: "nearest", inline: "nearest" });
  }
  document.addEventListener("board:reveal", function (e) {
    toReveal = e.detail && e.detail.id;
    reveal();
  });
  document.addEventListener("htmx:wsAfterMessage", reveal);

  // Keyboard users keep their place: a push that replaces the control they just used (a phase's
  // ◀ ▶, the session bar's buttons) puts focus back on the same control, or the nearest one left.
  var focusWas = null;
  document.addEventListener("htmx:wsBeforeMessage", function () {
    focusWas = window.journeymap.markFocus(document.activeElement);
  });
  document.addEventListener("htmx:wsAfterMessage", function () {
    var was = focusWas;
    focusWas = null;
    if (!was || document.body.contains(was.el)) return; // still there: focus never left it
    var active = document.activeElement;
    if (active && active !== document.body) return;
    var found = window.journeymap.findAgain(was);
    if (found) found.focus();
  });

  // A phone opens on the notes: the emotion curve starts folded there (a tap opens it).
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.matchMedia("(max-width: 640px)").matches) return;
    var curve = document.querySelector(".insight-curve");
    if (curve) curve.open = false;
  });
  setInterval(tick, 250);

  // Phones sleep and change networks: reconnect as soon as they are back.
  function wake() {
    if (wrapper && (!current || current.readyState > 1)) {
      clearTimeout(timer);
      timer = null;
      wrapper.reconnect();
    }
  }
  // The browser knows it lost the network before any heartbeat does: say so at once, and once
  // back, take a new socket (replaying what was missed) rather than trust the old one.
  var wentOffline = false;
  window.addEventListener("offline", function () {
    wentOffline = true;
    setStatus("offline", "Offline: changes arrive when you're back");
  });
  window.addEventListener("online", function () {
    if (wentOffline && wrapper && current && current.readyState === 1) {
      wentOffline = false;
      setStatus("connecting", "Reconnecting…");
      wrapper.reconnect();
      return;
    }
    wentOffline = false;
    wake();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") wake();
  });

  // Heartbeat: the server answers every ping. A socket that has heard nothing for two beats is
  // half-open (a dead Wi-Fi access point, a sleeping proxy): drop it and reconnect.
  setInterval(function () {
    if (!current || current.readyState !== 1) return;
    if (Date.now() - lastHeard > 2 * HEARTBEAT_MS) {
      setStatus("offline", "Connection lost, reconnecting…");
      lastHeard = Date.now();
      if (wrapper) wrapper.reconnect();
      return;
    }
    current.send("ping");
  }, HEARTBEAT_MS / 2);

  // Drag and drop of notes (desktop). The "Move to…" dialog does the same from a keyboard or a phone.
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (err) {
      return "";
    }
  }

  function canEdit(note) {
    var body = document.body;
    return body.getAttribute("data-role") === "facilitator" ||
      note.getAttribute("data-author") === body.getAttribute("data-member");
  }

  // Notes arrive by many paths (page, pushes, replays); make one draggable as the pointer goes
  // down on it, if this person may move it.
  document.addEventListener("pointerdown", function (e) {
    var note = e.target.closest && e.target.closest(".note");
    if (note && !e.target.closest("button") && canEdit(note)) note.setAttribute("draggable", "true");
  });

  var dragged = null;

  function dropIndex(list, y) {
    var items = Array.prototype.filter.call(list.children, function (c) { return c !== dragged; });
    for (var i = 0; i < items.length; i++) {
      var r = items[i].getBoundingClientRect();
      if (y < r.top + r.height / 2) return i;
    }
    return items.length;
  }

  document.addEventListener("dragstart", function (e) {
    var note = e.target.closest && e.target.closest(".note[draggable=true]");
    if (!note) return;
    dragged = note;
    note.classList.add("dragging");
    document.body.classList.add("is-dragging"); // every list opens up, the empty ones too
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", note.getAttribute("data-note"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.body.classList.remove("is-dragging");
    document.querySelectorAll(".drop-target").forEach(function (l) { l.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (e) {
    var list = dragged && e.target.closest && e.target.closest(".notes");
    if (!list) return;
    e.preventDefault();
    document.querySelectorAll(".drop-target").forEach(function (l) { if (l !== list) l.classList.remove("drop-target"); });
    list.classList.add("drop-target");
  });
  document.addEventListener("drop", function (e) {
    var list = dragged && e.target.closest && e.target.closest(".notes");
    if (!list) return;
    e.preventDefault();
    var note = dragged;
    var body = new FormData();
    body.append("phase", list.closest(".phase").getAttribute("data-phase"));
    body.append("interaction", list.getAttribute("data-mi") || "");
    body.append("position", String(dropIndex(list, e.clientY)));
    body.append("request_id", window.journeymap.uuid());
    fetch("/notes/" + note.getAttribute("data-note") + "/reorder/", {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      credentials: "same-origin",
    }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { window.alert(t || "Couldn't move the note."); });
    }).catch(function () {
      window.alert("Couldn't reach the server to move the note. Try again.");
    });
  });
})();
