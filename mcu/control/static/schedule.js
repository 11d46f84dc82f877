// The schedule form speaks the browser's time zone: the server stores UTC and reads a
// posted datetime-local value in the zone named by the hidden `tz` field. Without this
// script both stay UTC and the form still works.
(function () {
  "use strict";
  const form = document.getElementById("schedule");
  if (!form) return;
  let zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* UTC */ }
  const tz = form.querySelector("[data-tz]");
  const start = form.querySelector("input[name=start_time]");
  const named = form.querySelector("[data-tz-name]");
  function pad(n) { return String(n).padStart(2, "0"); }
  // A stored start time (UTC) shown in local time; a re-shown posted value is already local.
  if (start && start.dataset.utc) {
    const d = new Date(start.dataset.utc);
    if (!isNaN(d)) {
      start.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
        "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
      tz.value = zone;
    }
  } else if (tz.value === "UTC" || !tz.value) {
    tz.value = zone;
  }
  if (named) named.textContent = tz.value;
})();
