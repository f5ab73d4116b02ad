// Security end to end: the two tokens (agent endpoints need the agent token,
// writes the write token, reads stay open), both needed off loopback, token
// files others may read refused by server, agent and CLI; TLS with a CA made
// here by openssl — agent → server over https, the CLI over https, a wrong CA
// and plain HTTP refused, client certificates required with --tls-client-ca;
// and the running agent holding only the capabilities it needs while it
// still profiles.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { run, waitFor } from './lib.mjs';
import { startServer, api } from './server_lib.mjs';
import { startAgent, startProcess, kill, FIXTURES } from './agent_lib.mjs';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-security-'));
after(() => fs.rmSync(DIR, { recursive: true, force: true }));

const AGENT_TOKEN = `agent-${crypto.randomBytes(12).toString('hex')}`;
const WRITE_TOKEN = `write-${crypto.randomBytes(12).toString('hex')}`;

function secretFile(name, text, mode = 0o600) {
  const file = path.join(DIR, name);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}
const agentTokenFile = secretFile('agent.token', `${AGENT_TOKEN}\n`);
const writeTokenFile = secretFile('write.token', `${WRITE_TOKEN}\n`);
const TOKEN_ARGS = ['--agent-token-file', agentTokenFile, '--write-token-file', writeTokenFile];
const bearer = (t) => ({ authorization: `Bearer ${t}` });

// The CLI without any token or TLS setting from the environment.
function cli(args, env = {}) {
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('CONTPROF_')) delete clean[k];
  return run(args, { env: { ...clean, ...env } });
}

