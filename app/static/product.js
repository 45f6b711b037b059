// The product page follows its ledger. After a change made here (Add, an in-place edit, a delete)
// and whenever /events says this product changed anywhere (another browser, the API, another app
// process), every section (heading, summary, timeline, chart, monthly table) is fetched again as
// HTML from /products/SKU/sections?page_no=N, for the timeline page the URL names, and put in place.
// A row being edited or deleted keeps its form (what was typed stays); the add form is never touched
// by a refresh. Refreshes never overlap: changes arriving during one cause one more afterwards.
(function () {
  "use strict";
  var root = document.getElementById("product");
  if (!root || !window.fetch) return;
  var sku = root.dataset.product;
  var SECTIONS = ["product-head", "summary", "timeline", "chart", "monthly"];
  // Rows that stay as they are through a refresh: being edited or deleted, with a request on its way
  // (an Edit just clicked: its answer goes to this very element), or just swapped in (while htmx
  // settles a swap, a new row wears the old row's attributes, so "editing" is not on it yet).
  var KEEP = "tr.editing, tr.deleting, tr.htmx-request, tr:has(.htmx-request), tr.htmx-settling, tr.htmx-added";
  var MIN_GAP_MS = 250; // between two refreshes: a burst of sales costs a few requests, not one each

  function pageNo() {
    var raw = new URLSearchParams(location.search).get("page_no") || "";
    return /^\d{1,6}$/.test(raw) && Number(raw) > 0 ? Number(raw) : 1;
  }

  // The pager's links name their page by a row next to it (before=/after=): a refresh keeps that place.
  function cursor() {
    var query = new URLSearchParams(location.search), kept = "";
    ["before", "after"].forEach(function (name) {
      var raw = query.get(name) || "";
      if (/^-?\d{1,19}_\d{1,19}$/.test(raw)) kept += "&" + name + "=" + raw;
    });
    return kept;
  }

  function shownSummary() {
    var el = document.getElementById("summary");
    try { return el ? JSON.parse(el.dataset.summary || "null") : null; } catch (e) { return null; }
  }
  function sameSummary(a, b) {
    if (!a || !b) return false;
    return Object.keys(a).every(function (k) { return String(a[k]) === String(b[k]); });
  }

  // --- putting fresh sections in place --------------------------------------------------------
  function figures(scope) {
    var seen = {};
    scope.querySelectorAll("[data-field]").forEach(function (cell) {
      var row = cell.closest("[data-month]");
      seen[(row ? row.dataset.month + "/" : "") + cell.dataset.field] = cell;
    });
    return seen;
  }
  function flashChanges(old, fresh) {
    var before = figures(old), after = figures(fresh);
    Object.keys(after).forEach(function (key) {
      if (before[key] && before[key].textContent !== after[key].textContent) after[key].classList.add("changed");
    });
  }

  function put(html, saved) {
    var doc = new DOMParser().parseFromString(html, "text/html"); // inert: nothing runs or loads
    var hadFocus = document.activeElement && document.activeElement !== document.body;
    SECTIONS.forEach(function (id) {
      var old = document.getElementById(id), fresh = doc.getElementById(id);
      if (!old || !fresh) return;
      fresh = document.importNode(fresh, true);
      // Kept rows keep their form, what was typed and their htmx wiring.
      old.querySelectorAll(KEEP).forEach(function (row) {
        var same = row.id && fresh.querySelector("#" + CSS.escape(row.id));
        if (same) same.replaceWith(row);
        else if (row.matches("tr.editing, tr.deleting") && window.Stockroom) { // its form goes: say why
          window.Stockroom.problem("The transaction you were " + (row.matches(".editing") ? "editing" : "deleting") +
            " (" + row.id.replace("tx-", "transaction ") + ") is no longer on this page: someone deleted it, or " +
            "new rows moved it to another page. Nothing of yours was saved.");
        }
      });
      flashChanges(old, fresh);
      old.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
    });
    if (saved) {
      var row = document.getElementById("tx-" + saved);
      if (row) {
        row.classList.add("changed");
        var link = row.querySelector(".actions a");
        if (link && hadFocus && (!document.activeElement || document.activeElement === document.body)) link.focus();
      }
    }
    var note = doc.querySelector("[data-notice]");
    if (note && window.Stockroom) window.Stockroom.notice(note.textContent);
    markBreaking();
    root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
  }

  // --- one refresh at a time ------------------------------------------------------------------
  var running = false, again = null, last = 0, missed = false;
  function refresh(saved) {
    if (document.hidden && !saved) { missed = true; return; } // a tab in the background catches up when shown
    if (running) {
      again = again || {};
      if (saved) again.saved = saved;
      return;
    }
    running = true;
    root.dataset.refreshing = "1"; // until the page is up to date again (tests wait on it; CSS may show it)
    setTimeout(function () {
      last = Date.now();
      var url = "/products/" + encodeURIComponent(sku) + "/sections?page_no=" + pageNo() + cursor() +
                (saved ? "&saved=" + encodeURIComponent(saved) : "");
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) throw new Error(r.status === 404 ? "this product no longer exists" : "the server answered " + r.status);
          return r.text();
        })
        .then(function (html) { put(html, saved); })
        .catch(function (e) {
          if (window.Stockroom) window.Stockroom.problem("This page could not be brought up to date (" + e.message + "); reload it to see the latest figures.");
        })
        .finally(function () {
          running = false;
          if (again) { var next = again; again = null; refresh(next.saved); }
          else delete root.dataset.refreshing;
        });
    }, Math.max(0, last + MIN_GAP_MS - Date.now()));
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && missed) { missed = false; refresh(); }
  });

  // --- changes made on this page --------------------------------------------------------------
  // beforeOnLoad fires on the form that sent the request, before anything is swapped (the add form
  // itself is replaced by its answer).
  // A refused history change names the later transaction it would break (data-breaks on its
  // message): that row is marked, so that five sales alike in the same minute are told apart.
  function markBreaking() {
    document.querySelectorAll("tr.breaks").forEach(function (row) { row.classList.remove("breaks"); });
    var said = document.querySelector("#product [data-breaks]");
    var row = said && document.getElementById("tx-" + said.dataset.breaks);
    if (row) row.classList.add("breaks");
  }
  document.addEventListener("htmx:afterSettle", markBreaking);

  document.addEventListener("htmx:beforeOnLoad", function (evt) {
    var form = evt.detail.elt, xhr = evt.detail.xhr;
    if (!form || !form.matches || !form.matches("form[data-after=refresh]") || !xhr || xhr.status >= 400) return;
    if (form.dataset.savedId || form.dataset.done) {
      // An edit or a delete answers with the ledger when it was saved, with the row and its reason when not.
      if ((xhr.responseText || "").indexOf("data-saved-ledger") < 0) return;
      var row = form.closest("tr");
      if (row) row.classList.remove("editing", "deleting"); // not kept: the refresh shows the row as saved
      if (form.dataset.done && window.Stockroom) window.Stockroom.notice(form.dataset.done);
      refresh(form.dataset.savedId);
    } else {
      refresh();
    }
  });

  // --- changes made anywhere ------------------------------------------------------------------
  if (!window.EventSource) return;
  var heardSinceOpen = false;
  function told(state) { document.dispatchEvent(new CustomEvent("stockroom:live", {detail: {state: state}})); }
  function follow() {
    var source = new EventSource("/events?sku=" + encodeURIComponent(sku));
    source.addEventListener("open", function () { heardSinceOpen = false; root.dataset.liveState = "connected"; told("connected"); });
    source.addEventListener("error", function () {
      root.dataset.liveState = "reconnecting";
      if (source.readyState !== EventSource.CLOSED) { told("retrying"); return; }
      told("stopped"); // refused (a 401 once the session ended): the browser tries no more, so we do
      setTimeout(follow, 5000);
    });
    source.addEventListener("stock", function (e) {
      var summary = JSON.parse(e.data);
      if (summary.sku !== sku) return;
      var first = !heardSinceOpen;
      heardSinceOpen = true;
      // The first event after (re)connecting is the state now: nothing to do if it is what is shown.
      if (first && sameSummary(summary, shownSummary())) return;
      refresh();
    });
  }
  follow();
})();
