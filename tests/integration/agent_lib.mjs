// Helpers for agent tests: a temporary agent config and state directory, the
// agent started against a server URL, and fixture processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { ROOT, start, track, waitFor } from './lib.mjs';

export const FIXTURES = path.join(ROOT, process.env.CONTPROF_FIXTURES || 'build/fixtures');

// Starts `contprof agent` with `yaml` as its config; returns the child with
// .dir (state dir) and .stop(). `env` adds to the environment.
export async function startAgent(serverUrl, yaml, { stateDir, args = [], env } = {}) {
  const dir = stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-agent-'));
  const config = path.join(dir, 'agent.yaml');
  fs.writeFileSync(config, `server: ${serverUrl}\n${yaml}`);
  const child = start(['-v', 'agent', '--config', config, '--state-dir', dir, ...args],
    env ? { env: { ...process.env, ...env } } : {});
  child.dir = dir;
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`agent exited early: ${child.err()}`);
    return /agent: running on/.test(child.err());
  }, { what: 'agent running', ms: 10000 });
  return child;
}

// Starts a fixture (or any program); resolves once it runs.
export function startProcess(file, args = []) {
  const exe = file.startsWith('/') ? file : path.join(FIXTURES, file);
  const child = track(spawn(exe, args, { stdio: ['ignore', 'ignore', 'ignore'] }));
  return child;
}

export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export function kill(child, signal = 'SIGKILL') {
  if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
}
