// SPDX-License-Identifier: Apache-2.0
// What the browser tests share: a demo database, a real `hutong serve` on a
// free loopback port, headless Chromium, and a tally of checks. Exits 77
// (skipped) when Chromium or playwright-core is missing.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

export const shots = process.env.HUTONG_SCREENSHOT_DIR || tmpdir();

function loadChromium() {
  try {
    return createRequire(join(here, "package.json"))("playwright-core").chromium;
  } catch {
    console.log("skip: playwright-core is not installed (npm ci in tests/browser)");
    process.exit(77);
  }
  return null;
}

function startServer(bin, db, tokens, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["serve", "--db", db, "--port", "0", "--threads", "2",
                          "--tokens", tokens],
                    { stdio: ["ignore", "pipe", "ignore"], env });
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start")), 60000);
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, port: Number(m[1]) });
      }
    });
    p.on("exit", (code) => reject(new Error("server exited with " + code)));
  });
}

// Run @body(ctx) with ctx = { base, browser, check, watch, token,
// officeToken, setClock } and exit with the verdict. watch(page) collects
// console errors and failed requests; token may write; officeToken reads
// one street office only. With @opts.clock (an ISO time) the demo ends that
// day and the server's clock reads that time, until setClock(iso) moves it
// (a clock file the server reads: HUTONG_CLOCK_FILE).
export async function run(body, opts = {}) {
  const chromium = loadChromium();
  if (!existsSync(CHROMIUM)) {
    console.log("skip: no " + CHROMIUM + " (Debian package chromium)");
    process.exit(77);
  }
  const bin = process.env.HUTONG_BIN;
  const dir = mkdtempSync(join(tmpdir(), "hutong-browser-"));
  const db = join(dir, "demo.db");
  // The demo ends today (its default): the wall's 24-hour and the viewer's
  // 30-day windows hold data whatever the date. Or on the day of a clock.
  const clockFile = join(dir, "clock");
  const setClock = (iso) => writeFileSync(clockFile, String(Math.floor(Date.parse(iso) / 1000)));
  const demo = ["demo", "--db", db, "--incidents", "4000"];
  let env = process.env;
  if (opts.clock) {
    setClock(opts.clock);
    demo.push("--end", opts.clock.slice(0, 10));
    env = { ...process.env, HUTONG_CLOCK_FILE: clockFile };
  }
  execFileSync(bin, demo, { stdio: "ignore" });
  const tokens = join(dir, "tokens");
  const token = execFileSync(bin, ["token", "create", "--name", "browser", "--write",
                                   "--tokens", tokens], { stdio: ["ignore", "pipe", "ignore"] })
    .toString().trim();
  // A reader of one street office (东华门, 110101001).
  const officeToken = execFileSync(bin, ["token", "create", "--name", "office", "--scope",
                                         "110101001", "--tokens", tokens, "--db", db],
                                   { stdio: ["ignore", "pipe", "ignore"] })
    .toString().trim();
  const failures = [];
  const check = (ok, what) => {
    console.log((ok ? "ok   " : "FAIL ") + what);
    if (!ok) failures.push(what);
  };
  const watch = (page) => {
    const errors = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("response", (r) => { if (r.status() >= 400) errors.push(r.status() + " " + r.url()); });
    return errors;
  };
  const server = await startServer(bin, db, tokens, env);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  try {
    await body({ base: `http://127.0.0.1:${server.port}`, browser, check, watch, token,
                 officeToken, setClock });
  } catch (e) {
    check(false, String(e));
  } finally {
    await browser.close();
    // The server finishes (it may save its index's snapshot beside the
    // database as it stops) before its folder goes.
    const exited = new Promise((resolve) => {
      if (server.proc.exitCode !== null) resolve();
      server.proc.once("exit", resolve);
    });
    server.proc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30000))]);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failures.length ? 1 : 0);
}

// Every tile image of the page has loaded.
export async function tilesLoaded(page) {
  await page.waitForFunction(() => {
    const all = document.querySelectorAll("img.leaflet-tile").length;
    return all > 0 && document.querySelectorAll("img.leaflet-tile-loaded").length === all;
  }, null, { timeout: 30000 });
}

// After a page opened with a reader's token has loaded: every tile URL
// carries the token, a screenshot, and no errors (@what names the page).
export async function checkTokenPage(page, errors, check, what, shot) {
  await tilesLoaded(page);
  const srcs = await page.$$eval("img.leaflet-tile-loaded", (a) => a.map((i) => i.src));
  check(srcs.length > 0 && srcs.every((u) => u.includes("token=")),
        what + ": every tile URL carries the token");
  await page.screenshot({ path: join(shots, shot) });
  check(errors.length === 0, what + ": no console errors or failed requests" +
        (errors.length ? ": " + errors.slice(0, 5).join("; ") : ""));
}
