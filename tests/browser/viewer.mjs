// SPDX-License-Identifier: Apache-2.0
// Headless Chromium drives the viewer page of a real `hutong serve`: tiles
// load, the legend and the ranking fill in, filters reach the tile URLs, a
// click on the map opens the grid's figures, and nothing is logged as an
// error. Exit 77 (skipped) when Chromium or playwright-core is missing.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
let chromium;
try {
  chromium = createRequire(join(here, "package.json"))("playwright-core").chromium;
} catch {
  console.log("skip: playwright-core is not installed (npm install in tests/browser)");
  process.exit(77);
}
if (!existsSync(CHROMIUM)) {
  console.log("skip: no " + CHROMIUM + " (Debian package chromium)");
  process.exit(77);
}
const bin = process.env.HUTONG_BIN;
const shots = process.env.HUTONG_SCREENSHOT_DIR || tmpdir();
const dir = mkdtempSync(join(tmpdir(), "hutong-browser-"));
const db = join(dir, "demo.db");
execFileSync(bin, ["demo", "--db", db, "--incidents", "4000", "--end", "2026-11-28"],
             { stdio: "ignore" });

function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["serve", "--db", db, "--port", "0", "--threads", "2"],
                    { stdio: ["ignore", "pipe", "ignore"] });
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

const failures = [];
function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failures.push(what);
}

const server = await startServer();
const base = `http://127.0.0.1:${server.port}`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(r.status() + " " + r.url()); });

  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForFunction(() =>
    document.querySelectorAll("img.leaflet-tile-loaded").length >= 12, null, { timeout: 30000 });
  const tiles = await page.$$eval("img.leaflet-tile-loaded", (a) => a.map((i) => i.src));
  check(tiles.some((s) => s.includes("/tiles/default/")), "base tiles loaded");
  check(tiles.some((s) => s.includes("/tiles/heat/") && s.includes("window=30d")),
        "heat overlay tiles loaded with the default 30-day window");
  await page.waitForFunction(() => document.querySelectorAll("#ranking tr").length === 17,
                             null, { timeout: 30000 });
  check(true, "street-office ranking has 17 rows");
  await page.waitForFunction(() => {
    const i = document.querySelector("#legends img");
    return i && i.complete && i.naturalWidth > 300;
  }, null, { timeout: 30000 });
  check(true, "heat legend loaded");
  await page.waitForFunction(() => document.querySelectorAll("#category option").length > 20,
                             null, { timeout: 30000 });
  check(true, "category list filled from the code table");
  await page.waitForFunction(() => {
    const all = document.querySelectorAll("img.leaflet-tile").length;
    return all > 0 && document.querySelectorAll("img.leaflet-tile-loaded").length === all;
  }, null, { timeout: 30000 });
  await page.screenshot({ path: join(shots, "viewer.png") });

  // A filter reaches every tile URL and the legend.
  await page.selectOption("#window", "7d");
  await page.selectOption("#category", "01");
  await page.waitForFunction(() => {
    const s = [...document.querySelectorAll("img.leaflet-tile-loaded")].map((i) => i.src);
    return s.some((u) => u.includes("/tiles/heat/") && u.includes("window=7d") &&
                         u.includes("category=01"));
  }, null, { timeout: 30000 });
  check(true, "window and category reach the tile URLs");
  const legend = await page.$eval("#legends img", (i) => i.src);
  check(legend.includes("window=7d") && legend.includes("category=01"),
        "the legend follows the filters");

  // A click on the map: the grid's figures in a popup.
  await page.mouse.click(640 + 150, 400);
  await page.waitForSelector(".leaflet-popup-content .pop", { timeout: 30000 });
  await page.waitForTimeout(500); /* the popup fades in */
  const popup = await page.$eval(".leaflet-popup-content", (e) => e.textContent);
  check(/件/.test(popup) && /网格|社区|街道/.test(popup), "clicking a grid shows its figures");
  await page.screenshot({ path: join(shots, "viewer-popup.png") });

  // The other overlays render too.
  await page.check("#ov-choropleth");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("img.leaflet-tile-loaded")].some((i) =>
      i.src.includes("/tiles/choropleth/")), null, { timeout: 30000 });
  check(true, "choropleth overlay loads");
  check(errors.length === 0, "no console errors or failed requests" +
        (errors.length ? ": " + errors.slice(0, 5).join("; ") : ""));
} catch (e) {
  check(false, String(e));
} finally {
  await browser.close();
  server.proc.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures.length ? 1 : 0);
