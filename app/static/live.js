// Live figures: follows /events (server-sent events) and updates every element marked
// data-sku / data-field, the totals row and the alerts panel. Decimals stay strings
// (BigInt cents for totals): no float ever touches a figure.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root) return;

  function group(text) {
    var negative = text.charAt(0) === "-";
    if (negative) text = text.slice(1);
    var parts = text.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + whole + (parts.length > 1 ? "." + parts[1] : "");
  }
  function cost(text) {
    var parts = text.split("."), places = (parts[1] || "").replace(/0+$/, "");
    while (places.length < 2) places += "0";
    return group(parts[0]) + "." + places;
  }
  var FORMAT = {
    on_hand: group, reserved: group, available: group, average_cost: cost,
    inventory_value: group, realized_pl: group, write_off: group
  };

  function flash(el) {
    el.classList.remove("changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("changed");
  }

  function apply(summary) {
    var holders = document.querySelectorAll('[data-sku="' + CSS.escape(summary.sku) + '"]');
    holders.forEach(function (holder) {
      Object.keys(FORMAT).forEach(function (field) {
        var cell = holder.querySelector('[data-field="' + field + '"]');
        if (!cell) return;
        var raw = String(summary[field]);
        cell.dataset.raw = raw;
        var text = FORMAT[field](raw);
        if (cell.textContent !== text) { cell.textContent = text; flash(cell); }
      });
      var status = holder.querySelector('[data-field="status"] .badge');
      if (status && status.textContent !== summary.status) {
        status.textContent = summary.status;
        status.className = "badge " + summary.status;
        flash(status);
      }
    });
    alert(summary.sku, summary.status, summary.available);
    totals();
  }

  function cents(text) {
    var negative = text.charAt(0) === "-", parts = text.replace("-", "").split(".");
    var value = BigInt(parts[0] + ((parts[1] || "") + "00").slice(0, 2));
    return negative ? -value : value;
  }
  function fromCents(value) {
    var negative = value < 0n, digits = (negative ? -value : value).toString().padStart(3, "0");
    return (negative ? "-" : "") + group(digits.slice(0, -2)) + "." + digits.slice(-2);
  }

  function totals() {
    var foot = document.querySelector("[data-totals]");
    if (!foot) return;
    ["on_hand", "reserved", "available"].forEach(function (field) {
      var sum = 0n;
      document.querySelectorAll('tbody [data-field="' + field + '"]').forEach(function (c) {
        sum += BigInt(c.dataset.raw || c.textContent.replace(/,/g, "") || "0");
      });
      var out = foot.querySelector('[data-total="' + field + '"]');
      if (out) out.textContent = group(sum.toString());
    });
    ["inventory_value", "realized_pl"].forEach(function (field) {
      var sum = 0n;
      document.querySelectorAll('tbody [data-field="' + field + '"]').forEach(function (c) {
        sum += cents(c.dataset.raw || c.textContent.replace(/,/g, "") || "0");
      });
      var out = foot.querySelector('[data-total="' + field + '"]');
      if (out) out.textContent = fromCents(sum);
    });
  }

  function alert(sku, status, available) {
    var panel = document.querySelector("[data-alerts]");
    if (!panel) return;
    var item = panel.querySelector('[data-alert-sku="' + CSS.escape(sku) + '"]');
    if (status === "ok") {
      if (item) item.remove();
    } else {
      if (!item) {
        item = document.createElement("li");
        item.dataset.alertSku = sku;
        var link = document.createElement("a");
        link.href = "/products/" + encodeURIComponent(sku);
        link.textContent = sku;
        item.append(link, " ", document.createElement("span"), " ", document.createElement("span"));
        panel.append(item);
      }
      var spans = item.querySelectorAll("span");
      spans[0].className = "badge " + status;
      spans[0].textContent = status;
      spans[1].textContent = "available " + group(String(available));
      flash(item);
    }
    var empty = document.querySelector("[data-alerts-empty]");
    if (empty) empty.hidden = panel.children.length > 0;
  }

  var skus = (root.dataset.liveSkus || "").split(" ").filter(Boolean);
  var url = "/events" + (skus.length ? "?" + skus.map(function (s) { return "sku=" + encodeURIComponent(s); }).join("&") : "");
  var source = new EventSource(url);
  source.addEventListener("stock", function (e) { apply(JSON.parse(e.data)); });
  source.addEventListener("alert", function (e) {
    var a = JSON.parse(e.data);
    alert(a.sku, a.status, a.available);
  });
  source.addEventListener("open", function () { root.dataset.liveState = "connected"; });
  source.addEventListener("error", function () { root.dataset.liveState = "reconnecting"; });
})();
