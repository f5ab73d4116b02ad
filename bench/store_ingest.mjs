// store_ingest: the ingest figures of one or more `contprof server`s, for
// bench/store_ingest.sh, which runs it on SQLite and on PostgreSQL.
//
//   node bench/store_ingest.mjs ingest URL [--agents N] [--seconds S]
//     metric points/s (uploads of 60 s x 100 series per agent, the batch an
//     agent sends after a minute away), stack samples/s (slices of 2 000
//     stack rows over 5 000 distinct stacks), and the flame graph latency of
//     a 10-minute task with 60 000 samples. One JSON line on stdout.
//   node bench/store_ingest.mjs fleet URL[,URL...] [--agents N] [--procs P]
//                               [--every S] [--seconds S]
//     a simulated fleet: N agents with P watched processes each, uploading
//     PROCESS_CPU and PROCESS_THREAD_COUNT every S seconds (S points per
//     series), spread over the servers round robin; prints the sustained
//     points/s, how many uploads fell behind schedule, and upload latency
//     percentiles. One JSON line on stdout.
const [mode, urlArg] = process.argv.slice(2);
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const urls = (urlArg || '').split(',').filter(Boolean);
if (!['ingest', 'fleet'].includes(mode) || !urls.length) {
  console.error('usage: node bench/store_ingest.mjs ingest|fleet URL[,URL...] [options]');
  process.exit(2);
}

async function post(base, path, body) {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// Flame graph requests per ingest run (the median is printed); BENCH_QUICK=1:
// none, nor the 60 000 samples' upload (flame_median_ms null; bench/server.sh
// times flame graphs in the quick suite).
const FLAME_REQUESTS = (process.env.BENCH_QUICK || '0') !== '0' ? 0 : 7;

let seed = 12345; // deterministic, so runs compare
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) / 16777216; };

function makeStacks(n) {
  const set = new Set();
  const libs = ['libc.so.6', 'libssl.so.3', 'app', 'libpython3.11.so', '[kernel.kallsyms]'];
  while (set.size < n) {
    const depth = 12 + Math.floor(rnd() * 28);
    const frames = ['_start', '__libc_start_main', 'main'];
    for (let d = frames.length; d < depth; d++)
      frames.push(`${libs[d % libs.length]}\`func_${d}_${Math.floor(rnd() * (d < 8 ? 3 : 12))}`);
    set.add(frames.join(';'));
  }
  return [...set];
}

async function register(base, agents, procs) {
  for (let a = 0; a < agents; a++) {
    const processes = [];
    for (let p = 0; p < procs; p++)
      processes.push({ id: `b-${a}-${p}`, service: `svc-${a % 10}`, instance: `host-${a}`, name: `worker-${p}`, pid: 1000 + p });
    await post(base, '/api/v1/agent/register', { agent_id: `agent-${a}`, host: `host-${a}`, processes });
  }
}

const MONITORS = ['PROCESS_CPU', 'PROCESS_THREAD_COUNT'];

