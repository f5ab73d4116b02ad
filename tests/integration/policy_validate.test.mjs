// `contprof policy validate FILE|-` end to end: exit codes, the version line,
// every reason on stderr one per line, stdin, unreadable files, usage.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { start, run } from './lib.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'contprof-policy-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name, text) {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

// Runs `contprof ...args` with `input` on stdin.
async function runWithStdin(args, input) {
  const child = start(args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(input);
  const [code] = await child.exited;
  return { code, stdout: child.out(), stderr: child.err() };
}

const example = {
  service: 'checkout',
  targets: [
    { target: 'ON_CPU', items: [{ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 5 }] },
    {
      target: 'NETWORK',
      items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 30, count: 3, uri_regex: '^/api/' }],
    },
  ],
};
// The canonical form DESIGN.md's version hashes: sorted keys, compact.
const exampleCanonical = '{"service":"checkout","targets":[{"items":[{"count":5,"monitor":"PROCESS_CPU",'
  + '"period":10,"threshold":80}],"target":"ON_CPU"},{"items":[{"count":3,"monitor":"HTTP_ERROR_RATE",'
  + '"period":30,"threshold":10,"uri_regex":"^/api/"}],"target":"NETWORK"}]}';
const exampleVersion = createHash('sha256').update(exampleCanonical).digest('hex');

test('a valid document exits 0 and prints service and version', async () => {
  const r = await run(['policy', 'validate', file('example.json', JSON.stringify(example, null, 2))]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `valid: service checkout, version ${exampleVersion}\n`);
  assert.equal(r.stderr, '');
});

test('order, whitespace and number spelling do not change the version', async () => {
  const text = '{"targets":[{"items":[{"uri_regex":"^/api/","count":3,"period":30,'
    + '"monitor":"HTTP_ERROR_RATE","threshold":1e1}],"target":"NETWORK"},\n\n'
    + '  {"target":"ON_CPU","items":[{"count":5.0,"period":10,"threshold":80.0,"monitor":"PROCESS_CPU"}]}],'
    + '"service":"checkout"}';
  const r = await run(['policy', 'validate', file('reordered.json', text)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `valid: service checkout, version ${exampleVersion}\n`);

  const changed = structuredClone(example);
  changed.targets[0].items[0].threshold = 81;
  const c = await run(['policy', 'validate', file('changed.json', JSON.stringify(changed))]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^valid: service checkout, version [0-9a-f]{64}\n$/);
  assert.notEqual(c.stdout, r.stdout);
});

test('an invalid document exits 1 with every reason on stderr, one per line', async () => {
  const bad = {
    service: '',
    targets: [
      { target: 'ONCPU', items: [{ monitor: 'PROCESS_CPU', threshold: 80, period: 10, count: 12 }] },
      {
        target: 'NETWORK',
        items: [{ monitor: 'HTTP_ERROR_RATE', threshold: 10, period: 'x', count: 1, uri_list: ['api'] }],
        silence: 0,
      },
    ],
    'bad\nkey': true,
  };
  const r = await run(['policy', 'validate', file('bad.json', JSON.stringify(bad))]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.deepEqual(r.stderr.split('\n'), [
    'service: empty',
    'targets[0].target: unknown target "ONCPU" (expected ON_CPU, OFF_CPU or NETWORK)',
    'targets[0].items[0]: count 12 > period 10',
    'targets[1].items[0].period: expected an integer',
    'targets[1].items[0].uri_list[0]: "api" does not start with "/"',
    'targets[1].silence: 0 is out of range [1, 604800]',
    'document: unknown field "bad\\u000akey"',
    '',
  ]);
});

test('invalid JSON gives one reason with line and column', async () => {
  const r = await run(['policy', 'validate', file('broken.json', '{"service": "a",\n "targets": [1,]}')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "document: invalid JSON at line 2, column 16: unexpected token near ']'\n");
});

test('a document over 64 KiB is refused', async () => {
  const big = JSON.stringify({ service: 's', targets: [] }) + ' '.repeat(64 * 1024);
  const r = await run(['policy', 'validate', file('big.json', big)]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'document: larger than 65536 bytes\n');
});

test('"-" reads the document from stdin', async () => {
  const ok = await runWithStdin(['policy', 'validate', '-'], JSON.stringify(example));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `valid: service checkout, version ${exampleVersion}\n`);

  const empty = await runWithStdin(['policy', 'validate', '-'], '{"service": "idle", "targets": []}');
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /^valid: service idle, version [0-9a-f]{64}\n$/);

  const bad = await runWithStdin(['policy', 'validate', '-'], '{"targets": []}');
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'service: missing\n');
});

test('an unreadable file exits 1 with a clear message', async () => {
  const missing = path.join(dir, 'no-such.json');
  const r = await run(['policy', 'validate', missing]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `contprof policy validate: cannot read ${missing}: No such file or directory\n`);

  const d = await run(['policy', 'validate', dir]);
  assert.equal(d.code, 1);
  assert.equal(d.stderr, `contprof policy validate: cannot read ${dir}: Is a directory\n`);
});

test('help and usage errors', async () => {
  const help = await run(['policy', 'validate', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: contprof policy validate FILE/);
  assert.match(help.stdout, /examples:/);

  const group = await run(['policy', '--help']);
  assert.equal(group.code, 0);
  assert.match(group.stdout, /validate/);

  const top = await run(['--help']);
  assert.match(top.stdout, /policy/);

  for (const args of [['policy'], ['policy', 'validate'], ['policy', 'validate', 'a', 'b'],
    ['policy', 'validate', '--strict'], ['policy', 'frobnicate']]) {
    const r = await run(args);
    assert.equal(r.code, 2, `contprof ${args.join(' ')}`);
    assert.match(r.stderr, /usage|unknown subcommand/);
  }
});
