// timeline: a process's tasks on a time axis, one lane per target, each task
// a bar from its start to its end (to now while it runs). Wheel zooms around
// the pointer, dragging pans, the preset buttons pick a window ending now.
// Hovering a bar shows its start, end, target, trigger and cause; clicking
// it opens the task.
import { useRef, useState } from 'preact/hooks';
import { scaleTime } from 'd3-scale';
import { HOUR_MS, TARGETS, TARGET_COLOR, fmtDuration, fmtTime, fmtValue, taskEnd } from '../lib/format.js';
import { useWidth } from '../lib/hooks.js';

const LANE_H = 26, AXIS_H = 22, LABEL_W = 78, MIN_SPAN_MS = 60 * 1000, MAX_SPAN_MS = 7 * 24 * HOUR_MS;
export const PRESETS = [['1 h', HOUR_MS], ['6 h', 6 * HOUR_MS], ['24 h', 24 * HOUR_MS], ['48 h', 48 * HOUR_MS], ['7 d', 7 * 24 * HOUR_MS]];

function Tip({ task, x, y }) {
  const c = task.cause || {};
  return (
    <div class="tip timeline-tip" style={{ left: `${x}px`, top: `${y}px` }} role="tooltip">
      <strong>{task.target}</strong> · {task.trigger === 'MANUAL' ? 'manual' : 'policy'} · {task.status}
      <div>start {fmtTime(task.start_time)}</div>
      <div>end {task.end_time ? fmtTime(task.end_time) : `running (planned ${fmtDuration(task.duration * 1000)})`}</div>
      {c.message ? <div class="cause">{c.message}</div> : null}
      {c.monitor ? <div class="muted">{c.monitor} ≥ {fmtValue(c.monitor, c.threshold)}, {c.matched ?? '?'} of {c.period} s matched (needs {c.count}); now {fmtValue(c.monitor, c.current)}, peak {fmtValue(c.monitor, c.peak)}{c.uri ? `, uri ${c.uri}` : ''}</div> : null}
      {task.reason ? <div class="error-text">{task.reason}</div> : null}
    </div>
  );
}

export function Timeline({ tasks, range, onRange, onOpen, now = Date.now() }) {
  const wrap = useRef(null);
  const width = useWidth(wrap);
  const [hover, setHover] = useState(null);
  const drag = useRef(null);
  const [from, to] = range;
  const plotW = Math.max(width - LABEL_W, 50);
  const x = scaleTime().domain([new Date(from), new Date(to)]).range([0, plotW]);
  const height = AXIS_H + LANE_H * TARGETS.length;

  const setSpan = (center, span, frac) => {
    span = Math.min(Math.max(span, MIN_SPAN_MS), MAX_SPAN_MS);
    let f = center - span * frac;
    let t = f + span;
    // Past "now" there is nothing; a window ending at now keeps ending there
    // when zoomed from its right edge.
    const followsNow = to >= now - 1000 && frac > 0.95;
    if (t > now + span * 0.05 || followsNow) { t = now; f = t - span; }
    onRange([Math.round(f), Math.round(t)]);
  };
  const onWheel = (e) => {
    e.preventDefault();
    const px = e.clientX - e.currentTarget.getBoundingClientRect().left - LABEL_W;
    const frac = Math.min(Math.max(px / plotW, 0), 1);
    const center = from + (to - from) * frac;
    setSpan(center, (to - from) * (e.deltaY > 0 ? 1.25 : 0.8), frac);
  };
  const onDown = (e) => { drag.current = { x: e.clientX, from, to, moved: false }; };
  const onMove = (e) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    if (Math.abs(dx) > 3) d.moved = true;
    if (!d.moved) return;
    const shift = -dx / plotW * (d.to - d.from);
    onRange([Math.round(d.from + shift), Math.round(d.to + shift)]);
  };
  const onUp = () => { setTimeout(() => { drag.current = null; }, 0); };

  const visible = tasks.filter((t) => taskEnd(t, now) >= from && t.start_time <= to);
  return (
    <div class="timeline" ref={wrap}>
      <div class="toolbar">
        {PRESETS.map(([label, span]) => (
          <button type="button" class={Math.abs(to - from - span) < 1000 && now - to < 60000 ? 'active' : ''} onClick={() => onRange([now - span, now])}>{label}</button>))}
        <button type="button" title="Zoom in" aria-label="zoom in" onClick={() => setSpan((from + to) / 2, (to - from) / 2, 0.5)}>+</button>
        <button type="button" title="Zoom out" aria-label="zoom out" onClick={() => setSpan((from + to) / 2, (to - from) * 2, 0.5)}>−</button>
        <span class="muted range-label">{fmtTime(from)} – {fmtTime(to)} · {visible.length} task{visible.length === 1 ? '' : 's'} · wheel to zoom, drag to pan</span>
      </div>
      {width ? (
        <svg width={width} height={height} class="timeline-svg" onWheel={onWheel}
          onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp} onPointerLeave={() => { setHover(null); drag.current = null; }}>
          <g transform={`translate(${LABEL_W},0)`}>
            {x.ticks(Math.max(2, Math.floor(plotW / 110))).map((t) => (
              <g transform={`translate(${x(t)},0)`} class="tick">
                <line y1={AXIS_H - 4} y2={height} />
                <text y={AXIS_H - 8} text-anchor="middle">{x.tickFormat()(t)}</text>
              </g>))}
            {now >= from && now <= to ? <line class="now" x1={x(now)} x2={x(now)} y1={AXIS_H - 4} y2={height} /> : null}
          </g>
          {TARGETS.map((target, lane) => (
            <g transform={`translate(0,${AXIS_H + lane * LANE_H})`}>
              <text class="lane-label" x="4" y={LANE_H / 2 + 4}>{target}</text>
              <line class="lane" x1={LABEL_W} x2={width} y1={LANE_H} y2={LANE_H} />
            </g>))}
          <g transform={`translate(${LABEL_W},0)`}>
            {visible.map((t) => {
              const lane = TARGETS.indexOf(t.target);
              const x0 = Math.max(x(t.start_time), 0), x1 = Math.min(x(taskEnd(t, now)), plotW);
              return (
                <rect class={`task-bar status-${t.status.toLowerCase()}`} data-task={t.id}
                  x={x0} y={AXIS_H + lane * LANE_H + 4} width={Math.max(x1 - x0, 3)} height={LANE_H - 8} rx="2"
                  fill={TARGET_COLOR[t.target]}
                  onMouseEnter={(e) => { const r = wrap.current.getBoundingClientRect(); setHover({ task: t, x: Math.max(0, Math.min(e.clientX - r.left + 12, width - 300)), y: e.clientY - r.top + 12 }); }}
                  onMouseMove={(e) => { const r = wrap.current.getBoundingClientRect(); setHover((h) => h && { ...h, x: Math.max(0, Math.min(e.clientX - r.left + 12, width - 300)), y: e.clientY - r.top + 12 }); }}
                  onMouseLeave={() => setHover(null)}
                  tabindex="0" role="link" aria-label={`${t.target} task from ${fmtTime(t.start_time)}, ${t.status.toLowerCase()}`}
                  onKeyDown={(e) => { if (e.key === 'Enter') onOpen(t); }}
                  onClick={() => { if (!drag.current?.moved) onOpen(t); }}>
                </rect>);
            })}
          </g>
        </svg>) : null}
      {hover ? <Tip {...hover} /> : null}
      <div class="legend">{TARGETS.map((t) => <span><i style={{ background: TARGET_COLOR[t] }} />{t}</span>)}</div>
    </div>
  );
}
