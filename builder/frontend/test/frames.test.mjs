import assert from "node:assert/strict";
import { test } from "node:test";
import { figure, frameQuery, frameRange, percent, zonedMidnight } from "../src/frames.js";

const NOW = Date.UTC(2026, 11, 3, 8, 30); // 2026-12-03 08:30 UTC

test("today starts at the project's midnight, in its time zone", () => {
  assert.deepEqual(frameRange("today", { timeZone: "UTC", now: NOW }), { from: "2026-12-03T00:00:00Z" });
  // 08:30 UTC is 09:30 in Paris (UTC+1 in winter): its day began at 23:00 UTC the day before.
  assert.deepEqual(frameRange("today", { timeZone: "Europe/Paris", now: NOW }), { from: "2026-12-02T23:00:00Z" });
  // 08:30 UTC is 00:30 on the 3rd in Los Angeles (UTC-8); 07:30 UTC is still the 2nd there.
  assert.deepEqual(frameRange("today", { timeZone: "America/Los_Angeles", now: NOW }), { from: "2026-12-03T08:00:00Z" });
  assert.deepEqual(frameRange("today", { timeZone: "America/Los_Angeles", now: NOW - 3600e3 }), { from: "2026-12-02T08:00:00Z" });
});

test("7 and 30 days include today; all time has no bounds", () => {
  assert.deepEqual(frameRange("7d", { timeZone: "UTC", now: NOW }), { from: "2026-11-27T00:00:00Z" });
  assert.deepEqual(frameRange("30d", { timeZone: "UTC", now: NOW }), { from: "2026-11-04T00:00:00Z" });
  assert.deepEqual(frameRange("all", { now: NOW }), {});
});

test("a custom frame includes its whole last day and refuses dates out of order", () => {
  assert.deepEqual(frameRange("custom", { from: "2026-11-28", to: "2026-11-28", timeZone: "UTC", now: NOW }), {
    from: "2026-11-28T00:00:00Z",
    to: "2026-11-29T00:00:00Z",
  });
  assert.deepEqual(frameRange("custom", { from: "2026-11-28", timeZone: "UTC", now: NOW }), { from: "2026-11-28T00:00:00Z" });
  assert.match(frameRange("custom", { from: "2026-11-28", to: "2026-11-01", now: NOW }).error, /before/);
  assert.match(frameRange("custom", { from: "28/11/2026", now: NOW }).error, /not a date/);
});

test("midnight across a daylight saving change", () => {
  // Paris switched to summer time on 2026-03-29 at 02:00: that day began at 23:00 UTC, the next at 22:00.
  assert.equal(new Date(zonedMidnight("Europe/Paris", 2026, 3, 29)).toISOString(), "2026-03-28T23:00:00.000Z");
  assert.equal(new Date(zonedMidnight("Europe/Paris", 2026, 3, 30)).toISOString(), "2026-03-29T22:00:00.000Z");
});

test("query strings and figures", () => {
  assert.equal(frameQuery({}), "");
  assert.equal(frameQuery({ from: "2026-11-28T00:00:00Z" }), "?from=2026-11-28T00%3A00%3A00Z");
  assert.equal(figure(null), "—");
  assert.equal(figure(1234), "1,234");
  assert.equal(percent(null), "—");
  assert.equal(percent(33.33), "33.33 %");
  assert.equal(percent(0), "0 %");
});
