// The agent API over real HTTP: register, policy sync (long poll, with the
// propagation latency measured), metrics, tasks, profile slices, topology,
// manual tasks reaching the right agent — and every error path.
import test from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startServer, api, assertErrors, register, proc, reportTask, POLICY } from './server_lib.mjs';
import { decodeProfile, profileTotal } from './pprof_lib.mjs';

let srv;
test.before(async () => { srv = await startServer(); });
test.after(async () => { await srv.stop(); });

test('register upserts processes; listing and one process show them', async () => {
  const r = await register(srv.url, 'agent-a', [proc('a-1'), proc('a-2', 'checkout', 'i1', 101)]);
  assert.equal(r.processes, 2);
  // keepalive with a changed pid replaces the row
  await register(srv.url, 'agent-a', [proc('a-1', 'checkout', 'i1', 999)]);
  const one = await api(srv.url, 'GET', '/api/v1/processes/a-1');
  assert.equal(one.status, 200);
  assert.equal(one.json.pid, 999);
  assert.equal(one.json.host, 'agent-a.example');
  assert.deepEqual(one.json.labels, { tier: 'fe' });
  assert.ok(Math.abs(one.json.last_seen - Date.now()) < 5000);
  const list = await api(srv.url, 'GET', '/api/v1/processes?service=checkout');
  assert.deepEqual(list.json.map((p) => p.id).filter((id) => id.startsWith('a-')), ['a-1', 'a-2']);
  for (const k of ['id', 'service', 'instance', 'name', 'pid', 'host', 'labels', 'last_seen'])
    assert.ok(k in list.json[0], `field ${k}`);
});

test('register refuses bad JSON, missing fields and wrong types with every reason', async () => {
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', '{"agent_id": '), 400, /bad JSON/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', '[1,2]'), 400, /must be a JSON object/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', ''), 400, /empty/);
  const res = await api(srv.url, 'POST', '/api/v1/agent/register', {
    agent_id: 'bad id!', host: 7,
    processes: [{ id: 'x', service: 'svc', instance: 'i', name: 'n', pid: 'twelve' },
      { id: 'y', service: 'svc', instance: 'i', name: 'n', pid: 1, labels: { a: 1 } }, 5],
  });
  assertErrors(res, 400, /^agent_id: must be/, /^host: must be a string/,
    /processes\[0\]\.pid: must be an integer/, /processes\[1\]\.labels\.a: must be a string/,
    /processes\[2\]: must be an object/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/register', { agent_id: 'a', host: 'h' }),
    400, /processes: is required/);
  // nothing of a refused request was written
  assert.equal((await api(srv.url, 'GET', '/api/v1/processes/x')).status, 404);
});

test('a body over the limit is refused with 413', async () => {
  const big = 'x'.repeat(17 * 1024 * 1024);
  const res = await api(srv.url, 'POST', '/api/v1/agent/register', big);
  assertErrors(res, 413, /larger than/);
  const sync = await api(srv.url, 'POST', '/api/v1/agent/sync', 'y'.repeat(300 * 1024));
  assertErrors(sync, 413, /larger than/);
});

test('policy sync answers at once on a version mismatch and reports deletions', async () => {
  const put = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', POLICY);
  assert.equal(put.status, 200, put.text);
  const version = put.headers.get('etag').replaceAll('"', '');
  const t0 = Date.now();
  const s = await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-a', services: { checkout: '', search: null }, wait_ms: 10000 });
  assert.ok(Date.now() - t0 < 1000, 'no waiting when something changed');
  assert.equal(s.status, 200);
  assert.deepEqual(s.json.policies, [{ service: 'checkout', version, policy: put.json }]);
  // up to date: waits wait_ms and answers with nothing
  const t1 = Date.now();
  const idle = await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-a', services: { checkout: version }, wait_ms: 400 });
  const waited = Date.now() - t1;
  assert.ok(waited >= 350 && waited < 2000, `waited ${waited} ms`);
  assert.deepEqual(idle.json.policies, []);
  // an agent holding a version of a deleted policy is told so
  const gone = await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-a', services: { nosuch: 'abc' }, wait_ms: 0 });
  assert.deepEqual(gone.json.policies, [{ service: 'nosuch', version: null, policy: null }]);
});

