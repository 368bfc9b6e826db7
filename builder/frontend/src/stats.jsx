// The stats bar above the board: live state, time-frame picker and the journey summary.
import { PRESETS, figure, percent } from "./frames.js";

const LIVE_WORDS = {
  connecting: "Connecting to live numbers…",
  live: "Live numbers",
  polling: "Live numbers (refreshed every 2 s)",
  stale: "Live numbers paused — reconnecting…",
};

export function StatsBar({ frame, onFrame, frameError, stats, statsError, live, timeZone, reportUrl, stuckTotal }) {
  const s = stats?.summary;
  const conversionIs = s && s.goal_met === null ? "Completed" : "Goal Met";
  const items = s
    ? [
        ["Entry", figure(s.entry)],
        ...(s.goal_met !== null ? [["Goal Met", figure(s.goal_met)]] : [["Completed", figure(s.completed)]]),
        ["Time Out", figure(s.time_out)],
        ["Conversion %", percent(s.conversion_pct)],
      ]
    : [];
  return (
    <section className="stats-bar" aria-label="Journey stats">
      <p className={`live-state live-${live}`} role="status" aria-live="polite">
        <span className="live-dot" aria-hidden="true" />
        {LIVE_WORDS[live] || ""}
      </p>
      <div className="frame-picker">
        <label htmlFor="stats-frame">Time frame</label>
        <select id="stats-frame" value={frame.preset} onChange={(e) => onFrame({ ...frame, preset: e.target.value })}>
          {PRESETS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        {frame.preset === "custom" && (
          <>
            <label htmlFor="stats-from">From</label>
            <input id="stats-from" type="date" value={frame.from} onChange={(e) => onFrame({ ...frame, from: e.target.value })} />
            <label htmlFor="stats-to">To</label>
            <input id="stats-to" type="date" value={frame.to} onChange={(e) => onFrame({ ...frame, to: e.target.value })} />
          </>
        )}
        <span className="frame-zone" title="Days start at midnight in the project's time zone">
          {timeZone}
        </span>
      </div>
      {frameError || statsError ? (
        <p className="stats-error" role="alert">
          {frameError || statsError}
        </p>
      ) : (
        <dl className="summary" aria-label="Journey summary" title={s ? `Conversion % = ${conversionIs} / Entry × 100` : undefined}>
          {items.map(([term, value]) => (
            <div key={term} className="summary-item">
              <dt>{term}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}
      {stuckTotal > 0 && (
        <a className="stuck-total" href={`${reportUrl}#stuck-h`}>
          ⚠ {stuckTotal} stuck
        </a>
      )}
      <a className="report-link" href={reportUrl}>
        Report
      </a>
    </section>
  );
}
