// Fault: the server killed with SIGKILL during heavy ingest. Writers post
// profile slices and metric batches as fast as the server takes them while
// a real agent runs a task; the server dies mid-request. After a restart on
// the same SQLite file: every upload that was acknowledged is in the store
// (WAL, synchronous=FULL), the database passes its integrity check, and the
// agent resends what was not acknowledged (it held unsent messages in its
// spool when the server came back; its task's slices 0..n-1 all there, once).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './lib.mjs';
import { startServer, api, register, proc, reportTask } from './server_lib.mjs';
import { startAgent, freePort, kill } from './agent_lib.mjs';
import { burner, agentMetrics, sqlite, taskOf, sleep } from './faults_lib.mjs';

const BURN = burner('skill');
test.after(() => BURN.remove());
const CONFIG = `processes:
  - match: {comm: "^${BURN.comm}$"}
    service: skill
    process: "{comm}"
profiling: {flush_interval: 1}
uplink: {retry_max: 2s}
listen: 127.0.0.1:0
`;
const WRITERS = 6;
// Times of now, so retention (7 days by default) never touches them.
const T0 = Date.now() - 20 * 60 * 1000;
const STACKS = 40;

function slice(n) {
  const stacks = [];
  for (let i = 0; i < STACKS; i++) stacks.push({ stack: `main;handler${n % 7};work${i}`, count: n + 1 });
  return { slice: n, start_time: T0 + n * 10, end_time: T0 + n * 10 + 10, stacks };
}

test('acknowledged uploads survive a SIGKILLed server; the agent resends the rest', { timeout: 180000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-skill-'));
  const db = path.join(dir, 'store.db');
  const store = { url: `sqlite:${db}`, dir, drop: () => {} };
  const listen = `127.0.0.1:${await freePort()}`;
  let server = await startServer({ listen, store });
  const target = BURN.start();
  const agent = await startAgent(server.url, CONFIG);
  try {
    await register(server.url, 'loadgen', [proc('lg1', 'loadgen', 'i1', 4242)]);
    await reportTask(server.url, { id: 'lg-task', process_id: 'lg1', start_time: T0, duration: 3600 });
    const p = await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=skill')).json?.[0],
      { what: 'burner registered', ms: 15000 });
    const manual = await api(server.url, 'POST', '/api/v1/tasks', { process_id: p.id, target: 'ON_CPU', duration: 30 });
    assert.equal(manual.status, 201, manual.text);
    const agentTask = manual.json.id;
    await waitFor(async () => (await taskOf(server.url, agentTask)).status === 'RUNNING', { what: 'agent task running', ms: 10000 });

    // Writers: disjoint slice numbers, and a metric batch per round.
    const acked = new Set(), ackedPoints = [];
    let next = 0, stop = false, errors = 0;
    const writer = async (w) => {
      for (let round = 0; !stop; round++) {
        const n = next++;
        try {
          const r = await api(server.url, 'POST', '/api/v1/agent/tasks/lg-task/slices', slice(n));
          if (r.status === 201) acked.add(n);
          const t = T0 + (w * 200 + round) * 1000;
          const m = await api(server.url, 'POST', '/api/v1/agent/metrics', { agent_id: 'loadgen',
            series: [{ process_id: 'lg1', monitor: 'PROCESS_CPU', points: [[t, w + round / 1000]] }] });
          if (m.status === 200) ackedPoints.push(t);
        } catch {
          errors++;
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await waitFor(() => acked.size >= 150, { what: '150 acknowledged slices', ms: 30000 });
    await server.child.stop('SIGKILL');
    stop = true;
    await Promise.all(writers);
    const sent = next;
    console.log(`# ${sent} slices posted, ${acked.size} acknowledged before the SIGKILL, ${ackedPoints.length} metric batches acknowledged, ${errors} writers cut off`);
    // The agent's task goes on (30 s, longer than the ingest above may take
    // on a loaded host): its slices wait in its spool, so the resend path
    // runs once the server is back.
    const unsent = await waitFor(async () => {
      const m = await agentMetrics(agent);
      return m.spool_records >= 1 ? m : null;
    }, { what: 'unsent messages in the agent\'s spool while the server is dead', ms: 20000 });
    assert.ok(unsent.spool_records >= 1, `agent spool records ${unsent.spool_records}`);
    await sleep(1500);

    server = await startServer({ listen, store });
    assert.equal(sqlite(db, 'PRAGMA integrity_check')[0].integrity_check, 'ok');
    const stored = new Set(sqlite(db, `SELECT s.slice FROM slices s JOIN tasks t ON t.seq = s.task_seq
      WHERE t.id = 'lg-task'`).map((r) => r.slice));
    const missing = [...acked].filter((n) => !stored.has(n));
    assert.deepEqual(missing, [], 'every acknowledged slice is stored');
    // ...with all its rows: one sample row per stack.
    const rows = sqlite(db, `SELECT s.slice, COUNT(*) AS n FROM samples s JOIN tasks t ON t.seq = s.task_seq
      WHERE t.id = 'lg-task' GROUP BY s.slice`);
    for (const r of rows) assert.equal(r.n, STACKS, `slice ${r.slice} complete`);
    const points = new Set(sqlite(db, `SELECT m.time_ms FROM metrics_raw m JOIN series s ON s.id = m.series
      WHERE s.process_id = 'lg1'`).map((r) => r.time_ms));
    assert.deepEqual(ackedPoints.filter((t) => !points.has(t)), [], 'every acknowledged metric point is stored');

    // The agent's task: every slice arrives once it has been resent.
    await waitFor(async () => {
      const m = await agentMetrics(agent);
      return m.spool_records === 0 && m.tasks_running === 0 && (await taskOf(server.url, agentTask)).status !== 'RUNNING';
    }, { what: 'the agent caught up', ms: 60000 });
    const caughtUp = await agentMetrics(agent);
    console.log(`# agent: ${unsent.spool_records} messages unsent at the restart, `
      + `messages sent ${unsent.messages_sent_total} -> ${caughtUp.messages_sent_total}`);
    assert.ok(caughtUp.messages_sent_total >= unsent.messages_sent_total + unsent.spool_records,
      'the messages that waited were sent after the restart');
    assert.equal(caughtUp.messages_rejected_total, 0, 'none refused');
    const t = await taskOf(server.url, agentTask);
    assert.equal(t.status, 'FINISHED', JSON.stringify(t));
    const agentSlices = sqlite(db, `SELECT s.slice FROM slices s JOIN tasks t ON t.seq = s.task_seq
      WHERE t.id = '${agentTask}' ORDER BY s.slice`).map((r) => r.slice);
    assert.ok(agentSlices.length >= 5, `agent slices: ${agentSlices}`);
    assert.deepEqual(agentSlices, agentSlices.map((_, i) => i), 'agent slices 0..n-1, none missing');
  } finally {
    kill(target);
    await agent.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
