// The counter: the entry form's Product field as a keyboard-first picker (issue 10).
//
// A scanner types a code and presses Enter: Enter asks the server which product the code names
// (SKU or barcode), picks it, fills quantity 1 and its sell price, and keeps the focus on Product
// with its text selected; one more Enter records. Typing part of a name shows suggestions (htmx
// asks /transactions/suggest as you type); arrow keys move through them, Enter picks one. After a
// recorded sale the form comes back with the focus on Product, ready for the next scan.
//
// "Sell on scan" (a checkbox this script shows; the browser remembers it): for a scanner that sends
// one Enter per code, a code that names a product exactly (its SKU or barcode) records a SELL at once.
// Keys pressed while a lookup or a recording is on its way wait, and are replayed in order once it
// has landed: a fast scanner's next code is neither lost nor run into the last one. An Enter pressed
// while a sale was being recorded, with nothing typed since, never records it a second time.
// No inline script and no eval: the page's CSP forbids both. Without this file the form still works.
(function () {
  "use strict";

  var chosen = null; // {sku, price} of the product the Product field names, once picked
  var looking = false; // an Enter lookup is on its way
  var recording = false; // the form was sent: its answer has yet to come back
  var typed = []; // keys pressed meanwhile (a key's name: "Enter", or the character), replayed after
  var retyped = false; // keys other than Enter since the last recording was sent
  var SCAN_SETTING = "stockroom.sellOnScan";

  function form() { return document.querySelector("form[data-counter]"); }
  function box() { return document.getElementById("sku"); }
  function list() { return document.getElementById("suggestions"); }
  function options() {
    var l = list();
    return l ? Array.prototype.slice.call(l.querySelectorAll('[role="option"]')) : [];
  }
  function active() { return options().filter(function (o) { return o.getAttribute("aria-selected") === "true"; })[0]; }
  function isOpen() { var l = list(); return !!l && !l.hidden && l.children.length > 0; }

  function show(open) {
    var l = list(), b = box();
    if (!l || !b) return;
    l.hidden = !open;
    b.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) mark(null);
  }

  function mark(option) {
    var b = box();
    options().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (!b) return;
    if (option) {
      b.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      b.removeAttribute("aria-activedescendant");
    }
  }

  function move(step) {
    var all = options();
    if (!all.length) return;
    if (!isOpen()) show(true);
    var at = all.indexOf(active());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : (at + step + all.length) % all.length;
    mark(all[next]);
  }

  // The price follows the product for a SELL; a price the user typed is theirs, for the product it was
  // typed for (`typedFor`): picking another product drops it, as it drops the last product's own price
  // (a refused sale's form comes back with its price, which must not sell the next scan).
  function fillPrice() {
    var f = form();
    if (!f || !chosen) return;
    var price = f.elements.unit_price, kind = f.elements.type.value;
    if (price.dataset.typedFor && price.dataset.typedFor !== chosen.sku) {
      price.value = "";
      delete price.dataset.typedFor;
      delete price.dataset.auto;
    }
    var auto = price.dataset.auto === "1" || price.value === "";
    if (kind === "SELL" && auto) {
      price.value = chosen.price || "";
      if (chosen.price) price.dataset.auto = "1";
      else delete price.dataset.auto;
    } else if (kind !== "SELL" && price.dataset.auto === "1") {
      price.value = "";
      delete price.dataset.auto;
    }
  }

  function choose(option) {
    var f = form(), b = box();
    if (!f || !b || !option) return;
    chosen = { sku: option.dataset.sku, price: option.dataset.price || "" };
    b.value = chosen.sku;
    show(false);
    var quantity = f.elements.quantity;
    if (!quantity.value) quantity.value = "1";
    fillPrice();
    var said = document.getElementById("chosen");
    if (said) said.textContent = option.dataset.label || chosen.sku;
    b.removeAttribute("aria-invalid");
    b.focus();
    b.select(); // a new scan or new typing replaces it; Enter records
  }

  // Ask the server what the text names, then pick (`pick`): the exact SKU or barcode, or the only
  // match; else open the list on its first entry.
  // `sell`: with Sell on scan, record it once picked (a code scanned since the last sale, not the same
  // text entered again: a scanner's second Enter, or an Enter after the sale, never sells twice).
  function lookup(text, pick, sell) {
    looking = true;
    var url = "/transactions/suggest?sku=" + encodeURIComponent(text);
    return htmx.ajax("GET", url, { target: "#suggestions", select: "#suggestions", swap: "outerHTML" })
      .then(function () {
        looking = false;
        var b = box();
        if (!b || b.value.trim() !== text) { replay(); return; } // typing went on meanwhile
        var all = options();
        var exact = all.filter(function (o) { return o.hasAttribute("data-exact"); });
        if (pick && exact.length) {
          choose(exact[0]);
          if (sell && sellOnScan()) { record(); return; } // its answer replays what was typed meanwhile
        } else if (pick && all.length === 1) choose(all[0]);
        else if (all.length) { show(true); mark(all[0]); }
        else { // "No product has …": the next scan replaces the code, and a selling scanner hears of it
          show(true);
          if (pick) b.select();
          if (sell && sellOnScan()) notSold(text, list().textContent.trim());
        }
        replay();
      }, function () { looking = false; replay(); });
  }

  // A scan refused while each scan sells: said in a list outside the form, which the next sale's form
  // replaces; it stays until dismissed, so an item refused in a fast run of scans is not lost.
  function notSold(code, why) {
    var list = document.getElementById("not-sold");
    if (!list) return;
    var said = why ? [why] : [], problem = document.getElementById("problem");
    document.querySelectorAll("form[data-counter] .field").forEach(function (field) {
      var error = field.querySelector(".error"), label = field.querySelector("label");
      if (error && error.textContent.trim()) said.push((label ? label.textContent.trim() + " " : "") + error.textContent.trim());
    });
    if (problem && problem.textContent.trim()) said.push(problem.textContent.trim());
    var item = document.createElement("li"), words = document.createElement("span");
    words.textContent = "Not sold: " + (code || "?") + " — " + said.join("; ");
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.setAttribute("aria-label", "Dismiss");
    dismiss.textContent = "×";
    dismiss.addEventListener("click", function () { item.remove(); list.hidden = !list.children.length; });
    item.append(words, " ", dismiss);
    list.append(item);
    list.hidden = false;
  }

  function sellOnScan() {
    var f = form(), on = document.getElementById("sell-on-scan");
    return !!(f && on && on.checked && f.elements.type.value === "SELL");
  }

  function record() {
    var f = form();
    if (!f) return;
    recording = true;
    retyped = false;
    f.requestSubmit();
  }

  function busy() { return looking || recording; }

  // The keys that waited, in order, now that nothing is on its way; stops again at the next wait.
  // A code typed ahead replaces what the Product field says (it is the next scan, not more of this one).
  function replay() {
    var b = box(), fresh = true;
    if (typed.length && b && !busy() && document.activeElement !== b) b.focus(); // where they were typed
    while (typed.length && !busy() && b) {
      var key = typed.shift();
      if (key === "Enter") {
        enter(true);
        fresh = true;
      } else {
        if (fresh) b.setSelectionRange(0, b.value.length);
        fresh = false;
        b.setRangeText(key, b.selectionStart, b.selectionEnd, "end");
        b.dispatchEvent(new Event("input", { bubbles: true }));
      }
      b = box();
    }
  }

  // Enter in the Product field: pick the highlighted suggestion, record the product picked, or ask
  // the server what the text names. `replayed`: an Enter that waited for a lookup or a recording.
  function enter(replayed) {
    var b = box(), f = form();
    if (!b || !f) return;
    var pick = isOpen() ? active() : null;
    if (pick) { choose(pick); return; }
    var text = b.value.trim();
    if (chosen && text === chosen.sku) {
      // Pressed again while the sale went through, or (each scan selling) with no new scan since: one sale.
      if ((replayed || sellOnScan()) && !retyped) return;
      record();
      return;
    }
    if (text) lookup(text, true, retyped);
  }

  function onKey(event) {
    var b = box();
    if (busy() && b && (event.target === b || event.target === document.body) && !event.ctrlKey &&
        !event.metaKey && !event.altKey && (event.key === "Enter" || event.key.length === 1)) {
      event.preventDefault(); // kept for when the lookup or the recording has landed
      typed.push(event.key);
      return;
    }
    if (event.target !== b) return;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (options().length) move(1);
        else if (b.value.trim() && !looking) lookup(b.value.trim(), false, false); // faster than the suggestions
        return;
      case "ArrowUp":
        event.preventDefault();
        move(-1);
        return;
      case "Escape":
        if (isOpen()) { event.preventDefault(); show(false); }
        return;
      case "Enter":
        event.preventDefault(); // never the browser's own submit: Enter here picks, then records
        enter(false);
        return;
    }
  }

  function onInput(event) {
    var b = box();
    if (event.target === b) {
      retyped = true;
      if (!chosen || b.value.trim() !== chosen.sku) {
        chosen = null;
        var said = document.getElementById("chosen");
        if (said) said.textContent = "";
      }
      mark(null);
    } else if (event.target.name === "unit_price") {
      delete event.target.dataset.auto;
      event.target.dataset.typedFor = chosen ? chosen.sku : ""; // typed before a product: kept for it
    }
  }

  function onChange(event) {
    if (event.target.name === "type") fillPrice();
    if (event.target.id === "sell-on-scan") {
      try { localStorage.setItem(SCAN_SETTING, event.target.checked ? "1" : ""); } catch (ignored) { /* private mode */ }
    }
  }

  // A click (or tap) on a suggestion picks it rather than following its no-JavaScript link.
  function onClick(event) {
    var option = event.target.closest && event.target.closest('#suggestions [role="option"]');
    if (option) { event.preventDefault(); choose(option); }
  }

  function onFocusOut(event) {
    if (event.target !== box()) return;
    // Later than the click that may have caused it, so a click on a suggestion still lands.
    setTimeout(function () {
      var l = list();
      if (l && !l.contains(document.activeElement) && document.activeElement !== box()) show(false);
    }, 150);
  }

  // No request for suggestions about the product just picked.
  function onBeforeRequest(event) {
    var b = box();
    if (event.detail.elt === b && chosen && b.value.trim() === chosen.sku && !looking) event.preventDefault();
  }

  function onSwapped(event) {
    var target = event.detail.target;
    if (target && target.id === "suggestions") {
      var b = box();
      if (chosen && b && b.value.trim() === chosen.sku) show(false);
      else show(document.activeElement === b && list().children.length > 0);
      return;
    }
    if (target && target.id === "entry") ready();
  }

  // The form was sent by other means than Enter here (the Record button): its keys wait too. An
  // answer that swapped no form in (a lost connection) lets them go (`ready` does after a swap).
  function onFormRequest(event) {
    if (event.detail.elt === form()) recording = true;
  }

  function onFormAnswered(event) {
    if (event.detail.elt && event.detail.elt.matches && event.detail.elt.matches("form[data-counter]") &&
        !event.detail.successful && recording) {
      setTimeout(function () { if (recording) { recording = false; replay(); } }, 0);
    }
  }

  // The form as the server sent it: remember a product it already names, and put the focus where
  // the user continues: a field with an error, else Product with its text selected.
  function ready() {
    var b = box();
    if (!b) return;
    var said = document.getElementById("chosen");
    chosen = said && said.dataset.sku && b.value.trim() === said.dataset.sku
      ? { sku: said.dataset.sku, price: said.dataset.price || "" }
      : null;
    var price = form() && form().elements.unit_price;
    if (price && chosen && price.value) { // the last product's price, as the server sent the form back
      price.dataset.typedFor = chosen.sku;
      if (price.value === chosen.price) price.dataset.auto = "1";
    }
    var on = document.getElementById("sell-on-scan");
    if (on) {
      var holder = on.closest(".scan-mode");
      if (holder) holder.hidden = false; // it works with this script only
      try { on.checked = localStorage.getItem(SCAN_SETTING) === "1"; } catch (ignored) { /* private mode */ }
    }
    // A refused scan, when each scan sells: its message stays beside the field, the focus goes back
    // to Product, where the next scan must land (typed into a price field, it would be refused too).
    var wrong = document.querySelector('form[data-counter] [aria-invalid="true"]');
    if (sellOnScan() && (wrong || document.getElementById("problem"))) notSold(b.value.trim());
    var where = wrong && !sellOnScan() ? wrong : b;
    where.focus();
    if (where.select) where.select();
    recording = false;
    replay();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("input", onInput);
  document.addEventListener("change", onChange);
  document.addEventListener("click", onClick);
  document.addEventListener("focusout", onFocusOut);
  document.addEventListener("htmx:beforeRequest", onBeforeRequest);
  document.addEventListener("htmx:afterSettle", onSwapped);
  document.addEventListener("htmx:beforeRequest", onFormRequest);
  document.addEventListener("htmx:afterRequest", onFormAnswered);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
