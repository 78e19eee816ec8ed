// What the headless-Chromium tests share: a real `sockit serve` on port 0
// whose addresses come from its output, the CLI, a walk over the data
// directory, the browser, the screenshots kept as artifacts and the page
// left behind when a test fails.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, "..", "..");
export const BIN = process.env.SOCKIT_BIN || join(ROOT, "target", "debug", "sockit");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = join(HERE, "artifacts");

/** Starts `sockit serve ARGS`; resolves to `{ proc, addrs }` (service ->
 * address, from its `NAME listening on ADDR` lines) once it prints
 * `ready`. `log`, when given, collects everything it prints. */
export function startServer(args, env, limit, log = null) {
  const proc = spawn(BIN, ["serve", ...args], { env, stdio: ["ignore", "pipe", log ? "pipe" : "inherit"] });
  if (log) proc.stderr.on("data", (b) => log.push(b));
  const addrs = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server printed no `ready`")), limit);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (log) log.push(Buffer.from(line + "\n"));
      const m = line.match(/^(\S+) listening on (\S+)$/);
      if (m) addrs[m[1]] = m[2];
      if (line.startsWith("ready")) { clearTimeout(timer); resolve({ proc, addrs }); }
    });
    proc.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
}

/** Every file under `dir`. */
export function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** The CLI with `env`: `(args, input = "", runEnv = env)` runs it to
 * completion and gives its stdout; a non-zero exit throws. */
export function sockitCli(env, limit = 60_000) {
  return (args, input = "", runEnv = env) => {
    const r = spawnSync(BIN, args, { input, env: runEnv, encoding: "utf8", timeout: limit });
    if (r.status !== 0) throw new Error(`sockit ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
}

/** A headless Chromium; `extra` adds command-line switches. */
export function launch(extra = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extra],
  });
}

/** Leaves `page` at 1440x900 and 390x844 (the whole page) in
 * tests/e2e/artifacts as NAME-1440x900.png and NAME-390x844.png, and
 * gives it back at the size it had. */
export async function screenshots(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.screenshot({ path: join(ARTIFACTS, `${name}-1440x900.png`) });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, `${name}-390x844.png`), fullPage: true });
  if (size) await page.setViewportSize(size);
}

/** Leaves `page`'s screenshot and HTML in tests/e2e/artifacts as NAME.*. */
export async function saveFailure(page, name) {
  if (!page) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => {});
  writeFileSync(join(ARTIFACTS, `${name}.html`), await page.content().catch(() => ""));
  console.error(`screenshot and HTML in ${ARTIFACTS}`);
}

/** Runs a test's `body` and ends the process: `NAME: ok (WHAT)` with
 * what `body` returns, or `NAME: FAILED` and the page left as ARTIFACT.*
 * (`saveFailure`). Then it closes the browser, kills the processes (the
 * server first) and removes `tmp`. `live()` gives what is running now:
 * `{ browser, page, procs }`. Exits 0 or 1. */
export async function runTest(name, artifact, tmp, live, body) {
  let failed = false;
  try {
    console.log(`${name}: ok (${await body()})`);
  } catch (e) {
    failed = true;
    console.error(`${name}: FAILED:`, e);
    await saveFailure(live().page, artifact);
  } finally {
    const { browser, procs } = live();
    if (browser) await browser.close();
    for (const p of procs) if (p) p.kill("SIGTERM");
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}
