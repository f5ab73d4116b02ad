// The agent end to end against a real server on loopback: discovery, policy
// sync, per-second watch, triggers with their causes, silence, NETWORK scope,
// restarts, kept policies with the server away, and a clean stop.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, startProcess, freePort, kill } from './agent_lib.mjs';

const CONFIG = `processes:
  - match: {comm: "^busyloop$"}
    service: burner
    process: "{comm}"
  - match: {comm: "^threads$"}
    service: spinner
    process: "{comm}"
  - match: {cmdline: "sleep 3141"}
    service: sleepy
    process: "sleeper"
profiling: {duration: 30, silence: 1200, flush_interval: 1}
`;

async function tasksOf(server, service) {
  const r = await api(server.url, 'GET', `/api/v1/tasks?service=${service}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function processesOf(server, service) {
  const r = await api(server.url, 'GET', `/api/v1/processes?service=${service}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Ids of the BPF programs a process holds open (from its fds' fdinfo).
function bpfProgIdsOf(pid) {
  const ids = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try { info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'); } catch { continue; }
    const m = info.match(/^prog_id:\s+(\d+)/m);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

// Ids of every BPF program loaded on the host.
function loadedProgIds() {
  const out = execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  return new Set(JSON.parse(out).map((p) => p.id));
}

test('a CPU policy triggers an ON_CPU task with its cause, once within the silence', async () => {
  const server = await startServer();
  const burner = startProcess('busyloop');
  const agent = await startAgent(server.url, CONFIG);
  try {
    await waitFor(async () => (await processesOf(server, 'burner')).length === 1,
      { what: 'busyloop registered', ms: 15000 });
    const put = Date.now();
    const policy = { service: 'burner', targets: [{ target: 'ON_CPU', items: [
      { monitor: 'PROCESS_CPU', threshold: 1, period: 3, count: 2 }] }] };
    assert.equal((await api(server.url, 'PUT', '/api/v1/services/burner/policy', policy)).status, 200);
    const tasks = await waitFor(async () => {
      const t = await tasksOf(server, 'burner');
      return t.length ? t : null;
    }, { what: 'ON_CPU task', ms: 15000 });
    const t = tasks[0];
    assert.equal(t.target, 'ON_CPU');
    assert.equal(t.trigger, 'POLICY');
    assert.equal(t.process_id, (await processesOf(server, 'burner'))[0].id);
    assert.equal(t.cause.monitor, 'PROCESS_CPU');
    assert.equal(t.cause.threshold, 1);
    assert.equal(t.cause.period, 3);
    assert.equal(t.cause.count, 2);
    assert.ok(t.cause.matched >= 2, `matched ${t.cause.matched}`);
    assert.ok(t.cause.peak >= t.cause.current && t.cause.current >= 1);
    assert.match(t.cause.message, /PROCESS_CPU >= 1 % in \d of the last 3 s/);
    // The tick at which the window held: after the policy arrived, and the
    // task started in it (not at some later tick).
    assert.ok(Number.isInteger(t.cause.held_at), `held_at ${t.cause.held_at}`);
    assert.ok(t.cause.held_at > put - 1000 && t.cause.held_at <= t.start_time,
      `held_at ${t.cause.held_at}, put ${put}, start ${t.start_time}`);
    // From the moment the agent applied the policy: one tick to take a first
    // reading (CPU needs two), then `count` matching seconds, plus one tick of
    // slack: the task starts within count + 2 s.
    const applied = Date.parse(agent.err().match(/^(\S+) info: agent: policy of burner applied/m)[1]);
    assert.ok(applied - put <= 2000, `policy applied ${applied - put} ms after the PUT`);
    assert.ok(t.start_time - applied <= (2 + 2) * 1000, `trigger ${t.start_time - applied} ms`);
    // Silence 1200 s: the condition keeps holding, no second task.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal((await tasksOf(server, 'burner')).length, 1);
    // Metrics flow: PROCESS_CPU history for the process.
    const id = t.process_id;
    const m = await api(server.url, 'GET',
      `/api/v1/processes/${id}/metrics?monitor=PROCESS_CPU&from=${put - 60000}&to=${Date.now()}`);
    assert.equal(m.status, 200, m.text);
    await waitFor(async () => {
      const r = await api(server.url, 'GET',
        `/api/v1/processes/${id}/metrics?monitor=PROCESS_CPU&from=${put - 60000}&to=${Date.now()}`);
      return r.json.length >= 2;
    }, { what: 'CPU metrics uploaded', ms: 12000 });
  } finally {
    kill(burner);
    await agent.stop();
    await server.stop();
  }
});

test('thread count and NETWORK scope: one task per instance covering every process', async () => {
  const server = await startServer();
  const threads = startProcess('threads', ['6']);
  const sleepers = [startProcess('/bin/sleep', ['3141']), startProcess('/bin/sleep', ['3141.5'])];
  const agent = await startAgent(server.url, CONFIG);
  try {
    await waitFor(async () => (await processesOf(server, 'sleepy')).length === 2,
      { what: 'two sleepers registered', ms: 15000 });
    const names = (await processesOf(server, 'sleepy')).map((p) => p.name).sort();
    assert.deepEqual(names, ['sleeper', 'sleeper#2']);
    await api(server.url, 'PUT', '/api/v1/services/spinner/policy', { service: 'spinner',
      targets: [{ target: 'OFF_CPU', items: [
        { monitor: 'PROCESS_THREAD_COUNT', threshold: 5, period: 2, count: 2 }] }] });
    await api(server.url, 'PUT', '/api/v1/services/sleepy/policy', { service: 'sleepy',
      targets: [{ target: 'NETWORK', items: [
        { monitor: 'PROCESS_THREAD_COUNT', threshold: 1, period: 1, count: 1 }] }] });
    const off = await waitFor(async () => (await tasksOf(server, 'spinner'))[0],
      { what: 'OFF_CPU task', ms: 15000 });
    assert.equal(off.target, 'OFF_CPU');
    assert.equal(off.cause.monitor, 'PROCESS_THREAD_COUNT');
    assert.ok(off.cause.current >= 5);
    const net = await waitFor(async () => (await tasksOf(server, 'sleepy'))[0],
      { what: 'NETWORK task', ms: 15000 });
    assert.equal(net.target, 'NETWORK');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await tasksOf(server, 'sleepy')).length, 1, 'one task for the instance');
  } finally {
    kill(threads);
    sleepers.forEach((s) => kill(s));
    await agent.stop();
    await server.stop();
  }
});

test('a restarted process keeps its id and is watched again within a second', async () => {
  const server = await startServer();
  let burner = startProcess('busyloop');
  const agent = await startAgent(server.url, CONFIG);
  try {
    await api(server.url, 'PUT', '/api/v1/services/burner/policy', { service: 'burner',
      targets: [{ target: 'ON_CPU', items: [
        { monitor: 'PROCESS_CPU', threshold: 100, period: 10, count: 10 }] }] });
    const first = await waitFor(async () => (await processesOf(server, 'burner'))[0],
      { what: 'registered', ms: 15000 });
    await waitFor(() => new RegExp(`watching burner/busyloop pid ${burner.pid}`).test(agent.err()),
      { what: 'first pid watched', ms: 10000 });
    kill(burner);
    await new Promise((r) => setTimeout(r, 300));
    burner = startProcess('busyloop');
    const t0 = Date.now();
    await waitFor(() => new RegExp(`watching burner/busyloop pid ${burner.pid}`).test(agent.err()),
      { what: 'new pid watched', ms: 3000 });
    assert.ok(Date.now() - t0 <= 1500, `picked up after ${Date.now() - t0} ms`);
    const again = await waitFor(async () => {
      const p = (await processesOf(server, 'burner'))[0];
      return p && p.pid === burner.pid ? p : null;
    }, { what: 'new pid registered', ms: 15000 });
    assert.equal(again.id, first.id);
  } finally {
    kill(burner);
    await agent.stop();
    await server.stop();
  }
});

test('with the server away the agent triggers on kept policies and delivers later', async () => {
  let server = await startServer();
  const burner = startProcess('busyloop');
  let agent = await startAgent(server.url, CONFIG);
  const dir = agent.dir;
  try {
    await api(server.url, 'PUT', '/api/v1/services/burner/policy', { service: 'burner',
      targets: [{ target: 'ON_CPU', duration: 2, silence: 3, items: [
        { monitor: 'PROCESS_CPU', threshold: 1, period: 3, count: 2 }] }] });
    await waitFor(() => /policy of burner applied/.test(agent.err()), { what: 'policy applied' });
    await agent.stop();
    await server.stop();
    // Restart the agent against a port where nothing listens yet.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    agent = await startAgent(url, CONFIG, { stateDir: dir });
    await waitFor(() => /task \S+ started: ON_CPU/.test(agent.err()),
      { what: 'task started while the server is away', ms: 15000 });
    server = await startServer({ listen: `127.0.0.1:${port}` });
    const tasks = await waitFor(async () => {
      const t = await tasksOf(server, 'burner');
      return t.length && t.every((x) => x.status !== 'RUNNING') ? t : null;
    }, { what: 'spooled task reports delivered', ms: 40000 });
    assert.ok(tasks[0].cause.message.includes('PROCESS_CPU'));
  } finally {
    kill(burner);
    await agent.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops the agent with exit 0 and leaves no BPF program behind', async () => {
  const server = await startServer();
  try {
    const agent = await startAgent(server.url, CONFIG);
    const held = bpfProgIdsOf(agent.pid);
    assert.ok(held.size >= 2, `exec/exit programs held while running: ${[...held]}`);
    const { code } = await agent.stop();
    assert.equal(code, 0, agent.err());
    assert.match(agent.err(), /Terminated received, stopping/);
    const loaded = loadedProgIds();
    assert.deepEqual([...held].filter((id) => loaded.has(id)), [], 'programs left loaded');
  } finally {
    await server.stop();
  }
});
