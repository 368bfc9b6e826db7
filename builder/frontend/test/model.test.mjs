// The canvas model without a browser: durations, summaries, connection rules, definitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  connectionProblem,
  describeDuration,
  durationSeconds,
  edgeFor,
  errorTarget,
  isoDuration,
  outHandles,
  summarize,
  toDefinition,
  toFlow,
} from "../src/model.js";

const kinds = {
  action: { type: "action", label: "Action", category: "segment", entry: true, inside: true, branches: ["yes", "no"], fields: [] },
  delay: { type: "delay", label: "Delay", category: "flow", entry: false, inside: true, branches: [], fields: [] },
  past_behaviour: { type: "past_behaviour", label: "Past Behaviour", category: "segment", branches: ["yes", "no"], fields: [] },
  split: { type: "split", label: "Split", category: "flow", branches: [], branches_from: "branches", fields: [] },
};

function flow() {
  return toFlow({
    entry: { id: "entry", type: "action", event: "Added To Cart" },
    nodes: [
      { id: "wait", type: "delay", duration: "PT1H" },
      { id: "paid", type: "past_behaviour", window_days: 1, conditions: [{ kind: "did", event: "Charged" }] },
      { id: "mail", type: "delay", duration: "P1D" },
      { id: "ab", type: "split", branches: [{ name: "a", percent: 90 }, { name: "rest", percent: 10, holdout: true }] },
    ],
    edges: [
      { from: "entry", to: "wait" },
      { from: "wait", to: "paid" },
      { from: "paid", to: "mail", branch: "no" },
    ],
    layout: { entry: { x: 1, y: 2 } },
  });
}

test("durations read ISO 8601 and seconds, and are written in the largest whole unit", () => {
  assert.equal(durationSeconds("PT1H"), 3600);
  assert.equal(durationSeconds("P1DT2H"), 93600);
  assert.equal(durationSeconds("-PT2H"), -7200);
  assert.equal(durationSeconds(90), 90);
  assert.equal(durationSeconds("soon"), null);
  assert.equal(isoDuration(2, "hours"), "PT2H");
  assert.equal(isoDuration(1, "weeks"), "P7D");
  assert.equal(isoDuration(3, "minutes", true), "-PT3M");
  assert.equal(describeDuration("P1D"), "1 day");
  assert.equal(describeDuration("PT90M"), "90 minutes");
});

test("a block's summary says what it does", () => {
  const { nodes } = flow();
  const paid = nodes.find((n) => n.id === "paid").data.block;
  assert.equal(summarize(paid, kinds.past_behaviour), "Charged, at least once in 1 day");
  assert.equal(summarize({ type: "delay", duration: "PT1H" }, kinds.delay), "Wait 1 hour");
  assert.equal(
    summarize({ type: "action", event: "Added To Cart", where: [{ property: "price", op: "gte", value: 50 }] }, kinds.action),
    "Added To Cart where price at least 50",
  );
});

test("the entry has one way out, segment blocks yes and no, a split one per branch", () => {
  assert.deepEqual(outHandles({}, kinds.action, true).map((h) => h.id), ["next"]);
  assert.deepEqual(outHandles({}, kinds.action, false).map((h) => h.id), ["yes", "no"]);
  assert.deepEqual(outHandles({}, kinds.delay, false).map((h) => h.id), ["next"]);
  const split = outHandles({ branches: [{ name: "a" }, { name: "b", holdout: true }] }, kinds.split, false);
  assert.deepEqual(split.map((h) => [h.id, h.holdout]), [["a", false], ["b", true]]);
});

test("connections the definition rules forbid are refused with the reason", () => {
  const { nodes, edges } = flow();
  const problem = (source, sourceHandle, target) => connectionProblem({ source, sourceHandle, target }, nodes, edges, kinds);
  assert.match(problem("wait", "next", "entry"), /Nothing can lead to the entry/);
  assert.match(problem("wait", "next", "wait"), /cannot lead to itself/);
  assert.match(problem("mail", "next", "wait"), /loop/);
  assert.match(problem("paid", "no", "ab"), /'no' path already leads/);
  assert.match(problem("wait", "next", "ab"), /already leads to another block/);
  assert.match(problem("ab", "rest", "mail"), /holdout/);
  assert.equal(problem("paid", "yes", "ab"), null);
  assert.equal(problem("ab", "a", "mail"), null);
});

test("the canvas round-trips to the definition the API takes", () => {
  const { nodes, edges } = flow();
  const def = toDefinition(nodes, [...edges, edgeFor("paid", "ab", "yes")], { settings: { allow_reentry: true }, goals: [] });
  assert.equal(def.entry.id, "entry");
  assert.deepEqual(def.nodes.map((n) => n.id), ["wait", "paid", "mail", "ab"]);
  assert.deepEqual(def.edges, [
    { from: "entry", to: "wait" },
    { from: "wait", to: "paid" },
    { from: "paid", to: "mail", branch: "no" },
    { from: "paid", to: "ab", branch: "yes" },
  ]);
  assert.deepEqual(def.layout.entry, { x: 1, y: 2 });
  assert.deepEqual(def.settings, { allow_reentry: true });
});

test("API error paths point at the block they concern", () => {
  const sent = { entry: { id: "entry" }, nodes: [{ id: "wait" }, { id: "paid" }], edges: [{ from: "wait", to: "paid" }] };
  assert.deepEqual(errorTarget("nodes[1].conditions[0].event", sent), { where: "block", id: "paid" });
  assert.deepEqual(errorTarget("entry.event", sent), { where: "block", id: "entry" });
  assert.equal(errorTarget("edges[0].branch", sent).id, "wait");
  assert.equal(errorTarget("goals[0].event", sent).where, "settings");
  assert.equal(errorTarget("", sent).where, "journey");
});
