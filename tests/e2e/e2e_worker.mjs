// Streamed end-to-end decryption without the File System Access API, in a
// real headless Chromium with `showSaveFilePicker` removed before the
// page's scripts run: a 64 MiB end-to-end share (`sockit share --e2e`)
// downloads through the page's download service worker (web/sw.js), which
// answers the page's navigation to /dl/TOKEN with the plaintext as the page
// decrypts it; the saved file's SHA-256 equals the sender's. Also: the
// worker answers a URL it has no stream for with 404 (a used token, a made
// up one), the server never has the bytes of /dl/ (204), two tabs stream
// at once without mixing, an altered last record fails the browser's
// download (never a complete-looking file), and a revoked link's page
// says "revoked".
//
//   node tests/e2e/e2e_worker.mjs     (SOCKIT_BIN, CHROMIUM override the paths)
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, runTest, sockitCli, startServer } from "./harness.mjs";

const CHEAP = ["--argon2", "m=256,t=1,p=1"];
const PASS = "correct horse battery";
const LIMIT = 120_000; // ms: a bound on a hang, not a sleep
const MIB = 1024 * 1024;

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-worker-"));
const data = join(tmp, "data");
const env = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg") };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const sockit = sockitCli(env, LIMIT);

const { proc: server, addrs } = await startServer(["--web", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
  ...CHEAP, "--data", data], env, LIMIT);
