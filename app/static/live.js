// Live figures: follows /events (server-sent events) and updates every element marked
// data-sku / data-field. Decimals stay strings (BigInt cents for totals): no float ever touches a figure.
//
// Work is proportional to what changed, never to the size of the page: events are queued (the
// latest per product wins) and applied once per animation frame, at most a few milliseconds of it
// per frame; a product whose figures did not change costs a map lookup and a few string compares.
// On connect the server sends the state of what the stream follows (on the dashboard: the rows shown).
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root) return;

  // --- shared: number formats, the flash, batching ------------------------------------------
  // Figures are written the way the server's filters write them: the shop's locale, currency and
  // precision (data-lang, data-currency, data-precision on the live root, from templating's `shop`),
  // through Intl.NumberFormat given the decimal *string* (formatted exactly, rounded half-even like
  // the server). Without those, or in a browser that cannot, plain en-US grouping.
  var lang = root.dataset.lang || "en-US", currency = root.dataset.currency || "";
  var precision = Number(root.dataset.precision || "2");
  var exactStrings = (function () { // Intl.NumberFormat v3: decimal strings exactly, rounded half-even
    try {
      var probe = new Intl.NumberFormat("en-US", {roundingMode: "halfEven", maximumFractionDigits: 2, useGrouping: false});
      return probe.format("9007199254740993.125") === "9007199254740993.12";
    } catch (e) { return false; }
  })();
  function numberFormat(options) {
    if (!exactStrings) return null;
    try { return new Intl.NumberFormat(lang, Object.assign({roundingMode: "halfEven"}, options)); } catch (e) { return null; }
  }
  var moneyOptions = {minimumFractionDigits: precision, maximumFractionDigits: precision};
  if (currency) Object.assign(moneyOptions, {style: "currency", currency: currency});
  var formats = {
    units: numberFormat({maximumFractionDigits: 0}),
    money: numberFormat(moneyOptions),
    exact: numberFormat(Object.assign({}, moneyOptions, {maximumFractionDigits: 20}))
  };
  function group(text) {
    var negative = text.charAt(0) === "-";
    if (negative) text = text.slice(1);
    var parts = text.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + whole + (parts.length > 1 ? "." + parts[1] : "");
  }
  function plain(text) { return /^-0*(\.0*)?$/.test(text) ? text.slice(1) : text; } // never "-0.00"
  function units(text) { return formats.units ? formats.units.format(plain(text)) : group(text); }
  function money(text) {
    if (formats.money) return formats.money.format(plain(text));
    var parts = plain(text).split("."), places = ((parts[1] || "") + "00").slice(0, 2);
    return group(parts[0]) + "." + places;
  }
  function exact(text) {
    if (formats.exact) return formats.exact.format(plain(text));
    var parts = text.split("."), places = (parts[1] || "").replace(/0+$/, "");
    while (places.length < 2) places += "0";
    return group(parts[0]) + "." + places;
  }
  // A time as the server's `when` filter writes it (Display.moment): the locale's day, short month and
  // year (CLDR's yMMMd, as Babel reads it) and the 24-hour time, in the shop's zone (data-zone).
  var moments = (function () {
    try {
      var zone = root.dataset.zone || "UTC";
      return {day: new Intl.DateTimeFormat(lang, {year: "numeric", month: "short", day: "numeric", timeZone: zone}),
              time: new Intl.DateTimeFormat("en-GB", {hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone})};
    } catch (e) { return null; } // a zone or language the browser does not know: times stay as drawn
  })();
  var FORMAT = {
    on_hand: units, reserved: units, available: units, average_cost: formats.money ? money : exact,
    inventory_value: money, realized_pl: money, write_off: money, gain: money,
    last_counted_at: null, last_sale_at: null // times: see writeMoment
  };
  var FIELDS = Object.keys(FORMAT);

  // A figure's cell: its text, and for an average cost (shown to the currency's precision) the exact
  // figure on hover, as the server's `cost` filter renders it.
  function write(cell, field, raw) {
    if (!FORMAT[field]) return writeMoment(cell, raw);
    var text = FORMAT[field](raw), shown = cell.querySelector(".cost") || cell;
    if (shown !== cell) shown.title = exact(raw);
    if (shown.textContent === text) return false;
    shown.textContent = text;
    flash(cell);
    return true;
  }

  // A figure as its cell's data-raw holds it: null (never sold, never counted) as the server draws it, "".
  function rawOf(value) { return value === null ? "" : String(value); }

  // A time's cell: a <time> carrying the ISO form, as the server draws it; none for a product never
  // sold or counted (the summary's null).
  function writeMoment(cell, raw) {
    if (!moments) return false;
    if (!raw) { cell.textContent = ""; return true; }
    var at = new Date(raw), time = document.createElement("time");
    time.dateTime = raw;
    time.textContent = moments.day.format(at) + " " + moments.time.format(at);
    cell.replaceChildren(time);
    flash(cell);
    return true;
  }

  // Restarts the highlight without forcing a layout: the two classes run the same animation under
  // two names, and switching names starts it again.
  function flash(el) {
    if (el.classList.contains("changed")) el.classList.replace("changed", "changed-again");
    else { el.classList.remove("changed-again"); el.classList.add("changed"); }
  }

  var BUDGET_MS = 8; // of each frame, at most this much goes to applying events
  function batcher(applyOne, afterBatch) {
    var pending = new Map(), scheduled = false;
    function run() {
      scheduled = false;
      var started = performance.now();
      for (var [key, value] of pending) {
        pending.delete(key);
        try { applyOne(key, value); } // one that fails is reported, and holds up none of the others
        catch (e) { console.error("live update of " + key + " failed", e); }
        if (performance.now() - started > BUDGET_MS) break;
      }
      if (afterBatch) afterBatch();
      if (pending.size) schedule();
    }
    function schedule() {
      if (scheduled) return;
      scheduled = true;
      var done = false;
      var once = function () { if (!done) { done = true; run(); } };
      requestAnimationFrame(once);
      setTimeout(once, 250); // a tab in the background gets no frames: catch up slowly anyway
    }
    // queue(key, update): update(the value pending for key, or undefined) gives the new one
    return function (key, update) {
      var value = update(pending.get(key));
      pending.delete(key);
      pending.set(key, value);
      schedule();
    };
  }

  // --- the alerts panel (dashboard) ----------------------------------------------------------
  var panel = document.querySelector("[data-alerts]");
  var alertItems = null; // sku -> <li>, read from the panel once
  function alert(sku, status, available) {
    if (!panel) return;
    if (!alertItems) {
      alertItems = new Map();
      panel.querySelectorAll("[data-alert-sku]").forEach(function (li) { alertItems.set(li.dataset.alertSku, li); });
    }
    var item = alertItems.get(sku);
    if (status === "ok") {
      if (item) { item.remove(); alertItems.delete(sku); }
    } else {
      if (!item) {
        item = document.createElement("li");
        item.dataset.alertSku = sku;
        var link = document.createElement("a");
        link.href = "/products/" + encodeURIComponent(sku);
        link.textContent = sku;
        item.append(link, " ", document.createElement("span"), " ", document.createElement("span"));
        panel.append(item);
        alertItems.set(sku, item);
      }
      var spans = item.querySelectorAll("span"), badge = "badge " + status, text = "available " + units(String(available));
      if (spans[0].className !== badge || spans[1].textContent !== text) {
        spans[0].className = badge;
        spans[0].textContent = status;
        spans[1].textContent = text;
        flash(item);
      }
    }
  }
  function alertsSettled() {
    var empty = document.querySelector("[data-alerts-empty]");
    if (empty && panel) empty.hidden = alertItems ? alertItems.size > 0 : panel.children.length > 0;
  }

  // --- the dashboard: rows by SKU, totals kept by difference ---------------------------------
  function cents(text) {
    var negative = text.charAt(0) === "-", parts = text.replace("-", "").split(".");
    var value = BigInt(parts[0] + ((parts[1] || "") + "00").slice(0, 2));
    return negative ? -value : value;
  }
  function fromCents(value) { // a plain decimal string
    var negative = value < 0n, digits = (negative ? -value : value).toString().padStart(3, "0");
    return (negative ? "-" : "") + digits.slice(0, -2) + "." + digits.slice(-2);
  }
  var UNIT_TOTALS = ["on_hand", "reserved", "available"], MONEY_TOTALS = ["inventory_value", "realized_pl"];

  var rereadTable = function () {}; // the dashboard's: its rows and totals are read again when next needed

  function dashboard() {
    var table = null, rows = null, totals = null, totalsDirty = false;
    rereadTable = function () { table = null; alertItems = null; panel = document.querySelector("[data-alerts]"); };

    // One pass over the table's rows when it is first needed and after htmx swaps in another one
    // (a search or filter): the map from SKU to row, and the totals the server rendered with it.
    function current() {
      var now = document.getElementById("products");
      if (now === table) return;
      table = now;
      rows = new Map();
      totals = null;
      if (!table) return;
      for (var tr of table.tBodies[0].rows) if (tr.dataset.sku) rows.set(tr.dataset.sku, {tr: tr, cells: null});
      var foot = table.querySelector("[data-totals]");
      if (!foot) return;
      totals = {};
      UNIT_TOTALS.concat(MONEY_TOTALS).forEach(function (field) {
        var out = foot.querySelector('[data-total="' + field + '"]');
        if (!out || out.dataset.raw === undefined) { totals = null; return; }
        if (totals) totals[field] = {out: out, sum: UNIT_TOTALS.includes(field) ? BigInt(out.dataset.raw) : cents(out.dataset.raw)};
      });
    }

    function cellsOf(entry) {
      if (!entry.cells) {
        entry.cells = {};
        entry.tr.querySelectorAll("[data-field]").forEach(function (cell) { entry.cells[cell.dataset.field] = cell; });
      }
      return entry.cells;
    }

    // A table filtered by location (data-location) shows each product's stock there, and its value
    // there, not its total.
    function atLocation(summary, code) {
      var here = {on_hand: 0, reserved: 0, available: 0, inventory_value: "0.00"};
      (summary.locations || []).forEach(function (x) { if (x.location === code) here = x; });
      return Object.assign({}, summary, {on_hand: here.on_hand, reserved: here.reserved, available: here.available,
                                         inventory_value: here.inventory_value});
    }

    function applyRow(sku, summary) {
      current();
      var entry = rows && rows.get(sku);
      if (!entry) return; // not on the page (filtered out)
      if (table.dataset.location) summary = atLocation(summary, table.dataset.location);
      if (table.dataset.status && summary.status !== table.dataset.status) listChanged(); // left the filter
      var cells = cellsOf(entry);
      FIELDS.forEach(function (field) {
        var cell = cells[field];
        if (!cell || summary[field] === undefined) return;
        var raw = rawOf(summary[field]), old = cell.dataset.raw;
        if (old === raw) return;
        if (field === sortedBy()) listChanged(); // its place in the order may be another now
        if (totals && totals[field] && old !== undefined) {
          var t = totals[field], money = MONEY_TOTALS.includes(field);
          t.sum += money ? cents(raw) - cents(old) : BigInt(raw) - BigInt(old);
          totalsDirty = true;
        }
        cell.dataset.raw = raw;
        if (UNIT_TOTALS.includes(field)) byLocationChanged();
        write(cell, field, raw);
      });
      var status = cells.status && cells.status.querySelector(".badge");
      if (status && status.textContent !== summary.status) {
        if (sortedBy() === "status") listChanged();
        status.textContent = summary.status;
        status.className = "badge " + summary.status;
        flash(status);
      }
    }

    // A product's status changed, on this page or not (alerts follow every product): one not on the
    // page may now belong in a status-filtered list, or elsewhere in one ordered by status.
    function statusChanged(sku, status) {
      current();
      if (!table || (rows && rows.has(sku))) return; // a row shown: applyRow sees it
      if (sortedBy() === "status" || table.dataset.status === status) listChanged();
    }

    function writeTotals() {
      alertsSettled();
      if (!totalsDirty || !totals) return;
      totalsDirty = false;
      Object.keys(totals).forEach(function (field) {
        var t = totals[field];
        var raw = MONEY_TOTALS.includes(field) ? fromCents(t.sum) : t.sum.toString();
        t.out.dataset.raw = raw;
        var text = MONEY_TOTALS.includes(field) ? money(raw) : units(raw);
        if (t.out.textContent !== text) t.out.textContent = text;
      });
    }

    return batcher(function (sku, latest) {
      if (latest.summary) applyRow(sku, latest.summary);
      if (latest.alert) {
        alert(sku, latest.alert.status, latest.alert.available);
        statusChanged(sku, latest.alert.status);
      }
    }, writeTotals);
  }

  // The rows are updated in place, never dropped, added or moved unasked (the row under the user's
  // pointer stays put): when a change may have altered which rows the list holds or their order, the
  // table says so and offers it drawn again (#list-changed, swapped out with the table).
  function listChanged() {
    var note = document.getElementById("list-changed");
    if (note && note.hidden) note.hidden = false;
  }
  // The summary field the table is ordered by (its sort names the column), when it changes live.
  var SORTED_FIELD = {value: "inventory_value", last_counted: "last_counted_at", last_sale: "last_sale_at"};
  function sortedBy() {
    var table = document.getElementById("products"), sort = table ? table.dataset.sort : "";
    var field = SORTED_FIELD[sort] || sort;
    return FIELDS.includes(field) || field === "status" ? field : null;
  }

  // The "By location" totals (#by-location) sum every product the filters match at every location:
  // when stock changed, htmx asks the server for the section again (its hx-trigger), once the changes
  // heard within a second are in: at most one request a second, and always one after the last change.
  var byLocationTimer = null;
  function byLocationChanged() {
    if (byLocationTimer !== null || !document.getElementById("by-location") || !window.htmx) return;
    byLocationTimer = setTimeout(function () {
      byLocationTimer = null;
      var section = document.getElementById("by-location");
      if (section) window.htmx.trigger(section, "stock-changed");
    }, 1000);
  }

  // The totals row and the alerts panel count every product the filters match, most of them not on
  // the page: the stream's `totals` event says products changed, and the server sums them again
  // (/totals, kept until a change) — at most one request a second, and always one after the last.
  var totalsTimer = null;
  function totalsChanged() {
    if (sortedBy()) listChanged(); // a product off this page may now belong on it, in a live order
    if (totalsTimer !== null || !window.htmx) return;
    totalsTimer = setTimeout(function () {
      totalsTimer = null;
      var table = document.getElementById("products"), foot = table && table.querySelector("tfoot[data-totals]");
      if (!foot || !table.dataset.totalsUrl) return;
      window.htmx.ajax("GET", table.dataset.totalsUrl, {target: foot, select: "tfoot", swap: "outerHTML"})
        .then(function () { rereadTable(); });
    }, 1000);
  }

  // --- other pages (a product's summary): every holder of the SKU -----------------------------
  function holders() {
    return batcher(function (sku, latest) {
      var summary = latest.summary;
      if (!summary) return;
      document.querySelectorAll('[data-sku="' + CSS.escape(sku) + '"]').forEach(function (holder) {
        FIELDS.forEach(function (field) {
          var cell = holder.querySelector('[data-field="' + field + '"]');
          if (!cell || summary[field] === undefined) return;
          var raw = rawOf(summary[field]);
          cell.dataset.raw = raw;
          write(cell, field, raw);
        });
        var status = holder.querySelector('[data-field="status"] .badge');
        if (status && status.textContent !== summary.status) {
          status.textContent = summary.status;
          status.className = "badge " + summary.status;
          flash(status);
        }
      });
    });
  }

  // Per product, the latest summary for its figures and the latest status for the alerts panel
  // (a stock event carries both; an alert event only the status), each replacing what was pending.
  var queue = root.dataset.live === "dashboard" ? dashboard() : holders();
  // Stock events past the state the stream sends on connect (one per row followed) are changes: the
  // "By location" totals are asked for again, whatever location they were at (a row filtered by one
  // location shows no change when another location's stock changes).
  var stateExpected = new Set();
  function onStock(summary) {
    if (isDashboard) {
      if (stateExpected.has(summary.sku)) stateExpected.delete(summary.sku);
      else byLocationChanged();
    }
    queue(summary.sku, function () {
      return {summary: summary, alert: {status: summary.status, available: summary.available}};
    });
  }
  function onAlert(a) {
    if (isDashboard) byLocationChanged(); // a product's status changed (maybe one on another page)
    queue(a.sku, function (was) { return {summary: was && was.summary, alert: a}; });
  }
  // The stream follows what the page shows: the dashboard's rows (the table's data-live-skus) and
  // every product's alerts (alerts=all), never the whole catalogue. When htmx swaps in another table
  // (a page, a sort, a search) the stream is opened again for its rows; the server sends their state.
  var isDashboard = root.dataset.live === "dashboard";
  function followed() {
    var holder = isDashboard ? document.getElementById("products-table") || root : root;
    return (holder.dataset.liveSkus || "").split(" ").filter(Boolean);
  }
  function streamUrl() {
    var skus = followed();
    var params = skus.map(function (s) { return "sku=" + encodeURIComponent(s); });
    if (isDashboard) params.push("alerts=all", "totals=all");
    return "/events" + (params.length ? "?" + params.join("&") : "");
  }
  var source = null, following = null;
  function connect() {
    var url = streamUrl();
    if (url === following) return;
    if (source) source.close();
    following = url;
    stateExpected = new Set(followed());
    root.dataset.liveState = "connecting";
    source = new EventSource(url);
    source.addEventListener("stock", function (e) { onStock(JSON.parse(e.data)); });
    source.addEventListener("alert", function (e) { onAlert(JSON.parse(e.data)); });
    source.addEventListener("totals", totalsChanged);
    source.addEventListener("open", function () { root.dataset.liveState = "connected"; told("connected"); });
    source.addEventListener("error", function () {
      root.dataset.liveState = "reconnecting";
      if (source.readyState !== EventSource.CLOSED) { told("retrying"); return; }
      told("stopped"); // refused (a 401 once the session ended, a 503): the browser tries no more
      following = null;
      setTimeout(connect, RETRY_CLOSED_MS);
    });
  }
  // feedback.js shows a page whose updates stopped as such (its figures would otherwise freeze silently).
  function told(state) { document.dispatchEvent(new CustomEvent("stockroom:live", {detail: {state: state}})); }
  var RETRY_CLOSED_MS = 5000;
  connect();
  if (isDashboard) ["htmx:afterSettle", "htmx:historyRestore"].forEach(function (name) { document.body.addEventListener(name, connect); });
})();
