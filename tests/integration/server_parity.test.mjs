// The same answers from both stores: one server on SQLite and one on
// PostgreSQL (CONTPROF_TEST_PG) receive the same uploads — processes with
// labels, metric points whose minute rollups need floating-point sums,
// retried uploads, tasks with causes, finished and failed ones, profile
// slices sharing stacks, a topology — and every query answers the same
// bytes on both, where the API defines an order. Only the times a server
// stamps itself (last_seen) differ and are compared for presence.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, register, proc, reportTask, POLICY, PG_BASE } from './server_lib.mjs';

const skip = PG_BASE ? false : 'needs CONTPROF_TEST_PG (compares SQLite with PostgreSQL)';

async function sqliteServer() {
  // freshStore() gives PostgreSQL when CONTPROF_TEST_PG is set: build the
  // SQLite store by hand
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-parity-'));
  const srv = await startServer({ store: { url: `sqlite:${dir}/store.db`, dir, drop() {} } });
  const stop = srv.stop;
  srv.stop = async () => { try { await stop(); } finally { fs.rmSync(dir, { recursive: true, force: true }); } };
  return srv;
}

// Replaces the values a server stamps from its own clock.
function normalize(text) {
  return text.replace(/"last_seen":\d+/g, '"last_seen":"T"');
}

async function feed(url, t0) {
  await register(url, 'agent-1', [proc('z-9', 'shop', 'i2', 9), proc('a-1', 'shop', 'i1', 1),
    { id: 'b-2', service: 'shop', instance: 'i1', name: 'Proc-B', pid: 2, labels: { z: '1', a: 'ü' } },
    proc('c-3', 'other', 'i1', 3)]);
  await register(url, 'agent-2', [proc('d-4', 'shop', 'i10', 4), proc('e-5', '_under', 'I1', 5)]);
  assert.equal((await api(url, 'PUT', '/api/v1/services/shop/policy', { ...POLICY, service: 'shop' })).status, 200);
  // metrics: values whose sums are not exact in binary, two series, a URI
  // filter, points spread over three minutes, one upload retried
  const pts = [];
  for (let s = 0; s < 150; s++) pts.push([t0 + s * 1000, (s % 7) * 0.1 + 0.3]);
  const body = { agent_id: 'agent-1', series: [
    { process_id: 'a-1', monitor: 'PROCESS_CPU', points: pts },
    { process_id: 'a-1', monitor: 'HTTP_ERROR_RATE', uri: '^/api/', points: pts.slice(0, 40).map(([t, v]) => [t, v * 3]) },
    { process_id: 'b-2', monitor: 'PROCESS_CPU', points: [[t0 + 1000, 1e-7], [t0 + 2000, 123456.789]] }] };
  for (let i = 0; i < 2; i++) {
    const r = await api(url, 'POST', '/api/v1/agent/metrics', body);
    assert.equal(r.status, 200, r.text);
  }
  // later points of the same minutes: the rollups add up
  await api(url, 'POST', '/api/v1/agent/metrics', { agent_id: 'agent-1', series: [
    { process_id: 'a-1', monitor: 'PROCESS_CPU', points: [[t0 + 150500, 0.7], [t0 + 151000, 0.1]] }] });
  // tasks
  const cause = { monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5, matched: 6, current: 91.5, peak: 99.25, uri: null, message: 'hot' };
  await reportTask(url, { id: 't-1', process_id: 'a-1', start_time: t0 + 1000, cause });
  await reportTask(url, { id: 't-2', process_id: 'b-2', start_time: t0 + 1000, target: 'OFF_CPU' });
  await reportTask(url, { id: 't-3', process_id: 'd-4', start_time: t0 + 5000, cause });
  await reportTask(url, { id: 't-4', service: 'shop', instance: 'i1', target: 'NETWORK', start_time: t0 + 7000 });
  await reportTask(url, { id: 't-1', process_id: 'a-1', start_time: t0 + 1000, cause }); // retry
  await api(url, 'POST', '/api/v1/agent/tasks/t-2/finish', { end_time: t0 + 9000 });
  await api(url, 'POST', '/api/v1/agent/tasks/t-3/fail', { end_time: t0 + 9500, reason: 'no stack: EPERM' });
  // profile slices sharing stacks; one retried
  const slices = [
    { slice: 0, start_time: t0, end_time: t0 + 5000, stacks: [{ stack: 'main;a;b', count: 3 }, { stack: 'main;a;c', count: 1 }, { stack: 'main;[unknown]', count: 2 }] },
    { slice: 1, start_time: t0 + 5000, end_time: t0 + 10000, stacks: [{ stack: 'main;a;c', count: 4 }, { stack: 'main;x"y\\z;é', count: 5 }, { stack: 'main;a;b', count: 1 }],
      stack_stats: { samples: 10, truncated: 5, lost: 1 } },
    { slice: 2, start_time: t0 + 10000, end_time: t0 + 15000, stacks: [{ stack: '[truncated];a', count: 3 }],
      stack_stats: { samples: 3, truncated: 3, lost: 0 } },
  ];
  for (const s of [...slices, slices[0], slices[1]])
    assert.ok((await api(url, 'POST', '/api/v1/agent/tasks/t-1/slices', s)).status < 300);
  await api(url, 'POST', '/api/v1/agent/tasks/t-2/slices', { slice: 0, start_time: t0, end_time: t0 + 5000,
    stacks: [{ stack: 'main;sleep', count: 2, duration_ns: 2000000 }, { stack: 'main;read', count: 1, duration_ns: 7 }] });
  const topo = { nodes: [{ id: 'a-1' }, { id: 'n', address: '10.0.0.1:80' }], edges: [{ from: 'a-1', to: 'n', calls: 3 }], samples: [{ uri: '/x', status: 500 }] };
  const tr = await api(url, 'PUT', '/api/v1/agent/tasks/t-4/topology', topo);
  assert.ok(tr.status < 300, tr.text);
}

