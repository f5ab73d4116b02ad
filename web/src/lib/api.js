// api: the query API of the server that serves this page (same origin).
// Every call resolves to parsed JSON (or text/blob when asked) and rejects
// with an ApiError carrying the HTTP status and the server's reasons, so
// views show exactly what the server said. Writes send the bearer token
// when the user gave one (a server with a token refuses writes without it).

const TOKEN_KEY = 'contprof.token';

export class ApiError extends Error {
  constructor(status, errors) {
    super(errors.join('; '));
    this.status = status;
    this.errors = errors;
  }
}

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}
export function setToken(t) {
  try { t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY); } catch { /* private mode */ }
}

export async function request(method, path, { body, as = 'json', query } = {}) {
  const headers = {};
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && getToken()) headers.Authorization = `Bearer ${getToken()}`;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, [`cannot reach the server: ${e.message}`]);
  }
  if (!res.ok) {
    let errors = [`${res.status} ${res.statusText}`];
    try {
      const j = await res.json();
      if (Array.isArray(j.errors) && j.errors.length) errors = j.errors.map(String);
    } catch { /* not JSON */ }
    throw new ApiError(res.status, errors);
  }
  if (as === 'text') return res.text();
  if (as === 'blob') return res.blob();
  if (as === 'response') return res;
  return res.json();
}

const enc = encodeURIComponent;
export const api = {
  services: () => request('GET', '/api/v1/services'),
  policy: (s) => request('GET', `/api/v1/services/${enc(s)}/policy`),
  putPolicy: (s, doc) => request('PUT', `/api/v1/services/${enc(s)}/policy`, { body: doc }),
  deletePolicy: (s) => request('DELETE', `/api/v1/services/${enc(s)}/policy`),
  monitoring: (s, target) => request('GET', `/api/v1/services/${enc(s)}/monitoring`, { query: { target } }),
  processes: (service) => allPages('/api/v1/processes', { service }),
  process: (id) => request('GET', `/api/v1/processes/${enc(id)}`),
  metrics: (id, monitor, from, to, uri) =>
    request('GET', `/api/v1/processes/${enc(id)}/metrics`, { query: { monitor, from, to, uri } }),
  tasks: (query) => request('GET', '/api/v1/tasks', { query: { limit: 1000, ...query } }),
  task: (id) => request('GET', `/api/v1/tasks/${enc(id)}`),
  createTask: (body) => request('POST', '/api/v1/tasks', { body }),
  flameUrl: (id, format, aggregate) =>
    `/api/v1/tasks/${enc(id)}/flamegraph?format=${format}&aggregate=${aggregate}`,
  flame: (id, aggregate) => request('GET', `/api/v1/tasks/${enc(id)}/flamegraph`, { query: { format: 'json', aggregate } }),
  folded: (id, aggregate) =>
    request('GET', `/api/v1/tasks/${enc(id)}/flamegraph`, { query: { format: 'folded', aggregate }, as: 'text' }),
  topology: (id) => request('GET', `/api/v1/tasks/${enc(id)}/topology`),
};

// Fetches every page of a listing that pages with X-Next-Offset.
export async function allPages(path, query, max = 10000) {
  const rows = [];
  let offset = 0;
  for (;;) {
    const res = await request('GET', path, { query: { ...query, limit: 1000, offset }, as: 'response' });
    rows.push(...(await res.json()));
    const next = res.headers.get('X-Next-Offset');
    if (!next || rows.length >= max) return rows;
    offset = Number(next);
  }
}
