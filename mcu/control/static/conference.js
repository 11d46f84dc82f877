// Keeps the participant table current: polls the JSON API every second and re-renders
// only when something changed; buttons call the API with the session cookie and the
// page's CSRF token. Which buttons exist is decided by the server (data-can-*).
(function () {
  "use strict";
  const table = document.getElementById("participants");
  if (!table) return;
  const tbody = table.tBodies[0];
  const status = document.getElementById("status");
  const base = "/api/v1/conferences/" + table.dataset.conferenceId + "/participants";
  const csrf = table.dataset.csrf;
  const can = {
    admit: table.dataset.canAdmit === "1",
    drop: table.dataset.canDrop === "1",
    mute: table.dataset.canMute === "1",
  };
  let last = null;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    return td;
  }

  function button(action, label, extra) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = label;
    Object.assign(b.dataset, extra || {});
    return b;
  }

  function render(list) {
    const rows = list.map(function (p) {
      const tr = document.createElement("tr");
      tr.dataset.participantId = p.id;
      tr.dataset.state = p.state;
      tr.dataset.role = p.role || "";
      tr.dataset.muted = p.muted ? "1" : "0";
      tr.append(
        cell(p.display_name, "name"),
        cell(p.remote, "remote"),
        cell(p.state, "state"),
        cell(p.role || "", "role"),
        cell(p.muted ? "muted" : "", "audio"),
      );
      const actions = cell("", "actions");
      if (can.admit && p.state === "lobby") actions.append(button("admit", "Admit"));
      if (can.mute && p.state !== "lobby") {
        actions.append(button("mute", p.muted ? "Unmute" : "Mute", { muted: p.muted ? "1" : "0" }));
      }
      if (can.drop) actions.append(button("drop", "Drop"));
      tr.append(actions);
      return tr;
    });
    tbody.replaceChildren.apply(tbody, rows);
  }

  async function refresh() {
    try {
      const r = await fetch(base, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (r.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); return; }
      if (!r.ok) { status.textContent = "Could not refresh (" + r.status + ")"; return; }
      const text = await r.text();
      status.textContent = "";
      if (text !== last) { last = text; render(JSON.parse(text)); }
    } catch (e) {
      status.textContent = "Could not refresh: " + e;
    }
  }

  async function act(tr, action, muted) {
    const id = encodeURIComponent(tr.dataset.participantId);
    const init = { headers: { "X-CSRF-Token": csrf }, method: "POST" };
    let url = base + "/" + id;
    if (action === "admit") url += "/admit";
    else if (action === "drop") init.method = "DELETE";
    else if (action === "mute") {
      url += "/mute";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ muted: !muted });
    } else return;
    const r = await fetch(url, init);
    if (!r.ok) {
      let why = r.status + "";
      try { const body = await r.json(); why += ": " + (body.rule || body.detail); } catch (e) { /* not JSON */ }
      status.textContent = action + " failed (" + why + ")";
    }
    await refresh();
  }

  tbody.addEventListener("click", function (event) {
    const b = event.target.closest("button[data-action]");
    if (!b) return;
    b.disabled = true;
    act(b.closest("tr"), b.dataset.action, b.dataset.muted === "1");
  });

  refresh();
  setInterval(refresh, 1000);
})();
