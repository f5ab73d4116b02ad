// store_size: how many bytes of SQLite store one watched process costs per
// day, for bench/store_size.sh, which starts the server (retention off, so
// nothing is deleted while we measure) and passes its URL and database file.
//
//   node bench/store_size.mjs URL DB [--procs P] [--hours H]
//
// The stream is what an agent uploads for a watched process (agent.c): every
// second PROCESS_CPU, PROCESS_THREAD_COUNT and SYSTEM_LOAD, and for half of
// the processes (HTTP services) HTTP_ERROR_RATE on a URI filter in the 90 %
// of seconds that had traffic — uploaded through /api/v1/agent/metrics in the
// agent's own batches (5 s), timestamps ending now. It is streamed in two
// equal phases of H hours; after each, sqlite3's dbstat gives the bytes and
// rows of metrics_raw and metrics_minute (their B-trees, indexes included).
// The marginal bytes per row of the second phase (free of the schema and
// first pages) extrapolate to a day at the server's default retention:
//   raw window  = bytes/raw point  x points/s x 3600   (raw seconds kept 1 h)
//   rollups/day = bytes/rollup row x series   x 1440   (minutes kept 7 d)
//   day         = raw window + rollups/day   (a process watched for a day)
//   steady      = raw window + 7 x rollups/day (the most it occupies)
// The stream is seeded, so runs give the same bytes. With BENCH_FIGURES=FILE
// the figures are appended as FIGURE lines (scripts/bench.sh).
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const [url, db] = process.argv.slice(2);
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
if (!url || !db) {
  console.error('usage: node bench/store_size.mjs URL DB [--procs P] [--hours H]');
  process.exit(2);
}
const PROCS = arg('--procs', 20), HOURS = arg('--hours', 1), BATCH_S = 5;
const RAW_KEEP_S = 3600, ROLLUP_KEEP_DAYS = 7; // the server's defaults (cmd_server.c)
const figure = (line) => {
  if (process.env.BENCH_FIGURES) fs.appendFileSync(process.env.BENCH_FIGURES, `FIGURE ${line}\n`);
};

let seed = 4242;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) / 16777216; };

