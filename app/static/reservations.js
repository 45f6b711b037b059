// The reservations page never goes stale: a hold made, confirmed, cancelled or expired anywhere
// (another window, the API, another process) is a `holds` event on /events?holds=all, and the tables
// are asked for again, as the page's own URL draws them (its filters), at most once a second and
// always once after the last change. Not while a row holds what the user typed (a confirm's price):
// the refresh waits until it is sent or cleared. No inline script: the CSP allows none.
(function () {
  "use strict";
  var section = document.getElementById("reservation-tables");
  if (!section || !window.EventSource || !window.htmx) return;

  var timer = null, again = false;
  // Not while a row holds something the user is typing or has typed (a confirm's price, even once
  // the focus has left it for the Confirm button, or a refused price kept to be corrected): the new
  // tables would lose it.
  function busy() {
    var tables = document.getElementById("reservation-tables");
    if (!tables) return false;
    if (tables.contains(document.activeElement) && document.activeElement.matches("input, select")) return true;
    // A price box with anything in it, typed or kept after a refusal (drawn as the box's value).
    return Array.prototype.some.call(tables.querySelectorAll("input.price"), function (field) {
      return field.value.trim() !== "";
    });
  }
  // Said while changes wait for a typed price, so that a table that stays still is not taken for the
  // whole truth (a Confirm on a hold ended meanwhile is then refused).
  function waiting(yes) {
    var hint = document.getElementById("holds-waiting");
    if (hint) hint.hidden = !yes;
  }
  function refresh() {
    timer = null;
    if (busy()) { again = true; waiting(true); return; } // focusout asks again
    again = false;
    waiting(false);
    window.htmx.ajax("GET", window.location.pathname + window.location.search,
                     { target: "#reservation-tables", select: "#reservation-tables", swap: "outerHTML" });
  }
  // A redraw asked for before the user began typing may arrive after: it is not put in then either.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "reservation-tables" && busy()) {
      event.detail.shouldSwap = false;
      again = true;
      waiting(true);
    }
  });
  function changed() {
    if (timer === null) timer = setTimeout(refresh, 1000);
  }
  ["focusout", "input", "htmx:afterSettle"].forEach(function (name) { // maybe free to draw now
    document.addEventListener(name, function () {
      if (again && timer === null) timer = setTimeout(refresh, 300);
    });
  });

  function told(state) { document.dispatchEvent(new CustomEvent("stockroom:live", {detail: {state: state}})); }
  function follow() {
    var source = new EventSource("/events?holds=all");
    document.body.dataset.holdsLive = "connecting"; // on the body: the section itself is swapped
    source.addEventListener("open", function () { document.body.dataset.holdsLive = "connected"; told("connected"); });
    source.addEventListener("error", function () {
      document.body.dataset.holdsLive = "reconnecting";
      if (source.readyState !== EventSource.CLOSED) { told("retrying"); return; }
      told("stopped"); // refused (a 401 once the session ended): the browser tries no more, so we do
      setTimeout(follow, 5000);
    });
    source.addEventListener("holds", changed);
  }
  follow();
})();
