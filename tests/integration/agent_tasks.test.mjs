// The agent's tasks end to end against a real server: trigger latency from a
// process that turns busy at a known time, no task during silence, manual
// tasks from POST /api/v1/tasks (a second one of the same kind fails with a
// reason), tasks triggered with the server away delivered once each after it
// returns, and the agent's own GET /metrics.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { track, waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, startProcess, freePort, kill, FIXTURES } from './agent_lib.mjs';

// Other test runs on this host may run busyloop too: ours runs under a name
// of its own, so only it matches.
const BURNER_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-burn-'));
const BURNER = path.join(BURNER_DIR, `burn${process.pid}`.slice(0, 15));
fs.copyFileSync(path.join(FIXTURES, 'busyloop'), BURNER);
fs.chmodSync(BURNER, 0o755);
test.after(() => fs.rmSync(BURNER_DIR, { recursive: true, force: true }));

const CONFIG = `processes:
  - match: {comm: "^flipper$"}
    service: flip
    process: "{comm}"
  - match: {comm: "^${path.basename(BURNER)}$"}
    service: burner
    process: "{comm}"
  - match: {cmdline: "sleep 2718"}
    service: sleepy
    process: "sleeper"
profiling: {duration: 30, silence: 1200, flush_interval: 1}
listen: 127.0.0.1:0
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function tasksOf(server, service) {
  const r = await api(server.url, 'GET', `/api/v1/tasks?service=${service}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function processOf(server, service) {
  const r = await api(server.url, 'GET', `/api/v1/processes?service=${service}`);
  assert.equal(r.status, 200, r.text);
  return r.json[0];
}

// Starts the flipper fixture (idle until SIGUSR1); .busyAt() resolves to the
// Unix ms at which it started burning.
function startFlipper() {
  const child = track(spawn(path.join(FIXTURES, 'flipper'), [], { stdio: ['ignore', 'pipe', 'ignore'] }));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.busyAt = () => waitFor(() => {
    const m = out.match(/^busy (\d+)$/m);
    return m ? Number(m[1]) : null;
  }, { what: 'flipper busy' });
  return child;
}

async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const values = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^(contprof_agent_\w+) (\S+)$/);
    if (m) values[m[1]] = Number(m[2]);
  }
  return { status: res.status, type: res.headers.get('content-type'), text, values };
}

function metricsPort(agent) {
  const m = agent.err().match(/metrics on \S+ \(port (\d+)\)/);
  assert.ok(m, agent.err());
  return Number(m[1]);
}

test('a task starts within count + 1 s of the condition, and none during silence', async () => {
  const server = await startServer();
  const flipper = startFlipper();
  const agent = await startAgent(server.url, CONFIG);
  try {
    const count = 2;
    await api(server.url, 'PUT', '/api/v1/services/flip/policy', { service: 'flip',
      targets: [{ target: 'ON_CPU', duration: 2, silence: 3600, items: [
        { monitor: 'PROCESS_CPU', threshold: 3, period: 3, count }] }] });
    await waitFor(() => new RegExp(`watching flip/flipper pid ${flipper.pid}`).test(agent.err()),
      { what: 'flipper watched', ms: 10000 });
    await sleep(2500); // idle seconds in the window: the condition is false
    assert.deepEqual(await tasksOf(server, 'flip'), [], 'no task while idle');
    flipper.kill('SIGUSR1');
    const busyAt = await flipper.busyAt();
    const t = await waitFor(async () => (await tasksOf(server, 'flip'))[0],
      { what: 'ON_CPU task', ms: 15000 }).catch((e) => { throw new Error(`${e.message}\n${agent.err()}`); });
    const latency = t.start_time - busyAt;
    assert.ok(latency >= 0 && latency <= (count + 1) * 1000,
      `busy at ${busyAt}, task started at ${t.start_time}: ${latency} ms\n${agent.err()}`);
    assert.equal(t.cause.monitor, 'PROCESS_CPU');
    assert.ok(t.cause.matched >= count);
    // The task ends (2 s, or at once without a profiler), the condition
    // still holds, the silence (3600 s) keeps a second task away.
    await waitFor(async () => (await tasksOf(server, 'flip'))[0].status !== 'RUNNING',
      { what: 'task ended', ms: 10000 });
    await sleep(3000);
    assert.equal((await tasksOf(server, 'flip')).length, 1, 'no task during silence');
    assert.equal((agent.err().match(/task \S+ started: ON_CPU/g) || []).length, 1);
  } finally {
    kill(flipper);
    await agent.stop();
    await server.stop();
  }
});

