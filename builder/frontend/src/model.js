// The definition <-> canvas model, durations, summaries and the connection rules.

export const ENTRY_HANDLE = "next";
export const NEXT_HANDLE = "next";
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

// --- durations -----------------------------------------------------------------------------
export const UNITS = [
  ["minutes", 60],
  ["hours", 3600],
  ["days", 86400],
  ["weeks", 604800],
];

/** Seconds of an ISO 8601 duration or integer (null when it cannot be read). */
export function durationSeconds(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value;
  const m = /^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(String(value).trim());
  if (!m) return null;
  const [, neg, w, d, h, mi, s] = m;
  const total = (+w || 0) * 604800 + (+d || 0) * 86400 + (+h || 0) * 3600 + (+mi || 0) * 60 + (+s || 0);
  return neg ? -total : total;
}

/** The best (amount, unit) for a number of seconds. */
export function splitDuration(seconds) {
  const abs = Math.abs(seconds);
  for (let i = UNITS.length - 1; i >= 0; i--) {
    const [unit, size] = UNITS[i];
    if (abs >= size && abs % size === 0) return { amount: abs / size, unit };
  }
  if (abs % 60 === 0) return { amount: abs / 60, unit: "minutes" };
  return { amount: abs / 60, unit: "minutes" };
}

export function isoDuration(amount, unit, negative = false) {
  const n = Math.max(0, Math.round(Number(amount) || 0));
  const sign = negative ? "-" : "";
  if (unit === "minutes") return `${sign}PT${n}M`;
  if (unit === "hours") return `${sign}PT${n}H`;
  if (unit === "weeks") return `${sign}P${n * 7}D`;
  return `${sign}P${n}D`;
}

export function describeDuration(value) {
  const s = durationSeconds(value);
  if (s === null) return value ? String(value) : "";
  if (s === 0) return "0 minutes";
  const { amount, unit } = splitDuration(s);
  const word = amount === 1 ? unit.replace(/s$/, "") : unit;
  return `${amount} ${word}`;
}

// --- labels and summaries ----------------------------------------------------------------
const FIELD_LABELS = {
  event: "Event",
  where: "Event filters",
  within: "Within",
  not_event: "Event not done",
  not_where: "Filters on the event not done",
  window_days: "Days to look back",
  match: "Match",
  conditions: "Conditions",
  evaluate: "Evaluate",
  property: "Profile property",
  offset: "Offset",
  journey: "Journey",
  node: "Block of that journey",
  url: "URL",
  referrer: "Referrer",
  count: "Pages viewed",
  scope: "Scope",
  title: "Title",
  body: "Body",
  subject: "Subject",
  html: "HTML",
  text: "Plain text",
  button_text: "Button text",
  button_url: "Button URL",
  expires_after: "Expires after",
  method: "Method",
  headers: "Headers",
  duration: "Wait for",
};

