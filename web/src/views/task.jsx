// task: one task — why and when it ran, and what it found: the flame graph
// (ON_CPU / OFF_CPU; by count or off-CPU duration; export as folded, pprof
// or SVG) or the process topology (NETWORK).
import { useState } from 'preact/hooks';
import { api, request } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { fmtDuration, fmtNs, fmtNumber, fmtTime, fmtValue } from '../lib/format.js';
import { download, flameSvg } from '../lib/folded.js';
import { href } from '../lib/router.js';
import { Async, ErrorBox, StatusBadge, TargetBadge } from './common.jsx';
import { Flame } from './flame.jsx';
import { Topology } from './topology.jsx';

export function TaskView({ id }) {
  const task = useData(() => api.task(id), [id]);
  return (
    <section>
      <Async state={task} what="Loading the task">
        {(t) => (
          <>
            <p class="crumbs"><a href={href.services()}>Services</a> / <a href={href.service(t.service)}>{t.service}</a> / {t.instance} /{' '}
              {t.process_id ? <a href={href.process(t.process_id)}>process</a> : null}</p>
            <h1><TargetBadge target={t.target} /> task <code class="task-id">{t.id}</code></h1>
            <TaskFacts t={t} />
            {t.process_id && t.target !== 'NETWORK' ? <PreviousTask task={t} /> : null}
            {t.target === 'NETWORK' ? <Topology task={t} /> : <TaskFlame task={t} />}
          </>)}
      </Async>
    </section>
  );
}

// A link to compare with the previous task of the same process and target.
function PreviousTask({ task }) {
  const prev = useData(async () => {
    const list = await api.tasks({ process: task.process_id, since: task.start_time - 7 * 24 * 3600 * 1000 });
    return list.filter((x) => x.target === task.target && x.start_time < task.start_time)
      .sort((a, b) => b.start_time - a.start_time)[0] || null;
  }, [task.id]);
  if (!prev.data) return null;
  return (
    <p class="previous">
      <a href={href.compare(prev.data.id, task.id)}>Compare with the previous {task.target} task</a>
      <span class="muted"> ({fmtTime(prev.data.start_time)})</span>
    </p>
  );
}

// "truncated user stacks: 1.2 % of 4,950 samples, 3 lost": the agent's
// totals over the task's slices (user stacks cut short, e.g. by code
// without frame pointers, count as truncated).
export function stackStatsText(t) {
  const { samples, truncated, lost } = t.stack_stats;
  const unit = t.target === 'OFF_CPU' ? 'blocks' : 'samples';
  const share = samples > 0 ? (100 * truncated) / samples : 0;
  return `truncated user stacks: ${share.toFixed(1)} % of ${fmtNumber(samples)} ${unit}${lost ? `, ${fmtNumber(lost)} lost` : ''}`;
}

function TaskFacts({ t }) {
  const c = t.cause || {};
  return (
    <dl class="facts">
      <dt>Status</dt><dd><StatusBadge status={t.status} reason={t.reason} />{t.reason ? <span class="error-text"> {t.reason}</span> : null}</dd>
      <dt>Trigger</dt><dd>{t.trigger === 'MANUAL' ? 'manual (profile now)' : 'policy'}</dd>
      <dt>Start</dt><dd>{fmtTime(t.start_time)}</dd>
      <dt>End</dt><dd>{t.end_time ? `${fmtTime(t.end_time)} (${fmtDuration(t.end_time - t.start_time)})` : `running, planned ${fmtDuration(t.duration * 1000)}`}</dd>
      {t.stack_stats ? <><dt>Stacks</dt><dd class="stack-stats">{stackStatsText(t)}</dd></> : null}
      {c.message || c.monitor ? <><dt>Cause</dt><dd class="cause">{c.message}
        {c.monitor ? <div class="muted">{c.monitor} ≥ {fmtValue(c.monitor, c.threshold)}: {c.matched ?? '?'} of the last {c.period} s matched (needs {c.count}); value {fmtValue(c.monitor, c.current)}, peak {fmtValue(c.monitor, c.peak)}{c.uri ? `; URI filter ${c.uri}` : ''}</div> : null}</dd></> : null}
    </dl>
  );
}

function TaskFlame({ task }) {
  const offcpu = task.target === 'OFF_CPU';
  const [aggregate, setAggregate] = useState(offcpu ? 'duration' : 'count');
  const tree = useData(() => api.flame(task.id, aggregate), [task.id, aggregate]);
  const byDuration = aggregate === 'duration';
  const fmt = byDuration ? fmtNs : (v) => fmtNumber(v);
  const unit = byDuration ? 'off-CPU' : offcpu ? 'switches' : 'samples';
  const base = `contprof-${task.id.replace(/[^\w.-]+/g, '_')}-${aggregate}`;
  const [exportError, setExportError] = useState(null);
  // Fetched rather than linked, so a refusal shows the server's reason.
  const exportAs = async (format, name) => {
    setExportError(null);
    try {
      download(name, await request('GET', api.flameUrl(task.id, format, aggregate), { as: 'blob' }));
    } catch (err) { setExportError(err); }
  };
  return (
    <>
      <div class="toolbar">
        {offcpu ? (
          <span class="segmented" role="group" aria-label="aggregate">
            <button type="button" class={aggregate === 'duration' ? 'active' : ''} onClick={() => setAggregate('duration')}>Duration</button>
            <button type="button" class={aggregate === 'count' ? 'active' : ''} onClick={() => setAggregate('count')}>Count</button>
          </span>) : null}
        {task.status === 'RUNNING' ? <button type="button" onClick={tree.reload}>Refresh</button> : null}
        <span class="exports">Export:{' '}
          <button type="button" class="linklike" onClick={() => exportAs('folded', `${base}.folded`)}>folded</button>{' · '}
          <button type="button" class="linklike" onClick={() => exportAs('pprof', `${base}.pb.gz`)}>pprof</button>{' · '}
          <button type="button" class="linklike" disabled={!tree.data || !tree.data.value}
            onClick={() => download(`${base}.svg`, flameSvg(tree.data, { title: `${task.target} ${task.id}`, unit, fmt }), 'image/svg+xml')}>svg</button>
        </span>
      </div>
      {exportError ? <ErrorBox error={exportError} /> : null}
      <Async state={tree} what="Loading the flame graph" isEmpty={(d) => !d || !d.value}
        empty={task.status === 'RUNNING' || task.status === 'PENDING'
          ? 'No stacks yet: the agent uploads them every few seconds while the task runs.'
          : 'This task recorded no stacks.'}>
        {(d) => <Flame tree={d} fmt={fmt} unit={unit} />}
      </Async>
    </>
  );
}
