// sockit's web page: log in with a cookie, then speak the frame protocol's
// messages over a WebSocket (one JSON header per message), as every other
// sockit client does. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const res = await fetch(path, { credentials: "same-origin", ...opts });
  const data = await res.json().catch(() => ({}));
  // `status` tells a refusal (401: logged out) from a server that is down
  // (fetch itself rejects, with no status).
  if (!res.ok) throw Object.assign(new Error(data.message || res.statusText), data, { status: res.status });
  return data;
}

// One WebSocket, reopened after a network blip or a server restart.
const link = {
  ws: null, nextId: 1, pending: new Map(), retry: 500, timer: null, closed: true,

  open() {
    this.closed = false;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = async () => {
      this.retry = 500;
      this.offline(false);
      $("link").textContent = "connected";
      const hello = await this.request({ type: "hello", version: 1, client: "sockit-web" });
      $("server").textContent = hello.server;
      chat.connected();
      this.measure();
    };
    ws.onmessage = (ev) => {
      const frame = JSON.parse(ev.data);
      if (frame.id === undefined) return chat.event(frame); // pushed events carry no id
      const waiter = this.pending.get(frame.id);
      if (waiter) {
        this.pending.delete(frame.id);
        frame.type === "error" ? waiter.reject(frame) : waiter.resolve(frame);
      }
    };
    ws.onclose = () => {
      for (const w of this.pending.values()) w.reject({ message: "connection lost" });
      this.pending.clear();
      if (this.closed) return;
      this.offline(true);
      // Only a 401 means the session is gone (logged out elsewhere,
      // expired): then the login form. A server that is down or restarting
      // answers nothing at all; keep the page and try again, backing off.
      api("/api/whoami").then(() => this.again(), (e) => (e.status === 401 ? showLogin() : this.again()));
    };
  },

  again() {
    if (this.closed) return;
    $("link").textContent = `reconnecting (next try in ${(this.retry / 1000).toFixed(1)} s)`;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.retry);
    this.retry = Math.min(this.retry * 2, 10000);
  },

  /** Shows or hides the "reconnecting" banner above the chat. */
  offline(yes) {
    $("offline").hidden = !yes;
    if (yes) $("link").textContent = "reconnecting";
  },

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.offline(false);
    if (this.ws) this.ws.close();
  },

  request(header) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...header, id }));
    });
  },

  async measure() {
    while (this.ws && this.ws.readyState === WebSocket.OPEN) {
      const t0 = performance.now();
      try {
        await this.request({ type: "ping" });
      } catch {
        return;
      }
      $("rtt").textContent = `${((performance.now() - t0) * 1000).toFixed(0)} µs`;
      await new Promise((r) => setTimeout(r, 2000));
    }
  },
};

