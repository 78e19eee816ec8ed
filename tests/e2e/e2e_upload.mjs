// Upload links in a real headless Chromium: the owner makes one with the
// CLI (`sockit share --upload DIR`), a visitor with no account drops files
// on the page, and the owner fetches them with equal SHA-256 and sees them
// in `sockit share log`. Then the owner makes one in the web page ("Upload
// link…" on a folder whose name is markup), `sockit send` drops a file
// through it, the page shows the file and the log, revokes the link, and
// `sockit send` gets "revoked" (410); screenshots of the page at 1440x900
// and 390x844 stay in tests/e2e/artifacts.
//
//   node tests/e2e/e2e_upload.mjs     (SOCKIT_BIN, CHROMIUM override the paths)
//
// Also checks web/blake3.js against reference BLAKE3 values (inputs of
// byte i = i % 251, as in the BLAKE3 test vectors) across chunk and tree
// boundaries, fed whole and in odd slices.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, launch, ROOT, runTest, screenshots, sockitCli, startServer } from "./harness.mjs";

const CHEAP = ["--argon2", "m=256,t=1,p=1"];
const PASS = "correct horse battery";
const LIMIT = 30_000; // ms: a bound on a hang, not a sleep

// Reference values from the blake3 crate (1.8).
const VECTORS = {
  0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
  64: "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98",
  65: "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee",
  1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
  1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
  2048: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
  3073: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
  8193: "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
  102400: "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
  1048577: "2f053cd7472cf0cd2f9adaf45c1180255b91b9a865404a63671a0ee5f792ed33",
};

const Blake3 = createRequire(import.meta.url)(join(ROOT, "web", "blake3.js"));
for (const [n, want] of Object.entries(VECTORS)) {
  const b = new Uint8Array(Number(n));
  for (let i = 0; i < b.length; i++) b[i] = i % 251;
  const whole = new Blake3.Hasher();
  whole.update(b);
  const sliced = new Blake3.Hasher();
  for (let i = 0; i < b.length; i += 37) sliced.update(b.subarray(i, i + 37));
  for (const got of [whole.hex(), sliced.hex()]) {
    if (got !== want) throw new Error(`web/blake3.js: ${n} bytes hash to ${got}, not ${want}`);
  }
}

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-upload-"));
const data = join(tmp, "data");
const env = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg") };
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const sockit = sockitCli(env);

// Upload links of at most 64 MiB and 50 files: the page's form must start
// from these, not from the built-in 1 GiB and 100.
const { proc: server, addrs } = await startServer(["--web", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
  ...CHEAP, "--share-upload-max-size", "64M", "--share-upload-max-files", "50", "--data", data], env, LIMIT);