test('SQLite and PostgreSQL answer the same bytes for the same uploads', { skip }, async () => {
  const sq = await sqliteServer();
  const pg = await startServer();
  try {
    const t0 = Date.now() - 600000 - (Date.now() % 60000) + 17000;
    await feed(sq.url, t0);
    await feed(pg.url, t0);
    const now = Date.now();
    const paths = [
      '/api/v1/services', '/api/v1/services/shop/policy',
      '/api/v1/processes', '/api/v1/processes?service=shop', '/api/v1/processes?limit=2&offset=1',
      '/api/v1/processes/b-2',
      `/api/v1/processes/a-1/metrics?monitor=PROCESS_CPU&from=${t0 - 1000}&to=${now}`,
      `/api/v1/processes/a-1/metrics?monitor=HTTP_ERROR_RATE&uri=${encodeURIComponent('^/api/')}&from=${t0}&to=${now}`,
      `/api/v1/processes/b-2/metrics?monitor=PROCESS_CPU&from=${t0}&to=${now}`,
      // older than the raw retention: minute rollups (avg, max)
      `/api/v1/processes/a-1/metrics?monitor=PROCESS_CPU&from=${now - 7200000}&to=${now}`,
      `/api/v1/processes/b-2/metrics?monitor=PROCESS_CPU&from=${now - 7200000}&to=${now}`,
      '/api/v1/tasks', '/api/v1/tasks?service=shop', '/api/v1/tasks?process=a-1', `/api/v1/tasks?since=${t0 + 2000}`,
      '/api/v1/tasks?limit=2&offset=1', '/api/v1/tasks/t-1', '/api/v1/tasks/t-3',
      `/api/v1/services/shop/monitoring?to=${now}`, `/api/v1/services/shop/monitoring?target=ON_CPU&to=${now}`,
      '/api/v1/tasks/t-1/flamegraph?format=json', '/api/v1/tasks/t-1/flamegraph?format=folded',
      `/api/v1/tasks/t-1/flamegraph?format=folded&from=${t0 + 5000}&to=${t0 + 10000}`,
      '/api/v1/tasks/t-2/flamegraph?format=json&aggregate=duration',
      '/api/v1/tasks/t-4/topology', '/api/v1/tasks/t-1/topology',
    ];
    let compared = 0;
    for (const p of paths) {
      const a = await api(sq.url, 'GET', p), b = await api(pg.url, 'GET', p);
      assert.equal(a.status, 200, `${p} on SQLite: ${a.text}`);
      assert.ok(a.text.length > 2 && a.text !== '[]', `${p}: something to compare: ${a.text}`);
      assert.equal(b.status, a.status, `${p}: status`);
      assert.equal(normalize(b.text), normalize(a.text), `${p}: same bytes`);
      assert.equal(b.headers.get('x-next-offset'), a.headers.get('x-next-offset'), `${p}: paging`);
      compared++;
    }
    assert.equal(compared, paths.length);
    // the rollups really are sums of non-exact values, compared above bytewise
    const roll = await api(pg.url, 'GET', `/api/v1/processes/a-1/metrics?monitor=PROCESS_CPU&from=${now - 7200000}&to=${now}`);
    assert.ok(roll.json.length >= 3 && roll.json.every((r) => 'max' in r), roll.text);
  } finally {
    await sq.stop();
    await pg.stop();
  }
});
