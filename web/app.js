// sockit's web page: log in with a cookie, then speak the frame protocol's
// messages over a WebSocket (one JSON header per message), as every other
// sockit client does. No framework, no build step. The chat panel is
// chat.js, the files panel files.js and uploads.js; this file holds the
// link, the login, the status indicator, settings and shortcuts.
"use strict";

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
      this.state("connected", "ok");
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

  /** The status indicator: a word and a colour (ok, wait, down). */
  state(text, kind) {
    $("link").textContent = text;
    $("status").dataset.state = kind;
  },

  again() {
    if (this.closed) return;
    this.state(`reconnecting (next try in ${(this.retry / 1000).toFixed(1)} s)`, "down");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.retry);
    this.retry = Math.min(this.retry * 2, 10000);
  },

  /** Shows or hides the "reconnecting" banner above the chat. */
  offline(yes) {
    $("offline").hidden = !yes;
    if (yes) this.state("reconnecting", "down");
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
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return reject({ message: "not connected; try again in a moment" });
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
      $("rtt").textContent = `${(performance.now() - t0).toFixed(1)} ms`;
      await new Promise((r) => setTimeout(r, 5000));
    }
  },
};

function showLogin() {
  link.close();
  files.close();
  $("account").hidden = true;
  $("status-panel").hidden = true;
  $("home-view").hidden = true;
  $("login-view").hidden = false;
  $("name").focus();
}

/** Shows the logged-in page for `me` (login's or whoami's answer). */
function showHome(me) {
  const user = me.user;
  if (me.shares) shares.limits = me.shares;
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
    // Login's answer has no share limits; whoami's has.
    showHome(await api("/api/whoami").catch(() => me));
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

// The status indicator opens the connection details.
$("status").addEventListener("click", () => {
  const open = $("status-panel").hidden;
  $("status-panel").hidden = !open;
  $("status").setAttribute("aria-expanded", String(open));
});

// Settings: password change (every other session ends), notifications.
function notifyState() {
  const has = "Notification" in window;
  const p = has ? Notification.permission : "unsupported";
  $("notify-state").textContent = {
    granted: "On: direct messages and mentions of you in other conversations, tabs or windows raise a notification.",
    denied: "Blocked in this browser's site settings.",
    default: "Off.",
    unsupported: "This browser has no notifications.",
  }[p];
  $("notify").hidden = p !== "default";
}
$("settings-open").addEventListener("click", () => {
  $("pw-result").textContent = "";
  notifyState();
  $("settings").showModal();
  $("pw-current").focus();
});
$("notify").addEventListener("click", async () => {
  await Notification.requestPermission().catch(() => {});
  notifyState();
});
$("passwd-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("pw-result");
  out.className = "error";
  if ($("pw-new").value !== $("pw-again").value) {
    out.textContent = "The new passwords differ; type the same one twice.";
    return;
  }
  try {
    const r = await link.request({ type: "passwd", password: $("pw-current").value, new_password: $("pw-new").value });
    ev.target.reset();
    out.className = "ok";
    out.textContent = `Password changed; ${r.ended} other session${r.ended === 1 ? "" : "s"} logged out.`;
  } catch (e) {
    out.textContent = e.message;
  }
});

// Keyboard: "/" to write, Alt+Up/Down between conversations.
document.addEventListener("keydown", (ev) => {
  if ($("home-view").hidden || $("settings").open) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    ev.preventDefault();
    $("text").focus();
  } else if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
    ev.preventDefault();
    chat.step(ev.key === "ArrowUp" ? -1 : 1);
  } else if (ev.key === "Escape" && !$("status-panel").hidden) {
    $("status").click();
  }
});

api("/api/whoami").then((me) => showHome(me), () => showLogin());
