// The share page for an end-to-end encrypted link: opens the sealed
// metadata with the key from the #fragment, shows the real name, size and
// SHA-256, and on Download decrypts in the page (web/e2e.js) and saves the
// plaintext through a blob URL. A missing or wrong key is said plainly.
"use strict";

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
    bar.hidden = false;
    status("downloading and decrypting…");
    let blob;
    try {
      blob = await E.download(base, info, key, meta, (n) => { bar.value = meta.size ? n / meta.size : 1; });
    } catch (e) {
      status(e instanceof E.E2eError ? e.message : "The download failed: " + e + "; try again.");
      button.disabled = false;
      return;
    }
    save(blob, meta.name);
    status("decrypted and saved " + human(meta.size) + "; every record authenticated, SHA-256 verified");
  });
};

// A key pasted into the address bar changes only the #fragment, which does
// not reload the page: read the link again.
window.addEventListener("hashchange", () => location.reload());