test('manual tasks run through the task manager; a second one of the same kind fails', async () => {
  const server = await startServer();
  const sleeper = startProcess('/bin/sleep', ['2718']);
  const agent = await startAgent(server.url, CONFIG);
  try {
    const p = await waitFor(() => processOf(server, 'sleepy'), { what: 'sleeper registered', ms: 15000 });
    const first = await api(server.url, 'POST', '/api/v1/tasks',
      { process_id: p.id, target: 'OFF_CPU', duration: 30 });
    assert.equal(first.status, 201, first.text);
    const id = first.json.id;
    const t1 = await waitFor(async () => {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${id}`);
      return r.json && r.json.status !== 'PENDING' ? r.json : null;
    }, { what: 'manual task picked up', ms: 10000 });
    assert.equal(t1.trigger, 'MANUAL');
    assert.equal(t1.target, 'OFF_CPU');
    assert.equal(t1.process_id, p.id);
    assert.match(agent.err(), new RegExp(`task ${id} started: OFF_CPU`));
    // Running, or failed honestly while this build has no OFF_CPU profiler.
    assert.ok(t1.status === 'RUNNING' || (t1.status === 'FAILED' && /not available/.test(t1.reason)),
      JSON.stringify(t1));

    const second = await api(server.url, 'POST', '/api/v1/tasks',
      { process_id: p.id, target: 'OFF_CPU', duration: 30 });
    assert.equal(second.status, 201, second.text);
    const t2 = await waitFor(async () => {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${second.json.id}`);
      return r.json && r.json.status === 'FAILED' ? r.json : null;
    }, { what: 'second manual task failed', ms: 10000 });
    assert.match(t2.reason, /OFF_CPU task of this process is already running or silenced/);
    assert.equal(t2.trigger, 'MANUAL');
    // A manual task for a process that exited fails with that reason.
    kill(sleeper);
    const third = await api(server.url, 'POST', '/api/v1/tasks',
      { process_id: p.id, target: 'ON_CPU', duration: 5 });
    assert.equal(third.status, 201, third.text);
    const t3 = await waitFor(async () => {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${third.json.id}`);
      return r.json && r.json.status === 'FAILED' ? r.json : null;
    }, { what: 'manual task of a gone process failed', ms: 10000 });
    assert.match(t3.reason, /no longer running/);
  } finally {
    kill(sleeper);
    await agent.stop();
    await server.stop();
  }
});

test('tasks triggered while the server is away arrive once each, in order, when it returns', async () => {
  let server = await startServer();
  // Stopped (no CPU) while the first agent fetches the policy: every task
  // comes from the second agent.
  let burner = startProcess(BURNER);
  burner.kill('SIGSTOP');
  let agent = await startAgent(server.url, CONFIG);
  const dir = agent.dir;
  try {
    await api(server.url, 'PUT', '/api/v1/services/burner/policy', { service: 'burner',
      targets: [{ target: 'ON_CPU', duration: 1, silence: 2, items: [
        { monitor: 'PROCESS_CPU', threshold: 1, period: 2, count: 1 }] }] });
    await waitFor(() => /policy of burner applied/.test(agent.err()), { what: 'policy applied' });
    await agent.stop();
    await server.stop();
    kill(burner);
    const port = await freePort();
    agent = await startAgent(`http://127.0.0.1:${port}`, CONFIG, { stateDir: dir });
    burner = startProcess(BURNER);
    await waitFor(() => (agent.err().match(/task \S+ started: ON_CPU/g) || []).length >= 3,
      { what: 'three tasks while the server is away', ms: 20000 });
    kill(burner); // no more tasks: the set to deliver is fixed
    await waitFor(() => {
      const started = (agent.err().match(/task \S+ started: ON_CPU/g) || []).length;
      const ended = (agent.err().match(/task \S+ (finished|failed)/g) || []).length;
      return started === ended;
    }, { what: 'every task ended', ms: 10000 });
    const ids = [...agent.err().matchAll(/task (\S+) started: ON_CPU/g)].map((m) => m[1]);
    server = await startServer({ listen: `127.0.0.1:${port}` });
    const tasks = await waitFor(async () => {
      const t = await tasksOf(server, 'burner');
      return t.length === ids.length && t.every((x) => x.status !== 'RUNNING') ? t : null;
    }, { what: 'spooled task reports delivered', ms: 40000 }).catch(async (e) => {
      throw new Error(`${e.message}: burner ${burner.pid} ${ids} vs ${JSON.stringify(await tasksOf(server, 'burner'))}\n${agent.err()}`);
    });
    assert.deepEqual(tasks.map((t) => t.id).sort(), [...ids].sort());
    // In order: start times follow the agent's order of starting them.
    const byId = new Map(tasks.map((t) => [t.id, t]));
    for (let i = 1; i < ids.length; i++)
      assert.ok(byId.get(ids[i]).start_time >= byId.get(ids[i - 1]).start_time);
    // Once each: the server accepted one report and one end per task.
    const prom = await (await fetch(`${server.url}/metrics`)).text();
    const reports = Number(prom.match(/^contprof_ingest_task_reports_total (\d+)/m)[1]);
    assert.equal(reports, 2 * ids.length, prom.match(/^contprof_ingest_task_reports_total.*/m)[0]);
    const health = await waitFor(async () => {
      const s = await scrape(metricsPort(agent));
      return s.values.contprof_agent_spool_records === 0 ? s : null;
    }, { what: 'spool empty' });
    assert.equal(health.values.contprof_agent_messages_rejected_total, 0);
  } finally {
    kill(burner);
    await agent.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the agent serves its own health on GET /metrics', async () => {
  const server = await startServer();
  const burner = startProcess(BURNER);
  const agent = await startAgent(server.url, CONFIG);
  try {
    const port = metricsPort(agent);
    await api(server.url, 'PUT', '/api/v1/services/burner/policy', { service: 'burner',
      targets: [{ target: 'ON_CPU', items: [
        { monitor: 'PROCESS_CPU', threshold: 100, period: 10, count: 10 }] }] });
    const first = await waitFor(async () => {
      const s = await scrape(port);
      return s.values.contprof_agent_watched_processes === 1 ? s : null;
    }, { what: 'one watched process', ms: 10000 });
    assert.equal(first.status, 200);
    assert.match(first.type, /^text\/plain; version=0\.0\.4/);
    assert.match(first.text, /# TYPE contprof_agent_ticks_total counter/);
    const v = first.values;
    for (const name of ['tick_duration_seconds', 'tick_duration_max_seconds', 'spool_records',
      'spool_bytes', 'metrics_buffered', 'metrics_dropped_total', 'spool_full_dropped_total',
      'messages_rejected_total', 'procevents_dropped_total', 'discover_dropped_total',
      'tasks_running', 'cpu_seconds_total', 'cpu_percent', 'resident_memory_bytes'])
      assert.ok(Number.isFinite(v[`contprof_agent_${name}`]), `${name} in\n${first.text}`);
    assert.equal(v.contprof_agent_policies, 1);
    assert.equal(v.contprof_agent_procevents_active, 1);
    assert.ok(v.contprof_agent_discovered_processes >= 1);
    assert.ok(v.contprof_agent_tick_duration_seconds > 0);
    assert.ok(v.contprof_agent_tick_duration_max_seconds >= v.contprof_agent_tick_duration_seconds);
    assert.ok(v.contprof_agent_resident_memory_bytes > 1e6);
    assert.ok(v.contprof_agent_cpu_seconds_total > 0);
    await sleep(2100);
    const later = (await scrape(port)).values;
    assert.ok(later.contprof_agent_ticks_total >= v.contprof_agent_ticks_total + 2);
    assert.ok(later.contprof_agent_cpu_percent >= 0 && later.contprof_agent_cpu_percent < 100);
    const missing = await fetch(`http://127.0.0.1:${port}/other`);
    assert.equal(missing.status, 404);
    await missing.text();
    const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.text();
  } finally {
    kill(burner);
    await agent.stop();
    await server.stop();
  }
});

test('SIGTERM with the server away exits 0 within the final flush bound', async () => {
  const port = await freePort();
  const burner = startProcess(BURNER);
  const agent = await startAgent(`http://127.0.0.1:${port}`, CONFIG);
  try {
    await sleep(1500); // the uplink has failed and backs off
    const t0 = Date.now();
    const { code } = await agent.stop();
    assert.equal(code, 0, agent.err());
    // AGENT_STOP_FLUSH_MS is 3 s; generous slack for a loaded host.
    assert.ok(Date.now() - t0 < 3000 + 3000, `stopped after ${Date.now() - t0} ms`);
  } finally {
    kill(burner);
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
});
