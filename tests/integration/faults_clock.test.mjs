// Fault: the agent's wall clock steps back an hour, then forward a day, as
// NTP or an operator may do (libfaketime moves CLOCK_REALTIME of the agent
// only; its monotonic clock, the server and the rest of the host are left
// alone). Windows and silence run on the monotonic clock: the policy still
// triggers within its count, the silence still holds after a day's jump,
// the task still lasts its duration; reported times stay on one timeline
// (end = start + time run, slices in order inside the task), so the server
// refuses nothing. And a short silence ends on time across a step: with the
// wall clock an hour back in the middle of it, the next task starts once the
// silence has passed in real time, neither before nor an hour later.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, kill } from './agent_lib.mjs';
import { burner, agentMetrics, sqlite, taskOf, sleep } from './faults_lib.mjs';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
const BURN = burner('clock');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-clock-'));
const offsetFile = path.join(dir, 'offset');
test.after(() => { BURN.remove(); fs.rmSync(dir, { recursive: true, force: true }); });

const CONFIG = `processes:
  - match: {comm: "^${BURN.comm}$"}
    service: clock
    process: "{comm}"
profiling: {flush_interval: 1}
listen: 127.0.0.1:0
`;
const DURATION_S = 8;

test('wall clock steps leave windows, silence, durations and reported times sane', { timeout: 120000 }, async () => {
  assert.ok(fs.existsSync(FAKETIME), `${FAKETIME} (Debian package faketime, scripts/setup.sh)`);
  fs.writeFileSync(offsetFile, '+0\n');
  const store = { url: `sqlite:${path.join(dir, 'store.db')}`, dir, drop: () => {} };
  const server = await startServer({ store });
  const target = BURN.start();
  const agent = await startAgent(server.url, CONFIG, { env: {
    LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    // The sanitizer runtime must come first unless told otherwise.
    ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
  } });
  try {
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=clock')).json?.length,
      { what: 'burner registered', ms: 15000 });
    // An hour back, then the policy: the windows fill by ticks, not by wall time.
    fs.writeFileSync(offsetFile, '-3600\n');
    await sleep(1500);
    const put = await api(server.url, 'PUT', '/api/v1/services/clock/policy', { service: 'clock', targets: [
      { target: 'ON_CPU', duration: DURATION_S, silence: 3600,
        items: [{ monitor: 'PROCESS_CPU', threshold: 3, period: 3, count: 2 }] }] });
    assert.equal(put.status, 200, put.text);
    const appliedAt = await waitFor(() => /policy of clock applied/.test(agent.err()) && Date.now(),
      { what: 'policy applied', ms: 10000 });
    const first = await waitFor(async () => (await api(server.url, 'GET', '/api/v1/tasks?service=clock')).json?.[0],
      { what: 'a task', ms: 20000 });
    const reportedAt = Date.now();
    assert.ok(reportedAt - appliedAt <= 8000, `triggered ${reportedAt - appliedAt} ms after the policy (count 2)`);
    assert.ok(Math.abs(first.start_time - (Date.now() - 3600e3)) < 30000,
      `start_time ${first.start_time} on the agent's (stepped) wall clock`);
    // A day forward in the middle of the task.
    await sleep(2500);
    fs.writeFileSync(offsetFile, '+86400\n');
    const t = await waitFor(async () => {
      const x = await taskOf(server.url, first.id);
      return x.status !== 'RUNNING' ? x : null;
    }, { what: 'task ended', ms: (DURATION_S + 10) * 1000 });
    const ranMs = Date.now() - reportedAt;
    assert.equal(t.status, 'FINISHED', JSON.stringify(t));
    assert.ok(t.end_time - t.start_time >= (DURATION_S - 1) * 1000 && t.end_time - t.start_time <= (DURATION_S + 2) * 1000,
      `duration ${t.end_time - t.start_time} ms for a ${DURATION_S} s task: ${JSON.stringify(t)}`);
    assert.ok(ranMs <= (DURATION_S + 6) * 1000, `the task ended after its duration of monotonic time (${ranMs} ms)`);
    // Its slices: numbered 0..n-1, one after the other, inside the task.
    const slices = sqlite(path.join(dir, 'store.db'), `SELECT s.slice, s.start_ms, s.end_ms FROM slices s
      JOIN tasks k ON k.seq = s.task_seq WHERE k.id = '${t.id}' ORDER BY s.slice`);
    assert.ok(slices.length >= DURATION_S / 2, `slices: ${JSON.stringify(slices)}`);
    slices.forEach((s, i) => {
      assert.equal(s.slice, i);
      assert.ok(s.end_ms >= s.start_ms && s.start_ms >= t.start_time - 1000 && s.end_ms <= t.end_time + 1000,
        `slice ${JSON.stringify(s)} inside ${t.start_time}..${t.end_time}`);
      if (i) assert.ok(s.start_ms >= slices[i - 1].end_ms - 1, 'slices in order');
    });
    // The silence (3600 s of monotonic time) holds although the wall clock
    // is now a day past the start.
    await sleep(5000);
    assert.equal((await api(server.url, 'GET', '/api/v1/tasks?service=clock')).json.length, 1, 'no task during silence');
    const m = await agentMetrics(agent);
    assert.equal(m.messages_rejected_total, 0, 'the server refused nothing');
    assert.equal(m.spool_records, 0);
  } finally {
    kill(target);
    await agent.stop();
    await server.stop();
  }
});

