// The benchmark suite (scripts/bench.sh) in quick mode, on the benchmarks
// that need neither nginx nor wrk: it runs, prints one well-formed table with
// every expected figure, writes latest.json, rotates the previous run, and
// the comparison flags a regression beyond the min-max noise. Timing values
// are never checked: the host is shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BIN } from './lib.mjs';

const FLAME_FIGURES = ['oncpu_60k_lines', 'oncpu_5k_stacks', 'offcpu_60k_lines'].flatMap((k) =>
  ['json_ms', 'total_ms', 'jansson_dumps_ms', 'pprof_ms'].map((p) => `flame.${k}.${p}`));
const SERVER_FIGURES = ['server.ingest_points_per_s', 'server.ingest_samples_per_s',
  'server.flamegraph_json_ms', 'server.flamegraph_folded_ms'];
const EXPECTED = [...FLAME_FIGURES, ...SERVER_FIGURES];

function suite(results, names) {
  return spawnSync('scripts/bench.sh', names, {
    cwd: ROOT, encoding: 'utf8', timeout: 120000,
    env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS: results, CONTPROF_BIN: BIN },
  });
}

test('quick suite: one table, latest.json with every figure, compare flags a regression', { timeout: 150000 }, () => {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-bench-test-'));
  try {
    // A stale latest.json from "the run before" must become previous.json.
    fs.writeFileSync(path.join(results, 'latest.json'), JSON.stringify({ format: 1, stale: true, figures: [] }));
    const r = suite(results, ['flame', 'server']);
    assert.equal(r.status, 0, `bench.sh failed:\n${r.stdout}\n${r.stderr}`);

    // The table: a header, a rule, one row per figure, then the summary.
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^figure +value: median \[min-max\] \(runs\) +target +peer, same run$/);
    assert.match(lines[1], /^-+( +-+){3}$/);
    const rows = new Map();
    for (const line of lines.slice(2)) {
      if (!line.trim()) break;
      const m = /^(\S+) +(\S+) (\S+) \[(\S+)-(\S+)\] \((\d+)\) +(-|\S+ (ok|MISSED)) +(.+)$/.exec(line);
      assert.ok(m, `malformed table row: ${line}`);
      rows.set(m[1], { median: Number(m[2]), unit: m[3], runs: Number(m[6]), target: m[7], peer: m[9] });
    }
    assert.deepEqual([...rows.keys()].sort(), [...EXPECTED].sort());
    for (const [name, row] of rows) assert.ok(Number.isFinite(row.median) && row.runs >= 1, name);
    assert.match(rows.get('flame.oncpu_5k_stacks.total_ms').target, /^<100 (ok|MISSED)$/);
    assert.match(rows.get('server.ingest_points_per_s').target, /^>=100000 (ok|MISSED)$/);
    assert.match(rows.get('flame.oncpu_60k_lines.json_ms').peer, /^oncpu_60k_lines\.jansson_dumps_ms \S+ ms$/);
    assert.equal(rows.get('server.flamegraph_json_ms').runs, 3);
    assert.equal(rows.get('server.ingest_samples_per_s').runs, 2);
    assert.match(r.stdout, /16 figures from 2 benchmarks \(QUICK mode/);
    // The footer: the suite's wall time, each benchmark's, the host's load.
    assert.match(r.stdout, /^wall time \d+ s: flame \d+\.\d, server \d+\.\d s; host load average \S+ at the start, \S+ at the end$/m);

    // The JSON beside it, and the rotation.
    const doc = JSON.parse(fs.readFileSync(path.join(results, 'latest.json'), 'utf8'));
    assert.equal(JSON.parse(fs.readFileSync(path.join(results, 'previous.json'), 'utf8')).stale, true);
    assert.equal(doc.format, 1);
    assert.equal(doc.quick, true);
    assert.deepEqual(doc.benchmarks.map((b) => [b.name, b.status]), [['flame', 'ok'], ['server', 'ok']]);
    for (const b of doc.benchmarks) assert.ok(b.seconds > 0 && Number.isFinite(b.loadavg_end), JSON.stringify(b));
    assert.ok(doc.seconds_total >= doc.benchmarks[0].seconds + doc.benchmarks[1].seconds - 0.2, String(doc.seconds_total));
    assert.ok(fs.statSync(path.join(results, 'flame.log')).size > 0);
    assert.deepEqual(doc.figures.map((f) => f.name).sort(), [...EXPECTED].sort());
    for (const f of doc.figures) {
      assert.ok(f.min <= f.median && f.median <= f.max, `${f.name}: min <= median <= max`);
      assert.equal(f.samples.length, f.runs, f.name);
      assert.ok(f.unit && f.label, `${f.name}: unit and label`);
      assert.equal(typeof f.target_met, f.target && /^[<>]/.test(f.target) ? 'boolean' : 'object', f.name);
      assert.equal(f.benchmark, f.name.split('.')[0], f.name);
    }

    // Compare with a made-up previous run where one lower-is-better figure
    // was far faster and one higher-is-better figure far higher: both are
    // regressions beyond the noise; an unchanged figure is within it.
    const prev = structuredClone(doc);
    const scale = (name, k) => {
      const f = prev.figures.find((x) => x.name === name);
      for (const key of ['median', 'min', 'max']) f[key] *= k;
    };
    scale('flame.oncpu_5k_stacks.total_ms', 0.01);
    scale('server.ingest_points_per_s', 100);
    fs.writeFileSync(path.join(results, 'previous.json'), JSON.stringify(prev));
    const c = spawnSync('node', ['scripts/bench-report.mjs', 'compare', path.join(results, 'previous.json'),
      path.join(results, 'latest.json')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    const verdict = (name) => c.stdout.split('\n').find((l) => l.startsWith(name + ' '));
    assert.match(verdict('flame.oncpu_5k_stacks.total_ms'), /REGRESSION$/);
    assert.match(verdict('server.ingest_points_per_s'), /REGRESSION$/);
    assert.match(verdict('flame.oncpu_60k_lines.pprof_ms'), /within noise$/);
    assert.match(c.stdout, /2 regression\(s\), 0 improvement\(s\)/);
  } finally {
    fs.rmSync(results, { recursive: true, force: true });
  }
});

test('suite: an unknown benchmark is refused before anything runs', () => {
  const r = suite(os.tmpdir(), ['no-such-bench']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no benchmark bench\/no-such-bench\.sh/);
});

test('store_size in the quick suite: the five store figures, consistent with each other', { timeout: 120000 }, () => {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-bench-test-'));
  try {
    const r = suite(results, ['store_size']);
    assert.equal(r.status, 0, `bench.sh failed:\n${r.stdout}\n${r.stderr}`);
    const doc = JSON.parse(fs.readFileSync(path.join(results, 'latest.json'), 'utf8'));
    const fig = Object.fromEntries(doc.figures.map((f) => [f.name, f]));
    assert.deepEqual(Object.keys(fig).sort(), ['store.bytes_per_raw_point', 'store.bytes_per_rollup_row',
      'store.process_day_kb', 'store.process_rollup_day_kb', 'store.process_steady_kb']);
    const v = (name) => fig[name].median;
    // Bytes, not times: a stored row is more than its 8-byte value and far
    // less than a page; the totals follow from the rows as documented.
    assert.ok(v('store.bytes_per_raw_point') > 8 && v('store.bytes_per_raw_point') < 200, JSON.stringify(fig));
    assert.ok(v('store.bytes_per_rollup_row') > 16 && v('store.bytes_per_rollup_row') < 400, JSON.stringify(fig));
    const rawWindowKb = v('store.process_day_kb') - v('store.process_rollup_day_kb');
    assert.ok(Math.abs(rawWindowKb - v('store.bytes_per_raw_point') * 3.54 * 3600 / 1024) < 2, JSON.stringify(fig));
    assert.ok(Math.abs(v('store.process_steady_kb') - (rawWindowKb + 7 * v('store.process_rollup_day_kb'))) < 1,
      JSON.stringify(fig));
    assert.match(fs.readFileSync(path.join(results, 'store_size.log'), 'utf8'), /5 processes, 0\.50 h streamed/);
  } finally {
    fs.rmSync(results, { recursive: true, force: true });
  }
});
