// leadgate console behaviour. No inline scripts or handlers anywhere (the
// Content-Security-Policy allows only this file and htmx): forms with
// data-confirm ask first, selects with data-autosubmit submit their form.
document.addEventListener("submit", function (evt) {
  var form = evt.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { evt.preventDefault(); }
}, true);
document.addEventListener("change", function (evt) {
  var el = evt.target;
  if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
});
// Show HTMX request errors in the flash bar (htmx does not swap 4xx/5xx).
document.addEventListener("htmx:responseError", function (evt) {
  var xhr = evt.detail.xhr;
  var msg = xhr.getResponseHeader("X-Console-Message");
  var flash = document.getElementById("flash");
  if (!flash) { return; }
  flash.textContent = msg ? decodeURIComponent(msg) : "The request failed (" + xhr.status + ").";
  flash.hidden = false;
  clearTimeout(flash._timer);
  flash._timer = setTimeout(function () { flash.hidden = true; }, 8000);
});
document.addEventListener("htmx:sendError", function () {
  var flash = document.getElementById("flash");
  if (flash) { flash.textContent = "The server could not be reached."; flash.hidden = false; }
});
// Live lists: a page holding an element with data-live opens the console's
// event stream; every notice (a lead assigned to me, or any lead for managers)
// makes the list fetch itself again. No polling. When the stream reopens after
// a drop, the list is refreshed too, so nothing missed meanwhile stays hidden.
(function () {
  if (!document.querySelector("[data-live]") || !window.EventSource) { return; }
  var timer = null;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      document.body.dispatchEvent(new CustomEvent("leadgate:changed"));
    }, 150);
  }
  var opened = false;
  var source = new EventSource("/console/events");
  source.addEventListener("ready", function () { if (opened) { changed(); } opened = true; });
  source.addEventListener("lead.assigned", changed);
  source.addEventListener("lead.queued", changed);
  source.addEventListener("lead.offered", changed);
  // the work loop's console actions tell the other reps concerned (services/inbox.py)
  source.addEventListener("lead.claimed", changed);
  source.addEventListener("lead.declined", changed);
  source.addEventListener("lead.reassigned", changed);
  source.addEventListener("lead.expired", changed);
  window.addEventListener("pagehide", function () { source.close(); });
})();
// The inbox (/console/inbox) and the offers page (/console/offers): countdowns to
// each offer's deadline, a beep and a desktop notification when a new offer
// arrives, and short success notices in the flash bar.
(function () {
  var flash = document.getElementById("flash");
  function show(text, ok) {
    if (!flash) { return; }
    flash.textContent = text;
    flash.classList.toggle("ok", !!ok);
    flash.hidden = false;
    clearTimeout(flash._timer);
    flash._timer = setTimeout(function () { flash.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:afterRequest", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || !evt.detail.successful) { return; }
    var note = xhr.getResponseHeader("X-Console-Notice");
    if (note) { show(decodeURIComponent(note), true); }
  });
  document.addEventListener("htmx:responseError", function (evt) {
    if (flash) { flash.classList.remove("ok"); }
    // a claim that lost the race, an offer that expired meanwhile: show what is true now
    var elt = evt.detail.elt;
    if (elt && elt.closest && elt.closest("[data-inbox]")) {
      document.body.dispatchEvent(new CustomEvent("leadgate:changed"));
    }
  });

  // countdowns: the server renders the seconds left; the browser counts down from
  // when it received them (no dependence on the two clocks agreeing)
  function format(s) {
    if (s <= 0) { return "expired"; }
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (r < 10 ? "0" : "") + r + " left";
  }
  var refreshAfterExpiry = null;
  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll(".countdown[data-seconds]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el._due) { el._due = now + 1000 * parseInt(el.getAttribute("data-seconds"), 10); }
      var left = Math.max(0, Math.round((el._due - now) / 1000));
      var text = format(left);
      if (el.textContent !== text) { el.textContent = text; }
      el.classList.toggle("late", left < 30);
      if (left === 0 && !el._expired) {
        el._expired = true;
        // the timer bounces the lead shortly after its deadline: look again then
        clearTimeout(refreshAfterExpiry);
        refreshAfterExpiry = setTimeout(function () {
          document.body.dispatchEvent(new CustomEvent("leadgate:changed"));
        }, 3000);
      }
    }
  }
  if (document.querySelector("[data-live]")) {
    tick();
    setInterval(tick, 1000);
    document.addEventListener("htmx:afterSettle", tick);
  }

  // a new offer: a short beep (WebAudio, no sound file) and a desktop notification
  if (!document.querySelector("[data-inbox]")) { return; }
  var audio = null;
  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    try {
      audio = audio || new Ctx();
      var osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.32);
    } catch (e) { /* sound is a nicety: a browser that refuses it still shows the offer */ }
  }
  var button = document.getElementById("notify-permission");
  if (button && window.Notification && Notification.permission === "default") {
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }
  // an offer row that was not on the page before: a new offer for me (whatever made
  // the section refresh: the notice, a bounce after a deadline, a reconnect)
  function offerRows() {
    var rows = {};
    var found = document.querySelectorAll("#inbox-offers tr[data-offer], #inbox-shotgun tr[data-offer]");
    for (var i = 0; i < found.length; i++) { rows[found[i].getAttribute("data-offer")] = found[i]; }
    return rows;
  }
  var seen = offerRows();
  document.addEventListener("htmx:afterSettle", function () {
    var rows = offerRows(), fresh = [];
    for (var id in rows) {
      if (!seen[id]) { fresh.push(rows[id]); seen[id] = true; }
    }
    if (!fresh.length) { return; }
    var alerts = parseInt(document.body.getAttribute("data-offer-alerts") || "0", 10) + 1;
    document.body.setAttribute("data-offer-alerts", String(alerts));
    beep();
    if (window.Notification && Notification.permission === "granted") {
      var link = fresh[0].querySelector("a");
      var what = link ? link.textContent.trim() : "A lead";
      try {
        new Notification("New lead offered", {
          body: what + (fresh.length > 1 ? " and " + (fresh.length - 1) + " more" : "") +
            " waiting for you in the inbox.",
          tag: "leadgate-offer-" + fresh[0].getAttribute("data-offer")
        });
      } catch (e) { /* some browsers only allow notifications from a service worker */ }
    }
  });
})();