export function fieldLabel(field) {
  if (field.label) return field.label;
  if (FIELD_LABELS[field.name]) return FIELD_LABELS[field.name];
  const words = field.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const OP_WORDS = {
  eq: "is",
  neq: "is not",
  gt: "more than",
  gte: "at least",
  lt: "less than",
  lte: "at most",
  in: "is one of",
  not_in: "is none of",
  contains: "contains",
  not_contains: "does not contain",
  starts_with: "starts with",
  ends_with: "ends with",
  exists: "is set",
  not_exists: "is not set",
};

function times(count) {
  const op = count?.op || "gte";
  const n = count?.value ?? 1;
  if (op === "gte" && n === 1) return "at least once";
  return `${OP_WORDS[op] || op} ${n} time${n === 1 ? "" : "s"}`;
}

function filtersText(where) {
  if (!Array.isArray(where) || !where.length) return "";
  return ` where ${where.map((f) => `${f.property} ${OP_WORDS[f.op] || f.op}${f.value !== undefined && f.value !== null ? ` ${Array.isArray(f.value) ? f.value.join(", ") : f.value}` : ""}`).join(" and ")}`;
}

/** One line saying what a block does ("Charged, at least once in 1 day"). */
export function summarize(block, kind) {
  if (!block || !kind) return "";
  const t = block.type;
  const within = block.within ? ` within ${describeDuration(block.within)}` : "";
  switch (t) {
    case "action":
      return block.event ? `${block.event}${filtersText(block.where)}${within}` : "Choose an event";
    case "inaction":
      return block.not_event
        ? `${block.event ? `${block.event}, then ` : ""}no ${block.not_event}${within}`
        : "Choose the event not done";
    case "past_behaviour": {
      const conds = Array.isArray(block.conditions) ? block.conditions : [];
      if (!conds.length) return "Add a condition";
      const parts = conds.map((c) => {
        if (c.kind === "did") return `${c.event || "?"}, ${c.sum ? `sum of ${c.sum.property} ${OP_WORDS[c.sum.op] || c.sum.op} ${c.sum.value}` : times(c.count)}`;
        if (c.kind === "did_not") return `not ${c.event || "?"}`;
        if (c.kind === "profile") return `${c.property} ${OP_WORDS[c.op] || c.op} ${c.value ?? ""}`.trim();
        return "?";
      });
      const days = block.window_days ? ` in ${block.window_days} day${block.window_days === 1 ? "" : "s"}` : "";
      return parts.join(block.match === "any" ? " or " : " and ") + days;
    }
    case "date_time": {
      if (!block.property) return "Choose a date property";
      const s = durationSeconds(block.offset) || 0;
      if (!s) return `On ${block.property}`;
      return `${describeDuration(Math.abs(s))} ${s < 0 ? "before" : "after"} ${block.property}`;
    }
    case "delay":
      return block.duration ? `Wait ${describeDuration(block.duration)}` : "Set how long";
    case "email":
      return block.subject ? `“${block.subject}”` : "Write the subject";
    case "sms":
      return block.body ? `“${block.body}”` : "Write the text";
    case "webhook":
      return block.url ? `${block.method || "POST"} ${block.url}` : "Set the URL";
    case "page_visit":
      return block.url ? `URL ${OP_WORDS[block.url.op] || block.url.op} ${block.url.value ?? ""}${within}` : "Set the page";
    case "referrer_entry":
      return block.referrer ? `Referrer ${OP_WORDS[block.referrer.op] || block.referrer.op} ${block.referrer.value ?? ""}` : "Set the referrer";
    case "page_count":
      return block.count ? `${OP_WORDS[block.count.op] || block.count.op} ${block.count.value} pages` : "Set the count";
    case "split": {
      const rows = Array.isArray(block.branches) ? block.branches : [];
      return rows.map((b) => `${b.name} ${b.percent ?? 0}%${b.holdout ? " (holdout)" : ""}`).join(" · ");
    }
    case "journey_trigger":
      return block.journey ? `Journey ${block.journey}, block ${block.node || "?"}` : "Choose a journey";
    default:
      break;
  }
  if (kind.category === "message") {
    const text = block.title || block.body || block.subject;
    return text ? `“${text}”` : "Write the message";
  }
  // A kind the canvas has no words for: its first fields' values.
  const shown = (kind.fields || [])
    .map((f) => block[f.name])
    .filter((v) => v !== undefined && v !== null && v !== "" && typeof v !== "object")
    .slice(0, 2);
  return shown.join(", ");
}

// --- branches ------------------------------------------------------------------------------
/** The source handles of a block: [{id, name}] (one unnamed way out when it has no branches). */
export function outHandles(block, kind, isEntry) {
  if (isEntry || !kind) return [{ id: NEXT_HANDLE, name: "next" }];
  if (kind.branches_from) {
    const raw = block[kind.branches_from];
    const names = Array.isArray(raw)
      ? raw.map((b) => (typeof b === "string" ? b : b?.name)).filter(Boolean)
      : raw && typeof raw === "object"
        ? Object.keys(raw)
        : [];
    return names.map((n, i) => ({ id: n, name: n, holdout: !!(Array.isArray(raw) && raw[i]?.holdout) }));
  }
  if (kind.branches && kind.branches.length) return kind.branches.map((b) => ({ id: b, name: b }));
  return [{ id: NEXT_HANDLE, name: "next" }];
}

// --- ids ------------------------------------------------------------------------------------
export function newId(type, taken) {
  const base = type.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 50) || "block";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}

export function validId(id) {
  return ID_RE.test(id);
}

// --- definition <-> flow ---------------------------------------------------------------------
export function defaultsFor(kind) {
  const out = {};
  for (const f of kind.fields || []) {
    if (f.default !== null && f.default !== undefined) out[f.name] = f.default;
  }
  if (kind.branches_from) {
    out[kind.branches_from] = [
      { name: "a", percent: 50 },
      { name: "b", percent: 50 },
    ];
  }
  if (kind.type === "past_behaviour") {
    out.window_days = 1;
    out.conditions = [{ kind: "did", event: "" }];
  }
  return out;
}

