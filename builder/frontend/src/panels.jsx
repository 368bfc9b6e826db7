// The side panel: the selected block's form (from the registry's fields) and journey settings.
import { useEffect, useId, useState } from "react";
import { call } from "./api.js";
import { Field } from "./fields.jsx";
import { fieldLabel, newId } from "./model.js";

function fieldError(errors, name) {
  // Messages name their field in quotes ('event' is required); show them under that field.
  return errors.find((m) => m.includes(`'${name}'`) || m.toLowerCase().startsWith(`${name} `));
}

export function BlockForm({ node, kind, ctx, errors, onChange, onMakeEntry, hasOtherEntry, users }) {
  const block = node.data.block;
  const isEntry = node.data.isEntry;
  const labelId = useId();
  if (!kind) return <p>Unknown block type {block.type}.</p>;
  const fields = kind.fields.filter((f) => f.where === "both" || (f.where === "entry") === isEntry);
  const shown = new Set();
  return (
    <form className="block-form" onSubmit={(e) => e.preventDefault()} aria-label={`${block.label || kind.label} settings`}>
      <h2>
        {kind.label}
        {isEntry ? " (entry)" : ""}
      </h2>
      <p className="kind-help">{kind.description}</p>
      <p className="users-line">
        {users} {users === 1 ? "user is" : "users are"} at this block now.
      </p>
      <div className="field">
        <label htmlFor={labelId}>Block name</label>
        <input
          id={labelId}
          type="text"
          maxLength={200}
          placeholder={kind.label}
          value={block.label || ""}
          disabled={ctx.readOnly}
          onChange={(e) => onChange({ label: e.target.value }, "label")}
        />
      </div>
      {fields.map((f) => {
        const err = fieldError(errors, f.name);
        if (err) shown.add(err);
        return <Field key={f.name} field={f} value={block[f.name]} ctx={{ ...ctx, block }} error={err} onChange={(v) => onChange({ [f.name]: v }, f.name)} />;
      })}
      {errors.filter((m) => !shown.has(m)).map((m, i) => (
        <p key={i} className="field-error" role="alert">
          {m}
        </p>
      ))}
      {kind.category === "message" && <MessagePreview block={block} kind={kind} ctx={ctx} nodeId={node.id} />}
      {!ctx.readOnly && kind.entry && !isEntry && (
        <button type="button" className="btn btn-small" onClick={onMakeEntry}>
          {hasOtherEntry ? "Make this the entry instead" : "Make this the entry"}
        </button>
      )}
      <p className="block-id">Id: {node.id}</p>
    </form>
  );
}

