// Hostile input against the server over real HTTP: oversized bodies, deep
// JSON nesting, huge strings, invalid UTF-8, unknown fields, negative and
// NaN numbers and a policy with 10 000 items, sent to the policy, manual
// task and agent endpoints. Each must be answered 4xx with a readable
// reason; afterwards the server must still be healthy and every piece of
// data stored before the barrage must read back unchanged. The sanitizer
// build's exit code (checked by stop()) catches leaks and UB on the way.
//
// Unknown fields: the policy document and the manual-task request are
// public formats and refuse them; agent uploads ignore them (an agent may
// be newer than its server — docs/agent-api.md), which is checked too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, assertErrors, register, proc, reportTask, POLICY } from './server_lib.mjs';

const MiB = 1024 * 1024;
let srv;
let before;

// Everything the barrage must leave as it was.
async function snapshot(url) {
  const get = async (p) => {
    const res = await api(url, 'GET', p);
    assert.equal(res.status, 200, `${p}: ${res.text}`);
    return res.json;
  };
  return {
    policy: await get('/api/v1/services/checkout/policy'),
    processes: await get('/api/v1/processes'),
    task: await get('/api/v1/tasks/bad-t1'),
    flame: await get('/api/v1/tasks/bad-t1/flamegraph'),
  };
}

test.before(async () => {
  srv = await startServer();
  let res = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', POLICY);
  assert.equal(res.status, 200, res.text);
  await register(srv.url, 'agent-bad', [proc('bad-p1'), proc('bad-p2', 'checkout', 'i2', 101)]);
  await reportTask(srv.url, { id: 'bad-t1', process_id: 'bad-p1', start_time: Date.now() - 1000 });
  res = await api(srv.url, 'POST', '/api/v1/agent/tasks/bad-t1/slices', {
    slice: 0, start_time: Date.now() - 1000, end_time: Date.now(),
    stacks: [{ stack: 'main;work;compute', count: 7 }, { stack: 'main;idle', count: 2 }],
  });
  assert.equal(res.status, 201, res.text);
  before = await snapshot(srv.url);
});

test.after(async () => { await srv.stop(); });

test('oversized bodies are refused with 413 and the limit', async () => {
  const bigPolicy = JSON.stringify({ ...POLICY, pad: 'x'.repeat(70 * 1024) });
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', bigPolicy), 413,
    /larger than 65536 bytes/);
  const bigUpload = '{"agent_id":"a","host":"h","processes":[],"pad":"' + 'y'.repeat(17 * MiB) + '"}';
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', bigUpload), 413,
    /larger than 16777216 bytes/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks', 'z'.repeat(65 * 1024)), 413,
    /larger than 65536 bytes/);
});

test('deep JSON nesting is refused as bad JSON', async () => {
  const deep = (n) => '['.repeat(n) + ']'.repeat(n);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    `{"service":"checkout","targets":${deep(30000)}}`), 400, /invalid JSON|depth/i);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    `{"agent_id":"a","host":"h","processes":${deep(200000)}}`), 400, /bad JSON.*depth/);
  const objects = '{"a":'.repeat(100000) + '1' + '}'.repeat(100000);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics', objects), 400, /bad JSON.*depth/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/agent/tasks/bad-t1/topology',
    `{"nodes":${deep(5000)},"edges":[]}`), 400, /bad JSON.*depth/);
});

test('huge strings are refused with the field and its limit', async () => {
  const huge = 'h'.repeat(4 * MiB);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    { agent_id: 'agent-bad', host: huge, processes: [] }), 400, /^host: longer than 255 bytes$/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    { agent_id: 'x'.repeat(1000), host: 'h', processes: [] }), 400, /^agent_id: longer than 128 bytes$/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/bad-t1/slices',
    { slice: 9, start_time: 1, end_time: 2, stacks: [{ stack: 'f;'.repeat(MiB) + 'g', count: 1 }] }),
  400, /stacks\[0\]\.stack: longer than 65536 bytes/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    { ...POLICY, service: 's'.repeat(60 * 1024) }), 400, /service/);
  // A long key made of multi-byte characters, quoted in the reason: the
  // reason is cut at a character boundary, never lost.
  const keys = { ['x' + 'é'.repeat(400)]: 'v1' };
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-bad', services: keys, wait_ms: 0 }), 400, /^services: bad service name/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    { agent_id: 'agent-bad', host: 'h', processes: [{ ...proc('bad-p3'), labels: { ['ü'.repeat(300)]: 1 } }] }),
  400, /processes\[0\]\.labels\..*must be a string/);
});

test('invalid UTF-8 is refused as bad JSON, never stored', async () => {
  const bytes = (s) => Buffer.concat([Buffer.from(s[0]), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(s[1])]);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    bytes(['{"agent_id":"agent-bad","host":"', '","processes":[]}'])), 400, /bad JSON.*UTF-8|bad JSON.*decode/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    bytes(['{"service":"checkout","targets":[],"x":"', '"}'])), 400, /invalid JSON/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/bad-t1/slices',
    bytes(['{"slice":5,"start_time":1,"end_time":2,"stacks":[{"stack":"main;', '","count":1}]}'])), 400, /bad JSON/);
  // Escaped lone surrogates are invalid too.
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    '{"agent_id":"agent-bad","host":"\\ud800","processes":[]}'), 400, /bad JSON/);
});

