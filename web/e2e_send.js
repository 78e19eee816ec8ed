// The page's end-to-end encrypted sender ("Share encrypted…" in the Files
// panel): a file from this computer is sealed here with WebCrypto in the
// format of docs/PROTOCOL.md section 13 (web/e2e.js), read and sealed a
// record at a time, and streamed to the server as the CLI uploads
// (`file.put`, `file.write` as binary WebSocket frames, `file.put.end`
// with the ciphertext's BLAKE3) into `.e2e-shares/` of the user's store;
// then `share.create` with the sealed metadata. The key is drawn here and
// goes only into the link's #fragment, shown once: never to the server.
// Uses its own WebSocket, so a long upload never delays the chat's.
"use strict";

const e2eSend = {
  el: (id) => document.getElementById(id),
  file: null, // what the open form shares
  job: null, // the upload running: { cancelled }

  /** Bytes per `file.write`: under the door's 1 MiB binary body limit. */
  CHUNK: 256 * 1024,
  /** Writes in flight before waiting for the oldest reply. */
  WINDOW: 4,
  /** Records read from the file per slice. */
  READ_RECORDS: 16,
  /** The folder of the store that holds sealed uploads (as the CLI's). */
  DIR: ".e2e-shares",

  pick() {
    this.el("e2e-file").click();
  },

  /** Opens the form for a chosen local file. */
  chosen(file) {
    this.file = file;
    this.el("e2e-what").textContent = `Share ${file.name} (${human(file.size)}) end-to-end encrypted`;
    this.el("e2e-error").textContent = "";
    this.el("e2e-state").textContent = "";
    this.el("e2e-progress").hidden = true;
    this.el("e2e-form").hidden = false;
    this.el("e2e-go").disabled = false;
  },

  hide() {
    if (this.job) this.job.cancelled = true;
    this.el("e2e-form").hidden = true;
  },

  async go() {
    const file = this.file;
    if (!file || this.job) return;
    const bad = badName(file.name);
    if (bad) {
      this.el("e2e-error").textContent = `${file.name}: ${bad}; rename it first`;
      return;
    }
    const job = { cancelled: false };
    this.job = job;
    this.el("e2e-go").disabled = true;
    this.el("e2e-error").textContent = "";
    const bar = this.el("e2e-progress");
    bar.hidden = false;
    bar.value = 0;
    const opts = {
      expires: Number(this.el("e2e-expires").value),
      downloads: Number(this.el("e2e-downloads").value),
      progress: (n) => {
        bar.value = file.size ? n / file.size : 1;
        this.el("e2e-state").textContent = `sealing and uploading: ${Math.floor(100 * bar.value)}%`;
      },
      cancelled: () => job.cancelled,
    };
    try {
      const made = await sendE2e(file, opts);
      this.el("e2e-form").hidden = true;
      shares.show({ url: made.link, num: made.share.num }, `${file.name}, end-to-end encrypted (the key is the part after #; the server never sees it): ${made.share.downloads_max} download${made.share.downloads_max === 1 ? "" : "s"}, until ${when(made.share.expires)}`);
      if (this.el("my-shares").open) await shares.refresh();
      await files.refresh();
    } catch (e) {
      this.el("e2e-error").textContent = e.message || String(e);
      this.el("e2e-state").textContent = "";
      this.el("e2e-go").disabled = false;
    } finally {
      this.job = null;
    }
  },
};

/** Why the receiver would refuse `name` (docs/PROTOCOL.md, path rules),
 * or null: one plain file name. */
function badName(name) {
  if (!name || name === "." || name === "..") return "not a file name";
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) return "a name with a slash, a backslash or a control character";
  if (new TextEncoder().encode(name).length > 255) return "a name longer than 255 bytes";
  return null;
}

/** A WebSocket of its own to the page's door, speaking the frame protocol:
 * `request(header)` as a text message, `write(header, body)` as one
 * binary frame; each resolves to its reply (rejects with an error reply). */
function e2eChannel() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws.binaryType = "arraybuffer";
    const pending = new Map();
    let next = 1;
    const lost = () => new Error("the connection to the server was lost; nothing was shared");
    const wait = (id) => {
      if (ws.readyState !== WebSocket.OPEN) return Promise.reject(lost());
      const p = new Promise((ok, fail) => pending.set(id, { ok, fail }));
      p.catch(() => {}); // awaited later, or given up with the upload
      return p;
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") return; // this sender asks for no bodies
      const f = JSON.parse(ev.data);
      const w = f.id === undefined ? null : pending.get(f.id);
      if (!w) return;
      pending.delete(f.id);
      if (f.type === "error") w.fail(Object.assign(new Error(f.message), f));
      else w.ok(f);
    };
    ws.onclose = () => {
      for (const w of pending.values()) w.fail(lost());
      pending.clear();
      reject(new Error("could not reach the server"));
    };
    ws.onopen = () => resolve({
      request(header) {
        const id = next++;
        const p = wait(id);
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...header, id }));
        return p;
      },
      write(header, body) {
        const id = next++;
        const head = new TextEncoder().encode(JSON.stringify({ ...header, id, size: body.length }));
        const msg = new Uint8Array(4 + head.length + body.length);
        new DataView(msg.buffer).setUint32(0, head.length);
        msg.set(head, 4);
        msg.set(body, 4 + head.length);
        const p = wait(id);
        if (ws.readyState === WebSocket.OPEN) ws.send(msg);
        return p;
      },
      close() { ws.close(); },
    });
  });
}

