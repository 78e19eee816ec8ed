// The share page for an end-to-end encrypted link: opens the sealed
// metadata with the key from the #fragment, shows the real name, size and
// SHA-256, and on Download decrypts in the page (web/e2e.js) as the
// ciphertext streams in. A file up to `limits.blobMax` is collected as a
// Blob and saved through a blob URL (an ordinary download, no dialog); a
// larger one is written record by record to a file the user picks (the
// File System Access API: a "Save as" dialog, then nothing held in
// memory), where the browser has it; elsewhere it falls back to the Blob.
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
    return { write: (b) => out.write(b), done: () => out.close(), discard: () => out.abort().catch(() => {}), streamed: true };
  }
  const parts = [];
  return {
    write: (b) => { parts.push(b); },
    done: () => save(new Blob(parts, { type: "application/octet-stream" }), meta.name),
    discard: () => { parts.length = 0; },
    streamed: false,
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
    } catch (e) {
      await sink.discard();
      status(e instanceof E.E2eError ? e.message : "The download failed: " + e + "; try again.");
      button.disabled = false;
      return;
    }
    await sink.done();
    status("decrypted and saved " + human(meta.size) + (sink.streamed ? " straight to disk" : "") + "; every record authenticated, SHA-256 verified");
  });
};

// A key pasted into the address bar changes only the #fragment, which does
// not reload the page: read the link again.
window.addEventListener("hashchange", () => location.reload());
