// The share page for an end-to-end encrypted link: opens the sealed
// metadata with the key from the #fragment, shows the real name, size and
// SHA-256, and on Download decrypts in the page (web/e2e.js) as the
// ciphertext streams in. A file up to `limits.blobMax` is collected as a
// Blob and saved through a blob URL (an ordinary download, no dialog). A
// larger one streams record by record, never whole in memory: to a file
// the user picks (the File System Access API: a "Save as" dialog) where
// the browser has it; else through the download service worker (web/sw.js:
// the page posts each record's plaintext to it and it answers a navigation
// to /dl/TOKEN with them as an attachment); the Blob is the last fallback.
// A missing or wrong key is said plainly; a failure keeps nothing.
"use strict";

/** Above this many bytes the plaintext streams to disk where it can. */
window.sockitE2eLimits = { blobMax: 64 * 1024 * 1024 };

/** Where the plaintext goes: `{ write(bytes), done(), discard() }`, or
 * null when the user cancelled the "Save as" dialog. The dialog must open
 * first, while the click still counts as the user's. */
async function e2eSink(meta, save) {
  if (meta.size > window.sockitE2eLimits.blobMax && typeof window.showSaveFilePicker === "function") {
    let handle;
    try {
      handle = await window.showSaveFilePicker({ suggestedName: meta.name });
    } catch (e) {
      if (e && e.name === "AbortError") return null;
      throw e;
    }
    // Written to a side file the browser swaps in at close(): an abort
    // leaves nothing under the chosen name.
    const out = await handle.createWritable();
    return { write: (b) => out.write(b), done: () => out.close(), discard: () => out.abort().catch(() => {}), streamed: "straight to disk" };
  }
  if (meta.size > window.sockitE2eLimits.blobMax) {
    const sink = await workerSink(meta);
    if (sink) return sink;
  }
  const parts = [];
  return {
    write: (b) => { parts.push(b); },
    done: () => save(new Blob(parts, { type: "application/octet-stream" }), meta.name),
    discard: () => { parts.length = 0; },
    streamed: "",
  };
}

/** How long the page waits for the worker to take the download's
 * navigation before it falls back to a Blob. */
const WORKER_WAIT_MS = 30000;

/** The download service worker, registered (scope /dl/) and active; null
 * where there is none (an insecure context, an old browser, a refusal). */
async function downloadWorker() {
  if (!window.isSecureContext || !navigator.serviceWorker) return null;
  let reg;
  try {
    reg = await navigator.serviceWorker.register("/dl/sw.js", { scope: "/dl/" });
  } catch (_) {
    return null;
  }
  if (reg.active) return reg.active;
  // `serviceWorker.ready` waits for a worker controlling this page, which
  // this one never does (its scope is /dl/): follow its states instead.
  const w = reg.installing || reg.waiting;
  if (!w) return null;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), WORKER_WAIT_MS);
    w.addEventListener("statechange", () => {
      if (w.state === "activated") { clearTimeout(timer); resolve(w); }
      if (w.state === "redundant") { clearTimeout(timer); resolve(null); }
    });
  });
}

/** A sink that streams through the download worker, or null when it
 * cannot (the caller falls back to a Blob). Each write waits until the
 * browser has read the previous piece (the worker's "pull"), so the page
 * holds one record, whatever the file's size. The last piece is held back
 * until `done`, after the SHA-256 check: a download that fails
 * verification never reaches its full length, and the browser marks it
 * failed instead of complete. */
