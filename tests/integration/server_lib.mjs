// Helpers for the server's integration tests: start `contprof server` on a
// free loopback port with a fresh store, talk JSON to it over real HTTP, and
// stop it (SIGTERM) checking it exits 0 — under the sanitizer build a leak
// or UB makes that exit code non-zero.
//
// The store is SQLite (a fresh file) unless CONTPROF_TEST_PG names a
// PostgreSQL server (postgresql://USER@HOST:PORT/DB, e.g. the throwaway
// cluster of scripts/pg-cluster.sh): then every server gets a fresh
// database of its own, dropped when it stops. Tests run the same code path
// on both stores; freshStore() gives a store two servers can share.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, waitFor } from './lib.mjs';

export const PG_BASE = process.env.CONTPROF_TEST_PG || '';
export const STORE_KIND = PG_BASE ? 'postgresql' : 'sqlite';

function psql(sql) {
  const r = spawnSync('psql', [PG_BASE, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, `psql ${sql}: ${r.stderr}`);
  return r.stdout;
}

// A new empty store: {url, drop()} — a SQLite file in a temporary
// directory, or a new database on CONTPROF_TEST_PG.
export function freshStore() {
  if (!PG_BASE) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-server-'));
    return { url: `sqlite:${dir}/store.db`, dir, drop: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `contprof_t${crypto.randomBytes(6).toString('hex')}`;
  psql(`CREATE DATABASE ${name}`);
  const url = new URL(PG_BASE);
  url.pathname = `/${name}`;
  return { url: url.toString(), dir: null, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

// Starts a server on a fresh store, or on `store` (from freshStore(), then
// the caller drops it) when given; `verbose` turns its debug log on.
export async function startServer({ listen = '127.0.0.1:0', args = [], env = {}, store, verbose = false } = {}) {
  const owned = !store;
  const st = store || freshStore();
  const dir = st.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-server-'));
  const child = start([...(verbose ? ['-v'] : []), 'server', '--listen', listen, '--store', st.url, ...args],
    { env: { ...process.env, ...env } });
  const port = await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`server exited early: ${child.err()}`);
    const m = child.err().match(/listening on \S+ port (\d+)/);
    return m ? Number(m[1]) : null;
  }, { what: 'server listening' });
  const url = `http://127.0.0.1:${port}`;
  return {
    url, port, child, dir, store: st,
    async stop() {
      const { code, signal } = await child.stop('SIGTERM');
      if (owned) st.drop();
      if (!st.dir) fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `server exit code (signal ${signal}); stderr:\n${child.err()}`);
      assert.match(child.err(), /server: stopped/);
    },
  };
}

// One HTTP request; body objects are sent as JSON, strings as they are.
export async function api(url, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(url + p, init);
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, buf, headers: res.headers };
}

// Asserts a 4xx JSON error answer whose reasons match every regexp given.
export function assertErrors(res, status, ...patterns) {
  assert.equal(res.status, status, `status; body: ${res.text}`);
  assert.ok(Array.isArray(res.json?.errors) && res.json.errors.length > 0,
    `errors array; body: ${res.text}`);
  for (const p of patterns)
    assert.ok(res.json.errors.some((e) => p.test(e)), `a reason matching ${p}: ${res.text}`);
}

export const POLICY = {
  service: 'checkout',
  targets: [{ target: 'ON_CPU',
    items: [{ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5 }] }],
};

// Registers agent `agent` with processes [{id, service, instance, name, pid}].
export async function register(url, agent, processes, headers = {}) {
  const res = await api(url, 'POST', '/api/v1/agent/register',
    { agent_id: agent, host: `${agent}.example`, processes }, headers);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

export function proc(id, service = 'checkout', instance = 'i1', pid = 100) {
  return { id, service, instance, name: `proc-${id}`, pid, labels: { tier: 'fe' } };
}

export async function reportTask(url, task) {
  const res = await api(url, 'POST', '/api/v1/agent/tasks',
    { target: 'ON_CPU', trigger: 'POLICY', duration: 600, ...task });
  assert.equal(res.status, 201, res.text);
  return res.json;
}
