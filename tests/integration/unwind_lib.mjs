// Workloads and stack helpers for the CFI unwinding tests and bench/unwind.sh:
// stock Debian binaries (nginx under wrk, python3) and a C fixture built
// without frame pointers; folded-stack parsing, the "reaches the thread
// entry" rule, and `perf record --call-graph dwarf` stacks for comparison.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, track, waitFor } from './lib.mjs';

// Outermost frames of a complete user stack: the program's start code or the
// C library's thread trampolines.
export const ENTRY_ROOTS = new Set(['_start', 'start_thread', 'clone', 'clone3', '__clone',
  '__clone3', 'thread_start']);

export const PYTHON = '/usr/bin/python3'; // Debian's, not a toolchain shim
export const PY_BUSY = [
  'import os',
  'def spin_inner(n):',
  '    s = 0',
  '    for i in range(n): s += i * i',
  '    return s',
  'def spin_outer():',
  '    while True: spin_inner(100000)',
  'print(os.getpid(), flush=True)',
  'spin_outer()',
].join('\n');

export const PY_SLEEPY = [
  'import os, time',
  'def nap():',
  '    time.sleep(0.005)',
  'def nap_forever():',
  '    while True: nap()',
  'print(os.getpid(), flush=True)',
  'nap_forever()',
].join('\n');

// Parses "stack count [ns]" lines into [{stack, frames, count}].
export function parseFolded(text) {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const parts = l.split(' ');
    if (/^\d+$/.test(parts.at(-2) ?? '') && /^\d+$/.test(parts.at(-1))) parts.pop();
    const count = Number(parts.pop());
    const stack = parts.join(' ');
    return { stack, frames: stack.split(';'), count };
  });
}

export const total = (stacks, pred = () => true) =>
  stacks.filter(pred).reduce((a, s) => a + s.count, 0);

export const reachesEntry = (s) => ENTRY_ROOTS.has(s.frames[0]);

// True when `names` appear in `frames` in this order (not necessarily
// adjacent).
export function inOrder(frames, names) {
  let i = 0;
  for (const f of frames) if (i < names.length && f === names[i]) i++;
  return i === names.length;
}

// Spawns a process that prints its pid first; resolves {child, pid}.
export async function spawnWithPid(file, args = [], opts = {}) {
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const pid = await waitFor(() => {
    const m = out.match(/^(\d+)\n/);
    return m && Number(m[1]);
  }, { what: `${path.basename(file)} to start` });
  return { child, pid };
}

export function kill(child) {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// Builds tests/fixtures/lib/qsortcmp.c without frame pointers into dir.
export function buildQsortFixture(dir) {
  const bin = path.join(dir, 'qsortcmp');
  execFileSync('clang', ['-O2', '-g', '-fomit-frame-pointer', '-pthread', '-o', bin,
    path.join(ROOT, 'tests/fixtures/lib/qsortcmp.c')]);
  return bin;
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// Starts Debian's nginx (master + 2 workers) on a free loopback port with its
// files in dir; resolves {master, workers: [pid], port, stop()}.
export async function startNginx(dir) {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const temp = (k) => `${k}_temp_path ${dir};`;
  fs.writeFileSync(conf, [
    'daemon off;', 'master_process on;', 'worker_processes 2;', `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log;`, 'events { worker_connections 256; }',
    'http { access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp),
    `server { listen 127.0.0.1:${port}; location / { return 200 "hello\\n"; } } }`,
  ].join('\n'));
  const master = track(spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' }));
  const workers = await waitFor(() => {
    try {
      const kids = fs.readFileSync(`/proc/${master.pid}/task/${master.pid}/children`, 'utf8')
        .trim().split(/\s+/).filter(Boolean).map(Number);
      return kids.length === 2 && kids;
    } catch { return null; }
  }, { ms: 10000, what: 'nginx workers' });
  // SIGTERM lets the master stop its workers (a SIGKILLed master leaves them
  // running, orphaned); whatever is still alive after that is killed.
  const stop = async () => {
    if (master.exitCode === null && master.signalCode === null) {
      const exited = new Promise((r) => master.once('exit', r));
      master.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    kill(master);
    for (const w of workers) {
      try { process.kill(w, 'SIGKILL'); } catch { /* already gone */ }
    }
  };
  return { master, workers, port, stop };
}

// Runs wrk against url for `seconds`; returns the child.
export function startWrk(url, seconds) {
  return track(spawn('wrk', ['-t1', '-c8', `-d${seconds}s`, url], { stdio: 'ignore' }));
}

// Name normalisation for comparing our stacks with perf's: frames without a
// symbol ([unknown], module+0xADDR) compare equal to each other; the glibc
// aliases perf and we may pick differently are unified; direct recursion is
// collapsed (its depth varies from sample to sample).
export function normalizeFrames(frames) {
  const out = [];
  for (let f of frames) {
    if (f.endsWith('_[k]')) continue;
    if (f === '[unknown]' || /\+0x[0-9a-f]+$/.test(f)) f = '?';
    f = f.replace(/@@?[A-Z_0-9.]+$/, '').replace(/_impl$/, '');
    if (out.at(-1) !== f) out.push(f);
  }
  return out.join(';');
}

// Top n normalised user stacks: [{stack, share}] by count.
export function topStacks(stacks, n) {
  const m = new Map();
  let all = 0;
  for (const s of stacks) {
    const k = normalizeFrames(s.frames);
    m.set(k, (m.get(k) ?? 0) + s.count);
    all += s.count;
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([stack, c]) => ({ stack, share: c / all }));
}

// Records pid's user stacks with `perf record --call-graph dwarf` for
// `seconds` at hz; resolves the stacks as [{frames (root first), count}].
export async function perfDwarf(pid, seconds, hz, dir) {
  const data = path.join(dir, `perf-${pid}.data`);
  const rec = track(spawn('perf', ['record', '-q', '-o', data, '-e', 'cpu-clock:u', '-F', String(hz),
    '--call-graph', 'dwarf', '-p', String(pid), '--', 'sleep', String(seconds)],
  { stdio: 'ignore' }));
  await new Promise((r) => rec.once('exit', r));
  const text = execFileSync('perf', ['script', '-i', data, '--no-inline', '-F', 'ip,sym'],
    { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const counts = new Map();
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block.split('\n').map((l) => l.trim()).filter(Boolean)
      .map((l) => l.replace(/^[0-9a-f]+\s+/, '').replace(/\+0x[0-9a-f]+$/, '')).reverse();
    if (!frames.length) continue;
    const k = frames.join(';');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].map(([k, count]) => ({ frames: k.split(';'), count }));
}
