// The NETWORK profiler end to end: a real agent and server, our C fixture
// as two tiers (np1 proxies to np2) and a third process of the instance
// (np3) that proxies to a server in another network namespace, all run a
// manual NETWORK task while a client (the fixture's keep-alive client, not
// in the instance) sends a known mix of requests. The stored topology must
// show client -> np1 -> np2 with the exact request and 5xx counts the
// client sent, bytes within 1 % of what the fixture writes, a sample (with
// its headers) for every injected slow and failed request, and np3's peer
// as a remote endpoint, with the retransmits and the slow connect of a
// moment it was unreachable; `contprof topology` prints it.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { run, track, waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, kill, FIXTURES } from './agent_lib.mjs';

const execFileP = promisify(execFile);
const FIXTURE = path.join(FIXTURES, 'http_fixture');
const TAG = String(process.pid % 100000);
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-netprof-'));
// Names of our own: other runs on this host may run the fixture too.
const NAMES = ['np1', 'np2', 'np3'].map((n) => `${n}_${TAG}`);
for (const n of NAMES) {
  fs.copyFileSync(FIXTURE, path.join(DIR, n));
  fs.chmodSync(path.join(DIR, n), 0o755);
}
// A "remote host": a network namespace behind a veth pair.
const NS = `cpnp${TAG}`;
const NET = `10.231.${process.pid % 250}`;
const HOST_IF = `cpnh${TAG}`, NS_IF = `cpnn${TAG}`;

const CONFIG = `processes:
${NAMES.map((n) => `  - match: {comm: "^${n}$"}\n    service: netshop\n    process: "{comm}"`).join('\n')}
profiling: {duration: 120, silence: 1200, flush_interval: 1}
listen: 127.0.0.1:0
`;

const children = [];
test.after(() => {
  for (const c of children) kill(c);
  try { execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); } catch { /* not created */ }
  fs.rmSync(DIR, { recursive: true, force: true });
});

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

