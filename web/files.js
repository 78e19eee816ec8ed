// The Files panel: the logged-in user's files, a folder at a time; upload
// by picker or drag and drop (several files, one progress bar each, via
// XMLHttpRequest's upload progress), download links, delete with confirm.
// Names only ever go into the page through textContent. Loaded before
// app.js, which calls files.open() and files.close().
"use strict";

// Files up to this size also get a SHA-256 computed here and checked by
// the server end to end. WebCrypto has no streaming digest, so the whole
// file is read into memory: keep that small.
const SHA256_MAX = 16 * 1024 * 1024;

const files = {
  dir: "", // the folder shown, "" is the root
  info: null, // the last listing: entries, used, quota, max_file
  queue: [], // [{ file, row }] waiting to upload
  running: false,

  el: (id) => document.getElementById(id),

  open() {
    this.dir = "";
    this.refresh();
  },

  close() {
    this.queue = [];
    this.el("file-rows").replaceChildren();
    this.el("uploads").replaceChildren();
    this.el("files-error").textContent = "";
  },

  url(path) {
    return "/api/files/" + path.split("/").map(encodeURIComponent).join("/");
  },

  join(name) {
    return this.dir ? `${this.dir}/${name}` : name;
  },

  error(text) {
    this.el("files-error").textContent = text;
  },

  async refresh() {
    try {
      const res = await fetch(`/api/files?dir=${encodeURIComponent(this.dir)}`, { credentials: "same-origin" });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.message || res.statusText);
      this.info = data;
      this.render(data);
      this.error("");
    } catch (e) {
      this.error(e.message);
    }
  },

  render(data) {
    this.el("files-dir").textContent = `/${data.dir}`;
    const rows = [];
    if (data.dir) {
      const up = data.dir.includes("/") ? data.dir.slice(0, data.dir.lastIndexOf("/")) : "";
      rows.push(this.row({ name: "..", kind: "dir" }, up, "Up one folder"));
    }
    for (const e of data.entries) rows.push(this.row(e, this.join(e.name)));
    this.el("file-rows").replaceChildren(...rows);
    this.el("files-empty").hidden = data.entries.length > 0;
    const more = data.truncated ? " (listing cut short)" : "";
    this.el("files-usage").textContent =
      `${human(data.used)} of ${human(data.quota)} used; largest file ${human(data.max_file)}${more}`;
  },

  /** One table row: a folder opens, a file downloads; both can be deleted. */
  row(e, path, label) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.className = "fname";
    if (e.kind === "dir") {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = label || `${e.name}/`;
      b.onclick = () => { this.dir = path; this.refresh(); };
      name.append(b);
    } else {
      const a = document.createElement("a");
      a.href = this.url(path);
      a.download = e.name;
      a.textContent = e.name;
      name.append(a);
    }
    const size = document.createElement("td");
    size.className = "num";
    size.textContent = e.kind === "file" ? human(e.size) : "";
    const date = document.createElement("td");
    date.className = "date";
    date.textContent = e.mtime ? new Date(e.mtime * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "";
    const act = document.createElement("td");
    if (!label) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "danger";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${e.name}`);
      del.onclick = () => this.remove(e, path);
      act.append(del);
    }
    tr.append(name, size, date, act);
    return tr;
  },

  async remove(e, path) {
    const dir = e.kind === "dir";
    const ask = dir ? `Delete the folder ${e.name} and everything in it?` : `Delete ${e.name}?`;
    if (!confirm(ask)) return;
    try {
      const res = await fetch(this.url(path) + (dir ? "?recursive=true" : ""), {
        method: "DELETE", credentials: "same-origin", headers: { "X-Sockit": "1" },
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.message || res.statusText);
    } catch (err) {
      this.error(err.message);
    }
    this.refresh();
  },

  /** Queues files for upload into the folder shown now, one bar each. */
  add(list) {
    for (const li of [...this.el("uploads").children]) if (li.dataset.state !== "active") li.remove();
    for (const file of list) this.queue.push({ file, path: this.join(file.name), row: this.progressRow(file) });
    this.pump();
  },

  async pump() {
    if (this.running) return;
    this.running = true;
    while (this.queue.length) {
      await this.upload(this.queue.shift());
      await this.refresh();
    }
    this.running = false;
  },

  progressRow(file) {
    const li = document.createElement("li");
    li.dataset.state = "waiting";
    const name = document.createElement("span");
    name.className = "fname";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "state";
    status.textContent = "waiting";
    li.append(name, bar, status);
    this.el("uploads").append(li);
    return { li, bar, status };
  },

  finish(row, state, text) {
    row.li.dataset.state = state;
    row.status.textContent = text;
    if (state === "done") row.bar.value = row.bar.max;
  },

  async upload({ file, path, row }) {
    const info = this.info;
    if (info && file.size > info.max_file) {
      return this.finish(row, "failed", `too large: the limit is ${human(info.max_file)}`);
    }
    // The server refuses these too, but before reading the body, and a
    // browser may see only the reset connection: say it here first.
    const replace = this.el("replace").checked;
    const here = info && info.dir === this.dir && path === this.join(file.name);
    if (here && !replace && info.entries.some((e) => e.name === file.name)) {
      return this.finish(row, "failed", "already exists; tick \u201cReplace existing\u201d to overwrite it");
    }
    if (info && !replace && info.used + file.size > info.quota) {
      return this.finish(row, "failed", `over your quota: ${human(Math.max(info.quota - info.used, 0))} free`);
    }
    row.li.dataset.state = "active";
    let sha = null;
    if (window.crypto && crypto.subtle && file.size <= SHA256_MAX) {
      row.status.textContent = "hashing";
      try {
        sha = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
      } catch { /* the server's own BLAKE3 check still applies */ }
    }
    row.status.textContent = "0%";
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", this.url(path) + (replace ? "?replace=true" : ""));
      xhr.setRequestHeader("X-Sockit", "1");
      if (sha) xhr.setRequestHeader("X-Sockit-Sha256", sha);
      xhr.upload.onprogress = (ev) => {
        if (!ev.lengthComputable) return;
        row.bar.value = ev.loaded;
        row.status.textContent = `${Math.floor((100 * ev.loaded) / Math.max(ev.total, 1))}%`;
      };
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) this.finish(row, "done", "uploaded");
        else this.finish(row, "failed", data.message || `failed (HTTP ${xhr.status})`);
        resolve();
      };
      xhr.onerror = () => { this.finish(row, "failed", "connection lost; nothing was kept"); resolve(); };
      xhr.send(file);
    });
  },
};

function human(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}` : `${n} B`;
}

function hex(buf) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

files.el("pick").addEventListener("click", () => files.el("file-input").click());
files.el("file-input").addEventListener("change", (ev) => {
  files.add(ev.target.files);
  ev.target.value = ""; // choosing the same file again fires change again
});

// Drag and drop onto the panel; a drop elsewhere must not navigate away.
const dropZone = files.el("files");
for (const type of ["dragenter", "dragover"]) {
  dropZone.addEventListener(type, (ev) => {
    if (!ev.dataTransfer || !ev.dataTransfer.types.includes("Files")) return;
    ev.preventDefault();
    dropZone.classList.add("dragging");
  });
}
dropZone.addEventListener("dragleave", (ev) => {
  if (!dropZone.contains(ev.relatedTarget)) dropZone.classList.remove("dragging");
});
dropZone.addEventListener("drop", (ev) => {
  ev.preventDefault();
  dropZone.classList.remove("dragging");
  if (ev.dataTransfer && ev.dataTransfer.files.length) files.add(ev.dataTransfer.files);
});
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => ev.preventDefault());
