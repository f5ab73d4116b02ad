// Helpers for the fault-injection tests (faults_*.test.mjs): a CPU burner
// under a name of its own, the agent's /metrics, the BPF programs and perf
// events a process holds, the server's store read directly, and small tmpfs
// mounts for disk-full runs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { api } from './server_lib.mjs';
import { FIXTURES, startProcess } from './agent_lib.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A copy of the busyloop fixture named `<tag><pid>` (a comm of its own, so
// other runs on this host never match it); .start() runs one.
export function burner(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-faults-'));
  const comm = `${tag}${process.pid}`.slice(0, 15);
  const exe = path.join(dir, comm);
  fs.copyFileSync(path.join(FIXTURES, 'busyloop'), exe);
  fs.chmodSync(exe, 0o755);
  return { comm, exe, dir, start: () => startProcess(exe), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// The agent's own figures: {name: value} of every contprof_agent_* line.
export async function agentMetrics(agent) {
  const m = agent.err().match(/metrics on \S+ \(port (\d+)\)/);
  assert.ok(m, `agent metrics port in:\n${agent.err()}`);
  const text = await (await fetch(`http://127.0.0.1:${m[1]}/metrics`)).text();
  const values = {};
  for (const line of text.split('\n')) {
    const v = line.match(/^(contprof_agent_\w+) (\S+)$/);
    if (v) values[v[1].replace('contprof_agent_', '')] = Number(v[2]);
  }
  return values;
}

// The server's counters: {name: value} of the unlabelled contprof_* lines.
export async function serverMetrics(url) {
  const text = (await api(url, 'GET', '/metrics')).text;
  const values = {};
  for (const line of text.split('\n')) {
    const v = line.match(/^(contprof_\w+) (\S+)$/);
    if (v) values[v[1]] = Number(v[2]);
  }
  return values;
}

// What the process holds in the kernel, from its fds: BPF program and link
// ids and the number of perf event fds.
export function bpfHeld(pid) {
  const progs = new Set(), links = new Set();
  let perf = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    if (target === 'anon_inode:[perf_event]') perf++;
    if (!target.startsWith('anon_inode:bpf-prog') && !target.startsWith('anon_inode:bpf_link')
        && !target.startsWith('anon_inode:bpf-link')) continue;
    let info = '';
    try { info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'); } catch { continue; }
    const prog = info.match(/^prog_id:\s+(\d+)/m);
    const link = info.match(/^link_id:\s+(\d+)/m);
    if (prog) progs.add(Number(prog[1]));
    if (link) links.add(Number(link[1]));
  }
  return { progs, links, perf };
}

// Ids of every BPF program loaded on the host; every BPF link on the host
// ({id, type, prog_id}, `bpftool link show -j`); every perf-event attachment
// of a BPF program on the host ({pid, fd, prog_id, fd_type...},
// `bpftool perf -j`: tracepoints, kprobes, uprobes).
export function liveProgIds() {
  return new Set(JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' }) || '[]')
    .map((p) => p.id));
}
export function liveLinks() {
  return JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' }) || '[]');
}
export function perfAttachments() {
  return JSON.parse(execFileSync('bpftool', ['perf', '-j'], { encoding: 'utf8' }) || '[]');
}

// Rows of a read-only query on a SQLite store file (the sqlite3 shell).
export function sqlite(dbPath, sql) {
  const r = spawnSync('sqlite3', ['-readonly', '-json', dbPath, sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, `sqlite3 ${sql}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

export async function taskOf(url, id) {
  const r = await api(url, 'GET', `/api/v1/tasks/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Mounts a tmpfs of `sizeKb` at a new directory; .unmount() (idempotent)
// lazily detaches it and removes the directory.
export function tmpfs(sizeKb) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      mounted = false;
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Fills the file system holding `dir` with a file `name` until writes fail
// (ENOSPC); returns its path. Deleting it gives the space back.
export function fillDisk(dir, name = 'filler') {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  }
  // The last partial blocks too.
  try { for (;;) fs.writeSync(fd, chunk.subarray(0, 512)); } catch (e) { if (e.code !== 'ENOSPC') throw e; }
  fs.closeSync(fd);
  return file;
}
