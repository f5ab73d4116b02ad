// The BPF chain end to end: the exec/exit program built by `make` loads on
// this kernel and reports a process we start and its exit code, and an exec
// record carries the start time and command line /proc shows.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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

// An exec record carries what discovery matches a new process with, read by
// the kernel at the exec: the same start time and command line as /proc's,
// and a command line longer than the 4 KiB carried cut as /proc/PID/cmdline's
// first 4 KiB would be.
test('an exec event carries the start time and the command line /proc shows', async () => {
  const watcher = start(['debug', 'proc-events', '--timeout', '30']);
  await waitFor(() => watcher.err().includes('listening'), { what: 'BPF program loaded' });
  const long = 'x'.repeat(5000);
  // `read` is a builtin: the shell waits on its stdin without another exec.
  const children = [spawn('/bin/sh', ['-c', 'read x', 'sh', 'a b', '--flag']),
    spawn('/bin/sh', ['-c', 'read x', 'sh', long])];
  try {
    const execs = await waitFor(() => {
      const lines = watcher.out().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const found = children.map((c) => lines.find((e) => e.pid === c.pid && e.event === 'exec'));
      return found.every(Boolean) ? found : null;
    }, { what: 'exec events of both children' });
    for (const [i, c] of children.entries()) {
      const stat = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8');
      const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
      assert.equal(execs[i].start_time_ticks, startTicks, 'start time as /proc/PID/stat');
      assert.equal(execs[i].comm, 'sh');
    }
    assert.equal(execs[0].cmdline, '/bin/sh -c read x sh a b --flag');
    const procCmdline = fs.readFileSync(`/proc/${children[1].pid}/cmdline`);
    assert.equal(execs[1].cmdline_len, procCmdline.length);
    assert.equal(execs[1].cmdline,
      procCmdline.subarray(0, 4096).toString('latin1').replace(/\0+$/, '').replaceAll('\0', ' '));
    assert.equal(execs[1].cmdline.length, 4096);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await watcher.stop();
  }
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
