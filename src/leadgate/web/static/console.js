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
  window.addEventListener("pagehide", function () { source.close(); });
})();
