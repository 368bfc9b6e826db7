// One block on the canvas: a labelled group with its summary, users' count and handles.
import { memo, useEffect, useRef, useState } from "react";
import { Handle, Position, useUpdateNodeInternals } from "@xyflow/react";
import { outHandles, summarize } from "./model.js";
import { figure } from "./frames.js";

// How many users went out of a handle in the time frame: a segment's yes / no, a Split's branches.
function handleCount(figures, id) {
  if (!figures) return null;
  if (figures.branches && id in figures.branches) return figures.branches[id];
  if ((id === "yes" || id === "no") && typeof figures[id] === "number") return figures[id];
  return null;
}

function wait(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function BlockNodeView({ id, data, selected }) {
  const { block, kind, isEntry, users, errors, readOnly, onRename, figures, waiting, detailsUrl, stuckUrl } = data;
  const [editing, setEditing] = useState(false);
  const kindLabel = kind?.label || block.type;
  const title = block.label || kindLabel;
  const summary = summarize(block, kind);
  const handles = outHandles(block, kind, isEntry);
  const many = handles.length > 1;
  // Handles that come and go (a Split's branches) must be measured again to be connectable.
  const updateInternals = useUpdateNodeInternals();
  const handleKey = handles.map((h) => h.id).join("|");
  const measuredKey = useRef(handleKey);
  useEffect(() => {
    if (measuredKey.current === handleKey) return; // first drawn: React Flow measures it
    measuredKey.current = handleKey;
    updateInternals(id);
  }, [id, handleKey, updateInternals]);
  const category = kind?.category || "flow";
  const reachedWord = isEntry ? "Entered" : category === "segment" ? "Evaluated" : category === "message" ? "Reached" : "Entered";
  const exits = figures
    ? [
        ["Goal Met", figures.goal_met],
        ["Completed", figures.completed],
        ["Time Out", figures.time_out],
      ].filter(([, v]) => v !== null && v !== undefined)
    : [];
  const figureText = figures ? `${reachedWord} ${figure(figures.entered)}` : "";
  const exitText = exits.map(([k, v]) => `${k} ${figure(v)}`).join(" · ");
  const statsText = [figureText, exitText].filter(Boolean).join(" · ");
  const pathText = handles
    .filter((h) => handleCount(figures, h.id) !== null)
    .map((h) => `${h.name} ${figure(handleCount(figures, h.id))}`)
    .join(", ");
  const statItems = [figureText, ...exits.map(([k, v]) => `${k} ${figure(v)}`)].map((t, i) => (
    <span key={t} className="stat">
      {i ? ` · ${t}` : t}
    </span>
  ));
  // The counts drawn under the handles are decoration; screen readers get them here.
  if (pathText) statItems.push(<span key="paths" className="visually-hidden">{`. Paths: ${pathText}`}</span>);
  return (
    <div
      role="group"
      aria-label={`${title}${block.label ? ` (${kindLabel})` : ""}${isEntry ? ", entry" : ""}`}
      className={`block cat-${category}${selected ? " is-selected" : ""}${errors?.length ? " has-errors" : ""}${isEntry ? " is-entry" : ""}`}
      data-block-id={id}
    >
      {!isEntry && <Handle type="target" position={Position.Top} id="in" aria-label="in" className="handle-in" />}
      <div className="block-head">
        <span className="block-kind">{isEntry ? `Entry · ${kindLabel}` : kindLabel}</span>
        <span className="block-users" title="Users at this block now">
          {users} {users === 1 ? "user" : "users"}
        </span>
      </div>
      {editing && !readOnly ? (
        <input
          className="block-title-input nodrag"
          aria-label="Block name"
          autoFocus
          defaultValue={block.label || ""}
          placeholder={kindLabel}
          maxLength={200}
          onBlur={(e) => {
            onRename(id, e.target.value.trim());
            setEditing(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") e.currentTarget.blur();
            if (e.key === "Escape") setEditing(false);
          }}
        />
      ) : (
        <div className="block-title-row">
          <div className="block-title" onDoubleClick={() => !readOnly && setEditing(true)} title={readOnly ? undefined : "Double-click to rename"}>
            {title}
          </div>
          {detailsUrl && (
            <a className="block-details nodrag" href={detailsUrl}>
              Details
            </a>
          )}
        </div>
      )}
      <div className="block-summary">{summary}</div>
      {figures &&
        (detailsUrl ? (
          <a className="block-stats nodrag" href={detailsUrl} title={`${statsText}: open the ${category === "message" ? "campaign" : "segment"} details`}>
            {statItems}
          </a>
        ) : (
          <div className="block-stats" title={statsText}>
            {statItems}
          </div>
        ))}
      {stuckUrl && (
        <a
          className="block-stuck nodrag"
          href={stuckUrl}
          title={`Waiting longest: ${wait(waiting.longest_wait_seconds)}; this block should take ${waiting.expected_seconds === null ? "no set time" : wait(waiting.expected_seconds)}`}
        >
          ⚠ {waiting.stuck} stuck: waited {wait(waiting.longest_wait_seconds)}, expected {waiting.expected_seconds === null ? "no limit" : wait(waiting.expected_seconds)}
        </a>
      )}
      {errors?.length ? (
        <div className="block-errors">
          ⚠ {errors.length === 1 ? errors[0] : `${errors.length} problems: ${errors[0]}`}
        </div>
      ) : null}
      {handles.map((h, i) => {
        const left = many ? `${((i + 1) * 100) / (handles.length + 1)}%` : "50%";
        return (
          <div key={h.id}>
            <Handle
              type="source"
              position={Position.Bottom}
              id={h.id}
              aria-label={h.name}
              className={`handle-out handle-${h.id}`}
              style={{ left }}
            />
            {(many || handleCount(figures, h.id) !== null) && (
              <span className={`handle-name handle-name-${h.id}`} style={{ left }} aria-hidden="true">
                {h.name}
                {handleCount(figures, h.id) !== null && <b className="handle-count">{` ${figure(handleCount(figures, h.id))}`}</b>}
              </span>
            )}
          </div>
        );
      })}
    </div>
  );
}

export const BlockNode = memo(BlockNodeView);