test('a policy change reaches a waiting agent within 2 s (measured)', async () => {
  const cur = await api(srv.url, 'GET', '/api/v1/services/checkout/policy');
  const version = cur.headers.get('etag').replaceAll('"', '');
  const latencies = [];
  for (let i = 0; i < 5; i++) {
    const sync = api(srv.url, 'POST', '/api/v1/agent/sync',
      { agent_id: 'agent-a', services: { checkout: i === 0 ? version : latencies.v }, wait_ms: 30000 });
    await new Promise((r) => setTimeout(r, 200));
    const changed = { ...POLICY, targets: [{ ...POLICY.targets[0], duration: 100 + i }] };
    const tPut = performance.now();
    const put = await api(srv.url, 'PUT', '/api/v1/services/checkout/policy', changed);
    assert.equal(put.status, 200);
    const got = await sync;
    const ms = performance.now() - tPut;
    latencies.push(ms);
    latencies.v = put.headers.get('etag').replaceAll('"', '');
    assert.equal(got.json.policies[0].version, latencies.v);
    assert.equal(got.json.policies[0].policy.targets[0].duration, 100 + i);
  }
  const max = Math.max(...latencies);
  console.log(`# policy propagation latency (PUT sent -> waiting sync answered), ms: ${latencies.map((l) => l.toFixed(1)).join(' ')}`);
  assert.ok(max < 2000, `propagation ${max} ms`);
  // a deletion wakes it too
  const sync = api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'agent-a', services: { checkout: latencies.v }, wait_ms: 30000 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await api(srv.url, 'DELETE', '/api/v1/services/checkout/policy')).status, 200);
  assert.deepEqual((await sync).json.policies, [{ service: 'checkout', version: null, policy: null }]);
});

test('sync refuses bad requests', async () => {
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync', { services: {} }), 400, /agent_id: is required/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync',
    { agent_id: 'a', services: { s: 5 }, wait_ms: 999999 }), 400, /services\.s:/, /wait_ms: 999999 is out of range/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'a', services: [] }), 400, /services: must be an object/);
});

test('metrics: stored once per series and second, history raw and per minute', async () => {
  await register(srv.url, 'agent-m', [proc('m-1', 'metrics-svc')]);
  const now = Date.now() - (Date.now() % 1000);
  const pts = [[now - 3000, 10], [now - 2000, 20], [now - 1000, 30.5]];
  const up = await api(srv.url, 'POST', '/api/v1/agent/metrics', {
    agent_id: 'agent-m',
    series: [{ process_id: 'm-1', monitor: 'PROCESS_CPU', points: pts },
      { process_id: 'm-1', monitor: 'HTTP_ERROR_RATE', uri: '^/api/', points: [[now - 1000, 12.5]] }],
  });
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.json, { inserted: 4, duplicates: 0 });
  const again = await api(srv.url, 'POST', '/api/v1/agent/metrics',
    { series: [{ process_id: 'm-1', monitor: 'PROCESS_CPU', points: pts }] });
  assert.deepEqual(again.json, { inserted: 0, duplicates: 3 });
  const raw = await api(srv.url, 'GET', `/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=${now - 10000}&to=${now + 1}`);
  assert.deepEqual(raw.json, pts.map(([time, value]) => ({ time, value })));
  const http = await api(srv.url, 'GET', `/api/v1/processes/m-1/metrics?monitor=HTTP_ERROR_RATE&uri=%5E%2Fapi%2F`);
  assert.deepEqual(http.json, [{ time: now - 1000, value: 12.5 }]);
  // older than the raw retention: per-minute avg and max
  const minute = Math.floor((now - 3 * 3600e3) / 60000) * 60000;
  await api(srv.url, 'POST', '/api/v1/agent/metrics', { series: [{ process_id: 'm-1', monitor: 'PROCESS_CPU',
    points: [[minute + 1000, 10], [minute + 2000, 30], [minute + 61000, 50]] }] });
  const old = await api(srv.url, 'GET', `/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=${minute - 60000}&to=${minute + 120000}`);
  assert.deepEqual(old.json, [{ time: minute, value: 20, max: 30 }, { time: minute + 60000, value: 50, max: 50 }]);
  // paging
  const page = await api(srv.url, 'GET', `/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=${now - 10000}&limit=2`);
  assert.equal(page.json.length, 2);
  assert.equal(page.headers.get('x-next-offset'), '2');
  const rest = await api(srv.url, 'GET', `/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=${now - 10000}&limit=2&offset=2`);
  assert.deepEqual(rest.json, [{ time: now - 1000, value: 30.5 }]);
  // /metrics shows the newest value with its labels
  const prom = await api(srv.url, 'GET', '/metrics');
  assert.match(prom.text, /contprof_process_metric\{service="metrics-svc",instance="i1",process="proc-m-1",process_id="m-1",monitor="PROCESS_CPU",uri=""\} 30\.5\n/);
  assert.match(prom.text, /contprof_ingest_metric_points_total \d+/);
});

