// The BPF chain end to end: the exec/exit program built by `make` loads on
// this kernel and reports a process we start and its exit code.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { start, run, waitFor } from './lib.mjs';

test('proc-events reports exec and exit of a child with its exit code', async () => {
  const watcher = start(['debug', 'proc-events', '--timeout', '20']);
  await waitFor(() => watcher.err().includes('listening'), { what: 'BPF program loaded' });

  const child = spawn('/bin/sh', ['-c', 'exec /bin/sleep 0.2; exit 0']);
  const pid = child.pid;
  await new Promise((r) => child.on('exit', r));
  const events = await waitFor(() => {
    const lines = watcher.out().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const mine = lines.filter((e) => e.pid === pid);
    return mine.some((e) => e.event === 'exit') ? mine : null;
  }, { what: `exit event of pid ${pid}` });
  await watcher.stop();

  const exec = events.find((e) => e.event === 'exec' && e.comm === 'sleep');
  assert.ok(exec, `exec of sleep seen: ${JSON.stringify(events)}`);
  const exit = events.find((e) => e.event === 'exit');
  assert.equal(exit.exit_code, 0);
  assert.equal(exit.comm, 'sleep');
});

test('proc-events reports a non-zero exit code', async () => {
  const watcher = start(['debug', 'proc-events', '--timeout', '20']);
  await waitFor(() => watcher.err().includes('listening'), { what: 'BPF program loaded' });
  const child = spawn('/bin/sh', ['-c', 'exit 7']);
  await new Promise((r) => child.on('exit', r));
  const exit = await waitFor(() => watcher.out().split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).find((e) => e.pid === child.pid && e.event === 'exit'),
  { what: 'exit event' });
  await watcher.stop();
  assert.equal(exit.exit_code, 7);
});

test('unknown commands and options fail with usage (exit 2)', async () => {
  const r = await run(['no-such-command']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /usage: contprof/);
});
