// The journey canvas: palette, React Flow board, side panel, toolbar, autosave and lifecycle.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  useNodesInitialized,
  useReactFlow,
} from "@xyflow/react";
import dagre from "@dagrejs/dagre";
import { call } from "./api.js";
import { BlockNode } from "./BlockNode.jsx";
import { Dialog } from "./Dialog.jsx";
import { BlockForm, JourneySettings } from "./panels.jsx";
import { frameQuery, frameRange } from "./frames.js";
import { StatsBar } from "./stats.jsx";
import {
  NEXT_HANDLE,
  connectionProblem,
  defaultsFor,
  edgeFor,
  errorTarget,
  newId,
  outHandles,
  toDefinition,
  toFlow,
} from "./model.js";

const nodeTypes = { block: BlockNode };
const GROUPS = [
  ["segment", "Segment"],
  ["message", "Engage"],
  ["flow", "Flow"],
];
const AUTOSAVE_MS = 1200;
const POLL_MS = 2000; // occupancy API while the socket is down
const STUCK_MS = 30000; // stuck users and the historical figures
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000]; // socket reconnects
const NODE_W = 240;
const NODE_H = 120; // with the stats line and a stuck flag

function strip(nodes, edges) {
  // Selection is not history: snapshots keep what the journey is, not what is selected.
  return {
    nodes: nodes.map(({ selected, dragging, ...n }) => n),
    edges: edges.map(({ selected, ...e }) => e),
  };
}

// The previous counts when nothing changed, so an unchanged poll re-renders nothing.
function sameCounts(prev, next) {
  const a = Object.keys(prev);
  if (a.length !== Object.keys(next).length) return next;
  return a.every((k) => prev[k] === next[k]) ? prev : next;
}

function isTyping(target) {
  const tag = target?.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target?.isContentEditable;
}

export function App({ boot }) {
  return (
    <ReactFlowProvider>
      <Builder boot={boot} />
    </ReactFlowProvider>
  );
}

