// format: how the UI writes times, durations, values and policies. Times are
// Unix milliseconds shown in the browser's local time zone.

export const TARGETS = ['ON_CPU', 'OFF_CPU', 'NETWORK'];
export const MONITORS = ['PROCESS_CPU', 'PROCESS_THREAD_COUNT', 'SYSTEM_LOAD', 'HTTP_ERROR_RATE',
  'HTTP_AVG_RESPONSE_TIME'];
// Display only (the unit of a threshold); the server owns every rule.
export const MONITOR_UNIT = {
  PROCESS_CPU: '%', PROCESS_THREAD_COUNT: 'threads', SYSTEM_LOAD: 'load',
  HTTP_ERROR_RATE: '%', HTTP_AVG_RESPONSE_TIME: 'ms',
};
export const HTTP_MONITORS = new Set(['HTTP_ERROR_RATE', 'HTTP_AVG_RESPONSE_TIME']);
export const TARGET_COLOR = { ON_CPU: '#e4572e', OFF_CPU: '#3f88c5', NETWORK: '#2a9d5c' };
export const HOUR_MS = 3600 * 1000;

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return dateTime.format(new Date(ms));
}
export function fmtClock(ms) {
  return ms === null || ms === undefined ? '—' : timeOnly.format(new Date(ms));
}
export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ''}`.trim();
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
export function fmtNumber(v, digits = 1) {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return v.toLocaleString();
  return v.toLocaleString(undefined, { maximumFractionDigits: digits });
}
export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
export function fmtValue(monitor, v) {
  const unit = MONITOR_UNIT[monitor] || '';
  if (v === null || v === undefined) return '—';
  return unit === '%' ? `${fmtNumber(v)} %` : `${fmtNumber(v, 2)} ${unit}`;
}
export function fmtNs(ns) {
  if (ns < 1e3) return `${ns} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

// "PROCESS_CPU >= 80 % (5 of 10 s)"
export function itemSummary(item) {
  const uri = item.uri_regex ? ` uri ~ ${item.uri_regex}` : item.uri_list ? ` uri in [${item.uri_list.join(', ')}]` : '';
  return `${item.monitor} >= ${fmtValue(item.monitor, item.threshold)} (${item.count} of ${item.period} s)${uri}`;
}
export function targetSummary(t) {
  return `${t.target}: ${t.items.map(itemSummary).join(' or ')}`;
}

// A task's end for drawing: its end, or now while it runs.
export function taskEnd(task, now = Date.now()) {
  if (task.end_time) return task.end_time;
  if (task.status === 'RUNNING' || task.status === 'PENDING')
    return Math.min(now, task.start_time + (task.duration || 60) * 1000);
  return task.start_time;
}

export function parseQuery() {
  return Object.fromEntries(new URLSearchParams(location.search));
}
