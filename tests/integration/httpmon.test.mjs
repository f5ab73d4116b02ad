// The eBPF HTTP monitor end to end: `contprof debug http` watches real
// servers and clients on 127.0.0.1 — our fixture, Python's http.server,
// nginx; curl, wrk and our keep-alive/pipelining client — and must report
// exactly what the clients saw. With --policy it feeds httpagg and a real
// trigger engine the way the agent loop does.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, start, waitFor } from './lib.mjs';

const execFileP = promisify(execFile);
const FIXTURE = path.join(ROOT, process.env.CONTPROF_BIN?.includes('/san/')
  ? 'build/san/fixtures/http_fixture' : 'build/fixtures/http_fixture');
const tmp = mkdtempSync(path.join(tmpdir(), 'httpmon-'));
const children = [];

test.after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function lines(child) {
  return child.out().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function startFixtureServer() {
  const srv = spawn(FIXTURE, ['server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(srv);
  let out = '';
  srv.stdout.on('data', (d) => { out += d; });
  const port = await waitFor(() => Number(/listening (\d+)/.exec(out)?.[1]), { what: 'fixture port' });
  return { pid: srv.pid, port, proc: srv };
}

async function client(port, args) {
  const { stdout } = await execFileP(FIXTURE, ['client', '--port', String(port), ...args]);
  return JSON.parse(stdout);
}

// Starts `contprof debug http` on pids and waits until it is attached.
async function monitor(pids, extra = []) {
  const args = ['debug', 'http', ...pids.flatMap((p) => ['--pid', String(p)]), ...extra];
  const m = start(args);
  children.push(m);
  await waitFor(() => m.err().includes('watching'), { ms: 15000, what: 'monitor attached' });
  return m;
}

// Stops the monitor and returns {requests, items, decisions, stats}.
async function finish(m) {
  await m.stop('SIGINT');
  const all = lines(m);
  return {
    requests: all.filter((l) => l.type === 'request'),
    items: all.filter((l) => l.type === 'item'),
    decisions: all.filter((l) => l.type === 'decision'),
    stats: all.find((l) => l.type === 'stats'),
  };
}

function countBy(reqs, key) {
  const out = {};
  for (const r of reqs) out[key(r)] = (out[key(r)] || 0) + 1;
  return out;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('fixture server, keep-alive client: exact counts, statuses and average duration', async () => {
  const srv = await startFixtureServer();
  const m = await monitor([srv.pid]);
  const mixed = await client(srv.port, ['--requests', '30', '--paths', '/ok,/fail,/big', '--connections', '2']);
  const slow = await client(srv.port, ['--requests', '5', '--paths', '/slow?ms=80']);
  const r = await finish(m);

  assert.equal(mixed.failed, false);
  assert.equal(r.requests.length, 65, `stats ${JSON.stringify(r.stats)}`);
  assert.ok(r.requests.every((q) => q.role === 'server' && q.method === 'GET' && q.pid === srv.pid));
  assert.deepEqual(countBy(r.requests, (q) => `${q.uri} ${q.status}`), {
    '/ok 200': 20, '/fail 500': 20, '/big 200': 20, '/slow?ms=80 200': 5,
  });
  const slowMs = mean(r.requests.filter((q) => q.uri.startsWith('/slow')).map((q) => q.duration_ms));
  assert.ok(Math.abs(slowMs - slow.avg_ms) <= 0.1 * slow.avg_ms,
    `monitor ${slowMs} ms vs client ${slow.avg_ms} ms`);
  assert.equal(r.stats.unpaired_requests, 0);
  assert.equal(r.stats.unpaired_responses, 0);
  assert.equal(r.stats.ring_full, 0);
});

test('pipelined requests pair exactly or are counted unpaired, never wrongly', async () => {
  const srv = await startFixtureServer();
  const m = await monitor([srv.pid]);
  const within = await client(srv.port, ['--requests', '48', '--paths', '/ok,/fail,/big,/slow?ms=2', '--pipeline', '4', '--connections', '2']);
  const beyond = await client(srv.port, ['--requests', '36', '--paths', '/ok,/fail,/ok', '--pipeline', '12']);
  const r = await finish(m);

  assert.equal(within.requests + beyond.requests, 132);
  const expected = { '/ok': 200, '/fail': 500, '/big': 200, '/slow?ms=2': 200 };
  for (const q of r.requests) assert.equal(q.status, expected[q.uri], `wrong pair ${JSON.stringify(q)}`);
  // Up to 8 per buffer are followed: the 4-deep pipeline pairs completely.
  assert.ok(r.requests.length >= 96, `paired ${r.requests.length}`);
  // 12 in one write is past what one scan records: those are unpaired.
  assert.equal(r.requests.length + r.stats.unpaired_responses, 132);
  assert.ok(r.stats.desync >= 1);
});

test('large request bodies over many writes, and responses sent before the body is read', async () => {
  const srv = await startFixtureServer();
  const m = await monitor([srv.pid]);
  const c = await client(srv.port, ['--requests', '12', '--paths', '/early,/fail,/ok', '--body-bytes', '200000']);
  const r = await finish(m);
  assert.equal(c.failed, false);
  assert.deepEqual(countBy(r.requests, (q) => `${q.method} ${q.uri} ${q.status}`), {
    'POST /early 200': 4, 'POST /fail 500': 4, 'POST /ok 200': 4,
  });
  assert.equal(r.stats.unpaired_requests, 0);
  assert.equal(r.stats.unpaired_responses, 0);
  assert.equal(r.stats.desync, 0);
  assert.equal(r.stats.attached, false, 'detached after the last unwatch');
});

test('python http.server (HTTP/1.0, sendto/recvfrom) seen with curl', async () => {
  const root = path.join(tmp, 'www');
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'hello.txt'), 'hello\n');
  const py = spawn('python3', ['-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(py);
  let out = '';
  py.stdout.on('data', (d) => { out += d; });
  const port = await waitFor(() => Number(/port (\d+)/.exec(out)?.[1]), { what: 'python port' });
  const m = await monitor([py.pid]);
  for (let i = 0; i < 4; i++) {
    await execFileP('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/hello.txt`]);
    await execFileP('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/missing?x=${i}`]);
  }
  const r = await finish(m);
  py.kill();
  assert.deepEqual(countBy(r.requests, (q) => `${q.role} ${q.uri.split('?')[0]} ${q.status}`), {
    'server /hello.txt 200': 4, 'server /missing 404': 4,
  });
});

test('client role: curl against the fixture over one keep-alive connection', async () => {
  const srv = await startFixtureServer();
  // The shell waits for a line, then becomes curl (same pid): watched from its first syscall.
  const sh = spawn('/bin/sh', ['-c', `read go; exec curl -s -o /dev/null -o /dev/null -o /dev/null \
http://127.0.0.1:${srv.port}/ok http://127.0.0.1:${srv.port}/fail http://127.0.0.1:${srv.port}/slow?ms=50`],
  { stdio: ['pipe', 'ignore', 'inherit'] });
  children.push(sh);
  const m = await monitor([sh.pid]);
  sh.stdin.end('go\n');
  await new Promise((res) => sh.on('exit', res));
  const r = await finish(m);
  assert.deepEqual(r.requests.map((q) => [q.role, q.method, q.uri, q.status]), [
    ['client', 'GET', '/ok', 200], ['client', 'GET', '/fail', 500], ['client', 'GET', '/slow?ms=50', 200],
  ]);
  const slow = r.requests[2];
  assert.ok(slow.duration_ms >= 50, `client-side /slow ${slow.duration_ms} ms`);
});

test('nginx with wrk: every answered request seen, within wrk in-flight bound', async () => {
  const dir = path.join(tmp, 'nginx');
  mkdirSync(path.join(dir, 'html'), { recursive: true });
  writeFileSync(path.join(dir, 'html', 'index.html'), 'x'.repeat(600));
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(path.join(dir, 'nginx.conf'), `
daemon off; master_process off; worker_processes 1;
error_log stderr error; pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; root ${dir}/html;
    location = /err { return 503; } }
}`);
  const ngx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'inherit' });
  children.push(ngx);
  await waitFor(async () => {
    try { await execFileP('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${port}/`]); return true; } catch { return false; }
  }, { what: 'nginx up' });
  const m = await monitor([ngx.pid]);
  const { stdout } = await execFileP('wrk', ['-t1', '-c4', '-d2s', `http://127.0.0.1:${port}/index.html`]);
  for (let i = 0; i < 3; i++) await execFileP('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/err`]);
  const r = await finish(m);
  ngx.kill();
  const done = Number(/(\d+) requests in/.exec(stdout)[1]);
  const ok = r.requests.filter((q) => q.uri === '/index.html' && q.status === 200).length;
  // wrk counts responses it read before its deadline; up to one per connection more were answered.
  assert.ok(ok >= done && ok <= done + 4, `nginx answered ${ok}, wrk completed ${done}`);
  assert.equal(r.requests.filter((q) => q.uri === '/err' && q.status === 503).length, 3);
  assert.equal(r.stats.unpaired_responses, 0);
  assert.equal(r.stats.ring_full, 0);
});

test('URI filters select exactly the expected requests per second', async () => {
  const srv = await startFixtureServer();
  const policy = path.join(tmp, 'filters.json');
  writeFileSync(policy, JSON.stringify({
    service: 'fx',
    targets: [
      { target: 'NETWORK', items: [
        { monitor: 'HTTP_ERROR_RATE', threshold: 100, period: 60, count: 60, uri_list: ['/fail', '/ok'] },
        { monitor: 'HTTP_AVG_RESPONSE_TIME', threshold: 1000, period: 60, count: 60, uri_regex: '^/sl' }] },
      { target: 'OFF_CPU', items: [
        { monitor: 'HTTP_ERROR_RATE', threshold: 100, period: 60, count: 60 }] },
    ],
  }));
  const m = await monitor([srv.pid], ['--policy', policy]);
  const c = await client(srv.port, ['--requests', '40', '--paths', '/ok,/fail,/slow?ms=5,/big,/oks']);
  await new Promise((res) => setTimeout(res, 1300)); // the last second completes
  const r = await finish(m);
  const sum = (pred, f) => r.items.filter(pred).reduce((a, i) => a + i[f], 0);
  const listed = (i) => i.label === '/fail,/ok';
  assert.equal(sum(listed, 'requests'), 16);
  assert.equal(sum(listed, 'errors'), 8);
  assert.equal(sum((i) => i.label === '^/sl', 'requests'), 8);
  assert.equal(sum((i) => i.label === 'global', 'requests'), c.requests);
  assert.equal(sum((i) => i.label === 'global', 'errors'), 8);
  for (const i of r.items.filter((x) => x.label === '^/sl')) assert.ok(i.value >= 5, `avg ${i.value}`);
  assert.equal(r.decisions.length, 0);
});

test('engine seam: HTTP_ERROR_RATE triggers when the 500s come and not before; AVG on /slow', async () => {
  const srv = await startFixtureServer();
  const policy = path.join(tmp, 'trigger.json');
  writeFileSync(policy, JSON.stringify({
    service: 'fx',
    targets: [
      { target: 'NETWORK', items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 20, period: 5, count: 2 }] },
      { target: 'ON_CPU', items: [
        { monitor: 'HTTP_AVG_RESPONSE_TIME', threshold: 50, period: 5, count: 1, uri_list: ['/slow'] }] },
    ],
  }));
  const m = await monitor([srv.pid], ['--policy', policy]);
  for (let i = 0; i < 3; i++) {
    await client(srv.port, ['--requests', '20', '--paths', '/ok,/slow?ms=10']);
    await new Promise((res) => setTimeout(res, 1000));
  }
  const before = lines(m).filter((l) => l.type === 'decision');
  assert.deepEqual(before, [], 'no decision while only 200s and fast responses');
  for (let i = 0; i < 3; i++) {
    await client(srv.port, ['--requests', '20', '--paths', '/ok,/fail,/slow?ms=60']);
    await new Promise((res) => setTimeout(res, 1000));
  }
  await new Promise((res) => setTimeout(res, 1200));
  const r = await finish(m);
  const first500 = Math.min(...r.requests.filter((q) => q.status === 500).map((q) => Math.floor(q.end_ns / 1e9)));
  const err = r.decisions.filter((d) => d.monitor === 'HTTP_ERROR_RATE');
  assert.equal(err.length, 1, JSON.stringify(r.decisions));
  assert.equal(err[0].target, 'NETWORK');
  // count 2: the second second with >= 20 % errors, never before the first 500.
  assert.ok(err[0].second >= first500 + 1, `decision at ${err[0].second}, first 500 at ${first500}`);
  assert.ok(err[0].current >= 20 && err[0].matched === 2);
  const slowSecs = r.items.filter((i) => i.monitor === 'HTTP_AVG_RESPONSE_TIME' && i.value >= 50).map((i) => i.second);
  const avg = r.decisions.filter((d) => d.monitor === 'HTTP_AVG_RESPONSE_TIME');
  assert.equal(avg.length, 1, JSON.stringify(r.decisions));
  assert.equal(avg[0].target, 'ON_CPU');
  assert.equal(avg[0].second, Math.min(...slowSecs));
  assert.ok(avg[0].current >= 50, `avg ${avg[0].current}`);
});
