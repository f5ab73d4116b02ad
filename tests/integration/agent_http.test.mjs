// HTTP monitors in the agent end to end: a policy with HTTP_ERROR_RATE on a
// real server of ours triggers when the 500s come and not before, with the
// item's URI filter in the cause; HTTP_AVG_RESPONSE_TIME triggers on slow
// responses; the per-second values reach the server as metrics.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { track, waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, FIXTURES, kill } from './agent_lib.mjs';

const CONFIG = `processes:
  - match: {cmdline: "http_fixture server"}
    service: shop
    process: "{comm}"
profiling: {duration: 30, silence: 1200, flush_interval: 1}
`;

async function startHttpServer() {
  const child = track(spawn(`${FIXTURES}/http_fixture`, ['server', '--port', '0'],
    { stdio: ['ignore', 'pipe', 'ignore'] }));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const port = await waitFor(() => Number((out.match(/listening (\d+)/) || [])[1]) || null,
    { what: 'http fixture listening' });
  return { child, port };
}

// Runs the fixture's keep-alive client to completion; resolves its summary.
function client(port, paths, requests) {
  return new Promise((resolve, reject) => {
    const c = track(spawn(`${FIXTURES}/http_fixture`, ['client', '--port', String(port),
      '--requests', String(requests), '--paths', paths], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exit ${code}`))));
  });
}

// The policy applied and the HTTP monitor's programs loaded: they load on a
// thread of their own when the first HTTP policy comes, which can take
// seconds on a busy machine, and only then is traffic seen.
async function monitorReady(agent) {
  await waitFor(() => /policy of shop applied/.test(agent.err()), { what: 'policy applied' });
  await waitFor(async () => (await scrapeHealth(agent)).httpmon_loaded === 1,
    { what: 'HTTP monitor loaded', ms: 60000, every: 100 });
}

async function tasksOf(server, service) {
  return (await api(server.url, 'GET', `/api/v1/tasks?service=${service}`)).json;
}

test('HTTP_ERROR_RATE triggers a NETWORK task when the 500s come, not before', async () => {
  const server = await startServer();
  const http = await startHttpServer();
  const agent = await startAgent(server.url, `${CONFIG}listen: 127.0.0.1:0\n`);
  try {
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=shop')).json.length,
      { what: 'fixture registered', ms: 15000 });
    const put = await api(server.url, 'PUT', '/api/v1/services/shop/policy', { service: 'shop',
      targets: [{ target: 'NETWORK', items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 20,
        period: 5, count: 2, uri_regex: '^/(ok|fail)' }] }] });
    assert.equal(put.status, 200, put.text);
    await monitorReady(agent);
    // Healthy traffic for three seconds: no task.
    for (let i = 0; i < 3; i++) {
      await client(http.port, '/ok', 50);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal((await tasksOf(server, 'shop')).length, 0, 'no task while every response is 200');
    // Now half of the requests fail, in every second.
    const failingFrom = Date.now();
    let task;
    for (let i = 0; i < 10 && !task; i++) {
      await client(http.port, '/ok,/fail', 40);
      await new Promise((r) => setTimeout(r, 1000));
      task = (await tasksOf(server, 'shop'))[0];
    }
    assert.ok(task, `a task after the 500s: ${agent.err().slice(-2000)}`);
    assert.equal(task.target, 'NETWORK');
    assert.equal(task.cause.monitor, 'HTTP_ERROR_RATE');
    assert.equal(task.cause.uri, '^/(ok|fail)');
    assert.ok(task.cause.current >= 20 && task.cause.current <= 60, `current ${task.cause.current}`);
    assert.ok(task.start_time >= failingFrom, 'not before the 500s');
    // The per-second error rate is stored with the item's filter.
    const pid = (await api(server.url, 'GET', '/api/v1/processes?service=shop')).json[0].id;
    const m = await waitFor(async () => {
      const r = await api(server.url, 'GET',
        `/api/v1/processes/${pid}/metrics?monitor=HTTP_ERROR_RATE&uri=${encodeURIComponent('^/(ok|fail)')}&from=${failingFrom - 60000}&to=${Date.now()}`);
      // Metrics are uploaded in batches: wait for the failing seconds.
      return r.status === 200 && r.json.some((p) => p.value >= 20) ? r.json : null;
    }, { what: 'HTTP_ERROR_RATE metrics of the failing seconds', ms: 20000 });
    assert.ok(m.every((p) => p.value >= 0 && p.value <= 100), JSON.stringify(m));
  } finally {
    kill(http.child);
    await agent.stop();
    await server.stop();
  }
});

test('HTTP_AVG_RESPONSE_TIME triggers on slow responses', async () => {
  const server = await startServer();
  const http = await startHttpServer();
  const agent = await startAgent(server.url, `${CONFIG}listen: 127.0.0.1:0\n`);
  try {
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=shop')).json.length,
      { what: 'fixture registered', ms: 15000 });
    await api(server.url, 'PUT', '/api/v1/services/shop/policy', { service: 'shop',
      targets: [{ target: 'ON_CPU', items: [{ monitor: 'HTTP_AVG_RESPONSE_TIME', threshold: 50,
        period: 5, count: 2, uri_list: ['/slow'] }] }] });
    await monitorReady(agent);
    await client(http.port, '/ok', 100);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await tasksOf(server, 'shop')).length, 0);
    let task;
    for (let i = 0; i < 10 && !task; i++) {
      await client(http.port, '/slow?ms=120', 5);
      task = (await tasksOf(server, 'shop'))[0];
    }
    assert.ok(task, 'a task after slow responses');
    assert.equal(task.cause.monitor, 'HTTP_AVG_RESPONSE_TIME');
    assert.ok(task.cause.peak >= 100, `peak ${task.cause.peak} ms`);
  } finally {
    kill(http.child);
    await agent.stop();
    await server.stop();
  }
});

async function scrapeHealth(agent) {
  const m = agent.err().match(/metrics on \S+ \(port (\d+)\)/);
  assert.ok(m, agent.err());
  const text = await (await fetch(`http://127.0.0.1:${m[1]}/metrics`)).text();
  const values = {};
  for (const line of text.split('\n')) {
    const v = line.match(/^contprof_agent_(\w+) (\S+)$/);
    if (v) values[v[1]] = Number(v[2]);
  }
  return values;
}

test('the loop keeps ticking and answering while the first HTTP policy loads the programs', async () => {
  const server = await startServer();
  const http = await startHttpServer();
  const agent = await startAgent(server.url, `${CONFIG}listen: 127.0.0.1:0\n`);
  try {
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=shop')).json.length,
      { what: 'fixture registered', ms: 15000 });
    const before = await scrapeHealth(agent);
    assert.equal(before.httpmon_loaded, 0);
    assert.equal(before.httpmon_loading, 0);
    const put = Date.now();
    await api(server.url, 'PUT', '/api/v1/services/shop/policy', { service: 'shop',
      targets: [{ target: 'ON_CPU', items: [
        { monitor: 'HTTP_ERROR_RATE', threshold: 50, period: 5, count: 5, uri_list: ['/ok'] },
        { monitor: 'PROCESS_THREAD_COUNT', threshold: 1000, period: 5, count: 5 }] }] });
    // The loop serves /metrics itself: an answer saying "loading" can only
    // come while the verifier runs on another thread.
    const seen = [];
    const loaded = await waitFor(async () => {
      const v = await scrapeHealth(agent);
      seen.push(v);
      return v.httpmon_loaded === 1 ? v : null;
    }, { what: 'HTTP monitor loaded', ms: 60000, every: 20 });
    const loadedAt = Date.now();
    const during = seen.filter((v) => v.httpmon_loading === 1);
    assert.ok(during.length >= 1, `no answer while loading: ${JSON.stringify(seen.slice(-3))}`);
    console.log(`load ${loaded.httpmon_load_seconds.toFixed(3)} s; ${during.length} answers while ` +
      `loading, ticks ${during[0].ticks_total}..${during.at(-1).ticks_total}; ` +
      `tick max ${loaded.tick_duration_max_seconds.toFixed(4)} s, overruns ${loaded.tick_overruns_total}`);
    // Requests after the load are measured (the programs were attached).
    await waitFor(() => /policy of shop applied/.test(agent.err()), { what: 'policy applied' });
    const pid = (await api(server.url, 'GET', '/api/v1/processes?service=shop')).json[0].id;
    const m = await waitFor(async () => {
      await client(http.port, '/ok', 20);
      const r = await api(server.url, 'GET',
        `/api/v1/processes/${pid}/metrics?monitor=HTTP_ERROR_RATE&uri=${encodeURIComponent('/ok')}&from=${put - 60000}&to=${Date.now()}`);
      return r.status === 200 && r.json.length ? r.json : null;
    }, { what: 'HTTP_ERROR_RATE metrics', ms: 30000, every: 1000 });
    assert.ok(m.every((p) => p.value === 0), JSON.stringify(m));
    // A point every second from the policy on, across the load: the tick
    // never stalled long enough to lose one (2 s allows one second-boundary jitter).
    const t = await waitFor(async () => {
      const r = await api(server.url, 'GET',
        `/api/v1/processes/${pid}/metrics?monitor=PROCESS_THREAD_COUNT&from=${put - 60000}&to=${Date.now()}`);
      return r.json.length && r.json.at(-1).time >= loadedAt + 1000 ? r.json : null;
    }, { what: 'PROCESS_THREAD_COUNT past the load', ms: 20000 });
    for (let i = 1; i < t.length; i++)
      assert.ok(t[i].time - t[i - 1].time <= 2000, `gap before ${t[i].time}: ${JSON.stringify(t)}`);
    assert.ok(t[0].time <= put + 5000, `first point ${t[0].time - put} ms after the PUT`);
  } finally {
    kill(http.child);
    await agent.stop();
    await server.stop();
  }
});
