// What the headless-Chromium tests of end-to-end shares share: a real
// `sockit serve` on port 0 whose addresses come from its output, a walk
// over its data directory, the browser, and the screenshot left behind
// when a test fails.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
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

/** A headless Chromium. */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Leaves `page`'s screenshot and HTML in tests/e2e/artifacts as NAME.*. */
export async function saveFailure(page, name) {
  if (!page) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => {});
  writeFileSync(join(ARTIFACTS, `${name}.html`), await page.content().catch(() => ""));
}
