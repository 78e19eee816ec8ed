// The chat panel: the conversations sidebar (rooms joined, unread counts),
// the current room's messages (grouped by sender, with day dividers,
// clickable links and mentions), who is here, room discovery and leave.
// User text only ever enters the page through textContent and DOM nodes.
// Loaded before app.js, which owns the WebSocket (`link`).
"use strict";

/** Messages from one sender closer together than this share one header. */
const GROUP_MS = 5 * 60 * 1000;
/** Messages kept per room in the page (scroll-back adds to them). */
const KEEP_LINES = 5000;
/** Older messages fetched per step of scroll-back. */
const BACK_PAGE = 100;
/** The server's default edit window: the Edit and Delete buttons show on
 * one's own messages this long (the server has the last word). */
const EDIT_WINDOW_MS = 10 * 60 * 1000;
/** Most scroll-back pages a jump to a search result loads. */
const JUMP_PAGES = 20;

/** "Today", "Yesterday", or the date, for a day divider. */
function dayLabel(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "short", year: "numeric", month: "short", day: "numeric" });
}

/** The text as DOM nodes: http(s) links as safe anchors, the rest as text. */
function richText(text) {
  const out = [];
  const re = /\bhttps?:\/\/[^\s<>"']+/g;
  let at = 0;
  for (let m; (m = re.exec(text));) {
    // Trailing punctuation belongs to the sentence, not the link.
    const raw = m[0].replace(/[.,;:!?)\]]+$/, "");
    let url = null;
    try { url = new URL(raw); } catch { /* not a URL after all */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = raw;
    out.push(a);
    at = m.index + raw.length;
    re.lastIndex = at;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/** True when `text` mentions `@me` (names ignore case). */
function mentions(text, me) {
  if (!me) return false;
  const esc = me.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w@])@${esc}(?![\\w.-])`, "i").test(text);
}

const chat = {
  rooms: new Map(), // name -> { seen, lines: [], unread, mentioned }
  current: "lobby",
  me: "",
  last: null, // { day, name, ts } of the last message rendered

  async connected() {
    // Conversations only listed (dm.js) are joined when opened.
    const joined = [...this.rooms.entries()].filter(([, r]) => r.joined !== false).map(([n]) => n);
    const names = joined.length ? joined : ["lobby"];
    for (const room of names) await this.join(room, false);
    this.show(this.rooms.has(this.current) ? this.current : names[0]);
    this.discover();
  },

  async join(room, switchTo = true) {
    try {
      const joined = await link.request({ type: "chat.join", room });
      const r = this.rooms.get(joined.room) || { seen: null, lines: [], unread: 0, mentioned: false };
      r.joined = true;
      this.rooms.set(joined.room, r);
      // First visit: the last 50 messages; a rejoin: everything after what we saw.
      let after = r.seen;
      if (after === null) {
        const page = await link.request({ type: "chat.history", room: joined.room, last: 50 });
        page.messages.forEach((m) => this.add(m, true));
        r.more = Boolean(page.more);
      } else {
        while (after < joined.last_seq) {
          const page = await link.request({ type: "chat.history", room: joined.room, after });
          if (!page.messages.length) break;
          page.messages.filter((m) => m.seq <= joined.last_seq).forEach((m) => this.add(m));
          after = page.messages[page.messages.length - 1].seq;
        }
      }
      r.seen = Math.max(r.seen || 0, joined.last_seq);
      r.topic = (await link.request({ type: "chat.topic", room: joined.room })).topic;
      if (switchTo) this.show(joined.room);
      else this.sidebar();
    } catch (e) {
      $("chat-error").textContent = e.message;
    }
  },

  /** Scroll-back: the page of messages before the oldest held
   * (`chat.history` with `before`), kept in place on screen. */
  async older() {
    const room = this.current;
    const r = this.rooms.get(room);
    if (!r || r.loading) return;
    r.loading = true;
    try {
      const added = await this.fetchOlder(room);
      if (room === this.current && added) {
        const box = $("messages");
        this.show(room, box.scrollHeight - box.scrollTop);
      }
    } finally {
      r.loading = false;
    }
  },

  /** Adds the page of messages before the oldest held in `room`
   * (`chat.history` with `before`); how many, or false on an error. */
  async fetchOlder(room) {
    const r = this.rooms.get(room);
    const first = r && r.lines.find((l) => l.seq !== undefined);
    if (!r || !r.more || !first) return 0;
    try {
      const page = await link.request({ type: "chat.history", room, before: first.seq, last: BACK_PAGE });
      r.more = Boolean(page.more);
      const have = new Set(r.lines.map((l) => l.seq));
      // History shows messages as they are now: the edit and delete
      // entries in it are kept by seq only.
      const entry = (m) => m.kind === "edit" || m.kind === "delete";
      const add = page.messages.filter((m) => !have.has(m.seq))
        .map((m) => (entry(m) ? { seq: m.seq } : { seq: m.seq, m }));
      r.lines.unshift(...add);
      return add.length;
    } catch (e) {
      $("chat-error").textContent = e.message;
      return false;
    }
  },

  async leave() {
    const room = this.current;
    try {
      await link.request({ type: "chat.leave", room });
    } catch (e) {
      $("chat-error").textContent = e.message;
      return;
    }
    this.rooms.delete(room);
    if (!this.rooms.size) return this.join("lobby");
    this.show(this.rooms.keys().next().value);
  },

  /** Fills the join box's suggestions with the server's rooms. */
  async discover() {
    try {
      const list = await link.request({ type: "chat.rooms" });
      $("room-list").replaceChildren(...list.rooms.map((r) => {
        const o = document.createElement("option");
        o.value = r.name;
        o.label = r.topic ? `${r.members} here · ${r.topic}` : `${r.members} here`;
        return o;
      }));
    } catch { /* suggestions only */ }
  },

  /** A message from history (`old`: no unread, no notification) or live. */
  add(m, old = false) {
    const r = this.rooms.get(m.room);
    if (!r || r.lines.some((l) => l.seq === m.seq)) return;
    r.seen = Math.max(r.seen || 0, m.seq);
    if (m.kind === "edit" || m.kind === "delete") return this.change(r, m);
    if (m.kind === "topic") {
      r.topic = m.text;
      if (m.room === this.current) $("room-topic").textContent = m.text;
      r.lines.push({ seq: m.seq });
      return this.note(m.room, m.text ? `${m.name} set the topic: ${m.text}` : `${m.name} cleared the topic`);
    }
    r.lines.push({ seq: m.seq, m });
    if (r.lines.length > KEEP_LINES) r.lines.shift();
    const mine = m.name === this.me;
    const mention = !mine && mentions(m.text, this.me);
    if (mention && !old) notify(`${m.name} in #${m.room}`, m.text, m.room !== this.current);
    if (m.room === this.current) this.render(m);
    if (!old && !mine && (m.room !== this.current || document.hidden)) {
      r.unread += 1;
      r.mentioned = r.mentioned || mention;
      this.sidebar();
    }
  },

  /** An edit or delete entry: the message it targets is changed in place
   * (the entry itself is kept by seq only, so it is not applied twice). */
  change(r, e) {
    r.lines.push({ seq: e.seq });
    const l = r.lines.find((x) => x.m && x.seq === e.target);
    if (!l) return;
    l.m = e.kind === "edit" ? { ...l.m, text: e.text, kind: "edited" } : { ...l.m, text: "", kind: "deleted" };
    if (this.editing && this.editing.seq === e.target && e.kind === "delete") this.stopEditing();
    if (e.room === this.current) {
      const box = $("messages");
      this.show(e.room, box.scrollHeight - box.scrollTop);
    }
  },

  /** Puts one's own message `m` in the composer; sending edits it. */
  startEditing(m) {
    this.editing = { room: m.room, seq: m.seq };
    $("text").value = m.text;
    $("editing").hidden = false;
    $("editing-what").textContent = `Editing message #${m.seq}`;
    $("text").focus();
  },

  stopEditing() {
    this.editing = null;
    $("editing").hidden = true;
    $("text").value = "";
  },

  async remove(m) {
    $("chat-error").textContent = "";
    try {
      this.add(await link.request({ type: "chat.delete", room: m.room, seq: m.seq }));
    } catch (e) {
      $("chat-error").textContent = e.message;
    }
  },

  /** `chat.search` for the words in the search box; each result jumps to
   * its message. */
  async search(q) {
    $("chat-error").textContent = "";
    try {
      const found = await link.request({ type: "chat.search", q, limit: 50 });
      const items = found.results.map((f) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "result";
        const where = document.createElement("span");
        where.className = "where";
        where.textContent = `#${f.room} · ${f.name} · ${new Date(f.ts).toLocaleString()}`;
        const text = document.createElement("span");
        text.className = "text";
        text.textContent = f.text + (f.edited ? " (edited)" : "");
        b.append(where, text);
        b.onclick = () => this.jump(f.room, f.seq);
        li.append(b);
        return li;
      });
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "none";
        li.textContent = "No messages found";
        items.push(li);
      }
      $("search-results").replaceChildren(...items);
      $("search-results").hidden = false;
    } catch (e) {
      $("chat-error").textContent = e.message;
    }
  },

  /** Shows message `seq` of `room` in context: the room joined if need
   * be, the history around it loaded, the message scrolled to. */
  async jump(room, seq) {
    if (!this.rooms.has(room)) await this.join(room, false);
    const r = this.rooms.get(room);
    if (!r) return;
    // Held lines are a contiguous run up to the latest: scroll back to it
    // (at most JUMP_PAGES pages).
    for (let i = 0; i < JUMP_PAGES && r.more && !r.lines.some((l) => l.m && l.seq === seq); i++) {
      if (!(await this.fetchOlder(room))) return;
    }
    $("search-results").hidden = true;
    this.show(room);
    const li = $("messages").querySelector(`li[data-seq="${seq}"]`);
    if (li) {
      li.classList.add("found");
      li.scrollIntoView({ block: "center" });
    }
  },

  /** A notice line; `quiet` for presence (comings and goings), shown
   * smaller and greyed so it never competes with what people say. */
  note(room, text, quiet) {
    const r = this.rooms.get(room);
    if (!r) return;
    r.lines.push({ notice: text, quiet });
    if (room === this.current) this.renderNotice(text, quiet);
  },

  event(f) {
    if (f.type === "chat.message") this.add(f);
    else if (f.type === "chat.presence") {
      this.note(f.room, f.notice, true);
      if (f.room === this.current) this.who();
    } else if (f.type === "error") $("chat-error").textContent = f.message;
  },

  /** Shows `room`, scrolled to the end, or `fromBottom` pixels above it. */
  show(room, fromBottom) {
    this.current = room;
    const r = this.rooms.get(room);
    if (r) { r.unread = 0; r.mentioned = false; }
    $("room-name").textContent = `#${room}`;
    $("room-topic").textContent = (r && r.topic) || "";
    $("messages").replaceChildren();
    this.last = null;
    (r ? r.lines : []).forEach((l) => {
      if (l.m) this.render(l.m);
      else if (l.notice) this.renderNotice(l.notice, l.quiet);
    });
    const box = $("messages");
    box.scrollTop = fromBottom === undefined ? box.scrollHeight : box.scrollHeight - fromBottom;
    this.sidebar();
    this.who();
  },

  /** The next (+1) or previous (-1) conversation. */
  step(by) {
    const names = [...this.rooms.keys()];
    const i = names.indexOf(this.current);
    if (names.length) this.show(names[(i + by + names.length) % names.length]);
  },

  sidebar() {
    const items = [...this.rooms.entries()].map(([name, r]) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = convLabel(name);
      if (name === this.current) b.setAttribute("aria-current", "true");
      if (r.unread) {
        const n = document.createElement("span");
        n.className = r.mentioned ? "badge mention" : "badge";
        n.textContent = countText(r.unread);
        n.setAttribute("aria-label", `${r.unread} unread`);
        b.append(" ", n);
      }
      b.onclick = () => this.show(name);
      li.append(b);
      return li;
    });
    $("rooms").replaceChildren(...items);
    const total = [...this.rooms.values()].reduce((n, r) => n + r.unread, 0);
    document.title = total ? `(${total}) sockit` : "sockit";
  },

  render(m) {
    const day = new Date(m.ts).toDateString();
    if (!this.last || this.last.day !== day) {
      const li = document.createElement("li");
      li.className = "day";
      li.setAttribute("role", "separator");
      li.textContent = dayLabel(m.ts);
      this.append(li);
    }
    const grouped = this.last && this.last.day === day && this.last.name === m.name && m.ts - this.last.ts < GROUP_MS;
    this.last = { day, name: m.name, ts: m.ts };
    const li = document.createElement("li");
    li.className = grouped ? "msg cont" : "msg";
    if (m.name === this.me) li.classList.add("mine");
    else if (mentions(m.text, this.me)) li.classList.add("mention");
    const time = document.createElement("time");
    time.className = "time";
    time.dateTime = new Date(m.ts).toISOString();
    time.title = new Date(m.ts).toLocaleString();
    time.textContent = new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const name = document.createElement("span");
    name.className = m.guest ? "name guest" : "name";
    name.textContent = m.name;
    const text = document.createElement("span");
    text.className = "text";
    li.dataset.seq = String(m.seq);
    if (m.kind === "deleted") {
      text.classList.add("deleted");
      text.textContent = "message deleted";
    } else {
      text.append(...richText(m.text));
    }
    li.append(time, name, text);
    if (m.kind === "edited") {
      const e = document.createElement("span");
      e.className = "edited";
      e.textContent = " (edited)";
      li.append(e);
    }
    if (m.name === this.me && m.kind !== "deleted" && Date.now() - m.ts < EDIT_WINDOW_MS) {
      const tools = document.createElement("span");
      tools.className = "tools";
      for (const [label, act] of [["Edit", () => this.startEditing(m)], ["Delete", () => this.remove(m)]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "quiet";
        b.textContent = label;
        b.setAttribute("aria-label", `${label} message #${m.seq}`);
        b.onclick = act;
        tools.append(b);
      }
      li.append(tools);
    }
    this.append(li);
  },

  renderNotice(text, quiet) {
    const li = document.createElement("li");
    li.className = quiet ? "notice presence" : "notice";
    li.textContent = quiet ? text : `* ${text}`;
    this.last = this.last && { ...this.last, name: null };
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
        li.dataset.name = m.name;
        li.dataset.guest = String(m.guest);
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
    if (this.editing) {
      try {
        const { room, seq } = this.editing;
        // The reply is the edit entry (the member's own entries are not
        // pushed back to it): applied as the others get it.
        this.add(await link.request({ type: "chat.edit", room, seq, text }));
        this.stopEditing();
        return true;
      } catch (e) {
        $("chat-error").textContent = e.message;
        return false;
      }
    }
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

/** A browser notification, when the user allowed them and is looking
 * elsewhere (another conversation, tab or window). */
function notify(title, body, elsewhere) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (!elsewhere && !document.hidden && document.hasFocus()) return;
  try { new Notification(title, { body, tag: "sockit-mention" }); } catch { /* not allowed here */ }
}

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
$("join-room").addEventListener("focus", () => chat.discover());
$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("search-q").value.trim();
  if (q) chat.search(q);
});
$("cancel-edit").addEventListener("click", () => chat.stopEditing());
$("text").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && chat.editing) chat.stopEditing();
});
$("leave").addEventListener("click", () => chat.leave());
$("messages").addEventListener("scroll", () => {
  if ($("messages").scrollTop < 40) chat.older();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) chat.show(chat.current);
});
