// Chat panels (issue 17) on the conference page and the chat pages. Messages come from
// the JSON API (GET /api/v1/chats/{id}/messages, which checks the reader's rights) and
// are put into the page as text only (textContent): HTML or script in a message stays
// text. The page is told a chat changed by Server-Sent Events (GET /chats/{id}/events,
// `event: chat`), and then fetches the messages again. Sending is POST with the session
// cookie and the page's CSRF token; a refusal shows its rule.
(function () {
  "use strict";

  async function call(csrf, method, url, body) {
    const init = { method: method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    let data = null;
    try { data = await r.json(); } catch (e) { /* no JSON body */ }
    return { ok: r.ok, status: r.status, data: data };
  }

  function why(result) {
    const b = result.data || {};
    return result.status + ": " + (b.rule || b.detail || "failed");
  }

  function describe(m) {
    const d = m.data || {};
    if (m.type === "text" || m.type === "emoji") return m.text || "";
    if (m.type === "sticker") return "[sticker " + d.sticker + "]";
    if (m.type === "location") return "[location " + d.latitude + ", " + d.longitude + "]";
    if (m.type === "contact") return "[contact " + d.name + (d.address ? " " + d.address : "") + "]";
    if (m.type === "poll") {
      return "[poll] " + d.question + " — " + d.options.map(function (o, i) {
        return o + " (" + (d.votes ? d.votes[i] : 0) + ")";
      }).join(", ");
    }
    if (m.type === "file") return "[file " + d.name + ", " + d.size + " bytes]";
    return "";
  }

  function messageItem(m) {
    const li = document.createElement("li");
    li.dataset.messageId = String(m.id);
    li.dataset.author = m.author || "";
    li.dataset.pinned = m.pinned ? "1" : "0";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author_name;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = (m.forwarded_from ? "[forwarded from " + m.forwarded_from + "] " : "") + describe(m);
    li.append(author, text);
    if (m.edited_at) {
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = "(edited)";
      li.append(meta);
    }
    if (m.type === "file" && m.data && m.data.url) {
      const a = document.createElement("a");
      a.href = m.data.url;
      a.textContent = "download";
      a.className = "meta";
      li.append(a);
    }
    return li;
  }

  function panel(section) {
    const chatId = section.dataset.chatId;
    const csrf = section.dataset.csrf;
    const list = section.querySelector("[data-chat-messages]");
    const status = section.querySelector("[data-chat-status]");
    const form = section.querySelector("form[data-chat-form=send]");
    const api = "/api/v1/chats/" + encodeURIComponent(chatId) + "/messages";
    const say = function (text) { if (status) status.textContent = text; };
    let loading = null;

    const load = async function () {
      if (loading) return loading;
      loading = (async function () {
        const r = await fetch(api + "?limit=500", { headers: { Accept: "application/json" }, cache: "no-store" });
        if (r.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); return; }
        if (!r.ok) { say("Messages not shown (" + r.status + ")"); return; }
        const messages = await r.json();
        const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
        list.replaceChildren.apply(list, messages.map(messageItem));
        section.dataset.count = String(messages.length);
        if (atEnd) list.scrollTop = list.scrollHeight;
      })();
      try { await loading; } finally { loading = null; }
    };

    let events = null;
    const listen = function () {
      events = new EventSource("/chats/" + encodeURIComponent(chatId) + "/events");
      events.addEventListener("chat", function () { load(); });
      events.addEventListener("expired", function () { events.close(); say("You no longer take part in this chat."); });
      events.onerror = function () {
        if (events.readyState === EventSource.CLOSED) { say("Live updates stopped"); setTimeout(listen, 3000); }
      };
    };
    load();
    listen();
    window.addEventListener("pagehide", function () { if (events) events.close(); });

    if (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        const submit = form.querySelector("button[type=submit]");
        submit.disabled = true;
        const result = await call(csrf, "POST", api, { text: form.elements.text.value });
        submit.disabled = false;
        if (result.ok) { form.reset(); say(""); load(); } else say("Not sent (" + why(result) + ")");
      });
    }
  }

  document.querySelectorAll("section.chat[data-chat-id]").forEach(panel);

  const create = document.querySelector("form[data-chat-form=create]");
  if (create) {
    create.addEventListener("submit", async function (event) {
      event.preventDefault();
      const status = document.querySelector("[data-chat-status]");
      const result = await call(create.dataset.csrf, "POST", "/api/v1/chats",
        { title: create.elements.title.value, type: create.elements.type.value });
      if (result.ok) window.location.assign("/chats/" + encodeURIComponent(result.data.id));
      else if (status) status.textContent = "Not created (" + why(result) + ")";
    });
  }
})();
