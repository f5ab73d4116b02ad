// Shared helpers for integration tests: they run the real binary (the
// sanitizer build when CONTPROF_BIN points at it) on loopback, as root.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.CONTPROF_BIN || path.join(ROOT, 'build/contprof');

// Every child a test file starts; whatever a failed test left running is
// killed after the file's tests end, so a failure never hangs the run.
const children = new Set();
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
// The file's own after-hooks stop what they started first; a timer that does
// not keep the process alive kills the rest a few seconds later.
after(() => {
  setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
  }, 5000).unref();
});

// Starts `contprof ...args`; collects stdout/stderr; returns the child with
// .out() / .err() accessors and .stop() (SIGTERM, then waits for exit).
export function start(args, opts = {}) {
  const child = track(spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }));
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  child.out = () => out;
  child.err = () => err;
  child.exited = once(child, 'exit');
  child.stop = async (signal = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const [code, sig] = await child.exited;
    return { code, signal: sig };
  };
  return child;
}

// Runs `contprof ...args` to completion: {code, stdout, stderr}.
export async function run(args, opts = {}) {
  const child = start(args, opts);
  const [code] = await child.exited;
  return { code, stdout: child.out(), stderr: child.err() };
}

// Polls fn() every `every` ms until it returns a truthy value or `ms` pass.
export async function waitFor(fn, { ms = 5000, every = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
