// Keeps the conference page current without reloads. The participant list arrives over
// Server-Sent Events (GET /conferences/{id}/events, `event: participants` with the JSON
// list whenever it changes, and `event: cameras` with the running cameras' states for
// those who may see cameras); thumbnails reload every few seconds; buttons and forms call
// the JSON API with the session cookie and the page's CSRF token. Which controls exist
// is decided by the server (data-can-* and the forms it rendered), never here.
(function () {
  "use strict";
  const controls = document.getElementById("conference-controls");
  const table = document.getElementById("participants");
  const status = document.getElementById("status");
  const source = table || controls;
  if (!source) return;
  const conferenceId = source.dataset.conferenceId;
  const csrf = source.dataset.csrf;
  const api = "/api/v1/conferences/" + encodeURIComponent(conferenceId);
  const page = "/conferences/" + encodeURIComponent(conferenceId);
  const THUMBNAIL_MS = 3000;

  function say(text) { if (status) status.textContent = text; }

  function toLogin() {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
  }

  async function call(method, url, body) {
    const init = { method: method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    if (r.status === 401) { toLogin(); return false; }
    if (!r.ok) {
      let why = r.status + "";
      try { const b = await r.json(); why += ": " + (b.rule || b.detail) + (b.field ? " (" + b.field + ")" : ""); } catch (e) { /* not JSON */ }
      say(method + " " + url.replace(api, "") + " failed (" + why + ")");
      return false;
    }
    say("");
    return true;
  }

  // ---- the participant list

  if (table) {
    const tbody = table.tBodies[0];
    const can = {
      admit: table.dataset.canAdmit === "1",
      drop: table.dataset.canDrop === "1",
      mute: table.dataset.canMute === "1",
      important: table.dataset.canImportant === "1",
      thumbnails: table.dataset.canThumbnails === "1",
    };
    const base = api + "/participants";
    const thumbs = new Map(); // participant id -> <img>, kept across renders (no flicker)
    tbody.querySelectorAll("tr[data-participant-id] img[data-thumbnail]").forEach(function (img) {
      thumbs.set(img.closest("tr").dataset.participantId, img);
    });

    const cell = function (text, cls) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;
      return td;
    };

    // The name, with a lock for a participant whose signalling and media are encrypted.
    const nameCell = function (p) {
      const td = cell(p.display_name, "name");
      if (p.encrypted) {
        const lock = document.createElement("span");
        lock.className = "lock";
        lock.title = "encrypted: SIP over TLS with SRTP";
        lock.textContent = "\u{1F512}";
        td.append(" ", lock);
      }
      return td;
    };

    const button = function (action, label, extra) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = action;
      b.textContent = label;
      Object.assign(b.dataset, extra || {});
      return b;
    };

    const thumbnailUrl = function (id) {
      return page + "/participants/" + encodeURIComponent(id) + "/thumbnail.jpg";
    };

    const thumbnail = function (id) {
      let img = thumbs.get(id);
      if (!img) {
        img = document.createElement("img");
        img.dataset.thumbnail = "";
        img.alt = "";
        img.width = 160;
        img.height = 90;
        img.src = thumbnailUrl(id);
        thumbs.set(id, img);
      }
      const td = cell("", "thumb");
      td.append(img);
      return td;
    };

    const render = function (list) {
      const seen = new Set();
      const rows = list.map(function (p) {
        seen.add(p.id);
        const tr = document.createElement("tr");
        tr.dataset.participantId = p.id;
        tr.dataset.state = p.state;
        tr.dataset.role = p.role || "";
        tr.dataset.muted = p.muted ? "1" : "0";
        tr.dataset.speaking = p.speaking ? "1" : "0";
        tr.dataset.important = p.important ? "1" : "0";
        tr.dataset.encrypted = p.encrypted ? "1" : "0";
        if (can.thumbnails) tr.append(thumbnail(p.id));
        tr.append(
          nameCell(p),
          cell(p.remote, "remote"),
          cell(p.state, "state"),
          cell(p.role || "", "role"),
          cell(p.muted ? "muted" : (p.speaking ? "speaking" : ""), "audio"),
        );
        const actions = cell("", "actions");
        if (can.admit && p.state === "lobby") actions.append(button("admit", "Admit"));
        if (can.mute && p.state !== "lobby") {
          actions.append(button("mute", p.muted ? "Unmute" : "Mute", { muted: p.muted ? "1" : "0" }));
        }
        if (can.important && p.state !== "lobby") {
          const b = button("important", p.important ? "Not important" : "Important",
            { important: p.important ? "1" : "0" });
          b.setAttribute("aria-pressed", p.important ? "true" : "false");
          actions.append(b);
        }
        if (can.drop) actions.append(button("drop", "Drop"));
        tr.append(actions);
        return tr;
      });
      for (const id of Array.from(thumbs.keys())) if (!seen.has(id)) thumbs.delete(id);
      tbody.replaceChildren.apply(tbody, rows);
    };

    // ---- the cameras' live states (a stored camera that is not running is absent)

    const cameraTable = document.getElementById("cameras");
    const cameraThumbnail = function (td, pid) {
      const img = td.querySelector("img");
      if (!pid) { if (img) td.replaceChildren(); return; }
      if (img && img.dataset.participantId === pid) return;
      const fresh = document.createElement("img");
      fresh.dataset.thumbnail = "";
      fresh.dataset.participantId = pid;
      fresh.alt = "";
      fresh.width = 160;
      fresh.height = 90;
      fresh.src = thumbnailUrl(pid);
      td.replaceChildren(fresh);
    };
    const showCameras = function (states) {
      if (!cameraTable) return;
      const byId = new Map(states.map(function (c) { return [String(c.id), c]; }));
      cameraTable.querySelectorAll("tr[data-camera-id]").forEach(function (tr) {
        const c = byId.get(tr.dataset.cameraId) ||
          { state: "offline", reason: "not running", participant_id: null };
        tr.dataset.state = c.state;
        tr.querySelector("td.state").textContent = c.state;
        tr.querySelector("td.reason").textContent = c.reason;
        const td = tr.querySelector("td.thumb");
        if (td) cameraThumbnail(td, c.participant_id);
      });
    };

    let events = null;
    let retry = null;
    const listen = function () {
      events = new EventSource(page + "/events");
      events.addEventListener("participants", function (e) {
        say("");
        render(JSON.parse(e.data));
      });
      events.addEventListener("cameras", function (e) { showCameras(JSON.parse(e.data)); });
      events.addEventListener("expired", function () { events.close(); toLogin(); });
      events.addEventListener("changed", function () { events.close(); location.reload(); });
      events.onerror = function () {
        // The browser reconnects by itself unless the server refused the stream.
        if (events.readyState !== EventSource.CLOSED) { say("Reconnecting…"); return; }
        say("Live updates stopped; retrying…");
        clearTimeout(retry);
        retry = setTimeout(async function () {
          const r = await fetch(base, { headers: { Accept: "application/json" }, cache: "no-store" });
          if (r.status === 401) toLogin();
          else listen();
        }, 3000);
      };
    };
    listen();
    window.addEventListener("pagehide", function () { if (events) events.close(); });

    if (can.thumbnails) {
      setInterval(function () {
        if (document.hidden) return;
        const now = Date.now();
        thumbs.forEach(function (img, id) { img.src = thumbnailUrl(id) + "?t=" + now; });
        if (cameraTable) {
          cameraTable.querySelectorAll("img[data-participant-id]").forEach(function (img) {
            img.src = thumbnailUrl(img.dataset.participantId) + "?t=" + now;
          });
        }
      }, THUMBNAIL_MS);
    }

    tbody.addEventListener("click", async function (event) {
      const b = event.target.closest("button[data-action]");
      if (!b) return;
      const tr = b.closest("tr");
      const url = base + "/" + encodeURIComponent(tr.dataset.participantId);
      b.disabled = true;
      const action = b.dataset.action;
      let ok = false;
      if (action === "admit") ok = await call("POST", url + "/admit");
      else if (action === "drop") ok = await call("DELETE", url);
      else if (action === "mute") ok = await call("POST", url + "/mute", { muted: b.dataset.muted !== "1" });
      else if (action === "important") {
        ok = await call("POST", url + "/important", { important: b.dataset.important !== "1" });
      }
      if (!ok) b.disabled = false; // the stream re-renders the row on success
    });
  }

  // ---- conference-wide controls (full control only; the server rendered them or not)

  if (controls) {
    controls.addEventListener("submit", async function (event) {
      const form = event.target.closest("form[data-form]");
      if (!form) return;
      event.preventDefault();
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      let ok = false;
      if (form.dataset.form === "message-all") {
        ok = await call("POST", api + "/messages", { text: form.elements.text.value });
      } else if (form.dataset.form === "dial-out") {
        ok = await call("POST", api + "/participants", { address: form.elements.address.value });
      }
      submit.disabled = false;
      if (ok) { form.reset(); form.dataset.sent = String(Number(form.dataset.sent || 0) + 1); }
    });
    controls.addEventListener("click", async function (event) {
      const b = event.target.closest("button[data-action=end]");
      if (!b) return;
      if (!window.confirm("End the conference for everyone?")) return;
      b.disabled = true;
      await call("POST", api + "/end");
      b.disabled = false;
    });
  }

  // ---- IP cameras: add (the form) and remove (a row's button), then reload the page
  // (the list and its states are rendered by the server; credentials are never shown)

  const cameraForm = document.querySelector("form[data-form=add-camera]");
  if (cameraForm) {
    cameraForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const f = cameraForm.elements;
      const body = { name: f.name.value, url: f.url.value, transport: f.transport.value };
      if (f.username.value) body.username = f.username.value;
      if (f.password.value) body.password = f.password.value;
      if (await call("POST", api + "/cameras", body)) window.location.reload();
    });
  }
  const cameras = document.getElementById("cameras");
  if (cameras) {
    cameras.addEventListener("click", async function (event) {
      const b = event.target.closest("button[data-action=remove-camera]");
      if (!b) return;
      b.disabled = true;
      const id = encodeURIComponent(b.dataset.cameraId);
      if (await call("DELETE", api + "/cameras/" + id)) window.location.reload();
      else b.disabled = false;
    });
  }

  // ---- recordings: start, stop and delete through the API, then show the new list

  const recordings = document.getElementById("recordings");
  if (recordings) {
    const startButton = document.getElementById("start-recording");
    startButton.addEventListener("click", async function () {
      startButton.disabled = true;
      if (await call("POST", api + "/recordings")) window.location.reload();
      else startButton.disabled = false;
    });
    recordings.addEventListener("click", async function (event) {
      const b = event.target.closest("button[data-action=stop-recording], button[data-action=delete-recording]");
      if (!b) return;
      b.disabled = true;
      const url = "/api/v1/recordings/" + encodeURIComponent(b.dataset.recordingId);
      const done = b.dataset.action === "stop-recording"
        ? await call("POST", url + "/stop") : await call("DELETE", url);
      if (done) window.location.reload();
      else b.disabled = false;
    });
  }

  // ---- the composed picture: reloaded every 2 s while the page is shown

  const preview = document.getElementById("preview");
  if (preview) {
    const previewUrl = preview.getAttribute("src");
    setInterval(function () {
      if (!document.hidden) preview.src = previewUrl + "?t=" + Date.now();
    }, 2000);
  }

  // Times the server wrote in UTC, shown in the browser's time zone.
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.textContent = d.toLocaleString();
  });
})();
