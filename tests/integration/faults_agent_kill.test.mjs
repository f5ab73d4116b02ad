// Fault: the agent killed with SIGKILL in the middle of an ON_CPU task.
// The kernel must free every BPF program, link and perf event the dead agent
// held (checked by id with bpftool: its programs, its links, and no
// perf-event attachment left running one of its programs); the server closes the task once the
// agent has been silent for --agent-silence; the restarted agent finds the
// task in its journal and reports it FAILED with its own reason, which
// replaces the server's "agent went silent".
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, kill } from './agent_lib.mjs';
import { burner, agentMetrics, serverMetrics, bpfHeld, liveProgIds, liveLinks, perfAttachments, taskOf }
  from './faults_lib.mjs';

const BURN = burner('akill');
test.after(() => BURN.remove());

const CONFIG = `processes:
  - match: {comm: "^${BURN.comm}$"}
    service: akill
    process: "{comm}"
profiling: {flush_interval: 1}
listen: 127.0.0.1:0
`;

test('an agent killed mid-task leaks nothing in the kernel and its task does not stay RUNNING', async () => {
  const SILENCE_S = 12; // above the agent's 10 s keepalive
  const server = await startServer({ args: ['--agent-silence', `${SILENCE_S}s`, '--retention-interval', '1s'] });
  const target = BURN.start();
  let agent = await startAgent(server.url, CONFIG);
  let agent2;
  try {
    const proc = await waitFor(async () => (await api(server.url, 'GET', '/api/v1/processes?service=akill')).json?.[0],
      { what: 'burner registered', ms: 15000 });
    const created = await api(server.url, 'POST', '/api/v1/tasks',
      { process_id: proc.id, target: 'ON_CPU', duration: 300 });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id;
    await waitFor(async () => (await taskOf(server.url, id)).status === 'RUNNING', { what: 'task running', ms: 10000 });
    await waitFor(async () => (await serverMetrics(server.url)).contprof_ingest_profile_slices_total >= 2,
      { what: 'two slices stored', ms: 15000 });
    assert.ok(fs.existsSync(path.join(agent.dir, 'tasks', `${id}.task`)), 'the running task is in the journal');

    const held = bpfHeld(agent.pid);
    assert.ok(held.progs.size > 0, 'the agent holds BPF programs');
    assert.ok(held.perf > 0, 'the agent holds perf events (the ON_CPU task)');
    // Its links: the link fds it holds, and any link on the host running one
    // of its programs; its perf-event attachments (tracepoints) as bpftool
    // lists them for its pid.
    const links = new Set([...held.links,
      ...liveLinks().filter((l) => held.progs.has(l.prog_id)).map((l) => l.id)]);
    const perfOfAgent = perfAttachments().filter((e) => e.pid === agent.pid);
    assert.ok(links.size > 0, 'the agent holds BPF links');
    assert.ok(perfOfAgent.length > 0, 'bpftool perf lists attachments of the agent');
    for (const e of perfOfAgent) assert.ok(held.progs.has(e.prog_id), `perf entry of an agent program: ${JSON.stringify(e)}`);
    console.log(`# agent held ${held.progs.size} programs, ${links.size} links, ${held.perf} perf event fds, `
      + `${perfOfAgent.length} perf attachments (bpftool)`);
    await agent.stop('SIGKILL');

    // The kernel frees what the dead process held (asynchronously): none of
    // its programs or links is left, and no perf event anywhere on the host
    // still runs one of its programs.
    let left = null;
    await waitFor(() => {
      const live = liveProgIds();
      left = {
        progs: [...held.progs].filter((p) => live.has(p)),
        links: liveLinks().filter((l) => links.has(l.id) || held.progs.has(l.prog_id)),
        perf: perfAttachments().filter((e) => held.progs.has(e.prog_id)),
      };
      return !left.progs.length && !left.links.length && !left.perf.length;
    }, { what: 'the dead agent\'s programs, links and perf attachments freed', ms: 30000, every: 500 })
      .catch((e) => { throw new Error(`${e.message}: left ${JSON.stringify(left)}`); });

    // Server side: closed once the agent is silent for the timeout.
    const closed = await waitFor(async () => {
      const t = await taskOf(server.url, id);
      return t.status !== 'RUNNING' ? t : null;
    }, { what: 'task closed by the server', ms: (SILENCE_S + 15) * 1000 });
    assert.equal(closed.status, 'FAILED');
    assert.equal(closed.reason, 'agent went silent');
    assert.match(server.child.err(), /running tasks failed: agent went silent/);

    // The restarted agent reports the task it left behind, with its reason.
    agent2 = await startAgent(server.url, CONFIG, { stateDir: agent.dir });
    const reported = await waitFor(async () => {
      const t = await taskOf(server.url, id);
      return /agent stopped unexpectedly/.test(t.reason || '') ? t : null;
    }, { what: 'the restarted agent\'s report', ms: 20000 });
    assert.equal(reported.status, 'FAILED');
    assert.ok(reported.end_time >= reported.start_time, JSON.stringify(reported));
    assert.deepEqual(fs.readdirSync(path.join(agent.dir, 'tasks')), [], 'the journal is empty again');
    assert.match(agent2.err(), new RegExp(`task ${id} was left running by an earlier run`));
    assert.ok((await agentMetrics(agent2)).tasks_failed_total >= 1);
  } finally {
    kill(target);
    kill(agent);
    if (agent2) await agent2.stop();
    await server.stop();
  }
});