const framed = addrs.framed;
const web = addrs.web.replace(/^tcp:\/\//, "http://");
let browser;
let page;
await runTest("e2e worker", "e2e-worker-failure", tmp, () => ({ browser, page, procs: [server] }), async () => {
  sockit(["user", "add", "alice", "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  sockit(["login", framed, "--user", "alice", "--password-stdin"], PASS + "\n");
  // 64 MiB and a short last record: over the page's 64 MiB Blob limit.
  const bytes = randomBytes(64 * MIB + 4097);
  const name = "big report é.bin";
  const local = join(tmp, name);
  writeFileSync(local, bytes);
  const share = JSON.parse(sockit(["share", local, "--e2e", "--downloads", "4", "--json", "--server", framed]));
  rmSync(local);

  browser = await launch();
  const ctx = await browser.newContext({ acceptDownloads: true });
  // As in a browser without the File System Access API.
  await ctx.addInitScript(() => {
    delete window.showSaveFilePicker;
    delete Window.prototype.showSaveFilePicker;
    if (typeof window.showSaveFilePicker === "function") Object.defineProperty(window, "showSaveFilePicker", { value: undefined });
  });
  const errors = [];
  const open = async () => {
    const p = await ctx.newPage();
    p.setDefaultTimeout(LIMIT);
    p.on("pageerror", (e) => errors.push(String(e)));
    const res = await p.goto(share.url);
    if (!res.headers()["content-security-policy"].includes("worker-src 'self'")) throw new Error(`share page CSP: ${res.headers()["content-security-policy"]}`);
    await p.waitForSelector(`#share-name:text-is("${name}")`);
    if (await p.evaluate(() => typeof window.showSaveFilePicker === "function")) throw new Error("showSaveFilePicker is still there");
    return p;
  };
  /** Clicks Download; gives the download, and how far the page had
   * decrypted when the browser began saving it. */
  const download = async (p) => {
    const [dl] = await Promise.all([p.waitForEvent("download"), p.click("#share-download")]).catch(async (e) => {
      throw new Error(`no download (the page says: ${await p.textContent("#share-status").catch(() => "?")}): ${e}`);
    });
    const progress = await p.evaluate(() => document.getElementById("share-progress").value);
    return { dl, progress };
  };
  const saved = async (dl, file) => {
    const path = join(tmp, file);
    await dl.saveAs(path);
    if (await dl.failure()) throw new Error(`the download failed: ${await dl.failure()}`);
    return sha256(readFileSync(path));
  };

  page = await open();
  const { dl, progress } = await download(page);
  // Through the worker: a /dl/ URL, which the server answers with no
  // bytes at all, saved while the page was still decrypting.
  if (!dl.url().startsWith(web + "/dl/")) throw new Error(`the download came from ${dl.url()}`);
  if (dl.suggestedFilename() !== name) throw new Error(`saved as ${dl.suggestedFilename()}`);
  if (progress >= 0.5) throw new Error(`the browser began saving only at ${progress} of the file: not streamed`);
  if ((await saved(dl, "one.bin")) !== sha256(bytes)) throw new Error("the worker's download has another SHA-256");
  await page.waitForSelector("#share-status:has-text('through this page\\'s download worker')");
  const direct = await fetch(dl.url());
  if (direct.status !== 204 || (await direct.arrayBuffer()).byteLength) throw new Error(`the server answers ${dl.url()} with ${direct.status}`);

  // A URL the worker has no stream for: the token just used, and one
  // made up. The worker answers 404 itself; nothing is saved.
  const probe = await ctx.newPage();
  let stray = 0;
  probe.on("download", () => stray++);
  for (const url of [dl.url(), `${web}/dl/${randomBytes(16).toString("hex")}`, `${web}/dl/sw.js?x`]) {
    const res = await probe.goto(url);
    const text = await probe.textContent("body");
    if (res.status() !== 404 || !res.fromServiceWorker() || !text.includes("no such download")) {
      throw new Error(`${url}: ${res.status()} from the worker: ${res.fromServiceWorker()}: ${text}`);
    }
  }
  if (stray) throw new Error("a /dl/ URL with no stream saved something");
  await probe.close();

  // Two tabs at once: each its own stream, both whole.
  const [a, b] = [await open(), await open()];
  const [da, db] = await Promise.all([download(a), download(b)]);
  if (da.dl.url() === db.dl.url()) throw new Error("two tabs were given one download URL");
  const [ha, hb] = await Promise.all([saved(da.dl, "a.bin"), saved(db.dl, "b.bin")]);
  if (ha !== sha256(bytes) || hb !== sha256(bytes)) throw new Error("a download in two tabs at once has another SHA-256");

  // The last record altered on the way, the download streaming through
  // the worker: the page says which record failed, and the browser's
  // download fails instead of completing (the page held that record back
  // and aborted the stream), so no complete-looking file is left.
  const small = randomBytes(5 * 65536 + 999);
  writeFileSync(join(tmp, "small.bin"), small);
  const second = JSON.parse(sockit(["share", join(tmp, "small.bin"), "--e2e", "--json", "--server", framed]));
  const t = await ctx.newPage();
  t.setDefaultTimeout(LIMIT);
  t.on("pageerror", (e) => errors.push(String(e)));
  await t.route("**/file", async (route) => {
    const r = await route.fetch();
    const body = Buffer.from(await r.body());
    body[body.length - 20] ^= 1;
    await route.fulfill({ status: 200, headers: r.headers(), body });
  });
  await t.goto(second.url);
  await t.waitForSelector(`#share-name:text-is("small.bin")`);
  await t.evaluate(() => { window.sockitE2eLimits.blobMax = 0; });
  const bad = await download(t);
  await t.waitForSelector("#share-status:has-text('Record 5 failed authentication')");
  if (!bad.dl.url().startsWith(web + "/dl/")) throw new Error(`the altered download came from ${bad.dl.url()}`);
  const why = await bad.dl.failure();
  if (!why) throw new Error("the browser completed a download whose last record failed");
  await t.close();

  // Revoked: the page says so, and offers nothing.
  sockit(["share", "rm", String(share.num), "--server", framed]);
  await page.goto("about:blank"); // else only the #fragment would change
  const gone = await page.goto(share.url);
  if (gone.status() !== 410 || !(await page.content()).includes("revoked")) throw new Error(`a revoked link's page: ${gone.status()}`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return "64 MiB e2e share without showSaveFilePicker: streamed through the download worker with equal SHA-256, "
    + "404 from the worker for a used or unknown token, 204 from the server, two tabs at once, "
    + "an altered last record fails the browser's download, revoked page";
});
