// CFI unwinding of user stacks end to end through `contprof debug profile`:
// real BPF programs on stock Debian binaries without frame pointers (nginx
// under wrk, python3) and a C fixture built with -fomit-frame-pointer that
// calls qsort with a comparator. Properties checked: the share of samples
// whose stack reaches the thread entry, the expected functions in order, and
// agreement with `perf record --call-graph dwarf` on the same workload.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './lib.mjs';
import {
  PYTHON, PY_BUSY, PY_SLEEPY, parseFolded, total, reachesEntry, inOrder, spawnWithPid, kill,
  buildQsortFixture, startNginx, startWrk, topStacks, perfDwarf,
} from './unwind_lib.mjs';

const ENTRY_SHARE_MIN = 0.95;
// The box is shared: a raised priority keeps the workloads on a CPU.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-unwind-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function profile(pids, seconds, extra = [], target = 'ON_CPU') {
  const r = await run(['debug', 'profile', ...pids.flatMap((p) => ['--pid', String(p)]),
    '--target', target, '--seconds', String(seconds), ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return parseFolded(r.stdout);
}

function describe(stacks) {
  return stacks.sort((a, b) => b.count - a.count).slice(0, 8)
    .map((s) => `${s.count} ${s.stack}`).join('\n');
}

test('C without frame pointers calling qsort: both threads unwind to their entry', async () => {
  const bin = buildQsortFixture(dir);
  const fx = await spawnWithPid('nice', ['-n', '-10', bin]);
  try {
    const stacks = await profile([fx.pid], 3);
    const all = total(stacks);
    const entry = total(stacks, reachesEntry);
    assert.ok(all >= 40, `only ${all} samples`);
    assert.ok(entry / all >= ENTRY_SHARE_MIN, `${entry} of ${all} reach the entry\n${describe(stacks)}`);
    const main = ['_start', 'main', 'sort_forever', 'sort_round', 'compare_keys'];
    const thread = ['start_thread', 'sorter_thread', 'sort_forever', 'sort_round', 'compare_keys'];
    const inMain = total(stacks, (s) => inOrder(s.frames, main));
    const inThread = total(stacks, (s) => inOrder(s.frames, thread));
    assert.ok(inMain > 0 && inThread > 0, `main ${inMain}, thread ${inThread}\n${describe(stacks)}`);
    // Every sample in the comparator shows who called it, through qsort.
    const cmp = stacks.filter((s) => s.frames.includes('compare_keys'));
    for (const s of cmp) {
      assert.ok(inOrder(s.frames, main) || inOrder(s.frames, thread), s.stack);
      assert.ok(s.frames.some((f) => /^(qsort|qsort_r|msort_with_tmp)/.test(f)), s.stack);
    }
    // The same process without CFI unwinding: the frame-pointer walk stops.
    const fp = await profile([fx.pid], 2, ['--frame-pointers-only']);
    const fpTruncated = total(fp, (s) => s.frames[0] === '[truncated]');
    assert.ok(fpTruncated / total(fp) > 0.5, `fp only: ${fpTruncated} of ${total(fp)} truncated`);
  } finally {
    kill(fx.child);
  }
});

test('python3 busy loop: stacks reach _start through the interpreter', async () => {
  const fx = await spawnWithPid('nice', ['-n', '-10', PYTHON, '-c', PY_BUSY]);
  try {
    const stacks = await profile([fx.pid], 3);
    const all = total(stacks);
    const entry = total(stacks, reachesEntry);
    assert.ok(all >= 40, `only ${all} samples`);
    assert.ok(entry / all >= ENTRY_SHARE_MIN, `${entry} of ${all} reach the entry\n${describe(stacks)}`);
    const order = ['_start', '__libc_start_call_main', 'Py_BytesMain', 'Py_RunMain',
      'PyEval_EvalCode', '_PyEval_EvalFrameDefault'];
    const ordered = total(stacks, (s) => inOrder(s.frames, order));
    assert.ok(ordered / all >= ENTRY_SHARE_MIN, `${ordered} of ${all} in order\n${describe(stacks)}`);
  } finally {
    kill(fx.child);
  }
});

test('nginx under wrk: worker stacks reach _start through the master', async () => {
  const ngx = await startNginx(dir);
  const wrk = startWrk(`http://127.0.0.1:${ngx.port}/`, 8);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const stacks = await profile(ngx.workers, 3);
    const all = total(stacks);
    const entry = total(stacks, reachesEntry);
    assert.ok(all >= 30, `only ${all} samples`);
    assert.ok(entry / all >= ENTRY_SHARE_MIN, `${entry} of ${all} reach the entry\n${describe(stacks)}`);
    const order = ['_start', 'main', 'ngx_master_process_cycle', 'ngx_spawn_process',
      'ngx_process_events_and_timers'];
    const ordered = total(stacks, (s) => inOrder(s.frames, order));
    assert.ok(ordered / all >= ENTRY_SHARE_MIN, `${ordered} of ${all} in order\n${describe(stacks)}`);
    assert.ok(total(stacks, (s) => s.frames.includes('ngx_http_core_run_phases')) > 0,
      describe(stacks));
  } finally {
    kill(wrk);
    await ngx.stop();
  }
});

