// The client commands of DESIGN.md section 7 run as a user runs them.
// Part 1 needs no server: --help, usage errors (exit 2), an unreachable
// server (exit 1 with the "cannot reach" message). Part 2 starts a real
// `contprof server` on a free loopback port with a temp SQLite store
// (server_lib.mjs, which also checks that it stops cleanly), seeds it through
// the agent API, and checks every command's table, detail and --json output
// against it.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, start, run } from './lib.mjs';
import { startServer } from './server_lib.mjs';
import { decodeProfile } from './pprof_lib.mjs';

const COMMANDS = ['processes', 'tasks', 'task', 'flame', 'topology', 'profile'];
const REFUSED = (url) =>
  `cannot reach server at ${url} (connection refused) — is it running? (contprof up / contprof server)`;

// A loopback port nobody listens on (bound, then released).
async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// Runs without CONTPROF_* from the caller's environment unless given.
function cli(args, env = {}) {
  const clean = { ...process.env };
  delete clean.CONTPROF_SERVER;
  delete clean.CONTPROF_TOKEN;
  return run(args, { env: { ...clean, ...env } });
}

// ---------------------------------------------------------------- no server

for (const cmd of COMMANDS) {
  test(`${cmd} --help shows usage, options and examples`, async () => {
    const r = await cli([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: contprof ${cmd}`));
    assert.match(r.stdout, /options:/);
    assert.match(r.stdout, /--server URL/);
    assert.match(r.stdout, /examples:\n  contprof /);
  });
}

for (const sub of ['get', 'set', 'delete']) {
  test(`policy ${sub} --help shows usage, options and examples`, async () => {
    const r = await cli(['policy', sub, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: contprof policy ${sub} SERVICE`));
    assert.match(r.stdout, /--server URL/);
    assert.match(r.stdout, /examples:\n  contprof policy /);
  });
}

const POLICY = {
  service: 'checkout',
  targets: [
    { target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5 }] },
    { target: 'NETWORK', items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 30,
      count: 3, uri_regex: '^/api/' }] }],
};
const BAD_POLICY = {
  service: 'checkout',
  targets: [{ target: 'GPU', items: [] }, { target: 'ON_CPU',
    items: [{ monitor: 'PROCESS_CPU', threshold: 180, period: 10, count: 12 }] }],
};

function policyFile(doc) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-policy-'));
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

test('policy set checks the document locally and sends nothing when it is bad', async () => {
  // The server URL points nowhere: a request would fail with "cannot reach".
  const url = `http://127.0.0.1:${await freePort()}`;
  const bad = await cli(['policy', 'set', 'checkout', policyFile(BAD_POLICY), '--server', url]);
  assert.equal(bad.code, 1);
  const lines = bad.stderr.trimEnd().split('\n');
  assert.match(lines[0], /^contprof policy set: .*policy\.json is not a valid policy document; nothing was sent:$/);
  assert.ok(lines.length >= 5, bad.stderr);
  assert.ok(lines.some((l) => /^targets\[0\]\.target: .*GPU/.test(l)), bad.stderr);
  assert.ok(lines.some((l) => /^targets\[1\]\.items\[0\]: count 12 > period 10$/.test(l)), bad.stderr);
  assert.doesNotMatch(bad.stderr, /cannot reach/);

  const other = await cli(['policy', 'set', 'search', policyFile(POLICY), '--server', url]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /is the policy of service 'checkout', not 'search'; nothing was sent/);

  const good = await cli(['policy', 'set', 'checkout', policyFile(POLICY), '--server', url]);
  assert.equal(good.code, 1);
  assert.equal(good.stderr, `contprof policy set: ${REFUSED(url)}\n`);
  for (const sub of ['get', 'delete']) {
    const r = await cli(['policy', sub, 'checkout', '--server', url]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `contprof policy ${sub}: ${REFUSED(url)}\n`);
  }
});

test('policy get/set/delete usage errors exit 2', async () => {
  for (const [args, re] of [[['policy', 'get'], /missing SERVICE/],
    [['policy', 'set', 'checkout'], /missing FILE/], [['policy', 'delete', 'a', 'b'], /unexpected argument 'b'/],
    [['policy', 'get', 'a', '--bogus'], /unknown option '--bogus'/]]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
  }
});

