// topology: a NETWORK task's process topology (cytoscape): processes and
// remote addresses as nodes, connections as edges labelled with their
// traffic. Clicking an edge (on the graph or in the table) shows its bytes,
// calls, HTTP status classes, latency percentiles and sampled requests.
import { useEffect, useRef, useState } from 'preact/hooks';
import cytoscape from 'cytoscape';
import { api } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { fmtBytes, fmtNumber, fmtTime } from '../lib/format.js';
import { Async, Empty } from './common.jsx';

const nodeLabel = (n) => (n.process ? `${n.service ? n.service + '/' : ''}${n.process}${n.pid ? ` (${n.pid})` : ''}` : n.address || n.id);
const edgeKey = (e, i) => `e${i}`;
const errorRate = (e) => {
  const s = e.http?.status || {}, total = Object.values(s).reduce((a, b) => a + b, 0);
  return total ? ((s['5xx'] || 0) / total) * 100 : 0;
};
function edgeLabel(e) {
  if (e.http?.requests) return `${fmtNumber(e.http.requests)} req · ${e.http.latency_ms?.avg !== undefined ? fmtNumber(e.http.latency_ms.avg) + ' ms' : ''}`;
  return e.calls !== undefined ? `${fmtNumber(e.calls)} calls` : '';
}

export function Topology({ task }) {
  const state = useData(() => api.topology(task.id).catch((e) => (e.status === 404 ? null : Promise.reject(e))), [task.id]);
  return (
    <Async state={state} what="Loading the topology" isEmpty={(d) => !d || !d.nodes?.length}
      empty={task.status === 'RUNNING' || task.status === 'PENDING' ? 'No topology yet: the agent sends it while the task runs.' : 'This task recorded no connections.'}>
      {(doc) => <TopologyGraph doc={doc} />}
    </Async>
  );
}

