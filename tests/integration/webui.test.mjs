// The web UI in a real browser (Debian's chromium, headless, through
// playwright-core) against a real `contprof server` whose store is seeded
// through the agent API (tests/integration/webui_seed.mjs). Each test walks
// one thing a user does and leaves a screenshot in build/test-artifacts/webui/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, api } from './server_lib.mjs';
import { launchBrowser, ARTIFACTS } from './browser_lib.mjs';
import { seed, P } from './webui_seed.mjs';

const enc = encodeURIComponent;
let srv, b, page, seeded;

describe('web UI', { timeout: 90000 }, () => {
  before(async () => {
    srv = await startServer();
    seeded = await seed(srv.url);
    b = await launchBrowser();
    page = b.page;
  });
  after(async () => {
    if (b) await b.close();
    if (srv) await srv.stop();
    assert.deepEqual(b ? b.problems : [], [], 'no page errors');
  });

  test('the binary serves the embedded UI: index for client routes, hashed assets, gzip, ETag/304', async () => {
    const index = await api(srv.url, 'GET', '/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const route = await api(srv.url, 'GET', '/ui/tasks/some-task');
    assert.equal(route.text, index.text, 'client-side routes get index.html');
    const js = index.text.match(/src="(\/ui\/assets\/main-[\w-]+\.js)"/)[1];
    const asset = await fetch(srv.url + js, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type'), /^text\/javascript/);
    assert.match(asset.headers.get('cache-control'), /immutable/);
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    assert.equal(asset.headers.get('vary'), 'Accept-Encoding');
    assert.ok((await asset.text()).length > 10000, 'fetch inflated the bundle');
    const again = await fetch(srv.url + js, { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': asset.headers.get('etag') } });
    assert.equal(again.status, 304);
    assert.equal((await api(srv.url, 'GET', '/ui/assets/nope.js')).status, 404);
    assert.equal((await api(srv.url, 'GET', '/api/v1/nope')).status, 404, 'the API keeps its 404s');
  });

  test('services: policies at a glance and 48 h trigger counts', async () => {
    await page.goto(srv.url + '/');
    const row = page.locator('tr[data-service="checkout"]');
    await row.waitFor();
    assert.match(await row.locator('.policy-glance').innerText(), /ON_CPU: PROCESS_CPU >= 80 % \(5 of 10 s\)/);
    assert.match(await row.locator('.policy-glance').innerText(), /NETWORK: HTTP_ERROR_RATE >= 10 % \(3 of 30 s\) uri ~ \^\/api\//);
    // POLICY tasks of checkout in the last 48 h: java 3 (two finished, one running),
    // worker 1 (failed), java on web-2 1, network 1 -> 6 in all.
    assert.equal(await row.locator('.triggers').innerText(), '6');
    assert.match(await page.locator('tr[data-service="search"]').innerText(), /no policy/);
    assert.match(await page.locator('header .tz').innerText(), /Europe\/Berlin/);
    await b.shot('01-services');
  });

  test('policy editor: create a policy and see it saved by the server', async () => {
    await page.goto(srv.url + '/ui/services/search/policy');
    await page.getByText('This service has no policy yet').waitFor();
    await page.selectOption('select[name="targets[0].items[0].monitor"]', 'PROCESS_CPU');
    await page.fill('input[name="targets[0].items[0].threshold"]', '75');
    await page.fill('input[name="targets[0].items[0].count"]', '3');
    await page.fill('input[name="targets[0].items[0].period"]', '6');
    await page.fill('input[name="targets[0].silence"]', '900');
    await page.getByRole('button', { name: 'Add item' }).click();
    await page.selectOption('select[name="targets[0].items[1].monitor"]', 'HTTP_AVG_RESPONSE_TIME');
    assert.equal(await page.locator('[data-place="targets[0].items[1]"] .unit').innerText(), 'ms', 'threshold unit follows the monitor');
    await page.fill('input[name="targets[0].items[1].threshold"]', '250.5');
    await page.fill('input[name="targets[0].items[1].count"]', '5');
    await page.fill('input[name="targets[0].items[1].period"]', '10');
    await page.selectOption('select[name="targets[0].items[1].uri_mode"]', 'list');
    await page.fill('textarea[name="targets[0].items[1].uri_list"]', '/search\n/suggest');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('.save-status.ok').waitFor();
    const saved = await api(srv.url, 'GET', '/api/v1/services/search/policy');
    assert.equal(saved.status, 200);
    assert.deepEqual(saved.json, {
      service: 'search',
      targets: [{ target: 'ON_CPU', silence: 900, items: [
        { monitor: 'PROCESS_CPU', threshold: 75, period: 6, count: 3 },
        { monitor: 'HTTP_AVG_RESPONSE_TIME', threshold: 250.5, period: 10, count: 5, uri_list: ['/search', '/suggest'] }] }],
    });
    await b.shot('02-policy-saved');
    await page.goto(srv.url + '/ui/services');
    assert.match(await page.locator('tr[data-service="search"] .policy-glance').innerText(), /PROCESS_CPU >= 75 % \(3 of 6 s\)/);
  });

  test('policy editor: remove an item, save, then delete the policy', async () => {
    await page.goto(srv.url + '/ui/services/search/policy');
    await page.locator('[data-place="targets[0].items[1]"]').waitFor();
    await page.locator('[data-place="targets[0].items[1]"] .remove-item').click();
    assert.equal(await page.locator('[data-place="targets[0].items[1]"]').count(), 0);
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('.save-status.ok').waitFor();
    const saved = await api(srv.url, 'GET', '/api/v1/services/search/policy');
    assert.deepEqual(saved.json.targets[0].items, [{ monitor: 'PROCESS_CPU', threshold: 75, period: 6, count: 3 }]);
    await page.getByRole('button', { name: 'Delete policy' }).click();
    await page.getByRole('button', { name: 'Really delete' }).click();
    await page.getByText('Policy deleted').waitFor();
    assert.equal((await api(srv.url, 'GET', '/api/v1/services/search/policy')).status, 404);
  });

  test('policy editor: the server\'s validation errors appear next to their fields', async () => {
    await page.goto(srv.url + '/ui/services/checkout/policy');
    await page.locator('input[name="targets[0].items[0].period"]').waitFor();
    await page.fill('input[name="targets[0].items[0].period"]', '0');
    await page.fill('input[name="targets[0].items[0].threshold"]', '180');
    await page.fill('input[name="targets[1].items[0].count"]', '31');
    await page.getByRole('button', { name: 'Save policy' }).click();
    const period = page.locator('.field-error[data-for="targets[0].items[0].period"]');
    await period.waitFor();
    assert.match(await period.innerText(), /0 is out of range \[1, 3600\]/);
    assert.match(await page.locator('.field-error[data-for="targets[0].items[0].threshold"]').innerText(), /180 is out of range/);
    // A reason about the item as a whole sits on the item.
    assert.match(await page.locator('.field-error[data-for="targets[1].items[0]"]').innerText(), /count 31 > period 30/);
    assert.match(await page.locator('.save-status.error').innerText(), /Not saved/);
    // The input sits in the same field box as its error.
    const field = page.locator('.field', { has: page.locator('input[name="targets[0].items[0].period"]') });
    assert.equal(await field.locator('.field-error').count(), 1);
    await b.shot('03-policy-errors');
    const stored = await api(srv.url, 'GET', '/api/v1/services/checkout/policy');
    assert.equal(stored.json.targets[0].items[0].period, 10, 'nothing was stored');
  });

  test('monitoring summary: instances and processes by 48 h trigger count', async () => {
    await page.goto(srv.url + '/ui/services/checkout/monitoring');
    await page.locator('table.monitoring').waitFor();
    const rows = await page.locator('table.monitoring tbody tr').allInnerTexts();
    assert.match(rows[0], /web-1[\s\S]*\t4\t/);
    assert.match(rows[1], /java\t812\t3\t/);
    assert.match(rows[2], /worker\t813\t1\t/);
    assert.match(rows[3], /web-2[\s\S]*\t1\t/);
    // Collapse an instance: its processes go, the others stay.
    await page.getByRole('button', { name: /web-1/ }).click();
    assert.equal(await page.locator('table.monitoring tbody tr').count(), 3);
    await page.getByRole('button', { name: /web-1/ }).click();
    await b.shot('04-monitoring');
    // Another target: NETWORK counts only the network task.
    await page.selectOption('select[name="target"]', 'NETWORK');
    await page.waitForFunction(() => /\t1\t/.test(document.querySelector('table.monitoring tbody tr')?.innerText || '') &&
      document.querySelectorAll('table.monitoring tbody tr').length === 5);
    assert.match(await page.locator('table.monitoring tbody tr').nth(1).innerText(), /java\t812\t1\t/);
  });

  test('process view: timeline of tasks coloured by target, hover shows the cause', async () => {
    await page.goto(srv.url + `/ui/processes/${enc(P.java)}`);
    await page.locator('.timeline-svg').waitFor();
    const bars = page.locator('rect.task-bar');
    assert.equal(await bars.count(), 5, 'five tasks of java in the last 48 h');
    const net = page.locator(`rect.task-bar[data-task="${seeded.tasks.network}"]`);
    assert.equal(await net.getAttribute('fill'), '#2a9d5c');
    await net.hover({ force: true });
    const tip = page.locator('.timeline-tip');
    await tip.waitFor();
    assert.match(await tip.innerText(), /HTTP_ERROR_RATE >= 10 % \(3 of 30 s\): 4 slots matched/);
    assert.match(await tip.innerText(), /NETWORK · policy · FINISHED/);
    await b.shot('05-process-timeline');
    // The wheel zooms in around the pointer: the window narrows, the right
    // edge (where the pointer is) stays about put.
    const label = page.locator('.timeline .range-label');
    const before = await label.innerText();
    const svgBox = await page.locator('.timeline-svg').boundingBox();
    await page.mouse.move(svgBox.x + svgBox.width - 5, svgBox.y + 30);
    for (let i = 0; i < 10; i++) await page.mouse.wheel(0, -100);
    await page.waitForFunction((old) => document.querySelector('.timeline .range-label').textContent !== old, before);
    const span = await page.evaluate(() => {
      const rect = document.querySelector('rect.task-bar[data-task$=":oncpu:3"]');
      return rect ? Number(rect.getAttribute('width')) : 0;
    });
    assert.ok(span > 3, `the running task widens when zoomed in (${span} px)`);
    // Zoom to the last hour: only the OFF_CPU task and the running one stay.
    await page.getByRole('button', { name: '1 h', exact: true }).click();
    assert.equal(await page.locator('table.tasks tbody tr').count(), 3);
    await page.getByRole('button', { name: '48 h' }).click();
    assert.equal(await page.locator('table.tasks tbody tr').count(), 5);
  });

  test('task detail: the flame graph with its top frames, search and % of total; exports', async () => {
    await page.locator(`rect.task-bar[data-task="${seeded.tasks.before}"]`).click({ force: true });
    await page.waitForURL(/\/ui\/tasks\//);
    const frame = page.locator('.flame-chart g[name="parse_json"]');
    await frame.waitFor();
    assert.equal(await page.locator('.flame-chart g[name="render"]').count(), 1);
    assert.equal(await page.locator('.flame-chart g[name="[unknown]"]').count(), 1);
    assert.match(await page.locator('.flame-details').innerText(), /61 samples in total/);
    // the agent's totals of the task
    assert.equal(await page.locator('dd.stack-stats').innerText(), 'truncated user stacks: 0.0 % of 61 samples');
    await frame.hover();
    const tip = page.locator('.d3-flame-graph-tip');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.innerText(), /parse_json\s+37 samples · 60\.66% of total/);
    await page.fill('input[aria-label="search frames"]', 'PARSE');
    assert.match(await page.locator('.flame-details').innerText(), /1 frame match: 37 samples, 60\.66% of total/);
    await b.shot('06-task-flame');
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'svg' }).click()]);
    const svgPath = path.join(ARTIFACTS, 'task-flame.svg');
    await svg.saveAs(svgPath);
    const text = fs.readFileSync(svgPath, 'utf8');
    assert.match(text, /^<\?xml[\s\S]*<svg /);
    assert.match(text, /<title>parse_json \(37 samples, 60\.66%\)<\/title>/);
    const [folded] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'folded' }).click()]);
    const foldedPath = path.join(ARTIFACTS, 'task.folded');
    await folded.saveAs(foldedPath);
    assert.match(fs.readFileSync(foldedPath, 'utf8'), /^main;handle;parse_json 37$/m);
    // pprof: the file when this server build encodes it, else its reason.
    const direct = await api(srv.url, 'GET', `/api/v1/tasks/${enc(seeded.tasks.before)}/flamegraph?format=pprof`);
    if (direct.status === 200) {
      const [pprof] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'pprof' }).click()]);
      const pprofPath = path.join(ARTIFACTS, 'task.pb.gz');
      await pprof.saveAs(pprofPath);
      const gz = fs.readFileSync(pprofPath);
      assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b], 'a gzip\'d profile');
    } else {
      await page.getByRole('button', { name: 'pprof' }).click();
      const err = page.locator('.state.error');
      await err.waitFor();
      assert.equal(await err.locator('li').innerText(), direct.json.errors[0]);
    }
  });

  test('a task links to a comparison with the previous task of its process and target', async () => {
    await page.goto(srv.url + `/ui/tasks/${enc(seeded.tasks.after)}`);
    await page.getByRole('link', { name: 'Compare with the previous ON_CPU task' }).click();
    await page.waitForURL((u) => u.pathname === '/ui/compare' && u.searchParams.get('a') === seeded.tasks.before &&
      u.searchParams.get('b') === seeded.tasks.after);
    await page.locator('.flame-chart g[name="compress"]').waitFor();
  });

  test('OFF_CPU task: by duration or by count', async () => {
    await page.goto(srv.url + `/ui/tasks/${enc(seeded.tasks.offcpu)}`);
    await page.locator('.flame-chart g[name="futex_wait"]').waitFor();
    assert.match(await page.locator('.flame-details').innerText(), /902\.0 ms off-CPU in total/);
    assert.equal(await page.locator('dd.stack-stats').innerText(), 'truncated user stacks: 0.0 % of 45 blocks');
    await page.getByRole('button', { name: 'Count' }).click();
    await page.waitForFunction(() => /45 switches in total/.test(document.querySelector('.flame-details')?.textContent || ''));
  });

  test('NETWORK task: the topology, and an edge\'s latency, status classes and samples', async () => {
    await page.goto(srv.url + `/ui/tasks/${enc(seeded.tasks.network)}`);
    await page.locator('.topology-graph canvas').first().waitFor();
    const edgeRows = page.locator('table.edges tbody tr');
    assert.equal(await edgeRows.count(), 2);
    assert.match(await edgeRows.nth(0).innerText(), /checkout\/java \(812\)\t10\.0\.0\.9:5432\tclient\t310/);
    // Tap the HTTP edge on the graph itself, at its rendered midpoint.
    const box = await page.locator('.topology-graph').boundingBox();
    const mid = await page.evaluate(() => document.querySelector('.topology-graph').cy.$('edge[idx = 1]').renderedMidpoint());
    await page.mouse.click(box.x + mid.x, box.y + mid.y);
    const detail = page.locator('.edge-info');
    await detail.waitFor();
    assert.match(await detail.locator('h3').innerText(), /checkout\/java \(812\) → checkout\/java \(900\)/);
    assert.match(await detail.locator('.status-classes').innerText(), /2xx: 118[\s\S]*5xx: 2/);
    assert.match(await detail.locator('.latency').innerText(), /avg 4\.1 ms · p50 3\.2 ms · p90 7\.9 ms · p99 21 ms/);
    assert.match(await detail.locator('table.samples').innerText(), /GET\t\/api\/cart\t500\t812/);
    await b.shot('07-network-topology');
    await edgeRows.nth(0).click();
    assert.match(await detail.locator('h3').innerText(), /→ 10\.0\.0\.9:5432/);
    assert.match(await detail.innerText(), /No slow or failed request was sampled/);
  });

  test('compare two tasks: a differential flame graph of what grew and what shrank', async () => {
    await page.goto(srv.url + `/ui/processes/${enc(P.java)}`);
    await page.locator(`tr[data-task="${seeded.tasks.before}"] input[type=checkbox]`).check();
    await page.locator(`tr[data-task="${seeded.tasks.after}"] input[type=checkbox]`).check();
    await page.getByRole('button', { name: 'Compare selected' }).click();
    await page.waitForURL(/\/ui\/compare\?/);
    await page.locator('.flame-chart g[name="compress"]').waitFor();
    // Widths from "after": 92 samples; "before" (61) scaled by 92/61.
    assert.match(await page.locator('.flame-details').innerText(), /92 samples in total/);
    const fill = async (name) => page.locator(`.flame-chart g[name="${name}"] rect`).getAttribute('fill');
    const rgb = (s) => s.match(/\d+/g).map(Number);
    const [rr, , rb] = rgb(await fill('render'));
    assert.ok(rr > rb, `render grew: red (${await fill('render')})`);
    const [pr, , pb] = rgb(await fill('parse_json'));
    assert.ok(pb > pr, `parse_json shrank: blue (${await fill('parse_json')})`);
    const changes = await page.locator('table.changes tbody tr').allInnerTexts();
    assert.match(changes[0], /parse_json\t56\t10\t−46/);
    assert.match(changes[1], /render\t15\t50\t\+35/);
    await b.shot('08-compare');
    await page.selectOption('.toolbar select', 'before');
    await page.locator('.flame-chart g[name="[unknown]"]').waitFor();
  });

  test('metrics: the monitored value with the policy threshold and task starts', async () => {
    await page.goto(srv.url + `/ui/processes/${enc(P.java)}/metrics`);
    const chart = page.locator('.metric[data-monitor="PROCESS_CPU"]');
    await chart.locator('canvas').waitFor();
    assert.match(await chart.locator('h3').innerText(), /ON_CPU fires at ≥ 80 % in 5 of 10 s/);
    // The default window is the last 30 min: the running task's start is in it.
    assert.match(await chart.innerText(), /1 task start marked/);
    assert.match(await page.locator('.metric[data-monitor="HTTP_ERROR_RATE"]').innerText(), /No value in this window/);
    await b.shot('09-metrics');
  });

  test('profile now: a manual task waits for its agent', async () => {
    await page.goto(srv.url + `/ui/processes/${enc(P.worker)}`);
    await page.selectOption('form.profile-now select[name="target"]', 'OFF_CPU');
    await page.fill('form.profile-now input[name="duration"]', '30');
    await page.getByRole('button', { name: 'Start' }).click();
    const status = page.locator('form.profile-now .save-status');
    await status.waitFor();
    assert.match(await status.innerText(), /is pending/);
    await page.locator('table.tasks tbody tr', { hasText: 'MANUAL' }).waitFor();
    const tasks = await api(srv.url, 'GET', `/api/v1/tasks?process=${enc(P.worker)}`);
    const manual = tasks.json.find((t) => t.trigger === 'MANUAL');
    assert.equal(manual.target, 'OFF_CPU');
    assert.equal(manual.duration, 30);
    assert.equal(manual.status, 'PENDING');
    await b.shot('10-profile-now');
  });

  test('a narrow window: no page scrolls sideways, the views still read', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    for (const [name, p] of [['11-narrow-services', '/'], ['12-narrow-process', `/ui/processes/${enc(P.java)}`],
      ['13-narrow-policy', '/ui/services/checkout/policy'], ['14-narrow-task', `/ui/tasks/${enc(seeded.tasks.before)}`]]) {
      await page.goto(srv.url + p);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${p} scrolls sideways by ${overflow} px`);
      await b.shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test('a server with a token: the editor asks for it and saves with it', async () => {
    const tokenFile = path.join(srv.dir, 'token');
    fs.writeFileSync(tokenFile, 's3cret-token\n', { mode: 0o600 });
    const tsrv = await startServer({ args: ['--token-file', tokenFile] });
    try {
      await page.goto(tsrv.url + '/ui/services/billing/policy');
      await page.fill('input[name="targets[0].items[0].threshold"]', '90');
      await page.fill('input[name="targets[0].items[0].count"]', '2');
      await page.fill('input[name="targets[0].items[0].period"]', '4');
      await page.getByRole('button', { name: 'Save policy' }).click();
      await page.locator('input[name="token"]').waitFor();
      assert.match(await page.locator('.field-error[data-for=""]').innerText(), /missing or wrong write token/);
      await page.fill('input[name="token"]', 's3cret-token');
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.locator('.save-status.ok').waitFor();
      const saved = await api(tsrv.url, 'GET', '/api/v1/services/billing/policy');
      assert.deepEqual(saved.json.targets[0].items[0], { monitor: 'PROCESS_CPU', threshold: 90, period: 4, count: 2 });
    } finally {
      await tsrv.stop();
    }
  });

  test('loading and empty states say what is happening', async () => {
    await page.goto(srv.url + `/ui/processes/${enc(P.search)}`);
    await page.getByText('this process has not been profiled yet').waitFor();
    await page.goto(srv.url + '/ui/tasks/no-such-task');
    assert.match(await page.locator('.state.error').innerText(), /unknown task 'no-such-task'/);
    await page.goto(srv.url + '/ui/nowhere');
    assert.match(await page.locator('main').innerText(), /No page at \/ui\/nowhere/);
  });
});
