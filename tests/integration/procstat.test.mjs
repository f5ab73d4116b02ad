// PROCESS_CPU, PROCESS_THREAD_COUNT and SYSTEM_LOAD as the agent reads them
// (`contprof debug watch`), checked against an independent reading of
// /proc/PID/stat taken by the test over the same seconds: a busy loop free on
// every CPU, pinned to one CPU by affinity (also while it was stopped),
// limited to 0.2 CPU by a cgroup quota, and a process with threads.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { start, run, waitFor } from './lib.mjs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const SECONDS = 5;
const TOLERANCE = 5; // percentage points

function onlineCpus() {
  let n = 0;
  for (const part of fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    n += (hi ?? lo) - lo + 1;
  }
  return n;
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
}

function statusThreads(pid) {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

function busyLoop(wrapper = []) {
  const argv = [...wrapper, '/bin/sh', '-c', 'while :; do :; done'];
  return spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
}

async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

// Runs `debug watch` for SECONDS and reads /proc/PID/stat around it; returns
// the agent's lines and the independent CPU % at `capacity` CPUs.
async function watchAndCompare(pid, capacity) {
  const t0 = process.hrtime.bigint();
  const ticks0 = cpuTicks(pid);
  const r = await run(['debug', 'watch', '--pid', String(pid), '--seconds', String(SECONDS)]);
  const ticks1 = cpuTicks(pid);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, SECONDS, r.stdout);
  const independent = ((ticks1 - ticks0) / CLK_TCK / elapsed / capacity) * 100;
  const mean = lines.reduce((s, l) => s + l.cpu, 0) / lines.length;
  return { lines, mean, independent };
}

test('a busy loop free on every CPU: CPU % of all online CPUs', async () => {
  const child = busyLoop();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const cpus = onlineCpus();
    const { lines, mean, independent } = await watchAndCompare(child.pid, cpus);
    for (const l of lines) {
      assert.equal(l.pid, child.pid);
      assert.equal(l.capacity, cpus);
      assert.equal(l.online, cpus);
      assert.equal(l.affinity, cpus);
      assert.equal(l.quota, 0);
      assert.equal(l.threads, 1);
      assert.ok(l.load >= 0, 'load read');
      assert.ok(l.elapsed_ns > 0.9e9 && l.elapsed_ns < 1.2e9, `elapsed ${l.elapsed_ns}`);
    }
    assert.ok(Math.abs(mean - independent) <= TOLERANCE,
      `agent ${mean.toFixed(1)} % vs /proc ${independent.toFixed(1)} %`);
    assert.ok(independent > 100 / cpus / 3, `the loop ran: ${independent.toFixed(1)} %`);
  } finally {
    await stopChild(child);
  }
});

test('a busy loop pinned to one CPU by affinity: ~100 % of a 1-CPU capacity', async () => {
  const child = busyLoop(['taskset', '-c', '0']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const { lines, mean, independent } = await watchAndCompare(child.pid, 1);
    for (const l of lines) {
      assert.equal(l.capacity, 1);
      assert.equal(l.affinity, 1);
    }
    assert.ok(Math.abs(mean - independent) <= TOLERANCE,
      `agent ${mean.toFixed(1)} % vs /proc ${independent.toFixed(1)} %`);
    // A pinned loop alone on its CPU reads ~100 %; other work on a shared
    // machine can take much of that CPU, so only a floor is checked here —
    // the agreement with /proc above is the real test.
    assert.ok(mean > 20, `pinned loop uses a good part of its CPU: ${mean.toFixed(1)} %`);
  } finally {
    await stopChild(child);
  }
});

// An idle process costs no capacity reads, so one re-pinned while it sleeps
// must still be measured against its new capacity once it runs: a stopped
// loop free on every CPU is pinned to CPU 0, then (after the 5 s refresh
// period) continued; every line with CPU must show the 1-CPU capacity.
test('a process re-pinned while idle: its CPU is scaled by the new capacity when it runs',
  async (t) => {
    const cpus = onlineCpus();
    if (cpus < 2) {
      t.skip('one online CPU: pinning changes nothing');
      return;
    }
    const child = busyLoop();
    try {
      child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 200));
      const watch = run(['debug', 'watch', '--pid', String(child.pid), '--seconds', '9']);
      await new Promise((r) => setTimeout(r, 1500));
      execFileSync('taskset', ['-p', '-c', '0', String(child.pid)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 5000));
      child.kill('SIGCONT');
      const r = await watch;
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines[0].capacity, cpus, 'free on every CPU at first');
      const busy = lines.filter((l) => l.cpu > 0);
      assert.ok(busy.length >= 1, `it ran once continued: ${r.stdout}`);
      for (const l of busy) {
        assert.equal(l.affinity, 1, `re-pinned: ${JSON.stringify(l)}`);
        assert.equal(l.capacity, 1);
      }
    } finally {
      child.kill('SIGCONT');
      await stopChild(child);
    }
  });