const framed = addrs.framed;
const web = addrs.web.replace(/^tcp:\/\//, "http://");
let browser;
let page;
await runTest("e2e upload web", "e2e-upload-failure", tmp, () => ({ browser, page, procs: [server] }), async () => {
  sockit(["user", "add", "alice", "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  sockit(["login", framed, "--user", "alice", "--password-stdin"], PASS + "\n");
  const link = JSON.parse(sockit(["share", "--upload", ":inbox", "--max-files", "3", "--json", "--server", framed]));
  if (!link.url.includes("/u/")) throw new Error(`not an upload link: ${JSON.stringify(link)}`);
  // Two files: one spanning many BLAKE3 chunks, one whose name is taken.
  const big = randomBytes(3 * 1024 * 1024 + 123);
  const small = Buffer.from("hello from a browser\n");
  const dir = join(tmp, "local");
  mkdirSync(dir);
  writeFileSync(join(dir, "photo é.bin"), big);
  writeFileSync(join(dir, "notes.txt"), small);
  // notes.txt is there already: the page's copy lands beside it.
  writeFileSync(join(tmp, "notes.txt"), "the owner's own notes\n");
  sockit(["put", join(tmp, "notes.txt"), ":inbox/notes.txt", "--server", framed]);

  browser = await launch();
  page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(LIMIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(link.url);
  await page.waitForSelector("#upload-name:text-is('inbox')");
  await page.waitForSelector("#upload-files-left:text-is('3')");
  await page.setInputFiles("#upload-input", [join(dir, "photo é.bin"), join(dir, "notes.txt")]);
  await page.waitForSelector("#upload-list tr[data-state='done']:has-text('photo é.bin')");
  await page.waitForSelector("#upload-list tr[data-state='done']:has-text('uploaded as notes (1).txt')");
  await page.waitForSelector("#upload-files-left:text-is('1')");

  // The owner's copies are byte for byte what the page sent.
  for (const [remote, want] of [["inbox/photo é.bin", big], ["inbox/notes (1).txt", small]]) {
    const dest = join(tmp, "got-" + remote.replace(/\//g, "_"));
    sockit(["get", ":" + remote, dest, "--server", framed]);
    if (sha256(readFileSync(dest)) !== sha256(want)) throw new Error(`${remote} differs from what the page sent`);
  }
  const own = join(tmp, "own.txt");
  sockit(["get", ":inbox/notes.txt", own, "--server", framed]);
  if (readFileSync(own, "utf8") !== "the owner's own notes\n") throw new Error("the owner's notes.txt was replaced");
  const log = JSON.parse(sockit(["share", "log", String(link.num), "--json", "--server", framed]));
  const names = log.uploads.map((u) => u.path).sort();
  if (JSON.stringify(names) !== JSON.stringify(["inbox/notes (1).txt", "inbox/photo é.bin"])) {
    throw new Error(`share log: ${JSON.stringify(log)}`);
  }
  if (!log.uploads.every((u) => u.addr === "127.0.0.1")) throw new Error(`share log addresses: ${JSON.stringify(log)}`);

  // Revoked: the page says so and takes nothing.
  sockit(["share", "rm", String(link.num), "--server", framed]);
  await page.goto(link.url);
  const res = await page.request.get(link.url + "/info");
  if (res.status() !== 410) throw new Error(`a revoked link answers ${res.status()}`);
  const gonePage = await page.goto(link.url);
  if (gonePage.status() !== 410 || !(await page.content()).includes("revoked")) throw new Error(`a revoked link's page: ${gonePage.status()}`);

  await fromThePage();
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return "blake3.js vectors, page drops two files, owner gets equal SHA-256, clash renamed, log, revoke 410; "
    + "an upload link made in the page from the server's limits, sockit send through it, the file and the log in the page, "
    + "a folder name of markup shown as text, revoked in the page, sockit send then refused 410; screenshots";
});

/** The owner's side in the page: "Upload link…" on a folder, the link
 * used by `sockit send`, the file and the log seen in the page, the link
 * revoked in the page. */
async function fromThePage() {
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(LIMIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  await page.goto(web + "/");
  await page.fill("#name", "alice");
  await page.fill("#password", PASS);
  await page.click("#login-form button");
  await page.waitForSelector("#home-view:visible");
  await page.waitForSelector("#link:has-text('connected')");

  // A folder whose name is markup (entities, as `<` and `>` are refused
  // in names; innerHTML would decode them into a live element) and an
  // attribute break-out: it is only ever text in the page.
  const folder = "&lt;img src=x onerror=window.__xss=1&gt; ' onfocus='window.__xss=2";
  await page.click("#new-folder");
  await page.fill("#file-action-input", folder);
  await page.click("#file-action-go");
  const opener = `button[aria-label="Upload link into ${folder}"]`;
  await page.click(opener);
  await page.waitForSelector("#uplink-form:visible");
  // The form starts from what the server allows, and has the focus.
  const form = await page.evaluate(() => ({
    expires: document.getElementById("uplink-expires").value,
    size: document.getElementById("uplink-size").value,
    files: document.getElementById("uplink-files").value,
    focus: document.activeElement && document.activeElement.id,
    limits: document.getElementById("uplink-limits").textContent,
    what: document.getElementById("uplink-what").textContent,
  }));
  if (!form.what.includes(`into ${folder}/`)) throw new Error(`the form names the folder as ${form.what}`);
  if (form.expires !== "86400" || form.size !== "64" || form.files !== "50" || form.focus !== "uplink-expires") {
    throw new Error(`the upload-link form starts at ${JSON.stringify(form)}`);
  }
  if (!form.limits.includes("64 MiB") || !form.limits.includes("50 files")) throw new Error(`limits shown: ${form.limits}`);
  // Escape closes it and gives the focus back to the button that opened it.
  await page.keyboard.press("Escape");
  await page.waitForSelector("#uplink-form", { state: "hidden" });
  if (!(await page.evaluate((sel) => document.activeElement === document.querySelector(sel), opener))) throw new Error("the focus did not go back");
  // At phone width every field of the form is on screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click(opener);
  for (const id of ["uplink-expires", "uplink-size", "uplink-files", "uplink-go"]) {
    const box = await page.locator(`#${id}`).boundingBox();
    if (!box || box.x < 0 || box.x + box.width > 390) throw new Error(`#${id} at 390 px: ${JSON.stringify(box)}`);
  }
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 390) throw new Error(`the page is ${wide} px wide at 390`);
  // Over the server's limit: its refusal is shown, nothing is made.
  await page.fill("#uplink-files", "51");
  await page.evaluate(() => { document.getElementById("uplink-files").removeAttribute("max"); });
  await page.click("#uplink-go");
  await page.waitForSelector("#uplink-error:not(:empty)");
  await page.fill("#uplink-files", "2");
  await page.fill("#uplink-size", "1");
  await page.click("#uplink-go");
  await page.waitForSelector("#share-made:visible");
  const url = await page.inputValue("#share-link");
  if (!url.startsWith(web + "/u/")) throw new Error(`the page made ${url}`);
  const made = await page.textContent("#share-made-what");
  if (!made.includes("2 files") || !made.includes("1.0 MiB")) throw new Error(`the page says ${made}`);
  await page.click("#share-copy");
  await page.waitForSelector("#share-copied:text-is('copied')");

  // `sockit send` (no account) drops a file through it.
  const sent = join(tmp, "sent by cli.txt");
  writeFileSync(sent, "sent through the page's link\n");
  sockit(["send", url, sent], "", { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg-nobody") });

  // The page shows the file in the folder, and the link's log.
  await page.click(`#file-rows button.link:text-is("${folder}/")`);
  await page.waitForSelector('#file-rows a:text-is("sent by cli.txt")');
  await page.click("#my-shares summary");
  const row = `#share-rows tr[data-state="available"]:has(td:text-is("upload into ${folder}/"))`;
  await page.waitForSelector(`${row}:has(td:text-is("1 of 2 files"))`);
  await page.click(`${row} button:text-is("Log")`);
  await page.waitForSelector(`#share-rows tr[data-log]:has-text("${folder}/sent by cli.txt"):has-text("from 127.0.0.1")`);
  if (await page.evaluate(() => window.__xss !== undefined || document.querySelector("#file-rows img, #share-rows img, #uplink-what img") !== null)) {
    throw new Error("a folder's name was rendered as HTML");
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await screenshots(page, "upload-link");

  // Revoked in the page: `sockit send` is refused (410 "revoked").
  await page.click("#share-made-revoke");
  await page.waitForSelector("#share-copied:text-is('revoked')");
  await page.waitForSelector(`#share-rows tr[data-state="revoked"]:has(td:text-is("upload into ${folder}/"))`);
  const again = spawnSync(BIN, ["send", url, sent, "--json"], { env: { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg-nobody") }, encoding: "utf8", timeout: LIMIT });
  if (again.status !== 4 || !(again.stdout + again.stderr).includes("revoked")) throw new Error(`sockit send after the revoke: ${again.status} ${again.stdout} ${again.stderr}`);
  const info = await fetch(url + "/info");
  if (info.status !== 410) throw new Error(`the revoked link's /info answers ${info.status}`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
}
