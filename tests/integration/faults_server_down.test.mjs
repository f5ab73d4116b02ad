// Fault: the server is away for a minute while policy tasks trigger and run.
// When it returns, every task report, task end and profile slice the agent
// made while it was away arrives exactly once and in order (tasks in the
// store in the order the agent started them, each task's slices numbered
// 0..n-1 with no gap and no double, and the stack samples the server's flame
// graphs of those tasks add up to exactly the samples the agent spooled,
// contprof_agent_profile_samples_spooled_total); metric points beyond the agent's bound
// (uplink.metrics_max_points) are dropped and counted on its /metrics; the
// agent's memory stays bounded.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, freePort, kill } from './agent_lib.mjs';
import { burner, agentMetrics, sqlite, sleep } from './faults_lib.mjs';

process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');

const DOWN_S = 60;
const METRICS_MAX = 100;
const BURN = burner('sdown');
test.after(() => BURN.remove());

const CONFIG = `processes:
  - match: {comm: "^${BURN.comm}$"}
    service: sdown
    process: "{comm}"
profiling: {flush_interval: 1}
uplink: {metrics_max_points: ${METRICS_MAX}, retry_max: 2s}
listen: 127.0.0.1:0
`;

test(`a server away for ${DOWN_S} s gets every task and slice once, in order`, { timeout: 240000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-sdown-'));
  const db = path.join(dir, 'store.db');
  const store = { url: `sqlite:${db}`, dir, drop: () => {} };
  const listen = `127.0.0.1:${await freePort()}`;
  let server = await startServer({ listen, store });
  const target = BURN.start();
  const agent = await startAgent(server.url, CONFIG);
  try {
    const put = await api(server.url, 'PUT', '/api/v1/services/sdown/policy', { service: 'sdown', targets: [
      { target: 'ON_CPU', duration: 4, silence: 5,
        items: [{ monitor: 'PROCESS_CPU', threshold: 3, period: 2, count: 1 }] }] });
    assert.equal(put.status, 200, put.text);
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/tasks?service=sdown')).json?.length >= 1,
      { what: 'a first task', ms: 20000 }).catch((e) => { throw new Error(`${e.message}\n${agent.err().slice(-3000)}`); });
    const before = await agentMetrics(agent);

    await server.stop();
    const downAt = Date.now();
    let maxRss = before.resident_memory_bytes, maxBuffered = 0, maxSpool = 0, last = before;
    while (Date.now() - downAt < DOWN_S * 1000) {
      last = await agentMetrics(agent);
      maxRss = Math.max(maxRss, last.resident_memory_bytes);
      maxBuffered = Math.max(maxBuffered, last.metrics_buffered);
      maxSpool = Math.max(maxSpool, last.spool_records);
      await sleep(1000);
    }
    const startedWhileDown = (agent.err().match(/task \S+ started/g) || []).length;
    assert.equal(last.server_reachable, 0, 'the agent saw the server away');
    assert.ok(maxSpool >= 10, `messages waited in the spool (max ${maxSpool})`);
    assert.ok(maxBuffered <= METRICS_MAX, `metric points buffered ${maxBuffered} <= ${METRICS_MAX}`);
    assert.ok(last.metrics_dropped_total > before.metrics_dropped_total,
      `points beyond the bound dropped and counted: ${before.metrics_dropped_total} -> ${last.metrics_dropped_total}`);

    server = await startServer({ listen, store });
    // No new tasks, and none racing the exit: stopped, the target's slots
    // fall under the threshold (period 2 s) before it goes, so a task that
    // starts still finds it and ends FINISHED, "process exited".
    kill(target, 'SIGSTOP');
    await sleep(3000);
    kill(target);
    await waitFor(async () => {
      const m = await agentMetrics(agent);
      return m.spool_records === 0 && m.tasks_running === 0 && m.server_reachable === 1;
    }, { what: 'the spool drained', ms: 60000 });
    const afterMetrics = await agentMetrics(agent);
    const grewMb = (maxRss - before.resident_memory_bytes) / 1048576;
    console.log(`# ${DOWN_S} s away: ${startedWhileDown} tasks started in all, spool max ${maxSpool} records, `
      + `metric points dropped ${last.metrics_dropped_total - before.metrics_dropped_total}, `
      + `agent RSS ${(before.resident_memory_bytes / 1048576).toFixed(1)} -> max ${(maxRss / 1048576).toFixed(1)} MB, `
      + `messages sent ${afterMetrics.messages_sent_total}, rejected ${afterMetrics.messages_rejected_total}`);
    assert.ok(grewMb < 24, `agent RSS grew by ${grewMb.toFixed(1)} MB while the server was away`);
    assert.equal(afterMetrics.messages_rejected_total, 0, 'nothing refused');
    assert.equal(afterMetrics.spool_full_dropped_total, 0, 'nothing dropped for a full spool');

    // Every task the agent started, once, in the order it started them.
    const startedIds = [...agent.err().matchAll(/task (\S+) started/g)].map((m) => m[1]);
    assert.ok(startedIds.length >= 6, `tasks kept triggering while away (${startedIds.length})`);
    const stored = sqlite(db, 'SELECT id, status, reason, start_ms, end_ms FROM tasks ORDER BY seq');
    assert.deepEqual(stored.map((t) => t.id), startedIds, 'tasks stored once each, in start order');
    for (const t of stored) {
      assert.equal(t.status, 'FINISHED', JSON.stringify(t));
      assert.ok(t.end_ms >= t.start_ms, JSON.stringify(t));
    }
    // Every slice once, numbered without gaps, in time order.
    for (const { id } of stored) {
      const slices = sqlite(db, `SELECT s.slice, s.start_ms, s.end_ms FROM slices s JOIN tasks t ON t.seq = s.task_seq
        WHERE t.id = '${id}' ORDER BY s.slice`);
      assert.ok(slices.length >= 1, `task ${id} has slices`);
      slices.forEach((s, i) => {
        assert.equal(s.slice, i, `task ${id}: slice ${i} of ${slices.length}`);
        if (i) assert.ok(s.start_ms >= slices[i - 1].end_ms - 1, `task ${id}: slices in time order`);
      });
    }
    // No double counts, no loss: every sample the agent put in a slice (each
    // slice counted once, when spooled) is in the server's flame graphs of
    // the stored tasks once, though many slices were retried while away.
    const spooled = afterMetrics.profile_samples_spooled_total;
    assert.ok(Number.isInteger(spooled) && spooled > 0, `samples spooled: ${spooled}`);
    let flameTotal = 0;
    for (const { id } of stored) {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${id}/flamegraph?format=json`);
      assert.equal(r.status, 200, r.text);
      assert.ok(Number.isInteger(r.json.value), `task ${id}: flame graph total ${r.json.value}`);
      flameTotal += r.json.value;
    }
    const [{ rows }] = sqlite(db, 'SELECT coalesce(sum(count), 0) AS rows FROM samples');
    console.log(`# samples: agent spooled ${spooled}, flame graphs ${flameTotal}, store rows ${rows}`);
    assert.equal(flameTotal, spooled, 'flame graph totals = samples the agent spooled');
    assert.equal(rows, spooled, 'stored samples = samples the agent spooled');
    // Metrics flow again once it is back.
    await waitFor(async () => (await agentMetrics(agent)).metrics_sent_total > afterMetrics.metrics_sent_total
      || afterMetrics.metrics_buffered === 0, { what: 'metrics sent after the return', ms: 15000 });
  } finally {
    kill(target);
    await agent.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
