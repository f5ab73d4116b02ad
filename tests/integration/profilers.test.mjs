// The on-CPU and off-CPU profilers end to end through `contprof debug
// profile`: real BPF programs, real fixture processes (tests/fixtures), real
// symbolization. Figures are properties (ratios, sample totals against the
// CPU time the process used), never timings of our own code.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, start, run, waitFor } from './lib.mjs';

const FIXTURES = path.join(ROOT, process.env.CONTPROF_FIXTURES || 'build/fixtures');
const SPLIT_HZ = 499;

// Starts a fixture; resolves with {child, pid, out()} once it printed its pid.
async function fixture(file, args = []) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const pid = await waitFor(() => {
    const m = out.match(/^(\d+)\n/);
    return m && Number(m[1]);
  }, { what: `${path.basename(file)} to start` });
  return { child, pid, out: () => out };
}

function stop(fx) {
  if (fx.child.exitCode === null && fx.child.signalCode === null) fx.child.kill('SIGKILL');
}

// Timeslices every thread of pid has run so far (schedstat's third field:
// times it was switched in).
function timeslices(pid) {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try { n += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[2]); } catch { /* thread gone */ }
  }
  return n;
}

// Parses "stack count [ns]" lines into [{stack, frames, count, ns}].
function parseFolded(text) {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const parts = l.split(' ');
    let ns = 0;
    if (/^\d+$/.test(parts.at(-2) ?? '') && /^\d+$/.test(parts.at(-1))) ns = Number(parts.pop());
    const count = Number(parts.pop());
    const stack = parts.join(' ');
    return { stack, frames: stack.split(';'), count, ns };
  });
}

const sum = (stacks, pred) => stacks.filter(pred).reduce((a, s) => a + s.count, 0);
const sumNs = (stacks, pred) => stacks.filter(pred).reduce((a, s) => a + s.ns, 0);

// Runs `debug profile` on pid; resolves {stacks, stderr, code, slices}
// where slices is the number of timeslices the process ran while profiled
// (read around the profiler's own window, so slightly more).
async function profile(pid, target, seconds, extra = []) {
  const p = start(['debug', 'profile', '--pid', String(pid), '--target', target,
    '--seconds', String(seconds), ...extra]);
  let k0 = null;
  try { k0 = timeslices(pid); } catch { /* exited already */ }
  await waitFor(() => p.err().includes('profiling') || p.exitCode !== null,
    { ms: 15000, what: 'profiler loaded' });
  const [code] = await p.exited;
  let k1 = null;
  try { k1 = timeslices(pid); } catch { /* exited meanwhile */ }
  return { stacks: parseFolded(p.out()), stderr: p.err(), code,
    slices: k0 !== null && k1 !== null ? k1 - k0 : null };
}

// The ON_CPU sample total against the CPU time the processes received while
// sampled, which `debug profile` measures around its own sampling window
// (schedstat, ns) and prints. Per-CPU cpu-clock ticks come every 1/hz s
// whatever runs, so a process gets one sample per tick that falls in one of
// its timeslices: hz x CPU seconds on average. A timeslice of length L
// holds floor(L x hz) or one more tick: a rounding of variance at most
// min(1/4, L x hz), so the total's variance is at most min(K/4, expected)
// over K timeslices. With whole CPUs to itself (few long slices) that is
// nothing and the issue's 5 % holds; on a loaded host a workload switched in
// and out thousands of times a second gets a nearly Poisson count (sigma =
// sqrt(expected): 2 % of 2 500). Then the bound is 4 sigma, plus the samples
// seen at a switch-in (finish_task_switch: hrtimer ticks due while the CPU
// switched tasks with interrupts off, charged to the task switched in — as
// many may have gone to other tasks at our switch-outs). Returns
// {expected, cpuS, tolerance, why}.
function sampleBound(r, hz) {
  const m = r.stderr.match(/ran ([\d.]+) s on CPU while sampled/);
  assert.ok(m, `debug profile prints the CPU time sampled: ${r.stderr}`);
  const cpuS = Number(m[1]), expected = cpuS * hz;
  assert.ok(r.slices !== null, 'the process ran to the end of the profile');
  const sigma = Math.sqrt(Math.min(r.slices / 4, expected));
  const switchIn = sum(r.stacks, (s) => s.frames.some((f) => /^finish_task_switch(\.[\w.]+)?_\[k\]$/.test(f)));
  const issue = 0.05 * expected, noise = 4 * sigma + switchIn;
  return { expected, cpuS, tolerance: Math.max(issue, noise),
    why: noise > issue ? `4 sigma ${(4 * sigma).toFixed(0)} over ${r.slices} timeslices + ${switchIn} at switch-in`
      : `5 % (${r.slices} timeslices)` };
}

