// What every htmx request answered, shown where the user is looking (base.html loads this on every
// page, so every form benefits without doing anything):
//
//  - A refusal (4xx) is never swallowed. An HTML fragment answered with a 4xx was made for its
//    place (a form with each error beside its field, a row with its reason): it is swapped in as
//    a 2xx would be. Anything else (the API's JSON error, a full error page, plain text) becomes a
//    message: each field error beside its field in the form that sent the request, the rest at the
//    end of that form or in that table row, or, with neither, in the message area (#alerts,
//    role="alert"). A 5xx, a lost connection or a timeout goes to the message area.
//  - Confirmations: an element with data-notice in swapped-in content, or a response header
//    HX-Trigger: {"stockroom:notice": "text"}, is shown in #notices (role="status") for a while.
//
// Handled refusals are not reported to htmx as errors (no console noise); listeners that care get a
// "stockroom:refused" event on the requesting element ({status, detail, fields}).
// No eval, no inline script or style: the CSP allows neither (see base.html's htmx-config).
(function () {
  "use strict";

  var GENERIC = {
    400: "The server refused what was sent; check the form.",
    401: "Your session has ended; log in again.",
    403: "You are not allowed to do that.",
    404: "Not found: it may have been deleted.",
    409: "That would break a rule of the ledger; nothing was changed.",
    413: "What was sent is too large; nothing was changed.",
    422: "This form was already sent with other values; reload the page.",
    429: "Too many attempts; wait a moment and try again."
  };
  var NOTICE_MS = 10000;

  // --- the message area ---------------------------------------------------------------------
  function say(kind, text) {
    var box = document.getElementById(kind === "notice" ? "notices" : "alerts");
    if (!box || !text) return null;
    var item = document.createElement("div");
    item.className = "message " + kind;
    var words = document.createElement("p");
    words.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "dismiss";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { item.remove(); });
    item.append(words, close);
    if (kind === "notice") {
      box.replaceChildren(item); // the latest confirmation replaces the one before
      setTimeout(function () { item.remove(); }, NOTICE_MS);
    } else {
      while (box.children.length >= 3) box.firstElementChild.remove();
      box.append(item);
    }
    return item;
  }

  // --- reading a refusal --------------------------------------------------------------------
  function squeeze(text) { return String(text || "").replace(/\s+/g, " ").trim(); }
  function sentence(text) { return /[.!?:]$/.test(text) ? text : text + "."; }

  function problemOf(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    var text = xhr.responseText || "", detail = "", fields = [];
    if (type.indexOf("json") >= 0) {
      try {
        var body = JSON.parse(text);
        if (typeof body.detail === "string") detail = body.detail;
        var extra = body.extra, list = extra && (Array.isArray(extra) ? extra : extra.errors);
        if (Array.isArray(list)) {
          list.forEach(function (e) {
            var field = e && (e.field || e.key), message = e && e.message;
            if (field && message) fields.push({ field: String(field), message: String(message) });
          });
        }
      } catch (ignored) { /* not JSON after all: the generic text below */ }
    } else if (type.indexOf("html") >= 0) {
      var page = new DOMParser().parseFromString(text, "text/html"); // inert: nothing runs or loads
      var found = page.querySelector("[data-problem]") || page.querySelector("main [role=alert]") ||
                  page.querySelector(".problems, .error");
      detail = found ? squeeze(found.textContent) : "";
    } else if (text.length < 400) {
      detail = squeeze(text);
    }
    if (!detail) {
      detail = GENERIC[xhr.status] || (xhr.status >= 500
        ? "The server failed (" + xhr.status + "); try again in a moment."
        : "The request was refused (" + xhr.status + ").");
    } else if (xhr.status >= 500) {
      detail = "The server failed (" + xhr.status + "): " + detail;
    }
    var wait = xhr.getResponseHeader("Retry-After");
    if (wait && /^\d+$/.test(wait) && detail.indexOf(wait) < 0) detail = sentence(detail) + " Try again in " + wait + " s.";
    return { status: xhr.status, detail: detail, fields: fields };
  }

  // --- showing it where the user is looking -------------------------------------------------
  function visible(el) { return !!(el && el.isConnected && el.getClientRects().length); }
  function formOf(elt) { return elt.tagName === "FORM" ? elt : (elt.form || elt.closest("form")); }
  function spoken(name) { var s = name.replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }

  function control(form, name) {
    var found = form && form.elements.namedItem(name);
    if (found && typeof RadioNodeList !== "undefined" && found instanceof RadioNodeList) found = found[0];
    return found && found.type !== "hidden" && visible(found) ? found : null;
  }

  function besideField(field, message) {
    var note = document.createElement("span");
    note.className = "error";
    note.dataset.feedback = "";
    note.id = (field.id || field.name) + "-feedback";
    note.textContent = message;
    field.insertAdjacentElement("afterend", note);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
    field.dataset.feedbackInvalid = "";
  }

  function show(problem, elt) {
    var form = elt && elt.closest ? formOf(elt) : null;
    var row = elt && elt.closest ? elt.closest("tr") : null;
    var place = visible(form) ? form : visible(row) ? row : null;
    var rest = [], placed = 0;
    problem.fields.forEach(function (f) {
      var field = control(place === form ? form : null, f.field);
      if (field) { besideField(field, f.message); placed++; } else rest.push(spoken(f.field) + ": " + f.message);
    });
    var text = placed && !rest.length ? "" : [problem.detail].concat(rest).map(sentence).join(" ");
    if (!place) { say("problem", text || problem.detail); return; }
    if (text) {
      var note = document.createElement("p");
      note.className = "error feedback";
      note.setAttribute("role", "alert");
      note.dataset.feedback = "";
      note.textContent = text;
      if (place === form) form.append(note); else (row.lastElementChild || row).append(note);
      if (note.scrollIntoView) note.scrollIntoView({ block: "nearest" });
    }
    var first = place.querySelector("[data-feedback-invalid]");
    if (first && !place.contains(document.activeElement)) first.focus();
  }

  function clear(elt) {
    var place = (elt.closest && (formOf(elt) || elt.closest("tr"))) || elt;
    place.querySelectorAll("[data-feedback]").forEach(function (n) { n.remove(); });
    place.querySelectorAll("[data-feedback-invalid]").forEach(function (n) {
      n.removeAttribute("aria-invalid");
      n.removeAttribute("aria-describedby");
      delete n.dataset.feedbackInvalid;
    });
  }

  function requester(detail) { return (detail.requestConfig && detail.requestConfig.elt) || detail.elt; }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = requester(evt.detail), cause = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    if (elt) clear(elt);
    if (cause && cause.isTrusted) { // the user acted again: earlier messages are history
      ["alerts", "notices"].forEach(function (id) {
        var box = document.getElementById(id);
        if (box) box.replaceChildren();
      });
    }
  });

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status < 400) return;
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase(), text = xhr.responseText || "";
    evt.detail.isError = false; // handled here, one way or the other
    if (xhr.status < 500 && type.indexOf("text/html") === 0 && text.trim() && !/^\s*<(!doctype|html)/i.test(text)) {
      evt.detail.shouldSwap = true; // a fragment made for its place: the form or row with the reason
      return;
    }
    evt.detail.shouldSwap = false;
    var problem = problemOf(xhr), elt = requester(evt.detail);
    show(problem, elt);
    if (elt && elt.isConnected) elt.dispatchEvent(new CustomEvent("stockroom:refused", { bubbles: true, detail: problem }));
  });

  document.addEventListener("htmx:sendError", function () {
    say("problem", "The server could not be reached; nothing was saved. Check the connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    say("problem", "The server took too long to answer; check the page before trying again.");
  });

  // --- confirmations ------------------------------------------------------------------------
  function collect(scope) {
    if (!scope || !scope.querySelectorAll) return;
    var found = Array.prototype.slice.call(scope.querySelectorAll("[data-notice]"));
    if (scope.matches && scope.matches("[data-notice]")) found.unshift(scope);
    found.forEach(function (el) {
      if (el.closest("#messages")) return;
      say("notice", squeeze(el.textContent));
      el.remove();
    });
  }
  document.addEventListener("htmx:load", function (evt) { collect(evt.detail.elt || evt.target); });
  document.addEventListener("stockroom:notice", function (evt) {
    say("notice", squeeze(evt.detail && evt.detail.value));
  });
  collect(document.body);

  // --- live updates: a page whose stream is down says so -------------------------------------
  // live.js, product.js and reservations.js tell how their stream is ("stockroom:live"). A stream
  // that is retrying (a restart, a lost network) is said after PAUSED_AFTER_MS without reconnecting;
  // one the server refused (the session ended) at once. Reconnected, the message goes.
  var PAUSED_AFTER_MS = 3000;
  var liveMessage = null, pausedTimer = null;
  function sayLive(text) {
    if (liveMessage && liveMessage.isConnected) liveMessage.querySelector("p").textContent = text;
    else if ((liveMessage = say("alert", text))) liveMessage.dataset.live = "down";
  }
  document.addEventListener("stockroom:live", function (e) {
    var state = e.detail && e.detail.state;
    if (state === "connected" || state === "stopped") { clearTimeout(pausedTimer); pausedTimer = null; }
    if (state === "connected") {
      if (liveMessage) liveMessage.remove();
      liveMessage = null;
    } else if (state === "stopped") {
      sayLive("Live updates stopped: the server refused them (has your session ended?). " +
              "Reload the page to see the latest figures.");
    } else if (state === "retrying" && pausedTimer === null && !(liveMessage && liveMessage.isConnected)) {
      pausedTimer = setTimeout(function () {
        pausedTimer = null;
        sayLive("Live updates paused: reconnecting to the server. The figures on this page may be out of date.");
      }, PAUSED_AFTER_MS);
    }
  });

  window.Stockroom = window.Stockroom || {};
  window.Stockroom.notice = function (text) { return say("notice", squeeze(text)); };
  window.Stockroom.problem = function (text) { return say("problem", squeeze(text)); };
})();
