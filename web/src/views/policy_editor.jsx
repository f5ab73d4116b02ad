// policy_editor: edit a service's policy document. The form holds what the
// user typed; saving sends it as is (numbers as numbers when they read as
// one) and the server's validation decides. Its reasons name places like
// "targets[0].items[1].period: 0 is out of range [1, 3600]"; each is shown
// next to the field it names, or on the nearest item/target that is shown.
// No rule is checked here, so the UI can never disagree with the server.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { HTTP_MONITORS, MONITORS, MONITOR_UNIT, TARGETS } from '../lib/format.js';
import { placeErrors } from '../lib/places.js';
import { ErrorBox, Loading, TokenPrompt } from './common.jsx';

const str = (v) => (v === undefined || v === null ? '' : String(v));

function toForm(doc) {
  return {
    targets: (doc?.targets || []).map((t) => ({
      target: t.target, duration: str(t.duration), silence: str(t.silence),
      items: (t.items || []).map((i) => ({
        monitor: i.monitor, threshold: str(i.threshold), period: str(i.period), count: str(i.count),
        uri_mode: i.uri_regex !== undefined ? 'regex' : i.uri_list !== undefined ? 'list' : 'none',
        uri_regex: str(i.uri_regex), uri_list: (i.uri_list || []).join('\n'),
      })),
    })),
  };
}

const newItem = () => ({ monitor: 'PROCESS_CPU', threshold: '', period: '', count: '', uri_mode: 'none', uri_regex: '', uri_list: '' });
const newTarget = (target) => ({ target, duration: '', silence: '', items: [newItem()] });

// A typed value: a number when the text is one, else the text (the server
// then says what it expected). Empty: left out.
function typed(text) {
  const t = text.trim();
  if (t === '') return undefined;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? Number(t) : t;
}

function toDoc(service, form) {
  return {
    service,
    targets: form.targets.map((t) => {
      const out = { target: t.target };
      if (typed(t.duration) !== undefined) out.duration = typed(t.duration);
      if (typed(t.silence) !== undefined) out.silence = typed(t.silence);
      out.items = t.items.map((i) => {
        const item = { monitor: i.monitor };
        for (const k of ['threshold', 'period', 'count']) if (typed(i[k]) !== undefined) item[k] = typed(i[k]);
        if (i.uri_mode === 'regex') item.uri_regex = i.uri_regex;
        if (i.uri_mode === 'list') item.uri_list = i.uri_list.split('\n').map((s) => s.trim()).filter(Boolean);
        return item;
      });
      return out;
    }),
  };
}

// The places the form shows, for matching the server's reasons.
function shownPlaces(form) {
  const set = new Set(['service']);
  form.targets.forEach((t, ti) => {
    const tp = `targets[${ti}]`;
    [tp, `${tp}.target`, `${tp}.duration`, `${tp}.silence`, `${tp}.items`].forEach((p) => set.add(p));
    t.items.forEach((i, ii) => {
      const ip = `${tp}.items[${ii}]`;
      [ip, `${ip}.monitor`, `${ip}.threshold`, `${ip}.period`, `${ip}.count`].forEach((p) => set.add(p));
      if (i.uri_mode === 'regex') set.add(`${ip}.uri_regex`);
      if (i.uri_mode === 'list') set.add(`${ip}.uri_list`);
    });
  });
  return set;
}

function FieldErrors({ errors, place }) {
  const list = errors[place];
  if (!list) return null;
  return <ul class="field-error" data-for={place} role="alert">{list.map((e) => <li>{e}</li>)}</ul>;
}

function Field({ label, place, errors, children, hint }) {
  return (
    <div class={`field ${errors[place] ? 'invalid' : ''}`}>
      <label>{label}{hint ? <span class="hint"> {hint}</span> : null}{children}</label>
      <FieldErrors errors={errors} place={place} />
    </div>
  );
}