test('ON_CPU: two functions burning 3:1 split 75/25, samples = hz x CPU seconds', async (t) => {
  // A high priority keeps the workload on its CPUs despite other loads.
  const fx = await fixture('nice', ['-n', '-10', path.join(FIXTURES, 'cpuratio'), '2']);
  try {
    // 499 Hz: enough samples that the split's sampling error (~1 point even
    // when other loads leave the workload half a CPU) stays well inside 3.
    const r = await profile(fx.pid, 'ON_CPU', 6, ['--flush-interval', '1', '--hz', String(SPLIT_HZ)]);
    assert.equal(r.code, 0, r.stderr);
    const three = sum(r.stacks, (s) => s.frames.includes('burn_three_quarters'));
    const one = sum(r.stacks, (s) => s.frames.includes('burn_one_quarter'));
    const share = three / (three + one);
    t.diagnostic(`split ${three}/${one} = ${(share * 100).toFixed(1)} %`);
    assert.ok(Math.abs(share - 0.75) <= 0.03,
      `75/25 split within 3 points: ${three}/${one} = ${(share * 100).toFixed(1)} %`);
    // Every sample of the process, across six drains, exactly once.
    const total = sum(r.stacks, () => true);
    const b = sampleBound(r, SPLIT_HZ);
    t.diagnostic(`samples ${total}, expected ${b.expected.toFixed(0)} (${b.cpuS.toFixed(3)} CPU s), ` +
      `off by ${(100 * (total - b.expected) / b.expected).toFixed(2)} %, bound ${(100 * b.tolerance / b.expected).toFixed(1)} %: ${b.why}`);
    assert.ok(Math.abs(total - b.expected) <= b.tolerance,
      `samples ${total} vs ${SPLIT_HZ} Hz x ${b.cpuS.toFixed(3)} CPU s = ${b.expected.toFixed(0)} ± ${b.tolerance.toFixed(0)} (${b.why})`);
    // Frame pointers all the way: nothing truncated. Lost: at most a stray
    // sample whose stack found its stack map bucket taken by another stack
    // (a hash collision among the drain's stacks, mostly kernel ones, in
    // 8 192 buckets: one sample now and then on a loaded host).
    assert.equal(sum(r.stacks, (s) => s.frames[0] === '[truncated]'), 0);
    const lost = sum(r.stacks, (s) => s.stack.includes('[lost]'));
    assert.ok(lost <= 0.01 * total, `${lost} of ${total} samples lost`);
    assert.ok(r.stacks.every((s) => s.frames.includes('work')), 'every stack passes through work()');
    assert.match(r.stderr, /truncated 0 \(0\.0 %\)/);
  } finally { stop(fx); }
});