test('metrics refuse unknown processes (nothing stored) and malformed points', async () => {
  const unknown = await api(srv.url, 'POST', '/api/v1/agent/metrics', { series: [
    { process_id: 'm-1', monitor: 'PROCESS_CPU', points: [[1000, 1]] },
    { process_id: 'ghost', monitor: 'PROCESS_CPU', points: [[1000, 1]] }] });
  assertErrors(unknown, 404, /unknown process 'ghost'/);
  const none = await api(srv.url, 'GET', '/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=0&to=5000');
  assert.deepEqual(none.json, [], 'the batch was not partially written');
  const bad = await api(srv.url, 'POST', '/api/v1/agent/metrics', { series: [
    { process_id: 'm-1', monitor: 'CPU', points: [[1000, 'x'], [-5, 1], [1, 2, 3]] }] });
  assertErrors(bad, 400, /series\[0\]\.monitor: unknown monitor 'CPU'/, /points\[0\]: must be \[time_ms, value\]/,
    /points\[1\]/, /points\[2\]/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/metrics', { series: 3 }), 400, /series: must be an array/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/processes/m-1/metrics'), 400, /monitor: required/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=10&to=5'), 400, /after/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/processes/m-1/metrics?monitor=PROCESS_CPU&from=yesterday'), 400, /from:/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/processes/ghost/metrics?monitor=PROCESS_CPU'), 404, /unknown process 'ghost'/);
});

