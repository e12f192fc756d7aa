// The agent console's progressive enhancement: keyboard shortcuts, presence polling,
// canned responses without a reload. Every page works without it.
(function () {
  "use strict";

  var console_ = document.querySelector(".console");
  if (!console_) return;
  // Set now, seen only after this script has run: the shortcuts below are then listening.
  document.documentElement.setAttribute("data-shortcuts", "ready");
  var page = console_.getAttribute("data-page");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var POLL_MS = 10000;
  var LIST_KEY = "helpdesk.queue.numbers";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function post(url, fields) {
    var body = new FormData();
    body.append("csrf_token", csrf);
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRFToken": csrf, "Accept": "application/json" } });
  }

  // --- help overlay -------------------------------------------------------------------------
  var dialog = document.getElementById("shortcuts");
  var helpButton = document.querySelector("[data-open-shortcuts]");
  function showHelp() { if (dialog && !dialog.open && dialog.showModal) dialog.showModal(); }
  if (helpButton) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", showHelp);
  }

  // --- lists (queue and search results): j/k move, o/Enter open, x select --------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-ticket][data-href]"));
  var current = -1;
  function select(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0 && rows[current]) rows[current].classList.remove("current");
    current = index;
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  }
  if (rows.length) {
    // Remember the list, so j/k on a ticket page can go to the next one.
    try {
      sessionStorage.setItem(LIST_KEY, JSON.stringify(rows.map(function (r) {
        return [r.getAttribute("data-ticket"), r.getAttribute("data-href")];
      })));
    } catch (e) { /* private mode: j/k on the ticket page just does nothing */ }
  }

  function neighbour(step) {
    var list;
    try { list = JSON.parse(sessionStorage.getItem(LIST_KEY) || "[]"); } catch (e) { list = []; }
    var here = location.pathname;
    for (var i = 0; i < list.length; i++) {
      if (list[i][1] === here) return list[i + step] ? list[i + step][1] : null;
    }
    return null;
  }

  function focusComposer(id) {
    var box = document.getElementById(id);
    if (!box) return;
    box.scrollIntoView({ block: "center" });
    box.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || (dialog && dialog.open)) return;
    var key = event.key;
    var handled = true;
    if (key === "?") showHelp();
    else if (key === "/") {
      var search = document.getElementById("q") || document.getElementById("quick-q");
      if (search) { search.focus(); search.select(); } else handled = false;
    } else if (rows.length && (key === "j" || key === "k")) select(current + (key === "j" ? 1 : -1));
    else if (rows.length && (key === "o" || key === "Enter") && current >= 0) location.href = rows[current].getAttribute("data-href");
    else if (rows.length && key === "x" && current >= 0) {
      var box = rows[current].querySelector('input[type="checkbox"]');
      if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change", { bubbles: true })); }
    } else if (page === "ticket" && key === "r") focusComposer("reply-body");
    else if (page === "ticket" && key === "n") focusComposer("note-body");
    else if (page === "ticket" && key === "a") {
      var assign = document.getElementById("assign-me");
      if (assign) assign.submit(); else handled = false;
    } else if (page === "ticket" && key === "u") location.href = document.querySelector("[data-shortcut-back]").href;
    else if (page === "ticket" && (key === "j" || key === "k")) {
      var next = neighbour(key === "j" ? 1 : -1);
      if (next) location.href = next; else handled = false;
    } else handled = false;
    if (handled) event.preventDefault();
  });

  // --- bulk actions: open the bar once something is selected --------------------------------
  var bulk = document.querySelector("[data-bulk]");
  if (bulk) {
    var counter = bulk.querySelector("[data-selected-count]");
    document.addEventListener("change", function (event) {
      if (!event.target.matches('input[name="ticket"]')) return;
      var chosen = document.querySelectorAll('input[name="ticket"]:checked').length;
      var format = counter.getAttribute("data-format") || "({n} selected)";
      counter.textContent = chosen ? format.replace("{n}", chosen) : "";
      if (chosen) bulk.open = true;
    });
  }

  // --- forms that ask first --------------------------------------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // --- canned responses: filled in without a round trip of the whole page ----------------------
  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      if (!canned.value) return;
      var url = canned.getAttribute("data-canned-url").replace(/\/0$/, "/" + canned.value);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var body = document.getElementById("reply-body");
          body.value = body.value.trim() ? body.value.replace(/\s+$/, "") + "\n\n" + data.text : data.text;
          body.focus();
          canned.value = "";
          composing();
        });
    });
  }

  // --- presence: who else is here, and is someone writing? -------------------------------------
  var presence = document.getElementById("presence");
  if (page !== "ticket" || !presence) return;
  var url = presence.getAttribute("data-url");
  var lastSeenInput = document.querySelector('input[name="last_seen"]');
  var lastSeen = lastSeenInput ? parseInt(lastSeenInput.value, 10) || 0 : 0;
  var typedAt = 0;
  var timer = null;

  function state() {
    var writing = Array.prototype.some.call(document.querySelectorAll("[data-composer] textarea"),
      function (t) { return t.value.trim() !== ""; });
    return writing && Date.now() - typedAt < 120000 ? "composing" : "viewing";
  }

  function show(data) {
    presence.textContent = "";
    data.others.forEach(function (p) {
      var span = document.createElement("span");
      span.className = "who-" + p.state;
      span.textContent = p.text;  // in this agent's language
      presence.appendChild(span);
    });
    if (data.last_message_id > lastSeen) {
      var fresh = document.createElement("span");
      fresh.className = "who-composing";
      fresh.appendChild(document.createTextNode(presence.getAttribute("data-activity") + " — "));
      var reload = document.createElement("a");
      reload.href = location.pathname;
      reload.textContent = presence.getAttribute("data-reload");
      fresh.appendChild(reload);
      presence.appendChild(fresh);
    }
    presence.hidden = presence.childNodes.length === 0;
  }

  function poll() {
    if (document.visibilityState === "hidden") return;
    post(url, { state: state() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) show(data); })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  var announced = false;
  function composing() {
    typedAt = Date.now();
    if (!announced) { announced = true; poll(); }
  }
  document.querySelectorAll("[data-composer] textarea").forEach(function (t) {
    t.addEventListener("input", composing);
  });
  timer = setInterval(poll, POLL_MS);
  poll();
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") poll(); });
  window.addEventListener("pagehide", function () {
    clearInterval(timer);
    var body = new FormData();
    body.append("csrf_token", csrf);
    body.append("state", "gone");
    if (navigator.sendBeacon) navigator.sendBeacon(url, body);
  });
})();
