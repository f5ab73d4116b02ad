// The query API over real HTTP: health, /metrics, services, policy
// GET/PUT/DELETE validated by the core, the 48 h monitoring window at its
// exact edges, routing errors — and the token rules of non-loopback servers.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, waitFor } from './lib.mjs';
import { startServer, api, assertErrors, register, proc, reportTask, POLICY } from './server_lib.mjs';

const H48 = 48 * 3600 * 1000;

test('healthz, routing errors and /metrics request counters', async () => {
  const srv = await startServer();
  try {
    const h = await api(srv.url, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    assertErrors(await api(srv.url, 'GET', '/api/v1/nothing'), 404, /no such endpoint/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/services/'), 404, /no such endpoint/);
    assertErrors(await api(srv.url, 'PATCH', '/api/v1/services/x/policy', '{}'), 405, /not allowed/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/agent/register'), 405, /not allowed/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/processes/ghost'), 404, /unknown process 'ghost'/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/processes?limit=abc'), 400, /limit/);
    const m = await api(srv.url, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    assert.match(m.text, /contprof_http_requests_total\{route="\/healthz",status="200"\} 1\n/);
    assert.match(m.text, /contprof_http_requests_total\{route="unmatched",status="404"\} 2\n/);
    assert.match(m.text, /contprof_http_requests_total\{route="\/api\/v1\/services\/\{\}\/policy",status="405"\} 1\n/);
    assert.match(m.text, /# TYPE contprof_store_latency_seconds histogram/);
    assert.match(m.text, /contprof_store_latency_seconds_bucket\{op="query",le="\+Inf"\} \d+/);
    assert.match(m.text, /contprof_ingest_stack_samples_total 0/);
  } finally {
    await srv.stop();
  }
});

test('policy PUT/GET/DELETE: canonical form, version, every reason, path/body match', async () => {
  const srv = await startServer();
  try {
    assertErrors(await api(srv.url, 'GET', '/api/v1/services/checkout/policy'), 404, /has no policy/);
    const messy = '{"targets": [{"items": [{"count": 5.0, "period": 10, "threshold": 80, "monitor": "PROCESS_CPU"}], "target": "ON_CPU"}], "service": "checkout"}';
    const put = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', messy);
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json, POLICY);
    const etag = put.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{64}"$/);
    const get = await api(srv.url, 'GET', '/api/v1/services/checkout/policy');
    assert.equal(get.text, put.text, 'canonical text');
    assert.equal(get.headers.get('etag'), etag);
    const same = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', POLICY);
    assert.equal(same.headers.get('etag'), etag, 'same document, same version');
    const services = await api(srv.url, 'GET', '/api/v1/services');
    assert.deepEqual(services.json, [{ name: 'checkout', policy_version: etag.replaceAll('"', ''), processes: 0, last_seen: null }]);

    const bad = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', {
      service: 'other', targets: [{ target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 180, period: 10, count: 50 }] },
        { target: 'GPU', items: [] }] });
    assertErrors(bad, 400, /threshold/, /count 50 > period 10/, /GPU/, /'other' in the document does not match 'checkout'/);
    assert.ok(bad.json.errors.length >= 4, bad.text);
    assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', { ...POLICY, service: 'other' }), 400,
      /'other' in the document does not match 'checkout' in the path/);
    assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', '{"service": '), 400);
    assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', ''), 400, /empty/);
    assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', ' '.repeat(70 * 1024)), 413, /larger than/);
    assert.equal((await api(srv.url, 'GET', '/api/v1/services/checkout/policy')).headers.get('etag'), etag, 'refusals changed nothing');

    const del = await api(srv.url, 'DELETE', '/api/v1/services/checkout/policy');
    assert.equal(del.status, 200);
    assert.deepEqual(del.json, { service: 'checkout', deleted: true });
    assertErrors(await api(srv.url, 'DELETE', '/api/v1/services/checkout/policy'), 404, /has no policy/);
    assert.deepEqual((await api(srv.url, 'GET', '/api/v1/services')).json, []);
  } finally {
    await srv.stop();
  }
});

