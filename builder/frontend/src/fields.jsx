// Form editors for the registry's field kinds: a new kind gets its form from its field list.
import { useEffect, useId, useRef, useState } from "react";
import { call } from "./api.js";
import { OP_WORDS, UNITS, durationSeconds, fieldLabel, isoDuration, splitDuration } from "./model.js";

const FILTER_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "exists", "not_exists"];
const COMPARISON_OPS = ["eq", "neq", "gt", "gte", "lt", "lte"];
const VALUELESS = new Set(["exists", "not_exists"]);

/** Text typed in a value box as the JSON value the filter takes. */
export function parseValue(text, op) {
  if (op === "in" || op === "not_in") {
    return String(text)
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => parseValue(s, "eq"));
  }
  const t = String(text ?? "").trim();
  if (t === "true") return true;
  if (t === "false") return false;
  if (t !== "" && !Number.isNaN(Number(t)) && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return text;
}

export function showValue(value) {
  if (Array.isArray(value)) return value.join(", ");
  if (value === undefined || value === null) return "";
  return String(value);
}

function OpSelect({ ops, value, onChange, label, disabled }) {
  return (
    <select aria-label={label} value={value || ops[0]} onChange={(e) => onChange(e.target.value)} disabled={disabled}>
      {ops.map((op) => (
        <option key={op} value={op}>
          {OP_WORDS[op] || op}
        </option>
      ))}
    </select>
  );
}

/** A value box that keeps what is typed (so "1." or "a," survive) and reports parsed values. */
function ValueInput({ value, op, onChange, label, disabled, list }) {
  const [text, setText] = useState(showValue(value));
  const last = useRef(value);
  useEffect(() => {
    if (JSON.stringify(value) !== JSON.stringify(last.current)) setText(showValue(value));
    last.current = value;
  }, [value]);
  return (
    <input
      type="text"
      aria-label={label}
      value={text}
      list={list}
      disabled={disabled}
      onChange={(e) => {
        setText(e.target.value);
        const parsed = parseValue(e.target.value, op);
        last.current = parsed;
        onChange(parsed);
      }}
    />
  );
}

