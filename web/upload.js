// The upload-link page (/u/ID): drop files, each hashed here (BLAKE3,
// web/blake3.js) and sent to the link's folder. Per file: POST
// /u/ID/files {name, file_size, blake3} says where it lands and how much
// of it the server holds; PUT /u/ID/files/NAME sends the rest. A dropped
// connection is retried a few times, each retry asking again where to
// continue (docs/PROTOCOL.md, upload links). No inline script (the CSP
// forbids it); names are shown as text, never as markup.
"use strict";

(function () {
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("upload-status").textContent = text; };
  const RETRIES = 5;
  const SLICE = 4 << 20;
  const queue = [];
  let running = false;

  function human(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  async function load() {
    const r = await fetch(base + "/info", { cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      status(body.message || ("error " + r.status));
      $("upload-pick").disabled = true;
      return;
    }
    $("upload-name").textContent = body.name;
    $("upload-files-left").textContent = String(body.files_left);
    $("upload-bytes-left").textContent = human(body.bytes_left) + " (" + body.bytes_left + " bytes)";
    $("upload-expires").textContent = new Date(body.expires * 1000).toLocaleString();
  }

  function row(file) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.className = "fname";
    name.textContent = file.name;
    const size = document.createElement("td");
    size.textContent = human(file.size);
    const state = document.createElement("td");
    const bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    const text = document.createElement("span");
    text.className = "state";
    text.textContent = "waiting";
    state.append(bar, " ", text);
    tr.append(name, size, state);
    $("upload-list").querySelector("tbody").append(tr);
    return { tr, bar, text };
  }

  async function hash(file, r) {
    const h = new Blake3.Hasher();
    for (let at = 0; at < file.size; at += SLICE) {
      h.update(new Uint8Array(await file.slice(at, at + SLICE).arrayBuffer()));
      r.text.textContent = "hashing " + Math.floor((100 * Math.min(at + SLICE, file.size)) / file.size) + "%";
    }
    return h.hex();
  }

  /** PUT the bytes from `offset`; resolves {status, body} or rejects on a
   * dropped connection. */
  function put(file, name, offset, blake3, r) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", base + "/files/" + encodeURIComponent(name));
      xhr.setRequestHeader("X-Sockit-Offset", String(offset));
      xhr.setRequestHeader("X-Sockit-Size", String(file.size));
      xhr.setRequestHeader("X-Sockit-Blake3", blake3);
      xhr.upload.onprogress = (ev) => {
        r.bar.value = offset + ev.loaded;
        r.text.textContent = Math.floor((100 * (offset + ev.loaded)) / Math.max(file.size, 1)) + "%";
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new Error("connection lost"));
      xhr.send(file.slice(offset));
    });
  }

  async function send(file, r) {
    const blake3 = await hash(file, r);
    let lastError = "";
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      if (attempt) {
        r.text.textContent = lastError + "; retrying";
        await new Promise((ok) => setTimeout(ok, Math.min(500 * 2 ** attempt, 8000)));
      }
      const b = await fetch(base + "/files", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: file.name, file_size: file.size, blake3 }),
      }).catch(() => null);
      if (!b) { lastError = "connection lost"; continue; }
      const begun = await b.json().catch(() => ({}));
      if (!b.ok) return { ok: false, message: begun.message || ("HTTP " + b.status) };
      let res;
      try {
        res = await put(file, begun.name, begun.offset, blake3, r);
      } catch (e) {
        lastError = e.message;
        continue;
      }
      if (res.status === 201) return { ok: true, name: res.body.name };
      if (res.status === 409) { lastError = "moved"; continue; }
      return { ok: false, message: res.body.message || ("HTTP " + res.status) };
    }
    return { ok: false, message: lastError + "; drop the file again to resume" };
  }

  async function drain() {
    if (running) return;
    running = true;
    while (queue.length) {
      const { file, r } = queue.shift();
      r.tr.dataset.state = "active";
      const out = await send(file, r);
      r.tr.dataset.state = out.ok ? "done" : "failed";
      if (out.ok) {
        r.bar.value = r.bar.max;
        r.text.textContent = out.name === file.name ? "uploaded" : "uploaded as " + out.name;
      } else {
        r.text.textContent = out.message;
      }
      await load();
    }
    running = false;
  }

  function add(files) {
    for (const file of files) queue.push({ file, r: row(file) });
    drain();
  }

  $("upload-pick").addEventListener("click", () => $("upload-input").click());
  $("upload-input").addEventListener("change", (ev) => {
    add(ev.target.files);
    ev.target.value = "";
  });
  const zone = $("upload");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (ev) => {
      if (!ev.dataTransfer || !ev.dataTransfer.types.includes("Files")) return;
      ev.preventDefault();
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (ev) => {
    if (!zone.contains(ev.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("dragging");
    if (ev.dataTransfer && ev.dataTransfer.files.length) add(ev.dataTransfer.files);
  });
  window.addEventListener("dragover", (ev) => ev.preventDefault());
  window.addEventListener("drop", (ev) => ev.preventDefault());
  load();
})();