function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Reads `file` a slice at a time and seals it record by record under
 * `key` and `header` ({ record, salt }), handing the ciphertext in order
 * to `await sink(bytes)`; resolves to the plaintext's SHA-256 (hex). The
 * vectors in tests/vectors/e2e.json are checked through this function. */
async function sealFile(file, key, header, sink, opts = {}) {
  const E = window.sockitE2E;
  const s = await E.sealer(key, header, file.size);
  const sha = window.sockitHash.sha256();
  const step = Math.max(1, Math.floor((e2eSend.READ_RECORDS * E.RECORD) / header.record));
  await sink(s.header);
  let done = 0;
  for (let i = 0; i < s.records; i += step) {
    if (opts.cancelled && opts.cancelled()) throw new Error("cancelled; nothing was shared");
    const at = i * header.record;
    const slice = new Uint8Array(await file.slice(at, Math.min(at + step * header.record, file.size)).arrayBuffer());
    let pos = 0;
    for (let j = i; j < Math.min(i + step, s.records); j++) {
      const plain = slice.subarray(pos, pos + s.plainLen(j));
      if (plain.length !== s.plainLen(j)) throw new Error("the file changed while it was being sealed; share it again");
      pos += plain.length;
      sha.update(plain);
      await sink(await s.seal(j, plain));
      done += plain.length;
    }
    if (opts.progress) opts.progress(done);
  }
  return sha.hex();
}

/** Seals `file` with `key` and a fresh salt while uploading the
 * ciphertext to a new random name under `.e2e-shares/` over `ch` (an open
 * e2eChannel), `CHUNK` bytes per `file.write` and `WINDOW` in flight;
 * resolves to `{ path, sha256 }` once the server checked the BLAKE3 and
 * published it. On failure the upload is cancelled on the server. */
async function e2eUpload(ch, file, key, opts) {
  const E = window.sockitE2E;
  const header = { record: E.RECORD, salt: randomBytes(16) };
  const sealed = (await E.sealer(key, header, file.size)).sealedSize;
  const path = `${e2eSend.DIR}/${E.toHex(randomBytes(16))}`;
  const put = await ch.request({ type: "file.put", path, file_size: sealed, fingerprint: `e2e:v1:${path}` });
  const handle = put.handle;
  const b3 = window.sockitHash.blake3();
  const inflight = [];
  let out = [];
  let outLen = 0;
  let offset = 0;
  const send = async (all) => {
    while (outLen >= e2eSend.CHUNK || (all && outLen > 0)) {
      const joined = out.length === 1 ? out[0] : E.concat(out);
      const piece = joined.subarray(0, Math.min(e2eSend.CHUNK, joined.length));
      const rest = joined.subarray(piece.length);
      out = rest.length ? [rest] : [];
      outLen = rest.length;
      b3.update(piece);
      inflight.push(ch.write({ type: "file.write", handle, offset }, piece));
      offset += piece.length;
      if (inflight.length >= e2eSend.WINDOW) await inflight.shift();
    }
  };
  try {
    if (put.offset !== 0) throw new Error("the server claims part of a fresh sealed upload");
    const sha256 = await sealFile(file, key, header, async (bytes) => {
      out.push(bytes);
      outLen += bytes.length;
      await send(false);
    }, opts);
    await send(true);
    await Promise.all(inflight);
    await ch.request({ type: "file.put.end", handle, blake3: b3.hex() });
    return { path, sha256 };
  } catch (e) {
    // Nothing half-sent stays to hold quota.
    await ch.request({ type: "file.put.cancel", handle }).catch(() => {});
    throw e;
  }
}

/** The whole sender: seal, upload, share; resolves to `{ link, share }`. */
async function sendE2e(file, opts) {
  const E = window.sockitE2E;
  const key = randomBytes(32);
  const ch = await e2eChannel();
  try {
    const up = await e2eUpload(ch, file, key, opts);
    const meta = E.toHex(await E.sealMeta(key, { name: file.name, size: file.size, sha256: up.sha256 }, randomBytes(12)));
    let share;
    try {
      share = await ch.request({ type: "share.create", path: up.path, expires: opts.expires, downloads: opts.downloads, e2e: meta });
    } catch (e) {
      // No share, so the ciphertext serves nothing: take it back.
      await ch.request({ type: "file.rm", path: up.path }).catch(() => {});
      throw e;
    }
    const url = share.url || `${location.origin}/s/${share.share_id}`;
    return { link: `${url}#${E.toHex(key)}`, share };
  } finally {
    ch.close();
  }
}

window.sockitE2eSend = { sealFile, e2eChannel, e2eUpload, sendE2e };

// The same expiry choices as the Share form's, from its one list.
e2eSend.el("e2e-expires").replaceChildren(...Array.from(e2eSend.el("share-expires").options, (o) => o.cloneNode(true)));
e2eSend.el("e2e-pick").addEventListener("click", () => e2eSend.pick());
e2eSend.el("e2e-file").addEventListener("change", (ev) => {
  if (ev.target.files.length) e2eSend.chosen(ev.target.files[0]);
  ev.target.value = ""; // choosing the same file again fires change again
});
e2eSend.el("e2e-form").addEventListener("submit", (ev) => { ev.preventDefault(); e2eSend.go(); });
e2eSend.el("e2e-cancel").addEventListener("click", () => e2eSend.hide());
