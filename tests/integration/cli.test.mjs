// The client commands of DESIGN.md section 7 run as a user runs them.
// Part 1 needs no server: --help, usage errors (exit 2), an unreachable
// server (exit 1 with the "cannot reach" message). Part 2 starts a real
// `contprof server` on a free loopback port with a temp SQLite store, seeds
// it through the agent API, and checks every command's table, detail and
// --json output against it; it is skipped while the binary has no server.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, start, run, waitFor } from './lib.mjs';

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
