// process: one process — its task timeline with the task list (select two
// to compare), "profile now", and the metrics tab.
import { useState } from 'preact/hooks';
import { allPages, api } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { HOUR_MS, TARGETS, fmtAgo, fmtDuration, fmtTime, taskEnd } from '../lib/format.js';
import { href, navigate } from '../lib/router.js';
import { Async, ErrorBox, StatusBadge, Tabs, TargetBadge } from './common.jsx';
import { Timeline } from './timeline.jsx';
import { MetricsTab } from './metrics.jsx';

const HISTORY_MS = 7 * 24 * HOUR_MS; /* task retention */

export function ProcessView({ id, tab }) {
  const proc = useData(() => api.process(id), [id]);
  const tabs = [
    { id: 'tasks', label: 'Tasks', href: href.process(id) },
    { id: 'metrics', label: 'Metrics', href: href.process(id, 'metrics') },
  ];
  return (
    <section>
      <Async state={proc} what="Loading the process">
        {(p) => (
          <>
            <p class="crumbs"><a href={href.services()}>Services</a> / <a href={href.service(p.service)}>{p.service}</a> / {p.instance} /</p>
            <h1>{p.name} <span class="muted">pid {p.pid} on {p.host}</span></h1>
            <p class="muted">id <code>{p.id}</code> · last seen {fmtAgo(p.last_seen)}{' '}
              {Object.entries(p.labels || {}).map(([k, v]) => <code class="label">{k}={v}</code>)}</p>
            <Tabs tabs={tabs} active={tab} />
            {tab === 'metrics' ? <MetricsTab proc={p} /> : <TasksTab proc={p} />}
          </>
        )}
      </Async>
    </section>
  );
}

function TasksTab({ proc }) {
  const [now, setNow] = useState(() => Date.now());
  const [range, setRange] = useState([now - 48 * HOUR_MS, now]);
  const [picked, setPicked] = useState([]);
  const tasks = useData(() => allPages('/api/v1/tasks', { process: proc.id, since: now - HISTORY_MS }), [proc.id]);
  const toggle = (t) => setPicked((p) => (p.includes(t.id) ? p.filter((x) => x !== t.id) : [...p.slice(-1), t.id]));

  return (
    <>
      <ProfileNow proc={proc} onCreated={() => {
        /* Follow the new task when the window ended at the old "now". */
        const n = Date.now();
        setRange(([f, t]) => (t >= now - 1000 ? [f + (n - now), n] : [f, t]));
        setNow(n);
        tasks.reload();
      }} />
      <h2>Tasks</h2>
      <Async state={tasks} what="Loading tasks" isEmpty={() => false}>
        {(list) => {
          const inRange = list.filter((t) => taskEnd(t, now) >= range[0] && t.start_time <= range[1])
            .sort((a, b) => b.start_time - a.start_time);
          const pickedTasks = picked.map((pid) => list.find((t) => t.id === pid)).filter(Boolean);
          return (
            <>
              <Timeline tasks={list} range={range} onRange={setRange} now={now} onOpen={(t) => navigate(href.task(t.id))} />
              <div class="toolbar compare-bar">
                <button type="button" class="primary" disabled={pickedTasks.length !== 2}
                  onClick={() => navigate(href.compare(pickedTasks[0].id, pickedTasks[1].id))}>Compare selected</button>
                <span class="muted">{pickedTasks.length === 2 && pickedTasks[0].target !== pickedTasks[1].target
                  ? 'the two tasks have different targets: their stacks measure different things'
                  : 'tick two ON_CPU or OFF_CPU tasks to see what grew and what shrank'}</span>
              </div>
              {inRange.length === 0 ? <div class="state empty">No task in this window{list.length ? ' (zoom out to see older ones)' : ': this process has not been profiled yet — use “Profile now” or set a policy'}.</div> : (
                <div class="table-wrap">
                  <table class="tasks">
                    <thead><tr><th /><th>Start</th><th>Target</th><th>Trigger</th><th>Status</th><th>Length</th><th>Cause</th></tr></thead>
                    <tbody>{inRange.map((t) => (
                      <tr data-task={t.id}>
                        <td>{t.target !== 'NETWORK' ? <input type="checkbox" aria-label={`select ${t.id} for compare`} checked={picked.includes(t.id)} onChange={() => toggle(t)} /> : null}</td>
                        <td><a href={href.task(t.id)}>{fmtTime(t.start_time)}</a></td>
                        <td><TargetBadge target={t.target} /></td>
                        <td>{t.trigger}</td>
                        <td><StatusBadge status={t.status} reason={t.reason} /></td>
                        <td>{t.end_time ? fmtDuration(t.end_time - t.start_time) : `${fmtDuration(t.duration * 1000)} planned`}</td>
                        <td class="cause">{t.cause?.message || t.reason || ''}</td>
                      </tr>))}
                    </tbody>
                  </table>
                </div>)}
            </>
          );
        }}
      </Async>
    </>
  );
}

function ProfileNow({ proc, onCreated }) {
  const [target, setTarget] = useState('ON_CPU');
  const [duration, setDuration] = useState('60');
  const [state, setState] = useState({ busy: false, error: null, created: null });
  const submit = async (e) => {
    e?.preventDefault();
    setState({ busy: true, error: null, created: null });
    try {
      const n = Number(duration);
      const task = await api.createTask({ process_id: proc.id, target, duration: Number.isFinite(n) && duration.trim() ? n : duration });
      setState({ busy: false, error: null, created: task });
      onCreated();
    } catch (err) { setState({ busy: false, error: err, created: null }); }
  };
  return (
    <form class="profile-now" onSubmit={submit}>
      <strong>Profile now</strong>
      <label>Target <select name="target" value={target} onChange={(e) => setTarget(e.target.value)}>
        {TARGETS.map((t) => <option value={t}>{t}</option>)}</select></label>
      <label>for <input name="duration" inputmode="numeric" size="5" value={duration} onInput={(e) => setDuration(e.target.value)} /> s</label>
      <button type="submit" class="primary" disabled={state.busy}>{state.busy ? 'Starting…' : 'Start'}</button>
      {state.created ? <span class="save-status ok" role="status">Task <a href={href.task(state.created.id)}>{state.created.id}</a> is {state.created.status.toLowerCase()}: the agent starts it on its next sync.</span> : null}
      <ErrorBox error={state.error} retry={state.error?.status === 401 ? () => submit() : undefined} />
    </form>
  );
}
