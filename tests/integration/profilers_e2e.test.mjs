// The profilers through the whole chain: a policy on the server triggers an
// ON_CPU and an OFF_CPU task in the agent; the profilers' slices go up the
// uplink; the server's flame graph of each task shows the fixture's split
// (75/25) and blocking pattern with the folded conventions of profiler.h.
// The tasks carry the agent's stack stats (samples, truncated user stacks,
// lost), which `contprof task` shows; `contprof flame --format pprof` of a
// real task decodes to the same stacks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, run, waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, startProcess, kill } from './agent_lib.mjs';
import { decodeProfile, profileTotal } from './pprof_lib.mjs';

const CONFIG = `processes:
  - match: {comm: "cpuratio|blocker"}
    service: profiled
    process: "{comm}"
profiling: {oncpu_hz: 199, duration: 6, silence: 3600, flush_interval: 2}
`;

function folded(text) {
  return text.trim().split('\n').filter(Boolean).map((l) => {
    const i = l.lastIndexOf(' ');
    return { frames: l.slice(0, i).split(';'), value: Number(l.slice(i + 1)) };
  });
}

test('policy-triggered ON_CPU and OFF_CPU tasks end in flame graphs on the server', async () => {
  const server = await startServer();
  const burner = startProcess('cpuratio', ['1']);
  const blocker = startProcess('blocker');
  let agent;
  try {
    const policy = {
      service: 'profiled',
      targets: [
        { target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 1, period: 2, count: 1 }] },
        { target: 'OFF_CPU', items: [{ monitor: 'PROCESS_THREAD_COUNT', threshold: 1, period: 2, count: 1 }] },
      ],
    };
    assert.equal((await api(server.url, 'PUT', '/api/v1/services/profiled/policy', policy)).status, 200);
    agent = await startAgent(server.url, CONFIG);
    const tasks = await waitFor(async () => {
      const r = await api(server.url, 'GET', '/api/v1/tasks?service=profiled');
      // ON_CPU of the burner, OFF_CPU of both (maybe ON_CPU of the blocker).
      const all = r.json || [];
      const done = all.filter((t) => t.status === 'FINISHED');
      return done.length >= 3 && done.length === all.length ? done : null;
    }, { ms: 40000, every: 500, what: 'ON_CPU and OFF_CPU tasks finished' });

    // ON_CPU of the burner: the 3:1 split, user frames then kernel frames.
    let seenSplit = false, seenBlocks = false;
    for (const t of tasks) {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${t.id}/flamegraph?format=folded`);
      assert.equal(r.status, 200, r.text);
      const stacks = folded(r.text);
      if (t.target === 'ON_CPU' && stacks.some((s) => s.frames.includes('burn_three_quarters'))) {
        const three = stacks.filter((s) => s.frames.includes('burn_three_quarters')).reduce((a, s) => a + s.value, 0);
        const one = stacks.filter((s) => s.frames.includes('burn_one_quarter')).reduce((a, s) => a + s.value, 0);
        const share = three / (three + one);
        assert.ok(Math.abs(share - 0.75) <= 0.05, `split ${three}/${one}`);
        for (const s of stacks) {
          const k = s.frames.findIndex((f) => f.endsWith('_[k]'));
          if (k >= 0) assert.ok(s.frames.slice(k).every((f) => f.endsWith('_[k]')), s.frames.join(';'));
        }
        // The agent's totals: every sample of the flame graph, few of them
        // with a truncated user stack (frame pointers, and CFI unwinding).
        const { json: task } = await api(server.url, 'GET', `/api/v1/tasks/${t.id}`);
        const all = stacks.reduce((a, s) => a + s.value, 0);
        assert.ok(task.stack_stats, JSON.stringify(task));
        assert.equal(task.stack_stats.samples, all, 'stack_stats.samples: the flame graph\'s total');
        assert.equal(task.stack_stats.truncated,
          stacks.filter((s) => s.frames[0] === '[truncated]').reduce((a, s) => a + s.value, 0));
        assert.equal(task.stack_stats.lost,
          stacks.filter((s) => s.frames.some((f) => f.startsWith('[lost]'))).reduce((a, s) => a + s.value, 0));
        assert.ok(task.stack_stats.truncated <= 0.05 * all, `truncated ${task.stack_stats.truncated} of ${all}`);
        seenSplit = true;
      }
      if (t.target === 'OFF_CPU') {
        const { json: task } = await api(server.url, 'GET', `/api/v1/tasks/${t.id}`);
        assert.equal(task.stack_stats?.samples, stacks.reduce((a, s) => a + s.value, 0), JSON.stringify(task));
      }
      if (t.target === 'OFF_CPU' && stacks.some((s) => s.frames.includes('sleep_block'))) {
        const d = await api(server.url, 'GET', `/api/v1/tasks/${t.id}/flamegraph?format=folded&aggregate=duration`);
        assert.equal(d.status, 200, d.text);
        const byDuration = folded(d.text);
        const sleepNs = byDuration.filter((s) => s.frames.includes('sleep_block')).reduce((a, s) => a + s.value, 0);
        const futexNs = byDuration.filter((s) => s.frames.includes('futex_block')).reduce((a, s) => a + s.value, 0);
        assert.ok(sleepNs > 0 && futexNs > 0, d.text);
        // 100 ms asleep per 10 ms in the futex wait.
        assert.ok(Math.abs(sleepNs / futexNs - 10) <= 2.5, `sleep/futex time ${sleepNs}/${futexNs}`);
        seenBlocks = true;
      }
    }
    assert.ok(seenSplit, 'an ON_CPU flame graph of the burner');
    assert.ok(seenBlocks, 'an OFF_CPU flame graph of the blocker');
  } finally {
    kill(burner);
    kill(blocker);
    if (agent) await agent.stop();
    await server.stop();
  }
});

// Started by hand (manual tasks) with CFI unwinding off, so the frame-pointer
// walk alone decides: the clang fixture with frame pointers reports a small
// truncated share, the same kind of code built without them a large one.
const FP_CONFIG = `processes:
  - match: {comm: "^(cpuratio|nofp)$"}
    service: truncation
    process: "{comm}"
profiling: {oncpu_hz: 199, silence: 3600, flush_interval: 1, unwind: frame_pointers}
`;

test('ON_CPU tasks report their truncated share (frame pointers: small; none: large); pprof of real data', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-e2e-nofp-'));
  const nofpBin = path.join(dir, 'nofp');
  execFileSync('clang', ['-O2', '-fomit-frame-pointer', '-o', nofpBin, path.join(ROOT, 'tests/fixtures/lib/nofp.c')]);
  const server = await startServer();
  const fp = startProcess('cpuratio', ['1']);
  const nofp = startProcess(nofpBin);
  const cli = (args) => run(args, { env: { ...process.env, CONTPROF_SERVER: server.url } });
  let agent;
  try {
    agent = await startAgent(server.url, FP_CONFIG);
    const procs = await waitFor(async () => {
      const list = (await api(server.url, 'GET', '/api/v1/processes?service=truncation')).json || [];
      const byName = Object.fromEntries(list.map((p) => [p.name, p]));
      return byName.cpuratio && byName.nofp ? byName : null;
    }, { ms: 20000, every: 250, what: 'both processes registered' });
    const ids = {};
    for (const name of ['cpuratio', 'nofp']) {
      const r = await api(server.url, 'POST', '/api/v1/tasks', { process_id: procs[name].id, target: 'ON_CPU', duration: 4 });
      assert.equal(r.status, 201, r.text);
      ids[name] = r.json.id;
    }
    const tasks = {};
    for (const name of ['cpuratio', 'nofp']) {
      tasks[name] = await waitFor(async () => {
        const t = (await api(server.url, 'GET', `/api/v1/tasks/${ids[name]}`)).json;
        return t && t.status === 'FINISHED' ? t : null;
      }, { ms: 40000, every: 500, what: `the ${name} task finished` });
    }
    for (const [name, low] of [['cpuratio', true], ['nofp', false]]) {
      const t = tasks[name];
      const flame = folded((await api(server.url, 'GET', `/api/v1/tasks/${t.id}/flamegraph?format=folded`)).text);
      const all = flame.reduce((a, s) => a + s.value, 0);
      const truncated = flame.filter((s) => s.frames[0] === '[truncated]').reduce((a, s) => a + s.value, 0);
      // [lost] (user or kernel stack not recorded: a loaded host's slow
      // drains may lose a few) is counted apart
      const lost = flame.filter((s) => s.frames.some((f) => f.startsWith('[lost]'))).reduce((a, s) => a + s.value, 0);
      assert.ok(all > 100, `${name}: ${all} samples`);
      assert.deepEqual(t.stack_stats, { samples: all, truncated, lost }, `${name}: ${JSON.stringify(t)}`);
      const share = truncated / (all - lost);
      if (low) assert.ok(share <= 0.05, `${name}: ${truncated} of ${all - lost} recorded stacks truncated`);
      else assert.ok(share >= 0.9, `${name}: ${truncated} of ${all - lost} recorded stacks truncated`);
      // `contprof task ID` says so
      const shown = await cli(['task', t.id]);
      assert.equal(shown.code, 0, shown.stderr);
      const m = shown.stdout.match(/^truncated user stacks: ([\d.]+) % of (\d+) samples, (\d+) lost$/m);
      assert.ok(m, shown.stdout);
      assert.equal(Number(m[2]), all);
      assert.ok(Math.abs(Number(m[1]) - (100 * truncated) / all) < 0.06, `${m[1]} % shown, ${truncated} of ${all} stored`);
      assert.equal(Number(m[3]), lost);
    }

    // pprof of the frame-pointer task: a gzip'd protobuf that decodes to
    // the flame graph's stacks and total.
    const pbPath = path.join(dir, 'cpu.pprof');
    const pb = await cli(['flame', tasks.cpuratio.id, '--format', 'pprof', '-o', pbPath]);
    assert.equal(pb.code, 0, pb.stderr);
    const bytes = fs.readFileSync(pbPath);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    const prof = decodeProfile(bytes);
    assert.deepEqual(prof.sampleTypes[0], ['samples', 'count']);
    assert.equal(profileTotal(prof), tasks.cpuratio.stack_stats.samples);
    const three = profileTotal(prof, 0, (f) => f.includes('burn_three_quarters'));
    const one = profileTotal(prof, 0, (f) => f.includes('burn_one_quarter'));
    assert.ok(three > 0 && one > 0 && Math.abs(three / (three + one) - 0.75) <= 0.05, `pprof split ${three}/${one}`);
    const calls = (f, caller, callee) => f.includes(caller) && f.indexOf(caller) < f.indexOf(callee);
    assert.ok(profileTotal(prof, 0, (f) => calls(f, 'work', 'burn_three_quarters')) === three,
      'frames root first: work() calls the burner in every sample');
  } finally {
    kill(fp);
    kill(nofp);
    if (agent) await agent.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('profiling.offcpu_min_block_us reaches the agent\'s OFF_CPU tasks', async () => {
  // 200 ms sleeps and 1 ms futex waits cut at 120 ms (as the debug profile
  // test of --min-block-us): the task keeps the sleeps only.
  const server = await startServer();
  const blocker = startProcess('blocker', ['200', '1']);
  let agent;
  try {
    const policy = {
      service: 'profiled',
      targets: [{ target: 'OFF_CPU', items: [{ monitor: 'PROCESS_THREAD_COUNT', threshold: 1, period: 2, count: 1 }] }],
    };
    assert.equal((await api(server.url, 'PUT', '/api/v1/services/profiled/policy', policy)).status, 200);
    agent = await startAgent(server.url,
      CONFIG.replace('flush_interval: 2}', 'flush_interval: 2, offcpu_min_block_us: 120000}'));
    const task = await waitFor(async () => {
      const r = await api(server.url, 'GET', '/api/v1/tasks?service=profiled');
      return (r.json || []).find((t) => t.target === 'OFF_CPU' && t.status === 'FINISHED');
    }, { ms: 40000, every: 500, what: 'OFF_CPU task finished' });
    const r = await api(server.url, 'GET', `/api/v1/tasks/${task.id}/flamegraph?format=folded`);
    assert.equal(r.status, 200, r.text);
    const stacks = folded(r.text);
    const count = (name) => stacks.filter((s) => s.frames.includes(name)).reduce((a, s) => a + s.value, 0);
    assert.ok(count('sleep_block') >= 5, r.text);
    assert.equal(count('futex_block'), 0, r.text);
  } finally {
    kill(blocker);
    if (agent) await agent.stop();
    await server.stop();
  }
});
