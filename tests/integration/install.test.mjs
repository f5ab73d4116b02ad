// `make install` and `make uninstall` into a DESTDIR (docs/install.md): the
// tree they leave, the units' paths following PREFIX, an existing agent
// config never overwritten, the installed binary and example config usable,
// and `systemd-analyze verify` accepting both units (when systemd-analyze
// is on this machine; it runs on an install under a temporary PREFIX, so
// that the units name real files). The binary installed is the one the tests run
// (CONTPROF_BIN's build directory), so make builds nothing here.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN, ROOT } from './lib.mjs';

const exec = promisify(execFile);
const UNITS = ['contprof-agent.service', 'contprof-server.service'];

// Runs make in the repository with the binary's build directory.
async function make(target, vars) {
  // The sanitizer build's flags too, should make find something to rebuild.
  const build = path.relative(ROOT, path.dirname(BIN));
  const flavour = build === 'build/san' ? ['SAN=1'] : build === 'build' ? [] : [`BUILD=${build}`];
  const args = ['-s', '--no-print-directory', target, ...flavour,
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  return exec('make', args, { cwd: ROOT, maxBuffer: 1 << 20 });
}

function mode(file) {
  return fs.statSync(file).mode & 0o777;
}

// Every file under dir, relative, sorted.
function tree(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

async function hasSystemdAnalyze() {
  try {
    await exec('systemd-analyze', ['--version']);
    return true;
  } catch {
    return false;
  }
}

test('make install PREFIX=/usr DESTDIR=...: binary, units, docs, example config; uninstall', async (t) => {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-install-'));
  try {
    await make('install', { DESTDIR: dest, PREFIX: '/usr' });
    const files = tree(dest);
    for (const f of ['usr/bin/contprof', 'etc/contprof/agent.yaml',
      'usr/lib/systemd/system/contprof-agent.service', 'usr/lib/systemd/system/contprof-server.service',
      'usr/share/doc/contprof/README.md', 'usr/share/doc/contprof/install.md',
      'usr/share/doc/contprof/troubleshooting.md', 'usr/share/doc/contprof/examples/agent.yaml']) {
      assert.ok(files.includes(f), `${f} installed: ${files.join(' ')}`);
    }
    assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, 'no temporary files left');
    assert.equal(mode(path.join(dest, 'usr/bin/contprof')), 0o755);
    assert.equal(mode(path.join(dest, 'usr/lib/systemd/system/contprof-agent.service')), 0o644);
    assert.ok(fs.readFileSync(path.join(dest, 'usr/bin/contprof')).equals(fs.readFileSync(BIN)), 'the built binary');

    // The units name the installed paths; nothing is left to substitute.
    const agent = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/contprof-agent.service'), 'utf8');
    const server = fs.readFileSync(path.join(dest, 'usr/lib/systemd/system/contprof-server.service'), 'utf8');
    assert.match(agent, /^ExecStart=\/usr\/bin\/contprof agent --config \/etc\/contprof\/agent\.yaml /m);
    assert.match(server, /^ExecStart=\/usr\/bin\/contprof server --token-file %d\/token --store \$\{CONTPROF_SERVER_STORE\} \$CONTPROF_SERVER_OPTS$/m);
    assert.match(server, /^LoadCredential=token:\/etc\/contprof\/token$/m);
    assert.match(server, /^DynamicUser=yes$/m);
    assert.doesNotMatch(agent + server, /@[A-Z]+@/);

    // The installed binary runs, and the example config is one the agent accepts.
    const help = await exec(path.join(dest, 'usr/bin/contprof'), ['agent', '--help']);
    assert.match(help.stdout, /^usage: contprof agent/);
    const check = await exec(path.join(dest, 'usr/bin/contprof'),
      ['agent', '--check', '--config', path.join(dest, 'etc/contprof/agent.yaml')]).catch((e) => e);
    assert.equal(check.code ?? 0, 0, `${check.stdout}${check.stderr}`);

    // Installing again keeps a config the user edited.
    fs.writeFileSync(path.join(dest, 'etc/contprof/agent.yaml'), 'server: http://10.0.0.5:8080\n');
    await make('install', { DESTDIR: dest, PREFIX: '/usr' });
    assert.equal(fs.readFileSync(path.join(dest, 'etc/contprof/agent.yaml'), 'utf8'), 'server: http://10.0.0.5:8080\n');

    // Uninstall removes what install added and keeps the config.
    await make('uninstall', { DESTDIR: dest, PREFIX: '/usr' });
    assert.deepEqual(tree(dest), ['etc/contprof/agent.yaml']);
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
});

test('make install PREFIX=DIR: paths follow PREFIX and SYSCONFDIR; systemd-analyze verify accepts the units', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-install-'));
  try {
    // No DESTDIR: the units name real files, so verify can check ExecStart.
    await make('install', { PREFIX: `${dir}/usr/local`, SYSCONFDIR: `${dir}/etc` });
    const files = tree(dir);
    assert.ok(files.includes('usr/local/bin/contprof'), files.join(' '));
    assert.ok(files.includes('etc/contprof/agent.yaml'), files.join(' '));
    const units = UNITS.map((u) => path.join(dir, 'usr/local/lib/systemd/system', u));
    const agent = fs.readFileSync(units[0], 'utf8');
    assert.ok(agent.includes(`\nExecStart=${dir}/usr/local/bin/contprof agent --config ${dir}/etc/contprof/agent.yaml `), agent);
    assert.ok(agent.includes(`\nDocumentation=file://${dir}/usr/local/share/doc/contprof/install.md\n`), agent);
    assert.ok(fs.readFileSync(units[1], 'utf8').includes(`\nLoadCredential=token:${dir}/etc/contprof/token\n`));
    if (await hasSystemdAnalyze()) {
      const v = await exec('systemd-analyze', ['verify', ...units]).catch((e) => e);
      const out = `${v.stdout}${v.stderr}`;
      assert.equal(v.code ?? 0, 0, out);
      // verify only warns about some mistakes (an unknown key): none may be ours.
      assert.doesNotMatch(out, /contprof-(agent|server)\.service/, out);
      t.diagnostic('systemd-analyze verify: both units accepted');
    } else {
      t.diagnostic('systemd-analyze not installed: units not verified');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// --- The server unit's command line, as systemd composes it ---------------
// systemd-analyze cannot show an ExecStart= with its variables expanded on a
// machine where systemd is not running, so this does what systemd.service(5)
// and systemd.exec(5) say: Environment= lines, then the EnvironmentFile= on
// top; in ExecStart= a word "$VAR" is the value split at whitespace (nothing
// when empty) and "${VAR}" is the value as one word.

// The value of `key=` lines of a unit (the last one, or every one).
function unitValues(unit, key) {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
}

// Environment= lines: each holds one or more "A=B" assignments, quoted or not.
function unitEnvironment(unit) {
  const env = {};
  for (const line of unitValues(unit, 'Environment')) {
    for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) {
      const a = m[1] ?? m[2];
      const eq = a.indexOf('=');
      env[a.slice(0, eq)] = a.slice(eq + 1);
    }
  }
  return env;
}

// An EnvironmentFile: KEY=VALUE lines, # comments, optional quotes.
function envFile(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!m) continue;
    env[m[1]] = m[2].trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return env;
}

function execArgv(unit, fileEnv) {
  const env = { ...unitEnvironment(unit), ...fileEnv };
  const [exec] = unitValues(unit, 'ExecStart');
  const argv = [];
  for (const word of exec.split(/\s+/).filter(Boolean)) {
    let m;
    if ((m = word.match(/^\$([A-Za-z_][A-Za-z0-9_]*)$/))) argv.push(...(env[m[1]] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k) => env[k] ?? ''));
  }
  return argv;
}

// What `contprof server` makes of argv: getopt_long, the last of an option wins.
function lastOption(argv, name) {
  let value;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) value = argv[++i];
    else if (argv[i].startsWith(`${name}=`)) value = argv[i].slice(name.length + 1);
  }
  return value;
}

