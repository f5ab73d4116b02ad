// service: one service — its policy and processes, the policy editor and
// the monitoring summary (instances and processes the policy watches, with
// their 48 h trigger counts).
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { TARGETS, fmtAgo, fmtTime, targetSummary } from '../lib/format.js';
import { href } from '../lib/router.js';
import { Async, Tabs } from './common.jsx';
import { PolicyEditor } from './policy_editor.jsx';

export function ServiceView({ service, tab }) {
  const tabs = [
    { id: 'overview', label: 'Overview', href: href.service(service) },
    { id: 'policy', label: 'Policy', href: href.service(service, 'policy') },
    { id: 'monitoring', label: 'Monitoring', href: href.service(service, 'monitoring') },
  ];
  return (
    <section>
      <p class="crumbs"><a href={href.services()}>Services</a> /</p>
      <h1>{service}</h1>
      <Tabs tabs={tabs} active={tab} />
      {tab === 'policy' ? <PolicyEditor service={service} />
        : tab === 'monitoring' ? <Monitoring service={service} />
          : <Overview service={service} />}
    </section>
  );
}

function Overview({ service }) {
  const policy = useData(() => api.policy(service).catch((e) => (e.status === 404 ? null : Promise.reject(e))), [service]);
  const procs = useData(() => api.processes(service), [service]);
  return (
    <>
      <h2>Policy</h2>
      <Async state={policy} what="Loading the policy" isEmpty={(p) => !p}
        empty={<>No policy: nothing of this service is profiled automatically. <a href={href.service(service, 'policy')}>Write one</a>.</>}>
        {(p) => <ul class="policy-glance">{p.targets.map((t) => <li>{targetSummary(t)}</li>)}</ul>}
      </Async>
      <h2>Processes</h2>
      <Async state={procs} what="Loading processes" empty="No process of this service is registered.">
        {(rows) => (
          <div class="table-wrap">
            <table>
              <thead><tr><th>Process</th><th>Instance</th><th class="num">PID</th><th>Host</th><th>Labels</th><th>Last seen</th></tr></thead>
              <tbody>{rows.map((p) => (
                <tr>
                  <td><a href={href.process(p.id)}>{p.name}</a></td><td>{p.instance}</td><td class="num">{p.pid}</td>
                  <td>{p.host}</td><td class="labels">{Object.entries(p.labels || {}).map(([k, v]) => <code>{k}={v}</code>)}</td>
                  <td title={fmtTime(p.last_seen)}>{fmtAgo(p.last_seen)}</td>
                </tr>))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </>
  );
}

function Monitoring({ service }) {
  const [target, setTarget] = useState('ON_CPU');
  const [open, setOpen] = useState({});
  const state = useData(() => api.monitoring(service, target || undefined), [service, target]);
  return (
    <>
      <div class="toolbar">
        <label>Target{' '}
          <select value={target} onChange={(e) => setTarget(e.target.value)} name="target">
            {TARGETS.map((t) => <option value={t}>{t}</option>)}
            <option value="">all targets</option>
          </select>
        </label>
        <span class="muted">Policy-triggered tasks of the last 48 h, most triggered first.</span>
      </div>
      <Async state={state} what="Loading the monitoring summary" isEmpty={(m) => !m.instances.length}
        empty="No instance of this service is watched yet.">
        {(m) => (
          <div class="table-wrap">
            <table class="monitoring">
              <thead><tr><th>Instance / process</th><th class="num">PID</th><th class="num">Triggered (48 h)</th><th>Last trigger</th></tr></thead>
              <tbody>
                {m.instances.map((inst) => {
                  const isOpen = open[inst.name] ?? m.instances.length <= 3;
                  return [
                    <tr class="instance">
                      <td><button type="button" class="linklike" aria-expanded={isOpen}
                        onClick={() => setOpen({ ...open, [inst.name]: !isOpen })}>{isOpen ? '▾' : '▸'} {inst.name}</button>
                        <span class="muted"> ({inst.processes.length} processes)</span></td>
                      <td />
                      <td class="num">{inst.triggered_count}</td>
                      <td title={fmtTime(inst.last_trigger_time)}>{inst.last_trigger_time ? fmtTime(inst.last_trigger_time) : 'never'}</td>
                    </tr>,
                    ...(isOpen ? inst.processes.map((p) => (
                      <tr class="process">
                        <td class="indent"><a href={href.process(p.id)}>{p.name}</a></td>
                        <td class="num">{p.pid}</td>
                        <td class="num">{p.triggered_count}</td>
                        <td>{p.last_trigger_time ? fmtTime(p.last_trigger_time) : 'never'}</td>
                      </tr>)) : []),
                  ];
                })}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </>
  );
}
