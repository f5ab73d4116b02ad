// metrics: each monitor the service's policy watches, for one process, over
// a chosen window — with the policy's threshold drawn as a line and the
// process's task starts marked, so the user sees why a task fired.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { allPages, api } from '../lib/api.js';
import { useData, useWidth } from '../lib/hooks.js';
import { HOUR_MS, MONITOR_UNIT, TARGET_COLOR, fmtTime, fmtValue } from '../lib/format.js';
import { Async, Empty, ErrorBox, Loading } from './common.jsx';

// Windows inside the server's raw retention (1 h) come per second, longer
// ones as per-minute averages with their maximum.
const MIN_MS = 60 * 1000;
const WINDOWS = [['10 min', 10 * MIN_MS], ['30 min', 30 * MIN_MS], ['6 h', 6 * HOUR_MS], ['24 h', 24 * HOUR_MS], ['48 h', 48 * HOUR_MS]];
const RAW_MS = HOUR_MS;
const DEFAULT_MONITORS = ['PROCESS_CPU', 'PROCESS_THREAD_COUNT'];

// [{monitor, uri, thresholds: [{target, value}]}] from the policy.
function watched(policy) {
  const byKey = new Map();
  for (const t of policy?.targets || []) for (const i of t.items) {
    const uri = i.uri_regex || (i.uri_list ? i.uri_list[0] : '');
    const key = `${i.monitor}\n${uri}`;
    if (!byKey.has(key)) byKey.set(key, { monitor: i.monitor, uri, thresholds: [] });
    byKey.get(key).thresholds.push({ target: t.target, value: i.threshold, period: i.period, count: i.count });
  }
  const list = [...byKey.values()];
  return list.length ? list : DEFAULT_MONITORS.map((m) => ({ monitor: m, uri: '', thresholds: [] }));
}

export function MetricsTab({ proc }) {
  const [span, setSpan] = useState(30 * MIN_MS);
  const [now, setNow] = useState(() => Date.now());
  const from = now - span;
  const ctx = useData(async () => {
    const [policy, tasks] = await Promise.all([
      api.policy(proc.service).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
      allPages('/api/v1/tasks', { process: proc.id, since: from }),
    ]);
    return { policy, tasks };
  }, [proc.id, from]);
  return (
    <>
      <div class="toolbar">
        {WINDOWS.map(([label, ms]) => <button type="button" class={ms === span ? 'active' : ''} onClick={() => { setSpan(ms); setNow(Date.now()); }}>{label}</button>)}
        <button type="button" onClick={() => setNow(Date.now())}>Refresh</button>
        <span class="muted">{fmtTime(from)} – {fmtTime(now)}{span >= RAW_MS ? ' · per-minute averages and maxima' : ' · per second'}</span>
      </div>
      <Async state={ctx} what="Loading the policy and tasks" isEmpty={() => false}>
        {({ policy, tasks }) => (
          <>
            {!policy ? <p class="muted">The service has no policy: showing CPU and threads without thresholds.</p> : null}
            {watched(policy).map((w) => <MetricChart proc={proc} w={w} from={from} to={now} tasks={tasks} />)}
          </>)}
      </Async>
    </>
  );
}

function MetricChart({ proc, w, from, to, tasks }) {
  const state = useData(async () => {
    let rows = await api.metrics(proc.id, w.monitor, from, to, w.uri || undefined);
    if (!rows.length && w.uri) rows = await api.metrics(proc.id, w.monitor, from, to);
    return rows;
  }, [proc.id, w.monitor, w.uri, from, to]);
  const title = `${w.monitor}${w.uri ? ` (uri ${w.uri})` : ''}`;
  return (
    <div class="metric" data-monitor={w.monitor}>
      <h3>{title} <span class="muted">{MONITOR_UNIT[w.monitor]}</span>
        {w.thresholds.map((t) => <span class="threshold-note" style={{ color: TARGET_COLOR[t.target] }}> {t.target} fires at ≥ {fmtValue(w.monitor, t.value)} in {t.count} of {t.period} s</span>)}</h3>
      {state.loading && state.data === undefined ? <Loading what="Loading values" />
        : state.error ? <ErrorBox error={state.error} retry={state.reload} />
          : state.data.length === 0 ? <Empty>No value in this window: the agent reports this metric while the service has a policy and the process runs.</Empty>
            : <Chart rows={state.data} w={w} from={from} to={to} tasks={tasks} />}
    </div>
  );
}

function Chart({ rows, w, from, to, tasks }) {
  const box = useRef(null);
  const width = useWidth(box);
  useEffect(() => {
    if (!width) return undefined;
    const xs = rows.map((r) => r.time / 1000);
    const series = [{}, { label: w.monitor, stroke: '#444', width: 1.5, value: (u, v) => (v === null ? '—' : fmtValue(w.monitor, v)) }];
    const data = [xs, rows.map((r) => r.value)];
    if (rows.some((r) => r.max !== undefined)) {
      series.push({ label: 'max', stroke: '#aaa', dash: [4, 3], width: 1, value: (u, v) => (v === null ? '—' : fmtValue(w.monitor, v)) });
      data.push(rows.map((r) => r.max ?? null));
    }
    const starts = tasks.filter((t) => t.start_time >= from && t.start_time <= to);
    const maxY = Math.max(...rows.map((r) => r.max ?? r.value), ...w.thresholds.map((t) => t.value)) * 1.1 || 1;
    const opts = {
      width, height: 220,
      scales: { x: { time: true, range: [from / 1000, to / 1000] }, y: { range: [0, maxY] } },
      axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => `${+v.toFixed(2)}`) }],
      series,
      legend: { live: true },
      hooks: {
        draw: [(u) => {
          const c = u.ctx;
          c.save();
          c.lineWidth = 1.5 * devicePixelRatio;
          for (const t of w.thresholds) {
            const y = u.valToPos(t.value, 'y', true);
            c.strokeStyle = TARGET_COLOR[t.target];
            c.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            c.beginPath(); c.moveTo(u.bbox.left, y); c.lineTo(u.bbox.left + u.bbox.width, y); c.stroke();
            c.fillStyle = TARGET_COLOR[t.target];
            c.font = `${11 * devicePixelRatio}px sans-serif`;
            c.textAlign = 'right';
            c.fillText(`${t.target} ≥ ${t.value}`, u.bbox.left + u.bbox.width - 4, y - 4 * devicePixelRatio);
          }
          c.setLineDash([]);
          for (const t of starts) {
            const x = u.valToPos(t.start_time / 1000, 'x', true);
            c.strokeStyle = TARGET_COLOR[t.target];
            c.beginPath(); c.moveTo(x, u.bbox.top); c.lineTo(x, u.bbox.top + u.bbox.height); c.stroke();
            c.fillStyle = TARGET_COLOR[t.target];
            c.beginPath(); c.moveTo(x, u.bbox.top); c.lineTo(x - 5 * devicePixelRatio, u.bbox.top - 7 * devicePixelRatio);
            c.lineTo(x + 5 * devicePixelRatio, u.bbox.top - 7 * devicePixelRatio); c.fill();
          }
          c.restore();
        }],
      },
    };
    const plot = new uPlot(opts, data, box.current);
    return () => plot.destroy();
  }, [rows, width, from, to, tasks]);
  const starts = tasks.filter((t) => t.start_time >= from && t.start_time <= to).length;
  return (
    <>
      <div class="chart" ref={box} />
      <p class="muted small">{starts} task start{starts === 1 ? '' : 's'} marked (coloured by target){w.thresholds.length ? '; dashed: the policy threshold' : ''}.</p>
    </>
  );
}
