// End to end in a real headless Chromium: the web page against the real
// `sockit serve`, with the CLI on the other side of every exchange.
//
//   node tests/e2e/web.mjs          (SOCKIT_BIN, CHROMIUM override the paths)
//
// On failure a screenshot and the page's HTML go to tests/e2e/artifacts/.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
const LIMIT = 20_000; // ms: a bound on a hang, not a sleep

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-"));
const data = join(tmp, "data");
const cfg = join(tmp, "cfg");
const env = { ...process.env, SOCKIT_CONFIG_DIR: cfg };

// Alice's CLI keeps its session apart from bob's.
const aliceEnv = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg-alice") };

/** Runs the CLI to completion; throws on a non-zero exit. */
function sockit(args, input = "", runEnv = env) {
  const r = spawnSync(BIN, args, { input, env: runEnv, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`sockit ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Starts the server (on port 0 unless given its old addresses, to come
 * back where the page left it) and reads its addresses from its output. */
function startServer(webAddr = "tcp://127.0.0.1:0", framedAddr = "tcp://127.0.0.1:0") {
  const proc = spawn(BIN, ["serve", "--web", webAddr, "--listen", framedAddr,
    ...CHEAP, "--data", data], { env, stdio: ["ignore", "pipe", "inherit"] });
  const addrs = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server printed no `ready`")), LIMIT);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const m = line.match(/^(\S+) listening on (\S+)$/);
      if (m) addrs[m[1]] = m[2];
      if (line.startsWith("ready")) {
        clearTimeout(timer);
        resolve({ proc, addrs });
      }
    });
    proc.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
}

/** A `sockit chat --json --stay` process; resolves lines matching a test. */
function cliChat(addr, room) {
  const proc = spawn(BIN, ["chat", addr, "--room", room, "--json", "--stay"], { env, stdio: ["pipe", "pipe", "inherit"] });
  const seen = [];
  const waiters = [];
  createInterface({ input: proc.stdout }).on("line", (line) => {
    let v;
    try { v = JSON.parse(line); } catch { return; }
    seen.push(v);
    for (const w of [...waiters]) if (w.test(v)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(v); }
  });
  return {
    proc,
    say: (text) => proc.stdin.write(text + "\n"),
    waitFor(test, what) {
      const hit = seen.find(test);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        waiters.push({ test, resolve });
        setTimeout(() => reject(new Error(`CLI never saw ${what}`)), LIMIT);
      });
    },
  };
}

let { proc: server, addrs } = await startServer();
const web = addrs.web.replace("tcp://", "http://");
const framed = addrs.framed;
let browser, page, cli;
let failed = false;
try {
  for (const name of ["alice", "bob"]) sockit(["user", "add", name, "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  sockit(["login", framed, "--user", "bob", "--password-stdin"], PASS + "\n");
  cli = cliChat(framed, "lobby");
  await cli.waitFor((v) => v.type === "chat.join", "its join");

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 390, height: 800 } }); // phone-sized
  page.setDefaultTimeout(LIMIT);
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  // Log in with the account.
  await page.goto(web);
  await page.fill("#name", "alice");
  await page.fill("#password", "wrong password");
  await page.click("#login-form button");
  await page.waitForSelector("#login-error:has-text('invalid username or password')");
  await page.fill("#password", PASS);
  await page.click("#login-form button");
  await page.waitForSelector("#whoami:has-text('alice')");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "sockit_session");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") throw new Error(`bad cookie ${JSON.stringify(session)}`);
  await page.waitForSelector("#link:has-text('connected')");

  // Browser -> CLI.
  await page.fill("#text", "hello from the browser");
  await page.click("#send-form button");
  await cli.waitFor((v) => v.type === "chat.message" && v.text === "hello from the browser" && v.name === "alice", "the browser's message");

  // CLI -> browser.
  cli.say("hello from the terminal");
  await page.waitForSelector("#messages li:has-text('hello from the terminal')");
  await page.waitForSelector("#who li:has-text('bob')");

  // A hostile message is shown as text, never run as HTML.
  cli.say("<img src=x onerror=alert(1)>");
  await page.waitForSelector("#messages li:has-text('<img src=x onerror=alert(1)>')");
  if (await page.$("#messages img")) throw new Error("a message was rendered as HTML");

  // Files: upload from the browser (the file input, as a picker would),
  // fetch with `sockit get` as the same user, compare SHA-256.
  sockit(["login", framed, "--user", "alice", "--password-stdin"], PASS + "\n", aliceEnv);
  const bytes = randomBytes(300 * 1024 + 123);
  const sha256 = (b) => createHash("sha256").update(b).digest("hex");
  const name = "from browser (1).bin";
  page.on("dialog", (d) => d.accept());
  await page.setInputFiles("#file-input", { name, mimeType: "application/octet-stream", buffer: bytes });
  await page.waitForSelector("#uploads li[data-state='done']");
  await page.waitForSelector(`#file-rows a:text-is("${name}")`);
  const got = join(tmp, "got.bin");
  sockit(["get", `${framed}:${name}`, got], "", aliceEnv);
  if (sha256(readFileSync(got)) !== sha256(bytes)) throw new Error("`sockit get` fetched other bytes than the browser uploaded");

  // The browser's download link gives the same bytes back.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(`#file-rows a:text-is("${name}")`)]);
  if (download.suggestedFilename() !== name) throw new Error(`download named ${download.suggestedFilename()}`);
  const saved = join(tmp, "saved.bin");
  await download.saveAs(saved);
  if (sha256(readFileSync(saved)) !== sha256(bytes)) throw new Error("the browser downloaded other bytes");

  // A share link, opened in a browser with no account (a fresh context,
  // no cookie): the page shows the file, the download is the same bytes,
  // and its one download spent, the link answers 410 "consumed".
  const share = JSON.parse(sockit(["share", `${framed}:${name}`, "--json"], "", aliceEnv));
  const anon = await browser.newPage();
  anon.setDefaultTimeout(LIMIT);
  anon.on("pageerror", (e) => consoleErrors.push(String(e)));
  const opened = await anon.goto(share.url);
  if (opened.headers()["referrer-policy"] !== "no-referrer") throw new Error("the share page has no Referrer-Policy");
  await anon.waitForSelector(`#share-name:text-is("${name}")`);
  await anon.waitForSelector(`#share-hash:text-is("${share.blake3}")`);
  await anon.waitForSelector("#share-left:text-is('1')");
  const [shared] = await Promise.all([anon.waitForEvent("download"), anon.click("#share-download")]);
  const sharedPath = join(tmp, "shared.bin");
  await shared.saveAs(sharedPath);
  if (sha256(readFileSync(sharedPath)) !== sha256(bytes)) throw new Error("the share link gave other bytes");
  if (shared.suggestedFilename() !== name) throw new Error(`share saved as ${shared.suggestedFilename()}`);
  const gone = await anon.goto(share.url);
  if (gone.status() !== 410 || !(await anon.content()).includes("consumed")) throw new Error(`spent share: ${gone.status()}`);
  await anon.close();

  // Uploading the same name again without "Replace existing" is refused.
  await page.setInputFiles("#file-input", { name, mimeType: "application/octet-stream", buffer: bytes.subarray(0, 10) });
  await page.waitForSelector("#uploads li[data-state='failed']:has-text('already exists')");

  // Delete in the browser (confirm accepted): `sockit ls` no longer lists it.
  await page.click(`#file-rows tr:has(a:text-is("${name}")) button.danger`);
  await page.waitForSelector(`#file-rows a:text-is("${name}")`, { state: "detached" });
  const listed = JSON.parse(sockit(["ls", `${framed}:`, "--json"], "", aliceEnv));
  if (listed.entries.some((e) => e.name === name)) throw new Error(`sockit ls still lists ${name}`);

  // The server dies (kill -9) or stops (SIGTERM) and comes back on the same
  // ports: the page stays logged in, says it is reconnecting, reconnects by
  // itself, and shows a message from before and one from after exactly once.
  for (const signal of ["SIGKILL", "SIGTERM"]) {
    const before = `said before ${signal}`;
    const after = `said after the ${signal} restart`;
    sockit(["say", framed, "--room", "lobby", before]);
    await page.waitForSelector(`#messages li:has-text('${before}')`);
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill(signal);
    await exited;
    await page.waitForSelector("#offline:not([hidden])");
    ({ proc: server } = await startServer(addrs.web, framed));
    sockit(["say", framed, "--room", "lobby", after]);
    await page.waitForSelector(`#messages li:has-text('${after}')`);
    await page.waitForSelector("#offline", { state: "hidden" });
    await page.waitForSelector("#link:has-text('connected')");
    if (!(await page.isHidden("#login-view"))) throw new Error(`the login form showed after ${signal}`);
    for (const text of [before, after]) {
      const n = await page.locator("#messages li", { hasText: text }).count();
      if (n !== 1) throw new Error(`"${text}" shown ${n} times after ${signal}, want once`);
    }
  }

  // Log out: the cookie's session is revoked.
  await page.click("#logout");
  await page.waitForSelector("#login-view:not([hidden])");
  if (!(await page.isHidden("#logout"))) throw new Error("the Log out button shows while logged out");
  const res = await page.request.get(`${web}/api/whoami`);
  if (res.status() !== 401) throw new Error(`whoami after logout: ${res.status()}`);
  if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join("; ")}`);
  console.log("e2e web: ok (login, chat both ways, escaping, files up/down/delete, a share link, kill -9 and SIGTERM restarts, logout)");
} catch (e) {
  failed = true;
  console.error("e2e web: FAILED:", e);
  if (page) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
    writeFileSync(join(ARTIFACTS, "failure.html"), await page.content().catch(() => ""));
    console.error(`screenshot and HTML in ${ARTIFACTS}`);
  }
} finally {
  if (browser) await browser.close();
  if (cli) cli.proc.kill();
  server.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