test('monitoring counts POLICY triggers in [to - 48 h, to] exactly, sorted by count', async () => {
  const srv = await startServer();
  try {
    await register(srv.url, 'agent-w', [proc('w-1', 'web', 'host-a', 11), proc('w-2', 'web', 'host-a', 12),
      proc('w-3', 'web', 'host-b', 13), proc('o-1', 'other', 'host-a', 14)]);
    const T = Date.now() - 60000;
    const edge = T - H48;
    const starts = { 'w-1': [edge - 1, edge, edge + 1, T, T + 1], 'w-3': [T - 1000, T - 2000, T - 3000, T - 4000] };
    let n = 0;
    for (const [pid, times] of Object.entries(starts))
      for (const t of times)
        await reportTask(srv.url, { id: `task-${n++}`, process_id: pid, start_time: t });
    await reportTask(srv.url, { id: `task-${n++}`, process_id: 'w-2', start_time: T - 10, target: 'OFF_CPU' });
    await reportTask(srv.url, { id: `task-${n++}`, process_id: 'w-2', start_time: T - 10, trigger: 'MANUAL' });
    await reportTask(srv.url, { id: `task-${n++}`, target: 'NETWORK', service: 'web', instance: 'host-a', start_time: T - 5 });
    await reportTask(srv.url, { id: `task-${n++}`, process_id: 'o-1', start_time: T - 5 });

    const res = await api(srv.url, 'GET', `/api/v1/services/web/monitoring?target=ON_CPU&to=${T}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.from, T - H48);
    assert.equal(res.json.to, T);
    const inst = res.json.instances;
    assert.deepEqual(inst.map((i) => [i.name, i.triggered_count, i.last_trigger_time]),
      [['host-b', 4, T - 1000], ['host-a', 3, T]]);
    const a = inst[1].processes;
    assert.deepEqual(a.map((p) => [p.id, p.triggered_count, p.last_trigger_time]),
      [['w-1', 3, T], ['w-2', 0, null]]);
    assert.deepEqual(a[0].labels, { tier: 'fe' });
    assert.equal(a[0].pid, 11);
    assert.equal(a[0].name, 'proc-w-1');

    // one millisecond later the oldest counted trigger falls out
    const later = await api(srv.url, 'GET', `/api/v1/services/web/monitoring?target=ON_CPU&to=${T + 1}`);
    assert.equal(later.json.instances.find((i) => i.name === 'host-a').processes[0].triggered_count, 3,
      'edge+1 .. T+1 : edge dropped, T+1 added');
    const earlier = await api(srv.url, 'GET', `/api/v1/services/web/monitoring?target=ON_CPU&to=${T - 1}`);
    const w1 = earlier.json.instances.find((i) => i.name === 'host-a').processes.find((p) => p.id === 'w-1');
    assert.deepEqual([w1.triggered_count, w1.last_trigger_time], [3, edge + 1], 'edge-1, edge, edge+1 counted');

    // all targets: the OFF_CPU and NETWORK triggers count too, MANUAL never
    const all = await api(srv.url, 'GET', `/api/v1/services/web/monitoring?to=${T}`);
    const hostA = all.json.instances.find((i) => i.name === 'host-a');
    assert.equal(hostA.triggered_count, 5);
    assert.deepEqual(hostA.processes.map((p) => [p.id, p.triggered_count]), [['w-1', 3], ['w-2', 1]]);
    assert.deepEqual(all.json.instances.map((i) => i.name), ['host-a', 'host-b']);

    const now = await api(srv.url, 'GET', '/api/v1/services/web/monitoring?target=ON_CPU');
    assert.ok(Math.abs(now.json.to - Date.now()) < 5000, 'to defaults to now');
    assertErrors(await api(srv.url, 'GET', '/api/v1/services/web/monitoring?target=GPU'), 400, /target/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/services/web/monitoring?to=later'), 400, /to:/);
    assertErrors(await api(srv.url, 'GET', '/api/v1/services/ghost/monitoring'), 404, /unknown service 'ghost'/);
    const svcs = await api(srv.url, 'GET', '/api/v1/services');
    assert.deepEqual(svcs.json.map((s) => [s.name, s.processes]), [['other', 1], ['web', 3]]);
  } finally {
    await srv.stop();
  }
});

test('listings page with limit/offset and X-Next-Offset', async () => {
  const srv = await startServer();
  try {
    await register(srv.url, 'agent-p', Array.from({ length: 5 }, (_, i) => proc(`p-${i}`, 'paged', 'i', i + 1)));
    const first = await api(srv.url, 'GET', '/api/v1/processes?service=paged&limit=2');
    assert.deepEqual(first.json.map((p) => p.id), ['p-0', 'p-1']);
    assert.equal(first.headers.get('x-next-offset'), '2');
    const last = await api(srv.url, 'GET', '/api/v1/processes?service=paged&limit=2&offset=4');
    assert.deepEqual(last.json.map((p) => p.id), ['p-4']);
    assert.equal(last.headers.get('x-next-offset'), null);
    for (let i = 0; i < 3; i++) await reportTask(srv.url, { id: `pt-${i}`, process_id: 'p-0', start_time: 1000 + i });
    const tasks = await api(srv.url, 'GET', '/api/v1/tasks?process=p-0&limit=2&offset=1');
    assert.deepEqual(tasks.json.map((t) => t.id), ['pt-1', 'pt-0'], 'newest first');
  } finally {
    await srv.stop();
  }
});

test('a non-loopback server refuses to start without a token', async () => {
  const r = await run(['server', '--listen', '0.0.0.0:0', '--store', `sqlite:${os.tmpdir()}/contprof-notoken.db`],
    { env: { ...process.env, CONTPROF_TOKEN: '' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refusing to listen on non-loopback address 0\.0\.0\.0:0 without a token/);
  const badFile = await run(['server', '--token-file', '/nonexistent/token']);
  assert.equal(badFile.code, 1);
  assert.match(badFile.stderr, /the agent token: cannot read token file \/nonexistent\/token/);
  const badListen = await run(['server', '--listen', 'nonsense']);
  assert.equal(badListen.code, 2);
  assert.match(badListen.stderr, /cannot use listen address 'nonsense'/);
  const help = await run(['server', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: contprof server/);
  assert.match(help.stdout, /examples:/);
});

test('with a token: agent API and writes need it, reads do not (non-loopback)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-token-'));
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, '  s3cret-token \n', { mode: 0o600 });
  const srv = await startServer({ listen: '0.0.0.0:0', args: ['--token-file', file] });
  const good = { authorization: 'Bearer s3cret-token' };
  try {
    assert.match(srv.child.err(), /token required/);
    const body = { agent_id: 'a', host: 'h', processes: [proc('tok-1')] };
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', body), 401, /token/);
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', body, { authorization: 'Bearer s3cret-tokeN' }), 401);
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', body, { authorization: 'Bearer s3cret' }), 401);
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', body, { authorization: 's3cret-token' }), 401);
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'a', services: {} }), 401);
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics', { series: [] }), 401);
    assert.equal((await api(srv.url, 'POST', '/api/v1/agent/register', body, good)).status, 200);
    assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', POLICY), 401);
    assert.equal((await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', POLICY, good)).status, 200);
    assertErrors(await api(srv.url, 'DELETE', '/api/v1/services/checkout/policy'), 401);
    assertErrors(await api(srv.url, 'POST', '/api/v1/tasks', { process_id: 'tok-1', target: 'ON_CPU' }), 401);
    assert.equal((await api(srv.url, 'POST', '/api/v1/tasks', { process_id: 'tok-1', target: 'ON_CPU' }, good)).status, 201);
    // an unauthenticated body is never buffered: drained, then 401
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics', 'x'.repeat(20 << 20)), 401, /token/);
    // reads stay open
    assert.equal((await api(srv.url, 'GET', '/api/v1/services/checkout/policy')).status, 200);
    assert.equal((await api(srv.url, 'GET', '/api/v1/processes')).status, 200);
    assert.equal((await api(srv.url, 'GET', '/healthz')).status, 200);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // the environment variable works as well
  const env = await startServer({ listen: '0.0.0.0:0', env: { CONTPROF_TOKEN: 'envtok' } });
  try {
    assertErrors(await api(env.url, 'POST', '/api/v1/agent/sync', { agent_id: 'a', services: {}, wait_ms: 0 }), 401);
    const ok = await api(env.url, 'POST', '/api/v1/agent/sync', { agent_id: 'a', services: {}, wait_ms: 0 },
      { authorization: 'Bearer envtok' });
    assert.equal(ok.status, 200);
  } finally {
    await env.stop();
  }
});

test('SIGINT stops the server cleanly while an agent long-polls', async () => {
  const srv = await startServer();
  const pending = api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'a', services: {}, wait_ms: 60000 })
    .catch((e) => ({ error: e }));
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  const { code } = await srv.child.stop('SIGINT');
  assert.equal(code, 0, srv.child.err());
  assert.ok(Date.now() - t0 < 5000, 'the long poll did not hold up the stop');
  const res = await pending;
  assert.ok(res.error || res.status === 200);
  assert.match(srv.child.err(), /SIGINT received, stopping/);
});

test('retention deletes expired tasks with their profiles on its timer', async () => {
  const srv = await startServer({ args: ['--retention-tasks', '3s', '--retention-interval', '1s'] });
  try {
    await register(srv.url, 'agent-r', [proc('r-1', 'ret-svc')]);
    await reportTask(srv.url, { id: 'r-old', process_id: 'r-1', start_time: Date.now() - 60000 });
    await api(srv.url, 'POST', '/api/v1/agent/tasks/r-old/slices',
      { slice: 0, start_time: 1, end_time: 2, stacks: [{ stack: 'main;x', count: 1 }] });
    await reportTask(srv.url, { id: 'r-new', process_id: 'r-1', start_time: Date.now() + 60000 });
    await waitFor(async () => (await api(srv.url, 'GET', '/api/v1/tasks/r-old')).status === 404,
      { what: 'expired task deleted', ms: 5000 });
    assert.equal((await api(srv.url, 'GET', '/api/v1/tasks/r-new')).status, 200);
    assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/r-old/flamegraph'), 404, /unknown task/);
    const m = await api(srv.url, 'GET', '/metrics');
    assert.match(m.text, /contprof_store_latency_seconds_count\{op="retention"\} [1-9]/);
  } finally {
    await srv.stop();
  }
  const bad = await run(['server', '--retention-raw', 'forever']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--retention-raw expects a duration/);
});
