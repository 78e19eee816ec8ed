// Share links from the Files panel: a "Share" action on each file and
// folder (expiry and downloads, over the page's WebSocket as share.create),
// an "Upload link…" action on each folder (expiry, most bytes, most files,
// as share.upload, the request `sockit share --upload` sends; the form
// starts from the limits the server forces, from /api/whoami), the new link
// shown once with copy and revoke buttons (the server keeps only its hash,
// so no later list can show it again), and "My shares": each share's state
// and downloads, an upload link's log, a revoke button (share.ls,
// share.log, share.rm). Names only ever go into the page through
// textContent.
"use strict";

const MIB = 1024 * 1024;

const shares = {
  el: (id) => document.getElementById(id),
  path: "", // what the open form shares
  made: null, // the share just made: its number, for the Revoke beside it
  opener: null, // the button that opened the upload-link form
  /** The server's share limits (whoami's `shares`); these stand in until
   * it answers, and are its documented defaults. */
  limits: { default_expiry: 86400, max_expiry: 2592000, upload_max_bytes: 1 << 30, upload_max_files: 100 },

  /** Opens the share form for `path` (a file, or a folder with `dir`). */
  ask(path, dir) {
    this.path = path;
    this.el("share-what").textContent = `Share ${path}${dir ? "/ (a snapshot of its files)" : ""}`;
    this.el("share-made").hidden = true;
    this.el("uplink-form").hidden = true;
    this.el("share-form").hidden = false;
    this.el("share-error").textContent = "";
    this.el("share-expires").focus();
  },

  hide() {
    this.el("share-form").hidden = true;
  },

  /** Opens the upload-link form for folder `path`, its fields at what
   * the server allows: its default expiry, its most bytes and files. */
  askUpload(path, opener) {
    this.path = path;
    this.opener = opener || null;
    const l = this.limits;
    this.hide();
    this.el("share-made").hidden = true;
    this.el("uplink-what").textContent = `Upload link into ${path}/: anyone holding it can add files there, nothing else`;
    const expires = this.el("uplink-expires");
    const options = Array.from(this.el("share-expires").options, (o) => [Number(o.value), o.textContent]).filter(([v]) => v <= l.max_expiry);
    if (!options.some(([v]) => v === l.default_expiry)) options.push([l.default_expiry, `${duration(l.default_expiry)} (the server's default)`]);
    if (!options.some(([v]) => v === l.max_expiry)) options.push([l.max_expiry, `${duration(l.max_expiry)} (the server's longest)`]);
    options.sort((a, b) => a[0] - b[0]);
    expires.replaceChildren(...options.map(([v, text]) => {
      const o = document.createElement("option");
      o.value = String(v);
      o.textContent = text;
      o.selected = v === l.default_expiry;
      return o;
    }));
    const maxMib = Math.max(1, Math.floor(l.upload_max_bytes / MIB));
    const size = this.el("uplink-size");
    size.max = String(maxMib);
    size.value = String(maxMib);
    const count = this.el("uplink-files");
    count.max = String(l.upload_max_files);
    count.value = String(l.upload_max_files);
    this.el("uplink-limits").textContent =
      `This server allows at most ${human(l.upload_max_bytes)} and ${l.upload_max_files} files per link, for up to ${duration(l.max_expiry)}; uploads count against your quota.`;
    this.el("uplink-error").textContent = "";
    this.el("uplink-form").hidden = false;
    expires.focus();
  },

  hideUpload() {
    this.el("uplink-form").hidden = true;
    if (this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  },

  async createUpload() {
    const req = {
      type: "share.upload",
      path: this.path,
      expires: Number(this.el("uplink-expires").value),
      max_bytes: Math.min(Number(this.el("uplink-size").value) * MIB, this.limits.upload_max_bytes),
      max_files: Number(this.el("uplink-files").value),
    };
    const go = this.el("uplink-go");
    go.disabled = true;
    try {
      const r = await link.request(req);
      this.el("uplink-form").hidden = true;
      this.opener = null;
      const up = r.upload || { max_files: req.max_files, max_bytes: req.max_bytes };
      this.show(r, `${r.path}/: an upload link for up to ${up.max_files} file${up.max_files === 1 ? "" : "s"} and ${human(up.max_bytes)}, until ${when(r.expires)}`);
      await this.refresh();
    } catch (e) {
      this.el("uplink-error").textContent = e.message || String(e);
    } finally {
      go.disabled = false;
    }
  },

  /** Shows a link just made (once: the server keeps only its hash), with
   * copy and revoke buttons, and moves the focus to it. */
  show(r, what) {
    const url = r.url || `${location.origin}/${r.upload ? "u" : "s"}/${r.share_id}`;
    this.made = r.num === undefined ? null : r.num;
    this.el("share-link").value = url;
    this.el("share-made-what").textContent = what;
    this.el("share-copied").textContent = "";
    this.el("share-made-revoke").hidden = this.made === null;
    this.el("share-made").hidden = false;
    this.el("share-link").focus();
    this.el("share-link").select();
  },

  /** Revokes the link shown in the panel. */
  async revokeMade() {
    if (this.made === null) return;
    if (!confirm("Revoke this link? Whoever holds it gets \"revoked\".")) return;
    try {
      await link.request({ type: "share.rm", share: String(this.made) });
    } catch (e) {
      this.el("share-error").textContent = e.message || String(e);
      return;
    }
    this.made = null;
    this.el("share-made-revoke").hidden = true;
    this.el("share-copied").textContent = "revoked";
    await this.refresh();
  },

  async create() {
    const req = {
      type: "share.create",
      path: this.path,
      expires: Number(this.el("share-expires").value),
      downloads: Number(this.el("share-downloads").value),
    };
    try {
      const r = await link.request(req);
      this.hide();
      this.show(r, `${r.path}: ${r.downloads_max} download${r.downloads_max === 1 ? "" : "s"}, until ${when(r.expires)}`);
      await this.refresh();
    } catch (e) {
      this.el("share-error").textContent = e.message || String(e);
    }
  },

  async copy() {
    const input = this.el("share-link");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      // Without the clipboard API (a plain-http page on another host).
      input.select();
      document.execCommand("copy");
    }
    this.el("share-copied").textContent = "copied";
  },

  /** "My shares": every share still on record, newest first. */
  async refresh() {
    try {
      const r = await link.request({ type: "share.ls" });
      this.el("share-rows").replaceChildren(...r.shares.map((s) => this.row(s)));
      this.el("shares-empty").hidden = r.shares.length > 0;
      this.el("share-error").textContent = "";
    } catch (e) {
      this.el("share-error").textContent = e.message || String(e);
    }
  },

  row(s) {
    const tr = document.createElement("tr");
    tr.dataset.state = s.state;
    const cell = (text, cls) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      td.textContent = text;
      return td;
    };
    const up = s.upload;
    const what = up ? `upload into ${s.path}/` : s.files === undefined ? s.path : `${s.path}/ (${s.files} files)`;
    const act = document.createElement("td");
    if (up) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "quiet";
      b.textContent = "Log";
      b.setAttribute("aria-label", `What upload link ${s.num} took in`);
      b.onclick = () => this.log(s, tr);
      act.append(b);
    }
    if (s.state === "available") {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "danger";
      b.textContent = "Revoke";
      b.setAttribute("aria-label", `Revoke share ${s.num} of ${s.path}`);
      b.onclick = () => this.revoke(s);
      act.append(b);
    }
    const count = up ? `${up.files} of ${up.max_files} files` : `${s.downloads} of ${s.downloads_max}`;
    tr.append(cell(what, "fname"), cell(s.state), cell(count, "num"), cell(when(s.expires), "date"), act);
    return tr;
  },

  /** An upload link's log under its row: each file's name, size, sender, time. */
  async log(s, tr) {
    let r;
    try {
      r = await link.request({ type: "share.log", share: String(s.num) });
    } catch (e) {
      this.el("share-error").textContent = e.message || String(e);
      return;
    }
    for (const old of this.el("share-rows").querySelectorAll(`tr[data-log="${s.num}"]`)) old.remove();
    const rows = r.uploads.length ? r.uploads : [null];
    let after = tr;
    for (const u of rows) {
      const row = document.createElement("tr");
      row.dataset.log = String(s.num);
      const td = document.createElement("td");
      td.colSpan = 5;
      td.className = "fname";
      td.textContent = u ? `${u.path} \u2014 ${u.file_size} bytes from ${u.addr}, ${when(u.at)}, BLAKE3 ${u.blake3}` : "nothing uploaded yet";
      row.append(td);
      after.after(row);
      after = row;
    }
  },

  async revoke(s) {
    if (!confirm(`Revoke the link to ${s.path}? Whoever holds it gets "revoked".`)) return;
    try {
      await link.request({ type: "share.rm", share: String(s.num) });
    } catch (e) {
      this.el("share-error").textContent = e.message || String(e);
      return;
    }
    await this.refresh();
  },
};

/** Seconds as people say them: "3 days", "12 hours", "90 minutes". */
function duration(s) {
  for (const [unit, n] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (s >= n && s % n === 0) return `${s / n} ${unit}${s === n ? "" : "s"}`;
  }
  return `${s} seconds`;
}

function when(t) {
  return new Date(t * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

shares.el("share-form").addEventListener("submit", (ev) => { ev.preventDefault(); shares.create(); });
shares.el("share-cancel").addEventListener("click", () => shares.hide());
shares.el("uplink-form").addEventListener("submit", (ev) => { ev.preventDefault(); shares.createUpload(); });
shares.el("uplink-cancel").addEventListener("click", () => shares.hideUpload());
shares.el("uplink-form").addEventListener("keydown", (ev) => { if (ev.key === "Escape") shares.hideUpload(); });
shares.el("share-made-revoke").addEventListener("click", () => shares.revokeMade());
shares.el("share-copy").addEventListener("click", () => shares.copy());
shares.el("my-shares").addEventListener("toggle", (ev) => { if (ev.target.open) shares.refresh(); });
shares.el("shares-refresh").addEventListener("click", () => shares.refresh());
