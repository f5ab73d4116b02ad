// The end-to-end acceptance test of `contprof up --demo` (issue 10): the demo
// runs one cycle of its compressed schedule and each misbehaviour must have
// produced exactly one task of the right target, on the right service, with
// the right cause, started while it misbehaved (nothing during the calm);
// the CPU task's flame graph must name the guilty function; the UI (Debian's
// chromium through playwright-core) must show the tasks with their causes and
// the guilty function in the flame graph; Ctrl-C must stop everything, demo
// processes included. The UI's screenshots land in build/test-artifacts/webui/
// (demo-task-cpu.png is the README's picture, docs/images/ui-task.png).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, run, waitFor } from './lib.mjs';
import { api } from './server_lib.mjs';
import { launchBrowser, ARTIFACTS } from './browser_lib.mjs';

// warm-up, trouble, calm (s): the cycle is cpu, errors, slow, threads. The
// warm-up covers the agent's start: loading the HTTP monitor's BPF programs
// when the first HTTP policy arrives can hold its loop for seconds on a busy
// machine.
const SCHEDULE = [20, 10, 8];
// How long after a misbehaviour ends its window may still hold, and how late
// the server may learn of a task (ms).
const LATE_MS = 5000 + 1500;
const EXPECTED = {
  cpu: { service: 'backend', target: 'ON_CPU', monitor: 'PROCESS_CPU' },
  errors: { service: 'frontend', target: 'NETWORK', monitor: 'HTTP_ERROR_RATE', uri: '^/api/checkout' },
  slow: { service: 'frontend', target: 'OFF_CPU', monitor: 'HTTP_AVG_RESPONSE_TIME' },
  threads: { service: 'backend', target: 'OFF_CPU', monitor: 'PROCESS_THREAD_COUNT' },
};

// The phases the demo's load generator announced: [{name, begin, end}].
function phases(stderr) {
  return [...stderr.matchAll(/\[phase (\w+) (\d+)\.\.(\d+)\]/g)]
    .map((m) => ({ name: m[1], begin: Number(m[2]), end: Number(m[3]) }));
}

// The user frame each folded stack ended in, summed: {frame: count}.
function userLeaves(folded) {
  const leaves = {};
  for (const line of folded.split('\n')) {
    const m = line.match(/^(.*) (\d+)$/);
    if (!m) continue;
    const user = m[1].split(';').filter((f) => !f.endsWith('_[k]'));
    const leaf = user[user.length - 1];
    leaves[leaf] = (leaves[leaf] || 0) + Number(m[2]);
  }
  return leaves;
}

// The share of the weight of the folded stacks matching re.
function weightShare(folded, re) {
  let total = 0, matching = 0;
  for (const line of folded.split('\n')) {
    const m = line.match(/^(.*) (\d+)$/);
    if (!m) continue;
    total += Number(m[2]);
    if (re.test(m[1])) matching += Number(m[2]);
  }
  return total ? matching / total : 0;
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code !== 'ESRCH'; }
}