function MessagePreview({ block, kind, ctx, nodeId }) {
  const [profile, setProfile] = useState("");
  const [result, setResult] = useState(null);
  const [problem, setProblem] = useState(null);
  const profileId = useId();
  const templates = Object.fromEntries(kind.fields.filter((f) => f.kind === "template").map((f) => [f.name, block[f.name] || ""]));
  const key = JSON.stringify(templates);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      call("POST", `journeys/${ctx.journeyId}/render`, { node: nodeId, templates, profile_id: profile.trim() })
        .then((r) => {
          if (!live) return;
          setResult(r);
          setProblem(null);
        })
        .catch((err) => live && setProblem(err.body?.profile_id?.[0] || err.message));
    }, 350);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, profile, ctx.journeyId, nodeId]);
  return (
    <section className="preview" aria-labelledby={`${profileId}-title`}>
      <h3 id={`${profileId}-title`}>Preview</h3>
      <div className="field">
        <label htmlFor={profileId}>Preview for profile</label>
        <input id={profileId} type="text" placeholder="Profile id (empty: a sample profile)" value={profile} onChange={(e) => setProfile(e.target.value)} />
      </div>
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      {result && (
        <div className={`preview-card channel-${kind.type}`} aria-label="Message preview" role="region">
          <p className="preview-for">For {result.sample ? "a sample profile (Ana)" : `profile ${result.profile_id}`}</p>
          {Object.keys(templates).map((name) => (
            <div key={name} className={`preview-${name}`}>
              <span className="preview-field">{fieldLabel({ name })}</span>
              {result.errors[name] ? (
                <span className="field-error">{result.errors[name]}</span>
              ) : name === "html" ? (
                <iframe title="Email HTML preview" sandbox="" srcDoc={result.rendered[name] || ""} className="preview-html" />
              ) : (
                <span className="preview-text">{result.rendered[name] || "—"}</span>
              )}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

const GOAL_FIELDS = {
  action: [
    { name: "event", kind: "event", required: true, help: "Users who do this have met the goal", where: "both", choices: [] },
    { name: "where", kind: "filters", required: false, help: "Filters on that event", where: "both", choices: [] },
  ],
  past_behaviour: [
    { name: "window_days", kind: "int", required: true, help: "Look back this many days", where: "both", choices: [] },
    { name: "match", kind: "choice", required: false, help: "Whether all or any condition must hold", where: "both", choices: ["all", "any"], default: "all" },
    { name: "conditions", kind: "conditions", required: true, help: "did / did_not / profile conditions", where: "both", choices: [] },
  ],
};

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function JourneySettings({ settings, goals, entry, kinds, ctx, errors, onSettings, onGoals, onEntryKind, takenIds }) {
  const ids = { entry: useId(), reentry: useId(), start: useId(), end: useId() };
  const disabled = ctx.readOnly;
  const set = (patch) => onSettings({ ...settings, ...patch });
  const entryKind = entry ? kinds[entry.data.block.type] : null;
  return (
    <form className="settings-form" onSubmit={(e) => e.preventDefault()} aria-label="Journey settings">
      <h2>Journey settings</h2>
      {entry ? (
        <div className="field">
          <label htmlFor={ids.entry}>Entry kind</label>
          <select id={ids.entry} value={entry.data.block.type} disabled={disabled} onChange={(e) => onEntryKind(e.target.value)}>
            {Object.values(kinds)
              .filter((k) => k.entry)
              .map((k) => (
                <option key={k.type} value={k.type}>
                  {k.label}
                </option>
              ))}
          </select>
          <p className="field-help">
            Users enter when they match the entry block “{entry.data.block.label || entryKind?.label}”. Select it on the board to edit its settings.
          </p>
        </div>
      ) : (
        <p className="field-help">No entry yet: drag a Segment block onto the canvas.</p>
      )}
      <Field
        field={{ name: "conversion_time", label: "Conversion time", kind: "duration", required: false, help: "Users leave (time out) this long after they enter; empty: no limit", choices: [] }}
        value={settings.conversion_time}
        ctx={ctx}
        onChange={(v) => set({ conversion_time: v })}
      />
      <div className="field field-check">
        <input id={ids.reentry} type="checkbox" checked={!!settings.allow_reentry} disabled={disabled} onChange={(e) => set({ allow_reentry: e.target.checked })} />
        <label htmlFor={ids.reentry}>Let users enter again after they leave</label>
      </div>
      <div className="field">
        <label htmlFor={ids.start}>Start at</label>
        <input id={ids.start} type="datetime-local" value={toLocalInput(settings.start_at)} disabled={disabled} onChange={(e) => set({ start_at: fromLocalInput(e.target.value) })} />
        <p className="field-help">Empty: starts when you publish. Later: publishing schedules it.</p>
      </div>
      <div className="field">
        <label htmlFor={ids.end}>End at</label>
        <input id={ids.end} type="datetime-local" value={toLocalInput(settings.end_at)} disabled={disabled} onChange={(e) => set({ end_at: fromLocalInput(e.target.value) })} />
      </div>
      <fieldset className="goals">
        <legend>Goals ({goals.length} of 3)</legend>
        <p className="field-help">Users who meet a goal leave the journey and count as converted.</p>
        {goals.map((g, i) => (
          <div className="goal" key={g.id || i} role="group" aria-label={`Goal ${i + 1}`}>
            <div className="field">
              <label htmlFor={`goal-type-${i}`}>{`Goal ${i + 1} type`}</label>
              <select
                id={`goal-type-${i}`}
                value={g.type}
                disabled={disabled}
                onChange={(e) =>
                  onGoals(goals.map((x, j) => (j === i ? (e.target.value === "action" ? { id: x.id, type: "action", event: "" } : { id: x.id, type: "past_behaviour", window_days: 1, match: "all", conditions: [{ kind: "did", event: "" }] }) : x)))
                }
              >
                <option value="action">Does an event</option>
                <option value="past_behaviour">Past behaviour</option>
              </select>
            </div>
            {(GOAL_FIELDS[g.type] || []).map((f) => (
              <Field
                key={f.name}
                field={{ ...f, label: `Goal ${i + 1} ${fieldLabel(f).toLowerCase()}` }}
                value={g[f.name]}
                ctx={ctx}
                onChange={(v) => onGoals(goals.map((x, j) => (j === i ? { ...x, [f.name]: v } : x)))}
              />
            ))}
            {!disabled && (
              <button type="button" className="btn btn-small" onClick={() => onGoals(goals.filter((_, j) => j !== i))}>
                {`Remove goal ${i + 1}`}
              </button>
            )}
          </div>
        ))}
        {!disabled && goals.length < 3 && (
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              const taken = new Set([...takenIds, ...goals.map((g) => g.id)]);
              onGoals([...goals, { id: newId("goal", taken), type: "action", event: "" }]);
            }}
          >
            Add goal
          </button>
        )}
      </fieldset>
      {errors.map((e, i) => (
        <p key={i} className="field-error" role="alert">
          {e.path}: {e.message}
        </p>
      ))}
    </form>
  );
}
