// Seeds a server through the real agent API with what the web UI tests look
// at: two services, processes on two instances, a policy, ON_CPU tasks with
// known stacks (two of them differ, for compare), an OFF_CPU task with
// durations, a NETWORK task with a topology, a failed and a running task,
// and a few minutes of per-second CPU values. Returns the ids and times.
import assert from 'node:assert/strict';
import { api } from './server_lib.mjs';

const MIN = 60 * 1000, HOUR = 60 * MIN;
export const AGENT = 'web-1';
export const P = { java: 'web-1:812:4711', worker: 'web-1:813:4712', java2: 'web-2:900:5000', search: 'web-1:700:4000' };

export const STACKS_BEFORE = [
  { stack: 'main;handle;parse_json', count: 37 },
  { stack: 'main;handle;render', count: 10 },
  { stack: 'main;handle;[unknown]', count: 2 },
  { stack: 'main;poll;epoll_wait', count: 12 },
];
export const STACKS_AFTER = [
  { stack: 'main;handle;parse_json', count: 10 },
  { stack: 'main;handle;render', count: 50 },
  { stack: 'main;handle;compress', count: 20 },
  { stack: 'main;poll;epoll_wait', count: 12 },
];

async function ok(res, status = [200, 201]) {
  assert.ok([].concat(status).includes(res.status), `${res.status}: ${res.text}`);
  return res.json;
}

export async function seed(url, now = Date.now()) {
  const proc = (id, service, instance, name, pid) => ({ id, service, instance, name, pid, labels: { tier: 'fe' } });
  await ok(await api(url, 'POST', '/api/v1/agent/register', {
    agent_id: AGENT, host: 'web-1.example',
    processes: [proc(P.java, 'checkout', 'web-1', 'java', 812), proc(P.worker, 'checkout', 'web-1', 'worker', 813),
      proc(P.search, 'search', 'web-1', 'searchd', 700)],
  }));
  await ok(await api(url, 'POST', '/api/v1/agent/register', {
    agent_id: 'web-2', host: 'web-2.example', processes: [proc(P.java2, 'checkout', 'web-2', 'java', 900)],
  }));
  await ok(await api(url, 'PUT', '/api/v1/services/checkout/policy', {
    service: 'checkout',
    targets: [
      { target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5 }] },
      { target: 'NETWORK', items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 30, count: 3, uri_regex: '^/api/' }] },
    ],
  }));

  const cause = (current, peak) => ({ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5, matched: 6, current, peak,
    message: `PROCESS_CPU >= 80 % (5 of 10 s): 6 slots matched, now ${current} %` });
  const task = async (t, stacks, end) => {
    await ok(await api(url, 'POST', '/api/v1/agent/tasks', { agent_id: t.agent || AGENT, trigger: 'POLICY', duration: 60, ...t, agent: undefined }));
    // with the agent's totals: samples, those under [truncated], under [lost]
    const sum = (pred) => (stacks || []).filter((s) => pred(s.stack)).reduce((a, s) => a + s.count, 0);
    const stack_stats = { samples: sum(() => true), truncated: sum((x) => x.startsWith('[truncated];')),
      lost: sum((x) => x.includes('[lost]')) };
    if (stacks) await ok(await api(url, 'POST', `/api/v1/agent/tasks/${t.id}/slices`,
      { slice: 0, start_time: t.start_time, end_time: t.start_time + 5000, stacks, stack_stats }));
    if (end === 'fail') await ok(await api(url, 'POST', `/api/v1/agent/tasks/${t.id}/fail`, { end_time: t.start_time + 12000, reason: 'process exited' }));
    else if (end) await ok(await api(url, 'POST', `/api/v1/agent/tasks/${t.id}/finish`, { end_time: end }));
    return t.id;
  };
  const T = {};
  T.before = await task({ id: `${P.java}:oncpu:1`, process_id: P.java, target: 'ON_CPU', start_time: now - 3 * HOUR, cause: cause(91.5, 99) },
    STACKS_BEFORE, now - 3 * HOUR + MIN);
  T.after = await task({ id: `${P.java}:oncpu:2`, process_id: P.java, target: 'ON_CPU', start_time: now - HOUR, cause: cause(88, 97.5) },
    STACKS_AFTER, now - HOUR + MIN);
  T.offcpu = await task({ id: `${P.java}:offcpu:1`, process_id: P.java, target: 'OFF_CPU', trigger: 'MANUAL', start_time: now - 30 * MIN, cause: { message: 'manual task' } },
    [{ stack: 'main;poll;futex_wait', count: 40, duration_ns: 812000000 }, { stack: 'main;read;io_schedule', count: 5, duration_ns: 90000000 }], now - 29 * MIN);
  T.network = await task({ id: `${P.java}:network:1`, process_id: P.java, target: 'NETWORK', start_time: now - 2 * HOUR,
    cause: { monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 30, count: 3, matched: 4, current: 12.5, peak: 20, uri: '^/api/', message: 'HTTP_ERROR_RATE >= 10 % (3 of 30 s): 4 slots matched, now 12.5 %' } },
  null, now - 2 * HOUR + 2 * MIN);
  await ok(await api(url, 'PUT', `/api/v1/agent/tasks/${T.network}/topology`, {
    nodes: [{ id: P.java, service: 'checkout', process: 'java', pid: 812 }, { id: P.java2, service: 'checkout', process: 'java', pid: 900 },
      { id: '10.0.0.9:5432', address: '10.0.0.9:5432' }],
    edges: [
      { from: P.java, to: '10.0.0.9:5432', role: 'client', bytes_out: 18211, bytes_in: 99120, calls: 310 },
      { from: P.java, to: P.java2, role: 'client', bytes_out: 5120, bytes_in: 80400, calls: 130,
        http: { requests: 120, status: { '2xx': 118, '5xx': 2 }, latency_ms: { avg: 4.1, p50: 3.2, p90: 7.9, p99: 21 } } },
    ],
    samples: [{ method: 'GET', uri: '/api/cart', status: 500, duration_ms: 812, from: P.java, to: P.java2, headers: 'GET /api/cart HTTP/1.1\r\nHost: cart' },
      { method: 'POST', uri: '/api/checkout', status: 200, duration_ms: 95.5, from: P.java, to: P.java2 }],
  }));
  T.failed = await task({ id: `${P.worker}:oncpu:1`, process_id: P.worker, target: 'ON_CPU', start_time: now - 5 * HOUR, cause: cause(85, 90) }, null, 'fail');
  T.running = await task({ id: `${P.java}:oncpu:3`, process_id: P.java, target: 'ON_CPU', start_time: now - 2 * MIN, duration: 600, cause: cause(95, 99) },
    [{ stack: 'main;handle;render', count: 9 }], null);
  T.java2 = await task({ id: `${P.java2}:oncpu:1`, agent: 'web-2', process_id: P.java2, target: 'ON_CPU', start_time: now - 4 * HOUR, cause: cause(82, 84) },
    [{ stack: 'main;gc', count: 5 }], now - 4 * HOUR + MIN);

  const points = [];
  for (let s = 600; s > 0; s--) {
    const t = Math.floor((now - s * 1000) / 1000) * 1000;
    points.push([t, 50 + 45 * Math.abs(Math.sin(s / 40))]);
  }
  await ok(await api(url, 'POST', '/api/v1/agent/metrics', { agent_id: AGENT, series: [{ process_id: P.java, monitor: 'PROCESS_CPU', points }] }));
  return { now, tasks: T };
}
