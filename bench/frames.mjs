// frames.mjs: reads the stacks each tool recorded on the same workload and
// prints the top-10 frames by inclusive share (share of samples whose stack
// holds the frame) side by side, with the agreement of each tool with ours.
//   node bench/frames.mjs ours=FILE perf=FILE bpftrace=FILE
// Formats: ours = folded "a;b;c N" (kernel frames end in _[k]); perf = `perf
// script` text; bpftrace = its printed map @[ustack, kstack]: N. Names are
// compared without offsets, kernel marks and leading underscores (aliases
// such as clock_gettime / __clock_gettime), one count per frame per stack.
import fs from 'node:fs';

const norm = (f) => f.replace(/\+(0x)?[0-9a-f]+$/i, '').replace(/_\[k\]$/, '').replace(/^_+/, '');

function folded(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^(.*) (\d+)$/);
    if (m && !line.startsWith('#')) out.push({ frames: m[1].split(';').map(norm), count: Number(m[2]) });
  }
  return out;
}

function perfScript(text) {
  const out = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.startsWith('\t') || /^\s+[0-9a-f]+ /.test(l));
    if (!lines.length) continue;
    const frames = lines.map((l) => {
      const m = l.trim().match(/^[0-9a-f]+ (.*?) \(([^)]*)\)$/);
      return m ? norm(m[1] === '[unknown]' ? '[unknown]' : m[1]) : '[unknown]';
    });
    out.push({ frames: frames.reverse(), count: 1 });
  }
  return out;
}

function bpftraceMap(text) {
  const out = [];
  const re = /@\[\n([\s\S]*?)\]: (\d+)/g;
  let m;
  while ((m = re.exec(text))) {
    const [user, kernel = ''] = m[1].split(/\n,\s*/);
    const frames = (s) => s.split('\n').map((l) => l.trim()).filter((l) => l && l !== ',').map(norm);
    out.push({ frames: [...frames(user).reverse(), ...frames(kernel).reverse()], count: Number(m[2]) });
  }
  return out;
}

function shares(stacks) {
  const total = stacks.reduce((a, s) => a + s.count, 0);
  const inc = new Map();
  for (const s of stacks) for (const f of new Set(s.frames)) inc.set(f, (inc.get(f) || 0) + s.count);
  return { total, share: (f) => (total ? (inc.get(f) || 0) / total : 0),
    top: [...inc.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([f]) => f) };
}

const parsers = { ours: folded, perf: perfScript, bpftrace: bpftraceMap };
const tools = process.argv.slice(2).map((a) => a.split('=')).map(([name, file]) =>
  ({ name, ...shares(parsers[name](fs.readFileSync(file, 'utf8'))) }));
const ours = tools.find((t) => t.name === 'ours');
const pct = (x) => (100 * x).toFixed(1).padStart(6);
console.log(`top-10 frames by inclusive share (samples: ${tools.map((t) => `${t.name} ${t.total}`).join(', ')})`);
console.log(`${'frame'.padEnd(36)}${tools.map((t) => t.name.padStart(10)).join('')}`);
for (const f of ours.top) console.log(`${f.slice(0, 35).padEnd(36)}${tools.map((t) => pct(t.share(f)).padStart(10)).join('')}`);
// The C library's thread and process entry code (built without frame
// pointers in Debian) sits above every stack we unwind with CFI and above
// none that a frame-pointer walker such as perf -g or bpftrace gives: at
// ~100 % against 0 it would be the largest difference of every run while
// saying nothing about the samples. The agreement leaves it out.
const ENTRY_CODE = new Set(['clone', 'clone3', 'start', 'libc_start_main', 'libc_start_call_main',
  'libc_start_main_impl']);
const compared = ours.top.filter((f) => !ENTRY_CODE.has(f));
if (compared.length < ours.top.length) console.log('(agreement over our top-10 without the thread and process entry code)');
for (const t of tools.filter((x) => x !== ours)) {
  const common = compared.filter((f) => t.top.includes(f)).length;
  const maxDiff = Math.max(0, ...compared.map((f) => Math.abs(ours.share(f) - t.share(f))));
  console.log(`agreement ours vs ${t.name}: ${common}/${compared.length} frames in both top-10s, max share difference ${(100 * maxDiff).toFixed(1)} points`);
}
