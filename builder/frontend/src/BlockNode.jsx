// One block on the canvas: a labelled group with its summary, users' count and handles.
import { memo, useEffect, useRef, useState } from "react";
import { Handle, Position, useUpdateNodeInternals } from "@xyflow/react";
import { outHandles, summarize } from "./model.js";

function BlockNodeView({ id, data, selected }) {
  const { block, kind, isEntry, users, errors, readOnly, onRename } = data;
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
        <div className="block-title" onDoubleClick={() => !readOnly && setEditing(true)} title={readOnly ? undefined : "Double-click to rename"}>
          {title}
        </div>
      )}
      <div className="block-summary">{summary}</div>
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
            {many && (
              <span className={`handle-name handle-name-${h.id}`} style={{ left }} aria-hidden="true">
                {h.name}
              </span>
            )}
          </div>
        );
      })}
    </div>
  );
}

export const BlockNode = memo(BlockNodeView);