test('OFF_CPU: python3 sleeping in a loop blocks under complete stacks', async () => {
  const fx = await spawnWithPid(PYTHON, ['-c', PY_SLEEPY]);
  try {
    const stacks = await profile([fx.pid], 3, [], 'OFF_CPU');
    const all = total(stacks);
    const entry = total(stacks, reachesEntry);
    assert.ok(all >= 100, `only ${all} blocks`);
    // The first blocks at a site come before user space has unwound it.
    assert.ok(entry / all >= ENTRY_SHARE_MIN, `${entry} of ${all} reach the entry\n${describe(stacks)}`);
    const order = ['_start', 'Py_BytesMain', 'PyEval_EvalCode', '_PyEval_EvalFrameDefault',
      'clock_nanosleep'];
    const ordered = total(stacks, (s) => inOrder(s.frames, order));
    assert.ok(ordered / all >= ENTRY_SHARE_MIN, `${ordered} of ${all} in order\n${describe(stacks)}`);
  } finally {
    kill(fx.child);
  }
});

test('OFF_CPU: nginx workers under wrk block in epoll_wait under complete stacks', async () => {
  const ngx = await startNginx(dir);
  const wrk = startWrk(`http://127.0.0.1:${ngx.port}/`, 8);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const stacks = await profile(ngx.workers, 3, [], 'OFF_CPU');
    const all = total(stacks);
    const entry = total(stacks, reachesEntry);
    assert.ok(all >= 100, `only ${all} blocks`);
    assert.ok(entry / all >= ENTRY_SHARE_MIN, `${entry} of ${all} reach the entry\n${describe(stacks)}`);
    const order = ['_start', 'main', 'ngx_master_process_cycle', 'ngx_process_events_and_timers',
      'epoll_wait'];
    assert.ok(total(stacks, (s) => inOrder(s.frames, order)) > all / 2, describe(stacks));
  } finally {
    kill(wrk);
    await ngx.stop();
  }
});

test('agrees with perf record --call-graph dwarf on the top-10 stacks', async () => {
  const fx = await spawnWithPid('nice', ['-n', '-10', PYTHON, '-c', PY_BUSY]);
  try {
    const [ours, perf] = await Promise.all([profile([fx.pid], 6), perfDwarf(fx.pid, 6, 99, dir)]);
    const a = topStacks(ours, 10), b = topStacks(perf, 10);
    const inPerf = new Set(b.map((s) => s.stack));
    const shared = a.filter((s) => inPerf.has(s.stack));
    const show = () => `ours:\n${a.map((s) => `${(s.share * 100).toFixed(1)} ${s.stack}`).join('\n')}` +
      `\nperf:\n${b.map((s) => `${(s.share * 100).toFixed(1)} ${s.stack}`).join('\n')}`;
    assert.equal(a[0].stack, b[0].stack, show());
    // Rare stacks rank differently from run to run; the ones that matter do not.
    const weighty = a.filter((s) => s.share >= 0.03);
    assert.ok(weighty.every((s) => inPerf.has(s.stack)), show());
    assert.ok(shared.length >= Math.min(a.length, b.length) * 0.7, show());
    // And the weighty stacks carry about the same share of samples: the two
    // tools sample at different moments, so within three standard errors of
    // the difference of two sampled shares (at least 10 points).
    const n1 = total(ours), n2 = total(perf);
    for (const s of weighty) {
      const p = b.find((x) => x.stack === s.stack);
      const pooled = (s.share * n1 + p.share * n2) / (n1 + n2);
      const bound = Math.max(0.1, 3 * Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)));
      assert.ok(Math.abs(s.share - p.share) <= bound,
        `${s.stack}: ${(s.share * 100).toFixed(1)} vs ${(p.share * 100).toFixed(1)} % ` +
        `(${n1} and ${n2} samples; bound ${(bound * 100).toFixed(1)} points)\n${show()}`);
    }
  } finally {
    kill(fx.child);
  }
});