function Builder({ boot }) {
  const kinds = useMemo(() => Object.fromEntries(boot.palette.map((k) => [k.type, k])), [boot.palette]);
  const initial = useMemo(() => toFlow(boot.journey.definition), [boot.journey.definition]);
  const [nodes, setNodes] = useState(initial.nodes);
  const [edges, setEdges] = useState(initial.edges);
  const [settings, setSettings] = useState(boot.journey.definition?.settings || {});
  const [goals, setGoals] = useState(boot.journey.definition?.goals || []);
  const [name, setName] = useState(boot.journey.name);
  const [journey, setJourney] = useState(boot.journey);
  const [errors, setErrors] = useState([]); // [{path, message}] from the API
  const [sentDef, setSentDef] = useState(null);
  const [saveState, setSaveState] = useState("saved"); // saved | dirty | saving | invalid | conflict | error
  const [notice, setNotice] = useState(null); // {kind, text}
  const [dialog, setDialog] = useState(null);
  const [panel, setPanel] = useState("block");
  const [occupancy, setOccupancy] = useState({});
  const [live, setLive] = useState("connecting"); // connecting | live | polling | stale
  const [frame, setFrame] = useState({ preset: "all", from: "", to: "" });
  const [stats, setStats] = useState(null);
  const [statsError, setStatsError] = useState(null);
  const [stuck, setStuck] = useState(null);
  const [suggestions, setSuggestions] = useState({ events: [], event_properties: {}, profile_properties: [] });
  const [journeys, setJourneys] = useState([]);
  const [history, setHistory] = useState({ past: [], future: [] });
  const [refusal, setRefusal] = useState(null);
  const clipboard = useRef(null);
  const savingRef = useRef(false);
  const [saveRound, setSaveRound] = useState(0);
  const lastRecord = useRef({ key: null, at: 0 });
  const dirtyCounter = useRef(0);
  const wrapper = useRef(null);
  const flow = useReactFlow();

  // "canvas-rendered": when the first blocks are drawn and measured (bench/canvas.py reads it).
  const drawn = useNodesInitialized();
  useEffect(() => {
    if (drawn && !performance.getEntriesByName("canvas-rendered").length) performance.mark("canvas-rendered");
  }, [drawn]);

  const status = journey.status;
  const readOnly = !boot.can_edit || status === "stopped";
  const isDraft = status === "draft";
  const liveish = status === "live" || status === "paused" || status === "scheduled";

  // --- history -------------------------------------------------------------------------
  const snapshot = useRef({ nodes, edges });
  snapshot.current = { nodes, edges };
  const record = useCallback((key = null) => {
    const now = Date.now();
    if (key && lastRecord.current.key === key && now - lastRecord.current.at < 1500) {
      lastRecord.current.at = now;
      return; // typing in one field is one step
    }
    lastRecord.current = { key, at: now };
    const snap = strip(snapshot.current.nodes, snapshot.current.edges);
    setHistory((h) => ({ past: [...h.past.slice(-99), snap], future: [] }));
  }, []);

  const markDirty = useCallback(() => {
    dirtyCounter.current += 1;
    setSaveState((s) => (s === "conflict" ? s : "dirty"));
  }, []);

  const restore = useCallback((snap) => {
    setNodes((current) => {
      const selected = new Set(current.filter((n) => n.selected).map((n) => n.id));
      return snap.nodes.map((n) => ({ ...n, selected: selected.has(n.id) }));
    });
    setEdges(snap.edges);
  }, []);

  const undo = useCallback(() => {
    setHistory((h) => {
      if (!h.past.length) return h;
      const prev = h.past[h.past.length - 1];
      const now = strip(snapshot.current.nodes, snapshot.current.edges);
      restore(prev);
      return { past: h.past.slice(0, -1), future: [now, ...h.future] };
    });
    lastRecord.current = { key: null, at: 0 };
    markDirty();
  }, [restore, markDirty]);

  const redo = useCallback(() => {
    setHistory((h) => {
      if (!h.future.length) return h;
      const next = h.future[0];
      const now = strip(snapshot.current.nodes, snapshot.current.edges);
      restore(next);
      return { past: [...h.past, now], future: h.future.slice(1) };
    });
    lastRecord.current = { key: null, at: 0 };
    markDirty();
  }, [restore, markDirty]);

  // --- the definition and its errors ---------------------------------------------------
  const definition = useCallback(
    () => toDefinition(snapshot.current.nodes, snapshot.current.edges, { settings: settingsRef.current, goals: goalsRef.current }),
    [],
  );
  const settingsRef = useRef(settings);
  settingsRef.current = settings;
  const goalsRef = useRef(goals);
  goalsRef.current = goals;
  const nameRef = useRef(name);
  nameRef.current = name;
  const journeyRef = useRef(journey);
  journeyRef.current = journey;

  const byBlock = useMemo(() => {
    const out = {};
    const general = [];
    for (const e of errors) {
      const t = errorTarget(e.path, sentDef);
      if ((t.where === "block" || t.where === "edge") && t.id) (out[t.id] = out[t.id] || []).push(e.message);
      else general.push(e);
    }
    return { out, general };
  }, [errors, sentDef]);

  // Notices go away by themselves (errors stay longer).
  useEffect(() => {
    if (!notice) return undefined;
    const timer = setTimeout(() => setNotice(null), notice.kind === "error" ? 8000 : 4000);
    return () => clearTimeout(timer);
  }, [notice]);

  // --- saving ---------------------------------------------------------------------------
  const saveDraft = useCallback(
    async ({ force = false } = {}) => {
      const def = definition();
      const counter = dirtyCounter.current;
      if (savingRef.current) return false; // one save at a time: the next one follows it
      setSentDef(def);
      if (!def.entry) {
        setErrors([{ path: "entry", message: "Add an entry block: drag a Segment block (such as Action) onto the canvas" }]);
        setSaveState("invalid");
        return false;
      }
      savingRef.current = true;
      setSaveState("saving");
      try {
        const body = { name: nameRef.current, definition: def };
        if (!force) body.revision = journeyRef.current.revision;
        const saved = await call("PUT", `journeys/${journeyRef.current.id}`, body);
        journeyRef.current = saved; // the next save sends this revision, even before a render
        setJourney(saved);
        setErrors([]);
        setSaveState(dirtyCounter.current === counter ? "saved" : "dirty");
        return true;
      } catch (err) {
        // A change made while this save was on its way gets its own save.
        const changedSince = dirtyCounter.current !== counter;
        if (err.status === 400 && err.body?.definition) {
          setErrors(err.body.definition);
          setSaveState(changedSince ? "dirty" : "invalid");
        } else if (err.status === 400) {
          setErrors(Object.entries(err.body || {}).map(([k, v]) => ({ path: k, message: Array.isArray(v) ? v.join(" ") : String(v) })));
          setSaveState(changedSince ? "dirty" : "invalid");
        } else if (err.status === 409) {
          setSaveState("conflict");
        } else {
          setSaveState("error");
          setNotice({ kind: "error", text: `Saving failed: ${err.message}` });
        }
        return false;
      } finally {
        savingRef.current = false;
        setSaveRound((n) => n + 1); // lets the autosave look again
      }
    },
    [definition],
  );

  // Live journeys: a save would publish, so edits are only checked (preview) until Publish.
  const checkLive = useCallback(async () => {
    const def = definition();
    const counter = dirtyCounter.current;
    setSentDef(def);
    try {
      const preview = await call("POST", `journeys/${journeyRef.current.id}/preview`, { definition: def });
      setErrors(preview.errors || []);
      if (dirtyCounter.current !== counter) setSaveState("dirty");
      else setSaveState(preview.errors?.length ? "invalid" : "unpublished");
      return preview;
    } catch (err) {
      setSaveState("error");
      return null;
    }
  }, [definition]);

  useEffect(() => {
    if (readOnly || saveState !== "dirty") return undefined;
    const timer = setTimeout(() => {
      if (isDraft) saveDraft();
      else checkLive();
    }, AUTOSAVE_MS);
    return () => clearTimeout(timer);
  }, [saveState, saveRound, nodes, edges, settings, goals, name, readOnly, isDraft, saveDraft, checkLive]);

  // Unsaved work survives a reload of the tab (a draft that does not validate cannot be saved).
  useEffect(() => {
    if (readOnly) return;
    const key = `journeys:canvas:${journey.id}`;
    if (saveState === "saved") localStorage.removeItem(key);
    else if (saveState !== "conflict") {
      localStorage.setItem(key, JSON.stringify({ revision: journey.revision, name, definition: definition() }));
    }
  }, [saveState, nodes, edges, settings, goals, name, journey.id, journey.revision, readOnly, definition]);

  useEffect(() => {
    const key = `journeys:canvas:${boot.journey.id}`;
    const raw = localStorage.getItem(key);
    if (!raw || readOnly) return;
    try {
      const kept = JSON.parse(raw);
      if (kept.revision === boot.journey.revision && kept.definition) {
        const f = toFlow(kept.definition);
        setNodes(f.nodes);
        setEdges(f.edges);
        setSettings(kept.definition.settings || {});
        setGoals(kept.definition.goals || []);
        setName(kept.name || boot.journey.name);
        setSaveState("dirty");
        setNotice({ kind: "info", text: "Your unsaved changes from last time are back." });
      } else localStorage.removeItem(key);
    } catch {
      localStorage.removeItem(key);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // --- side data: suggestions, other journeys, occupancy --------------------------------
  useEffect(() => {
    call("GET", `projects/${boot.project.id}/suggestions`).then(setSuggestions).catch(() => {});
    call("GET", `journeys?project=${boot.project.id}`)
      .then((list) => setJourneys(list.filter((j) => j.id !== boot.journey.id)))
      .catch(() => {});
  }, [boot.project.id, boot.journey.id]);

  // Users at each block: the live websocket (/ws/journeys/<id>/) while the journey runs. When
  // the socket closes (a server restart) it reconnects by itself with a growing backoff, and
  // meanwhile the occupancy API is polled every 2 s; when that fails too the numbers are
  // stale and the bar says so.
  useEffect(() => {
    let stopped = false;
    let timer = null;
    let retry = null;
    let socket = null;
    let attempt = 0;
    const load = () =>
      call("GET", `journeys/${journey.id}/occupancy`)
        .then((o) => {
          if (stopped) return;
          setOccupancy((prev) => sameCounts(prev, o.nodes || {}));
          setLive((l) => (l === "live" ? l : "polling"));
        })
        .catch(() => !stopped && setLive((l) => (l === "live" ? l : "stale")));
    const startPolling = () => {
      if (!stopped && timer === null) timer = setInterval(load, POLL_MS);
    };
    const stopPolling = () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
    };
    const connect = () => {
      retry = null;
      if (stopped) return;
      let opened = false;
      try {
        const scheme = window.location.protocol === "https:" ? "wss" : "ws";
        socket = new WebSocket(`${scheme}://${window.location.host}/ws/journeys/${journey.id}/`);
      } catch {
        socket = null;
        startPolling();
        return;
      }
      socket.onopen = () => {
        opened = true;
        attempt = 0;
      };
      socket.onmessage = (e) => {
        try {
          const msg = JSON.parse(e.data);
          if (msg.type === "occupancy" && !stopped) {
            setOccupancy((prev) => sameCounts(prev, msg.nodes || {}));
            setLive("live");
            stopPolling();
          }
        } catch {
          /* not ours */
        }
      };
      socket.onclose = (e) => {
        socket = null;
        if (stopped) return;
        setLive((l) => (l === "live" ? "stale" : l));
        load();
        startPolling();
        if (e.code === 4401 || e.code === 4404) return; // signed out or no such journey: no retry
        const wait = BACKOFF_MS[Math.min(opened ? 0 : attempt, BACKOFF_MS.length - 1)];
        attempt += 1;
        retry = setTimeout(connect, wait);
      };
    };
    load();
    if (status === "draft") setLive("polling");
    else connect();
    return () => {
      stopped = true;
      stopPolling();
      if (retry !== null) clearTimeout(retry);
      if (socket) {
        socket.onclose = null;
        socket.close();
      }
    };
  }, [journey.id, status]);

  // Historical figures for the chosen time frame (GET .../stats), again every 30 s, and the
  // stuck users (GET .../stuck) every 30 s; a draft has neither.
  const timeZone = boot.project.timezone || "UTC";
  const range = useMemo(() => frameRange(frame.preset, { from: frame.from, to: frame.to, timeZone }), [frame, timeZone]);
  const reloadStats = useRef(() => {});
  useEffect(() => {
    if (status === "draft" || range.error) return undefined;
    let stopped = false;
    const load = () =>
      call("GET", `journeys/${journey.id}/stats${frameQuery(range)}`)
        .then((r) => {
          if (stopped) return;
          setStats(r);
          setStatsError(null);
        })
        .catch((err) => {
          if (stopped) return;
          const b = err.body || {};
          setStatsError((b.from || b.to || [])[0] || `The figures could not be loaded (${err.message}).`);
        });
    load();
    reloadStats.current = load;
    const t = setInterval(load, STUCK_MS);
    return () => {
      stopped = true;
      reloadStats.current = () => {};
      clearInterval(t);
    };
  }, [journey.id, status, range]);
  // When users move (the live counts change), the figures follow a second later, at most
  // once every 5 s, so a block's "Entered" keeps up with its "users now".
  const lastStatsReload = useRef(0);
  useEffect(() => {
    if (status === "draft") return undefined;
    const due = Math.max(1000, lastStatsReload.current + 5000 - Date.now());
    const t = setTimeout(() => {
      lastStatsReload.current = Date.now();
      reloadStats.current();
    }, due);
    return () => clearTimeout(t);
  }, [occupancy, status]);
  useEffect(() => {
    if (status === "draft") return undefined;
    let stopped = false;
    const load = () =>
      call("GET", `journeys/${journey.id}/stuck`)
        .then((r) => !stopped && setStuck(r))
        .catch(() => {});
    load();
    const t = setInterval(load, STUCK_MS);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, [journey.id, status]);

  // Leaving with changes that are not saved asks first.
  useEffect(() => {
    const pending = !readOnly && ["dirty", "saving", "invalid", "conflict", "error", "unpublished"].includes(saveState);
    if (!pending) return undefined;
    const warn = (e) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [saveState, readOnly]);

  // --- node edits -------------------------------------------------------------------------
  const kindsRef = useRef(kinds);
  kindsRef.current = kinds;

  const updateBlock = useCallback(
    (id, patch, key) => {
      record(key ? `${id}:${key}` : null);
      const node = snapshot.current.nodes.find((n) => n.id === id);
      const kind = node && kindsRef.current[node.data.block.type];
      if (node && kind?.branches_from && kind.branches_from in patch) {
        // Renamed branches keep their connections (matched by position); removed ones lose them.
        const before = outHandles(node.data.block, kind, node.data.isEntry).map((h) => h.id);
        const after = outHandles({ ...node.data.block, ...patch }, kind, node.data.isEntry).map((h) => h.id);
        setEdges((es) =>
          es.flatMap((e) => {
            if (e.source !== id) return [e];
            const i = before.indexOf(e.sourceHandle);
            if (i < 0 || i >= after.length || !after[i]) return [];
            return [edgeFor(e.source, e.target, after[i])];
          }),
        );
      }
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, block: { ...n.data.block, ...patch } } } : n)));
      markDirty();
    },
    [record, markDirty],
  );

  const addBlock = useCallback(
    (type, position, { connectFrom } = {}) => {
      const kind = kinds[type];
      if (!kind || readOnly) return;
      const current = snapshot.current.nodes;
      const hasEntry = current.some((n) => n.data.isEntry);
      const isEntry = !hasEntry && kind.entry;
      if (!isEntry && !kind.inside) {
        setNotice({ kind: "error", text: `${kind.label} can only start a journey, and this journey already has an entry.` });
        return;
      }
      record();
      const taken = new Set([...current.map((n) => n.id), ...goalsRef.current.map((g) => g.id)]);
      const id = isEntry && !taken.has("entry") ? "entry" : newId(type, taken);
      const node = {
        id,
        type: "block",
        position,
        data: { block: { type, ...defaultsFor(kind) }, isEntry },
        selected: true,
      };
      setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), node]);
      if (connectFrom) setEdges((es) => addEdge(edgeFor(connectFrom.source, id, connectFrom.handle), es));
      setPanel("block");
      markDirty();
      setNotice(isEntry ? { kind: "info", text: `${kind.label} is the journey's entry: users who match it enter.` } : null);
    },
    [kinds, readOnly, record, markDirty],
  );

  const addByClick = useCallback(
    (type) => {
      const ns = snapshot.current.nodes;
      const selected = ns.filter((n) => n.selected);
      let position;
      let connectFrom = null;
      if (selected.length === 1) {
        const s = selected[0];
        const handles = outHandles(s.data.block, kinds[s.data.block.type], s.data.isEntry);
        const free = handles.find((h) => !snapshot.current.edges.some((e) => e.source === s.id && (e.sourceHandle || NEXT_HANDLE) === h.id));
        position = { x: s.position.x + (free && free.id === "no" ? 280 : 0), y: s.position.y + 180 };
        if (free && kinds[type]?.inside) connectFrom = { source: s.id, handle: free.id };
      } else {
        const rect = wrapper.current?.getBoundingClientRect();
        position = rect
          ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2 - NODE_W / 2, y: rect.top + rect.height / 3 })
          : { x: 100, y: 100 };
        position = { x: position.x + (ns.length % 5) * 20, y: position.y + (ns.length % 5) * 20 };
      }
      addBlock(type, position, { connectFrom });
    },
    [addBlock, flow, kinds],
  );

  const onDrop = useCallback(
    (event) => {
      event.preventDefault();
      const type = event.dataTransfer.getData("application/x-journeys-block");
      if (!type) return;
      const position = flow.screenToFlowPosition({ x: event.clientX - NODE_W / 2, y: event.clientY - 30 });
      addBlock(type, position);
    },
    [flow, addBlock],
  );

  const onNodesChange = useCallback(
    (changes) => {
      if (readOnly) {
        setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type === "select" || c.type === "dimensions"), ns));
        return;
      }
      if (changes.some((c) => c.type === "remove")) {
        record();
        markDirty();
      }
      if (changes.some((c) => c.type === "position" && !c.dragging && c.position === undefined)) markDirty();
      setNodes((ns) => applyNodeChanges(changes, ns));
    },
    [readOnly, record, markDirty],
  );

  const onEdgesChange = useCallback(
    (changes) => {
      if (readOnly) {
        setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type === "select"), es));
        return;
      }
      if (changes.some((c) => c.type === "remove")) {
        record();
        markDirty();
      }
      setEdges((es) => applyEdgeChanges(changes, es));
    },
    [readOnly, record, markDirty],
  );

  const isValidConnection = useCallback((conn) => {
    const problem = connectionProblem(conn, snapshot.current.nodes, snapshot.current.edges, kindsRef.current);
    setRefusal(problem);
    return !problem;
  }, []);

  const onConnect = useCallback(
    (conn) => {
      const problem = connectionProblem(conn, snapshot.current.nodes, snapshot.current.edges, kindsRef.current);
      if (problem) {
        setNotice({ kind: "error", text: `Not connected: ${problem}` });
        return;
      }
      record();
      setEdges((es) => addEdge(edgeFor(conn.source, conn.target, conn.sourceHandle), es));
      setRefusal(null);
      markDirty();
    },
    [record, markDirty],
  );

  const onConnectEnd = useCallback(() => {
    setRefusal((r) => {
      if (r) setNotice({ kind: "error", text: `Not connected: ${r}` });
      return null;
    });
  }, []);

  // The Delete key removes blocks only when the board (or nothing) has the focus, not while
  // a palette item or a panel button has it.
  const beforeDelete = useCallback(async () => {
    const active = document.activeElement;
    return !active || active === document.body || !!wrapper.current?.contains(active);
  }, []);

  const onNodeDragStart = useCallback(() => record(), [record]);
  const onNodeDragStop = useCallback(() => markDirty(), [markDirty]);

  // --- layout, clipboard, keyboard -------------------------------------------------------
  const autoLayout = useCallback(() => {
    record();
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 48 });
    g.setDefaultEdgeLabel(() => ({}));
    // Nodes in walk order from the entry, each block's ways out in handle order (yes before
    // no, branches as listed), so that dagre keeps "yes" on the left as the handles are.
    const { nodes: ns, edges: es } = snapshot.current;
    const rank = (e) => {
      const src = ns.find((n) => n.id === e.source);
      const handles = src ? outHandles(src.data.block, kinds[src.data.block.type], src.data.isEntry).map((h) => h.id) : [];
      return handles.indexOf(e.sourceHandle);
    };
    const sorted = [...es].sort((a, b) => rank(a) - rank(b));
    const order = [];
    const seen = new Set();
    const walk = (id) => {
      if (seen.has(id)) return;
      seen.add(id);
      order.push(id);
      for (const e of sorted) if (e.source === id) walk(e.target);
    };
    ns.filter((n) => n.data.isEntry).forEach((n) => walk(n.id));
    ns.forEach((n) => walk(n.id));
    for (const id of order) g.setNode(id, { width: NODE_W, height: NODE_H });
    for (const e of sorted) g.setEdge(e.source, e.target);
    dagre.layout(g);
    setNodes((ns) => ns.map((n) => {
      const p = g.node(n.id);
      return p ? { ...n, position: { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2 } } : n;
    }));
    markDirty();
    setTimeout(() => flow.fitView({ padding: 0.15, duration: 200 }), 50);
  }, [record, markDirty, flow, kinds]);

  const copy = useCallback(() => {
    const chosen = snapshot.current.nodes.filter((n) => n.selected);
    if (!chosen.length) return;
    const ids = new Set(chosen.map((n) => n.id));
    clipboard.current = strip(chosen, snapshot.current.edges.filter((e) => ids.has(e.source) && ids.has(e.target)));
    setNotice({ kind: "info", text: `Copied ${chosen.length} block${chosen.length === 1 ? "" : "s"}.` });
  }, []);

  const paste = useCallback(() => {
    const clip = clipboard.current;
    if (!clip || readOnly) return;
    record();
    const taken = new Set([...snapshot.current.nodes.map((n) => n.id), ...goalsRef.current.map((g) => g.id)]);
    const map = {};
    const pasted = [];
    for (const n of clip.nodes) {
      const kind = kinds[n.data.block.type];
      if (!kind?.inside) continue; // a second entry cannot be pasted inside
      const id = newId(n.data.block.type, taken);
      taken.add(id);
      map[n.id] = id;
      pasted.push({ ...n, id, selected: true, position: { x: n.position.x + 60, y: n.position.y + 60 }, data: { ...n.data, isEntry: false } });
    }
    const pastedEdges = clip.edges.filter((e) => map[e.source] && map[e.target]).map((e) => edgeFor(map[e.source], map[e.target], e.sourceHandle));
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), ...pasted]);
    setEdges((es) => [...es, ...pastedEdges]);
    markDirty();
  }, [readOnly, record, kinds, markDirty]);

  useEffect(() => {
    const onKey = (event) => {
      if (isTyping(event.target) || dialog) return;
      const mod = event.ctrlKey || event.metaKey;
      if (!mod) return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey && !readOnly) {
        event.preventDefault();
        undo();
      } else if (((key === "z" && event.shiftKey) || key === "y") && !readOnly) {
        event.preventDefault();
        redo();
      } else if (key === "c") {
        copy();
      } else if (key === "v" && !readOnly) {
        event.preventDefault();
        paste();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo, copy, paste, readOnly, dialog]);

  // --- lifecycle ----------------------------------------------------------------------------
  const totalUsers = Object.values(occupancy).reduce((a, b) => a + b, 0);
  const entryNode = nodes.find((n) => n.data.isEntry);
  const entryWords = entryNode
    ? `${kinds[entryNode.data.block.type]?.label || entryNode.data.block.type}${entryNode.data.block.event ? ` “${entryNode.data.block.event}”` : ""}`
    : "the entry";
  const startAt = settings.start_at ? new Date(settings.start_at) : null;
  const scheduled = startAt && startAt > new Date();

  const publishReason = (() => {
    if (readOnly) return null;
    if (saveState === "conflict") return "Resolve the conflict first";
    if (errors.length) return `Fix ${errors.length} problem${errors.length === 1 ? "" : "s"} first`;
    if (saveState === "saving") return "Saving…";
    if (!entryNode) return "Add an entry block first";
    if (liveish && saveState !== "unpublished" && saveState !== "dirty" && !journey.has_unpublished_changes) return "No changes to publish";
    return null;
  })();

  const lifecycle = useCallback(
    async (action, body) => {
      try {
        const updated = await call("POST", `journeys/${journeyRef.current.id}/${action}`, body);
        setJourney(updated);
        setNotice({ kind: "ok", text: `Journey ${updated.status === "live" ? "is live" : `is ${updated.status}`}.` });
        setDialog(null);
      } catch (err) {
        if (err.status === 400 && err.body?.definition) setErrors(err.body.definition);
        setNotice({ kind: "error", text: err.body?.detail || (err.body?.definition ? "The journey has problems: see the list." : err.message) });
        setDialog(null);
      }
    },
    [],
  );

  const openPublish = useCallback(async () => {
    if (isDraft) {
      const ok = saveState === "saved" ? true : await saveDraft();
      if (!ok) return;
      setDialog({
        kind: "confirm",
        title: scheduled ? "Schedule this journey?" : "Publish this journey?",
        body: scheduled
          ? `From ${startAt.toLocaleString()}, users who match ${entryWords} enter the journey and get its messages.`
          : `From now on, users who match ${entryWords} enter the journey and get its messages. You can pause or stop it later.`,
        confirm: scheduled ? "Schedule" : "Publish",
        onConfirm: () => lifecycle("publish", {}),
      });
      return;
    }
    const preview = await checkLive();
    if (!preview) return;
    if (preview.errors?.length) {
      setNotice({ kind: "error", text: "Fix the problems before publishing." });
      return;
    }
    setDialog({ kind: "inflight", preview });
  }, [isDraft, saveState, saveDraft, scheduled, startAt, entryWords, lifecycle, checkLive]);

  const publishLive = useCallback(
    async (choices) => {
      const def = definition();
      try {
        const updated = await call("PUT", `journeys/${journeyRef.current.id}`, {
          name: nameRef.current,
          definition: def,
          in_flight: choices,
          revision: journeyRef.current.revision,
        });
        setJourney(updated);
        setErrors([]);
        setSaveState("saved");
        setDialog(null);
        setNotice({ kind: "ok", text: `Version ${updated.live_version} is live.` });
      } catch (err) {
        setDialog(null);
        if (err.status === 409) setSaveState("conflict");
        else if (err.status === 400) {
          setErrors(err.body?.definition || err.body?.in_flight || []);
          setNotice({ kind: "error", text: "Publishing was refused: see the problems." });
        } else setNotice({ kind: "error", text: err.message });
      }
    },
    [definition],
  );

  const confirmLifecycle = (action) => {
    const n = totalUsers;
    const users = `${n} user${n === 1 ? "" : "s"}`;
    const texts = {
      pause: ["Pause this journey?", `No new users enter while it is paused. The ${users} in it now keep their place until you resume.`, "Pause"],
      resume: ["Resume this journey?", `New users who match ${entryWords} enter again, and the ${users} in it carry on from where they are.`, "Resume"],
      stop: ["Stop this journey for good?", `All ${users} in it leave now and get nothing more from it; nobody new enters. A stopped journey cannot be restarted (duplicate it instead).`, "Stop"],
    };
    const [title, body, confirm] = texts[action];
    setDialog({ kind: "confirm", title, body, confirm, danger: action === "stop", onConfirm: () => lifecycle(action, {}) });
  };

  const reloadTheirs = useCallback(async () => {
    const fresh = await call("GET", `journeys/${journeyRef.current.id}`);
    const f = toFlow(fresh.definition);
    setNodes(f.nodes);
    setEdges(f.edges);
    setSettings(fresh.definition?.settings || {});
    setGoals(fresh.definition?.goals || []);
    setName(fresh.name);
    setJourney(fresh);
    setErrors([]);
    setHistory({ past: [], future: [] });
    setSaveState("saved");
    setNotice({ kind: "info", text: "Loaded the latest saved version." });
  }, []);

  const keepMine = useCallback(async () => {
    const fresh = await call("GET", `journeys/${journeyRef.current.id}`);
    setJourney((j) => ({ ...j, revision: fresh.revision }));
    journeyRef.current = { ...journeyRef.current, revision: fresh.revision };
    setSaveState("dirty");
    if (isDraft) await saveDraft();
  }, [isDraft, saveDraft]);

  // --- rendering ------------------------------------------------------------------------------
  const selectedNodes = nodes.filter((n) => n.selected);
  const selected = selectedNodes.length === 1 ? selectedNodes[0] : null;

  // One stable callback and a per-block cache keep unchanged blocks from re-rendering (200+ blocks).
  const rename = useCallback((id, label) => updateBlock(id, { label }, "label"), [updateBlock]);
  const viewCache = useRef(new Map());
  const viewNodes = useMemo(() => {
    const cache = viewCache.current;
    const next = new Map();
    const out = nodes.map((n) => {
      const users = occupancy[n.id] || 0;
      const errs = byBlock.out[n.id];
      const figures = (!range.error && stats?.nodes?.[n.id]) || null; // none for a refused frame
      const waiting = stuck?.nodes?.[n.id] || null;
      const hit = cache.get(n.id);
      if (
        hit &&
        hit.node === n &&
        hit.users === users &&
        hit.errs === errs &&
        hit.readOnly === readOnly &&
        hit.rename === rename &&
        hit.figures === figures &&
        hit.waiting === waiting
      ) {
        next.set(n.id, hit);
        return hit.view;
      }
      const kind = kinds[n.data.block.type];
      // Details pages exist for the blocks of the live version (the stats list exactly those).
      const page = kind?.category === "segment" || n.data.isEntry ? "segment" : kind?.category === "message" ? "campaign" : null;
      const detailsUrl = figures && page && status !== "draft" ? `/journeys/${journey.id}/blocks/${encodeURIComponent(n.id)}/${page}` : null;
      const stuckUrl = waiting?.stuck ? `/journeys/${journey.id}/report#stuck-h` : null;
      const view = { ...n, data: { ...n.data, kind, users, errors: errs, readOnly, onRename: rename, figures, waiting, detailsUrl, stuckUrl } };
      next.set(n.id, { node: n, users, errs, readOnly, rename, figures, waiting, view });
      return view;
    });
    viewCache.current = next;
    return out;
  }, [nodes, kinds, occupancy, byBlock, readOnly, rename, stats, stuck, status, journey.id, range.error]);

  const makeEntry = useCallback(
    (id) => {
      const target = snapshot.current.nodes.find((n) => n.id === id);
      const old = snapshot.current.nodes.find((n) => n.data.isEntry);
      if (old && !kinds[old.data.block.type]?.inside) {
        setNotice({ kind: "error", text: "The current entry cannot move inside the journey; delete it first." });
        return;
      }
      record();
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, isEntry: true } } : n.data.isEntry ? { ...n, data: { ...n.data, isEntry: false } } : n)));
      setEdges((es) => es.filter((e) => e.target !== id).map((e) => (e.source === id && target && e.sourceHandle !== NEXT_HANDLE ? { ...e, sourceHandle: NEXT_HANDLE, id: `e:${id}:next:${e.target}`, label: undefined } : e)));
      markDirty();
    },
    [kinds, record, markDirty],
  );

  const saveWords = {
    saved: isDraft ? "All changes saved" : "Published version shown",
    dirty: "Unsaved changes…",
    saving: "Saving…",
    invalid: isDraft ? "Not saved: fix the problems below" : "Changes not live: fix the problems below",
    unpublished: "Changes not live yet: Publish to apply them",
    conflict: "Not saved: conflict",
    error: "Saving failed",
  }[saveState];

  const ctx = {
    readOnly,
    suggestions,
    journeys,
    propertyList: "journeys-event-properties",
    projectId: boot.project.id,
    journeyId: journey.id,
  };
  const eventProps = useMemo(() => {
    const all = new Set();
    Object.values(suggestions.event_properties || {}).forEach((l) => l.forEach((p) => all.add(p)));
    return [...all].sort();
  }, [suggestions]);

  return (
    <div className={`builder${readOnly ? " is-readonly" : ""}`}>
      <datalist id="journeys-events">{suggestions.events.map((e) => <option key={e} value={e} />)}</datalist>
      <datalist id="journeys-event-properties">{eventProps.map((e) => <option key={e} value={e} />)}</datalist>
      <datalist id="journeys-profile-properties">{suggestions.profile_properties.map((e) => <option key={e} value={e} />)}</datalist>

      <header className="builder-bar">
        <a className="back" href={boot.urls.list}>
          ← Journeys
        </a>
        <label className="visually-hidden" htmlFor="journey-name">
          Journey name
        </label>
        <input
          id="journey-name"
          className="journey-name"
          value={name}
          disabled={readOnly}
          onChange={(e) => {
            setName(e.target.value);
            markDirty();
          }}
        />
        <span className={`status status-${status}`}>{status}</span>
        <span className="save-state" role="status" aria-live="polite">
          {saveWords}
        </span>
        <div className="bar-actions">
          {!readOnly && (
            <>
              <button type="button" className="btn" onClick={undo} disabled={!history.past.length} title="Ctrl/Cmd+Z">
                Undo
              </button>
              <button type="button" className="btn" onClick={redo} disabled={!history.future.length} title="Ctrl/Cmd+Shift+Z">
                Redo
              </button>
              <button type="button" className="btn" onClick={autoLayout}>
                Auto-layout
              </button>
              {isDraft && (
                <button type="button" className="btn" onClick={() => saveDraft()} disabled={saveState === "saving" || saveState === "conflict"}>
                  Save
                </button>
              )}
              {!isDraft && (
                <button type="button" className="btn" onClick={() => checkLive()} title="Check the changes; Publish makes them live">
                  Save
                </button>
              )}
              <span className="publish-group">
                <button type="button" className="btn btn-primary" onClick={openPublish} disabled={!!publishReason} aria-describedby={publishReason ? "publish-reason" : undefined}>
                  {scheduled && isDraft ? "Schedule" : "Publish"}
                </button>
                {scheduled && isDraft ? <span className="visually-hidden">Publish</span> : null}
                {publishReason && (
                  <span id="publish-reason" className="publish-reason">
                    {publishReason}
                  </span>
                )}
              </span>
              {(status === "live" || status === "scheduled") && (
                <button type="button" className="btn" onClick={() => confirmLifecycle("pause")}>
                  Pause
                </button>
              )}
              {status === "paused" && (
                <button type="button" className="btn" onClick={() => confirmLifecycle("resume")}>
                  Resume
                </button>
              )}
              {liveish && (
                <button type="button" className="btn btn-danger" onClick={() => confirmLifecycle("stop")}>
                  Stop
                </button>
              )}
            </>
          )}
        </div>
      </header>

      {readOnly && (
        <p className="banner banner-info">
          {status === "stopped" ? "This journey is stopped: you can look, not change it. Duplicate it from the list to run it again." : "You are a viewer in this project: you can look at this journey but not change it."}
        </p>
      )}
      {saveState === "conflict" && (
        <div className="banner banner-error" role="alert">
          <strong>Conflict: this journey was changed elsewhere</strong> (in another tab or by another member) after you opened it. Your changes here are not saved.
          <button type="button" className="btn btn-small" onClick={reloadTheirs}>
            Load the latest version
          </button>
          <button type="button" className="btn btn-small" onClick={keepMine}>
            Keep my changes and overwrite
          </button>
        </div>
      )}

      {status !== "draft" && (
        <StatsBar
          frame={frame}
          onFrame={setFrame}
          frameError={range.error}
          stats={stats}
          statsError={statsError}
          live={live}
          timeZone={timeZone}
          reportUrl={`/journeys/${journey.id}/report`}
          stuckTotal={stuck?.total_stuck || 0}
        />
      )}
      <div className="builder-body">
        {!readOnly && (
          <nav className="palette" aria-label="Blocks">
            <p className="palette-hint">Drag a block onto the canvas, or click it to add it{selected ? " after the selected block" : ""}.</p>
            {GROUPS.map(([category, title]) => (
              <section key={category} aria-labelledby={`palette-${category}`}>
                <h2 id={`palette-${category}`}>{title}</h2>
                <ul>
                  {boot.palette
                    .filter((k) => k.category === category || (category === "flow" && !["segment", "message"].includes(k.category)))
                    .map((k) => (
                      <li key={k.type}>
                        <button
                          type="button"
                          className={`palette-item cat-${k.category}`}
                          draggable
                          aria-label={k.label}
                          aria-describedby={`help-${k.type}`}
                          onDragStart={(e) => {
                            e.dataTransfer.setData("application/x-journeys-block", k.type);
                            e.dataTransfer.effectAllowed = "move";
                          }}
                          onClick={() => addByClick(k.type)}
                        >
                          <span className="palette-label">{k.label}</span>
                          <span className="palette-help" id={`help-${k.type}`}>
                            {k.description}
                          </span>
                        </button>
                      </li>
                    ))}
                </ul>
              </section>
            ))}
          </nav>
        )}

        <div className="board" ref={wrapper} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}>
          <ReactFlow
            nodes={viewNodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onNodeDragStart={onNodeDragStart}
            onNodeDragStop={onNodeDragStop}
            onSelectionDragStart={onNodeDragStart}
            onSelectionDragStop={onNodeDragStop}
            onNodeClick={() => setPanel("block")}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            edgesReconnectable={false}
            deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
            onBeforeDelete={beforeDelete}
            multiSelectionKeyCode={["Meta", "Control", "Shift"]}
            selectionKeyCode="Shift"
            fitView
            fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
            minZoom={0.1}
            proOptions={{ hideAttribution: true }}
            defaultEdgeOptions={{ type: "smoothstep" }}
            onlyRenderVisibleElements={nodes.length > 80}
          >
            <Background gap={20} />
            <Controls showInteractive={false} fitViewOptions={{ padding: 0.2 }} />
            <MiniMap pannable zoomable ariaLabel="Mini map" />
          </ReactFlow>
          {notice && (
            <div className={`toast toast-${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"}>
              {notice.text}
              <button type="button" className="btn-icon" aria-label="Dismiss" onClick={() => setNotice(null)}>
                ×
              </button>
            </div>
          )}
          {refusal && (
            <p className="refusal" role="alert">
              {refusal}
            </p>
          )}
          {!nodes.length && (
            <div className="empty-canvas">
              <h2>Start with an entry</h2>
              <p>Drag a Segment block such as Action onto the canvas: users who match it enter the journey.</p>
            </div>
          )}
        </div>

        <aside className="side" aria-label="Details">
          <div className="tabs" role="tablist">
            <button type="button" role="tab" aria-selected={panel === "block"} onClick={() => setPanel("block")}>
              Block
            </button>
            <button type="button" role="tab" aria-selected={panel === "settings"} onClick={() => setPanel("settings")}>
              Journey settings
            </button>
          </div>
          {panel === "block" ? (
            selected ? (
              <BlockForm
                key={selected.id}
                node={selected}
                kind={kinds[selected.data.block.type]}
                ctx={ctx}
                errors={byBlock.out[selected.id] || []}
                onChange={(patch, key) => updateBlock(selected.id, patch, key)}
                onMakeEntry={() => makeEntry(selected.id)}
                hasOtherEntry={!!entryNode && entryNode.id !== selected.id}
                users={occupancy[selected.id] || 0}
              />
            ) : (
              <p className="side-empty">
                {selectedNodes.length > 1 ? `${selectedNodes.length} blocks selected: press Delete to remove them, Ctrl/Cmd+C to copy.` : "Select a block to edit it."}
              </p>
            )
          ) : (
            <JourneySettings
              settings={settings}
              goals={goals}
              entry={entryNode}
              kinds={kinds}
              ctx={ctx}
              errors={errors.filter((e) => /^(settings|goals)/.test(e.path))}
              onSettings={(s) => {
                setSettings(s);
                markDirty();
              }}
              onGoals={(g) => {
                setGoals(g);
                markDirty();
              }}
              takenIds={new Set(nodes.map((n) => n.id))}
              onEntryKind={(type) => {
                const kind = kinds[type];
                if (!entryNode || !kind || type === entryNode.data.block.type) return;
                record();
                const keep = entryNode.data.block.label ? { label: entryNode.data.block.label } : {};
                setNodes((ns) => ns.map((n) => (n.id === entryNode.id ? { ...n, data: { ...n.data, block: { type, ...defaultsFor(kind), ...keep } } } : n)));
                markDirty();
              }}
            />
          )}
          <section className="problems" aria-labelledby="problems-title">
            <h2 id="problems-title">{errors.length ? `Problems (${errors.length})` : "No problems"}</h2>
            {errors.length > 0 && (
              <ul>
                {errors.map((e, i) => {
                  const t = errorTarget(e.path, sentDef);
                  return (
                    <li key={i}>
                      {t.id && nodes.some((n) => n.id === t.id) ? (
                        <button
                          type="button"
                          className="linklike"
                          onClick={() => {
                            setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === t.id })));
                            setPanel("block");
                            const n = nodes.find((x) => x.id === t.id);
                            if (n) flow.setCenter(n.position.x + NODE_W / 2, n.position.y + 50, { zoom: 1, duration: 200 });
                          }}
                        >
                          {t.id}
                        </button>
                      ) : (
                        <span className="path">{e.path || "journey"}</span>
                      )}
                      : {e.message}
                    </li>
                  );
                })}
              </ul>
            )}
          </section>
        </aside>
      </div>

      {dialog?.kind === "confirm" && (
        <Dialog title={dialog.title} onClose={() => setDialog(null)}>
          <p>{dialog.body}</p>
          <div className="dialog-actions">
            <button type="button" className="btn" onClick={() => setDialog(null)}>
              Cancel
            </button>
            <button type="button" className={`btn ${dialog.danger ? "btn-danger" : "btn-primary"}`} onClick={dialog.onConfirm}>
              {dialog.confirm}
            </button>
          </div>
        </Dialog>
      )}
      {dialog?.kind === "inflight" && (
        <InFlightDialog preview={dialog.preview} nodes={nodes} kinds={kinds} onCancel={() => setDialog(null)} onPublish={publishLive} />
      )}
    </div>
  );
}

function InFlightDialog({ preview, nodes, kinds, onCancel, onPublish }) {
  const [choices, setChoices] = useState(() => Object.fromEntries(preview.changes.map((c) => [c.node, { action: c.default || "keep" }])));
  const targets = nodes.filter((n) => !n.data.isEntry);
  const nameOf = (id) => {
    const n = nodes.find((x) => x.id === id);
    return n ? n.data.block.label || kinds[n.data.block.type]?.label || id : id;
  };
  const words = { keep: "Keep: finish on the old version", move: "Move to another block", exit: "Exit the journey" };
  const invalid = Object.values(choices).some((c) => c.action === "move" && !c.to);
  return (
    <Dialog title={`Publish version ${preview.to_version}?`} onClose={onCancel}>
      <p>
        Users who enter from now on follow the new version. Users already in the journey at unchanged blocks switch to it where they are.
        {preview.changes.length ? " Choose what happens to users at the blocks you changed or removed:" : " No block with users changed."}
      </p>
      {preview.changes.length > 0 && (
        <table className="inflight">
          <thead>
            <tr>
              <th scope="col">Block</th>
              <th scope="col">Change</th>
              <th scope="col">Users there</th>
              <th scope="col">What happens to them</th>
            </tr>
          </thead>
          <tbody>
            {preview.changes.map((c) => (
              <tr key={c.node}>
                <th scope="row">{c.change === "removed" ? c.node : nameOf(c.node)}</th>
                <td>{c.change}</td>
                <td>{c.users}</td>
                <td>
                  <label className="visually-hidden" htmlFor={`inflight-${c.node}`}>
                    {`Users at ${c.node}`}
                  </label>
                  <select
                    id={`inflight-${c.node}`}
                    value={choices[c.node]?.action || "keep"}
                    onChange={(e) => setChoices((s) => ({ ...s, [c.node]: { action: e.target.value } }))}
                  >
                    {c.options.map((o) => (
                      <option key={o} value={o}>
                        {words[o] || o}
                      </option>
                    ))}
                  </select>
                  {choices[c.node]?.action === "move" && (
                    <>
                      <label className="visually-hidden" htmlFor={`inflight-to-${c.node}`}>{`Move users at ${c.node} to`}</label>
                      <select id={`inflight-to-${c.node}`} value={choices[c.node]?.to || ""} onChange={(e) => setChoices((s) => ({ ...s, [c.node]: { action: "move", to: e.target.value } }))}>
                        <option value="">Choose a block…</option>
                        {targets.map((n) => (
                          <option key={n.id} value={n.id}>
                            {nameOf(n.id)}
                          </option>
                        ))}
                      </select>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {preview.candidates && preview.candidates.users > 0 && (
        <p>
          {preview.candidates.users} user(s) waiting to enter {preview.candidates.action === "switch" ? "will enter the new version" : "are dropped because the entry changed"}.
        </p>
      )}
      {preview.added?.length > 0 && <p>New blocks: {preview.added.map(nameOf).join(", ")}.</p>}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" disabled={invalid} onClick={() => onPublish(choices)}>
          Publish
        </button>
      </div>
    </Dialog>
  );
}