test('ON_CPU: stacks a full stack map cannot take are counted under [lost]', async (t) => {
  // manystacks spreads its samples over 1 024 distinct user stacks; stack
  // maps of 16 entries take a handful per drain (get_stackid fails with
  // EEXIST on a taken bucket, ENOMEM when no entry is free), so most samples
  // are lost (with the default 8 192 entries, a few %: hash collisions).
  const hz = 999;
  const fx = await fixture('nice', ['-n', '-10', path.join(FIXTURES, 'manystacks')]);
  try {
    const r = await profile(fx.pid, 'ON_CPU', 4, ['--hz', String(hz), '--flush-interval', '1',
      '--stack-map-entries', '16']);
    assert.equal(r.code, 0, r.stderr);
    const total = sum(r.stacks, () => true);
    const lost = sum(r.stacks, (s) => s.stack.includes('[lost]'));
    const m = r.stderr.match(/; lost (\d+)/);
    t.diagnostic(`${lost} of ${total} samples lost; ${r.stderr.trim().split('\n').at(-1)}`);
    assert.ok(lost > total / 2, `[lost] frames: ${lost} of ${total}: ${r.stacks.slice(0, 5).map((s) => s.stack).join('\n')}`);
    assert.ok(m && Number(m[1]) === lost, `the lost counter printed is the [lost] samples (${lost}): ${r.stderr}`);
    // Counted, not dropped: the total still matches the CPU time sampled.
    const b = sampleBound(r, hz);
    assert.ok(Math.abs(total - b.expected) <= b.tolerance,
      `samples ${total} (${lost} lost) vs ${b.expected.toFixed(0)} ± ${b.tolerance.toFixed(0)} (${b.why})`);
    // A stack the map did take still resolves to the fixture's frames.
    assert.ok(r.stacks.some((s) => s.frames.includes('leaf') && s.frames.includes('main')),
      r.stacks.slice(0, 5).map((s) => s.stack).join('\n'));
  } finally { stop(fx); }
});

test('ON_CPU: kernel frames follow user frames, marked _[k]', async () => {
  const fx = await fixture(path.join(FIXTURES, 'cpuratio'), ['1']);
  try {
    // cpuratio reads its thread CPU clock through a system call.
    const r = await profile(fx.pid, 'ON_CPU', 4, ['--hz', '499']);
    assert.equal(r.code, 0, r.stderr);
    const withKernel = r.stacks.filter((s) => s.frames.some((f) => f.endsWith('_[k]')));
    assert.ok(withKernel.length > 0, `some samples in the kernel: ${JSON.stringify(r.stacks.slice(0, 5))}`);
    for (const s of withKernel) {
      const firstK = s.frames.findIndex((f) => f.endsWith('_[k]'));
      assert.ok(s.frames.slice(firstK).every((f) => f.endsWith('_[k]')), `kernel frames last: ${s.stack}`);
      assert.ok(firstK > 0, `user frames first: ${s.stack}`);
    }
  } finally { stop(fx); }
});

