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
  if (!res.ok) throw Object.assign(new Error(data.message || res.statusText), data);
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
      $("link").textContent = "connected";
      const hello = await this.request({ type: "hello", version: 1, client: "sockit-web" });
      $("server").textContent = hello.server;
      this.measure();
    };
    ws.onmessage = (ev) => {
      const frame = JSON.parse(ev.data);
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
      $("link").textContent = "reconnecting";
      // A dead session (logged out elsewhere, expired) shows the login form.
      api("/api/whoami").then(() => {
        this.timer = setTimeout(() => this.open(), this.retry);
        this.retry = Math.min(this.retry * 2, 10000);
      }, () => showLogin());
    };
  },

  close() {
    this.closed = true;
    clearTimeout(this.timer);
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

function showLogin() {
  link.close();
  $("account").hidden = true;
  $("home-view").hidden = true;
  $("login-view").hidden = false;
  $("name").focus();
}

function showHome(user) {
  $("who").textContent = user;
  $("account").hidden = false;
  $("login-view").hidden = true;
  $("home-view").hidden = false;
  link.open();
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
