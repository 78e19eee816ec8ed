// The page as the end-to-end sender, in a real headless Chromium: a file
// chosen in the Files panel ("Share encrypted…") is sealed in the page
// (web/e2e_send.js), uploaded over the page's WebSocket as binary frames
// and shared; the link then decrypts with `sockit get` (key from
// $SOCKIT_LINK) and in the browser, both as a Blob and streamed to a file
// (the File System Access API's writable, here an origin-private file
// standing in for the "Save as" dialog a headless browser cannot answer),
// with equal SHA-256; the server's stored copy and its log hold ciphertext
// only: no key, no name, no plaintext.
//
//   node tests/e2e/e2e_send.mjs     (SOCKIT_BIN, CHROMIUM override the paths)
//
// Also checks the page's sealing path (sealFile, which the sender uses)
// against tests/vectors/e2e.json, and web/hash.js against node's SHA-256
// and BLAKE3's published vectors.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, ROOT, runTest, sockitCli, startServer, walk } from "./harness.mjs";

const CHEAP = ["--argon2", "m=256,t=1,p=1"];
const PASS = "correct horse battery";
const LIMIT = 60_000; // ms: a bound on a hang, not a sleep
const MARKER = "PLAINTEXT-MARKER-that-must-never-reach-the-server";

// BLAKE3's official test vectors (input byte i is i % 251), first 32 bytes.
const BLAKE3_VECTORS = {
  0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
  1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
  1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
  1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
  2048: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
  2049: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
  3072: "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
  4097: "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
  31744: "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
  102400: "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
};

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-send-"));
const data = join(tmp, "data");
const env = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg"), RUST_LOG: "sockit=debug,info" };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const sockit = sockitCli(env, LIMIT);

/** Fails if any stored file or the log holds one of `needles`. */
function assertNowhere(needles, log) {
  const places = walk(data).map((f) => [f, readFileSync(f)]);
  places.push(["the server's log", Buffer.concat(log)]);
  for (const [where, b] of places) {
    for (const n of needles) {
      if (b.includes(Buffer.from(n))) throw new Error(`${where} holds ${n.slice(0, 40)}`);
    }
  }
}

