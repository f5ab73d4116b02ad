// tls_bench: the cost of HTTPS on `contprof server`, plain vs TLS, measured
// in alternating rounds against two servers bench/tls.sh started:
//   - keep-alive requests/s: C clients each sending authenticated requests
//     (POST /api/v1/agent/metrics with an empty batch, agent token checked)
//     back to back over one connection each, for S seconds;
//   - new-connection ms: one such request per fresh connection (TCP, plus
//     the TLS handshake for https), median of N sequential ones.
// Usage: node bench/tls_bench.mjs HTTP_URL HTTPS_URL CA_FILE TOKEN_FILE
//        [--seconds S] [--rounds R] [--clients C]
// BENCH_QUICK=1: 1-s rounds, 2 rounds; BENCH_FIGURES=FILE: FIGURE lines.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [plainUrl, tlsUrl, caFile, tokenFile] = process.argv.slice(2, 6);
const QUICK = (process.env.BENCH_QUICK || '0') !== '0';
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('--seconds', QUICK ? 1 : 5);
const ROUNDS = arg('--rounds', QUICK ? 2 : 3);
const CLIENTS = arg('--clients', 4);
const NEW_CONNS = QUICK ? 20 : 100;
const figure = (line) => { if (process.env.BENCH_FIGURES) fs.appendFileSync(process.env.BENCH_FIGURES, `FIGURE ${line}\n`); };
const ca = fs.readFileSync(caFile);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const BODY = JSON.stringify({ agent_id: 'bench-agent', series: [] });
const PATH = '/api/v1/agent/metrics';

function request(url, agent) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url + PATH, {
      method: 'POST', agent, ca,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': BODY.length },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

async function keepAliveRate(url) {
  const mod = url.startsWith('https:') ? https : http;
  const agents = Array.from({ length: CLIENTS }, () => new mod.Agent({ keepAlive: true, maxSockets: 1, ca }));
  const until = Date.now() + SECONDS * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(agents.map(async (a) => {
    while (Date.now() < until) { await request(url, a); n++; }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  agents.forEach((a) => a.destroy());
  return n / s;
}

async function newConnectionMs(url) {
  const times = [];
  for (let i = 0; i < NEW_CONNS; i++) {
    const t0 = process.hrtime.bigint();
    await request(url, false); // agent: false, a fresh connection each time
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const kinds = [['plain', plainUrl], ['tls', tlsUrl]];
await request(plainUrl, false);
await request(tlsUrl, false);
console.log(`${ROUNDS} rounds: ${CLIENTS} keep-alive clients for ${SECONDS} s, then ${NEW_CONNS} new connections, each of plain and tls`);
for (let round = 1; round <= ROUNDS; round++) {
  const rate = {};
  for (const [kind, url] of round % 2 ? kinds : [...kinds].reverse()) {
    rate[kind] = await keepAliveRate(url);
    const ms = await newConnectionMs(url);
    const peer = (f) => (kind === 'tls' ? `tls.plain_${f}` : '-');
    figure(`tls.${kind}_keepalive_rps ${rate[kind].toFixed(0)} req/s higher ${peer('keepalive_rps')} authenticated POSTs over ${CLIENTS} keep-alive connections, ${kind}`);
    figure(`tls.${kind}_new_conn_ms ${ms.toFixed(3)} ms lower ${peer('new_conn_ms')} one request on a new connection (median of ${NEW_CONNS}), ${kind}`);
    console.log(`round ${round}  ${kind.padEnd(5)}  ${rate[kind].toFixed(0).padStart(7)} req/s keep-alive   ${ms.toFixed(2).padStart(7)} ms per new connection`);
  }
  const ratio = rate.tls / rate.plain;
  figure(`tls.keepalive_ratio ${ratio.toFixed(3)} ratio higher - keep-alive req/s with TLS / without, same round`);
  console.log(`round ${round}  tls/plain keep-alive ratio ${ratio.toFixed(3)}`);
}