test('tasks: report (idempotent), finish, fail, conflicts and unknown ids', async () => {
  await register(srv.url, 'agent-t', [proc('t-p1', 'tasks-svc'), proc('t-p2', 'tasks-svc')]);
  const start = Date.now() - 5000;
  const cause = { monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5, matched: 6,
    current: 91.5, peak: 99, uri: '^/x', message: 'PROCESS_CPU >= 80 % (5 of 10 s)', held_at: start - 3,
    extra: 'dropped' };
  await reportTask(srv.url, { id: 't-1', agent_id: 'agent-t', process_id: 't-p1', start_time: start, cause });
  await reportTask(srv.url, { id: 't-1', agent_id: 'agent-t', process_id: 't-p1', start_time: start, cause });
  const conflict = await api(srv.url, 'POST', '/api/v1/agent/tasks',
    { id: 't-1', process_id: 't-p2', target: 'ON_CPU', trigger: 'POLICY', start_time: start, duration: 60 });
  assertErrors(conflict, 409, /already exists/);
  const task = await api(srv.url, 'GET', '/api/v1/tasks/t-1');
  assert.equal(task.status, 200);
  const { extra, ...kept } = cause;
  assert.equal(extra, 'dropped');
  assert.deepEqual(task.json.cause, kept);
  assert.equal(task.json.status, 'RUNNING');
  assert.equal(task.json.trigger, 'POLICY');
  assert.equal(task.json.start_time, start);
  assert.equal(task.json.end_time, null);
  assert.equal(task.json.service, 'tasks-svc');
  const fin = await api(srv.url, 'POST', '/api/v1/agent/tasks/t-1/finish', { end_time: start + 4000 });
  assert.equal(fin.status, 200);
  assert.equal(fin.json.status, 'FINISHED');
  assert.equal(fin.json.end_time, start + 4000);
  const again = await api(srv.url, 'POST', '/api/v1/agent/tasks/t-1/fail', { reason: 'late', end_time: start + 9000 });
  assert.equal(again.json.status, 'FINISHED', 'the first end is kept');
  // NETWORK task for an instance, then failed
  await reportTask(srv.url, { id: 't-net', target: 'NETWORK', service: 'tasks-svc', instance: 'i1', start_time: start });
  const failed = await api(srv.url, 'POST', '/api/v1/agent/tasks/t-net/fail', { reason: 'target exited' });
  assert.equal(failed.json.status, 'FAILED');
  assert.equal(failed.json.reason, 'target exited');
  assert.equal(failed.json.process_id, null);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/t-net/fail', {}), 400, /reason: is required/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/nope/finish', {}), 404, /unknown task 'nope'/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/nope'), 404, /unknown task 'nope'/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks', { id: 't-x', process_id: 'ghost',
    target: 'ON_CPU', trigger: 'POLICY', start_time: 1, duration: 5 }), 404, /unknown process 'ghost'/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks', { id: 't-y', target: 'GPU', trigger: 'MAYBE',
    start_time: 'now', duration: 0, cause: { threshold: 'high', held_at: -1 } }), 400,
  /target: must be ON_CPU/, /trigger: must be POLICY or MANUAL/, /start_time: must be an integer/,
  /duration: 0 is out of range/, /cause\.threshold: must be a number/, /cause\.held_at: -1 is out of range/, /process_id, or service and instance/);
  // listing with filters
  const byProc = await api(srv.url, 'GET', '/api/v1/tasks?process=t-p1');
  assert.deepEqual(byProc.json.map((t) => t.id), ['t-1']);
  const bySvc = await api(srv.url, 'GET', `/api/v1/tasks?service=tasks-svc&since=${start}`);
  assert.deepEqual(bySvc.json.map((t) => t.id).sort(), ['t-1', 't-net']);
  const later = await api(srv.url, 'GET', `/api/v1/tasks?service=tasks-svc&since=${start + 1}`);
  assert.deepEqual(later.json, []);
  const dur = await api(srv.url, 'GET', '/api/v1/tasks?service=tasks-svc&since=1h');
  assert.equal(dur.json.length, 2);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks?limit=0'), 400, /limit/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks?limit=5000'), 400, /limit/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks?offset=-1'), 400, /offset/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks?since=soon'), 400, /since/);
});

