// SPDX-License-Identifier: Apache-2.0
// Headless Chromium drives the viewer page of a real `hutong serve`: tiles
// load, the legend and the ranking fill in, filters reach the tile URLs, a
// click on the map opens the grid's figures, and nothing is logged as an
// error. Exit 77 (skipped) when Chromium or playwright-core is missing.
import { join } from "node:path";
import { checkTokenPage, run, shots, tilesLoaded } from "./harness.mjs";

await run(async ({ base, browser, check, watch, officeToken }) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = watch(page);

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
  await tilesLoaded(page);
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

  // Who is late: the overdue overlay and its legend (communities, then the
  // dots' hours past the deadline), a department and "late now" as filters.
  await page.uncheck("#ov-choropleth");
  await page.check("#ov-overdue");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("img.leaflet-tile-loaded")].some((i) =>
      i.src.includes("/tiles/overdue/")), null, { timeout: 30000 });
  await page.waitForFunction(() => {
    const i = document.querySelector("#legends img[alt='legend overdue']");
    return i && i.complete && i.naturalHeight > 200;
  }, null, { timeout: 30000 });
  check(true, "the overdue overlay and its legend load");
  const depts = await page.$$eval("#department option", (a) => a.map((o) => o.value));
  const api = await (await fetch(base + "/api/departments")).json();
  check(depts.length === api.departments.length + 1 && api.departments.length > 5 &&
        api.departments.every((d) => depts.includes(d)),
        `the department list holds the ${api.departments.length} departments`);
  // The department with the most incidents late now, over all time.
  const late = await (await fetch(base + "/api/stats?by=department&overdue=1")).json();
  const dept = late.rows[0].key;
  await page.selectOption("#window", "");
  await page.selectOption("#category", "");
  await page.selectOption("#department", dept);
  await page.selectOption("#status-filter", "overdue");
  await page.waitForFunction((d) => {
    const s = [...document.querySelectorAll("img.leaflet-tile-loaded")].map((i) => i.src);
    return s.some((u) => u.includes("/tiles/heat/") && u.includes("overdue=1") &&
                         u.includes("department=" + encodeURIComponent(d)));
  }, dept, { timeout: 30000 });
  check(true, "the department and 'late now' reach the tile URLs");
  const legends = await page.$$eval("#legends img", (a) => a.map((i) => i.src));
  check(legends.length === 2 && legends.every((u) => u.includes("overdue=1") &&
                                                     u.includes("department=")),
        "and the legends");
  await page.keyboard.press("Escape"); /* the popup */
  await tilesLoaded(page);
  await page.waitForTimeout(500); /* tiles fade in */
  await page.screenshot({ path: join(shots, "viewer-overdue.png") });
  check(errors.length === 0, "no console errors or failed requests" +
        (errors.length ? ": " + errors.slice(0, 5).join("; ") : ""));

  // A street office's reader: every request carries its token, the ranking
  // holds its office only, and the map shows nothing outside it.
  const scoped = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const scopedErrors = watch(scoped);
  await scoped.goto(base + "/?token=" + officeToken, { waitUntil: "load" });
  await scoped.waitForFunction(() => document.querySelectorAll("#ranking tr").length === 1,
                               null, { timeout: 30000 });
  check(true, "a scoped reader's ranking has its office only");
  await checkTokenPage(scoped, scopedErrors, check, "a scoped reader's viewer",
                       "viewer-scoped.png");
});
