// Streaming SHA-256 and BLAKE3 for the page. WebCrypto digests only a
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

  // ---- BLAKE3 (unkeyed, 32-byte output) ----
  const CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8;
  /** The message word order of each of the 7 rounds (the permutation
   * applied 0..6 times), so a round reads words in place. */
  const S = new Uint8Array([0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8,3,4,10,12,13,2,7,14,6,5,9,0,11,15,8,1,10,7,12,9,14,3,13,15,4,0,11,2,5,8,1,6,12,13,9,11,15,10,14,8,7,2,5,3,0,1,6,4,9,14,11,5,8,12,15,1,13,3,0,10,2,6,4,7,11,15,5,0,1,9,8,6,14,10,2,12,3,4,7,13]);

  /** The compression function: the first 8 words of its output go to
   * `out` (which may be `cv`). Locals, not arrays, hold the state. */
  function compress(cv, m, counter, len, flags, out) {
    let s0 = cv[0], s1 = cv[1], s2 = cv[2], s3 = cv[3], s4 = cv[4], s5 = cv[5], s6 = cv[6], s7 = cv[7];
    let s8 = IV[0], s9 = IV[1], s10 = IV[2], s11 = IV[3];
    let s12 = counter % 2 ** 32 | 0, s13 = Math.floor(counter / 2 ** 32) | 0, s14 = len, s15 = flags;
    for (let o = 0; o < 112; o += 16) {
        s0 = (s0 + s4 + m[S[o + 0]]) | 0; s12 ^= s0; s12 = (s12 >>> 16) | (s12 << 16);
        s8 = (s8 + s12) | 0; s4 ^= s8; s4 = (s4 >>> 12) | (s4 << 20);
        s0 = (s0 + s4 + m[S[o + 1]]) | 0; s12 ^= s0; s12 = (s12 >>> 8) | (s12 << 24);
        s8 = (s8 + s12) | 0; s4 ^= s8; s4 = (s4 >>> 7) | (s4 << 25);
        s1 = (s1 + s5 + m[S[o + 2]]) | 0; s13 ^= s1; s13 = (s13 >>> 16) | (s13 << 16);
        s9 = (s9 + s13) | 0; s5 ^= s9; s5 = (s5 >>> 12) | (s5 << 20);
        s1 = (s1 + s5 + m[S[o + 3]]) | 0; s13 ^= s1; s13 = (s13 >>> 8) | (s13 << 24);
        s9 = (s9 + s13) | 0; s5 ^= s9; s5 = (s5 >>> 7) | (s5 << 25);
        s2 = (s2 + s6 + m[S[o + 4]]) | 0; s14 ^= s2; s14 = (s14 >>> 16) | (s14 << 16);
        s10 = (s10 + s14) | 0; s6 ^= s10; s6 = (s6 >>> 12) | (s6 << 20);
        s2 = (s2 + s6 + m[S[o + 5]]) | 0; s14 ^= s2; s14 = (s14 >>> 8) | (s14 << 24);
        s10 = (s10 + s14) | 0; s6 ^= s10; s6 = (s6 >>> 7) | (s6 << 25);
        s3 = (s3 + s7 + m[S[o + 6]]) | 0; s15 ^= s3; s15 = (s15 >>> 16) | (s15 << 16);
        s11 = (s11 + s15) | 0; s7 ^= s11; s7 = (s7 >>> 12) | (s7 << 20);
        s3 = (s3 + s7 + m[S[o + 7]]) | 0; s15 ^= s3; s15 = (s15 >>> 8) | (s15 << 24);
        s11 = (s11 + s15) | 0; s7 ^= s11; s7 = (s7 >>> 7) | (s7 << 25);
        s0 = (s0 + s5 + m[S[o + 8]]) | 0; s15 ^= s0; s15 = (s15 >>> 16) | (s15 << 16);
        s10 = (s10 + s15) | 0; s5 ^= s10; s5 = (s5 >>> 12) | (s5 << 20);
        s0 = (s0 + s5 + m[S[o + 9]]) | 0; s15 ^= s0; s15 = (s15 >>> 8) | (s15 << 24);
        s10 = (s10 + s15) | 0; s5 ^= s10; s5 = (s5 >>> 7) | (s5 << 25);
        s1 = (s1 + s6 + m[S[o + 10]]) | 0; s12 ^= s1; s12 = (s12 >>> 16) | (s12 << 16);
        s11 = (s11 + s12) | 0; s6 ^= s11; s6 = (s6 >>> 12) | (s6 << 20);
        s1 = (s1 + s6 + m[S[o + 11]]) | 0; s12 ^= s1; s12 = (s12 >>> 8) | (s12 << 24);
        s11 = (s11 + s12) | 0; s6 ^= s11; s6 = (s6 >>> 7) | (s6 << 25);
        s2 = (s2 + s7 + m[S[o + 12]]) | 0; s13 ^= s2; s13 = (s13 >>> 16) | (s13 << 16);
        s8 = (s8 + s13) | 0; s7 ^= s8; s7 = (s7 >>> 12) | (s7 << 20);
        s2 = (s2 + s7 + m[S[o + 13]]) | 0; s13 ^= s2; s13 = (s13 >>> 8) | (s13 << 24);
        s8 = (s8 + s13) | 0; s7 ^= s8; s7 = (s7 >>> 7) | (s7 << 25);
        s3 = (s3 + s4 + m[S[o + 14]]) | 0; s14 ^= s3; s14 = (s14 >>> 16) | (s14 << 16);
        s9 = (s9 + s14) | 0; s4 ^= s9; s4 = (s4 >>> 12) | (s4 << 20);
        s3 = (s3 + s4 + m[S[o + 15]]) | 0; s14 ^= s3; s14 = (s14 >>> 8) | (s14 << 24);
        s9 = (s9 + s14) | 0; s4 ^= s9; s4 = (s4 >>> 7) | (s4 << 25);
    }
    out[0] = s0 ^ s8; out[1] = s1 ^ s9; out[2] = s2 ^ s10; out[3] = s3 ^ s11;
    out[4] = s4 ^ s12; out[5] = s5 ^ s13; out[6] = s6 ^ s14; out[7] = s7 ^ s15;
    return out;
  }

  /** An incremental BLAKE3: `update(bytes)`, then `hex()` (32 bytes). */
  function blake3() {
    const stack = []; // chaining values of complete subtrees
    const cv = IV.slice();
    let chunk = 0; // index of the chunk being filled
    let blocks = 0; // blocks compressed in it
    const buf = new Uint8Array(64); // a block not yet known to be a chunk's last
    let fill = 0;
    const words = new Int32Array(16);
    const load = (b, at) => {
      for (let i = 0; i < 16; i++, at += 4) words[i] = b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
    };
    const startFlag = () => (blocks === 0 ? CHUNK_START : 0);
    const parent = (l, r) => {
      const m = new Int32Array(16);
      m.set(l, 0);
      m.set(r, 8);
      return m;
    };
    // Compresses the block in `words`, known not to be the input's last:
    // a chunk's 16th block ends the chunk and merges complete subtrees.
    const block = () => {
      if (blocks < 15) {
        compress(cv, words, chunk, 64, startFlag(), cv);
        blocks++;
        return;
      }
      let out = compress(cv, words, chunk, 64, CHUNK_END, new Int32Array(8));
      let n = ++chunk;
      while ((n & 1) === 0) {
        out = compress(IV, parent(stack.pop(), out), 0, 64, PARENT, new Int32Array(8));
        n /= 2;
      }
      stack.push(out);
      cv.set(IV);
      blocks = 0;
    };
    return {
      update(bytes) {
        let at = 0;
        const n = bytes.length;
        while (at < n) {
          if (fill === 64) {
            load(buf, 0);
            block();
            fill = 0;
          }
          // Whole blocks straight from the input while more input follows.
          if (fill === 0) {
            for (; n - at > 64; at += 64) {
              load(bytes, at);
              block();
            }
          }
          const take = Math.min(64 - fill, n - at);
          buf.set(bytes.subarray(at, at + take), fill);
          fill += take;
          at += take;
        }
      },
      hex() {
        buf.fill(0, fill);
        load(buf, 0);
        let node = { cv, words: words.slice(), counter: chunk, len: fill, flags: startFlag() | CHUNK_END };
        for (let i = stack.length - 1; i >= 0; i--) {
          const child = compress(node.cv, node.words, node.counter, node.len, node.flags, new Int32Array(8));
          node = { cv: IV, words: parent(stack[i], child), counter: 0, len: 64, flags: PARENT };
        }
        const out = compress(node.cv, node.words, node.counter, node.len, node.flags | ROOT, new Int32Array(8));
        const bytes = new Uint8Array(32);
        const v = new DataView(bytes.buffer);
        for (let i = 0; i < 8; i++) v.setUint32(4 * i, out[i], true);
        return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      },
    };
  }

  window.sockitHash = { sha256, blake3 };
})();