test('profile slices are idempotent and feed the flame graph (count, duration, range)', async () => {
  await register(srv.url, 'agent-f', [proc('f-p1', 'flame-svc')]);
  const t0 = 1764000000000;
  await reportTask(srv.url, { id: 'f-1', process_id: 'f-p1', target: 'OFF_CPU', start_time: t0 });
  const slice0 = { slice: 0, start_time: t0, end_time: t0 + 5000, stacks: [
    { stack: 'main;foo;bar', count: 5, duration_ns: 5000 },
    { stack: 'main;foo;baz', count: 3, duration_ns: 9000 },
    { stack: 'main;[unknown]', count: 2, duration_ns: 1 }] };
  const first = await api(srv.url, 'POST', '/api/v1/agent/tasks/f-1/slices', slice0);
  assert.equal(first.status, 201, first.text);
  assert.deepEqual(first.json, { duplicate: false, stacks: 3, samples: 10 });
  const dup = await api(srv.url, 'POST', '/api/v1/agent/tasks/f-1/slices', slice0);
  assert.equal(dup.status, 200);
  assert.deepEqual(dup.json, { duplicate: true });
  const s1 = await api(srv.url, 'POST', '/api/v1/agent/tasks/f-1/slices', { slice: 1, start_time: t0 + 5000,
    end_time: t0 + 10000, stacks: [{ stack: 'main;foo;bar', count: 7, duration_ns: 70 }] });
  assert.equal(s1.status, 201);
  const json = await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?format=json');
  assert.equal(json.status, 200);
  assert.match(json.headers.get('content-type'), /application\/json/);
  assert.equal(json.json.value, 17);
  const main = json.json.children[0];
  assert.equal(main.name, 'main');
  const foo = main.children.find((c) => c.name === 'foo');
  assert.deepEqual(foo.children.map((c) => [c.name, c.value]), [['bar', 12], ['baz', 3]]);
  const folded = await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?format=folded');
  assert.deepEqual(folded.text.trim().split('\n').sort(), ['main;[unknown] 2', 'main;foo;bar 12', 'main;foo;baz 3']);
  const byDur = await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?format=folded&aggregate=duration');
  assert.deepEqual(byDur.text.trim().split('\n').sort(), ['main;[unknown] 1', 'main;foo;bar 5070', 'main;foo;baz 9000']);
  const range = await api(srv.url, 'GET', `/api/v1/tasks/f-1/flamegraph?format=folded&from=${t0 + 5000}&to=${t0 + 10000}`);
  assert.equal(range.text.trim(), 'main;foo;bar 7');
  // pprof: a gzip'd profile.proto whose string table names the frames and the
  // OFF_CPU sample types (count and nanoseconds)
  const pprof = await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?format=pprof');
  assert.equal(pprof.status, 200);
  assert.equal(pprof.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual([...pprof.buf.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
  const proto = zlib.gunzipSync(pprof.buf).toString('latin1');
  for (const s of ['main', 'foo', 'bar', 'baz', '[unknown]', 'samples', 'count', 'off-cpu', 'nanoseconds'])
    assert.ok(proto.includes(s), `string table holds ${s}`);
  const prof = decodeProfile(pprof.buf);
  assert.deepEqual(prof.sampleTypes, [['samples', 'count'], ['off-cpu', 'nanoseconds']]);
  assert.equal(prof.samples.length, 3, 'one sample per distinct stack');
  assert.deepEqual([0, 1].map((i) => profileTotal(prof, i)), [17, 14071]);
  assert.deepEqual(prof.samples.map((x) => `${x.frames.join(';')} ${x.values[0]}`).sort(),
    ['main;[unknown] 2', 'main;foo;bar 12', 'main;foo;baz 3']);
  const empty = await api(srv.url, 'GET', `/api/v1/tasks/f-1/flamegraph?from=${t0 + 60000}`);
  assert.deepEqual(empty.json, { name: 'root', value: 0, children: [] });
  // errors
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/ghost/slices', slice0), 404, /unknown task 'ghost'/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/f-1/slices', { slice: -1, start_time: 5, end_time: 1,
    stacks: [{ stack: 'a\nb', count: 1 }, { stack: '', count: 1 }, { stack: 'x', count: -2 }, 'y',
      { stack: Array(1100).fill('f').join(';'), count: 1 }, { stack: 'a;;b', count: 1 }, { stack: ';a', count: 1 }] }), 400,
  /slice: -1 is out of range/, /end_time: before start_time/, /stacks\[0\]\.stack: contains a line break/,
  /stacks\[1\]\.stack: must not be empty/, /stacks\[2\]\.count/, /stacks\[3\]: must be an object/,
  /stacks\[4\]\.stack: more than 1024 frames/, /stacks\[5\]\.stack: has an empty frame/,
  /stacks\[6\]\.stack: has an empty frame/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?format=svg'), 400, /format/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?aggregate=max'), 400, /aggregate/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/f-1/flamegraph?from=9&to=1'), 400, /after/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/ghost/flamegraph'), 404, /unknown task/);
});

