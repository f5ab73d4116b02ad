// folded: folded-stack text ("frame;frame;frame VALUE" lines, root first)
// into flame trees for d3-flame-graph, a differential tree of two profiles,
// and a standalone SVG of a tree for export.

// Map stack -> value. The value is the line's last field; a stack may hold
// spaces ("std::map<a, b>::find"), so only the last field is split off.
export function parseFolded(text) {
  const stacks = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const cut = line.search(/\s+\d+$/);
    if (cut <= 0) continue;
    const stack = line.slice(0, cut), v = Number(line.slice(cut).trim());
    stacks.set(stack, (stacks.get(stack) || 0) + v);
  }
  return stacks;
}

function child(node, name) {
  let c = node._index.get(name);
  if (!c) {
    c = { name, value: 0, children: [], _index: new Map() };
    node._index.set(name, c);
    node.children.push(c);
  }
  return c;
}
function strip(node) {
  delete node._index;
  node.children.forEach(strip);
  if (!node.children.length) delete node.children;
  return node;
}

// The differential tree of `before` and `after` (Maps from parseFolded):
// widths are the `shape` profile's ('after' by default: what the process
// does now; 'before' shows what vanished), `delta` on each node is its self
// value after minus before (before scaled to after's total when
// `normalize`), and `before`/`after` carry the inclusive values for the
// tooltip. Use with d3-flame-graph's computeDelta and differential colours.
export function diffTree(before, after, { normalize = true, shape = 'after' } = {}) {
  const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const tb = total(before), ta = total(after);
  const scale = normalize && tb > 0 ? ta / tb : 1;
  const root = { name: 'all', value: 0, children: [], _index: new Map(), delta: 0, before: 0, after: 0 };
  const stacks = new Set([...before.keys(), ...after.keys()]);
  for (const s of stacks) {
    const b = (before.get(s) || 0) * scale, a = after.get(s) || 0;
    const width = shape === 'after' ? a : b;
    let node = root;
    node.before += b; node.after += a; node.value += width;
    for (const f of s.split(';')) {
      node = child(node, f);
      node.before = (node.before || 0) + b;
      node.after = (node.after || 0) + a;
      node.value += width;
      node.delta = node.delta || 0;
    }
    node.delta += a - b;
  }
  // Drop nodes of zero width (stacks only in the other profile).
  const prune = (n) => { n.children = n.children.filter((c) => c.value > 0); n.children.forEach(prune); };
  prune(root);
  return { tree: strip(root), totalBefore: tb, totalAfter: ta, scale };
}

// Frames by self value change, largest first: [{name, delta, before, after}].
export function frameChanges(before, after, { normalize = true } = {}) {
  const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const tb = total(before), ta = total(after);
  const scale = normalize && tb > 0 ? ta / tb : 1;
  const self = new Map();
  const add = (m, k, f) => {
    for (const [s, v] of m) {
      const leaf = s.slice(s.lastIndexOf(';') + 1);
      const e = self.get(leaf) || { name: leaf, before: 0, after: 0 };
      e[k] += v * f;
      self.set(leaf, e);
    }
  };
  add(before, 'before', scale);
  add(after, 'after', 1);
  return [...self.values()].map((e) => ({ ...e, delta: e.after - e.before }))
    .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta));
}

function hashHue(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h;
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

// A standalone SVG flame graph (root at the bottom) of a d3-flame-graph
// tree: rects with <title> tooltips and clipped labels; no script, so any
// viewer shows it. Frames narrower than 0.5 px are left out.
export function flameSvg(tree, { width = 1200, title = 'Flame graph', unit = 'samples', fmt = String } = {}) {
  const rowH = 17, top = 36;
  const rows = [];
  let depth = 0;
  const total = tree.value || 1;
  const walk = (n, x, d) => {
    const w = (n.value / total) * (width - 20);
    if (w < 0.5) return;
    depth = Math.max(depth, d);
    rows.push({ n, x, w, d });
    let cx = x;
    for (const c of n.children || []) { walk(c, cx, d + 1); cx += (c.value / total) * (width - 20); }
  };
  walk(tree, 10, 0);
  const height = top + (depth + 1) * rowH + 10;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#f8f8f8"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16">${esc(title)}</text>`,
  ];
  rows.forEach(({ n, x, w, d }, i) => {
    const y = height - 10 - (d + 1) * rowH;
    const hue = hashHue(n.name);
    const fill = n.name === 'all' ? '#d0d0d0' : `rgb(${205 + (hue % 50)},${80 + ((hue >> 8) % 130)},${(hue >> 16) % 55})`;
    const pct = ((100 * n.value) / total).toFixed(2);
    out.push(`<g><title>${esc(n.name)} (${esc(fmt(n.value))} ${unit}, ${pct}%)</title>` +
      `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${rowH - 1}" fill="${fill}" rx="2"/>` +
      (w > 30 ? `<clipPath id="c${i}"><rect x="${x.toFixed(2)}" y="${y}" width="${(w - 3).toFixed(2)}" height="${rowH}"/></clipPath>` +
        `<text x="${(x + 3).toFixed(2)}" y="${y + 12}" clip-path="url(#c${i})">${esc(n.name)}</text>` : '') + '</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

// Saves text or a Blob as a file named `name`.
export function download(name, data, type) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