export function toFlow(definition) {
  const def = definition || {};
  const layout = def.layout || {};
  const nodes = [];
  const blocks = [];
  if (def.entry) blocks.push([def.entry, true]);
  for (const n of def.nodes || []) blocks.push([n, false]);
  blocks.forEach(([block, isEntry], i) => {
    if (!block || typeof block !== "object") return;
    const pos = layout[block.id] || { x: 80 + (i % 4) * 300, y: 80 + Math.floor(i / 4) * 180 };
    nodes.push({
      id: block.id,
      type: "block",
      position: { x: Number(pos.x) || 0, y: Number(pos.y) || 0 },
      data: { block, isEntry },
      deletable: true,
    });
  });
  const edges = (def.edges || []).map((e) => edgeFor(e.from, e.to, def.entry && e.from === def.entry.id ? NEXT_HANDLE : e.branch || NEXT_HANDLE));
  return { nodes, edges };
}

export function edgeFor(source, target, handle) {
  const h = handle || NEXT_HANDLE;
  return {
    id: `e:${source}:${h}:${target}`,
    source,
    target,
    sourceHandle: h,
    targetHandle: "in",
    label: h === NEXT_HANDLE ? undefined : h,
    type: "smoothstep",
    className: h === "no" ? "edge-no" : h === "yes" ? "edge-yes" : undefined,
  };
}

/** The definition the API takes, from the canvas (order: entry, then nodes as on the canvas). */
export function toDefinition(nodes, edges, extra) {
  const entryNode = nodes.find((n) => n.data.isEntry);
  const layout = {};
  for (const n of nodes) layout[n.id] = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
  const clean = (b, id) => {
    const out = { ...b, id };
    if (!out.label) delete out.label;
    return out;
  };
  return {
    settings: extra.settings || {},
    entry: entryNode ? clean(entryNode.data.block, entryNode.id) : null,
    nodes: nodes.filter((n) => !n.data.isEntry).map((n) => clean(n.data.block, n.id)),
    edges: edges.map((e) => {
      const out = { from: e.source, to: e.target };
      if (e.sourceHandle && e.sourceHandle !== NEXT_HANDLE && !(entryNode && e.source === entryNode.id)) out.branch = e.sourceHandle;
      return out;
    }),
    goals: extra.goals || [],
    layout,
  };
}

/** Why a connection is refused by the definition rules, or null when it is allowed. */
export function connectionProblem(conn, nodes, edges, kinds) {
  const { source, target } = conn;
  const handle = conn.sourceHandle || NEXT_HANDLE;
  if (!source || !target) return "Drop the line on a block's input";
  if (source === target) return "A block cannot lead to itself";
  const targetNode = nodes.find((n) => n.id === target);
  if (!targetNode) return "Unknown block";
  if (targetNode.data.isEntry) return "Nothing can lead to the entry block: it is where users start";
  const sourceNode = nodes.find((n) => n.id === source);
  if (!sourceNode) return "Unknown block";
  const out0 = outHandles(sourceNode.data.block, kinds?.[sourceNode.data.block.type], sourceNode.data.isEntry).find((h) => h.id === handle);
  if (out0?.holdout) return `Branch '${handle}' is the holdout: its users get none of what follows`;
  const taken = edges.find((e) => e.source === source && (e.sourceHandle || NEXT_HANDLE) === handle);
  if (taken) {
    if (taken.target === target) return "These blocks are already connected";
    return handle === NEXT_HANDLE
      ? "This block already leads to another block; a message or delay has one next block"
      : `The '${handle}' path already leads to another block`;
  }
  // A path back to an earlier block would loop.
  const out = new Map();
  for (const e of edges) {
    if (!out.has(e.source)) out.set(e.source, []);
    out.get(e.source).push(e.target);
  }
  const todo = [target];
  const seen = new Set();
  while (todo.length) {
    const id = todo.pop();
    if (id === source) return "This would make a loop: a journey cannot go back to an earlier block";
    if (seen.has(id)) continue;
    seen.add(id);
    for (const t of out.get(id) || []) todo.push(t);
  }
  return null;
}

/** Which canvas block (or panel) an API error path concerns. */
export function errorTarget(path, sent) {
  const m = /^(entry|nodes\[(\d+)\]|edges\[(\d+)\]|goals\[(\d+)\]|settings)/.exec(path || "");
  if (!m) return { where: "journey" };
  if (m[1] === "entry") return { where: "block", id: sent?.entry?.id };
  if (m[2] !== undefined) return { where: "block", id: sent?.nodes?.[+m[2]]?.id };
  if (m[3] !== undefined) {
    const e = sent?.edges?.[+m[3]];
    return { where: "edge", id: e ? e.from : undefined, edge: e };
  }
  if (m[4] !== undefined) return { where: "settings" };
  return { where: "settings" };
}