test('slices carry stack_stats: the task sums them (retries once), GET task returns them; bad ones refused', async () => {
  await register(srv.url, 'agent-st', [proc('st-p1', 'stats-svc')]);
  const t0 = 1764000000000;
  await reportTask(srv.url, { id: 'st-1', process_id: 'st-p1', start_time: t0 });
  const get = async () => (await api(srv.url, 'GET', '/api/v1/tasks/st-1')).json.stack_stats;
  assert.equal(await get(), null, 'none before a slice brings some');
  const slice = (n, stack_stats) => ({ slice: n, start_time: t0 + n * 5000, end_time: t0 + n * 5000 + 5000,
    stacks: [{ stack: 'main;work', count: 90 }, { stack: '[truncated];work', count: 8 }, { stack: '[lost]', count: 2 }],
    ...(stack_stats ? { stack_stats } : {}) });
  const first = slice(0, { samples: 100, truncated: 8, lost: 2 });
  assert.equal((await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/slices', first)).status, 201);
  assert.deepEqual(await get(), { samples: 100, truncated: 8, lost: 2 });
  // a retried slice is a duplicate: counted once
  assert.equal((await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/slices', first)).status, 200);
  assert.deepEqual(await get(), { samples: 100, truncated: 8, lost: 2 });
  // a slice without stats (an older agent) adds nothing; the next one adds up
  assert.equal((await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/slices', slice(1))).status, 201);
  assert.equal((await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/slices',
    slice(2, { samples: 50, truncated: 0, lost: 50 }))).status, 201);
  assert.deepEqual(await get(), { samples: 150, truncated: 8, lost: 52 });
  // the listing and the end report carry them too
  const list = await api(srv.url, 'GET', '/api/v1/tasks?service=stats-svc');
  assert.deepEqual(list.json[0].stack_stats, { samples: 150, truncated: 8, lost: 52 });
  const fin = await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/finish', { end_time: t0 + 20000 });
  assert.deepEqual(fin.json.stack_stats, { samples: 150, truncated: 8, lost: 52 });
  // refused, with nothing written: negative, above samples, wrong types, missing
  for (const [bad, ...reasons] of [
    [{ samples: 10, truncated: -1, lost: 0 }, /stack_stats\.truncated: -1 is out of range/],
    [{ samples: -5, truncated: 0, lost: 0 }, /stack_stats\.samples: -5 is out of range/],
    [{ samples: 10, truncated: 11, lost: 12 }, /stack_stats\.truncated: more than samples \(10\)/,
      /stack_stats\.lost: more than samples \(10\)/],
    [{ samples: 10, truncated: 1.5, lost: '2' }, /stack_stats\.truncated: must be an integer/, /stack_stats\.lost: must be an integer/],
    [{ samples: 10 }, /stack_stats\.truncated: is required/, /stack_stats\.lost: is required/],
    [[1, 2, 3], /stack_stats: must be an object/]]) {
    assertErrors(await api(srv.url, 'POST', '/api/v1/agent/tasks/st-1/slices', slice(3, bad)), 400, ...reasons);
  }
  assert.deepEqual(await get(), { samples: 150, truncated: 8, lost: 52 });
  const flame = await api(srv.url, 'GET', '/api/v1/tasks/st-1/flamegraph?format=json');
  assert.equal(flame.json.value, 300, 'the refused slices stored no samples');
});

test('topology upload replaces the task view; errors for unknown tasks and bad shapes', async () => {
  await reportTask(srv.url, { id: 'n-1', target: 'NETWORK', service: 'net-svc', instance: 'i1', start_time: Date.now() });
  const empty = await api(srv.url, 'GET', '/api/v1/tasks/n-1/topology');
  assert.deepEqual(empty.json, { nodes: [], edges: [], samples: [] });
  const doc = { nodes: [{ id: 'a' }, { id: 'b', address: '10.0.0.9:5432' }],
    edges: [{ from: 'a', to: 'b', calls: 3 }], samples: [{ uri: '/x', status: 500 }] };
  const put = await api(srv.url, 'PUT', '/api/v1/agent/tasks/n-1/topology', doc);
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json, { id: 'n-1', nodes: 2, edges: 1 });
  assert.deepEqual((await api(srv.url, 'GET', '/api/v1/tasks/n-1/topology')).json, doc);
  await api(srv.url, 'PUT', '/api/v1/agent/tasks/n-1/topology', { nodes: [], edges: [] });
  assert.deepEqual((await api(srv.url, 'GET', '/api/v1/tasks/n-1/topology')).json, { nodes: [], edges: [], samples: [] });
  assertErrors(await api(srv.url, 'PUT', '/api/v1/agent/tasks/ghost/topology', doc), 404, /unknown task 'ghost'/);
  assertErrors(await api(srv.url, 'PUT', '/api/v1/agent/tasks/n-1/topology', { nodes: [1], edges: 'x' }), 400,
    /nodes\[0\]: must be an object/, /edges: must be an array/);
  assertErrors(await api(srv.url, 'GET', '/api/v1/tasks/ghost/topology'), 404, /unknown task/);
});

test('a manual task reaches only its agent through sync and runs once reported', async () => {
  await register(srv.url, 'agent-x', [proc('x-1', 'manual-svc', 'hx', 4242)]);
  await register(srv.url, 'agent-y', [proc('y-1', 'manual-svc', 'hy', 77)]);
  const waiting = api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'agent-x', services: {}, wait_ms: 20000 });
  await new Promise((r) => setTimeout(r, 150));
  const t0 = performance.now();
  const made = await api(srv.url, 'POST', '/api/v1/tasks', { process_id: 'x-1', target: 'OFF_CPU', duration: 30 });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.status, 'PENDING');
  assert.equal(made.json.trigger, 'MANUAL');
  assert.match(made.json.id, /^m-[0-9a-f]{16}$/);
  const got = await waiting;
  console.log(`# manual task delivery latency, ms: ${(performance.now() - t0).toFixed(1)}`);
  assert.deepEqual(got.json.tasks.map((t) => [t.id, t.process_id, t.pid, t.target, t.duration]),
    [[made.json.id, 'x-1', 4242, 'OFF_CPU', 30]]);
  const other = await api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'agent-y', services: {}, wait_ms: 0 });
  assert.deepEqual(other.json.tasks, []);
  const again = await api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'agent-x', services: {}, wait_ms: 0 });
  assert.equal(again.json.tasks.length, 1, 'redelivered until reported');
  await reportTask(srv.url, { id: made.json.id, process_id: 'x-1', target: 'OFF_CPU', trigger: 'MANUAL',
    start_time: Date.now(), duration: 30 });
  const after = await api(srv.url, 'POST', '/api/v1/agent/sync', { agent_id: 'agent-x', services: {}, wait_ms: 0 });
  assert.deepEqual(after.json.tasks, []);
  assert.equal((await api(srv.url, 'GET', `/api/v1/tasks/${made.json.id}`)).json.status, 'RUNNING');
  assertErrors(await api(srv.url, 'POST', '/api/v1/tasks', { process_id: 'ghost', target: 'ON_CPU' }), 404, /unknown process/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/tasks', { process_id: 'x-1', target: 'GPU', duration: 0 }), 400,
    /target/, /duration/);
  assertErrors(await api(srv.url, 'POST', '/api/v1/tasks', 'nope'), 400, /bad JSON/);
});