function setUpRemote() {
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
  ip('link', 'set', NS_IF, 'netns', NS);
  ip('addr', 'add', `${NET}.1/30`, 'dev', HOST_IF);
  ip('link', 'set', HOST_IF, 'up');
  ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${NET}.2/30`, 'dev', NS_IF);
  ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up');
  ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
}

// Starts `exe server ...args`; resolves to {child, port}.
async function fixtureServer(exe, args = []) {
  const child = track(spawn(exe, ['server', ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const port = await waitFor(() => Number(/listening (\d+)/.exec(out)?.[1]), { what: `${exe} port` });
  return { child, port };
}

async function client(port, args) {
  const { stdout } = await execFileP(FIXTURE, ['client', '--port', String(port), ...args]);
  return JSON.parse(stdout);
}

// What the fixture writes: proxied requests and its responses (respond()).
const forwarded = (target, port) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.length;
const response = (status, reason, body) =>
  `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`.length;
const within1 = (got, want, what) =>
  assert.ok(Math.abs(got - want) <= want * 0.01, `${what}: ${got} vs ${want} (1 %)`);

test('two tiers and a remote endpoint: exact counts, bytes within 1 %, samples of every slow and failed request', async () => {
  setUpRemote();
  const remote = track(spawn('ip', ['netns', 'exec', NS, 'python3', '-m', 'http.server', '8123', '--bind', `${NET}.2`],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: DIR }));
  children.push(remote);
  const tier2 = await fixtureServer(path.join(DIR, NAMES[1]));
  const tier1 = await fixtureServer(path.join(DIR, NAMES[0]), ['--upstream', String(tier2.port)]);
  const tier3 = await fixtureServer(path.join(DIR, NAMES[2]), ['--upstream', `${NET}.2:8123`]);
  // The remote server answers (python may take a moment to start).
  await waitFor(async () => {
    try { return (await fetch(`http://${NET}.2:8123/`)).status === 200; } catch { return false; }
  }, { what: 'server in the namespace', ms: 15000, every: 200 });

  const server = await startServer();
  const agent = await startAgent(server.url, CONFIG);
  try {
    const procs = await waitFor(async () => {
      const r = await api(server.url, 'GET', '/api/v1/processes?service=netshop');
      return r.json?.length === 3 ? r.json : null;
    }, { what: 'three processes registered', ms: 15000 });
    const byPid = (pid) => procs.find((p) => p.pid === pid);
    const [p1, p2, p3] = [tier1, tier2, tier3].map((t) => byPid(t.child.pid));
    assert.ok(p1 && p2 && p3, JSON.stringify(procs));

    const created = await api(server.url, 'POST', '/api/v1/tasks', { process_id: p1.id, target: 'NETWORK', duration: 120 });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id;
    await waitFor(() => new RegExp(`task ${id} started: NETWORK`).test(agent.err()), { what: 'NETWORK task started', ms: 30000 });
    await waitFor(async () => (await api(server.url, 'GET', `/api/v1/tasks/${id}`)).json?.status === 'RUNNING',
      { what: 'the server knows the task runs', ms: 10000 });
    // The first upload (the instance's processes as nodes) comes once the
    // programs are loaded and attached.
    await waitFor(async () => (await api(server.url, 'GET', `/api/v1/tasks/${id}/topology`)).json?.nodes?.length >= 3,
      { what: 'the first topology upload', ms: 60000, every: 250 });

    // 2 connections x 24 requests over 8 paths: 6 x /fail, 6 x /slow, 36 x /ok.
    const paths = ['/ok', '/fail', '/ok', '/ok', '/ok', '/ok', '/slow?ms=150', '/ok'];
    const sent = await client(tier1.port, ['--requests', '24', '--connections', '2', '--paths', paths.join(','),
      '--linger-ms', '2500']);
    assert.deepEqual(sent.by_status, { 200: 42, 500: 6 }, JSON.stringify(sent));
    // Python's server closes after each answer: one request per connection.
    const toRemote = await client(tier3.port, ['--requests', '1', '--connections', '5', '--paths', '/']);
    assert.deepEqual(toRemote.by_status, { 200: 5 }, JSON.stringify(toRemote));
    // One more while the "remote host" is unreachable for 1.2 s: np3's SYN
    // is retransmitted, and its connect takes that long.
    ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'down');
    const lossy = client(tier3.port, ['--requests', '1', '--paths', '/']);
    await new Promise((r) => setTimeout(r, 1200));
    ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up');
    assert.deepEqual((await lossy).by_status, { 200: 1 });

    const edgeOf = (topo, from, to, role) => topo.edges.find((e) => e.from === from && e.to === to && e.role === role);
    const frontOf = (topo) => topo.edges.find((e) => e.to === p1.id && e.role === 'server' && e.from !== p3.id);
    let last = null;
    const topo = await waitFor(async () => {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${id}/topology`);
      const t = last = r.json;
      if (r.status !== 200 || !t?.edges) return null;
      const front = frontOf(t);
      const r3 = t.edges.find((e) => e.from === p3.id && e.role === 'client' && e.http?.requests === 6);
      return front?.http?.requests === 48 && edgeOf(t, p1.id, p2.id, 'server')?.http?.requests === 48
        && edgeOf(t, p1.id, p2.id, 'client')?.http?.requests === 48 && r3
        && t.samples.filter((s) => s.reason === 'slow' && s.duration_ms >= 150).length >= 18 ? t : null;
    }, { what: 'the topology with every request', ms: 30000, every: 500 })
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}\n${agent.err().split("\n").filter((l) => !l.includes("libbpf")).join("\n").slice(-4000)}`); });

    // Nodes: the three processes of the instance, the client (a local
    // process outside it) and the remote endpoint.
    for (const p of [p1, p2, p3]) {
      const n = topo.nodes.find((x) => x.id === p.id);
      assert.ok(n && n.in_instance && n.pid === p.pid && n.service === 'netshop', JSON.stringify(topo.nodes));
    }
    const front = frontOf(topo);
    const c = topo.nodes.find((n) => n.id === front.from);
    assert.ok(c && c.process === 'http_fixture' && c.pid > 0 && !c.in_instance, JSON.stringify(topo.nodes));
    const remoteNode = topo.nodes.find((n) => n.address === `${NET}.2:8123`);
    assert.ok(remoteNode && !remoteNode.pid && !remoteNode.in_instance, JSON.stringify(topo.nodes));

    // Edges: counts exactly as sent, on both ends of np1 -> np2.
    const backOut = edgeOf(topo, p1.id, p2.id, 'client');
    const backIn = edgeOf(topo, p1.id, p2.id, 'server');
    for (const e of [front, backOut, backIn]) {
      assert.equal(e.http.requests, 48, JSON.stringify(e));
      assert.equal(e.http.status['5xx'], 6, JSON.stringify(e));
      assert.equal(e.http.status['2xx'], 42, JSON.stringify(e));
      assert.ok(e.http.latency_ms.p99 >= 150 * 0.94 && e.http.latency_ms.p50 < 150, JSON.stringify(e.http));
    }
    assert.equal(front.connections.opened, 2, JSON.stringify(front));
    assert.equal(backOut.connections.opened, 2, JSON.stringify(backOut));
    assert.ok(front.observer === p1.id && backOut.observer === p1.id && backIn.observer === p2.id);
    const remoteEdge = edgeOf(topo, p3.id, remoteNode.id, 'client');
    assert.equal(remoteEdge.http.requests, 6, JSON.stringify(remoteEdge));
    assert.equal(remoteEdge.http.status['2xx'], 6);
    assert.equal(remoteEdge.connections.opened, 6, JSON.stringify(remoteEdge));
    assert.ok(remoteEdge.retransmits >= 1, JSON.stringify(remoteEdge));
    assert.ok(remoteEdge.connect_ms > 1000 / 6, JSON.stringify(remoteEdge));

    // Bytes np1 -> np2: what the proxy writes and np2 answers, exactly known.
    const counts = { '/ok': 36, '/fail': 6, '/slow?ms=150': 6 };
    let reqBytes = 0, respBytes = 0;
    for (const [target, n] of Object.entries(counts)) {
      reqBytes += n * forwarded(target, tier2.port);
      respBytes += n * (target === '/fail' ? response(500, 'Internal Server Error', 'fail\n')
        : response(200, 'OK', target === '/ok' ? 'ok\n' : 'slow\n'));
    }
    within1(backOut.bytes_out, reqBytes, 'np1 sent to np2');
    within1(backIn.bytes_in, reqBytes, 'np2 read from np1');
    within1(backIn.bytes_out, respBytes, 'np2 sent to np1');
    within1(backOut.bytes_in, respBytes, 'np1 read from np2');
    // np1 answers the client: "proxied\n" bodies with np2's status.
    const frontOut = 42 * response(200, 'OK', 'proxied\n') + 6 * response(500, 'Upstream Error', 'proxied\n');
    within1(front.bytes_out, frontOut, 'np1 sent to the client');
    assert.ok(front.calls_in >= 48 && front.calls_out >= 48 && front.syscall_ms.read.avg > 0, JSON.stringify(front));

    // Samples: every failed and every slow request, on each edge it crossed.
    for (const e of [front, backOut, backIn]) {
      const mine = topo.samples.filter((s) => s.from === e.from && s.to === e.to && s.role === e.role);
      const failed = mine.filter((s) => s.reason === 'failed');
      const slow = mine.filter((s) => s.uri === '/slow?ms=150');
      assert.equal(failed.length, 6, JSON.stringify(mine));
      assert.equal(slow.length, 6, JSON.stringify(mine));
      for (const s of failed) {
        assert.equal(s.status, 500);
        assert.equal(s.uri, '/fail');
        assert.match(s.headers, /^GET \/fail HTTP\/1\.1\r\n/);
        assert.match(s.response_headers, /^HTTP\/1\.1 500 /);
        assert.ok(s.headers.length <= 1024 && s.response_headers.length <= 1024);
      }
      for (const s of slow) {
        assert.ok(s.duration_ms >= 150 && s.status === 200 && s.method === 'GET', JSON.stringify(s));
        assert.match(s.headers, /^GET \/slow\?ms=150 HTTP\/1\.1\r\n/);
      }
    }

    // The CLI prints the edges as a table.
    const cli = await run(['topology', id, '--server', server.url]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`netshop/${NAMES[0]} \\(pid ${p1.pid}\\)`));
    assert.match(cli.stdout, new RegExp(`netshop/${NAMES[1]} \\(pid ${p2.pid}\\)`));
    assert.ok(cli.stdout.includes(`${NET}.2:8123`), cli.stdout);
  } finally {
    await agent.stop();
    await server.stop();
  }
});
