// End to end in a real headless Chromium: the web page against the real
// `sockit serve`, with the CLI on the other side of every exchange.
//
//   node tests/e2e/web.mjs          (SOCKIT_BIN, CHROMIUM override the paths)
//
// Screenshots at 1440x900 and 390x844 go to tests/e2e/artifacts/ on every run
// (git ignores it, CI keeps it); on failure also the failing page and its HTML.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BIN, launch, runTest, screenshots, sockitCli, startServer } from "./harness.mjs";

const CHEAP = ["--argon2", "m=256,t=1,p=1"];
const PASS = "correct horse battery";
const LIMIT = 20_000; // ms: a bound on a hang, not a sleep

const tmp = mkdtempSync(join(tmpdir(), "sockit-e2e-"));
const data = join(tmp, "data");
const cfg = join(tmp, "cfg");
const env = { ...process.env, SOCKIT_CONFIG_DIR: cfg };

// Alice's CLI keeps its session apart from bob's.
const aliceEnv = { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg-alice") };

// The members of a ustar archive (no pax: the test's names are short).
function untar(buf) {
  const out = {};
  for (let at = 0; at + 512 <= buf.length;) {
    const head = buf.subarray(at, at + 512);
    if (head.every((b) => b === 0)) break;
    const name = head.subarray(0, 100).toString().replace(/\0.*$/s, "");
    const size = parseInt(head.subarray(124, 136).toString().replace(/\0.*$/s, ""), 8);
    out[name] = buf.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Runs the CLI to completion; throws on a non-zero exit. */
const sockit = sockitCli(env);

/** Starts the server (on port 0 unless given its old addresses, to come
 * back where the page left it). */
function serve(webAddr = "tcp://127.0.0.1:0", framedAddr = "tcp://127.0.0.1:0") {
  return startServer(["--web", webAddr, "--listen", framedAddr,
    ...CHEAP, "--chat-rate", "1000", "--chat-burst", "1000", "--data", data], env, LIMIT);
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

let { proc: server, addrs } = await serve();
const web = addrs.web.replace("tcp://", "http://");
const framed = addrs.framed;
let browser, page, cli;
await runTest("e2e web", "failure", tmp, () => ({ browser, page, procs: [server, cli && cli.proc] }), async () => {
  for (const name of ["alice", "bob"]) sockit(["user", "add", name, "--password-stdin", ...CHEAP, "--data", data], PASS + "\n");
  sockit(["login", framed, "--user", "bob", "--password-stdin"], PASS + "\n");
  cli = cliChat(framed, "lobby");
  await cli.waitFor((v) => v.type === "chat.join", "its join");

  browser = await launch(["--disable-quic"]);
  // Phone-sized; notifications granted, and recorded as the page raises them.
  page = await browser.newPage({ viewport: { width: 390, height: 844 }, permissions: ["notifications"] });
  await page.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, opts) { super(title, opts); window.__notes.push(`${title}: ${opts && opts.body}`); }
    };
  });
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

  // Edit and delete in the page: the CLI sees each change live and in
  // history; the page shows them in place.
  await page.fill("#text", "the plan has a typo");
  await page.click("#send-form button");
  const planned = await cli.waitFor((v) => v.type === "chat.message" && v.text === "the plan has a typo", "the message to edit");
  const mine = page.locator("#messages li", { hasText: "the plan has a typo" });
  await mine.hover();
  await mine.locator("button", { hasText: "Edit" }).click();
  await page.waitForSelector("#editing:not([hidden])");
  await page.fill("#text", "the plan is fixed");
  await page.click("#send-form button");
  await cli.waitFor((v) => v.type === "chat.message" && v.kind === "edit" && v.target === planned.seq && v.text === "the plan is fixed", "the edit");
  await page.waitForSelector("#messages li:has-text('the plan is fixed') .edited");
  if (sockit(["history", framed, "--room", "lobby", "-n", "50"]).includes("typo")) throw new Error("history kept the text before the edit");
  const fixed = page.locator("#messages li", { hasText: "the plan is fixed" });
  await fixed.hover();
  await fixed.locator("button", { hasText: "Delete" }).click();
  await cli.waitFor((v) => v.type === "chat.message" && v.kind === "delete" && v.target === planned.seq, "the delete");
  await page.waitForSelector(`#messages li[data-seq="${planned.seq}"] .deleted`);
  const afterDelete = sockit(["history", framed, "--room", "lobby", "-n", "50"]);
  if (afterDelete.includes("the plan") || !afterDelete.includes(`* alice deleted #${planned.seq}`)) {
    throw new Error(`the CLI's history after the delete: ${afterDelete}`);
  }

  // A topic set from the terminal shows in the page's header.
  cli.say("/topic ship it friday");
  await page.waitForSelector("#room-topic:text-is('ship it friday')");
  await page.waitForSelector("#messages li.notice:has-text('bob set the topic: ship it friday')");

  // Search: a message said long ago in a room the page has not joined is
  // found, and clicking it joins the room and scrolls back to it.
  const archive = ["needle in the archive", ...Array.from({ length: 180 }, (_, i) => `hay ${i}`)];
  sockit(["chat", framed, "--room", "archive"], archive.join("\n") + "\n");
  await page.fill("#search-q", "NEEDLE arch");
  await page.click("#search-form button");
  await page.click("#search-results li:has-text('needle in the archive') button");
  await page.waitForSelector("#messages li.found:has-text('needle in the archive')");
  await page.waitForSelector("#room-name:has-text('#archive')");
  await page.fill("#search-q", "typo");
  await page.click("#search-form button");
  await page.waitForSelector("#search-results li:has-text('No messages found')");
  await page.click("#rooms button:has-text('#lobby')");

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

  // A folder share: the page lists its files, one file and the whole as a
  // tar download in the browser with the same bytes, `sockit get` fetches
  // the folder with no account; each whole set counts once.
  const folderFiles = { "x.bin": randomBytes(200_000), "d/y.bin": randomBytes(70_000) };
  for (const [rel, body] of Object.entries(folderFiles)) {
    const local = join(tmp, rel.replace("/", "_"));
    writeFileSync(local, body);
    sockit(["put", "--force", local, `${framed}:shared-folder/${rel}`], "", aliceEnv);
  }
  const folder = JSON.parse(sockit(["share", `${framed}:shared-folder`, "--downloads", "2", "--json"], "", aliceEnv));
  const anonFolder = await browser.newPage();
  anonFolder.setDefaultTimeout(LIMIT);
  anonFolder.on("pageerror", (e) => consoleErrors.push(String(e)));
  await anonFolder.goto(folder.url);
  await anonFolder.waitForSelector('#share-files a.share-file:text-is("d/y.bin")');
  const [one] = await Promise.all([anonFolder.waitForEvent("download"), anonFolder.click('#share-files a.share-file:text-is("x.bin")')]);
  const onePath = join(tmp, "folder-x.bin");
  await one.saveAs(onePath);
  if (sha256(readFileSync(onePath)) !== sha256(folderFiles["x.bin"])) throw new Error("a folder share's file came back different");
  const [all] = await Promise.all([anonFolder.waitForEvent("download"), anonFolder.click("#share-archive")]);
  if (all.suggestedFilename() !== "shared-folder.tar") throw new Error(`archive saved as ${all.suggestedFilename()}`);
  const allPath = join(tmp, "folder.tar");
  await all.saveAs(allPath);
  const members = untar(readFileSync(allPath));
  for (const [rel, body] of Object.entries(folderFiles)) {
    if (!members[`shared-folder/${rel}`] || sha256(members[`shared-folder/${rel}`]) !== sha256(body)) throw new Error(`the archive's ${rel} differs`);
  }
  const fetched = join(tmp, "fetched");
  mkdirSync(fetched);
  sockit(["get", folder.url, fetched], "", { ...process.env, SOCKIT_CONFIG_DIR: join(tmp, "cfg-nobody") });
  for (const [rel, body] of Object.entries(folderFiles)) {
    if (sha256(readFileSync(join(fetched, "shared-folder", rel))) !== sha256(body)) throw new Error(`sockit get LINK gave another ${rel}`);
  }
  const spent = await anonFolder.goto(folder.url);
  if (spent.status() !== 410 || !(await anonFolder.content()).includes("consumed")) throw new Error(`spent folder share: ${spent.status()}`);
  await anonFolder.close();

  // The Files panel's Share action and "My shares": a link made in the
  // page (a folder, 2 downloads) shows in `sockit share ls`, copies, lists
  // with its state and downloads, and its Revoke button ends it.
  await page.evaluate(() => files.refresh());
  await page.click('#file-rows tr:has(button.link:text-is("shared-folder/")) button:text-is("Share")');
  await page.selectOption("#share-expires", "259200");
  await page.fill("#share-downloads", "2");
  await page.click("#share-go");
  await page.waitForSelector("#share-made:not([hidden])");
  const madeUrl = await page.inputValue("#share-link");
  if (!madeUrl.startsWith(web + "/s/")) throw new Error(`the page made the link ${madeUrl}`);
  await page.click("#share-copy");
  await page.waitForSelector("#share-copied:text-is('copied')");
  const listedShares = JSON.parse(sockit(["share", "ls", "--json"], "", { ...aliceEnv, SOCKIT_SERVER: framed })).shares;
  if (!listedShares.some((x) => x.path === "shared-folder" && x.files === 2 && x.downloads_max === 2 && x.state === "available")) {
    throw new Error(`sockit share ls does not list the page's share: ${JSON.stringify(listedShares)}`);
  }
  await page.click("#my-shares summary");
  const myRow = '#share-rows tr[data-state="available"]:has(td:text-is("shared-folder/ (2 files)"))';
  await page.waitForSelector(`${myRow}:has(td:text-is("0 of 2"))`);
  await page.click(`${myRow} button:text-is("Revoke")`);
  await page.waitForSelector('#share-rows tr[data-state="revoked"]:has(td:text-is("shared-folder/ (2 files)"))');
  const revokedInfo = await fetch(madeUrl + "/info");
  if (revokedInfo.status !== 410) throw new Error(`a revoked share answers ${revokedInfo.status}`);

  // Uploading the same name again without "Replace existing" is refused.
  await page.setInputFiles("#file-input", { name, mimeType: "application/octet-stream", buffer: bytes.subarray(0, 10) });
  await page.waitForSelector("#uploads li[data-state='failed']:has-text('already exists')");

  // Delete in the browser (confirm accepted): `sockit ls` no longer lists it.
  await page.click(`#file-rows tr:has(a:text-is("${name}")) button.danger`);
  await page.waitForSelector(`#file-rows a:text-is("${name}")`, { state: "detached" });
  const listed = JSON.parse(sockit(["ls", `${framed}:`, "--json"], "", aliceEnv));
  if (listed.entries.some((e) => e.name === name)) throw new Error(`sockit ls still lists ${name}`);

  // Folders: new folder, rename, move (file.mkdir / file.mv over the
  // page's WebSocket), each seen by `sockit ls` as the same user.
  const lsJson = (dir) => JSON.parse(sockit(["ls", `${framed}:${dir}`, "--json"], "", aliceEnv)).entries.map((e) => e.name);
  await page.click("#new-folder");
  await page.fill("#file-action-input", "reports");
  await page.click("#file-action-go");
  await page.waitForSelector('#file-rows button.link:text-is("reports/")');
  await page.setInputFiles("#file-input", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("draft notes") });
  await page.waitForSelector('#file-rows a:text-is("notes.txt")');
  await page.click('button[aria-label="Rename notes.txt"]');
  await page.fill("#file-action-input", "final.txt");
  await page.click("#file-action-go");
  await page.waitForSelector('#file-rows a:text-is("final.txt")');
  await page.check('input[aria-label="Select final.txt"]');
  await page.click("#sel-move");
  await page.fill("#file-action-input", "reports");
  await page.click("#file-action-go");
  await page.waitForSelector('#file-rows a:text-is("final.txt")', { state: "detached" });
  if (!lsJson("reports").includes("final.txt")) throw new Error("sockit ls :reports does not list the moved file");
  if (lsJson("").includes("notes.txt")) throw new Error("the renamed file is still listed under its old name");
  // Renaming onto an existing name is refused with the server's reason.
  await page.setInputFiles("#file-input", { name: "x1.txt", mimeType: "text/plain", buffer: Buffer.from("1") });
  await page.waitForSelector('#file-rows a:text-is("x1.txt")');
  await page.click('button[aria-label="Rename x1.txt"]');
  await page.fill("#file-action-input", "reports");
  await page.click("#file-action-go");
  await page.waitForSelector("#files-error:has-text('already exists')");
  await page.click("#file-action-cancel");
  // Multi-select delete, one confirmation for both.
  await page.setInputFiles("#file-input", { name: "x2.txt", mimeType: "text/plain", buffer: Buffer.from("2") });
  await page.waitForSelector('#file-rows a:text-is("x2.txt")');
  await page.check('input[aria-label="Select x1.txt"]');
  await page.check('input[aria-label="Select x2.txt"]');
  await page.waitForSelector("#selection-count:has-text('2 selected')");
  await page.click("#sel-delete");
  await page.waitForSelector('#file-rows a:text-is("x2.txt")', { state: "detached" });
  if (lsJson("").some((n) => n === "x1.txt" || n === "x2.txt")) throw new Error("sockit ls still lists a deleted selection");
  // Cancel an upload waiting behind a large one: nothing of it is kept;
  // then dismiss the finished rows.
  await page.setInputFiles("#file-input", [
    { name: "big.bin", mimeType: "application/octet-stream", buffer: randomBytes(8 * 1024 * 1024) },
    { name: "unwanted.txt", mimeType: "text/plain", buffer: Buffer.from("no") },
  ]);
  await page.click('button[aria-label="Cancel the upload of unwanted.txt"]');
  await page.waitForSelector("#uploads li:has-text('unwanted.txt')[data-state='failed']:has-text('cancelled')");
  await page.waitForSelector("#uploads li:has-text('big.bin')[data-state='done']");
  if (lsJson("").includes("unwanted.txt")) throw new Error("a cancelled upload was published");
  await page.click("#uploads-clear");
  await page.waitForSelector("#upload-box", { state: "hidden" });

  // Conversations: a second room in the sidebar; a mention there raises a
  // notification and an unread badge, which clears on opening the room.
  await page.fill("#join-room", "side");
  await page.click("#join-form button");
  await page.waitForSelector("#rooms button[aria-current='true']:has-text('#side')");
  await page.click("#rooms button:has-text('#lobby')");
  sockit(["say", framed, "--room", "side", "@alice see https://example.com/report?x=1 and javascript:alert(1)"]);
  await page.waitForSelector("#rooms button:has-text('#side') .badge.mention:text-is('1')");
  await page.waitForFunction(() => window.__notes.some((n) => n.includes("@alice see")));
  await page.click("#rooms button:has-text('#side')");
  await page.waitForSelector("#rooms button:has-text('#side') .badge", { state: "detached" });
  const a = await page.waitForSelector("#messages li.mention a");
  const [href, rel] = [await a.getAttribute("href"), await a.getAttribute("rel")];
  if (href !== "https://example.com/report?x=1" || rel !== "noopener noreferrer") throw new Error(`link ${href} rel=${rel}`);
  if ((await page.$$("#messages a")).length !== 1) throw new Error("javascript: became a link");
  await page.waitForSelector("#messages li.day:text-is('Today')");
  await page.click("#rooms button:has-text('#lobby')");

  // Direct messages: the CLI (bob) writes to alice, who never opened the
  // conversation; it appears in the sidebar with an unread badge and a
  // notification; opening it clears the badge and moves alice's read
  // marker on the server (her CLI counts 0 unread); her reply reaches
  // bob's running `sockit chat`.
  sockit(["dm", "--server", framed, "alice", "psst from the terminal"]);
  await page.waitForSelector("#rooms button:has-text('@bob') .badge:text-is('1')");
  await page.waitForFunction(() => window.__notes.some((n) => n.includes("psst from the terminal")));
  await page.click("#rooms button:has-text('@bob')");
  await page.waitForSelector("#messages li:has-text('psst from the terminal')");
  await page.waitForSelector("#rooms button:has-text('@bob') .badge", { state: "detached" });
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
    const dms = sockit(["dm", "--server", framed, "--json"], "", aliceEnv).trim().split("\n").map((l) => JSON.parse(l));
    if (dms.length === 1 && dms[0].with === "bob" && dms[0].unread === 0) break;
    if (Date.now() - started > LIMIT) throw new Error(`alice's marker never moved: ${JSON.stringify(dms)}`);
  }
  await page.fill("#text", "hi bob, from the page");
  await page.click("#send-form button");
  await cli.waitFor((v) => v.type === "chat.message" && v.room === "@alice+bob" && v.text === "hi bob, from the page", "the page's direct message");
  // A third conversation's unread count rises while alice looks elsewhere.
  await page.click("#rooms button:has-text('#lobby')");
  sockit(["dm", "--server", framed, "alice", "one more"]);
  sockit(["dm", "--server", framed, "alice", "and another"]);
  await page.waitForSelector("#rooms button:has-text('@bob') .badge:text-is('2')");
  await page.click("#rooms button:has-text('@bob')");
  await page.waitForSelector("#messages li.new-divider + li:has-text('one more')");
  await page.waitForSelector("#rooms button:has-text('@bob') .badge", { state: "detached" });
  await page.click("#rooms button:has-text('#lobby')");

  // Scroll-back: 250 messages said before the page opens the room; it
  // loads the last 50, and scrolling up fetches the rest (before=), each
  // once, in order.
  const lines = Array.from({ length: 250 }, (_, i) => `scroll ${String(i + 1).padStart(3, "0")}`);
  sockit(["chat", framed, "--room", "long"], lines.join("\n") + "\n");
  await page.fill("#join-room", "long");
  await page.click("#join-form button");
  await page.waitForSelector("#messages li:has-text('scroll 250')");
  await page.waitForFunction(() => {
    const box = document.getElementById("messages");
    box.scrollTop = 0;
    box.dispatchEvent(new Event("scroll"));
    return [...box.querySelectorAll("li .text")].some((t) => t.textContent === "scroll 001");
  }, null, { polling: 250 });
  const shown = await page.$$eval("#messages li .text", (ts) => ts.map((t) => t.textContent).filter((t) => t.startsWith("scroll ")));
  if (shown.join() !== lines.join()) throw new Error(`scroll-back showed ${shown.length} messages, not the 250 in order`);
  await page.click("#rooms button:has-text('#lobby')");

  // Screenshots at desktop and phone sizes, kept as artifacts.
  await screenshots(page, "page");

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
    ({ proc: server } = await serve(addrs.web, framed));
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

  // Settings: change the password. The CLI's session of alice ends, the
  // page's stays; the old password no longer logs in, the new one does.
  const NEW = "staple battery horse";
  await page.click("#settings-open");
  await page.fill("#pw-current", "not it");
  await page.fill("#pw-new", NEW);
  await page.fill("#pw-again", NEW);
  await page.click("#passwd-form button[type=submit]");
  await page.waitForSelector("#pw-result:has-text('invalid username or password')");
  await page.fill("#pw-current", PASS);
  await page.fill("#pw-new", NEW);
  await page.fill("#pw-again", NEW);
  await page.click("#passwd-form button[type=submit]");
  await page.waitForSelector("#pw-result:has-text('Password changed; 1 other session logged out')");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#whoami:has-text('alice')");
  const lsAfter = spawnSync(BIN, ["ls", `${framed}:`], { env: aliceEnv, encoding: "utf8" });
  if (lsAfter.status !== 3) throw new Error(`the CLI's session survived the password change: ${lsAfter.status}`);
  const oldLogin = spawnSync(BIN, ["login", framed, "--user", "alice", "--password-stdin"], { input: PASS + "\n", env: aliceEnv, encoding: "utf8" });
  if (oldLogin.status === 0) throw new Error("the old password still logs in");
  sockit(["login", framed, "--user", "alice", "--password-stdin"], NEW + "\n", aliceEnv);

  // Log out: the cookie's session is revoked.
  await page.click("#logout");
  await page.waitForSelector("#login-view:not([hidden])");
  if (!(await page.isHidden("#logout"))) throw new Error("the Log out button shows while logged out");
  const res = await page.request.get(`${web}/api/whoami`);
  if (res.status() !== 401) throw new Error(`whoami after logout: ${res.status()}`);
  if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join("; ")}`);
  return "login, chat both ways, escaping, files up/down/delete, a share link, a folder share (page, file, tar, CLI), the Share action and My shares, folder/rename/move, multi-select, cancel, rooms sidebar, mention notification, links, a direct message both ways with its unread count and read marker, scroll-back past 200, kill -9 and SIGTERM restarts, password change, logout; screenshots in tests/e2e/artifacts";
});