// The cgroup holding the cpu controller: v2 (cpu.max) when the host has it,
// else v1 (cfs_quota_us) as on hybrid hosts.
function cpuCgroupRoot() {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      if (fs.readFileSync(`${dir}/cgroup.controllers`, 'utf8').split(/\s+/).includes('cpu')) {
        return { version: 2, dir };
      }
    } catch { /* not a v2 root */ }
  }
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    if (fs.existsSync(`${dir}/cpu.cfs_quota_us`)) return { version: 1, dir };
  }
  return null;
}

test('a busy loop in a cgroup with a 0.2-CPU quota: ~100 % of a 0.2-CPU capacity', async (t) => {
  const root = cpuCgroupRoot();
  if (!root) {
    t.skip('no cgroup with the cpu controller on this host');
    return;
  }
  const cg = `${root.dir}/contprof-test-${process.pid}`;
  fs.mkdirSync(cg);
  const child = busyLoop();
  try {
    if (root.version === 2) {
      try { fs.writeFileSync(`${root.dir}/cgroup.subtree_control`, '+cpu'); } catch { /* on */ }
      fs.writeFileSync(`${cg}/cpu.max`, '20000 100000');
    } else {
      fs.writeFileSync(`${cg}/cpu.cfs_period_us`, '100000');
      fs.writeFileSync(`${cg}/cpu.cfs_quota_us`, '20000');
    }
    fs.writeFileSync(`${cg}/cgroup.procs`, String(child.pid));
    await new Promise((r) => setTimeout(r, 500));
    const { lines, mean, independent } = await watchAndCompare(child.pid, 0.2);
    for (const l of lines) {
      assert.equal(l.quota, 0.2, `cgroup v${root.version} quota seen`);
      assert.equal(l.capacity, 0.2);
    }
    assert.ok(Math.abs(mean - independent) <= TOLERANCE,
      `agent ${mean.toFixed(1)} % vs /proc ${independent.toFixed(1)} %`);
    assert.ok(mean > 80, `throttled loop uses its whole quota: ${mean.toFixed(1)} %`);
  } finally {
    await stopChild(child);
    await waitFor(() => {
      try { fs.rmdirSync(cg); return true; } catch { return false; }
    }, { what: `removal of ${cg}` });
  }
});

test('a process with threads: the thread count and its CPU across threads', async () => {
  // Eight threads, two of them spinning: the tick-based source covers them all.
  const script = 'import threading, time\n' +
    'def spin():\n    while True: pass\n' +
    'for i in range(8 - 1):\n' +
    '    threading.Thread(target=spin if i < 2 else time.sleep, args=() if i < 2 else (60,),' +
    ' daemon=True).start()\n' +
    'time.sleep(60)\n';
  const child = spawn('python3', ['-c', script], { stdio: 'ignore' });
  try {
    await waitFor(() => {
      try { return statusThreads(child.pid) === 8; } catch { return false; }
    }, { what: 'eight threads', ms: 10000 });
    const cpus = onlineCpus();
    const { lines, mean, independent } = await watchAndCompare(child.pid, cpus);
    for (const l of lines) assert.equal(l.threads, 8);
    assert.equal(statusThreads(child.pid), 8);
    assert.ok(Math.abs(mean - independent) <= TOLERANCE,
      `agent ${mean.toFixed(1)} % vs /proc ${independent.toFixed(1)} %`);
    assert.ok(independent > 10, `the threads spin: ${independent.toFixed(1)} %`);
  } finally {
    await stopChild(child);
  }
});

test('watch stops with exit 1 when the process exits, and refuses bad usage', async () => {
  const child = spawn('/bin/sleep', ['1.5'], { stdio: 'ignore' });
  const r = await run(['debug', 'watch', '--pid', String(child.pid), '--seconds', '10']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`process ${child.pid} exited`));
  const none = await run(['debug', 'watch', '--pid', '999999999']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no such process/);
  const usage = await run(['debug', 'watch']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--pid PID is required/);
});