test('every listing takes --json', async () => {
  for (const cmd of ['processes', 'tasks']) {
    const r = await cli([cmd, '--help']);
    assert.match(r.stdout, /--json/, cmd);
  }
});

test('usage errors exit 2 and say what is wrong', async () => {
  const cases = [
    [['task'], /which task\? give its ID/],
    [['task', 'a', 'b'], /unexpected argument 'b'/],
    [['flame'], /which task\?/],
    [['flame', 't1', '--format', 'png'], /--format is folded, json, pprof or svg, not 'png'/],
    [['flame', 't1', '--aggregate', 'max'], /--aggregate is count or duration/],
    [['flame', 't1', '--from', 'yesterday'], /--from wants Unix ms/],
    [['flame', 't1', '--from', '-5m', '--to', '-10m'], /--from must be before --to/],
    [['flame', 't1', '--width', '5'], /--width wants/],
    [['topology'], /which task\?/],
    [['tasks', '--since', '3x'], /--since wants a duration like 90s, 15m, 48h or 7d, not '3x'/],
    [['tasks', '--since'], /option '--since' needs a value/],
    [['tasks', '--limit', '0'], /--limit wants 1 to 100000, not '0'/],
    [['processes', 'extra'], /unexpected argument 'extra'/],
    [['processes', '--bogus'], /unknown option '--bogus'/],
    [['processes', '--server', 'ftp://x'], /must start with http:\/\/ or https:\/\//],
    [['profile', 'p1'], /--target ON_CPU\|OFF_CPU\|NETWORK is required/],
    [['profile', '--target', 'ON_CPU'], /which process\?/],
    [['profile', 'p1', '--target', 'GPU'], /--target is ON_CPU, OFF_CPU or NETWORK, not 'GPU'/],
    [['profile', 'p1', '--target', 'ON_CPU', '--duration', '0'], /--duration wants whole seconds/],
    [['profile', 'p1', '--target', 'ON_CPU', '--duration', '1.5s'], /--duration wants/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});

test('a server that is not running: exit 1 with where and what to do', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cases = [
    ['processes'], ['tasks', '--since', '48h'], ['task', 't1'], ['flame', 't1'],
    ['flame', 't1', '--format', 'svg', '-o', path.join(os.tmpdir(), 'never.svg')],
    ['topology', 't1'], ['profile', 'p1', '--target', 'ON_CPU'],
  ];
  for (const args of cases) {
    const r = await cli([...args, '--server', url]);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr, `contprof ${args[0]}: ${REFUSED(url)}\n`, args.join(' '));
    assert.equal(r.stdout, '');
  }
  assert.ok(!fs.existsSync(path.join(os.tmpdir(), 'never.svg')));
  // The environment names the server when --server does not; --server wins.
  const viaEnv = await cli(['processes'], { CONTPROF_SERVER: url });
  assert.equal(viaEnv.stderr, `contprof processes: ${REFUSED(url)}\n`);
  const other = `http://127.0.0.1:${await freePort()}`;
  const wins = await cli(['processes', '--server', other], { CONTPROF_SERVER: url });
  assert.equal(wins.stderr, `contprof processes: ${REFUSED(other)}\n`);
});

test('the default server is http://127.0.0.1:8080', async (t) => {
  const probe = net.connect(8080, '127.0.0.1');
  const busy = await new Promise((r) => {
    probe.once('connect', () => { probe.destroy(); r(true); });
    probe.once('error', () => r(false));
  });
  if (busy) return t.skip('something listens on 8080 here');
  const r = await cli(['tasks']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `contprof tasks: ${REFUSED('http://127.0.0.1:8080')}\n`);
});

test('a token file that cannot be read is reported before any request', async () => {
  const r = await cli(['processes', '--token-file', '/nonexistent/token']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read token file \/nonexistent\/token: No such file/);
});

test('pprof to a terminal is a usage error (exit 2)', async () => {
  let code = 0, out = '';
  try {
    execFileSync('script', ['-qec', `${BIN} flame t1 --format pprof`, '/dev/null'],
      { encoding: 'utf8' });
  } catch (e) {
    code = e.status;
    out = `${e.stdout}`;
  }
  assert.equal(code, 2);
  assert.match(out, /pprof is binary; write it to a file with -o FILE/);
});

// ------------------------------------------------------- against a server

const hasServer = (await run(['server', '--help'])).code === 0;
const NO_SERVER = hasServer ? false : 'this build has no `contprof server`';

async function api(url, method, p, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(url + p, { method, headers, body: body && JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const JAVA = 'web-3:812:4711';
const PYTHON = 'web-3:900:1';
const CPU_CAUSE = {
  monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5, matched: 7, current: 91.5,
  peak: 99, message: 'PROCESS_CPU >= 80 % (5 of 10 s): 7 slots matched, now 91.5 %',
};
const STACKS = [
  { stack: 'main;handle;parse_json', count: 37 },
  { stack: 'main;handle;[unknown]', count: 2 },
  { stack: 'main;poll;wait<T&>', count: 12, duration_ns: 812000000 },
];

// What an agent would have reported: two processes, a finished ON_CPU task
// with a profile, an old failed OFF_CPU task, a running NETWORK task with
// its topology.
async function seed(url, token) {
  const now = Date.now();
  const call = (m, p, b) => api(url, m, p, b, token);
  await call('POST', '/api/v1/agent/register', {
    agent_id: 'web-3', host: 'web-3.example', processes: [
      { id: JAVA, service: 'checkout', instance: 'web-3', name: 'java', pid: 812,
        labels: { tier: 'frontend' } },
      { id: PYTHON, service: 'search', instance: 'web-3', name: 'python3', pid: 900 }],
  });
  await call('POST', '/api/v1/agent/tasks', {
    id: 't-cpu', agent_id: 'web-3', process_id: JAVA, target: 'ON_CPU', trigger: 'POLICY',
    start_time: now - 120000, duration: 600, cause: CPU_CAUSE,
  });
  await call('POST', '/api/v1/agent/tasks/t-cpu/slices', {
    slice: 0, start_time: now - 120000, end_time: now - 115000, stacks: STACKS,
    stack_stats: { samples: 51, truncated: 2, lost: 0 },
  });
  await call('POST', '/api/v1/agent/tasks/t-cpu/finish', { end_time: now - 60000 });
  await call('POST', '/api/v1/agent/tasks', {
    id: 't-old', agent_id: 'web-3', process_id: PYTHON, target: 'OFF_CPU', trigger: 'POLICY',
    start_time: now - 3 * 3600000, duration: 60,
  });
  await call('POST', '/api/v1/agent/tasks/t-old/fail',
    { end_time: now - 3 * 3600000 + 5000, reason: 'process exited' });
  await call('POST', '/api/v1/agent/tasks', {
    id: 't-net', agent_id: 'web-3', service: 'checkout', instance: 'web-3', target: 'NETWORK',
    trigger: 'POLICY', start_time: now - 30000, duration: 600,
    cause: { monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 30, count: 3, matched: 4,
      current: 12.5, peak: 20, uri: '^/api/', message: 'HTTP_ERROR_RATE >= 10 % (3 of 30 s)' },
  });
  await call('PUT', '/api/v1/agent/tasks/t-net/topology', {
    nodes: [{ id: JAVA, service: 'checkout', process: 'java' },
      { id: '10.0.0.9:5432', address: '10.0.0.9:5432' }],
    edges: [{ from: JAVA, to: '10.0.0.9:5432', role: 'client', bytes_out: 18211,
      bytes_in: 99120, calls: 310, http: { requests: 120, status: { '2xx': 118, '5xx': 2 },
        latency_ms: { avg: 4.1, p50: 3.2, p90: 7.9, p99: 21.0 } } }],
    samples: [{ method: 'GET', uri: '/api/cart', status: 500, duration_ms: 812.0 }],
  });
}

describe('client commands against a real server', { skip: NO_SERVER }, () => {
  let srv;
  const c = (args, env = {}) => cli(args, { CONTPROF_SERVER: srv.url, ...env });

  before(async () => {
    srv = await startServer();
    await seed(srv.url);
  });
  after(async () => { await srv?.stop(); });

  test('processes: a table with every column, filters, --json', async () => {
    const r = await c(['processes']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^ID\s+SERVICE\s+INSTANCE\s+NAME\s+PID\s+HOST\s+LABELS\s+LAST SEEN$/);
    assert.equal(lines.length, 3);
    const java = lines.find((l) => l.startsWith(JAVA));
    assert.match(java, /^web-3:812:4711\s+checkout\s+web-3\s+java\s+812\s+web-3\.example\s+tier=frontend\s+(just now|\d+s ago)$/);
    // PID is right-aligned: the header ends where the numbers end.
    assert.equal(lines[0].indexOf('PID') + 3, java.search(/ 812 /) + 4);

    const one = await c(['processes', '--service', 'search']);
    assert.equal(one.stdout.trimEnd().split('\n').length, 2);
    assert.match(one.stdout, /python3\s+900/);

    const none = await c(['processes', '--service', 'nobody']);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no processes/);

    const json = await c(['processes', '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), await api(srv.url, 'GET', '/api/v1/processes'));
    assert.match(json.stdout, /^\[\n  \{\n    "id"/, 'pretty-printed');
  });

  test('tasks: why each started, filters by process and time, --json', async () => {
    const r = await c(['tasks']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0],
      /^ID\s+TARGET\s+TRIGGER\s+PROCESS\s+START\s+DURATION\s+STATUS\s+CAUSE$/);
    assert.equal(lines.length, 4);
    const row = (id) => lines.find((l) => l.startsWith(`${id} `));
    assert.match(row('t-cpu'), /ON_CPU\s+POLICY\s+web-3:812:4711\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+1m00s\s+FINISHED\s+PROCESS_CPU >= 80 % \(5 of 10 s\): 7 slots matched/);
    assert.match(row('t-net'), /NETWORK\s+POLICY\s+checkout\/web-3\s.*RUNNING\s+HTTP_ERROR_RATE >= 10 %/);
    assert.match(row('t-old'), /OFF_CPU.*\s5s\s+FAILED\s+process exited$/);

    const recent = await c(['tasks', '--since', '1h']);
    assert.doesNotMatch(recent.stdout, /t-old/);
    assert.match(recent.stdout, /t-cpu/);
    const older = await c(['tasks', '--since', '48h']);
    assert.match(older.stdout, /t-old/);
    const byProcess = await c(['tasks', '--process', PYTHON]);
    assert.deepEqual(byProcess.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]),
      ['t-old']);
    const byService = await c(['tasks', '--service', 'search', '--json']);
    assert.deepEqual(JSON.parse(byService.stdout).map((t) => t.id), ['t-old']);

    const newest = await c(['tasks', '--limit', '1']);
    assert.deepEqual(newest.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]),
      ['t-net']);

    const json = await c(['tasks', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), await api(srv.url, 'GET', '/api/v1/tasks'));
  });

  test('task: every field with the cause broken out', async () => {
    const r = await c(['task', 't-cpu']);
    assert.equal(r.code, 0, r.stderr);
    for (const re of [/^task\s+t-cpu$/m, /^target\s+ON_CPU$/m, /^trigger\s+POLICY$/m,
      /^process\s+web-3:812:4711$/m, /^status\s+FINISHED$/m, /^elapsed\s+1m00s$/m,
      /^planned\s+10m00s$/m, /^service\s+checkout$/m, /^cause$/m,
      /^  monitor\s+PROCESS_CPU$/m, /^  threshold\s+80 %$/m, /^  period\s+10 s$/m,
      /^  count\s+5$/m, /^  matched\s+7 of the last 10 slots \(needed 5\)$/m,
      /^  current\s+91\.5 %$/m, /^  peak\s+99 %$/m, /^  uri\s+-$/m,
      /^  message\s+PROCESS_CPU >= 80 % \(5 of 10 s\): 7 slots matched, now 91\.5 %$/m,
      /^truncated user stacks: 3\.9 % of 51 samples, 0 lost$/m,
      /^flame graph: contprof flame t-cpu --format svg -o t-cpu\.svg$/m]) {
      assert.match(r.stdout, re);
    }
    const net = await c(['task', 't-net']);
    assert.match(net.stdout, /^  uri\s+\^\/api\/$/m);
    assert.match(net.stdout, /^  threshold\s+10 %$/m);
    assert.match(net.stdout, /^topology:\s+contprof topology t-net$/m);
    const failed = await c(['task', 't-old']);
    assert.match(failed.stdout, /^reason\s+process exited$/m);
    assert.doesNotMatch(failed.stdout, /truncated user stacks/, 'no line without stack stats');
    const json = await c(['task', 't-cpu', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), await api(srv.url, 'GET', '/api/v1/tasks/t-cpu'));

    const missing = await c(['task', 'no-such-task']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^contprof task: .*no-such-task/);
    assert.equal(missing.stdout, '');
  });

  test('flame: folded and json as the server sends them, svg drawn here', async () => {
    const folded = await c(['flame', 't-cpu']);
    assert.equal(folded.code, 0, folded.stderr);
    assert.deepEqual(folded.stdout.trimEnd().split('\n').sort(),
      STACKS.map((s) => `${s.stack} ${s.count}`).sort());
    const byDuration = await c(['flame', 't-cpu', '--aggregate', 'duration']);
    assert.match(byDuration.stdout, /^main;poll;wait<T&> 812000000$/m);

    const json = await c(['flame', 't-cpu', '--format', 'json']);
    const tree = JSON.parse(json.stdout);
    assert.equal(tree.value, 51);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-flame-'));
    const svgPath = path.join(dir, 'cpu.svg');
    const svg = await c(['flame', 't-cpu', '-o', svgPath]);
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stderr, /wrote .*cpu\.svg/);
    const text = fs.readFileSync(svgPath, 'utf8');
    execFileSync('xmllint', ['--noout', svgPath]);
    assert.match(text, /<title>parse_json \(37 samples, 72\.55%\)<\/title>/);
    assert.match(text, />ON_CPU flame graph of checkout web-3:812:4711 \(task t-cpu\)</);
    assert.match(text, /PROCESS_CPU &gt;= 80 % \(5 of 10 s\): 7 slots matched/);
    assert.match(text, /<title>wait&lt;T&amp;&gt; \(12 samples/);
    assert.ok(!fs.existsSync(`${svgPath}.tmp`));

    const none = await c(['flame', 't-cpu', '--from', '-10s']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no samples for task t-cpu/);

    // A window with no samples still draws, and says so.
    const empty = await c(['flame', 't-cpu', '--format', 'svg', '--from', '-10s', '--to', 'now']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no samples/);

    // pprof (from the .pb.gz name, and asked for by --format): gzip'd
    // protobuf that decodes to the task's stacks.
    for (const args of [[], ['--format', 'pprof']]) {
      const pbPath = path.join(dir, args.length ? 'cpu.pprof' : 'cpu.pb.gz');
      const pb = await c(['flame', 't-cpu', ...args, '-o', pbPath]);
      assert.equal(pb.code, 0, pb.stderr);
      const bytes = fs.readFileSync(pbPath);
      assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
      const prof = decodeProfile(bytes);
      assert.deepEqual(prof.sampleTypes[0], ['samples', 'count']);
      assert.deepEqual(prof.samples.map((s) => `${s.frames.join(';')} ${s.values[0]}`).sort(),
        STACKS.map((s) => `${s.stack} ${s.count}`).sort());
      assert.ok(!fs.existsSync(`${pbPath}.tmp`));
    }
    fs.rmSync(dir, { recursive: true, force: true });

    const missing = await c(['flame', 'no-such-task', '--format', 'svg']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-task/);
  });

  test('topology: nodes, edges with traffic, sampled requests', async () => {
    const r = await c(['topology', 't-net']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nodes \(2\)$/m);
    assert.match(r.stdout, /^web-3:812:4711\s+checkout\s+-\s+java\s+-\s+-$/m);
    assert.match(r.stdout, /^edges \(1\)$/m);
    assert.match(r.stdout, /^FROM\s+TO\s+ROLE\s+REQUESTS\s+5XX\s+AVG\s+P99\s+SENT\s+RECEIVED$/m);
    assert.match(r.stdout,
      /^checkout\/java\s+→\s+10\.0\.0\.9:5432\s+client\s+120\s+2\s+4\.1 ms\s+21 ms\s+17\.8 KiB\s+96\.8 KiB$/m);
    assert.match(r.stdout, /^GET\s+\/api\/cart\s+500\s+812 ms$/m);
    const json = await c(['topology', 't-net', '--json']);
    assert.deepEqual(JSON.parse(json.stdout),
      await api(srv.url, 'GET', '/api/v1/tasks/t-net/topology'));
    const none = await c(['topology', 't-cpu']);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /no topology recorded/);
  });

  test('profile: a manual task the agent will pick up', async () => {
    const r = await c(['profile', JAVA, '--target', 'OFF_CPU', '--duration', '2m']);
    assert.equal(r.code, 0, r.stderr);
    const m = r.stdout.match(/^task (\S+): OFF_CPU profiling of process web-3:812:4711 for 120 s/);
    assert.ok(m, r.stdout);
    assert.match(r.stdout, new RegExp(`^follow it:\\s+contprof task ${m[1]}$`, 'm'));
    const task = await api(srv.url, 'GET', `/api/v1/tasks/${m[1]}`);
    assert.equal(task.trigger, 'MANUAL');
    assert.equal(task.target, 'OFF_CPU');
    assert.equal(task.duration, 120);
    const shown = await c(['task', m[1]]);
    assert.match(shown.stdout, /^trigger\s+MANUAL$/m);

    const json = await c(['profile', JAVA, '--target', 'ON_CPU', '--json']);
    assert.equal(JSON.parse(json.stdout).duration, 60);

    const unknown = await c(['profile', 'no-such-process', '--target', 'ON_CPU']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^contprof profile: .*no-such-process/);
  });
});

describe('policies through a real server', { skip: NO_SERVER }, () => {
  let srv;
  const c = (args, opts) => run(args, { env: { ...process.env, CONTPROF_SERVER: srv.url }, ...opts });

  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  test('set, get (canonical, pretty), set from stdin, delete', async () => {
    const missing = await c(['policy', 'get', 'checkout']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^contprof policy get: .*checkout/);

    const set = await c(['policy', 'set', 'checkout', policyFile(POLICY)]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^set the policy of service checkout \(version [0-9a-f]{12}\)$/m);

    const get = await c(['policy', 'get', 'checkout']);
    assert.equal(get.code, 0, get.stderr);
    const served = await api(srv.url, 'GET', '/api/v1/services/checkout/policy');
    assert.deepEqual(JSON.parse(get.stdout), served);
    assert.match(get.stdout, /^\{\n  "service": "checkout",\n  "targets": \[/);
    const json = await c(['policy', 'get', 'checkout', '--json']);
    assert.equal(json.stdout, get.stdout);

    // What get prints, set takes back (round trip through stdin).
    const child = start(['policy', 'set', 'checkout', '-'],
      { env: { ...process.env, CONTPROF_SERVER: srv.url }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(get.stdout);
    const [code] = await child.exited;
    assert.equal(code, 0, child.err());
    assert.equal(child.out(), set.stdout);

    const del = await c(['policy', 'delete', 'checkout']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'deleted the policy of service checkout\n');
    const again = await c(['policy', 'delete', 'checkout']);
    assert.equal(again.code, 1);
    const gone = await c(['policy', 'get', 'checkout']);
    assert.equal(gone.code, 1);
  });
});

describe('a server that wants a token', { skip: NO_SERVER }, () => {
  let srv, dir, tokenFile;
  const TOKEN = 'tok-3f9c2e1a';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-token-'));
    tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    srv = await startServer({ args: ['--token-file', tokenFile] });
    await seed(srv.url, TOKEN);
  });
  after(async () => {
    await srv?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes without the token are refused with a hint; with it they pass', async () => {
    const args = ['profile', JAVA, '--target', 'ON_CPU', '--server', srv.url];
    const refused = await cli(args);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--token-file FILE or set CONTPROF_TOKEN/);
    const viaFile = await cli([...args, '--token-file', tokenFile]);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    const viaEnv = await cli(args, { CONTPROF_TOKEN: TOKEN });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const wrong = await cli(args, { CONTPROF_TOKEN: 'wrong' });
    assert.equal(wrong.code, 1);
    assert.doesNotMatch(wrong.stderr, /set CONTPROF_TOKEN/);
  });
});
