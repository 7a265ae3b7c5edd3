// SPDX-License-Identifier: Apache-2.0
// The closed loop on the command-center wall, on a server whose clock the
// test sets (the demo ends on 18 June 2026, the server reads 03:00 UTC that
// day): the panel of the worst five departments by this month's on-time
// resolution, with their change against last month and their incidents
// late now, equals what the API says; the count of incidents late now;
// the feed's late incidents pulse; and when the clock passes the deadline
// of an incident reported a week ago, the wall hears "overdue" and puts it
// at the head of the feed, flashing, with the count raised.
import { join } from "node:path";
import { run } from "./harness.mjs";

const T0 = "2026-06-18T03:00:00Z";
const at = (ms) => new Date(Date.parse(T0) + ms).toISOString().replace(".000Z", "Z");
const H = 3600 * 1000;

await run(async ({ base, browser, check, watch, token, setClock }) => {
  const api = async (path) => {
    const r = await fetch(base + path);
    const j = await r.json();
    if (!r.ok) throw new Error(path + ": " + j.message);
    return j;
  };
  // An incident of a category with 7 days to resolve (0202: 24 h / 168 h),
  // reported 167 h 40 min before the clock and dispatched: it turns late 20
  // minutes after it, and is older than the feed's newest 30.
  // And an emergency (0401: 0.5 h / 2 h) reported 3 h ago, dispatched: late
  // now, and among the newest.
  const csv = "id,lon,lat,category,severity,source,status,reported_at\n" +
    `loop-late-1,116.4105,39.9152,0202,3,hotline,dispatched,${at(-(167 * H + 40 * 60 * 1000))}\n` +
    `loop-late-2,116.4005,39.9252,0401,2,patrol,dispatched,${at(-3 * H)}\n`;
  const r = await fetch(base + "/api/incidents", {
    method: "POST", body: csv,
    headers: { "Authorization": "Bearer " + token, "Content-Type": "text/csv" } });
  const posted = await r.json();
  check(r.status === 201 && posted.ids.length === 2, "incidents POSTed: " + JSON.stringify(posted));
  const id = String(posted.ids[0]);

  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = watch(page);
  await page.goto(base + "/wall", { waitUntil: "load" });
  await page.waitForFunction(() =>
    document.querySelectorAll("#depts tr[data-key]").length > 0 &&
    /^\d+$/.test(document.getElementById("k-overdue").textContent) &&
    document.querySelectorAll("#feed li").length === 30, null, { timeout: 60000 });

  // The panel against the API, for the month the page shows.
  const shown = await page.$eval("#depts", (t) => ({
    month: t.dataset.month, from: t.dataset.from, to: t.dataset.to,
    rows: [...t.querySelectorAll("tr[data-key]")].map((tr) => ({
      key: tr.dataset.key, rate: Number(tr.dataset.rate),
      trend: tr.dataset.trend === "" ? null : Number(tr.dataset.trend),
      text: tr.textContent })) }));
  check(shown.month === "this" && shown.from === "2026-06-01T00:00:00Z" &&
        shown.to === "2026-06-18T03:00:00Z",
        `the panel shows this month by the server's clock (${shown.from} – ${shown.to})`);
  const q = (from, to) => `/api/stats?by=department&from=${encodeURIComponent(from)}` +
    `&to=${encodeURIComponent(to)}`;
  const [month, last, late] = await Promise.all([
    api(q(shown.from, shown.to)), api(q("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z")),
    api("/api/stats?by=department&overdue=1")]);
  const rate = (row) => row.counts.resolution_on_time / row.counts.resolution_decided;
  const want = month.rows.filter((x) => x.counts.resolution_decided >= 3)
    .map((x) => ({ key: x.key, rate: rate(x),
                   late: x.counts.resolution_decided - x.counts.resolution_on_time }))
    .sort((a, b) => a.rate - b.rate || b.late - a.late || (a.key < b.key ? -1 : 1))
    .slice(0, 5);
  check(want.length === 5 && shown.rows.length === 5 &&
        want.every((w, i) => w.key === shown.rows[i].key &&
                             Math.abs(w.rate - shown.rows[i].rate) < 1e-9),
        "the worst five by on-time resolution, in order: " +
        shown.rows.map((x) => x.key + " " + (100 * x.rate).toFixed(1)).join(", "));
  check(want.every((w, i) => shown.rows[i].text.includes((100 * w.rate).toFixed(1) + "%")),
        "each with its rate written");
  const before = Object.fromEntries(last.rows.filter((x) => x.counts.resolution_decided)
    .map((x) => [x.key, rate(x)]));
  check(shown.rows.every((x) => before[x.key] === undefined ? x.trend === null
                         : Math.abs(x.trend - 100 * (x.rate - before[x.key])) < 1e-6),
        "each with its change against May in points: " +
        shown.rows.map((x) => x.trend === null ? "new" : x.trend.toFixed(1)).join(", "));
  const lateBy = Object.fromEntries(late.rows.map((x) => [x.key, x.count]));
  check(shown.rows.every((x) => lateBy[x.key] ? x.text.includes(lateBy[x.key] + " 超时")
                                              : !x.text.includes("超时")),
        "each with its incidents late now");
  const overdue0 = Number(await page.$eval("#k-overdue", (b) => b.textContent));
  check(overdue0 === late.total && late.total > 0, `incidents late now: ${overdue0}`);

  // The feed's late incidents are the API's, and pulse.
  const feed = await api("/api/incidents?limit=30");
  const lateIds = feed.features.filter((f) => f.properties.overdue).map((f) => String(f.id));
  const flashing = await page.$$eval("#feed li.late", (a) => a.map((li) => ({
    id: li.dataset.id, anim: getComputedStyle(li).animationName,
    badge: (li.querySelector(".badge") || {}).textContent || "" })));
  check(lateIds.includes(String(posted.ids[1])) && flashing.length === lateIds.length &&
        flashing.every((f) => lateIds.includes(f.id) && f.anim === "late" &&
                              f.badge.startsWith("超时")),
        `the feed's ${lateIds.length} late incidents pulse, badged`);
  check(!flashing.some((f) => f.id === id), "the week-old incident is not in the feed yet");
  await page.screenshot({ path: join(process.env.HUTONG_SCREENSHOT_DIR || ".", "wall-loop.png") });

  // Time passes its deadline: no write, an "overdue" event, and the wall
  // leads its feed with it.
  setClock(at(21 * 60 * 1000));
  const t = Date.now();
  await page.waitForFunction((want) => {
    const li = document.querySelector("#feed li");
    return li && li.dataset.id === want && li.classList.contains("late");
  }, id, { timeout: 30000 }).catch(() => {});
  const head = await page.$eval("#feed li", (li) => ({
    id: li.dataset.id, late: li.classList.contains("late"),
    text: li.textContent, anim: getComputedStyle(li).animationName }));
  // 21 min past the clock, 1 min past its deadline: "late", not hours.
  check(head.id === id && head.late && head.anim === "late" && head.text.includes("超时 late"),
        `the incident that just turned late leads the feed, flashing, after ${Date.now() - t} ms` +
        ` (${JSON.stringify(head)})`);
  check(await page.$$eval("#feed li", (a) => a.length) === 30, "the feed still holds 30 rows");
  await page.waitForFunction((n) =>
    Number(document.getElementById("k-overdue").textContent) >= n, overdue0 + 1,
  { timeout: 30000 }).catch(() => {});
  const overdue1 = Number(await page.$eval("#k-overdue", (b) => b.textContent));
  check(overdue1 >= overdue0 + 1, `the count of late incidents rose: ${overdue0} → ${overdue1}`);
  await page.screenshot({ path: join(process.env.HUTONG_SCREENSHOT_DIR || ".", "wall-loop-late.png") });
  check(errors.length === 0, "no console errors or failed requests" +
        (errors.length ? ": " + errors.slice(0, 5).join("; ") : ""));
  await page.close();
}, { clock: T0 });