const log = [];
const { proc: server, addrs } = await startServer(["--web", "tcp://127.0.0.1:0", ...CHEAP, "--data", data], env, LIMIT, log);
const web = addrs.web.replace(/^tcp:\/\//, "http://");
let browser;
let page;
await runTest("e2e send web", "e2e-send-failure", tmp, () => ({ browser, page, procs: [server] }), async () => {
  sockit(["user", "add", "alice", "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  browser = await launch();
  const ctx = await browser.newContext({ acceptDownloads: true });
  page = await ctx.newPage();
  page.setDefaultTimeout(LIMIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(web + "/");
  await page.fill("#name", "alice");
  await page.fill("#password", PASS);
  await page.click("#login-form button");
  await page.waitForSelector("#home-view:visible");

  // The sealing path the sender uses, against the shared vectors.
  const vectors = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "e2e.json"), "utf8")).vectors;
  const checked = await page.evaluate(async (vs) => {
    const E = window.sockitE2E;
    const out = [];
    for (const v of vs) {
      const parts = [];
      const file = new File([E.fromHex(v.plaintext)], "v.bin");
      const sum = await window.sockitE2eSend.sealFile(file, E.fromHex(v.key), { record: v.record, salt: E.fromHex(v.salt) }, async (b) => { parts.push(E.toHex(b)); });
      out.push({ name: v.name, sealed: parts.join("") === v.sealed, sha: sum === v.meta.sha256 || v.meta.size !== file.size });
    }
    return out;
  }, vectors);
  if (checked.length < 3 || checked.some((c) => !(c.sealed && c.sha))) throw new Error(`vectors through sealFile: ${JSON.stringify(checked)}`);

  // The page's streaming hashes: SHA-256 against node's, fed in odd
  // pieces; BLAKE3 against its published vectors.
  const sizes = [0, 1, 55, 56, 64, 65, 1000, 70_001];
  const samples = sizes.map((n) => randomBytes(n).toString("hex"));
  const hashes = await page.evaluate(async ({ samples, b3 }) => {
    const E = window.sockitE2E;
    const H = window.sockitHash;
    const sha = samples.map((hex) => {
      const b = E.fromHex(hex);
      const h = H.sha256();
      for (let i = 0; i < b.length; i += 37) h.update(b.subarray(i, i + 37));
      return h.hex();
    });
    const blake = {};
    for (const n of Object.keys(b3)) {
      const b = new Uint8Array(Number(n)).map((_, i) => i % 251);
      const h = H.blake3();
      for (let i = 0; i < b.length; i += 999) h.update(b.subarray(i, i + 999));
      blake[n] = h.hex();
    }
    return { sha, blake };
  }, { samples, b3: BLAKE3_VECTORS });
  samples.forEach((hex, i) => {
    if (hashes.sha[i] !== sha256(Buffer.from(hex, "hex"))) throw new Error(`SHA-256 of ${sizes[i]} bytes: ${hashes.sha[i]}`);
  });
  for (const [n, want] of Object.entries(BLAKE3_VECTORS)) {
    if (hashes.blake[n] !== want) throw new Error(`BLAKE3 of ${n} bytes: ${hashes.blake[n]}`);
  }

  // Share a local file from the page: several WebSocket chunks, many
  // records and a short last one, with a marker to look for.
  const bytes = Buffer.concat([randomBytes(1_500_000), Buffer.from(MARKER), randomBytes(1_300_000)]);
  const name = "from the page é.bin";
  const local = join(tmp, name);
  writeFileSync(local, bytes);
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("#e2e-pick")]);
  await chooser.setFiles(local);
  await page.waitForSelector("#e2e-form:visible");

  // A share the server refuses (over its download limit, 100) after the
  // upload: the error is shown and the ciphertext is taken back.
  await page.fill("#e2e-downloads", "101");
  await page.click("#e2e-go");
  await page.waitForSelector("#e2e-error:has-text('outside this server')");
  const orphans = walk(data).filter((f) => readFileSync(f).subarray(0, 7).toString() === "SOCKE2E");
  if (orphans.length) throw new Error(`a refused share left its ciphertext: ${orphans}`);

  await page.fill("#e2e-downloads", "3");
  await page.click("#e2e-go");
  await page.waitForSelector("#share-made:visible");
  const link = await page.inputValue("#share-link");
  const m = link.match(/^(http:\/\/[^#]+\/s\/[^#/]+)#([0-9a-f]{64})$/);
  if (!m) throw new Error(`not an e2e link: ${link}`);
  const [, bare, key] = m;
  const what = await page.textContent("#share-made-what");
  if (!what.includes("3 downloads") || !what.includes("end-to-end")) throw new Error(`the page says: ${what}`);

  // What the server stored is the sealed file and nothing else: the
  // ciphertext (magic, sealed size), no plaintext, name or key anywhere,
  // log included; and no unfinished upload holds quota.
  const sealedSize = 28 + bytes.length + 16 * Math.ceil(bytes.length / 65536);
  const stored = walk(data).filter((f) => readFileSync(f).subarray(0, 7).toString() === "SOCKE2E");
  if (stored.length !== 1 || statSync(stored[0]).size !== sealedSize) throw new Error(`stored ciphertext: ${stored.map((f) => `${f} ${statSync(f).size}`)} (want one of ${sealedSize} bytes)`);
  assertNowhere([MARKER, name, key, bytes.subarray(0, 64).toString("latin1")], log);

  // The CLI fetches it with the key from the environment, never argv.
  const out = join(tmp, "cli");
  mkdirSync(out);
  const got = JSON.parse(sockit(["get", bare, out, "--json"], "", { ...env, SOCKIT_LINK: link }));
  if (got.sha256 !== sha256(bytes)) throw new Error(`sockit get: ${JSON.stringify(got)}`);
  if (sha256(readFileSync(join(out, name))) !== sha256(bytes)) throw new Error("sockit get saved other bytes");

  // The browser, as a Blob (a file under the streaming threshold).
  const recv = await ctx.newPage();
  recv.on("pageerror", (e) => errors.push(String(e)));
  await recv.goto(link);
  await recv.waitForSelector(`#share-hash:text-is("${sha256(bytes)}")`);
  const [dl] = await Promise.all([recv.waitForEvent("download"), recv.click("#share-download")]);
  const saved = join(tmp, "saved.bin");
  await dl.saveAs(saved);
  if (sha256(readFileSync(saved)) !== sha256(bytes)) throw new Error("the browser saved other bytes");
  if (dl.suggestedFilename() !== name) throw new Error(`saved as ${dl.suggestedFilename()}`);

  // The browser, streamed record by record into a file: the threshold at
  // 0, and the "Save as" dialog answered with an origin-private file.
  await recv.goto("about:blank");
  await recv.goto(link);
  await recv.waitForSelector(`#share-name:text-is("${name}")`);
  await recv.evaluate(() => {
    window.sockitE2eLimits.blobMax = 0;
    window.pickedName = null;
    window.showSaveFilePicker = async (opts) => {
      window.pickedName = opts.suggestedName;
      const dir = await navigator.storage.getDirectory();
      return dir.getFileHandle("streamed.bin", { create: true });
    };
  });
  let blobDownloads = 0;
  recv.on("download", () => blobDownloads++);
  await recv.click("#share-download");
  await recv.waitForSelector("#share-status:has-text('straight to disk')");
  const streamed = await recv.evaluate(async () => {
    const f = await (await (await navigator.storage.getDirectory()).getFileHandle("streamed.bin")).getFile();
    const sum = await crypto.subtle.digest("SHA-256", await f.arrayBuffer());
    return { name: window.pickedName, size: f.size, sha: Array.from(new Uint8Array(sum), (b) => b.toString(16).padStart(2, "0")).join("") };
  });
  if (streamed.sha !== sha256(bytes) || streamed.size !== bytes.length || streamed.name !== name) throw new Error(`streamed: ${JSON.stringify(streamed)}`);
  if (blobDownloads) throw new Error("the streamed download also went through a Blob");

  // Three downloads used: the link is consumed (410), and the server's
  // sweeper (every 5 s) removes its ciphertext; waited for, bounded.
  const gone = await fetch(bare + "/info");
  const body = await gone.json().catch(() => ({}));
  if (gone.status !== 410 || !JSON.stringify(body).includes("consumed")) throw new Error(`after 3 downloads /info is ${gone.status} ${JSON.stringify(body)}`);
  const ciphertext = () => walk(data).filter((f) => readFileSync(f).subarray(0, 7).toString() === "SOCKE2E");
  let left = ciphertext();
  for (let i = 0; left.length && i < 60; i++) {
    await new Promise((r) => setTimeout(r, 500));
    left = ciphertext();
  }
  if (left.length) throw new Error(`a consumed share's ciphertext stays 30 s on: ${left}`);
  assertNowhere([MARKER, name, key], log);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return "page seals and shares; sockit get, Blob and streamed browser downloads equal SHA-256; store and log hold ciphertext only; vectors and hashes";
});