// Chat: rooms joined (with the last message number seen in each), the
// current room's messages, and who is there. After a reconnect every room
// is rejoined and what was said meanwhile is fetched from history, so
// nothing is missed and nothing shows twice.
const chat = {
  rooms: new Map(), // name -> { seen, lines: [], unread }
  current: "lobby",
  me: "",

  async connected() {
    const names = this.rooms.size ? [...this.rooms.keys()] : ["lobby"];
    for (const room of names) await this.join(room, false);
    this.show(this.current);
  },

  async join(room, switchTo = true) {
    try {
      const joined = await link.request({ type: "chat.join", room });
      const r = this.rooms.get(joined.room) || { seen: null, lines: [], unread: false };
      this.rooms.set(joined.room, r);
      // First visit: the last 50 messages; a rejoin: everything after what we saw.
      let after = r.seen;
      if (after === null) {
        const page = await link.request({ type: "chat.history", room: joined.room, last: 50 });
        page.messages.forEach((m) => this.add(m));
      } else {
        while (after < joined.last_seq) {
          const page = await link.request({ type: "chat.history", room: joined.room, after });
          if (!page.messages.length) break;
          page.messages.filter((m) => m.seq <= joined.last_seq).forEach((m) => this.add(m));
          after = page.messages[page.messages.length - 1].seq;
        }
      }
      r.seen = Math.max(r.seen || 0, joined.last_seq);
      if (switchTo) this.show(joined.room);
      else this.tabs();
    } catch (e) {
      $("chat-error").textContent = e.message;
    }
  },

  add(m) {
    const r = this.rooms.get(m.room);
    if (!r || r.lines.some((l) => l.seq === m.seq)) return;
    r.seen = Math.max(r.seen || 0, m.seq);
    r.lines.push({ seq: m.seq, m });
    if (r.lines.length > 500) r.lines.shift();
    if (m.room === this.current) this.render(m);
    else { r.unread = true; this.tabs(); }
  },

  note(room, text) {
    const r = this.rooms.get(room);
    if (!r) return;
    r.lines.push({ notice: text });
    if (room === this.current) this.renderNotice(text);
  },

  event(f) {
    if (f.type === "chat.message") this.add(f);
    else if (f.type === "chat.presence") {
      this.note(f.room, f.notice);
      if (f.room === this.current) this.who();
    } else if (f.type === "error") $("chat-error").textContent = f.message;
  },

  show(room) {
    this.current = room;
    const r = this.rooms.get(room);
    if (r) r.unread = false;
    $("room-name").textContent = `#${room}`;
    $("messages").replaceChildren();
    (r ? r.lines : []).forEach((l) => (l.m ? this.render(l.m) : this.renderNotice(l.notice)));
    this.tabs();
    this.who();
  },

  tabs() {
    const tabs = [...this.rooms.entries()].map(([name, r]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.role = "tab";
      b.textContent = `#${name}`;
      b.setAttribute("aria-selected", String(name === this.current));
      if (r.unread) b.classList.add("unread");
      b.onclick = () => this.show(name);
      return b;
    });
    $("rooms").replaceChildren(...tabs);
  },

  render(m) {
    const li = document.createElement("li");
    if (m.name === this.me) li.classList.add("mine");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const name = document.createElement("span");
    name.className = m.guest ? "name guest" : "name";
    name.textContent = m.name;
    const text = document.createElement("span");
    text.textContent = m.text; // textContent: never parsed as HTML
    li.append(time, name, text);
    this.append(li);
  },

  renderNotice(text) {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = `* ${text}`;
    this.append(li);
  },

  append(li) {
    const box = $("messages");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    box.append(li);
    if (atEnd) box.scrollTop = box.scrollHeight;
  },

  async who() {
    try {
      const who = await link.request({ type: "chat.who", room: this.current });
      $("who").replaceChildren(...who.members.map((m) => {
        const li = document.createElement("li");
        li.textContent = m.name;
        const door = document.createElement("span");
        door.className = "door";
        door.textContent = m.door;
        li.append(door);
        return li;
      }));
    } catch { /* shown when the link comes back */ }
  },

  async send(text) {
    $("chat-error").textContent = "";
    try {
      // An idempotency key: a resend after a lost reply (the page
      // reconnects through the load balancer) is not posted twice.
      const key = Array.from(crypto.getRandomValues(new Uint8Array(16)),
        (b) => b.toString(16).padStart(2, "0")).join("");
      const sent = await link.request({ type: "chat.send", room: this.current, text, key });
      this.add({ room: sent.room, seq: sent.seq, ts: sent.ts, name: this.me, guest: false, text: sent.text });
      return true;
    } catch (e) {
      $("chat-error").textContent = e.message;
      return false;
    }
  },
};

$("send-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  if (await chat.send(text)) $("text").value = "";
});

$("join-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const room = $("join-room").value.trim();
  if (room) chat.join(room).then(() => ($("join-room").value = ""));
});

function showLogin() {
  link.close();
  files.close();
  $("account").hidden = true;
  $("home-view").hidden = true;
  $("login-view").hidden = false;
  $("name").focus();
}

function showHome(user) {
  chat.me = user;
  $("whoami").textContent = user;
  $("account").hidden = false;
  $("login-view").hidden = true;
  $("home-view").hidden = false;
  link.open();
  files.open();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = ev.target.querySelector("button");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    const me = await api("/api/login", { name: $("name").value, password: $("password").value });
    $("password").value = "";
    showHome(me.user);
  } catch (e) {
    $("login-error").textContent = e.message;
  } finally {
    button.disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await api("/api/logout", {}).catch(() => {});
  showLogin();
});

api("/api/whoami").then((me) => showHome(me.user), () => showLogin());