function openssl(args) {
  const r = spawnSync('openssl', args, { cwd: DIR, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

// A CA (key + self-signed certificate) and leaf certificates it signs.
function makeCa(name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=contprof test ${name}`]);
  fs.chmodSync(path.join(DIR, `${name}.key`), 0o600);
  return path.join(DIR, `${name}.pem`);
}
function makeLeaf(name, ca, ext) {
  fs.writeFileSync(path.join(DIR, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '2',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  fs.chmodSync(path.join(DIR, `${name}.key`), 0o600);
  return { cert: path.join(DIR, `${name}.pem`), key: path.join(DIR, `${name}.key`) };
}

let CA, WRONG_CA, SERVER, CLIENT;
before(() => {
  CA = makeCa('ca');
  WRONG_CA = makeCa('wrong-ca');
  SERVER = makeLeaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  CLIENT = makeLeaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
});

// One HTTPS request with node's own TLS stack: {status, json} or throws.
function httpsApi(url, method, p, { body, headers = {}, ca = CA, cert, key } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url + p, {
      method,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      ca: fs.readFileSync(ca),
      ...(cert ? { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } : {}),
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const POLICY = {
  service: 'sec',
  targets: [{ target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 99, period: 10, count: 10 }] }],
};
const REGISTER = {
  agent_id: 'h1', host: 'h1',
  processes: [{ id: 'h1:1:100', service: 'sec', instance: 'h1', name: 'p', pid: 1 }],
};

describe('tokens', () => {
  test('agent endpoints need the agent token, writes the write token, reads none', async () => {
    const srv = await startServer({ listen: '0.0.0.0:0', args: TOKEN_ARGS });
    try {
      assert.match(srv.child.err(), /agent token required, write token required/);
      const reg = (h) => api(srv.url, 'POST', '/api/v1/agent/register', REGISTER, h);
      for (const h of [{}, bearer(WRITE_TOKEN), bearer(`${AGENT_TOKEN}x`), bearer(AGENT_TOKEN.slice(0, -1))]) {
        const r = await reg(h);
        assert.equal(r.status, 401, r.text);
        assert.match(r.json.errors[0], /missing or wrong agent token/);
      }
      const ok = await reg(bearer(AGENT_TOKEN));
      assert.ok(ok.status >= 200 && ok.status < 300, ok.text);

      const put = (h) => api(srv.url, 'PUT', '/api/v1/services/sec/policy', POLICY, h);
      for (const h of [{}, bearer(AGENT_TOKEN), bearer(`${WRITE_TOKEN}x`)]) {
        const r = await put(h);
        assert.equal(r.status, 401, r.text);
        assert.match(r.json.errors[0], /missing or wrong write token/);
      }
      assert.equal((await put(bearer(WRITE_TOKEN))).status, 200);
      const task = { process_id: 'h1:1:100', target: 'ON_CPU', duration: 5 };
      assert.equal((await api(srv.url, 'POST', '/api/v1/tasks', task, bearer(AGENT_TOKEN))).status, 401);
      assert.equal((await api(srv.url, 'POST', '/api/v1/tasks', task)).status, 401);
      assert.equal((await api(srv.url, 'DELETE', '/api/v1/services/sec/policy', undefined, bearer(AGENT_TOKEN))).status, 401);

      // Reads are open: the policy written above, the registered process.
      const got = await api(srv.url, 'GET', '/api/v1/services/sec/policy');
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.service, 'sec');
      assert.equal((await api(srv.url, 'GET', '/api/v1/processes?service=sec')).json.length, 1);

      // The CLI sends the write token from a file or $CONTPROF_WRITE_TOKEN.
      const args = ['profile', 'h1:1:100', '--target', 'ON_CPU', '--server', srv.url];
      const refused = await cli(args);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /write token/);
      assert.equal((await cli([...args, '--token-file', agentTokenFile])).code, 1);
      const viaFile = await cli([...args, '--token-file', writeTokenFile]);
      assert.equal(viaFile.code, 0, viaFile.stderr);
      const viaEnv = await cli(args, { CONTPROF_WRITE_TOKEN: WRITE_TOKEN, CONTPROF_TOKEN: 'ignored' });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
    } finally {
      await srv.stop();
    }
  });

  test('off loopback both tokens are needed', async () => {
    const store = `sqlite:${DIR}/refused.db`;
    const noWrite = await cli(['server', '--listen', '0.0.0.0:0', '--store', store, '--agent-token-file', agentTokenFile]);
    assert.equal(noWrite.code, 2);
    assert.match(noWrite.stderr, /refusing to listen on non-loopback address 0\.0\.0\.0:0 without a write token/);
    const noAgent = await cli(['server', '--listen', '0.0.0.0:0', '--store', store], { CONTPROF_WRITE_TOKEN: 'w' });
    assert.equal(noAgent.code, 2);
    assert.match(noAgent.stderr, /without an agent token/);
  });

  test('token files that group or others may read are refused everywhere', async () => {
    const open = secretFile('open.token', `${AGENT_TOKEN}\n`, 0o644);
    const grp = secretFile('group.token', `${AGENT_TOKEN}\n`, 0o640);
    const srv = await cli(['server', '--store', `sqlite:${DIR}/open.db`, '--token-file', open]);
    assert.equal(srv.code, 1);
    assert.match(srv.stderr, new RegExp(`${open} may be read or written by group or others \\(mode 0644\\).*chmod 600`));
    const client = await cli(['processes', '--server', 'http://127.0.0.1:1', '--token-file', grp]);
    assert.notEqual(client.code, 0);
    assert.match(client.stderr, /mode 0640.*chmod 600/);
    const agent = await cli(['agent', '--server', 'http://127.0.0.1:1', '--state-dir', DIR, '--token-file', open]);
    assert.equal(agent.code, 1);
    assert.match(agent.stderr, /mode 0644.*chmod 600/);
  });
});

describe('TLS', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...TOKEN_ARGS, '--tls-cert', SERVER.cert, '--tls-key', SERVER.key] });
    srv.https = srv.url.replace('http://', 'https://');
  });
  after(async () => { await srv?.stop(); });

  test('the server speaks HTTPS only, with its certificate', async () => {
    assert.match(srv.child.err(), /\(https, store/);
    const r = await httpsApi(srv.https, 'GET', '/healthz');
    assert.equal(r.status, 200, r.text);
    await assert.rejects(() => httpsApi(srv.https, 'GET', '/healthz', { ca: WRONG_CA }), /self.signed|unable to verify|certificate/i);
    await assert.rejects(() => api(srv.url, 'GET', '/healthz'));
    // Tokens still apply over TLS.
    const reg = await httpsApi(srv.https, 'POST', '/api/v1/agent/register', { body: REGISTER, headers: bearer(WRITE_TOKEN) });
    assert.equal(reg.status, 401, reg.text);
  });

  test('a private key others may read, or half a TLS setup, is refused at start', async () => {
    const openKey = path.join(DIR, 'open-server.key');
    fs.copyFileSync(SERVER.key, openKey);
    fs.chmodSync(openKey, 0o644);
    const store = `sqlite:${DIR}/tls-refused.db`;
    const r = await cli(['server', '--store', store, '--tls-cert', SERVER.cert, '--tls-key', openKey]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /open-server\.key may be read or written by others \(mode 0644\).*chmod o-rwx/);
    const half = await cli(['server', '--store', store, '--tls-cert', SERVER.cert]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /TLS needs both --tls-cert and --tls-key/);
    const agentKey = await cli(['agent', '--server', 'https://127.0.0.1:1', '--state-dir', DIR,
      '--tls-cert', CLIENT.cert, '--tls-key', openKey]);
    assert.equal(agentKey.code, 1);
    assert.match(agentKey.stderr, /chmod o-rwx/);
  });

  test('only TLS 1.2 and 1.3 are spoken', () => {
    const hello = (v) => spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, `-${v}`,
      '-cipher', 'DEFAULT@SECLEVEL=0', '-CAfile', CA], { input: '', encoding: 'utf8', timeout: 10000 });
    for (const v of ['tls1_2', 'tls1_3']) assert.match(hello(v).stdout, /Verify return code: 0 \(ok\)/, v);
    for (const v of ['tls1', 'tls1_1']) {
      const r = hello(v);
      assert.match(r.stdout, /New, \(NONE\), Cipher is \(NONE\)/, v);
      assert.notEqual(r.status, 0, `${v} handshake should fail`);
    }
  });

  test('the CLI over https: trusted with --tls-ca, refused with a wrong CA or none', async () => {
    const ok = await cli(['processes', '--server', srv.https, '--tls-ca', CA, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(Array.isArray(JSON.parse(ok.stdout)));
    const viaEnv = await cli(['processes', '--server', srv.https, '--json'], { CONTPROF_TLS_CA: CA });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const wrong = await cli(['processes', '--server', srv.https, '--tls-ca', WRONG_CA]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted.*--tls-ca/);
    const none = await cli(['processes', '--server', srv.https]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /not trusted/);
  });

  test('the agent reports over https with --tls-ca and its token', async () => {
    const sleeper = startProcess('/bin/sleep', ['3141']);
    const tokenArgs = ['--token-file', agentTokenFile];
    const config = 'processes:\n  - match: {cmdline: "sleep 3141"}\n    service: tlsvc\n    process: "sleeper"\n';
    let agent, wrong;
    try {
      agent = await startAgent(srv.https, config, { args: [...tokenArgs, '--tls-ca', CA] });
      const procs = await waitFor(async () => {
        const r = await httpsApi(srv.https, 'GET', '/api/v1/processes?service=tlsvc');
        return r.status === 200 && r.json.length ? r.json : null;
      }, { what: 'sleeper registered over https', ms: 15000 });
      assert.equal(procs[0].pid, sleeper.pid);
      // With a CA that did not sign the server's certificate nothing arrives.
      wrong = await startAgent(srv.https, config.replace('tlsvc', 'wrongca'), { args: [...tokenArgs, '--tls-ca', WRONG_CA] });
      await waitFor(() => /certificate|SSL/i.test(wrong.err()), { what: 'agent TLS failure logged', ms: 15000 });
      const none = await httpsApi(srv.https, 'GET', '/api/v1/processes?service=wrongca');
      assert.deepEqual(none.json, []);
    } finally {
      kill(sleeper);
      await agent?.stop();
      await wrong?.stop();
    }
  });
});

describe('TLS client certificates', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: [...TOKEN_ARGS, '--tls-cert', SERVER.cert, '--tls-key', SERVER.key, '--tls-client-ca', CA],
    });
    srv.https = srv.url.replace('http://', 'https://');
  });
  after(async () => { await srv?.stop(); });

  test('requests without a client certificate the CA signed are refused (403)', async () => {
    const bare = await httpsApi(srv.https, 'GET', '/api/v1/processes');
    assert.equal(bare.status, 403, bare.text);
    assert.match(bare.json.errors[0], /client certificate/);
    // Before anything else: even the routes that exist are not revealed.
    assert.equal((await httpsApi(srv.https, 'GET', '/no/such/route')).status, 403);
    const wrongKey = makeLeaf('stranger', 'wrong-ca', 'extendedKeyUsage=clientAuth\n');
    // Signed by another CA: refused in the handshake or with 403, never served.
    const stranger = await httpsApi(srv.https, 'GET', '/api/v1/processes', wrongKey)
      .catch((e) => ({ status: `handshake refused: ${e.message}` }));
    assert.ok(stranger.status === 403 || /handshake refused/.test(stranger.status), String(stranger.status));
    const ok = await httpsApi(srv.https, 'GET', '/api/v1/processes', CLIENT);
    assert.equal(ok.status, 200, ok.text);
    const cliOk = await cli(['processes', '--server', srv.https, '--tls-ca', CA,
      '--tls-cert', CLIENT.cert, '--tls-key', CLIENT.key]);
    assert.equal(cliOk.code, 0, cliOk.stderr);
    const cliBare = await cli(['processes', '--server', srv.https, '--tls-ca', CA]);
    assert.equal(cliBare.code, 1);
    assert.match(cliBare.stderr, /client certificate/);
  });

  test('the agent presents its certificate (--tls-cert/--tls-key)', async () => {
    const sleeper = startProcess('/bin/sleep', ['2653']);
    const config = 'processes:\n  - match: {cmdline: "sleep 2653"}\n    service: mtls\n    process: "sleeper"\n';
    let agent;
    try {
      agent = await startAgent(srv.https, config, {
        args: ['--token-file', agentTokenFile, '--tls-ca', CA, '--tls-cert', CLIENT.cert, '--tls-key', CLIENT.key],
      });
      await waitFor(async () => {
        const r = await httpsApi(srv.https, 'GET', '/api/v1/processes?service=mtls', CLIENT);
        return r.status === 200 && r.json.length === 1;
      }, { what: 'sleeper registered with a client certificate', ms: 15000 });
    } finally {
      kill(sleeper);
      await agent?.stop();
    }
  });
});

// Capability bits of /proc/PID/status ("CapEff:\t000000c001080004").
function caps(pidPath) {
  const status = fs.readFileSync(`${pidPath}/status`, 'utf8');
  const get = (k) => BigInt(`0x${status.match(new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm'))[1]}`);
  return { eff: get('CapEff'), prm: get('CapPrm'), inh: get('CapInh'), bnd: get('CapBnd'), amb: get('CapAmb'),
    nnp: Number(status.match(/^NoNewPrivs:\s*(\d)$/m)[1]) };
}
const CAP = { DAC_READ_SEARCH: 2n, SYS_PTRACE: 19n, SYS_RESOURCE: 24n, PERFMON: 38n, BPF: 39n };
// The five, of those this (root) test process holds itself: a container may
// withhold some (CAP_SYS_RESOURCE, typically).
const AGENT_CAPS = Object.values(CAP).reduce((m, c) => m | (1n << c), 0n) & caps('/proc/self').prm;

test('the running agent keeps only the capabilities it needs and still profiles', { skip: process.getuid() !== 0 && 'needs root' }, async () => {
  const burnerDir = fs.mkdtempSync(path.join(DIR, 'burn-'));
  const burner = path.join(burnerDir, `capb${process.pid}`.slice(0, 15));
  fs.copyFileSync(path.join(FIXTURES, 'busyloop'), burner);
  fs.chmodSync(burner, 0o755);
  const srv = await startServer({ args: TOKEN_ARGS });
  const proc = startProcess(burner);
  const config = `processes:\n  - match: {comm: "^${path.basename(burner)}$"}\n    service: capsvc\n    process: "{comm}"\n` +
    'profiling: {flush_interval: 1}\n';
  let agent;
  try {
    agent = await startAgent(srv.url, config, { args: ['--token-file', agentTokenFile] });
    assert.match(agent.err(), /capabilities dropped; keeping 0x/);
    assert.ok((AGENT_CAPS & (1n << CAP.BPF)) && (AGENT_CAPS & (1n << CAP.PERFMON)), 'test runs with CAP_BPF and CAP_PERFMON');
    // Every thread of the agent: exactly the five, nothing to regain.
    const tasks = fs.readdirSync(`/proc/${agent.pid}/task`);
    assert.ok(tasks.length >= 3, `threads: ${tasks}`);
    for (const tid of tasks) {
      const c = caps(`/proc/${agent.pid}/task/${tid}`);
      assert.equal(c.eff, AGENT_CAPS, `thread ${tid} CapEff ${c.eff.toString(16)}`);
      assert.equal(c.prm, AGENT_CAPS);
      assert.equal(c.inh, 0n);
      assert.equal(c.amb, 0n);
      assert.equal(c.bnd & ~AGENT_CAPS, 0n, `CapBnd ${c.bnd.toString(16)}`);
      assert.equal(c.nnp, 1);
    }
    // It still profiles: a manual ON_CPU task loads its BPF program now,
    // after the drop, and delivers the burner's stacks.
    const p = await waitFor(async () => (await api(srv.url, 'GET', '/api/v1/processes?service=capsvc')).json[0],
      { what: 'burner registered', ms: 15000 });
    const created = await api(srv.url, 'POST', '/api/v1/tasks', { process_id: p.id, target: 'ON_CPU', duration: 3 },
      bearer(WRITE_TOKEN));
    assert.equal(created.status, 201, created.text);
    const t = await waitFor(async () => {
      const r = await api(srv.url, 'GET', `/api/v1/tasks/${created.json.id}`);
      return ['FINISHED', 'FAILED'].includes(r.json.status) ? r.json : null;
    }, { what: 'manual task finished', ms: 30000, every: 250 });
    assert.equal(t.status, 'FINISHED', JSON.stringify(t));
    const flame = await waitFor(async () => {
      const r = await api(srv.url, 'GET', `/api/v1/tasks/${t.id}/flamegraph?format=folded`);
      return r.status === 200 && /(^|;)(main|spin)( |;)/m.test(r.text) ? r.text : null;
    }, { what: 'stacks of the burner', ms: 10000 });
    const samples = flame.trim().split('\n').reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    // Counted, not timed: the box may be loaded, any real sample proves it.
    assert.ok(samples >= 5, `samples: ${samples}\n${flame}`);
    // And the capabilities are still the five after loading.
    assert.equal(caps(`/proc/${agent.pid}`).eff, AGENT_CAPS);
  } finally {
    kill(proc);
    await agent?.stop();
    await srv.stop();
  }
});

test('--keep-capabilities keeps them (the escape hatch)', { skip: process.getuid() !== 0 && 'needs root' }, async () => {
  const srv = await startServer();
  let agent;
  try {
    agent = await startAgent(srv.url, '', { args: ['--keep-capabilities'] });
    assert.doesNotMatch(agent.err(), /capabilities dropped/);
    assert.ok(caps(`/proc/${agent.pid}`).eff & (1n << 21n), 'CAP_SYS_ADMIN kept');
  } finally {
    await agent?.stop();
    await srv.stop();
  }
});