async function workerSink(meta) {
  const worker = await downloadWorker();
  if (!worker) return null;
  const token = window.sockitE2E.toHex(crypto.getRandomValues(new Uint8Array(16)));
  const ch = new MessageChannel();
  const port = ch.port1;
  let credits = 0;
  let failure = null;
  let waiter = null;
  let started;
  const begun = new Promise((resolve) => { started = resolve; });
  const wake = () => { const w = waiter; waiter = null; if (w) w(); };
  port.onmessage = (e) => {
    const d = e.data || {};
    if (d.type === "pull") credits++;
    else if (d.type === "started") started(true);
    else if (d.type === "cancel") failure = new window.sockitE2E.E2eError("The download was cancelled in the browser; nothing was saved.");
    else if (d.type === "refused") { failure = new window.sockitE2E.E2eError("The browser's download worker gave up this download; try again."); started(false); }
    wake();
  };
  worker.postMessage({ type: "sockit-download", token, name: meta.name, size: meta.size }, [ch.port2]);
  // The worker answers this navigation with the stream, as an attachment,
  // and the browser saves it. A hidden frame navigates, not this page: an
  // answer that is not the download (the worker had no stream for it, or
  // none took it and the server said 204) leaves this page as it is.
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.title = "download";
  frame.src = "/dl/" + token;
  document.body.appendChild(frame);
  const timer = setTimeout(() => started(false), WORKER_WAIT_MS);
  const ok = await begun;
  clearTimeout(timer);
  if (!ok) {
    frame.remove();
    port.postMessage({ type: "abort" });
    port.close();
    return null;
  }
  // Messages from the page keep a worker alive; a channel's do not.
  const keepAlive = setInterval(() => worker.postMessage({ type: "sockit-keepalive" }), 10000);
  let held = null;
  const send = async (bytes) => {
    while (!credits && !failure) await new Promise((resolve) => { waiter = resolve; });
    if (failure) throw failure;
    credits--;
    port.postMessage({ type: "chunk", bytes });
  };
  // The frame goes once the browser has the whole download (or none).
  const close = (type) => { clearInterval(keepAlive); port.postMessage({ type }); port.close(); setTimeout(() => frame.remove(), 60000); };
  return {
    write: async (b) => { if (held) await send(held); held = b; },
    done: async () => {
      if (held) await send(held);
      held = null;
      close("end");
    },
    discard: () => { held = null; close("abort"); },
    streamed: "through this page's download worker into your downloads folder",
  };
}

window.sockitShareE2E = async function (base, info, ui) {
  const { $, status, human, save } = ui;
  const E = window.sockitE2E;
  const button = $("share-download");
  $("share-e2e").hidden = false;
  $("share-name").textContent = "End-to-end encrypted file";
  $("share-size").textContent = "";
  $("share-hash").textContent = "";
  const key = E.keyFromFragment(location.hash);
  if (!key) {
    button.disabled = true;
    status("This link is end-to-end encrypted, and its key is missing: the link must end in # and 64 hex digits. Copy the whole link.");
    return;
  }
  let meta;
  try {
    meta = await E.openMeta(key, info.e2e);
  } catch (e) {
    button.disabled = true;
    status(e instanceof E.E2eError ? e.message : "This share's metadata could not be read: " + e);
    return;
  }
  $("share-name").textContent = meta.name;
  $("share-size").textContent = human(meta.size) + " (" + meta.size + " bytes)";
  $("share-hash-kind").textContent = "SHA-256";
  $("share-hash").textContent = meta.sha256;
  button.addEventListener("click", async () => {
    const bar = $("share-progress");
    button.disabled = true;
    let sink;
    try {
      sink = await e2eSink(meta, save);
    } catch (e) {
      status("Could not open a file to save into: " + e + "; try again.");
      button.disabled = false;
      return;
    }
    if (!sink) {
      status("not saved: no file was chosen");
      button.disabled = false;
      return;
    }
    bar.hidden = false;
    status("downloading and decrypting…");
    try {
      await E.download(base, info, key, meta, (n) => { bar.value = meta.size ? n / meta.size : 1; }, sink);
      await sink.done();
    } catch (e) {
      await sink.discard();
      status(e instanceof E.E2eError ? e.message : "The download failed: " + e + "; try again.");
      button.disabled = false;
      return;
    }
    status("decrypted and saved " + human(meta.size) + (sink.streamed ? " " + sink.streamed : "") + "; every record authenticated, SHA-256 verified");
  });
};

// A key pasted into the address bar changes only the #fragment, which does
// not reload the page: read the link again.
window.addEventListener("hashchange", () => location.reload());
