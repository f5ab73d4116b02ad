// Several servers on one PostgreSQL database (CONTPROF_TEST_PG): a policy
// or a manual task written through one server reaches agents long-polling
// on another within 2 s; the real agent connected to server B triggers on a
// policy set through server A; task lists and the monitoring summary are
// the same from either server; two servers migrating one empty database at
// once; a PostgreSQL restart survived (reconnect, retried writes, the
// change listener back). SQLite stores are not shared between servers, so
// these tests need CONTPROF_TEST_PG (scripts/test.sh sets it).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, waitFor } from './lib.mjs';
import { startServer, freshStore, api, register, proc, reportTask, POLICY, PG_BASE } from './server_lib.mjs';
import { startAgent, startProcess, kill } from './agent_lib.mjs';

const skip = PG_BASE ? false : 'needs CONTPROF_TEST_PG (a PostgreSQL shared by the servers)';

async function twoServers() {
  const store = freshStore();
  const a = await startServer({ store });
  const b = await startServer({ store });
  return {
    a, b, store,
    async stop() {
      try { await a.stop(); } finally {
        try { await b.stop(); } finally { store.drop(); }
      }
    },
  };
}

test('policies and manual tasks written on A reach agents waiting on B within 2 s; listings agree', { skip }, async () => {
  const s = await twoServers();
  try {
    await register(s.b.url, 'agent-b', [proc('p-b', 'checkout', 'i1', 101)]);
    await register(s.a.url, 'agent-a', [proc('p-a', 'checkout', 'i2', 102)]);
    // policy PUT on A, agent long-polling on B
    const latencies = [];
    let version = null;
    for (let i = 0; i < 5; i++) {
      const sync = api(s.b.url, 'POST', '/api/v1/agent/sync',
        { agent_id: 'agent-b', services: { checkout: version }, wait_ms: 30000 });
      if (i > 0) await new Promise((r) => setTimeout(r, 300));
      const changed = { ...POLICY, targets: [{ ...POLICY.targets[0], duration: 200 + i }] };
      const t0 = performance.now();
      const put = await api(s.a.url, 'PUT', '/api/v1/services/checkout/policy', changed);
      assert.equal(put.status, 200, put.text);
      const got = await sync;
      latencies.push(performance.now() - t0);
      version = put.headers.get('etag').replaceAll('"', '');
      assert.equal(got.json.policies[0].version, version);
      assert.equal(got.json.policies[0].policy.targets[0].duration, 200 + i);
    }
    console.log(`# cross-server policy propagation (PUT on A -> sync on B answered), ms: ${latencies.map((l) => l.toFixed(1)).join(' ')}`);
    assert.ok(Math.max(...latencies.slice(1)) < 2000, `propagation ${latencies}`);
    // a deletion on B wakes an agent waiting on A
    const del = api(s.a.url, 'POST', '/api/v1/agent/sync',
      { agent_id: 'agent-a', services: { checkout: version }, wait_ms: 30000 });
    await new Promise((r) => setTimeout(r, 300));
    const t1 = performance.now();
    assert.equal((await api(s.b.url, 'DELETE', '/api/v1/services/checkout/policy')).status, 200);
    assert.deepEqual((await del).json.policies, [{ service: 'checkout', version: null, policy: null }]);
    assert.ok(performance.now() - t1 < 2000);
    // a manual task created on B reaches its agent waiting on A
    const waiting = api(s.a.url, 'POST', '/api/v1/agent/sync',
      { agent_id: 'agent-a', services: {}, wait_ms: 30000 });
    await new Promise((r) => setTimeout(r, 300));
    const t2 = performance.now();
    const created = await api(s.b.url, 'POST', '/api/v1/tasks', { process_id: 'p-a', target: 'OFF_CPU', duration: 5 });
    assert.equal(created.status, 201, created.text);
    const got = await waiting;
    const ms = performance.now() - t2;
    console.log(`# cross-server manual task (POST on B -> sync on A answered), ms: ${ms.toFixed(1)}`);
    assert.ok(ms < 2000, `manual task propagation ${ms} ms`);
    assert.deepEqual(got.json.tasks.map((t) => [t.id, t.process_id, t.target]), [[created.json.id, 'p-a', 'OFF_CPU']]);
    // tasks reported through either server: the same listings from both
    const now = Date.now();
    await reportTask(s.a.url, { id: 'x-1', process_id: 'p-a', start_time: now - 3000 });
    await reportTask(s.b.url, { id: 'x-2', process_id: 'p-b', start_time: now - 2000 });
    await reportTask(s.b.url, { id: 'x-1', process_id: 'p-a', start_time: now - 3000 }); // retry elsewhere
    for (const p of ['/api/v1/tasks?service=checkout', '/api/v1/tasks/x-2', '/api/v1/services',
      '/api/v1/processes', '/api/v1/services/checkout/monitoring']) {
      const ra = await api(s.a.url, 'GET', p), rb = await api(s.b.url, 'GET', p);
      assert.equal(ra.status, 200, `${p}: ${ra.text}`);
      if (p.endsWith('monitoring')) {
        delete ra.json.to; delete ra.json.from; delete rb.json.to; delete rb.json.from;
        assert.deepEqual(ra.json, rb.json, p);
      } else {
        assert.equal(ra.text, rb.text, `same bytes from both servers for ${p}`);
      }
    }
    const list = (await api(s.a.url, 'GET', '/api/v1/tasks?service=checkout')).json;
    assert.deepEqual(list.map((t) => t.id), [created.json.id, 'x-2', 'x-1'], 'newest first');
  } finally {
    await s.stop();
  }
});

