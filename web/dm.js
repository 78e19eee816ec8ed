// Direct messages and server-side read markers for the chat panel:
// conversations with one account (`@ann+bob`, shown as `@bob`) in the
// sidebar, started from the join box (`@name`) or from the member list;
// unread and mention counts from the server (`chat.unread`, `chat.dms`),
// a "New messages" divider at the read marker, and the marker moved
// (`chat.read`) as the user reads, which the account's other clients
// follow (the `chat.read` event). Loaded after chat.js, before app.js.
"use strict";

/** The server's count cap: a count this high reads "99+". */
const COUNT_CAP = 100;

/** How a conversation is named in the page: `#room`, or `@other`. */
function convLabel(room) {
  if (!room.startsWith("@")) return `#${room}`;
  const me = (chat.me || "").toLowerCase();
  const [a, b] = room.slice(1).split("+");
  return `@${a === me ? b : a}`;
}

/** A count for a badge. */
function countText(n) {
  return n >= COUNT_CAP ? "99+" : String(n);
}

const dm = {
  /** Marker requests in flight per room, so one is sent at a time. */
  sending: new Set(),

  /** A sidebar entry for a conversation not joined yet (listed by
   * `chat.dms`, or announced by its first message). */
  entry(room) {
    let r = chat.rooms.get(room);
    if (!r) {
      r = { seen: null, lines: [], unread: 0, mentioned: false, read: 0, joined: false };
      chat.rooms.set(room, r);
    }
    return r;
  },

  /** Applies server counts to the sidebar entries. */
  apply(list) {
    for (const c of list) {
      const r = c.room.startsWith("@") ? this.entry(c.room) : chat.rooms.get(c.room);
      if (!r) continue;
      r.read = c.read;
      if (c.room !== chat.current || document.hidden) {
        r.unread = c.unread;
        r.mentioned = c.mentions > 0;
      }
    }
    chat.sidebar();
  },

  /** Counts for the joined rooms and every direct conversation. */
  async refresh(rooms) {
    try {
      const names = rooms || [...chat.rooms.keys()].filter((n) => !n.startsWith("@")).slice(0, 64);
      if (names.length) this.apply((await link.request({ type: "chat.unread", rooms: names })).rooms);
      if (!rooms) this.apply((await link.request({ type: "chat.dms" })).dms);
    } catch { /* counts come back with the link */ }
  },

  /** Moves the marker of the shown conversation to its last message, when
   * the user can see it (the tab visible, scrolled to the end). */
  async markRead() {
    const room = chat.current;
    const r = chat.rooms.get(room);
    const box = $("messages");
    const last = r && [...r.lines].reverse().find((l) => l.seq !== undefined);
    if (!last || document.hidden || last.seq <= (r.read || 0) || this.sending.has(room)) return;
    if (box.scrollTop + box.clientHeight < box.scrollHeight - 8) return;
    this.sending.add(room);
    try {
      const got = await link.request({ type: "chat.read", room, seq: last.seq });
      r.read = Math.max(r.read || 0, got.seq);
    } catch { /* tried again at the next read */ } finally {
      this.sending.delete(room);
    }
  },

  /** Starts (or opens) a conversation with the account `name`. */
  open(name) {
    return chat.join(`@${name.replace(/^@/, "")}`);
  },
};

chat.divider = null;

// The chat panel's steps, extended.
const base = {
  connected: chat.connected.bind(chat),
  event: chat.event.bind(chat),
  show: chat.show.bind(chat),
  add: chat.add.bind(chat),
  render: chat.render.bind(chat),
  who: chat.who.bind(chat),
};

chat.connected = async function () {
  await base.connected();
  await dm.refresh();
};

chat.show = function (room, fromBottom) {
  const r = this.rooms.get(room);
  if (r && r.joined === false) {
    // Listed, not joined yet: join it (which shows it).
    r.joined = true;
    this.join(room);
    return;
  }
  // The divider goes before the first message after the marker.
  this.divider = r && r.read ? r.read : null;
  base.show(room, fromBottom);
  $("room-name").textContent = convLabel(room);
  dm.markRead();
};

chat.render = function (m) {
  if (this.divider !== null && m.seq > this.divider && m.name !== this.me) {
    const li = document.createElement("li");
    li.className = "new-divider";
    li.setAttribute("role", "separator");
    li.textContent = "New messages";
    this.append(li);
    this.divider = null;
  }
  base.render(m);
};

chat.add = function (m, old = false) {
  base.add(m, old);
  if (old || m.name === this.me) return;
  if (m.room.startsWith("@")) notify(`${m.name} (direct message)`, m.text, m.room !== this.current);
  if (m.room === this.current) dm.markRead();
};

chat.event = async function (f) {
  if (f.type === "chat.read") {
    // Another client of this account read on.
    const r = this.rooms.get(f.room);
    if (r) {
      r.read = Math.max(r.read || 0, f.seq);
      await dm.refresh([f.room].filter((n) => !n.startsWith("@")));
      if (f.room.startsWith("@")) await dm.refresh();
    }
    return;
  }
  if (f.type === "chat.message" && f.room.startsWith("@") && !this.rooms.has(f.room)) {
    // The first message of a conversation this page has not opened.
    dm.entry(f.room).joined = true;
    await this.join(f.room, false);
    await dm.refresh();
    notify(`${f.name} (direct message)`, f.text, f.room !== this.current);
    return;
  }
  base.event(f);
};

chat.who = async function () {
  await base.who();
  // A button to write to each account here (not guests, not oneself).
  for (const li of $("who").children) {
    const name = li.dataset.name;
    if (!name || li.dataset.guest === "true" || name === this.me) continue;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "quiet dm-start";
    b.textContent = "Message";
    b.setAttribute("aria-label", `Send ${name} a direct message`);
    b.onclick = () => dm.open(name);
    li.append(" ", b);
  }
};

$("messages").addEventListener("scroll", () => dm.markRead());
document.addEventListener("visibilitychange", () => dm.markRead());
