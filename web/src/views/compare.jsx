// compare: the differential flame graph of two tasks of a process, computed
// here from their folded profiles — widths from the newer (or older) task,
// red frames grew, blue shrank — and the frames that changed most.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { fmtNs, fmtNumber, fmtTime } from '../lib/format.js';
import { diffTree, frameChanges, parseFolded } from '../lib/folded.js';
import { href } from '../lib/router.js';
import { Async, Empty, TargetBadge } from './common.jsx';
import { Flame } from './flame.jsx';

async function loadPair(a, b, aggregate) {
  const [ta, tb] = await Promise.all([api.task(a), api.task(b)]);
  // Older first: "before" and "after".
  const [before, after] = ta.start_time <= tb.start_time ? [ta, tb] : [tb, ta];
  const agg = aggregate || (before.target === 'OFF_CPU' && after.target === 'OFF_CPU' ? 'duration' : 'count');
  const [fb, fa] = await Promise.all([api.folded(before.id, agg), api.folded(after.id, agg)]);
  return { before, after, agg, foldedBefore: parseFolded(fb), foldedAfter: parseFolded(fa) };
}

export function CompareView({ a, b }) {
  const [aggregate, setAggregate] = useState(null);
  const [normalize, setNormalize] = useState(true);
  const [shape, setShape] = useState('after');
  const state = useData(() => (a && b ? loadPair(a, b, aggregate) : Promise.resolve(null)), [a, b, aggregate]);
  if (!a || !b) return <Empty>Pick two tasks to compare on a process's task list.</Empty>;
  return (
    <section>
      <h1>Compare two tasks</h1>
      <Async state={state} what="Loading both profiles" isEmpty={(d) => !d}>
        {(d) => <Diff d={d} normalize={normalize} shape={shape} setNormalize={setNormalize} setShape={setShape} setAggregate={setAggregate} />}
      </Async>
    </section>
  );
}

function Diff({ d, normalize, shape, setNormalize, setShape, setAggregate }) {
  const { before, after, agg } = d;
  const { tree, totalBefore, totalAfter, scale } = useMemo(
    () => diffTree(d.foldedBefore, d.foldedAfter, { normalize, shape }), [d, normalize, shape]);
  const changes = useMemo(() => frameChanges(d.foldedBefore, d.foldedAfter, { normalize }).slice(0, 15), [d, normalize]);
  const fmt = agg === 'duration' ? fmtNs : (v) => fmtNumber(Math.round(v));
  const unit = agg === 'duration' ? 'off-CPU' : 'samples';
  const pct = (v, t) => (t ? `${((100 * v) / t).toFixed(1)}%` : '—');
  return (
    <>
      <div class="compare-pair">
        {[['Before', before, totalBefore], ['After', after, totalAfter]].map(([label, t, total]) => (
          <div class="compare-task"><strong>{label}</strong> <TargetBadge target={t.target} />{' '}
            <a href={href.task(t.id)}>{fmtTime(t.start_time)}</a> · {fmt(total)} {unit}
            {t.cause?.message ? <div class="muted small">{t.cause.message}</div> : null}</div>))}
      </div>
      {before.target !== after.target ? <p class="error-text">The tasks have different targets ({before.target} and {after.target}): the comparison mixes different measures.</p> : null}
      <div class="toolbar">
        <label><input type="checkbox" checked={normalize} onChange={(e) => setNormalize(e.target.checked)} /> scale “before” to the same total{normalize && scale !== 1 ? ` (×${scale.toFixed(2)})` : ''}</label>
        <label>Widths from{' '}<select value={shape} onChange={(e) => setShape(e.target.value)}>
          <option value="after">after (what it does now)</option><option value="before">before (shows what vanished)</option></select></label>
        {before.target === 'OFF_CPU' && after.target === 'OFF_CPU' ? (
          <label>Value <select value={agg} onChange={(e) => setAggregate(e.target.value)}><option value="duration">duration</option><option value="count">count</option></select></label>) : null}
        <span class="legend-diff"><i class="grew" /> grew <i class="shrank" /> shrank</span>
      </div>
      {!tree.value ? <Empty>Neither task recorded stacks.</Empty> : (
        <Flame tree={tree} fmt={fmt} unit={unit} differential
          tipExtra={(n) => `before ${fmt(n.before || 0)} (${pct(n.before || 0, totalAfter)}) → after ${fmt(n.after || 0)} (${pct(n.after || 0, totalAfter)})`} />)}
      <h3>Frames that changed most (self {unit})</h3>
      <div class="table-wrap">
        <table class="changes">
          <thead><tr><th>Frame</th><th class="num">Before</th><th class="num">After</th><th class="num">Change</th></tr></thead>
          <tbody>{changes.map((c) => (
            <tr class={c.delta > 0 ? 'grew' : c.delta < 0 ? 'shrank' : ''}><td><code>{c.name}</code></td><td class="num">{fmt(c.before)}</td>
              <td class="num">{fmt(c.after)}</td><td class="num">{c.delta > 0 ? '+' : c.delta < 0 ? '−' : ''}{fmt(Math.abs(c.delta))}</td></tr>))}
          </tbody>
        </table>
      </div>
    </>
  );
}