const AGENT_CONFIG = `processes:
  - match: {comm: "^busyloop$"}
    service: shared-burner
    process: "{comm}"
profiling: {duration: 30, silence: 1200, flush_interval: 1}
`;

test('a policy set through server A triggers the real agent connected to server B', { skip }, async () => {
  const s = await twoServers();
  const burner = startProcess('busyloop');
  const agent = await startAgent(s.b.url, AGENT_CONFIG);
  try {
    await waitFor(async () => (await api(s.a.url, 'GET', '/api/v1/processes?service=shared-burner')).json.length === 1,
      { what: 'busyloop registered (seen through A)', ms: 15000 }).catch((e) => {
      throw new Error(`${e.message}; agent log:\n${agent.err().slice(-3000)}`);
    });
    // let the agent settle into its long poll on B before the PUT on A
    await new Promise((r) => setTimeout(r, 1500));
    const put = Date.now();
    const policy = { service: 'shared-burner', targets: [{ target: 'ON_CPU', items: [
      { monitor: 'PROCESS_CPU', threshold: 1, period: 3, count: 2 }] }] };
    assert.equal((await api(s.a.url, 'PUT', '/api/v1/services/shared-burner/policy', policy)).status, 200);
    const tasks = await waitFor(async () => {
      const t = (await api(s.a.url, 'GET', '/api/v1/tasks?service=shared-burner')).json;
      return t.length ? t : null;
    }, { what: 'ON_CPU task seen through A', ms: 15000 });
    assert.equal(tasks[0].target, 'ON_CPU');
    assert.equal(tasks[0].trigger, 'POLICY');
    assert.equal(tasks[0].cause.monitor, 'PROCESS_CPU');
    // policy within 2 s, first CPU value a second later, count 2
    assert.ok(tasks[0].start_time - put <= 2000 + 3000 + 1000, `latency ${tasks[0].start_time - put} ms`);
    const fromB = (await api(s.b.url, 'GET', '/api/v1/tasks?service=shared-burner')).text;
    assert.equal(fromB, (await api(s.a.url, 'GET', '/api/v1/tasks?service=shared-burner')).text);
  } finally {
    kill(burner);
    await agent.stop();
    await s.stop();
  }
});

test('two servers starting at once on an empty database apply each migration once', { skip }, async () => {
  const store = freshStore();
  try {
    const [a, b] = await Promise.all([startServer({ store }), startServer({ store })]);
    try {
      for (const srv of [a, b])
        assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
      const rows = execFileSync('psql', [store.url, '-qAtX', '-c',
        'SELECT version FROM contprof_migrations ORDER BY version'], { encoding: 'utf8' });
      assert.deepEqual(rows.trim().split('\n'), ['1', '2', '3']);
      const applied = (a.child.err() + b.child.err()).match(/applied PostgreSQL migration \d/g);
      assert.deepEqual(applied.sort(), ['applied PostgreSQL migration 1', 'applied PostgreSQL migration 2', 'applied PostgreSQL migration 3']);
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    store.drop();
  }
});

test('a PostgreSQL restart is survived: writes retried, long polls woken again', { skip, timeout: 60000 }, async () => {
  // a cluster of its own: the shared one keeps serving the other tests
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-pgr-'));
  const script = path.join(ROOT, 'scripts/pg-cluster.sh');
  const url = execFileSync(script, ['start', dir], { encoding: 'utf8' }).trim();
  const a = await startServer({ store: { url, dir: null, drop() {} } });
  const b = await startServer({ store: { url, dir: null, drop() {} }, verbose: true });
  try {
    await register(a.url, 'agent-r', [proc('r-1', 'restart-svc')]);
    const r = spawnSync(script, ['restart', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // the pooled connections died with the old postmaster: the next writes
    // reconnect (and retry) instead of failing
    await register(a.url, 'agent-r', [proc('r-1', 'restart-svc'), proc('r-2', 'restart-svc')]);
    const put = await api(a.url, 'PUT', '/api/v1/services/restart-svc/policy', { ...POLICY, service: 'restart-svc' });
    assert.equal(put.status, 200, put.text);
    assert.equal((await api(b.url, 'GET', '/api/v1/processes?service=restart-svc')).json.length, 2);
    assert.match(a.child.err(), /reconnected to PostgreSQL/);
    // B's change listener reconnects too: a change on A wakes B's long poll
    await waitFor(() => /change listener reconnected/.test(b.child.err()), { what: 'listener back', ms: 10000 });
    const version = put.headers.get('etag').replaceAll('"', '');
    const sync = api(b.url, 'POST', '/api/v1/agent/sync',
      { agent_id: 'agent-r', services: { 'restart-svc': version }, wait_ms: 30000 });
    await new Promise((res) => setTimeout(res, 300));
    const t0 = performance.now();
    assert.equal((await api(a.url, 'DELETE', '/api/v1/services/restart-svc/policy')).status, 200);
    assert.deepEqual((await sync).json.policies, [{ service: 'restart-svc', version: null, policy: null }]);
    assert.ok(performance.now() - t0 < 2000, `woken after ${performance.now() - t0} ms; B's log:\n${b.child.err()}`);
  } finally {
    try { await a.stop(); } finally {
      try { await b.stop(); } finally { execFileSync(script, ['stop', dir]); }
    }
  }
});
