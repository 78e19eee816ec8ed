// The share page: shows what a link holds and downloads it with a
// progress bar. No inline script (the page's CSP forbids it); the content
// is saved through a blob URL, never rendered.
"use strict";

(function () {
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("share-status").textContent = text; };

  function human(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  /** Saves `blob` as `name` through a blob URL: downloaded, never rendered. */
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.rel = "noopener";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function load() {
    const r = await fetch(base + "/info", { cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      status(body.message || ("error " + r.status));
      $("share-download").disabled = true;
      return null;
    }
    $("share-name").textContent = body.name;
    $("share-size").textContent = human(body.file_size) + " (" + body.file_size + " bytes)";
    $("share-hash").textContent = body.blake3;
    $("share-expires").textContent = new Date(body.expires * 1000).toLocaleString();
    $("share-left").textContent = String(body.downloads_left);
    return body;
  }

  async function download(info) {
    const button = $("share-download");
    const bar = $("share-progress");
    button.disabled = true;
    bar.hidden = false;
    status("downloading…");
    const r = await fetch(base + "/file", { cache: "no-store" });
    if (!r.ok || !r.body) {
      const body = await r.json().catch(() => ({}));
      status(body.message || ("error " + r.status));
      return;
    }
    const reader = r.body.getReader();
    const parts = [];
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      got += value.length;
      bar.value = info.file_size ? got / info.file_size : 1;
    }
    if (got !== info.file_size) {
      status("the download was cut short (" + got + " of " + info.file_size + " bytes); try again");
      button.disabled = false;
      return;
    }
    save(new Blob(parts, { type: "application/octet-stream" }), info.name);
    status("downloaded " + human(got) + "; its BLAKE3 should be " + info.blake3);
  }

  load().then((info) => {
    if (info && info.e2e) window.sockitShareE2E(base, info, { $, status, human, save });
    else if (info) $("share-download").addEventListener("click", () => download(info));
  });
})();