test('the server unit: a server.env that sets only --listen (the README\'s several-hosts step) keeps the store in the state directory', async () => {
  const unit = fs.readFileSync(path.join(ROOT, 'dist/systemd/contprof-server.service.in'), 'utf8');
  const [stateDir] = unitValues(unit, 'StateDirectory');
  assert.equal(stateDir, 'contprof-server');
  const state = `/var/lib/${stateDir}`;
  // The server's own default store (sqlite:contprof.db) is relative to its
  // working directory: that is the state directory, never / (read-only).
  assert.deepEqual(unitValues(unit, 'WorkingDirectory'), [state]);
  const defaultStore = `sqlite:${state}/contprof.db`;

  const cases = [
    ['no server.env', '', defaultStore, '127.0.0.1:8080'],
    ['--listen only', 'CONTPROF_SERVER_OPTS=--listen 0.0.0.0:8080\n', defaultStore, '0.0.0.0:8080'],
    ['quoted, with other options', '# the agents reach 10.0.0.5\nCONTPROF_SERVER_OPTS="--listen 10.0.0.5:8080 --retention-tasks 30d"\n',
      defaultStore, '10.0.0.5:8080'],
    ['a store of its own', 'CONTPROF_SERVER_STORE=postgresql://contprof@db.internal:5432/contprof\nCONTPROF_SERVER_OPTS=--listen 0.0.0.0:8080\n',
      'postgresql://contprof@db.internal:5432/contprof', '0.0.0.0:8080'],
    ['a store in the options wins', 'CONTPROF_SERVER_OPTS=--listen 0.0.0.0:8080 --store sqlite:/var/lib/contprof-server/other.db\n',
      'sqlite:/var/lib/contprof-server/other.db', '0.0.0.0:8080'],
  ];
  for (const [what, file, store, listen] of cases) {
    const argv = execArgv(unit, envFile(file));
    assert.deepEqual(argv.slice(0, 4), ['@BINDIR@/contprof', 'server', '--token-file', '%d/token'], what);
    assert.equal(lastOption(argv, '--store'), store, `${what}: ${argv.join(' ')}`);
    assert.equal(lastOption(argv, '--listen'), listen, `${what}: ${argv.join(' ')}`);
    assert.ok(!argv.includes(''), `${what}: no empty argument: ${JSON.stringify(argv)}`);
  }

  // Every server.env line the docs tell users to write keeps a store.
  const docs = ['README.md', 'docs/install.md'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  const lines = [...docs.matchAll(/CONTPROF_SERVER_(?:OPTS|STORE)=[^`\n]*/g)].map((m) => m[0]);
  assert.ok(lines.some((l) => /^CONTPROF_SERVER_OPTS=--listen 0\.0\.0\.0:8080$/.test(l.trim())), lines.join('\n'));
  for (const line of lines) {
    const argv = execArgv(unit, envFile(line));
    const store = lastOption(argv, '--store');
    assert.ok(/^(sqlite:\/|postgresql:\/\/)/.test(store ?? ''), `${line}: store ${store}, ${argv.join(' ')}`);
  }
});
