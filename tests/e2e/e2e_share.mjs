// End-to-end encrypted share links in a real headless Chromium: the CLI
// seals and shares (`sockit share FILE --e2e`), the page decrypts with
// WebCrypto, and what the server stored is ciphertext.
//
//   node tests/e2e/e2e_share.mjs     (SOCKIT_BIN, CHROMIUM override the paths)
//
// Also checks web/e2e.js against tests/vectors/e2e.json (the same vectors
// the Rust code checks), and that a missing key, a wrong key, altered,
// truncated and reordered ciphertext each give a clear message and no file.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, ROOT, runTest, sockitCli, startServer, walk } from "./harness.mjs";

const CHEAP = ["--argon2", "m=256,t=1,p=1"];
const PASS = "correct horse battery";
const LIMIT = 20_000; // ms: a bound on a hang, not a sleep
const MARKER = "PLAINTEXT-MARKER-that-must-never-reach-the-server";

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-share-"));
const data = join(tmp, "data");
const env = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg") };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const sockit = sockitCli(env);

const { proc: server, addrs } = await startServer(["--web", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
  ...CHEAP, "--data", data], env, LIMIT);
const framed = addrs.framed;
let browser;
let page;
await runTest("e2e share web", "e2e-share-failure", tmp, () => ({ browser, page, procs: [server] }), async () => {
  sockit(["user", "add", "alice", "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  sockit(["login", framed, "--user", "alice", "--password-stdin"], PASS + "\n");
  // Several records and a short last one, with a marker to look for.
  const bytes = Buffer.concat([randomBytes(200_000), Buffer.from(MARKER), randomBytes(70_000)]);
  const name = "report é.bin";
  const local = join(tmp, name);
  writeFileSync(local, bytes);
  const share = JSON.parse(sockit(["share", local, "--e2e", "--downloads", "5", "--json", "--server", framed]));
  if (!share.url.includes("#") || share.e2e !== true) throw new Error(`not an e2e link: ${JSON.stringify(share)}`);
  const [bare, key] = share.url.split("#");

  // The server's copy is ciphertext: no plaintext, no name, no key anywhere.
  for (const f of walk(data)) {
    const b = readFileSync(f);
    for (const needle of [MARKER, name, key]) {
      if (b.includes(Buffer.from(needle))) throw new Error(`${f} holds ${needle}`);
    }
  }

  browser = await launch();
  const ctx = await browser.newContext({ acceptDownloads: true });
  page = await ctx.newPage();
  page.setDefaultTimeout(LIMIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  // The vectors, checked by the page's own code.
  await page.goto(share.url);
  await page.waitForSelector(`#share-name:text-is("${name}")`);
  const vectors = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "e2e.json"), "utf8")).vectors;
  const checked = await page.evaluate(async (vs) => {
    const E = window.sockitE2E;
    const out = [];
    for (const v of vs) {
      const key = E.fromHex(v.key);
      const plain = E.fromHex(v.plaintext);
      const sealed = E.toHex(await E.sealAll(key, { record: v.record, salt: E.fromHex(v.salt) }, plain));
      const opened = E.toHex(await E.openAll(key, E.fromHex(v.sealed), plain.length));
      const meta = await E.openMeta(key, v.meta_sealed);
      const metaSealed = E.toHex(await E.sealMeta(key, v.meta, E.fromHex(v.meta_nonce)));
      const m = meta.name === v.meta.name && meta.size === v.meta.size && meta.sha256 === v.meta.sha256;
      out.push({ name: v.name, sealed: sealed === v.sealed, opened: opened === v.plaintext, meta: m, metaSealed: metaSealed === v.meta_sealed });
    }
    return out;
  }, vectors);
  if (checked.length < 3 || checked.some((c) => !(c.sealed && c.opened && c.meta && c.metaSealed))) throw new Error(`vectors: ${JSON.stringify(checked)}`);

  // The page shows the decrypted name, size and SHA-256, and saves the plaintext.
  await page.waitForSelector(`#share-hash:text-is("${sha256(bytes)}")`);
  await page.waitForSelector("#share-e2e:visible");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#share-download")]);
  const saved = join(tmp, "saved.bin");
  await dl.saveAs(saved);
  if (sha256(readFileSync(saved)) !== sha256(bytes)) throw new Error("the browser saved other bytes");
  if (dl.suggestedFilename() !== name) throw new Error(`saved as ${dl.suggestedFilename()}`);

  // Ciphertext altered, truncated or reordered on the way: a clear line, no download.
  let downloads = 0;
  page.on("download", () => downloads++);
  const tamper = async (how, expect) => {
    await page.route("**/file", async (route) => {
      const r = await route.fetch();
      const body = how(Buffer.from(await r.body()));
      await route.fulfill({ status: 200, headers: { ...r.headers(), "content-length": String(body.length) }, body });
    });
    // A link differing only in its #fragment would not reload the page.
    await page.goto("about:blank");
    await page.goto(share.url);
    await page.waitForSelector(`#share-name:text-is("${name}")`);
    await page.click("#share-download");
    await page.waitForSelector(`#share-status:has-text("${expect}")`);
    await page.unroute("**/file");
  };
  const REC = 65536 + 16;
  await tamper((b) => { b[28 + 100] ^= 1; return b; }, "Record 0 failed authentication");
  await tamper((b) => b.subarray(0, 28 + REC * 2), "cut short");
  await tamper((b) => Buffer.concat([b.subarray(0, 28), b.subarray(28 + REC, 28 + 2 * REC), b.subarray(28, 28 + REC), b.subarray(28 + 2 * REC)]), "Record 0 failed authentication");
  if (downloads !== 0) throw new Error(`${downloads} files saved from altered ciphertext`);

  // A wrong key and a missing key are said plainly.
  const wrong = bare + "#" + (key[0] === "0" ? "1" : "0") + key.slice(1);
  await page.goto("about:blank");
  await page.goto(wrong);
  await page.waitForSelector("#share-status:has-text('does not open this share')");
  if (await page.isEnabled("#share-download")) throw new Error("Download enabled with a wrong key");
  await page.goto("about:blank");
  await page.goto(bare);
  await page.waitForSelector("#share-status:has-text('its key is missing')");
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return "CLI seals, page decrypts equal SHA-256, vectors, store holds ciphertext only, altered/truncated/reordered refused, wrong and missing key";
});
