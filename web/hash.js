// Streaming SHA-256 (and BLAKE3, from web/blake3.js) for the page. WebCrypto digests only a
// whole buffer at once, so a file read chunk by chunk (the end-to-end
// sender, the streamed receiver) is hashed here instead: SHA-256 for the
// sealed metadata's plaintext digest, BLAKE3 for `file.put.end`, which the
// server checks against what it stored. Both follow their specifications
// (FIPS 180-4; the BLAKE3 paper's reference implementation) and are
// checked in tests/e2e/e2e_share.mjs against node's SHA-256 and the
// server's own BLAKE3.
"use strict";

(function () {
  // Words are kept in Int32Arrays: V8 keeps int32 values unboxed, while a
  // Uint32Array's upper half would be boxed doubles (ten times slower).
  const hex = (words, n) => Array.from(words.slice(0, n), (w) => (w >>> 0).toString(16).padStart(8, "0")).join("");

  // ---- SHA-256 ----
  const K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

  /** An incremental SHA-256: `update(bytes)` any number of times, then `hex()`. */
  function sha256() {
    const h = IV.slice();
    const w = new Int32Array(64);
    const block = new Uint8Array(64);
    let fill = 0;
    let total = 0;
    const compress = (b, at) => {
      for (let i = 0; i < 16; i++) w[i] = (b[at + 4 * i] << 24) | (b[at + 4 * i + 1] << 16) | (b[at + 4 * i + 2] << 8) | b[at + 4 * i + 3];
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], c = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((c >>> 17) | (c << 15)) ^ ((c >>> 19) | (c << 13)) ^ (c >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (let i = 0; i < 64; i++) {
        const S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        const t1 = (H + S1 + ((E & F) ^ (~E & G)) + K[i] + w[i]) | 0;
        const S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        const t2 = (S0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] += A; h[1] += B; h[2] += C; h[3] += D; h[4] += E; h[5] += F; h[6] += G; h[7] += H;
    };
    const update = (bytes) => {
      let at = 0;
      total += bytes.length;
      if (fill) {
        const take = Math.min(64 - fill, bytes.length);
        block.set(bytes.subarray(0, take), fill);
        fill += take;
        at = take;
        if (fill < 64) return;
        compress(block, 0);
        fill = 0;
      }
      for (; at + 64 <= bytes.length; at += 64) compress(bytes, at);
      block.set(bytes.subarray(at), 0);
      fill = bytes.length - at;
    };
    return {
      update,
      hex() {
        const bits = total * 8;
        const pad = new Uint8Array((fill < 56 ? 56 : 120) - fill + 8);
        pad[0] = 0x80;
        const v = new DataView(pad.buffer);
        v.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
        v.setUint32(pad.length - 4, bits >>> 0);
        update(pad);
        return hex(h, 8);
      },
    };
  }

  // ---- BLAKE3: one implementation, web/blake3.js (the upload page's too) ----
  /** An incremental BLAKE3: `update(bytes)`, then `hex()` (32 bytes). */
  function blake3() {
    // Looked up at call time: blake3.js is a deferred script like this one.
    return new Blake3.Hasher();
  }

  window.sockitHash = { sha256, blake3 };
})();
