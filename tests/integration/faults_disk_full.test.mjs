// Fault: a full disk, on a small tmpfs mounted by the test (unmounted in
// cleanup). For the agent's spool: the agent says so once, counts what it
// loses, keeps running, and when space returns spools again (a task whose
// start report was lost is reported before its next slice or end), with
// nothing corrupt and nothing refused. For the server's SQLite store:
// uploads get 507 with a clear message, the agent keeps them and resends,
// and when space returns everything arrives and the database is intact.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, kill } from './agent_lib.mjs';
import { burner, agentMetrics, sqlite, tmpfs, fillDisk, sleep } from './faults_lib.mjs';

const BURN = burner('dfull');
test.after(() => BURN.remove());
const CONFIG = `processes:
  - match: {comm: "^${BURN.comm}$"}
    service: dfull
    process: "{comm}"
profiling: {flush_interval: 1}
uplink: {retry_max: 2s}
listen: 127.0.0.1:0
`;
// The spool test puts only the spool on the small disk, through spool_dir:
// were the key ignored, the spool would sit in the state directory and
// never fill.
const POLICY = { service: 'dfull', targets: [{ target: 'ON_CPU', duration: 3, silence: 4,
  items: [{ monitor: 'PROCESS_CPU', threshold: 3, period: 2, count: 1 }] }] };

async function tasks(url) {
  const r = await api(url, 'GET', '/api/v1/tasks?service=dfull');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('a full disk under the agent\'s spool: a clear error, counted losses, recovery', { timeout: 120000 }, async () => {
  const fsys = tmpfs(4096);
  const server = await startServer();
  const target = BURN.start();
  let agent;
  try {
    agent = await startAgent(server.url, `${CONFIG}spool_dir: ${path.join(fsys.dir, 'spool')}\n`);
    assert.equal((await api(server.url, 'PUT', '/api/v1/services/dfull/policy', POLICY)).status, 200);
    await waitFor(async () => (await tasks(server.url)).some((t) => t.status === 'FINISHED'),
      { what: 'a first task finished', ms: 30000 });
    const filler = fillDisk(fsys.dir);
    await waitFor(async () => (await agentMetrics(agent)).spool_write_errors_total >= 3,
      { what: 'spool writes failing', ms: 30000 });
    assert.match(agent.err(), /cannot write to the spool in \S+ \(No space left on device\)/);
    assert.doesNotMatch(agent.err(), /cannot write to the spool in \S+ \((?!No space left)/, 'the real cause, always');
    fs.unlinkSync(filler);
    await waitFor(() => /the spool is writable again; \d+ messages were lost/.test(agent.err()),
      { what: 'spool writable again', ms: 30000 });
    const recoveredAt = Date.now();
    // New tasks arrive whole again; nothing stays RUNNING, nothing refused.
    await waitFor(async () => (await tasks(server.url)).some((t) => t.status === 'FINISHED' && t.start_time > recoveredAt),
      { what: 'a task after the recovery', ms: 30000 });
    kill(target);
    await waitFor(async () => {
      const m = await agentMetrics(agent);
      return m.spool_records === 0 && m.tasks_running === 0;
    }, { what: 'spool drained', ms: 30000 });
    const all = await tasks(server.url);
    await waitFor(async () => (await tasks(server.url)).every((t) => t.status !== 'RUNNING'),
      { what: 'no task left RUNNING', ms: 10000 });
    const m = await agentMetrics(agent);
    // Said once per episode (acks free segments, so writes may come and
    // go while the disk is nearly full), never once per lost message.
    const episodes = (agent.err().match(/cannot write to the spool/g) || []).length;
    assert.equal((agent.err().match(/the spool is writable again/g) || []).length, episodes);
    assert.ok(episodes <= m.spool_write_errors_total, `${episodes} episodes, ${m.spool_write_errors_total} lost`);
    console.log(`# spool on a full disk: ${episodes} episodes`);
    console.log(`# spool on a full disk: ${m.spool_write_errors_total} messages lost, ${all.length} tasks on the server, ${m.messages_sent_total} messages sent`);
    assert.equal(m.messages_rejected_total, 0, 'nothing refused (no slice of an unknown task)');
    assert.doesNotMatch(agent.err(), /corrupt/i);
  } finally {
    kill(target);
    if (agent) await agent.stop();
    await server.stop();
    fsys.unmount();
  }
});

test('a full disk under the SQLite store: 507, the agent keeps its data, recovery', { timeout: 120000 }, async () => {
  const fsys = tmpfs(16384);
  const db = path.join(fsys.dir, 'store.db');
  const server = await startServer({ store: { url: `sqlite:${db}`, dir: fsys.dir, drop: () => {} } });
  const target = BURN.start();
  const agent = await startAgent(server.url, CONFIG);
  let filler;
  try {
    assert.equal((await api(server.url, 'PUT', '/api/v1/services/dfull/policy', POLICY)).status, 200);
    await waitFor(async () => (await tasks(server.url)).some((t) => t.status === 'FINISHED'),
      { what: 'a first task finished', ms: 30000 });
    filler = fillDisk(fsys.dir);
    // Writes fail with a clear answer; the agent keeps what it could not send.
    const r = await waitFor(async () => {
      const x = await api(server.url, 'POST', '/api/v1/agent/tasks/no-such-task/slices',
        { slice: 0, start_time: Date.now(), end_time: Date.now(), stacks: [] });
      const y = await api(server.url, 'POST', '/api/v1/agent/register',
        { agent_id: 'probe', host: 'probe', processes: [{ id: `p${Date.now()}`, service: 'x', instance: 'i', name: 'n', pid: 1 }] });
      return y.status === 507 ? y : null;
    }, { what: 'a 507 answer', ms: 15000 });
    assert.match(r.json.errors[0], /store full: no space left on the server's disk/);
    await waitFor(async () => (await agentMetrics(agent)).spool_records >= 3, { what: 'messages waiting in the agent', ms: 30000 });
    assert.match(server.child.err(), /database or disk is full/);
    assert.equal((await api(server.url, 'GET', '/healthz')).status, 200, 'reads still work');
    fs.unlinkSync(filler);
    filler = null;
    kill(target);
    await waitFor(async () => {
      const m = await agentMetrics(agent);
      return m.spool_records === 0 && m.tasks_running === 0;
    }, { what: 'the agent caught up', ms: 40000 });
    const startedIds = [...agent.err().matchAll(/task (\S+) started/g)].map((x) => x[1]);
    const stored = await tasks(server.url);
    assert.deepEqual(stored.map((t) => t.id).sort(), [...startedIds].sort(), 'every task arrived once');
    for (const t of stored) assert.equal(t.status, 'FINISHED', JSON.stringify(t));
    assert.equal(sqlite(db, 'PRAGMA integrity_check')[0].integrity_check, 'ok');
    const m = await agentMetrics(agent);
    assert.equal(m.messages_rejected_total, 0);
    console.log(`# store on a full disk: ${stored.length} tasks all delivered after the space returned`);
  } finally {
    kill(target);
    await agent.stop();
    await server.stop();
    if (filler) fs.rmSync(filler, { force: true });
    fsys.unmount();
  }
});
