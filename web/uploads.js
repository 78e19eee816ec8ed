// Uploads into the folder shown: by picker or drag and drop, several files
// queued and sent one at a time (XMLHttpRequest, for upload progress), each
// with its own row: progress, a Cancel button while it waits or runs, and
// a dismiss button once it is done or failed. A cancelled upload keeps
// nothing on the server (the connection is dropped before the file is
// published). Loaded after files.js.
"use strict";

// Files up to this size also get a SHA-256 computed here and checked by
// the server end to end. WebCrypto has no streaming digest, so the whole
// file is read into memory: keep that small.
const SHA256_MAX = 16 * 1024 * 1024;

const uploads = {
  queue: [], // [{ file, path, row }] waiting
  running: false,
  xhr: null, // the request in flight
  current: null, // its job

  reset() {
    this.queue = [];
    if (this.xhr) this.xhr.abort();
    $("uploads").replaceChildren();
    $("upload-box").hidden = true;
  },

  /** Queues files for upload into the folder shown now, one row each. */
  add(list) {
    for (const file of list) {
      const job = { file, path: files.join(file.name), cancelled: false };
      job.row = this.progressRow(job);
      this.queue.push(job);
    }
    $("upload-box").hidden = false;
    this.pump();
  },

  async pump() {
    if (this.running) return;
    this.running = true;
    while (this.queue.length) {
      await this.upload(this.queue.shift());
      await files.refresh();
    }
    this.running = false;
  },

  progressRow(job) {
    const li = document.createElement("li");
    li.dataset.state = "waiting";
    const name = document.createElement("span");
    name.className = "fname";
    name.textContent = job.file.name;
    const bar = document.createElement("progress");
    bar.max = Math.max(job.file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `progress of ${job.file.name}`);
    const status = document.createElement("span");
    status.className = "state";
    status.textContent = "waiting";
    const cancel = files.button("Cancel", `Cancel the upload of ${job.file.name}`, "quiet cancel", () => this.cancel(job));
    const dismiss = files.button("×", `Dismiss ${job.file.name}`, "quiet dismiss", () => this.dismiss(li));
    dismiss.hidden = true;
    li.append(name, bar, status, cancel, dismiss);
    $("uploads").append(li);
    return { li, bar, status, cancel, dismiss };
  },

  cancel(job) {
    job.cancelled = true;
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    if (this.current === job && this.xhr) this.xhr.abort();
    this.finish(job.row, "failed", "cancelled; nothing was kept");
  },

  dismiss(li) {
    li.remove();
    if (!$("uploads").children.length) $("upload-box").hidden = true;
  },

  clearFinished() {
    for (const li of [...$("uploads").children]) if (li.dataset.state === "done" || li.dataset.state === "failed") this.dismiss(li);
  },

  finish(row, state, text) {
    if (row.li.dataset.state === "done" || row.li.dataset.state === "failed") return;
    row.li.dataset.state = state;
    row.status.textContent = text;
    row.cancel.hidden = true;
    row.dismiss.hidden = false;
    if (state === "done") row.bar.value = row.bar.max;
  },

  async upload(job) {
    const { file, path, row } = job;
    if (job.cancelled) return;
    const info = files.info;
    if (info && file.size > info.max_file) {
      return this.finish(row, "failed", `too large: the limit is ${human(info.max_file)}`);
    }
    // The server refuses these too, but before reading the body, and a
    // browser may see only the reset connection: say it here first.
    const replace = $("replace").checked;
    const here = info && info.dir === files.dir && path === files.join(file.name);
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
    if (job.cancelled) return;
    row.status.textContent = "0%";
    this.current = job;
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      const done = () => { this.xhr = null; this.current = null; resolve(); };
      xhr.open("PUT", files.url(path) + (replace ? "?replace=true" : ""));
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
        done();
      };
      xhr.onerror = () => { this.finish(row, "failed", "connection lost; nothing was kept"); done(); };
      xhr.onabort = () => { this.finish(row, "failed", "cancelled; nothing was kept"); done(); };
      xhr.send(file);
    });
  },
};

function hex(buf) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

$("uploads-clear").addEventListener("click", () => uploads.clearFinished());
$("pick").addEventListener("click", () => $("file-input").click());
$("file-input").addEventListener("change", (ev) => {
  uploads.add(ev.target.files);
  ev.target.value = ""; // choosing the same file again fires change again
});

// Drag and drop onto the panel; a drop elsewhere must not navigate away.
const dropZone = $("files");
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
  if (ev.dataTransfer && ev.dataTransfer.files.length) uploads.add(ev.dataTransfer.files);
});
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => ev.preventDefault());