function TopologyGraph({ doc }) {
  const box = useRef(null);
  const cy = useRef(null);
  const [sel, setSel] = useState(null);
  const nodesById = new Map(doc.nodes.map((n) => [n.id, n]));
  const edges = doc.edges || [];

  useEffect(() => {
    const elements = [
      ...doc.nodes.map((n) => ({ data: { id: n.id, label: nodeLabel(n) }, classes: n.process ? 'process' : 'remote' })),
      ...edges.filter((e) => nodesById.has(e.from) && nodesById.has(e.to)).map((e) => ({
        data: { id: edgeKey(e, edges.indexOf(e)), source: e.from, target: e.to, label: edgeLabel(e), idx: edges.indexOf(e) },
        classes: errorRate(e) > 0 ? 'errors' : '',
      })),
    ];
    const c = cytoscape({
      container: box.current,
      elements,
      layout: { name: doc.nodes.length <= 12 ? 'breadthfirst' : 'cose', directed: true, padding: 30, animate: false },
      wheelSensitivity: 0.3,
      style: [
        { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, width: 26, height: 26, 'background-color': '#3f88c5' } },
        { selector: 'node.remote', style: { shape: 'round-rectangle', 'background-color': '#999' } },
        { selector: 'edge', style: { label: 'data(label)', 'font-size': 10, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 2.5, 'line-color': '#7a9', 'target-arrow-color': '#7a9', 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': 2 } },
        { selector: 'edge.errors', style: { 'line-color': '#d33', 'target-arrow-color': '#d33' } },
        { selector: ':selected', style: { 'line-color': '#e6a100', 'target-arrow-color': '#e6a100', 'border-width': 3, 'border-color': '#e6a100', width: 4 } },
      ],
    });
    c.on('tap', 'edge', (ev) => setSel(ev.target.data('idx')));
    c.on('tap', (ev) => { if (ev.target === c) setSel(null); });
    cy.current = c;
    box.current.cy = c; /* for tests and debugging */
    return () => c.destroy();
  }, [doc]);

  const choose = (i) => {
    setSel(i);
    if (cy.current) { cy.current.elements().unselect(); cy.current.$id(edgeKey(edges[i], i)).select(); }
  };
  const e = sel === null ? null : edges[sel];
  const samples = (doc.samples || []).filter((s) => !e || (!s.from && !s.to) || (s.from === e.from && s.to === e.to));
  return (
    <div class="topology">
      <div class="topology-main">
        <div class="topology-graph" ref={box} />
        <aside class="edge-detail" aria-live="polite">
          {e ? <EdgeDetail e={e} from={nodesById.get(e.from)} to={nodesById.get(e.to)} samples={samples} />
            : <Empty>Click an edge for its latency, status classes and sampled requests.</Empty>}
        </aside>
      </div>
      <h3>Connections</h3>
      {edges.length === 0 ? <Empty>No connection was seen.</Empty> : (
        <div class="table-wrap">
          <table class="edges">
            <thead><tr><th>From</th><th>To</th><th>Role</th><th class="num">Calls</th><th class="num">Out</th><th class="num">In</th><th class="num">HTTP req</th><th class="num">5xx</th><th class="num">avg ms</th></tr></thead>
            <tbody>{edges.map((x, i) => (
              <tr class={`${sel === i ? 'selected' : ''} ${errorRate(x) > 0 ? 'has-errors' : ''}`} onClick={() => choose(i)} data-edge={i}>
                <td>{nodeLabel(nodesById.get(x.from) || { id: x.from })}</td><td>{nodeLabel(nodesById.get(x.to) || { id: x.to })}</td>
                <td>{x.role || ''}</td><td class="num">{fmtNumber(x.calls)}</td><td class="num">{fmtBytes(x.bytes_out)}</td><td class="num">{fmtBytes(x.bytes_in)}</td>
                <td class="num">{x.http ? fmtNumber(x.http.requests) : '—'}</td><td class="num">{x.http?.status?.['5xx'] ?? '—'}</td>
                <td class="num">{x.http?.latency_ms?.avg !== undefined ? fmtNumber(x.http.latency_ms.avg) : '—'}</td>
              </tr>))}
            </tbody>
          </table>
        </div>)}
    </div>
  );
}

function EdgeDetail({ e, from, to, samples }) {
  const h = e.http;
  return (
    <div class="edge-info">
      <h3>{nodeLabel(from || { id: e.from })} → {nodeLabel(to || { id: e.to })}</h3>
      <dl class="facts">
        <dt>Role</dt><dd>{e.role || '—'}</dd>
        <dt>Calls</dt><dd>{fmtNumber(e.calls)}</dd>
        <dt>Bytes</dt><dd>{fmtBytes(e.bytes_out)} out, {fmtBytes(e.bytes_in)} in</dd>
        {h ? <>
          <dt>HTTP</dt><dd>{fmtNumber(h.requests)} requests</dd>
          <dt>Status</dt><dd class="status-classes">{Object.entries(h.status || {}).map(([k, v]) => <span class={`badge http-${k}`}>{k}: {v}</span>)}</dd>
          <dt>Latency</dt><dd class="latency">{['avg', 'p50', 'p90', 'p99'].filter((k) => h.latency_ms?.[k] !== undefined).map((k) => `${k} ${fmtNumber(h.latency_ms[k])} ms`).join(' · ')}</dd>
        </> : null}
      </dl>
      <h4>Sampled requests</h4>
      {samples.length === 0 ? <p class="muted">No slow or failed request was sampled.</p> : (
        <table class="samples">
          <thead><tr><th>Method</th><th>URI</th><th class="num">Status</th><th class="num">ms</th></tr></thead>
          <tbody>{samples.slice(0, 100).map((s) => (
            <tr title={s.headers || ''}><td>{s.method}</td><td class="uri">{s.uri}</td><td class={`num ${s.status >= 500 ? 'error-text' : ''}`}>{s.status}</td><td class="num">{fmtNumber(s.duration_ms)}</td></tr>))}
          </tbody>
        </table>)}
      {samples.some((s) => s.time) ? <p class="muted small">latest sample at {fmtTime(Math.max(...samples.map((s) => s.time || 0)))}</p> : null}
    </div>
  );
}
