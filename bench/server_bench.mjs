// server_bench: plays many agents against one `contprof server` and prints
//   - metric points/s ingested (POST /api/v1/agent/metrics, batched),
//   - stack samples/s ingested (POST /api/v1/agent/tasks/{id}/slices; every
//     stack row carries count 1, so rows == samples),
//   - the latency of building a flame graph (GET .../flamegraph) for a
//     10-minute task with 60 000 samples over 5 000 distinct stacks.
// Usage: node bench/server_bench.mjs URL [--agents N] [--seconds S] [--rounds R]
// (bench/server.sh starts a server on a temporary store and runs this.)
// The two ingest phases alternate over R rounds (default 3; BENCH_QUICK=1:
// 2 rounds of 1 s); then FLAME_REQUESTS flame graph requests per format (7;
// quick: 3). With BENCH_FIGURES=FILE every round's rates and every flame
// graph request's time are appended as FIGURE lines (scripts/bench.sh).
import fs from 'node:fs';

const QUICK = (process.env.BENCH_QUICK || '0') !== '0';
const figure = (line) => { if (process.env.BENCH_FIGURES) fs.appendFileSync(process.env.BENCH_FIGURES, `FIGURE ${line}\n`); };
const url = process.argv[2];
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const AGENTS = arg('--agents', 8);
const SECONDS = arg('--seconds', QUICK ? 1 : 5);
const ROUNDS = arg('--rounds', QUICK ? 2 : 3);
const FLAME_REQUESTS = QUICK ? 3 : 7;
const PROCS_PER_AGENT = 50;
const MONITORS = ['PROCESS_CPU', 'PROCESS_THREAD_COUNT'];
const POINT_SECONDS_PER_BATCH = 60; // one upload per minute of data per agent

async function post(path, body, method = 'POST') {
  const res = await fetch(url + path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// A deterministic pseudo-random generator so runs are comparable.
let seed = 12345;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) / 16777216; };

// 5 000 distinct stacks of 12-40 frames sharing prefixes like real programs.
function makeStacks(n) {
  const set = new Set();
  const libs = ['libc.so.6', 'libssl.so.3', 'app', 'libpython3.11.so', '[kernel.kallsyms]'];
  while (set.size < n) {
    const depth = 12 + Math.floor(rnd() * 28);
    const frames = ['_start', '__libc_start_main', 'main'];
    for (let d = frames.length; d < depth; d++) {
      const fan = d < 8 ? 3 : 12;
      frames.push(`${libs[d % libs.length]}\`func_${d}_${Math.floor(rnd() * fan)}`);
    }
    set.add(frames.join(';'));
  }
  return [...set];
}

async function registerAgents() {
  for (let a = 0; a < AGENTS; a++) {
    const processes = [];
    for (let p = 0; p < PROCS_PER_AGENT; p++)
      processes.push({ id: `bench-${a}-${p}`, service: `svc-${a % 4}`, instance: `host-${a}`, name: `worker-${p}`, pid: 1000 + p });
    await post('/api/v1/agent/register', { agent_id: `bench-agent-${a}`, host: `host-${a}`, processes });
  }
}

// Each agent's next batch: rounds continue where the last one stopped, so
// no point repeats (the store ignores duplicates) and all stay in the past.
const nextBatch = new Array(AGENTS).fill(0);
const metricsT0 = Date.now() - 3600e3 + 120e3; // inside the raw retention

async function metricsPhase() {
  const t0 = metricsT0;
  let points = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    for (let batch = nextBatch[a]; performance.now() < deadline; batch = ++nextBatch[a]) {
      const base = t0 + batch * POINT_SECONDS_PER_BATCH * 1000;
      const series = [];
      for (let p = 0; p < PROCS_PER_AGENT; p++)
        for (const monitor of MONITORS) {
          const pts = [];
          for (let s = 0; s < POINT_SECONDS_PER_BATCH; s++) pts.push([base + s * 1000, Math.round(rnd() * 1000) / 10]);
          series.push({ process_id: `bench-${a}-${p}`, monitor, points: pts });
        }
      const r = await post('/api/v1/agent/metrics', { agent_id: `bench-agent-${a}`, series });
      points += r.inserted;
    }
  }));
  const s = (performance.now() - start) / 1000;
  return { points, seconds: s, rate: points / s };
}

