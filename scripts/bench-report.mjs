// bench-report.mjs: the benchmark suite's table, JSON and comparison.
// scripts/bench.sh runs every bench/*.sh with BENCH_FIGURES=FILE; each script
// appends one line per run of each figure it measures:
//
//   FIGURE name value unit target peer label...
//
//   name    dotted, stable (docs/performance.md lists them): flame.oncpu_5k_stacks.total_ms
//   value   one run's value (a number)
//   unit    ms, us, %, MB, req/s, points/s, ratio, ...
//   target  <=X, >=X, <X, >X (the target: the figure is checked), or
//           lower / higher (no target, but the direction that is better), or -
//   peer    comma-separated names of figures measured in the same run to show
//           beside this one (perf record for our profiler), or -
//   label   free text, the rest of the line
//
// This file reads those lines and owns everything after: median, min and max
// per figure, the one table, bench/results/latest.json, and the comparison of
// two such files (a figure measured once on either side is never flagged:
// it has no range). It measures nothing.
//
//   node scripts/bench-report.mjs summarize FIGURES RUNS META OUT_JSON
//       FIGURES: the FIGURE lines; RUNS: "benchmark exit_code seconds log loadavg"
//       lines; META: a JSON object merged into the output (host, git, quick,
//       times, seconds_total: the wall time of all the benchmarks)
//   node scripts/bench-report.mjs compare PREVIOUS_JSON LATEST_JSON
import fs from 'node:fs';

const FORMAT_VERSION = 1;

function die(msg, code = 2) {
  console.error(`bench-report: ${msg}`);
  process.exit(code);
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// "<=0.2" -> {op: '<=', value: 0.2}; "lower" -> {better: 'lower'}; "-" -> {}.
export function parseTarget(text) {
  const m = /^(<=|>=|<|>)(-?[0-9.]+(?:e[+-]?\d+)?)$/i.exec(text);
  if (m) return { op: m[1], value: Number(m[2]), better: m[1][0] === '<' ? 'lower' : 'higher' };
  if (text === 'lower' || text === 'higher') return { better: text };
  if (text === '-') return {};
  return null;
}

function targetMet(t, v) {
  switch (t.op) {
    case '<=': return v <= t.value;
    case '>=': return v >= t.value;
    case '<': return v < t.value;
    case '>': return v > t.value;
    default: return null;
  }
}

// Parses the FIGURE lines; other lines are errors (the file is ours alone).
export function parseFigures(text, benchmarkOf = () => null) {
  const figures = new Map();
  const errors = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const f = line.trim().split(/\s+/);
    const [tag, name, value, unit, target, peer] = f;
    const t = target === undefined ? null : parseTarget(target);
    if (tag !== 'FIGURE' || f.length < 6 || !/^[A-Za-z0-9_.-]+$/.test(name) ||
        !Number.isFinite(Number(value)) || value === '' || !t) {
      errors.push(`line ${i + 1}: not a FIGURE line: ${line.slice(0, 120)}`);
      return;
    }
    let fig = figures.get(name);
    if (!fig) {
      fig = { name, label: f.slice(6).join(' '), unit, target: target === '-' ? null : target,
        peers: peer === '-' ? [] : peer.split(','), samples: [], benchmark: benchmarkOf(name) };
      figures.set(name, fig);
    }
    fig.samples.push(Number(value));
  });
  return { figures, errors };
}

function summarizeFigure(fig, all) {
  const sorted = [...fig.samples].sort((a, b) => a - b);
  const t = fig.target ? parseTarget(fig.target) : {};
  const med = median(sorted);
  return {
    name: fig.name,
    label: fig.label,
    benchmark: fig.benchmark,
    unit: fig.unit,
    median: med,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    runs: sorted.length,
    samples: fig.samples,
    target: fig.target,
    better: t.better || null,
    target_met: t.op ? targetMet(t, med) : null,
    peers: fig.peers.map((p) => {
      const pf = all.get(p);
      if (!pf) return { name: p, median: null, unit: null };
      return { name: p, median: median([...pf.samples].sort((a, b) => a - b)), unit: pf.unit };
    }),
  };
}

export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(3);
}

const peerShort = (name) => name.split('.').slice(-2).join('.');