test('unknown fields: refused by the public formats, ignored by agent uploads', async () => {
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    { ...POLICY, colour: 'red' }), 400, /colour/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    { ...POLICY, targets: [{ ...POLICY.targets[0], sampling: 1 }] }), 400, /sampling/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/tasks',
    { process_id: 'bad-p1', target: 'ON_CPU', durration: 5 }), 400, /^durration: unknown field/);
  // Agent uploads: a newer agent's extra fields are ignored, the rest stored.
  const res = await api(srv.url, 'POST', '/api/v1/agent/metrics', {
    agent_id: 'agent-bad', future: { x: 1 },
    series: [{ process_id: 'bad-p2', monitor: 'PROCESS_CPU', points: [[Date.now() - 500, 12]], extra: true }],
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.inserted, 1);
});

test('negative and NaN numbers are refused with the field', async () => {
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', {
    service: 'checkout',
    targets: [{ target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: -5, period: -10, count: -1 }] }],
  }), 400, /threshold/, /period/, /count/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    '{"service":"checkout","targets":[{"target":"ON_CPU","items":[{"monitor":"PROCESS_CPU","threshold":NaN,"period":10,"count":5}]}]}'),
  400, /invalid JSON/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    '{"service":"checkout","targets":[{"target":"ON_CPU","items":[{"monitor":"PROCESS_CPU","threshold":1e999,"period":10,"count":5}]}]}'),
  400, /invalid JSON/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register',
    { agent_id: 'agent-bad', host: 'h', processes: [{ ...proc('bad-p1'), pid: -1 }] }), 400,
  /processes\[0\]\.pid: -1 is out of range/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics',
    '{"series":[{"process_id":"bad-p1","monitor":"PROCESS_CPU","points":[[1700000000000,NaN]]}]}'), 400, /bad JSON/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics',
    { series: [{ process_id: 'bad-p1', monitor: 'PROCESS_CPU', points: [[-1700000000000, 5]] }] }), 400,
  /series\[0\]\.points\[0\]: must be \[time_ms, value\]/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/bad-t1/slices',
    { slice: -1, start_time: -5, end_time: 1, stacks: [{ stack: 'a', count: -3, duration_ns: -1 }] }), 400,
  /^slice: -1 is out of range/, /^start_time: -5 is out of range/, /stacks\[0\]\.count: -3/, /duration_ns: -1/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-bad', services: {}, wait_ms: -1 }), 400, /^wait_ms: -1 is out of range/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/tasks',
    { process_id: 'bad-p1', target: 'ON_CPU', duration: -60 }), 400, /^duration: -60 is out of range/);
});

test('a policy with 10 000 items, targets or URIs is refused with a reason', async () => {
  const item = { monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5 };
  const items = Array.from({ length: 10000 }, () => item);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/services/checkout/policy',
    { service: 'checkout', targets: [{ target: 'ON_CPU', items }] }), 413, /larger than 65536 bytes/);
  // 10 000 short entries fit in 64 KiB and reach the validator.
  const targets = Array.from({ length: 10000 }, () => 1);
  let res = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', { service: 'checkout', targets });
  assertErrors(res, 400, /^targets\[0\]: expected an object$/, /^document: 9936 more reasons not shown$/);
  assert.ok(res.json.errors.length <= 66, `bounded reasons: ${res.json.errors.length}`);
  const uris = Array.from({ length: 10000 }, () => '/a');
  res = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', {
    service: 'checkout',
    targets: [{ target: 'NETWORK', items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 5, period: 10, count: 1, uri_list: uris }] }],
  });
  assertErrors(res, 400, /uri_list/);
  const procs = Array.from({ length: 10000 }, (_, i) => ({ id: `x${i}` }));
  res = await api(srv.url, 'POST', '/api/v1/agent/register', { agent_id: 'agent-bad', host: 'h', processes: procs });
  assertErrors(res, 400, /processes\[0\]\.service: is required/);
  assert.ok(res.json.errors.length <= 20, `bounded reasons: ${res.json.errors.length}`);
});

test('after the barrage the server is healthy and the data intact', async () => {
  const health = await api(srv.url, 'GET', '/healthz');
  assert.equal(health.status, 200, health.text);
  const after = await snapshot(srv.url);
  assert.deepEqual(after.policy, before.policy);
  assert.deepEqual(after.task, before.task);
  assert.deepEqual(after.flame, before.flame);
  const ids = (list) => list.map((p) => p.id).sort();
  assert.deepEqual(ids(after.processes), ids(before.processes));
  // Still writable: a new slice lands and shows in the flame graph.
  const res = await api(srv.url, 'POST', '/api/v1/agent/tasks/bad-t1/slices', {
    slice: 1, start_time: Date.now() - 500, end_time: Date.now(), stacks: [{ stack: 'main;work;compute', count: 3 }],
  });
  assert.equal(res.status, 201, res.text);
  const flame = await api(srv.url, 'GET', '/api/v1/tasks/bad-t1/flamegraph');
  assert.equal(flame.json.value, before.flame.value + 3);
});