async function ingest(base) {
  const AGENTS = arg('--agents', 4), SECONDS = arg('--seconds', 5), PROCS = 50, BATCH_S = 60;
  await register(base, AGENTS, PROCS);
  const stacks = makeStacks(5000);
  // metrics
  const t0 = Date.now() - 3600e3 + 120e3;
  let points = 0, deadline = performance.now() + SECONDS * 1000, start = performance.now();
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    for (let batch = 0; performance.now() < deadline; batch++) {
      const series = [];
      for (let p = 0; p < PROCS; p++)
        for (const monitor of MONITORS) {
          const pts = [];
          for (let s = 0; s < BATCH_S; s++) pts.push([t0 + (batch * BATCH_S + s) * 1000, Math.round(rnd() * 1000) / 10]);
          series.push({ process_id: `b-${a}-${p}`, monitor, points: pts });
        }
      const r = await post(base, '/api/v1/agent/metrics', { agent_id: `agent-${a}`, series });
      points += r.inserted; // not `points += await …`: that reads points before awaiting
    }
  }));
  const metricSeconds = (performance.now() - start) / 1000;
  // stack samples
  let samples = 0;
  deadline = performance.now() + SECONDS * 1000;
  start = performance.now();
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    const id = `bench-task-${a}`;
    await post(base, '/api/v1/agent/tasks', { id, process_id: `b-${a}-0`, target: 'ON_CPU', trigger: 'POLICY', start_time: Date.now(), duration: 600 });
    for (let slice = 0; performance.now() < deadline; slice++) {
      const rows = [];
      const off = Math.floor(rnd() * stacks.length);
      for (let i = 0; i < 2000; i++) rows.push({ stack: stacks[(off + i) % stacks.length], count: 1 });
      const now = Date.now();
      const r = await post(base, `/api/v1/agent/tasks/${id}/slices`, { slice, start_time: now, end_time: now + 5000, stacks: rows });
      samples += r.samples;
    }
  }));
  const sampleSeconds = (performance.now() - start) / 1000;
  const rates = { points_per_s: Math.round(points / metricSeconds), samples_per_s: Math.round(samples / sampleSeconds) };
  if (!FLAME_REQUESTS) return { ...rates, flame_median_ms: null, agents: AGENTS };
  // flame graph of a 10-minute task
  const id = 'bench-flame', f0 = Date.now() - 600e3;
  await post(base, '/api/v1/agent/tasks', { id, process_id: 'b-0-1', target: 'ON_CPU', trigger: 'POLICY', start_time: f0, duration: 600 });
  for (let slice = 0; slice < 120; slice++) {
    const rows = [];
    for (let i = 0; i < 500; i++) rows.push({ stack: stacks[(slice * 500 + i) % stacks.length], count: 1 });
    await post(base, `/api/v1/agent/tasks/${id}/slices`, { slice, start_time: f0 + slice * 5000, end_time: f0 + (slice + 1) * 5000, stacks: rows });
  }
  const times = [];
  for (let i = 0; i < FLAME_REQUESTS; i++) {
    const s = performance.now();
    const res = await fetch(`${base}/api/v1/tasks/${id}/flamegraph?format=json`);
    const tree = JSON.parse(await res.text());
    times.push(performance.now() - s);
    if (tree.value !== 60000) throw new Error(`flame total ${tree.value}, expected 60000`);
  }
  times.sort((x, y) => x - y);
  return {
    ...rates,
    flame_median_ms: Number(times[(FLAME_REQUESTS - 1) >> 1].toFixed(1)),
    agents: AGENTS,
  };
}

async function fleet() {
  const AGENTS = arg('--agents', 1000), PROCS = arg('--procs', 20), EVERY = arg('--every', 5);
  const SECONDS = arg('--seconds', 30);
  // one register per agent with its own processes (servers round robin)
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    const processes = [];
    for (let p = 0; p < PROCS; p++)
      processes.push({ id: `f-${a}-${p}`, service: `svc-${a % 50}`, instance: `host-${a}`, name: `w-${p}`, pid: 1000 + p });
    await post(urls[a % urls.length], '/api/v1/agent/register', { agent_id: `fleet-${a}`, host: `host-${a}`, processes });
  }));
  const latencies = [];
  let points = 0, late = 0, failed = 0;
  const start = performance.now(), end = start + SECONDS * 1000;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: AGENTS }, async (_, a) => {
    const base = urls[a % urls.length];
    // agents start spread over the first period, then keep their schedule
    let next = start + (a / AGENTS) * EVERY * 1000;
    for (let round = 0; ; round++) {
      if (next >= end) break; // the next upload falls after the run: no need to wait for it
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else if (round > 0) late++;
      if (performance.now() >= end) break;
      const series = [];
      const from = t0 + round * EVERY * 1000 + (a % 1000);
      for (let p = 0; p < PROCS; p++)
        for (const monitor of MONITORS) {
          const pts = [];
          for (let s = 0; s < EVERY; s++) pts.push([from + s * 1000, Math.round(rnd() * 1000) / 10]);
          series.push({ process_id: `f-${a}-${p}`, monitor, points: pts });
        }
      const s = performance.now();
      try {
        const r = await post(base, '/api/v1/agent/metrics', { agent_id: `fleet-${a}`, series });
        points += r.inserted;
        latencies.push(performance.now() - s);
      } catch {
        failed++;
      }
      next += EVERY * 1000;
    }
  }));
  // uploads were scheduled evenly over SECONDS: that is the honest divisor
  const seconds = SECONDS;
  latencies.sort((x, y) => x - y);
  const pct = (q) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] || 0).toFixed(1));
  return {
    agents: AGENTS, procs: PROCS, every_s: EVERY, servers: urls.length,
    offered_points_per_s: AGENTS * PROCS * MONITORS.length,
    sustained_points_per_s: Math.round(points / seconds),
    uploads: latencies.length, late_uploads: late, failed_uploads: failed,
    p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: pct(1),
  };
}

const out = mode === 'ingest' ? await ingest(urls[0]) : await fleet();
console.log(JSON.stringify(out));
