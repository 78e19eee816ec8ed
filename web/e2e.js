// End-to-end encrypted shares in the page: the key is the link's #fragment,
// which the browser never sends; WebCrypto (HKDF-SHA256, AES-256-GCM) opens
// the sealed metadata and then each record as it streams in. The format is
// docs/PROTOCOL.md, "End-to-end encrypted shares" (tests/vectors/e2e.json
// is checked against this file in tests/e2e/e2e_share.mjs). No inline
// script; the plaintext is only ever saved, never rendered. Needs
// web/hash.js (streaming SHA-256).
"use strict";

(function () {
  const MAGIC = "SOCKE2E";
  const VERSION = 1;
  const HEADER_LEN = 28;
  const TAG_LEN = 16;
  const MAX_RECORD = 1 << 20;
  /** The record size sockit writes (docs/PROTOCOL.md, section 13). */
  const RECORD = 65536;
  const text = new TextEncoder();

  /** A user-facing failure: its message is the whole line to show. */
  class E2eError extends Error {}

  function fromHex(h) {
    if (typeof h !== "string" || h.length % 2 || /[^0-9a-f]/i.test(h)) throw new E2eError("not hex");
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }

  function toHex(b) {
    return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  }

  /** The link key from a `#fragment` (64 hex digits). */
  function keyFromFragment(fragment) {
    const f = String(fragment || "").replace(/^#/, "").trim();
    if (!/^[0-9a-fA-F]{64}$/.test(f)) return null;
    return fromHex(f.toLowerCase());
  }

  async function hkdf(key, salt, info, bits) {
    const ikm = await crypto.subtle.importKey("raw", key, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: text.encode(info) }, ikm, bits));
  }

  async function aesKey(raw) {
    return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  /** Opens the sealed metadata: {name, size, sha256}, or throws. */
  async function openMeta(key, blobHex) {
    const blob = fromHex(blobHex);
    if (blob[0] !== VERSION || blob.length < 1 + 12 + TAG_LEN) throw new E2eError("this share's metadata is of a format this page does not read; update sockit");
    const k = await aesKey(await hkdf(key, new Uint8Array(0), "sockit-e2e/1 metadata key", 256));
    let json;
    try {
      json = await crypto.subtle.decrypt({ name: "AES-GCM", iv: blob.slice(1, 13), additionalData: text.encode("sockit-e2e/1 metadata") }, k, blob.slice(13));
    } catch (_) {
      throw new E2eError("The key in this link does not open this share: copy the whole link, including everything after #.");
    }
    return JSON.parse(new TextDecoder().decode(json));
  }

  /** Seals metadata under a 12-byte nonce (the web sender draws it at
   * random; the vectors give it). */
  async function sealMeta(key, meta, nonce) {
    const k = await aesKey(await hkdf(key, new Uint8Array(0), "sockit-e2e/1 metadata key", 256));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: text.encode("sockit-e2e/1 metadata") }, k, text.encode(JSON.stringify({ name: meta.name, size: meta.size, sha256: meta.sha256 }))));
    const out = new Uint8Array(13 + sealed.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(sealed, 13);
    return out;
  }

  function parseHeader(b) {
    if (b.length < HEADER_LEN || new TextDecoder().decode(b.slice(0, 7)) !== MAGIC) throw new E2eError("The server's copy is not an end-to-end encrypted file.");
    if (b[7] !== VERSION) throw new E2eError("This share uses format version " + b[7] + ", which this page does not read.");
    const record = new DataView(b.buffer, b.byteOffset + 8, 4).getUint32(0);
    if (record < 1 || record > MAX_RECORD) throw new E2eError("The server's copy names a record size of " + record + " bytes; refusing it.");
    return { record, salt: b.slice(12, HEADER_LEN) };
  }

  function encodeHeader(h) {
    const b = new Uint8Array(HEADER_LEN);
    b.set(text.encode(MAGIC), 0);
    b[7] = VERSION;
    new DataView(b.buffer).setUint32(8, h.record);
    b.set(h.salt, 12);
    return b;
  }

  async function contentKeys(key, h) {
    return {
      key: await aesKey(await hkdf(key, h.salt, "sockit-e2e/1 content key", 256)),
      base: await hkdf(key, h.salt, "sockit-e2e/1 content nonce", 96),
    };
  }

  function recordParams(ck, i, len, last) {
    const iv = ck.base.slice();
    const idx = new Uint8Array(8);
    new DataView(idx.buffer).setBigUint64(0, BigInt(i));
    for (let j = 0; j < 8; j++) iv[4 + j] ^= idx[j];
    const aad = new Uint8Array(13);
    const v = new DataView(aad.buffer);
    v.setBigUint64(0, BigInt(i));
    v.setUint32(8, len);
    aad[12] = last ? 1 : 0;
    return { name: "AES-GCM", iv, additionalData: aad };
  }

  function records(size, record) { return Math.max(1, Math.ceil(size / record)); }
  function plainLen(size, record, i) { return Math.min(record, Math.max(0, size - i * record)); }
  function sealedSize(size, record) { return HEADER_LEN + size + records(size, record) * TAG_LEN; }

  async function openRecord(ck, i, last, len, sealed) {
    try {
      return new Uint8Array(await crypto.subtle.decrypt(recordParams(ck, i, len, last), ck.key, sealed));
    } catch (_) {
      throw new E2eError("Record " + i + " failed authentication: the server's copy was altered, truncated or reordered. Nothing was saved.");
    }
  }

  /** Seals record by record: `seal(i, plain)` for i = 0, 1, .. in order
   * gives record i's ciphertext and tag; `header` is the file's first 28
   * bytes. The web sender (web/e2e_send.js) and `sealAll` both use it. */
  async function sealer(key, header, size) {
    const ck = await contentKeys(key, header);
    const n = records(size, header.record);
    return {
      header: encodeHeader(header),
      records: n,
      plainLen: (i) => plainLen(size, header.record, i),
      sealedSize: sealedSize(size, header.record),
      async seal(i, chunk) {
        if (chunk.length !== plainLen(size, header.record, i)) throw new E2eError("record " + i + " has the wrong length");
        return new Uint8Array(await crypto.subtle.encrypt(recordParams(ck, i, chunk.length, i + 1 === n), ck.key, chunk));
      },
    };
  }

  /** Seals a whole plaintext in memory (the vectors). */
  async function sealAll(key, header, plain) {
    const s = await sealer(key, header, plain.length);
    const parts = [s.header];
    for (let i = 0; i < s.records; i++) {
      const at = i * header.record;
      parts.push(await s.seal(i, plain.subarray(at, at + s.plainLen(i))));
    }
    return concat(parts);
  }

  /** Opens a whole sealed file of a `size`-byte plaintext held in memory. */
  async function openAll(key, sealed, size) {
    const out = [];
    const r = reader(key, size, (p) => out.push(p));
    await r.push(sealed);
    await r.end();
    return concat(out);
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** Takes ciphertext in pieces of any size; hands each authenticated
   * record's plaintext to `onPlain` in order. */
  function reader(key, size, onPlain) {
    let pending = new Uint8Array(0);
    let header = null;
    let ck = null;
    let i = 0;
    let n = 0;
    return {
      async push(bytes) {
        pending = pending.length ? concat([pending, bytes]) : bytes;
        if (!header) {
          if (pending.length < HEADER_LEN) return;
          header = parseHeader(pending.subarray(0, HEADER_LEN));
          ck = await contentKeys(key, header);
          n = records(size, header.record);
          pending = pending.subarray(HEADER_LEN);
        }
        while (i < n) {
          const len = plainLen(size, header.record, i);
          if (pending.length < len + TAG_LEN) break;
          onPlain(await openRecord(ck, i, i + 1 === n, len, pending.slice(0, len + TAG_LEN)));
          pending = pending.subarray(len + TAG_LEN);
          i++;
        }
        if (i === n && pending.length) throw new E2eError("The server sent more than this share holds; nothing was saved.");
      },
      async end() {
        if (!header || i < n) throw new E2eError("The download was cut short before its last record; nothing was saved. Try again.");
      },
      header: () => header,
    };
  }

  /** Downloads `base + "/file"`, decrypting as it streams: each
   * authenticated record's plaintext goes to `sink.write` in order (a file
   * on disk, or parts of a Blob), never the whole file into memory here.
   * Resolves once the size and the streamed SHA-256 are checked; on any
   * failure rejects, and the caller discards what the sink holds. */
  async function download(base, info, key, meta, progress, sink) {
    const r = await fetch(base + "/file", { cache: "no-store" });
    if (!r.ok || !r.body) {
      const body = await r.json().catch(() => ({}));
      throw new E2eError(body.message || ("error " + r.status));
    }
    const sha = window.sockitHash.sha256();
    const queue = [];
    let got = 0;
    const rd = reader(key, meta.size, (p) => { sha.update(p); queue.push(p); });
    const stream = r.body.getReader();
    for (;;) {
      const { done, value } = await stream.read();
      if (done) break;
      await rd.push(value);
      // Written in order, each before the next network read: the sink's
      // pace (a disk) holds the download back rather than memory.
      while (queue.length) {
        const p = queue.shift();
        await sink.write(p);
        got += p.length;
        progress(got);
      }
    }
    await rd.end();
    const h = rd.header();
    if (info.file_size !== sealedSize(meta.size, h.record)) throw new E2eError("The server's copy has the wrong size for this share; nothing was saved.");
    if (sha.hex() !== meta.sha256) throw new E2eError("The decrypted file's SHA-256 does not match the link's; nothing was saved.");
  }

  window.sockitE2E = { E2eError, RECORD, keyFromFragment, openMeta, sealMeta, sealer, sealAll, openAll, download, concat, fromHex, toHex };
})();