test('up --demo: each misbehaviour is caught once, by the right policy, and explained', { timeout: 150000 }, async (t) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-demo-'));
  const child = start(['up', '--demo', '--listen', '127.0.0.1:0', '--data', data],
    { env: { ...process.env, CONTPROF_DEMO_SCHEDULE: SCHEDULE.join(',') } });
  const pids = [];
  let browser = null; // launched during the last calm, when the load matters least
  try {
    const url = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`up exited early: ${child.err()}`);
      const m = child.out().match(/API and UI:\s+(http:\/\/127\.0\.0\.1:\d+)/);
      return m ? m[1] : null;
    }, { what: 'up --demo running', ms: 15000 });
    assert.match(child.out(), /contprof tasks --server/);
    assert.match(child.out(), /contprof flame TASK_ID --format svg/);
    const ui = child.out().match(/look at:\s+(\S+\/ui\/services\/backend)/);
    assert.ok(ui, child.out());
    assert.equal((await api(ui[1], 'GET', '')).status, 200, 'the UI page printed');

    // The demo's policies are in the store, as documents anyone can edit.
    const fe = await api(url, 'GET', '/api/v1/services/frontend/policy');
    assert.equal(fe.status, 200, fe.text);
    const net = fe.json.targets.find((t) => t.target === 'NETWORK');
    assert.equal(net.items[0].monitor, 'HTTP_ERROR_RATE');
    assert.equal(net.items[0].uri_regex, '^/api/checkout');
    const be = await api(url, 'GET', '/api/v1/services/backend/policy');
    assert.deepEqual(be.json.targets.map((t) => t.items[0].monitor).sort(),
      ['PROCESS_CPU', 'PROCESS_THREAD_COUNT']);

    // The demo's processes are mapped into their services.
    const procs = {};
    for (const service of ['frontend', 'backend', 'demo-load']) {
      procs[service] = await waitFor(async () => {
        const r = await api(url, 'GET', `/api/v1/processes?service=${service}`);
        return r.json.find((p) => alive(p.pid));
      }, { what: `the demo's ${service} process`, ms: 15000 });
      pids.push(procs[service].pid);
    }
    const serviceOf = (id) => Object.keys(procs).find((s) => procs[s].id === id);

    // One whole cycle, up to the calm after the threads phase (the next cycle
    // starts after it, with the same tasks silenced).
    const threads = await waitFor(() => phases(child.err()).find((p) => p.name === 'threads'),
      { what: 'the threads phase', ms: 100000, every: 250 });
    // Chromium starts in seconds on a busy host: meanwhile, not after. The
    // threads phase counts threads, which a busy CPU does not change.
    browser = launchBrowser({ width: 1280, height: 1400 });
    browser.catch(() => {}); // awaited below; a failure shows there
    await waitFor(() => Date.now() > threads.end + LATE_MS, { what: 'the cycle to end', ms: 30000, every: 250 });
    const seen = phases(child.err());
    const tasks = (await api(url, 'GET', '/api/v1/tasks')).json;

    const trouble = seen.filter((p) => EXPECTED[p.name]);
    assert.deepEqual(trouble.map((p) => p.name), ['cpu', 'errors', 'slow', 'threads'], child.err());
    assert.equal(tasks.length, 4, `one task per misbehaviour, none in the calm: ${JSON.stringify(tasks, null, 1)}`);
    const byPhase = {};
    for (const phase of trouble) {
      const want = EXPECTED[phase.name];
      const during = tasks.filter((x) => x.start_time >= phase.begin && x.start_time <= phase.end + LATE_MS);
      assert.equal(during.length, 1, `${phase.name}: tasks ${JSON.stringify(during)}`);
      const task = during[0];
      assert.equal(task.trigger, 'POLICY');
      assert.equal(task.target, want.target, `${phase.name}: ${JSON.stringify(task)}`);
      assert.equal(task.cause.monitor, want.monitor, `${phase.name}: ${JSON.stringify(task.cause)}`);
      assert.ok(task.cause.matched >= task.cause.count, JSON.stringify(task.cause));
      assert.ok(task.cause.peak >= task.cause.threshold, JSON.stringify(task.cause));
      assert.ok(task.cause.message.includes(want.monitor), task.cause.message);
      if (want.uri) assert.equal(task.cause.uri, want.uri);
      assert.equal(task.service, want.service, JSON.stringify(task));
      if (want.target !== 'NETWORK') assert.equal(serviceOf(task.process_id), want.service, JSON.stringify(task));
      byPhase[phase.name] = task;
      t.diagnostic(`${phase.name}: ${task.target} on ${task.process_id} after ${task.start_time - phase.begin} ms: ${task.cause.message}`);
    }

    // The CPU task's flame graph points at the guilty function.
    const cpu = byPhase.cpu;
    const folded = await api(url, 'GET', `/api/v1/tasks/${cpu.id}/flamegraph?format=folded`);
    assert.equal(folded.status, 200, folded.text);
    const leaves = Object.entries(userLeaves(folded.text)).sort((a, b) => b[1] - a[1]);
    assert.ok(leaves.length > 0, 'samples in the ON_CPU flame graph');
    assert.equal(leaves[0][0], 'demo_compute_discount', `hottest user frames: ${JSON.stringify(leaves.slice(0, 5))}`);
    assert.match(folded.text, /pricing_job;demo_compute_discount/, 'with its caller');
    const svg = path.join(data, 'flame.svg');
    const flame = await run(['flame', cpu.id, '--format', 'svg', '-o', svg, '--server', url]);
    assert.equal(flame.code, 0, flame.stderr);
    assert.match(fs.readFileSync(svg, 'utf8'), /demo_compute_discount/);

    // The UI shows what a user comes for: the CPU task's cause and the guilty
    // function in its flame graph, and every task with its cause on the
    // process page. One browser, a few pages: seconds, not minutes.
    const browserStart = Date.now();
    const b = await browser;
    const { page } = b;
    await page.goto(`${url}/ui/tasks/${encodeURIComponent(cpu.id)}`);
    const cause = page.locator('dd.cause');
    await cause.waitFor();
    assert.ok((await cause.innerText()).includes(cpu.cause.message), await cause.innerText());
    assert.match(await cause.innerText(), /PROCESS_CPU ≥ \d+ %: \d+ of the last \d+ s matched/);
    await page.locator('.flame-chart g[name="demo_compute_discount"]').first().waitFor();
    assert.match(await page.locator('.flame-details').innerText(), /samples in total/);
    // The guilty frame is drawn wide once the graph's transition is over.
    await page.waitForFunction(() => [...document.querySelectorAll('.flame-chart g[name="demo_compute_discount"] rect')]
      .some((r) => r.getBoundingClientRect().width > 300));
    await page.waitForTimeout(400); // the other frames' transitions (300 ms) too
    // Clipped inside the tall viewport: a full-page shot would resize the
    // page, and the flame graph would redraw (empty) for it.
    const chart = await page.locator('.flame-chart').boundingBox();
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-task-cpu.png'),
      clip: { x: 0, y: 0, width: 1280, height: Math.min(1400, Math.ceil(chart.y + chart.height + 16)) } });
    await page.goto(`${url}/ui/processes/${encodeURIComponent(procs.backend.id)}`);
    for (const phase of ['cpu', 'threads']) {
      const row = page.locator(`tr[data-task="${byPhase[phase].id}"]`);
      await row.waitFor();
      assert.ok((await row.innerText()).includes(byPhase[phase].cause.message), await row.innerText());
    }
    await b.shot('demo-process-backend');
    assert.deepEqual(b.problems, [], 'no page errors');
    t.diagnostic(`the UI checks took ${Date.now() - browserStart} ms after the cycle`);

    // The piled-up threads show where they wait, most of the time off CPU.
    const offcpu = await api(url, 'GET',
      `/api/v1/tasks/${byPhase.threads.id}/flamegraph?format=folded&aggregate=duration`);
    assert.equal(offcpu.status, 200, offcpu.text);
    const share = weightShare(offcpu.text, /;piled_up_request;demo_wait_for_db_connection;/);
    assert.ok(share > 0.5, `waiting for a db connection: ${share} of the off-CPU time:\n${offcpu.text}`);
    // The slow responses: the frontend waits for the backend.
    const slow = await api(url, 'GET', `/api/v1/tasks/${byPhase.slow.id}/flamegraph?format=folded`);
    assert.match(slow.text, /;demo_call_backend;/);

    // The NETWORK task: it ran (a failure, "not available" included, is a
    // failure of this test) and its topology has the frontend -> backend
    // edge with its 5xx.
    const network = (await api(url, 'GET', `/api/v1/tasks/${byPhase.errors.id}`)).json;
    assert.notEqual(network.status, 'FAILED', `the NETWORK task failed: ${JSON.stringify(network)}`);
    const backendEdge = (topo) => {
      const backend = topo.nodes.find((n) => n.pid === procs.backend.pid);
      return backend && topo.edges.find((e) => e.to === backend.id
        && topo.nodes.find((n) => n.id === e.from)?.pid === procs.frontend.pid
        && e.http?.status?.['5xx'] > 0);
    };
    const topo = await waitFor(async () => {
      const r = await api(url, 'GET', `/api/v1/tasks/${network.id}/topology`);
      return r.status === 200 && r.json?.edges && backendEdge(r.json) ? r.json : null;
    }, { what: 'the frontend -> backend edge with 5xx in the NETWORK topology', ms: 20000, every: 500 });
    const edge = backendEdge(topo);
    assert.ok(edge.http.requests >= edge.http.status['5xx'], JSON.stringify(edge));
    t.diagnostic(`frontend -> backend: ${edge.http.requests} requests, ${edge.http.status['5xx']} 5xx`);
    assert.ok(topo.samples.some((x) => x.status >= 500), 'failed requests sampled');
  } finally {
    const b = browser && await browser.catch(() => null);
    if (b) await b.close();
    const { code } = await child.stop('SIGINT');
    assert.equal(code, 0, child.err());
    assert.match(child.err(), /up: stopped/);
    for (const pid of pids) assert.ok(!alive(pid), `demo process ${pid} left behind`);
    fs.rmSync(data, { recursive: true, force: true });
  }
});

