// Time frames for the stats overlay: presets and custom dates, as UTC instants of the project's days.

export const PRESETS = [
  ["today", "Today"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["all", "All time"],
  ["custom", "Custom dates"],
];

function parts(timeZone, t) {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return { y: +p.year, m: +p.month, d: +p.day, h: +p.hour % 24, min: +p.minute, s: +p.second };
}

// Milliseconds the zone is ahead of UTC at instant t.
export function zoneOffset(timeZone, t) {
  const p = parts(timeZone, t);
  const asUtc = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s);
  return asUtc - Math.floor(t / 1000) * 1000;
}

// The UTC instant (ms) of 00:00 on day y-m-d in the zone (DST-safe: the offset is checked twice).
export function zonedMidnight(timeZone, y, m, d) {
  const guess = Date.UTC(y, m - 1, d);
  let t = guess - zoneOffset(timeZone, guess);
  t = guess - zoneOffset(timeZone, t);
  return t;
}

// Today's date in the zone as [y, m, d].
export function zonedToday(timeZone, now = Date.now()) {
  const p = parts(timeZone, now);
  return [p.y, p.m, p.d];
}

function addDays([y, m, d], n) {
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()];
}

function parseDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
  return m ? [+m[1], +m[2], +m[3]] : null;
}

const iso = (t) => new Date(t).toISOString().replace(".000Z", "Z");

// {from, to} (ISO UTC strings, either may be absent) for a preset, or {error} for bad custom dates.
// "Last 7 days" is today and the 6 days before it; a custom "to" date includes that whole day.
export function frameRange(preset, { from = "", to = "", timeZone = "UTC", now = Date.now() } = {}) {
  const tz = timeZone || "UTC";
  const today = zonedToday(tz, now);
  const start = (day) => iso(zonedMidnight(tz, ...day));
  if (preset === "today") return { from: start(today) };
  if (preset === "7d") return { from: start(addDays(today, -6)) };
  if (preset === "30d") return { from: start(addDays(today, -29)) };
  if (preset === "custom") {
    const f = parseDate(from);
    const t = parseDate(to);
    if (from && !f) return { error: "The From date is not a date." };
    if (to && !t) return { error: "The To date is not a date." };
    if (f && t && start(t) < start(f)) return { error: "The To date is before the From date." };
    const out = {};
    if (f) out.from = start(f);
    if (t) out.to = start(addDays(t, 1));
    return out;
  }
  return {};
}

export function frameQuery(range) {
  const q = new URLSearchParams();
  if (range.from) q.set("from", range.from);
  if (range.to) q.set("to", range.to);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// "—" for a figure the journey does not have (null), else the number with thousands separators.
export function figure(v) {
  if (v === null || v === undefined) return "—";
  return typeof v === "number" ? v.toLocaleString("en-US") : String(v);
}

export function percent(v) {
  if (v === null || v === undefined) return "—";
  return `${v.toLocaleString("en-US", { maximumFractionDigits: 2 })} %`;
}
