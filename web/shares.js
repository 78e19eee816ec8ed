// Share links from the Files panel: a "Share" action on each file and
// folder (expiry and downloads, over the page's WebSocket as share.create),
// the new link shown once with a copy button (the server keeps only its
// hash, so no later list can show it again), and "My shares": each share's
// state and downloads with a revoke button (share.ls, share.rm). Names only
// ever go into the page through textContent.
"use strict";

const shares = {
  el: (id) => document.getElementById(id),
  path: "", // what the open form shares

  /** Opens the share form for `path` (a file, or a folder with `dir`). */
  ask(path, dir) {
    this.path = path;
    this.el("share-what").textContent = `Share ${path}${dir ? "/ (a snapshot of its files)" : ""}`;
    this.el("share-made").hidden = true;
    this.el("share-form").hidden = false;
    this.el("share-error").textContent = "";
    this.el("share-expires").focus();
  },

  hide() {
    this.el("share-form").hidden = true;
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
      const url = r.url || `${location.origin}/s/${r.share_id}`;
      this.el("share-link").value = url;
      this.el("share-made-what").textContent = `${r.path}: ${r.downloads_max} download${r.downloads_max === 1 ? "" : "s"}, until ${when(r.expires)}`;
      this.el("share-made").hidden = false;
      this.el("share-link").select();
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

function when(t) {
  return new Date(t * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

shares.el("share-form").addEventListener("submit", (ev) => { ev.preventDefault(); shares.create(); });
shares.el("share-cancel").addEventListener("click", () => shares.hide());
shares.el("share-copy").addEventListener("click", () => shares.copy());
shares.el("my-shares").addEventListener("toggle", (ev) => { if (ev.target.open) shares.refresh(); });
shares.el("shares-refresh").addEventListener("click", () => shares.refresh());