async function post(path, body) {
  const res = await fetch(url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const procs = Array.from({ length: PROCS }, (_, p) => ({
  id: `size-host:${2000 + p}:${900000 + p}`, service: `svc-${p % 5}`, instance: 'size-host',
  name: `worker-${p}`, pid: 2000 + p, http: p % 2 === 0,
  cpu: 5 + rnd() * 60, threads: 4 + Math.floor(rnd() * 40),
}));

// One upload: BATCH_S seconds of every series of every process from t0_ms.
function batch(t0) {
  const series = [];
  const load = [];
  for (let s = 0; s < BATCH_S; s++) load.push(Math.round((0.5 + rnd() * 2) * 100) / 100);
  for (const p of procs) {
    const cpu = [], threads = [], sys = [], err = [];
    for (let s = 0; s < BATCH_S; s++) {
      const t = t0 + s * 1000;
      p.cpu = Math.min(100, Math.max(0, p.cpu + (rnd() - 0.5) * 8));
      if (rnd() < 0.01) p.threads = Math.max(1, p.threads + (rnd() < 0.5 ? -1 : 1));
      cpu.push([t, Math.round(p.cpu * 10) / 10]);
      threads.push([t, p.threads]);
      sys.push([t, load[s]]);
      if (p.http && rnd() < 0.9) err.push([t, rnd() < 0.8 ? 0 : Math.round(rnd() * 1000) / 10]);
    }
    series.push({ process_id: p.id, monitor: 'PROCESS_CPU', points: cpu },
      { process_id: p.id, monitor: 'PROCESS_THREAD_COUNT', points: threads },
      { process_id: p.id, monitor: 'SYSTEM_LOAD', points: sys });
    if (err.length) series.push({ process_id: p.id, monitor: 'HTTP_ERROR_RATE', uri: '^/api/', points: err });
  }
  return series;
}

// Streams seconds [from, to) (ms), a few uploads in flight; returns points.
async function stream(from, to) {
  let points = 0, next = from;
  const worker = async () => {
    while (next < to) {
      const t0 = next;
      next += BATCH_S * 1000;
      const r = await post('/api/v1/agent/metrics', { agent_id: 'size-agent', series: batch(t0) });
      points += r.inserted;
    }
  };
  // Batches are generated in order (rnd is shared) but may land out of order.
  await Promise.all([worker(), worker(), worker()]);
  return points;
}

// {table: {bytes, rows}} for the metric tables, from the server's live file.
function measure() {
  const sql = "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'metrics_%' OR name LIKE 'sqlite_autoindex_metrics%' GROUP BY name;"
    + "SELECT 'rows_raw', COUNT(*) FROM metrics_raw; SELECT 'rows_minute', COUNT(*) FROM metrics_minute;";
  const out = execFileSync('sqlite3', ['-readonly', db, sql], { encoding: 'utf8' });
  const v = Object.fromEntries(out.trim().split('\n').map((l) => l.split('|')).map(([k, n]) => [k, Number(n)]));
  const bytesOf = (t) => Object.entries(v).filter(([k]) => k === t || k.startsWith(`sqlite_autoindex_${t}`))
    .reduce((a, [, n]) => a + n, 0);
  return {
    raw: { bytes: bytesOf('metrics_raw'), rows: v.rows_raw },
    minute: { bytes: bytesOf('metrics_minute'), rows: v.rows_minute },
    file: fs.statSync(db).size + (fs.existsSync(`${db}-wal`) ? fs.statSync(`${db}-wal`).size : 0),
  };
}

await post('/api/v1/agent/register', {
  agent_id: 'size-agent', host: 'size-host',
  processes: procs.map(({ id, service, instance, name, pid }) => ({ id, service, instance, name, pid })),
});
const phaseMs = Math.round(HOURS * 3600e3 / (BATCH_S * 1000)) * BATCH_S * 1000;
const end = Math.floor(Date.now() / 60000) * 60000, start = end - 2 * phaseMs;
const started = performance.now();
const p1 = await stream(start, start + phaseMs);
const m1 = measure();
const p2 = await stream(start + phaseMs, end);
const m2 = measure();
const secs = (performance.now() - started) / 1000;

const rawB = (m2.raw.bytes - m1.raw.bytes) / (m2.raw.rows - m1.raw.rows);
const minuteB = (m2.minute.bytes - m1.minute.bytes) / (m2.minute.rows - m1.minute.rows);
const pointsPerProcS = m2.raw.rows / PROCS / (2 * phaseMs / 1000);
const seriesPerProc = 3 + procs.filter((p) => p.http).length / PROCS;
const rawWindow = rawB * pointsPerProcS * RAW_KEEP_S;
const rollupDay = minuteB * seriesPerProc * 1440;
const kb = (b) => (b / 1024).toFixed(1);

console.log(`${PROCS} processes, ${(2 * phaseMs / 3600e3).toFixed(2)} h streamed in 2 phases: ${p1 + p2} points in ${secs.toFixed(1)} s`
  + ` (${pointsPerProcS.toFixed(2)} points/s and ${seriesPerProc.toFixed(1)} series per process)`);
console.log(`metrics_raw:    ${m2.raw.rows} rows, ${m2.raw.bytes} B; marginal ${rawB.toFixed(1)} B per point`);
console.log(`metrics_minute: ${m2.minute.rows} rows, ${m2.minute.bytes} B; marginal ${minuteB.toFixed(1)} B per rollup row`);
console.log(`database file + WAL: ${m1.file} B after phase 1, ${m2.file} B after phase 2`);
console.log(`per watched process, default retention (raw 1 h, rollups ${ROLLUP_KEEP_DAYS} d):`);
console.log(`  raw window ${kb(rawWindow)} KiB + rollups ${kb(rollupDay)} KiB per day`
  + ` = ${kb(rawWindow + rollupDay)} KiB after a day, ${kb(rawWindow + ROLLUP_KEEP_DAYS * rollupDay)} KiB at most (day ${ROLLUP_KEEP_DAYS} on)`);

figure(`store.bytes_per_raw_point ${rawB.toFixed(2)} B lower - SQLite metrics_raw, marginal bytes per per-second point`);
figure(`store.bytes_per_rollup_row ${minuteB.toFixed(2)} B lower - SQLite metrics_minute, marginal bytes per per-minute rollup`);
figure(`store.process_day_kb ${kb(rawWindow + rollupDay)} KiB lower store.process_rollup_day_kb,store.process_steady_kb store size per watched process after a day (raw 1 h + a day of rollups)`);
figure(`store.process_rollup_day_kb ${kb(rollupDay)} KiB lower - per-minute rollups one watched process adds per day (kept 7 d)`);
figure(`store.process_steady_kb ${kb(rawWindow + ROLLUP_KEEP_DAYS * rollupDay)} KiB lower - most one watched process occupies at default retention (day 7 on)`);
