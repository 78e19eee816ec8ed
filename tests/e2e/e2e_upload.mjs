// Upload links in a real headless Chromium: the owner makes one with the
// CLI (`sockit share --upload DIR`), a visitor with no account drops files
// on the page, and the owner fetches them with equal SHA-256 and sees them
// in `sockit share log`.
//
//   node tests/e2e/e2e_upload.mjs     (SOCKIT_BIN, CHROMIUM override the paths)
//
// Also checks web/blake3.js against reference BLAKE3 values (inputs of
// byte i = i % 251, as in the BLAKE3 test vectors) across chunk and tree
// boundaries, fed whole and in odd slices.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const BIN = process.env.SOCKIT_BIN || join(ROOT, "target", "debug", "sockit");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = join(HERE, "artifacts");
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

function sockit(args, input = "") {
  const r = spawnSync(BIN, args, { input, env, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`sockit ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function startServer() {
  const proc = spawn(BIN, ["serve", "--web", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
    ...CHEAP, "--data", data], { env, stdio: ["ignore", "pipe", "inherit"] });
  const addrs = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server printed no `ready`")), LIMIT);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const m = line.match(/^(\S+) listening on (\S+)$/);
      if (m) addrs[m[1]] = m[2];
      if (line.startsWith("ready")) { clearTimeout(timer); resolve({ proc, addrs }); }
    });
    proc.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
}

const { proc: server, addrs } = await startServer();
const framed = addrs.framed;
let browser;
let page;
let failed = false;
try {
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

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log("e2e upload web: ok (blake3.js vectors, page drops two files, owner gets equal SHA-256, clash renamed, log, revoke 410)");
} catch (e) {
  failed = true;
  console.error("e2e upload web: FAILED:", e);
  if (page) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "e2e-upload-failure.png"), fullPage: true }).catch(() => {});
    writeFileSync(join(ARTIFACTS, "e2e-upload-failure.html"), await page.content().catch(() => ""));
  }
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