function FilterRows({ value, onChange, ctx, propertyList, disabled, noProperty, ops }) {
  const rows = Array.isArray(value) ? value : [];
  const set = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <div className="filter-rows">
      {rows.map((row, i) => (
        <div className="filter-row" key={i}>
          {!noProperty && (
            <input
              type="text"
              aria-label={`Property ${i + 1}`}
              placeholder="property"
              value={row.property || ""}
              list={propertyList}
              disabled={disabled}
              onChange={(e) => set(i, { property: e.target.value })}
            />
          )}
          <OpSelect
            ops={ops || FILTER_OPS}
            label={`Operator ${i + 1}`}
            value={row.op}
            disabled={disabled}
            onChange={(op) => {
              const patch = { op };
              if (VALUELESS.has(op)) patch.value = undefined;
              set(i, patch);
            }}
          />
          {!VALUELESS.has(row.op) && (
            <ValueInput label={`Value ${i + 1}`} value={row.value} op={row.op} disabled={disabled} onChange={(v) => set(i, { value: v })} />
          )}
          {!disabled && (
            <button type="button" className="btn-icon" aria-label={`Remove filter ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button type="button" className="btn btn-small" onClick={() => onChange([...rows, { property: "", op: "eq", value: "" }])}>
          Add filter
        </button>
      )}
    </div>
  );
}

function DurationInput({ id, value, onChange, signed, disabled, label }) {
  const seconds = durationSeconds(value);
  const split = seconds === null ? { amount: "", unit: "hours" } : splitDuration(seconds);
  const negative = seconds !== null && seconds < 0;
  const [unit, setUnit] = useState(split.unit);
  useEffect(() => {
    if (seconds !== null && seconds !== 0) setUnit(splitDuration(seconds).unit);
  }, [seconds]);
  const amount = seconds === null ? "" : split.unit === unit ? split.amount : Math.abs(seconds) / (UNITS.find((u) => u[0] === unit)?.[1] || 1);
  const emit = (a, u, neg) => {
    if (a === "" || a === null) onChange(signed ? 0 : null);
    else onChange(isoDuration(a, u, neg));
  };
  return (
    <div className="duration">
      <input
        id={id}
        type="number"
        min="0"
        step="1"
        value={amount}
        disabled={disabled}
        onChange={(e) => emit(e.target.value, unit, negative)}
      />
      <select
        aria-label={`${label} unit`}
        value={unit}
        disabled={disabled}
        onChange={(e) => {
          setUnit(e.target.value);
          if (amount !== "") emit(amount, e.target.value, negative);
        }}
      >
        {UNITS.map(([u]) => (
          <option key={u} value={u}>
            {u}
          </option>
        ))}
      </select>
      {signed && (
        <select aria-label={`${label} direction`} value={negative ? "before" : "after"} disabled={disabled} onChange={(e) => emit(amount || 0, unit, e.target.value === "before")}>
          <option value="before">before</option>
          <option value="after">after</option>
        </select>
      )}
    </div>
  );
}

function Conditions({ value, onChange, ctx, disabled }) {
  const rows = Array.isArray(value) ? value : [];
  const set = (i, next) => onChange(rows.map((r, j) => (j === i ? next : r)));
  return (
    <div className="conditions">
      {rows.map((c, i) => (
        <div className="condition" key={i}>
          <select
            aria-label={`Condition ${i + 1}`}
            value={c.kind || "did"}
            disabled={disabled}
            onChange={(e) => {
              const kind = e.target.value;
              if (kind === "profile") set(i, { kind, property: "", op: "eq", value: "" });
              else set(i, { kind, event: c.event || "" });
            }}
          >
            <option value="did">Did</option>
            <option value="did_not">Did not do</option>
            <option value="profile">Profile property</option>
          </select>
          {c.kind !== "profile" ? (
            <>
              <input
                type="text"
                aria-label={`Condition ${i + 1} event`}
                placeholder="event name"
                list="journeys-events"
                value={c.event || ""}
                disabled={disabled}
                onChange={(e) => set(i, { ...c, event: e.target.value })}
              />
              {c.kind === "did" && (
                <span className="count">
                  <OpSelect
                    ops={COMPARISON_OPS}
                    label={`Condition ${i + 1} count operator`}
                    value={c.count?.op || "gte"}
                    disabled={disabled}
                    onChange={(op) => set(i, { ...c, count: { op, value: c.count?.value ?? 1 } })}
                  />
                  <input
                    type="number"
                    min="0"
                    aria-label={`Condition ${i + 1} times`}
                    value={c.count?.value ?? 1}
                    disabled={disabled}
                    onChange={(e) => set(i, { ...c, count: { op: c.count?.op || "gte", value: Math.max(0, parseInt(e.target.value || "0", 10)) } })}
                  />
                  <span>times</span>
                </span>
              )}
            </>
          ) : (
            <>
              <input
                type="text"
                aria-label={`Condition ${i + 1} property`}
                list="journeys-profile-properties"
                value={c.property || ""}
                disabled={disabled}
                onChange={(e) => set(i, { ...c, property: e.target.value })}
              />
              <OpSelect ops={FILTER_OPS} label={`Condition ${i + 1} operator`} value={c.op} disabled={disabled} onChange={(op) => set(i, { ...c, op })} />
              {!VALUELESS.has(c.op) && (
                <ValueInput label={`Condition ${i + 1} value`} value={c.value} op={c.op} disabled={disabled} onChange={(v) => set(i, { ...c, value: v })} />
              )}
            </>
          )}
          {!disabled && (
            <button type="button" className="btn-icon" aria-label={`Remove condition ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button type="button" className="btn btn-small" onClick={() => onChange([...rows, { kind: "did", event: "" }])}>
          Add condition
        </button>
      )}
    </div>
  );
}

function Headers({ value, onChange, disabled }) {
  const entries = value && typeof value === "object" ? Object.entries(value) : [];
  const write = (list) => onChange(Object.fromEntries(list.filter(([k]) => k !== undefined)));
  return (
    <div className="filter-rows">
      {entries.map(([k, v], i) => (
        <div className="filter-row" key={i}>
          <input aria-label={`Header ${i + 1} name`} value={k} disabled={disabled} onChange={(e) => write(entries.map((p, j) => (j === i ? [e.target.value, p[1]] : p)))} />
          <input aria-label={`Header ${i + 1} value`} value={v} disabled={disabled} onChange={(e) => write(entries.map((p, j) => (j === i ? [p[0], e.target.value] : p)))} />
          {!disabled && (
            <button type="button" className="btn-icon" aria-label={`Remove header ${i + 1}`} onClick={() => write(entries.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button type="button" className="btn btn-small" onClick={() => write([...entries, [`X-Header-${entries.length + 1}`, ""]])}>
          Add header
        </button>
      )}
    </div>
  );
}

/** Named branches with their share of users (Split): at least 2, at most 5, one holdout. */
function Branches({ value, onChange, disabled }) {
  const rows = Array.isArray(value) ? value : [];
  const set = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const total = rows.reduce((a, r) => a + (Number(r.percent) || 0), 0);
  return (
    <div className="filter-rows">
      {rows.map((r, i) => (
        <div className="filter-row" key={i}>
          <input aria-label={`Branch ${i + 1} name`} value={r.name || ""} disabled={disabled} onChange={(e) => set(i, { name: e.target.value.replace(/[^A-Za-z0-9_-]/g, "_") })} />
          <input type="number" min="1" max="100" aria-label={`Branch ${i + 1} percent`} value={r.percent ?? ""} disabled={disabled} onChange={(e) => set(i, { percent: parseInt(e.target.value || "0", 10) })} />
          <span>%</span>
          <label className="inline-check">
            <input type="checkbox" checked={!!r.holdout} disabled={disabled} onChange={(e) => set(i, { holdout: e.target.checked || undefined })} />
            {`Branch ${i + 1} is the holdout`}
          </label>
          {!disabled && rows.length > 2 && (
            <button type="button" className="btn-icon" aria-label={`Remove branch ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      <p className={total === 100 ? "field-help" : "field-error"}>Together: {total}% (must be 100%)</p>
      {!disabled && rows.length < 5 && (
        <button type="button" className="btn btn-small" onClick={() => onChange([...rows, { name: String.fromCharCode(97 + rows.length), percent: 0 }])}>
          Add branch
        </button>
      )}
    </div>
  );
}

/** One field of a block, labelled by its visible label. */
export function Field({ field, value, onChange, ctx, error }) {
  const id = useId();
  const label = fieldLabel(field);
  const disabled = ctx.readOnly;
  const help = field.help ? <p className="field-help" id={`${id}-help`}>{field.help}</p> : null;
  const errorLine = error ? <p className="field-error" role="alert">{error}</p> : null;
  const common = { id, disabled, "aria-required": field.required || undefined, "aria-describedby": field.help ? `${id}-help` : undefined, "aria-invalid": error ? true : undefined };
  const group = (content) => (
    <fieldset className={`field field-${field.kind}${error ? " has-error" : ""}`}>
      <legend>{label}</legend>
      {help}
      {content}
      {errorLine}
    </fieldset>
  );
  const single = (content) => (
    <div className={`field field-${field.kind}${error ? " has-error" : ""}`}>
      <span className="field-label-row">
        <label htmlFor={id}>{label}</label>
        {field.required ? <span className="req" aria-hidden="true" title="Required">*</span> : null}
      </span>
      {content}
      {help}
      {errorLine}
    </div>
  );
  switch (field.kind) {
    case "event":
      return single(<input type="text" {...common} list="journeys-events" value={value || ""} onChange={(e) => onChange(e.target.value)} placeholder="Event name, e.g. Added To Cart" />);
    case "property":
      return single(<input type="text" {...common} list="journeys-profile-properties" value={value || ""} onChange={(e) => onChange(e.target.value)} />);
    case "int":
      return single(
        <input type="number" {...common} value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? null : parseInt(e.target.value, 10))} />,
      );
    case "choice":
      return single(
        <select {...common} value={value ?? field.default ?? field.choices[0]} onChange={(e) => onChange(e.target.value)}>
          {field.choices.map((c) => (
            <option key={c} value={c}>
              {c.replace(/_/g, " ")}
            </option>
          ))}
        </select>,
      );
    case "duration":
    case "signed_duration":
      return single(<DurationInput id={id} label={label} value={value} onChange={onChange} signed={field.kind === "signed_duration"} disabled={disabled} />);
    case "template":
      return single(
        <textarea
          {...common}
          className="template"
          rows={field.name === "html" || field.name === "body" ? 4 : 2}
          value={value || ""}
          spellCheck="false"
          onChange={(e) => onChange(e.target.value)}
        />,
      );
    case "filters":
      return group(<FilterRows value={value} onChange={onChange} ctx={ctx} propertyList={ctx.propertyList} disabled={disabled} />);
    case "value_filter": {
      const v = value && typeof value === "object" ? value : { op: "contains", value: "" };
      return group(
        <div className="filter-row">
          <OpSelect ops={field.choices?.length ? field.choices : FILTER_OPS} label={`${label} operator`} value={v.op} disabled={disabled} onChange={(op) => onChange({ ...v, op })} />
          <ValueInput label={`${label} value`} value={v.value} op={v.op} disabled={disabled} onChange={(val) => onChange({ ...v, value: val })} />
        </div>,
      );
    }
    case "comparison": {
      const v = value && typeof value === "object" ? value : { op: "gte", value: 1 };
      return group(
        <div className="filter-row">
          <OpSelect ops={field.choices?.length ? field.choices : COMPARISON_OPS} label={`${label} operator`} value={v.op} disabled={disabled} onChange={(op) => onChange({ ...v, op })} />
          <input type="number" min="0" aria-label={`${label} value`} value={v.value ?? ""} disabled={disabled} onChange={(e) => onChange({ ...v, value: parseInt(e.target.value || "0", 10) })} />
        </div>,
      );
    }
    case "conditions":
      return group(<Conditions value={value} onChange={onChange} ctx={ctx} disabled={disabled} />);
    case "branches":
      return group(<Branches value={value} onChange={onChange} disabled={disabled} />);
    case "headers":
      return group(<Headers value={value} onChange={onChange} disabled={disabled} />);
    case "journey":
      return single(
        <select {...common} value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? null : Number(e.target.value))}>
          <option value="">Choose a journey…</option>
          {(ctx.journeys || []).map((j) => (
            <option key={j.id} value={j.id}>
              {j.name}
            </option>
          ))}
        </select>,
      );
    case "block":
      return single(<BlockOfJourney common={common} journeyId={ctx.block?.journey} value={value} onChange={onChange} />);
    default:
      // any kind the canvas does not know yet: text, or JSON for objects.
      if (value !== null && typeof value === "object") {
        return single(<JsonInput common={common} value={value} onChange={onChange} />);
      }
      return single(<input type="text" {...common} value={value ?? ""} onChange={(e) => onChange(e.target.value)} />);
  }
}

/** A block of another journey (Journey Trigger's ``node``), picked from that journey's blocks. */
function BlockOfJourney({ common, journeyId, value, onChange }) {
  const [blocks, setBlocks] = useState(null);
  useEffect(() => {
    let live = true;
    setBlocks(null);
    if (!journeyId) return undefined;
    call("GET", `journeys/${journeyId}`)
      .then((j) => {
        const d = j.definition || {};
        const all = [d.entry, ...(d.nodes || [])].filter((b) => b && b.id);
        if (live) setBlocks(all.map((b) => ({ id: b.id, name: b.label ? `${b.label} (${b.id})` : b.id })));
      })
      .catch(() => live && setBlocks([]));
    return () => {
      live = false;
    };
  }, [journeyId]);
  if (!journeyId) return <input type="text" {...common} disabled value={value ?? ""} placeholder="Choose the journey first" readOnly />;
  return (
    <select {...common} value={value ?? ""} onChange={(e) => onChange(e.target.value || null)}>
      <option value="">{blocks === null ? "Loading…" : "Choose a block…"}</option>
      {(blocks || []).map((b) => (
        <option key={b.id} value={b.id}>
          {b.name}
        </option>
      ))}
      {value && blocks && !blocks.some((b) => b.id === value) ? <option value={value}>{value}</option> : null}
    </select>
  );
}

function JsonInput({ common, value, onChange }) {
  const [text, setText] = useState(JSON.stringify(value, null, 1));
  return (
    <textarea
      {...common}
      rows={3}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        try {
          onChange(JSON.parse(e.target.value));
        } catch {
          /* keep typing */
        }
      }}
    />
  );
}
