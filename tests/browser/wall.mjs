// SPDX-License-Identifier: Apache-2.0
// Headless Chromium drives the command-center wall of a real `hutong serve`
// at 1920×1080 and 7680×2160: the dark map and the heat load, the KPI card,
// the ranking and the live feed fill in, refreshing swaps layers without
// piling them up, an incident POSTed to the API shows in the feed within
// 2 s, nothing is logged as an error, and a street office's wall (its
// reader's token) shows its own area.
import { join } from "node:path";
import { checkTokenPage, run, shots, tilesLoaded } from "./harness.mjs";

await run(async ({ base, browser, check, watch, token, officeToken }) => {
  for (const [w, h] of [[1920, 1080], [7680, 2160]]) {
    const page = await browser.newPage({ viewport: { width: w, height: h } });
    const errors = watch(page);
    await page.goto(base + "/wall", { waitUntil: "load" });
    await page.waitForFunction(() =>
      document.querySelectorAll("#ranking tr").length === 10 &&
      document.querySelectorAll("#feed li").length === 30 &&
      /%$/.test(document.getElementById("k-resol").textContent), null, { timeout: 60000 });
    check(true, `${w}x${h}: KPIs, ranking and the live feed filled in`);
    await tilesLoaded(page);
    const tiles = await page.$$eval("img.leaflet-tile-loaded", (a) => a.map((i) => i.src));
    check(tiles.some((s) => s.includes("/tiles/wall/")) &&
          tiles.some((s) => s.includes("/tiles/heatrate/") && s.includes("window=24h")),
          `${w}x${h}: dark base and 24 h heat tiles loaded`);
    check(w < 3000 || tiles.every((s) => s.includes("@2x")),
          `${w}x${h}: high-resolution tiles on a large wall`);
    await page.screenshot({ path: join(shots, `wall-${w}x${h}.png`) });
    // Refresh a few times: the old heat layer leaves once the new loads,
    // the feed replaces its rows.
    for (let k = 0; k < 3; k++) {
      await page.evaluate(() => { refreshHeat(); return refreshFeed(); });
      await page.waitForTimeout(400);
    }
    await tilesLoaded(page);
    await page.waitForTimeout(300);
    const layers = await page.$$eval(".leaflet-tile-pane .leaflet-layer", (a) =>
      a.map((l) => ({ z: Number(l.style.zIndex),
                      src: (l.querySelector("img") || {}).src || "" })));
    check(layers.length === 3,
          `${w}x${h}: after refreshes, base + one heat layer + labels (${layers.length})`);
    const top = layers.reduce((a, b) => (b.z > a.z ? b : a), layers[0]);
    check(top.src.includes("/tiles/wall-labels/"),
          `${w}x${h}: the names lie over the heat (${top.src})`);
    check(await page.$$eval("#feed li", (a) => a.length) === 30, `${w}x${h}: feed holds 30 rows`);
    if (w === 1920) {
      // A new incident, reported now, reaches the wall within 2 s.
      const csv = "id,lon,lat,category,severity,source,status,reported_at\n" +
        `wall-live-1,116.4100,39.9150,0202,3,whistle,reported,${new Date().toISOString()}\n`;
      const posted = Date.now();
      const r = await fetch(base + "/api/incidents", {
        method: "POST", body: csv,
        headers: { "Authorization": "Bearer " + token, "Content-Type": "text/csv" } });
      const j = await r.json();
      check(r.status === 201 && j.ids.length === 1, "incident POSTed: " + JSON.stringify(j));
      const id = String(j.ids[0]);
      await page.waitForFunction((want) =>
        [...document.querySelectorAll("#feed li")].some((li) => li.dataset.id === want),
        id, { timeout: 5000 });
      const took = Date.now() - posted;
      check(took <= 2000, `the new incident showed on the wall after ${took} ms`);
      await page.screenshot({ path: join(shots, "wall-live.png") });
    }
    check(errors.length === 0, `${w}x${h}: no console errors or failed requests` +
          (errors.length ? ": " + errors.slice(0, 5).join("; ") : ""));
    await page.close();
  }

  // A street office's own wall: its token goes with every request, the
  // ranking holds its office, the feed its incidents only.
  const office = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const officeErrors = watch(office);
  await office.goto(base + "/wall?token=" + officeToken, { waitUntil: "load" });
  await office.waitForFunction(() =>
    document.querySelectorAll("#ranking tr").length === 1 &&
    document.querySelectorAll("#feed li").length > 0, null, { timeout: 60000 });
  check(true, "an office's wall: ranking of its office, feed filled in");
  await checkTokenPage(office, officeErrors, check, "an office's wall", "wall-office.png");
  await office.close();
});