// The blocker fixture's 100 ms sleeps and 10 ms futex waits, profiled with
// `extra` options; the printed attach mode must match `mode`.
async function offcpuDurations(extra, mode) {
  // Real-time priority: off-CPU time includes the wait for a CPU after the
  // wake-up, which other loads on a shared machine would stretch. What is
  // left of that stretch (a vCPU the host runs late) is in the fixture's own
  // log of each block's duration, which the totals are held to.
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-blocker-')), 'blocks');
  process.env.BLOCKER_LOG = log;
  const fx = await fixture('chrt', ['-f', '10', path.join(FIXTURES, 'blocker')]);
  delete process.env.BLOCKER_LOG;
  try {
    const t0 = process.hrtime.bigint();
    const r = await profile(fx.pid, 'OFF_CPU', 5, ['--flush-interval', '1', ...extra]);
    const t1 = process.hrtime.bigint();
    assert.equal(r.code, 0, r.stderr);
    // The blocks that ended while the profiler ran, per kind, in order.
    const lived = { s: [], f: [] };
    for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
      const [kind, end, dur] = line.split(' ');
      if (lived[kind] && BigInt(end) >= t0 && BigInt(end) <= t1) lived[kind].push(Number(dur));
    }
    const isSleep = (s) => s.frames.includes('sleep_block');
    const isFutex = (s) => s.frames.includes('futex_block');
    const sleeps = sum(r.stacks, isSleep), futexes = sum(r.stacks, isFutex);
    assert.ok(sleeps >= 30 && futexes >= 30, `blocks seen: ${sleeps} sleeps, ${futexes} futex waits`);
    assert.ok(Math.abs(sleeps - futexes) <= 2, `one futex wait per sleep: ${sleeps} vs ${futexes}`);
    for (const [name, pred, count, nominalNs, kind] of [['nanosleep', isSleep, sleeps, 100e6, 's'],
      ['futex', isFutex, futexes, 10e6, 'f']]) {
      // The profiler starts within the window and ends at its end: its
      // blocks are the last ones the fixture logged.
      assert.ok(lived[kind].length >= count, `${name}: the fixture logged ${lived[kind].length} blocks, the profiler saw ${count}`);
      const own = lived[kind].slice(-count);
      const total = sumNs(r.stacks, pred), expected = own.reduce((a, d) => a + d, 0);
      const msg = `${name}: ${(total / 1e6).toFixed(1)} ms off CPU vs ${(expected / 1e6).toFixed(1)} ms ` +
        `the fixture spent in its ${count} blocks (nominal ${count} x ${nominalNs / 1e6} ms)`;
      console.log(`# ${msg}`);
      assert.ok(Math.abs(total - expected) / expected <= 0.05, msg);
      // And the fixture blocked about as long as asked (a run-queue wait or a
      // late vCPU adds to it; nothing takes from it).
      assert.ok(expected >= count * nominalNs * 0.99, msg);
    }
    // The blocking system calls show in the kernel part, the BPF machinery does not.
    const sleepStack = r.stacks.find(isSleep);
    assert.ok(sleepStack.frames.some((f) => /nanosleep.*_\[k\]$/.test(f)), sleepStack.stack);
    assert.ok(sleepStack.frames.includes('schedule_[k]'), sleepStack.stack);
    assert.ok(!sleepStack.stack.includes('bpf_prog_'), sleepStack.stack);
    assert.match(r.stderr, mode);
  } finally {
    stop(fx);
    fs.rmSync(path.dirname(log), { recursive: true, force: true });
  }
}

test('OFF_CPU: 100 ms sleeps and 10 ms futex waits weighted by their durations', async () => {
  // tp_btf where the kernel has BTF (as here), else the raw tracepoint.
  await offcpuDurations([], /off CPU \((tp_btf|raw_tp)\)/);
});

test('OFF_CPU: the raw tracepoint fallback gives the same durations', async () => {
  // Forced: on this kernel the probe never falls back by itself.
  await offcpuDurations(['--offcpu-attach', 'raw_tp'], /off CPU \(raw_tp\)/);
});

test('OFF_CPU: a block spanning several drains keeps its stack and whole duration', async () => {
  // 2.5 s asleep per round, drained every second: the stack recorded when
  // the thread blocked must still resolve when it wakes up two drains later.
  const fx = await fixture('chrt', ['-f', '10', path.join(FIXTURES, 'blocker'), '2500', '10']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = await profile(fx.pid, 'OFF_CPU', 7, ['--flush-interval', '1']);
    assert.equal(r.code, 0, r.stderr);
    const isSleep = (s) => s.frames.includes('sleep_block');
    const count = sum(r.stacks, isSleep), total = sumNs(r.stacks, isSleep);
    assert.ok(count >= 1 && count <= 3, `long blocks: ${count}`);
    assert.ok(Math.abs(total / count - 2500e6) / 2500e6 <= 0.05, `${(total / count / 1e6).toFixed(1)} ms per block`);
    assert.equal(sum(r.stacks, (s) => s.stack.includes('[lost]')), 0, r.stacks.map((s) => s.stack).join('\n'));
  } finally { stop(fx); }
});