export function PolicyEditor({ service }) {
  const [form, setForm] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [exists, setExists] = useState(false);
  const [errors, setErrors] = useState({});
  const [status, setStatus] = useState(null); // {kind, text}
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [needToken, setNeedToken] = useState(false);

  const load = () => {
    setForm(null); setLoadError(null); setErrors({}); setStatus(null);
    api.policy(service).then((doc) => { setExists(true); setForm(toForm(doc)); }, (e) => {
      if (e.status === 404) { setExists(false); setForm({ targets: [newTarget('ON_CPU')] }); } else setLoadError(e);
    });
  };
  useEffect(load, [service]);

  if (loadError) return <ErrorBox error={loadError} retry={load} />;
  if (!form) return <Loading what="Loading the policy" />;

  const update = (fn) => { const next = structuredClone(form); fn(next); setForm(next); setStatus(null); };
  const bind = (obj, key, path) => ({
    name: path, value: obj[key],
    onInput: (e) => update((f) => { path.split(/\.|\[|\]\.?/).filter(Boolean).reduce((o, k, i, a) => (i === a.length - 1 ? (o[k] = e.target.value) : o[k]), f); }),
  });

  const save = async (e) => {
    e?.preventDefault();
    setBusy(true); setStatus(null); setNeedToken(false);
    try {
      const saved = await api.putPolicy(service, toDoc(service, form));
      setErrors({}); setExists(true); setForm(toForm(saved));
      setStatus({ kind: 'ok', text: 'Saved. Agents pick the new policy up within seconds.' });
    } catch (err) {
      if (err.status === 400) {
        setErrors(placeErrors(err.errors, shownPlaces(form)));
        setStatus({ kind: 'error', text: `Not saved: the server found ${err.errors.length} problem${err.errors.length > 1 ? 's' : ''}.` });
      } else {
        setErrors({ '': err.errors });
        setNeedToken(err.status === 401);
        setStatus({ kind: 'error', text: 'Not saved.' });
      }
    } finally { setBusy(false); }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await api.deletePolicy(service);
      setConfirmDelete(false); setExists(false); setErrors({});
      setForm({ targets: [newTarget('ON_CPU')] });
      setStatus({ kind: 'ok', text: 'Policy deleted: the agents stop evaluating it.' });
    } catch (err) { setErrors({ '': err.errors }); setNeedToken(err.status === 401); } finally { setBusy(false); }
  };

  const unused = TARGETS.filter((t) => !form.targets.some((x) => x.target === t));
  return (
    <form class="policy-editor" onSubmit={save} novalidate>
      {needToken ? <TokenPrompt onSaved={() => save()} /> : null}
      <FieldErrors errors={errors} place="" />
      <FieldErrors errors={errors} place="service" />
      {!exists ? <p class="muted">This service has no policy yet; fill in the form and save to create it.</p> : null}
      {form.targets.map((t, ti) => {
        const tp = `targets[${ti}]`;
        return (
          <fieldset class="target" data-place={tp}>
            <legend>
              <select {...bind(t, 'target', `targets[${ti}].target`)} onChange={(e) => update((f) => { f.targets[ti].target = e.target.value; })} aria-label="target">
                {TARGETS.map((x) => <option value={x}>{x}</option>)}
              </select>
              <button type="button" class="small danger" onClick={() => update((f) => { f.targets.splice(ti, 1); })}>Remove target</button>
            </legend>
            <FieldErrors errors={errors} place={tp} />
            <FieldErrors errors={errors} place={`${tp}.target`} />
            <div class="row">
              <Field label="Duration" hint="s, optional (else the agent's default)" place={`${tp}.duration`} errors={errors}>
                <input inputmode="numeric" {...bind(t, 'duration', `${tp}.duration`)} />
              </Field>
              <Field label="Silence" hint="s, optional (else the agent's default)" place={`${tp}.silence`} errors={errors}>
                <input inputmode="numeric" {...bind(t, 'silence', `${tp}.silence`)} />
              </Field>
            </div>
            <FieldErrors errors={errors} place={`${tp}.items`} />
            {t.items.map((it, ii) => {
              const ip = `${tp}.items[${ii}]`;
              return (
                <div class={`item ${errors[ip] ? 'invalid' : ''}`} data-place={ip}>
                  <div class="row">
                    <Field label="Monitor" place={`${ip}.monitor`} errors={errors}>
                      <select name={`${ip}.monitor`} value={it.monitor} onChange={(e) => update((f) => { f.targets[ti].items[ii].monitor = e.target.value; })}>
                        {MONITORS.map((m) => <option value={m}>{m}</option>)}
                      </select>
                    </Field>
                    <Field label="Threshold" hint={`≥ (${MONITOR_UNIT[it.monitor] || ''})`} place={`${ip}.threshold`} errors={errors}>
                      <span class="with-unit"><input inputmode="decimal" {...bind(it, 'threshold', `${ip}.threshold`)} /><span class="unit">{MONITOR_UNIT[it.monitor]}</span></span>
                    </Field>
                    <Field label="Count" hint="matching seconds" place={`${ip}.count`} errors={errors}>
                      <input inputmode="numeric" {...bind(it, 'count', `${ip}.count`)} />
                    </Field>
                    <Field label="Period" hint="last N seconds" place={`${ip}.period`} errors={errors}>
                      <input inputmode="numeric" {...bind(it, 'period', `${ip}.period`)} />
                    </Field>
                    <button type="button" class="small danger remove-item" onClick={() => update((f) => { f.targets[ti].items.splice(ii, 1); })}>Remove</button>
                  </div>
                  {HTTP_MONITORS.has(it.monitor) || it.uri_mode !== 'none' ? (
                    <div class="row">
                      <Field label="URI filter" place={`${ip}.uri_mode`} errors={errors}>
                        <select name={`${ip}.uri_mode`} value={it.uri_mode} onChange={(e) => update((f) => { f.targets[ti].items[ii].uri_mode = e.target.value; })}>
                          <option value="none">all requests</option><option value="regex">URI regex (POSIX ERE)</option><option value="list">URI list (exact paths)</option>
                        </select>
                      </Field>
                      {it.uri_mode === 'regex' ? (
                        <Field label="URI regex" place={`${ip}.uri_regex`} errors={errors}>
                          <input {...bind(it, 'uri_regex', `${ip}.uri_regex`)} placeholder="^/api/" />
                        </Field>) : null}
                      {it.uri_mode === 'list' ? (
                        <Field label="URI list" hint="one path a line" place={`${ip}.uri_list`} errors={errors}>
                          <textarea rows="3" {...bind(it, 'uri_list', `${ip}.uri_list`)} placeholder="/api/cart" />
                        </Field>) : null}
                    </div>) : null}
                  <FieldErrors errors={errors} place={ip} />
                </div>
              );
            })}
            <button type="button" class="small" onClick={() => update((f) => { f.targets[ti].items.push(newItem()); })}>Add item</button>
          </fieldset>
        );
      })}
      <div class="actions">
        {unused.length ? (
          <select aria-label="add target" value="" onChange={(e) => e.target.value && update((f) => { f.targets.push(newTarget(e.target.value)); })}>
            <option value="">Add target…</option>
            {unused.map((t) => <option value={t}>{t}</option>)}
          </select>) : null}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Saving…' : 'Save policy'}</button>
        {exists ? (confirmDelete
          ? <><button type="button" class="danger" onClick={remove} disabled={busy}>Really delete</button><button type="button" onClick={() => setConfirmDelete(false)}>Keep</button></>
          : <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>Delete policy</button>) : null}
        {status ? <span class={`save-status ${status.kind}`} role="status">{status.text}</span> : null}
      </div>
    </form>
  );
}
