// common: small pieces every view uses — loading, error and empty states,
// tabs, and the token prompt a 401 leads to.
import { useState } from 'preact/hooks';
import { getToken, setToken } from '../lib/api.js';

export function Loading({ what = 'Loading' }) {
  return <div class="state loading" role="status"><span class="spinner" />{what}…</div>;
}

export function ErrorBox({ error, retry }) {
  if (!error) return null;
  const errors = error.errors || [String(error.message || error)];
  return (
    <div class="state error" role="alert">
      {error.status === 401 ? <TokenPrompt onSaved={retry} /> : null}
      <ul>{errors.map((e) => <li>{e}</li>)}</ul>
      {retry ? <button type="button" onClick={retry}>Retry</button> : null}
    </div>
  );
}

export function Empty({ children }) {
  return <div class="state empty">{children}</div>;
}

// Loading / error / empty / content, in that order.
export function Async({ state, what, empty, isEmpty, children }) {
  if (state.loading && state.data === undefined) return <Loading what={what} />;
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (isEmpty ? isEmpty(state.data) : Array.isArray(state.data) && state.data.length === 0)
    return <Empty>{empty}</Empty>;
  return children(state.data);
}

export function Tabs({ tabs, active }) {
  return (
    <nav class="tabs">
      {tabs.map((t) => <a href={t.href} class={t.id === active ? 'active' : ''} aria-current={t.id === active ? 'page' : undefined}>{t.label}</a>)}
    </nav>
  );
}

// Not a <form>: it may sit inside one (the policy editor).
export function TokenPrompt({ onSaved }) {
  const [value, setValue] = useState(getToken());
  const use = () => { setToken(value.trim()); onSaved && onSaved(); };
  return (
    <div class="token">
      <label>This server needs its write token for changes:{' '}
        <input type="password" name="token" value={value} autocomplete="off" onInput={(e) => setValue(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); use(); } }} />
      </label>{' '}
      <button type="button" onClick={use}>Use token</button>
    </div>
  );
}

export function StatusBadge({ status, reason }) {
  return <span class={`badge status-${String(status).toLowerCase()}`} title={reason || ''}>{status}</span>;
}
export function TargetBadge({ target }) {
  return <span class={`badge target-${target}`}>{target}</span>;
}
