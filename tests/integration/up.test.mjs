// `contprof up`: server and agent in one process — every process of the host
// discovered by the built-in config, a policy set through the API triggering
// a task, and a clean stop with Ctrl-C.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, waitFor } from './lib.mjs';
import { api } from './server_lib.mjs';
import { startProcess, kill, FIXTURES } from './agent_lib.mjs';

// A busy loop under a name no other test run on this host uses, so the
// service `up` derives from its comm is this test's alone.
const NAME = `upburn${process.pid % 100000}`;
const BURNER = path.join(os.tmpdir(), NAME);
fs.copyFileSync(path.join(FIXTURES, 'busyloop'), BURNER);
fs.chmodSync(BURNER, 0o755);

async function startUp(args = []) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-up-'));
  const child = start(['up', '--listen', '127.0.0.1:0', '--data', data, ...args]);
  const url = await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`up exited early: ${child.err()}`);
    const m = child.out().match(/API and UI:\s+(http:\/\/127\.0\.0\.1:\d+)/);
    return m ? m[1] : null;
  }, { what: 'up running', ms: 15000 });
  return { child, url, data };
}

test('up discovers every process by comm and triggers on a policy set through the API', async () => {
  const burner = startProcess(BURNER);
  const { child, url, data } = await startUp();
  try {
    assert.equal((await api(url, 'GET', '/healthz')).status, 200);
    // The built-in config: this very test runner is service "node".
    await waitFor(async () => {
      const r = await api(url, 'GET', '/api/v1/processes?service=node');
      return r.json.some((p) => p.pid === process.pid);
    }, { what: 'the test runner discovered as service node', ms: 15000 });
    const busy = await waitFor(async () => {
      const r = await api(url, 'GET', `/api/v1/processes?service=${NAME}`);
      return r.json.find((p) => p.pid === burner.pid);
    }, { what: 'busy loop discovered', ms: 15000 });
    const put = await api(url, 'PUT', `/api/v1/services/${NAME}/policy`, { service: NAME,
      targets: [{ target: 'ON_CPU', items: [
        { monitor: 'PROCESS_CPU', threshold: 1, period: 3, count: 2 }] }] });
    assert.equal(put.status, 200, put.text);
    const task = await waitFor(async () => {
      const r = await api(url, 'GET', `/api/v1/tasks?service=${NAME}`);
      return r.json[0];
    }, { what: 'a task', ms: 15000 });
    assert.equal(task.process_id, busy.id);
    assert.equal(task.cause.monitor, 'PROCESS_CPU');
    // The policy is kept by the agent for a restart with the server away.
    assert.equal(fs.readdirSync(path.join(data, 'agent', 'policies')).length, 1);
  } finally {
    kill(burner);
    const { code } = await child.stop('SIGINT');
    assert.equal(code, 0, child.err());
    assert.match(child.err(), /up: stopped/);
    assert.ok(fs.existsSync(path.join(data, 'contprof.db')));
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('up refuses a bad config with its reasons and a bad listen address', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-up-'));
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'processes:\n  - match: {comm: "("}\n    service: x\n');
  const bad = start(['up', '--data', dir, '--config', path.join(dir, 'bad.yaml')]);
  const [code] = await bad.exited;
  assert.equal(code, 1);
  assert.match(bad.err(), /bad\.yaml:2/);
  const listen = start(['up', '--data', dir, '--listen', 'nonsense']);
  const [code2] = await listen.exited;
  assert.equal(code2, 2);
  assert.match(listen.err(), /cannot use listen address 'nonsense'/);
  fs.rmSync(dir, { recursive: true, force: true });
});
