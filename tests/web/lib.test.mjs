// Unit tests of the web UI's pure modules (web/src/lib/*.js, no DOM): the
// folded-stack parser, the differential tree and frame changes the compare
// view draws, the exported SVG, and how server reasons find their fields.
import test from 'node:test';
import assert from 'node:assert/strict';
import { diffTree, flameSvg, frameChanges, parseFolded } from '../../web/src/lib/folded.js';
import { parentPlace, placeErrors } from '../../web/src/lib/places.js';

test('parseFolded: last field is the value, frames may hold spaces, repeats add up', () => {
  const m = parseFolded('main;a b;c 3\n\n  main;std::map<int, x>::find 2\r\nmain;a b;c 4\nbroken line\n;x\nmain 0\n');
  assert.deepEqual([...m], [['main;a b;c', 7], ['main;std::map<int, x>::find', 2], ['main', 0]]);
  assert.equal(parseFolded('').size, 0);
});

test('diffTree: widths from "after", deltas of self values, "before" scaled to the same total', () => {
  const before = parseFolded('main;a 30\nmain;b 10\n');
  const after = parseFolded('main;a 20\nmain;b 60\nmain;c 20\n');
  const { tree, totalBefore, totalAfter, scale } = diffTree(before, after);
  assert.equal(totalBefore, 40);
  assert.equal(totalAfter, 100);
  assert.equal(scale, 2.5);
  assert.equal(tree.name, 'all');
  assert.equal(tree.value, 100);
  const main = tree.children[0];
  assert.equal(main.name, 'main');
  const byName = Object.fromEntries(main.children.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ['a', 'b', 'c']);
  assert.equal(byName.a.value, 20);
  assert.equal(byName.a.delta, 20 - 75); // 30 scaled to 75
  assert.equal(byName.b.delta, 60 - 25);
  assert.equal(byName.c.delta, 20);
  assert.equal(byName.c.before, 0);
  assert.equal(main.delta, 0, 'main has no self value');
  assert.equal(byName.a.children, undefined, 'leaves have no children list');
});

test('diffTree: unscaled, and widths from "before" show what vanished', () => {
  const before = parseFolded('main;gone 5\nmain;kept 5\n');
  const after = parseFolded('main;kept 8\nmain;new 2\n');
  const raw = diffTree(before, after, { normalize: false });
  assert.equal(raw.scale, 1);
  const names = (t) => t.children[0].children.map((c) => c.name).sort();
  assert.deepEqual(names(raw.tree), ['kept', 'new'], 'after-shaped: the vanished frame has no width');
  const old = diffTree(before, after, { normalize: false, shape: 'before' });
  assert.deepEqual(names(old.tree), ['gone', 'kept']);
  assert.equal(old.tree.value, 10);
  assert.equal(old.tree.children[0].children.find((c) => c.name === 'gone').delta, -5);
});

test('frameChanges: self values per leaf frame, largest change first', () => {
  const before = parseFolded('main;a;x 10\nmain;b;x 10\nmain;y 20\n');
  const after = parseFolded('main;a;x 5\nmain;y 35\n');
  const changes = frameChanges(before, after, { normalize: false });
  assert.deepEqual(changes, [
    { name: 'x', before: 20, after: 5, delta: -15 },
    { name: 'y', before: 20, after: 35, delta: 15 },
  ]);
});

test('flameSvg: a standalone SVG with titles, shares and escaped names', () => {
  const tree = { name: 'root', value: 4, children: [
    { name: 'main', value: 4, children: [{ name: 'a<b>&"c"', value: 3 }, { name: 'tiny', value: 1 }] }] };
  const svg = flameSvg(tree, { width: 400, title: 'T & U' });
  assert.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<text[^>]*>T &amp; U<\/text>/);
  assert.match(svg, /<title>a&lt;b&gt;&amp;&quot;c&quot; \(3 samples, 75\.00%\)<\/title>/);
  assert.match(svg, /<title>main \(4 samples, 100\.00%\)<\/title>/);
  assert.equal((svg.match(/<g>/g) || []).length, 4, 'one group per frame');
  assert.ok(svg.trim().endsWith('</svg>'));
  // A frame under half a pixel wide is left out.
  const thin = flameSvg({ name: 'root', value: 1e6, children: [{ name: 'big', value: 1e6 - 1 }, { name: 'speck', value: 1 }] });
  assert.doesNotMatch(thin, /speck/);
});

test('placeErrors: a reason goes to its field, else to the nearest shown ancestor, else to the form', () => {
  const shown = new Set(['service', 'targets[0]', 'targets[0].target', 'targets[0].items', 'targets[0].items[0]',
    'targets[0].items[0].period', 'targets[0].items[0].uri_list']);
  const out = placeErrors([
    'targets[0].items[0].period: 0 is out of range [1, 3600]',
    'targets[0].items[0]: count 11 > period 10',
    'targets[0].items[0].uri_list[1]: not an absolute path',
    'targets[0].items[0].threshold: missing',
    'targets[3].target: unknown target "X"',
    'document: 3 more reasons not shown',
    'invalid policy document',
  ], shown);
  assert.deepEqual(out['targets[0].items[0].period'], ['0 is out of range [1, 3600]']);
  assert.deepEqual(out['targets[0].items[0].uri_list'], ['targets[0].items[0].uri_list[1]: not an absolute path']);
  assert.deepEqual(out['targets[0].items[0]'], ['count 11 > period 10', 'targets[0].items[0].threshold: missing']);
  assert.deepEqual(out[''], ['targets[3].target: unknown target "X"', 'document: 3 more reasons not shown', 'invalid policy document']);
  assert.equal(parentPlace('targets[0].items[1].period'), 'targets[0].items[1]');
  assert.equal(parentPlace('targets[0]'), 'targets');
  assert.equal(parentPlace('targets'), '');
});