test('OFF_CPU: --min-block-us leaves shorter blocks out', async () => {
  // 200 ms sleeps against 1 ms futex waits, cut at 120 ms: a futex block is
  // its wait plus the wait for a CPU after it, so on a loaded host a 10 ms
  // wait against a 50 ms cut was once measured above the cut.
  const fx = await fixture(path.join(FIXTURES, 'blocker'), ['200', '1']);
  try {
    const r = await profile(fx.pid, 'OFF_CPU', 3, ['--min-block-us', '120000']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(sum(r.stacks, (s) => s.frames.includes('sleep_block')) >= 5);
    assert.equal(sum(r.stacks, (s) => s.frames.includes('futex_block')), 0);
  } finally { stop(fx); }
});

test('stripped binary: module+0x frames; symbols return through .gnu_debuglink', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-strip-'));
  const stripped = path.join(dir, 'cpuratio-stripped');
  const linked = path.join(dir, 'cpuratio-linked');
  execFileSync('objcopy', ['--strip-all', path.join(FIXTURES, 'cpuratio'), stripped]);
  execFileSync('objcopy', ['--only-keep-debug', path.join(FIXTURES, 'cpuratio'), `${linked}.debug`]);
  execFileSync('objcopy', ['--strip-all', `--add-gnu-debuglink=${linked}.debug`,
    path.join(FIXTURES, 'cpuratio'), linked]);
  try {
    let fx = await fixture(stripped, ['1']);
    try {
      const r = await profile(fx.pid, 'ON_CPU', 2);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sum(r.stacks, (s) => s.frames.includes('burn_three_quarters')), 0);
      const offsets = sum(r.stacks, (s) => s.frames.some((f) => /^cpuratio-stripped\+0x[0-9a-f]+$/.test(f)));
      assert.ok(offsets > 0, `module+offset frames: ${r.stacks.map((s) => s.stack).join('\n')}`);
    } finally { stop(fx); }
    fx = await fixture(linked, ['1']);
    try {
      const r = await profile(fx.pid, 'ON_CPU', 2);
      assert.ok(sum(r.stacks, (s) => s.frames.includes('burn_three_quarters')) > 0,
        `symbols from the debug file: ${r.stacks.map((s) => s.stack).join('\n')}`);
    } finally { stop(fx); }
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('a deleted binary still resolves (opened through /proc/PID/map_files)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-deleted-'));
  const copy = path.join(dir, 'cpuratio-copy');
  fs.copyFileSync(path.join(FIXTURES, 'cpuratio'), copy);
  fs.chmodSync(copy, 0o755);
  const fx = await fixture(copy, ['1']);
  try {
    // Gone from the file system, directory and all: only the mapping holds it.
    fs.rmSync(dir, { recursive: true, force: true });
    assert.match(fs.readFileSync(`/proc/${fx.pid}/maps`, 'utf8'), /cpuratio-copy \(deleted\)/);
    const r = await profile(fx.pid, 'ON_CPU', 2);
    assert.equal(r.code, 0, r.stderr);
    const all = sum(r.stacks, () => true);
    const named = sum(r.stacks, (s) => s.frames.includes('burn_three_quarters') || s.frames.includes('burn_one_quarter'));
    assert.ok(all > 20 && named > 0.8 * all, `${named} of ${all} samples in the burners:\n${r.stacks.map((s) => s.stack).join('\n')}`);
    assert.ok(sum(r.stacks, (s) => s.frames.includes('work')) > 0.8 * all, 'their caller too');
    assert.equal(sum(r.stacks, (s) => s.stack.includes('cpuratio-copy+0x')), 0, 'no module+offset frames of the binary');
    assert.ok(!r.stacks.some((s) => s.stack.includes('(deleted)')), 'no "(deleted)" in names');
  } finally {
    stop(fx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C++: names are demangled', async () => {
  const fx = await fixture(path.join(FIXTURES, 'cxxburn'));
  try {
    const r = await profile(fx.pid, 'ON_CPU', 2);
    assert.equal(r.code, 0, r.stderr);
    const hits = sum(r.stacks, (s) => s.frames.includes('shapes::Spinner<double>::spin(int)'));
    assert.ok(hits > 0.9 * sum(r.stacks, () => true), r.stacks.map((s) => s.stack).join('\n'));
    assert.ok(!r.stacks.some((s) => s.stack.includes('_ZN6shapes')), 'no mangled names');
  } finally { stop(fx); }
});

test('dlopen mid-task: the new library is symbolized', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-dl-'));
  const lib = path.join(dir, 'libplugin.so');
  execFileSync('clang', ['-shared', '-fPIC', '-O1', '-fno-omit-frame-pointer',
    '-mno-omit-leaf-frame-pointer', '-o', lib, path.join(ROOT, 'tests/fixtures/lib/plugin.c')]);
  const fx = await fixture(path.join(FIXTURES, 'dlopener'), [lib, '1.5']);
  try {
    const r = await profile(fx.pid, 'ON_CPU', 4, ['--flush-interval', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fx.out().includes('loaded'), 'the library was loaded during the task');
    assert.ok(sum(r.stacks, (s) => s.frames.includes('before_dlopen')) > 0);
    assert.ok(sum(r.stacks, (s) => s.frames.includes('plugin_burn')) > 0,
      r.stacks.map((s) => s.stack).join('\n'));
    assert.equal(sum(r.stacks, (s) => s.stack.includes('[unknown]')), 0);
  } finally {
    stop(fx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a process exiting mid-task keeps its resolved frames; the task ends', async () => {
  const fx = await fixture(path.join(FIXTURES, 'cpuratio'), ['1', '2']);
  const began = Date.now();
  const r = await profile(fx.pid, 'ON_CPU', 20);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - began < 10000, 'ended with the process, not after 20 s');
  assert.ok(sum(r.stacks, (s) => s.frames.includes('burn_three_quarters')) > 0,
    r.stacks.map((s) => s.stack).join('\n'));
  assert.equal(sum(r.stacks, (s) => s.stack.includes('[unknown]')), 0);
});

// With CFI unwinding off (--frame-pointers-only); with it on, the same stacks
// are complete (tests/integration/unwind.test.mjs).
test('code without frame pointers shows as [truncated], with its share', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-nofp-'));
  const bin = path.join(dir, 'nofp');
  execFileSync('clang', ['-O2', '-fomit-frame-pointer', '-o', bin,
    path.join(ROOT, 'tests/fixtures/lib/nofp.c')]);
  const fx = await fixture(bin);
  try {
    const r = await profile(fx.pid, 'ON_CPU', 2, ['--frame-pointers-only', '--hz', '499']);
    assert.equal(r.code, 0, r.stderr);
    const all = sum(r.stacks, () => true);
    const truncated = sum(r.stacks, (s) => s.frames[0] === '[truncated]');
    assert.ok(all > 50 && truncated / all > 0.9, `${truncated} of ${all} truncated`);
    assert.ok(sum(r.stacks, (s) => s.frames.includes('nofp_leaf')) > 0, 'the leaf still resolves');
    const m = r.stderr.match(/truncated (\d+) \(([\d.]+) %\)/);
    assert.ok(m && Number(m[1]) === truncated, r.stderr);
  } finally {
    stop(fx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('debug profile: usage errors exit 2; a missing process fails with a reason', async () => {
  assert.equal((await run(['debug', 'profile', '--target', 'ON_CPU'])).code, 2);
  assert.equal((await run(['debug', 'profile', '--pid', '1', '--target', 'NETWORK'])).code, 2);
  assert.equal((await run(['debug', 'profile', '--pid', '1', '--target', 'ON_CPU', '--hz', '0'])).code, 2);
  assert.equal((await run(['debug', 'profile', '--pid', 'x', '--target', 'ON_CPU'])).code, 2);
  // An idle process: nothing sampled, nothing printed, success.
  const idle = spawn('sleep', ['30']);
  try {
    const r = await run(['debug', 'profile', '--pid', String(idle.pid), '--target', 'ON_CPU', '--seconds', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, / 0 samples in 0 stacks/);
  } finally { idle.kill('SIGKILL'); }
  const gone = await run(['debug', 'profile', '--pid', '4194000', '--target', 'ON_CPU', '--seconds', '1']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no such process/);
});
