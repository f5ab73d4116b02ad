// The profilers through the whole chain: a policy on the server triggers an
// ON_CPU and an OFF_CPU task in the agent; the profilers' slices go up the
// uplink; the server's flame graph of each task shows the fixture's split
// (75/25) and blocking pattern with the folded conventions of profiler.h.
import test from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, startProcess, kill } from './agent_lib.mjs';

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
        seenSplit = true;
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