// The one table: figure, median [min-max] unit (runs), target and whether it
// is met, the peers' medians. Failed benchmarks are listed under it.
export function table(doc) {
  const rows = [['figure', 'value: median [min-max] (runs)', 'target', 'peer, same run']];
  for (const f of doc.figures) {
    const value = `${fmt(f.median)} ${f.unit} [${fmt(f.min)}-${fmt(f.max)}] (${f.runs})`;
    let target = '-';
    if (f.target_met !== null) target = `${f.target} ${f.target_met ? 'ok' : 'MISSED'}`;
    const peers = f.peers.map((p) => `${peerShort(p.name)} ${fmt(p.median)}${p.unit ? ' ' + p.unit : ''}`);
    rows.push([f.name, value, target, peers.join(', ') || '-']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const missed = doc.figures.filter((f) => f.target_met === false).map((f) => f.name);
  const failed = doc.benchmarks.filter((b) => b.status !== 'ok');
  lines.push('');
  lines.push(`${doc.figures.length} figures from ${doc.benchmarks.length} benchmarks` +
    `${doc.quick ? ' (QUICK mode: few, short runs; not for comparison with full runs)' : ''}; ` +
    `${missed.length} miss their target${missed.length ? ': ' + missed.join(', ') : ''}`);
  if (Number.isFinite(doc.seconds_total)) {
    const host = doc.host || {};
    lines.push(`wall time ${doc.seconds_total.toFixed(0)} s: ` +
      doc.benchmarks.map((b) => `${b.name} ${b.seconds.toFixed(1)}`).join(', ') +
      ` s; host load average ${fmt(host.loadavg_start)} at the start, ${fmt(host.loadavg_end)} at the end`);
  }
  for (const b of failed) lines.push(`benchmark ${b.name} FAILED (exit ${b.exit_code}); its output: ${b.log}`);
  return lines.join('\n');
}

function summarize([figuresPath, runsPath, metaPath, outPath]) {
  if (!outPath) die('usage: summarize FIGURES RUNS META OUT_JSON');
  const benchmarks = fs.readFileSync(runsPath, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [name, code, seconds, log, load] = l.split(' ');
    return { name, status: code === '0' ? 'ok' : 'failed', exit_code: Number(code), seconds: Number(seconds), log,
      loadavg_end: load === undefined ? null : Number(load) };
  });
  // Each benchmark's lines are in FIGURES as "# benchmark NAME" sections.
  let current = null;
  const owner = new Map();
  const body = fs.readFileSync(figuresPath, 'utf8').split('\n').filter((l) => {
    const m = /^# benchmark (\S+)$/.exec(l);
    if (m) { current = m[1]; return false; }
    const name = l.trim().split(/\s+/)[1];
    if (name && !owner.has(name)) owner.set(name, current);
    return true;
  }).join('\n');
  const { figures, errors } = parseFigures(body, (n) => owner.get(n) || null);
  for (const e of errors) console.error(`bench-report: ${e}`);
  const doc = {
    format: FORMAT_VERSION,
    ...JSON.parse(fs.readFileSync(metaPath, 'utf8')),
    benchmarks,
    figures: [...figures.values()].map((f) => summarizeFigure(f, figures)),
  };
  fs.writeFileSync(outPath, JSON.stringify(doc, null, 1) + '\n');
  console.log(table(doc));
  if (errors.length) process.exit(1);
}

// Per figure of both files: the change of the median, and whether the two
// min-max ranges are apart (beyond the noise); apart and worse is a regression.
export function compare(prev, latest) {
  const before = new Map(prev.figures.map((f) => [f.name, f]));
  const rows = [['figure', 'previous', 'latest', 'change', 'verdict']];
  let regressions = 0, improvements = 0;
  for (const f of latest.figures) {
    const p = before.get(f.name);
    if (!p) { rows.push([f.name, '-', `${fmt(f.median)} ${f.unit}`, '-', 'new']); continue; }
    before.delete(f.name);
    const change = p.median === 0 ? null : (100 * (f.median - p.median)) / Math.abs(p.median);
    const apart = f.min > p.max || f.max < p.min;
    let verdict = 'within noise';
    if (f.runs < 2 || p.runs < 2) {
      // One run has no range: a change cannot be told from the noise.
      verdict = 'one run: no range to judge';
    } else if (apart) {
      const higher = f.median > p.median;
      const better = f.better || p.better;
      if (!better) verdict = 'changed (beyond noise)';
      else if ((better === 'higher') === higher) { verdict = 'better'; improvements++; }
      else { verdict = 'REGRESSION'; regressions++; }
    }
    rows.push([f.name, `${fmt(p.median)} [${fmt(p.min)}-${fmt(p.max)}]`,
      `${fmt(f.median)} [${fmt(f.min)}-${fmt(f.max)}] ${f.unit}`,
      change === null ? 'n/a' : `${change >= 0 ? '+' : ''}${change.toFixed(1)} %`, verdict]);
  }
  for (const p of before.values()) rows.push([p.name, `${fmt(p.median)} ${p.unit}`, '-', '-', 'gone']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push('');
  if (!!prev.quick !== !!latest.quick) lines.push('note: one of the two runs is QUICK mode, the other not: changes mean little');
  lines.push(`previous ${prev.started || '?'} (${prev.git || '?'}), latest ${latest.started || '?'} (${latest.git || '?'}): ` +
    `${regressions} regression(s), ${improvements} improvement(s) beyond the min-max noise`);
  return { text: lines.join('\n'), regressions };
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'summarize') summarize(args);
else if (cmd === 'compare') {
  const [prevPath, latestPath] = args;
  for (const p of [prevPath, latestPath]) {
    if (!p || !fs.existsSync(p)) die(`${p || 'file'} missing: run \`make bench\` twice to have two runs to compare`);
  }
  const read = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
  console.log(compare(read(prevPath), read(latestPath)).text);
} else if (cmd !== undefined) die(`unknown command ${cmd}; usage: summarize ... | compare PREVIOUS LATEST`);