// The children of pid, and theirs: from /proc/*/stat (ppid is field 4).
function descendants(pid) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  const out = [];
  for (let level = [pid]; level.length;) {
    level = [...parent].filter(([, pp]) => level.includes(pp)).map(([p]) => p);
    out.push(...level);
  }
  return out;
}

// A process group with no process left (zombies included: kill() finds those).
function groupGone(pgid) {
  try { process.kill(-pgid, 0); return false; } catch (e) { return e.code === 'ESRCH'; }
}

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group:
// `up` and the demo's processes get it at once, the children usually dying
// of it before `up` asks them to stop. Plain `up` has no child processes, so
// the demo is what this takes. `up` runs in a group of its own (detached:
// a new session), so the test runner is not in it.
test('up --demo: Ctrl-C (SIGINT to the whole process group) stops everything, exit 0', { timeout: 90000 }, async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-demo-'));
  const child = start(['up', '--demo', '--listen', '127.0.0.1:0', '--data', data], { detached: true });
  try {
    const url = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`up exited early: ${child.err()}`);
      const m = child.out().match(/API and UI:\s+(http:\/\/127\.0\.0\.1:\d+)/);
      return m ? m[1] : null;
    }, { what: 'up --demo running', ms: 15000 });
    // Every role running and seen by the agent: the agent, its server and
    // the demo all have something to stop.
    for (const service of ['frontend', 'backend', 'demo-load']) {
      await waitFor(async () => {
        const r = await api(url, 'GET', `/api/v1/processes?service=${service}`);
        return r.json.find((p) => alive(p.pid));
      }, { what: `the demo's ${service} process`, ms: 20000 });
    }
    const kids = descendants(child.pid);
    assert.ok(kids.length >= 3, `up's children: ${kids.join(' ')}`);
    process.kill(-child.pid, 'SIGINT');
    const [code, signal] = await child.exited;
    assert.equal(signal, null, child.err());
    assert.equal(code, 0, child.err());
    assert.match(child.err(), /up: stopped/);
    // `up` reaped its children before it exited: nothing of the group is
    // left, not even a zombie. (A short poll: the kernel may still be
    // tearing the last exited process down.)
    await waitFor(() => groupGone(child.pid), { what: `process group ${child.pid} empty`, ms: 5000 });
    for (const pid of kids) assert.ok(!alive(pid), `child ${pid} left behind`);
  } finally {
    if (!groupGone(child.pid)) process.kill(-child.pid, 'SIGKILL');
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('up --demo refuses a bad schedule and --config', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-demo-'));
  const bad = await run(['up', '--demo', '--data', dir, '--demo-schedule', '5,0,5']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad demo schedule '5,0,5'/);
  const both = await run(['up', '--demo', '--data', dir, '--config', '/dev/null']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--demo uses its own agent config/);
  fs.rmSync(dir, { recursive: true, force: true });
});