async function samplesPhase(stacks, round) {
  const SLICE_ROWS = 2000;
  let samples = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    const id = `bench-task-${a}-r${round}`;
    await post('/api/v1/agent/tasks', { id, process_id: `bench-${a}-0`, target: 'ON_CPU', trigger: 'POLICY', start_time: Date.now(), duration: 600 });
    for (let slice = 0; performance.now() < deadline; slice++) {
      const rows = [];
      const off = Math.floor(rnd() * stacks.length);
      for (let i = 0; i < SLICE_ROWS; i++) rows.push({ stack: stacks[(off + i) % stacks.length], count: 1 });
      const r = await post(`/api/v1/agent/tasks/${id}/slices`, { slice, start_time: Date.now() + slice * 5000, end_time: Date.now() + 5000 + slice * 5000, stacks: rows });
      samples += r.samples;
    }
  }));
  const s = (performance.now() - start) / 1000;
  return { samples, seconds: s, rate: samples / s };
}

async function flamePhase(stacks) {
  const id = 'bench-flame-10min';
  const t0 = Date.now() - 600e3;
  await post('/api/v1/agent/tasks', { id, process_id: 'bench-0-1', target: 'ON_CPU', trigger: 'POLICY', start_time: t0, duration: 600 });
  // 120 slices of 5 s = 10 minutes; 500 rows of count 1 each = 60 000 samples,
  // walking the 5 000 stacks so every one appears 12 times.
  for (let slice = 0; slice < 120; slice++) {
    const rows = [];
    for (let i = 0; i < 500; i++) rows.push({ stack: stacks[(slice * 500 + i) % stacks.length], count: 1 });
    await post(`/api/v1/agent/tasks/${id}/slices`, { slice, start_time: t0 + slice * 5000, end_time: t0 + (slice + 1) * 5000, stacks: rows });
  }
  const out = {};
  for (const format of ['json', 'folded']) {
    const times = [];
    let bytes = 0, total = 0;
    for (let i = 0; i < FLAME_REQUESTS; i++) {
      const s = performance.now();
      const res = await fetch(`${url}/api/v1/tasks/${id}/flamegraph?format=${format}`);
      const body = await res.text();
      times.push(performance.now() - s);
      if (res.status !== 200) throw new Error(`flamegraph: ${res.status} ${body.slice(0, 200)}`);
      bytes = body.length;
      if (format === 'json') total = JSON.parse(body).value;
    }
    times.sort((x, y) => x - y);
    for (const t of times) figure(`server.flamegraph_${format}_ms ${t.toFixed(2)} ms ${format === 'json' ? '<100' : 'lower'} - GET flamegraph?format=${format}, 10-min task, 60 000 samples over 5 000 stacks`);
    out[format] = { median: times[(FLAME_REQUESTS - 1) >> 1], max: times[FLAME_REQUESTS - 1], min: times[0], bytes, total };
  }
  return out;
}

const stacks = makeStacks(5000);
await registerAgents();
for (let round = 0; round < ROUNDS; round++) {
  const m = await metricsPhase();
  console.log(`metric points ingested: ${m.points} in ${m.seconds.toFixed(2)} s = ${Math.round(m.rate)} points/s (${AGENTS} agents, ${PROCS_PER_AGENT * MONITORS.length} series x ${POINT_SECONDS_PER_BATCH} s per upload)`);
  figure(`server.ingest_points_per_s ${m.rate.toFixed(0)} points/s >=100000 - metric points ingested, ${AGENTS} agents, SQLite`);
  const s = await samplesPhase(stacks, round);
  console.log(`stack samples ingested: ${s.samples} in ${s.seconds.toFixed(2)} s = ${Math.round(s.rate)} samples/s (${AGENTS} agents, 2000 stack rows of count 1 per slice)`);
  figure(`server.ingest_samples_per_s ${s.rate.toFixed(0)} samples/s >=50000 - stack samples ingested, ${AGENTS} agents, SQLite`);
}
const f = await flamePhase(stacks);
if (f.json.total !== 60000) throw new Error(`flame graph total ${f.json.total}, expected 60000`);
console.log(`flame graph, 10-min task, 60000 samples over 5000 distinct stacks: json median ${f.json.median.toFixed(1)} ms (min ${f.json.min.toFixed(1)}, max ${f.json.max.toFixed(1)}, ${f.json.bytes} bytes); folded median ${f.folded.median.toFixed(1)} ms (max ${f.folded.max.toFixed(1)})`);