// The agent's real time of each "task ID started" line, as this process sees
// them arrive (polled every 50 ms; the same delay applies to every line).
function taskStarts(agent) {
  const seen = new Map();
  const timer = setInterval(() => {
    for (const m of agent.err().matchAll(/task (\S+) started/g)) if (!seen.has(m[1])) seen.set(m[1], Date.now());
  }, 50);
  return { seen, stop: () => clearInterval(timer) };
}

test('a silence ends after its length of real time although the wall clock steps back an hour in it', { timeout: 180000 }, async () => {
  const SILENCE_S = 20, TASK_S = 4;
  fs.writeFileSync(offsetFile, '+0\n');
  const store = { url: `sqlite:${path.join(dir, 'silence.db')}`, dir, drop: () => {} };
  const server = await startServer({ store });
  const target = BURN.start();
  const agent = await startAgent(server.url, CONFIG, { env: {
    LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
  } });
  const starts = taskStarts(agent);
  try {
    await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=clock')).json?.length,
      { what: 'burner registered', ms: 15000 });
    // The burner is always above the threshold: a task starts whenever the
    // silence lets one.
    const put = await api(server.url, 'PUT', '/api/v1/services/clock/policy', { service: 'clock', targets: [
      { target: 'ON_CPU', duration: TASK_S, silence: SILENCE_S,
        items: [{ monitor: 'PROCESS_CPU', threshold: 3, period: 2, count: 1 }] }] });
    assert.equal(put.status, 200, put.text);
    await waitFor(() => starts.seen.size >= 1, { what: 'a first task', ms: 30000 });
    const [firstId, firstAt] = [...starts.seen][0];
    // The first task is over (TASK_S) and its silence runs: an hour back.
    await sleep(Math.max(0, firstAt + (TASK_S + 2) * 1000 - Date.now()));
    const stepAt = Date.now();
    assert.ok(stepAt - firstAt < SILENCE_S * 1000 - 3000, `the step falls inside the silence (${stepAt - firstAt} ms in)`);
    fs.writeFileSync(offsetFile, '-3600\n');
    await waitFor(() => starts.seen.size >= 2, { what: 'a second task after the silence', ms: (SILENCE_S + 45) * 1000 })
      .catch((e) => { throw new Error(`${e.message}\n${agent.err().slice(-2000)}`); });
    const [secondId, secondAt] = [...starts.seen][1];
    const gapMs = secondAt - firstAt;
    console.log(`# second task ${gapMs} ms after the first (silence ${SILENCE_S} s, wall clock stepped back 3600 s `
      + `${stepAt - firstAt} ms in)`);
    assert.ok(gapMs >= (SILENCE_S - 5) * 1000, `not before the silence ends: ${gapMs} ms`);
    assert.ok(gapMs <= (SILENCE_S + 40) * 1000, `when the silence ends, not an hour later: ${gapMs} ms`);
    // The step did happen: the second task's start is on the stepped clock.
    // (The agent logs a task before the server has heard of it.)
    const serverTask = async (id) => {
      const r = await api(server.url, 'GET', `/api/v1/tasks/${id}`);
      return r.status === 200 ? r.json : null;
    };
    const first = await waitFor(() => serverTask(firstId), { what: 'the first task on the server', ms: 15000 });
    const second = await waitFor(() => serverTask(secondId), { what: 'the second task on the server', ms: 15000 });
    assert.ok(second.start_time < first.start_time - 3000e3,
      `second start_time ${second.start_time} about an hour before the first's ${first.start_time}`);
  } finally {
    starts.stop();
    fs.writeFileSync(offsetFile, '+0\n');
    kill(target);
    await agent.stop();
    await server.stop();
  }
});
