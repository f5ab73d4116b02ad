// services: every service the server knows, with its policy at a glance and
// how often the policy fired in the last 48 h.
import { api } from '../lib/api.js';
import { useData } from '../lib/hooks.js';
import { fmtAgo, fmtTime, targetSummary } from '../lib/format.js';
import { href } from '../lib/router.js';
import { Async } from './common.jsx';

async function loadServices() {
  const list = await api.services();
  return Promise.all(list.map(async (s) => {
    const [policy, mon] = await Promise.all([
      s.policy_version ? api.policy(s.name).catch((e) => (e.status === 404 ? null : Promise.reject(e))) : null,
      api.monitoring(s.name).catch(() => null),
    ]);
    const triggers = mon ? mon.instances.reduce((n, i) => n + (i.triggered_count || 0), 0) : null;
    return { ...s, policy, triggers };
  }));
}

export function ServicesView() {
  const state = useData(loadServices, []);
  return (
    <section>
      <h1>Services</h1>
      <Async state={state} what="Loading services"
        empty={<>No service yet: services appear when an agent registers processes or a policy is set (<code>contprof policy set SERVICE FILE</code>).</>}>
        {(rows) => (
          <div class="table-wrap">
            <table class="services">
              <thead><tr><th>Service</th><th>Policy</th><th class="num">Processes</th><th class="num">Triggers (48 h)</th><th>Last seen</th></tr></thead>
              <tbody>
                {rows.map((s) => (
                  <tr data-service={s.name}>
                    <td><a href={href.service(s.name)}>{s.name}</a></td>
                    <td class="policy-glance">
                      {s.policy ? s.policy.targets.map((t) => <div>{targetSummary(t)}</div>)
                        : <span class="muted">no policy — <a href={href.service(s.name, 'policy')}>add one</a></span>}
                    </td>
                    <td class="num">{s.processes}</td>
                    <td class="num triggers">{s.triggers ?? '—'}</td>
                    <td title={fmtTime(s.last_seen)}>{fmtAgo(s.last_seen)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </section>
  );
}
