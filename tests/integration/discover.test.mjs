// Discovery end to end (`contprof debug discover`): the table at start with
// names, labels and "#2" for a second process of one name; a process started
// after the scan is picked up within a second from its exec event; a
// restarted one (new pid) keeps its id; config errors come with line numbers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, run, waitFor } from './lib.mjs';

const PICKUP_MS = 1000;

// A copy of sleep under a name of our own, so its comm is unique to this run.
function makeProgram(dir) {
  const comm = `cpd${process.pid % 100000}`;
  const exe = path.join(dir, comm);
  fs.copyFileSync('/bin/sleep', exe);
  fs.chmodSync(exe, 0o755);
  return { comm, exe };
}

function writeConfig(dir, comm) {
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, [
    'instance: "{hostname}"',
    'processes:',
    `  - match: {comm: "^${comm}$"}`,
    '    service: disc-test',
    '    process: "{comm}"',
    '    labels: {kind: test, exe: "{exe}"}',
    '',
  ].join('\n'));
  return file;
}

function lines(child) {
  return child.out().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function kill(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

test('discover: table at start, exec pickup within a second, restart keeps its id', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-discover-'));
  const { comm, exe } = makeProgram(dir);
  const config = writeConfig(dir, comm);
  const early = [spawn(exe, ['300']), spawn(exe, ['300'])];
  const late = [];
  let watcher;
  try {
    await waitFor(() => early.every((c) => fs.existsSync(`/proc/${c.pid}`)));
    await new Promise((r) => setTimeout(r, 100)); // exec'd: comm is ours
    watcher = start(['debug', 'discover', '--config', config, '--seconds', '30']);
    await waitFor(() => watcher.err().includes('listening'), { what: 'discover listening' });

    // The table: both early processes, one of them "#2" (the younger).
    const table = lines(watcher)[0];
    assert.ok(Array.isArray(table), 'first line is the table');
    const mine = table.filter((p) => p.service === 'disc-test').sort((a, b) => a.pid - b.pid);
    assert.deepEqual(mine.map((p) => p.pid), early.map((c) => c.pid).sort((a, b) => a - b));
    const byPid = Object.fromEntries(mine.map((p) => [p.pid, p]));
    assert.equal(byPid[early[0].pid].name, comm);
    assert.equal(byPid[early[1].pid].name, `${comm}#2`);
    for (const p of mine) {
      assert.equal(p.instance, os.hostname());
      assert.equal(p.host, os.hostname());
      assert.equal(p.comm, comm);
      assert.equal(p.exe, exe);
      assert.deepEqual(p.labels, { kind: 'test', exe });
      assert.match(p.id, /^[0-9a-f]{16}$/);
      assert.match(p.cmdline, new RegExp(`${comm} 300$`));
    }
    assert.notEqual(mine[0].id, mine[1].id);

    // Started after the scan: picked up from its exec event. Twice, so that
    // a periodic rescan (every 5 s) cannot pass for the event path.
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const child = spawn(exe, ['300']);
      late.push(child);
      const added = await waitFor(() => lines(watcher).slice(1)
        .find((e) => e.change === 'added' && e.pid === child.pid), { what: `added ${child.pid}` });
      assert.ok(added.time - t0 <= PICKUP_MS, `picked up after ${added.time - t0} ms`);
      assert.equal(added.name, `${comm}#${3 + i}`);
    }

    // Restart of the first: the exit frees its name; the new pid takes it
    // back with the same id, within a second.
    const firstId = byPid[early[0].pid].id;
    await kill(early[0]);
    const t0 = Date.now();
    const again = spawn(exe, ['300']);
    late.push(again);
    const readded = await waitFor(() => lines(watcher).slice(1)
      .find((e) => e.change === 'added' && e.pid === again.pid), { what: 'restart picked up' });
    assert.ok(readded.time - t0 <= PICKUP_MS, `restart picked up after ${readded.time - t0} ms`);
    assert.equal(readded.id, firstId);
    assert.equal(readded.name, comm);
    const gone = lines(watcher).slice(1).find((e) => e.change === 'gone' && e.pid === early[0].pid);
    assert.ok(gone, 'exit reported as gone');
    assert.equal(gone.id, firstId);
    // The second early process kept its name and id throughout.
    assert.ok(!lines(watcher).slice(1).some((e) => e.pid === early[1].pid));
  } finally {
    for (const c of [...early, ...late]) await kill(c);
    if (watcher) await watcher.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(watcher.exitCode, 0, watcher.err());
});

test('discover without --seconds prints the table once; default config sees every comm', async () => {
  const r = await run(['debug', 'discover']);
  assert.equal(r.code, 0, r.stderr);
  const table = JSON.parse(r.stdout);
  const self = table.find((p) => p.pid === process.pid);
  assert.ok(self, 'this node process is in the default table');
  assert.equal(self.service, self.comm);
  assert.ok(!table.some((p) => p.pid === 2), 'kthreadd (a kernel thread) is not');
});

test('discover refuses a bad config with every reason and its line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-discover-'));
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'processes:\n  - match: {comm: "(("}\n    service: "{nope}"\nbogus: 1\n');
  try {
    const r = await run(['debug', 'discover', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:2: bad regular expression '\(\('/);
    assert.match(r.stderr, /bad\.yaml:3: service: unknown placeholder \{nope\}/);
    assert.match(r.stderr, /bad\.yaml:4: unknown key 'bogus'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
