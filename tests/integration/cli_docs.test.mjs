// docs/cli.md against the binary's own help: the synopsis block of
// docs/cli.md must list every command of `contprof --help` (and every policy
// subcommand) with exactly the usage its `--help` prints (whitespace aside),
// and every option a command's --help lists must be explained in the docs
// (docs/cli.md, or the command's own page: docs/server.md, docs/agent.md,
// docs/demo.md). Adding an option without documenting it fails here.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, run } from './lib.mjs';

const CLI_MD = fs.readFileSync(path.join(ROOT, 'docs/cli.md'), 'utf8');
const OWN_PAGE = { server: 'server.md', agent: 'agent.md', up: 'demo.md' };
const squash = (s) => s.replace(/\s+/g, ' ').trim();

// The names listed under `heading:` in a help text, one per indented line.
function listed(help, heading) {
  const block = help.split(`\n${heading}:\n`)[1] || '';
  return [...block.split('\n\n')[0].matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
}

// Each synopsis of a usage block: "contprof ..." with its continuation lines.
function synopses(lines) {
  const out = [];
  for (const line of lines) {
    const start = line.match(/^(?:usage:)?\s*(contprof\s.*)$/);
    if (start) out.push(start[1]);
    else if (/^\s+\S/.test(line) && out.length) out[out.length - 1] += ` ${line}`;
    else break;
  }
  return out.map(squash);
}

// The synopsis block of docs/cli.md: the fenced block under "## Synopsis".
function docSynopses() {
  const section = CLI_MD.split(/^## Synopsis.*$/m)[1];
  assert.ok(section, 'docs/cli.md has a "## Synopsis" section');
  const block = section.match(/```\n([\s\S]*?)```/)[1];
  return synopses(block.split('\n').filter((l) => l.trim()));
}

// The options a help text lists under "options:" (long names, and -o).
function options(help) {
  const block = help.split('\noptions:\n')[1] || '';
  const names = [];
  for (const m of block.split('\n\n')[0].matchAll(/^ {2}((?:-\w, )?--?[\w-]+)/gm)) {
    const name = m[1].split(', ').pop();
    if (name !== '--help') names.push(name);
  }
  return names;
}

async function help(args) {
  const r = await run([...args, '--help']);
  assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.stderr}`);
  return r.stdout;
}

test('docs/cli.md: its synopsis is what every command\'s --help says, and every option is documented', async () => {
  const commands = listed(await help([]), 'commands');
  assert.ok(commands.includes('tasks') && commands.includes('agent'), commands.join(' '));
  const subcommands = listed(await help(['policy']), 'subcommands');
  assert.deepEqual(subcommands, ['validate', 'get', 'set', 'delete']);
  const invocations = commands.flatMap((c) => (c === 'policy' ? subcommands.map((s) => [c, s]) : [[c]]));

  const doc = docSynopses();
  const problems = [];
  const want = [];
  for (const args of invocations) {
    const text = await help(args);
    const usage = synopses(text.split('\n'));
    assert.ok(usage.length > 0, `${args.join(' ')} --help starts with its usage:\n${text}`);
    want.push(...usage);
    for (const u of usage) if (!doc.includes(u)) problems.push(`not in docs/cli.md's synopsis: ${u}`);
    const pages = [CLI_MD];
    if (OWN_PAGE[args[0]]) pages.push(fs.readFileSync(path.join(ROOT, 'docs', OWN_PAGE[args[0]]), 'utf8'));
    for (const opt of options(text)) {
      const re = new RegExp(`(^|[^\\w-])${opt.replace(/[-]/g, '\\-')}(?![\\w-])`);
      if (!pages.some((p) => re.test(p))) problems.push(`contprof ${args.join(' ')} ${opt}: not in docs/cli.md${OWN_PAGE[args[0]] ? ` nor docs/${OWN_PAGE[args[0]]}` : ''}`);
    }
  }
  for (const d of doc) if (!want.includes(d)) problems.push(`docs/cli.md's synopsis has what no --help says: ${d}`);
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('README links every page of docs/, and every relative link of README and docs/ resolves', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const pages = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  const unlinked = pages.filter((p) => !readme.includes(`](docs/${p})`));
  assert.deepEqual(unlinked, [], 'docs pages the README does not link');
  const broken = [];
  for (const file of ['README.md', ...pages.map((p) => `docs/${p}`)]) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(m[1])) continue; // http:, mailto:
      if (!fs.existsSync(path.join(ROOT, path.dirname(file), m[1]))) broken.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(broken, [], 'links to missing files');
});

test('README: the example cause is worded as the agent words it (src/agent/engine.c)', () => {
  const engine = fs.readFileSync(path.join(ROOT, 'src/agent/engine.c'), 'utf8');
  // The printf format of a cause's message, its string literal pieces joined.
  const call = engine.match(/snprintf\(c->message, sizeof\(c->message\),\s*((?:"(?:[^"\\]|\\.)*"\s*)+),/);
  assert.ok(call, 'fill_cause formats c->message in engine.c');
  const format = [...call[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join('');
  assert.match(format, /^%s >= %g %s in %u of the last %u s/);
  // As a regex: every conversion one token, without the trailing URI part.
  const conv = { s: '\\S+', g: '[0-9.]+', u: '[0-9]+', '.4g': '[0-9.]+' };
  let re = '';
  for (const piece of format.replace(/%s%\.80s$/, '').split(/(%(?:\.4g|[sgu]))/)) {
    re += piece.startsWith('%') ? conv[piece.slice(1)] : piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const example = readme.match(/# (PROCESS_CPU >= [^\n"]*)/);
  assert.ok(example, 'README shows a cause');
  assert.match(example[1].trim(), new RegExp(`^${re}$`), `README's cause vs the format "${format}"`);
});

// The keys src/agent/config.c accepts, by the function that parses their
// mapping: `strcmp(key, "NAME")` inside FUNCTION_pair(). A new mapping
// parser must be given its place here, or this test fails.
const CONFIG_SECTIONS = {
  top_pair: '', profiling_pair: 'profiling.', uplink_pair: 'uplink.',
  rule_pair: 'processes[].', match_pair: 'processes[].match.',
};
function configKeys() {
  const src = fs.readFileSync(path.join(ROOT, 'src/agent/config.c'), 'utf8');
  const keys = [];
  const problems = [];
  const fns = src.split(/^(?=static \w+ \w+\()/m);
  for (const fn of fns) {
    const name = fn.match(/^static \w+ (\w+)\(/)?.[1];
    const found = [...fn.matchAll(/strcmp\(key, "([^"]+)"\)/g)].map((m) => m[1]);
    if (!found.length) continue;
    if (!(name in CONFIG_SECTIONS)) {
      problems.push(`${name} in config.c parses keys ${found.join(', ')}: give it a section in CONFIG_SECTIONS`);
      continue;
    }
    keys.push(...found.map((k) => CONFIG_SECTIONS[name] + k));
  }
  return { keys, problems };
}

test('docs/agent.md: the config reference lists every key the agent\'s config parser accepts, and no other', () => {
  const { keys, problems } = configKeys();
  assert.deepEqual(problems, []);
  for (const k of ['server', 'spool_dir', 'listen', 'tls_ca', 'profiling.unwind', 'uplink.retry_max',
    'processes[].labels', 'processes[].match.comm']) assert.ok(keys.includes(k), `${k} found in config.c: ${keys}`);
  const agentMd = fs.readFileSync(path.join(ROOT, 'docs/agent.md'), 'utf8');
  const section = agentMd.split(/^## Config reference$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'docs/agent.md has a "## Config reference" section');
  // The first column of the reference's key table: | `key` | type | default | meaning |
  const documented = [...section.matchAll(/^\| `([^`]+)` \|[^|\n]*\|[^|\n]*\|[^|\n]*\|$/gm)].map((m) => m[1]);
  // A mapping (profiling, uplink) is documented by the rows of its keys.
  const missing = keys.filter((k) => !documented.includes(k) && !documented.some((d) => d.startsWith(`${k}.`)));
  assert.deepEqual(missing, [], 'keys the parser accepts, missing from the reference');
  // Every row names a key the parser accepts, or one of its mappings/lists.
  const parents = new Set(keys.flatMap((k) => k.split('.').slice(0, -1)
    .map((_, i, a) => a.slice(0, i + 1).join('.').replace(/\[\]$/, ''))));
  assert.deepEqual(documented.filter((k) => !keys.includes(k) && !parents.has(k)), [],
    'rows of the reference the parser does not accept');
  // Every placeholder the templates know (src/agent/template.c).
  const tpl = fs.readFileSync(path.join(ROOT, 'src/agent/template.c'), 'utf8');
  const placeholders = [...tpl.matchAll(/\{"(\w+)", PART_\w+\}/g)].map((m) => `{${m[1]}}`);
  assert.ok(placeholders.length >= 5, placeholders.join(' '));
  for (const p of placeholders) assert.ok(section.includes(`\`${p}\``), `placeholder ${p} in the reference`);
  // The values profiling.unwind takes.
  for (const v of ['cfi', 'frame_pointers']) assert.ok(section.includes(`\`${v}\``), v);
});

test('user docs and dist/ never send readers to DESIGN.md (it is not shipped)', () => {
  const files = ['README.md',
    ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
    ...fs.readdirSync(path.join(ROOT, 'dist'), { recursive: true }).map((f) => `dist/${f}`)
      .filter((f) => fs.statSync(path.join(ROOT, f)).isFile())];
  const hits = files.filter((f) => /DESIGN(\.md|'s| §| section)/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
  assert.deepEqual(hits, []);
});

// The server's route tables: every `const struct http_route routes_X[]` in
// src/server/*.c, each row {"METHOD", "/pattern", handler, FLAGS, ...}.
function serverRoutes() {
  const dir = path.join(ROOT, 'src/server');
  const routes = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.c'))) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const table of src.matchAll(/const struct http_route \w+\[\] = \{([\s\S]*?)\n\};/g)) {
      for (const m of table[1].matchAll(/\{\s*"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*([\w| ]+?),/g)) {
        const token = /HTTP_ROUTE_AGENT/.test(m[3]) ? 'agent' : /HTTP_ROUTE_WRITE/.test(m[3]) ? 'write' : 'none';
        routes.push({ method: m[1], pattern: m[2], token, file: f });
      }
    }
  }
  return routes;
}

test('docs/api.md: every route the server serves is in the reference, with its token, and nothing else', () => {
  const routes = serverRoutes();
  // A sanity floor: the tables were found (the query, task, agent and UI ones).
  assert.ok(routes.length >= 25, `routes found: ${routes.length}`);
  for (const want of ['GET /healthz', 'POST /api/v1/tasks', 'PUT /api/v1/agent/tasks/{}/topology', 'HEAD /ui/*']) {
    assert.ok(routes.some((r) => `${r.method} ${r.pattern}` === want), `${want} among ${routes.length} routes`);
  }
  const api = fs.readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
  const section = api.split(/^## Routes$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'docs/api.md has a "## Routes" section');
  // Rows: | GET, HEAD | `/path/{name}` | token | what |; {name} stands for the table's {}.
  const documented = new Map();
  for (const m of section.matchAll(/^\| ([A-Z, ]+) \| `([^`]+)` \| (\w+) \|/gm)) {
    for (const method of m[1].split(',').map((x) => x.trim())) {
      documented.set(`${method} ${m[2].replace(/\{[^}]+\}/g, '{}')}`, m[3]);
    }
  }
  const problems = [];
  for (const r of routes) {
    const key = `${r.method} ${r.pattern}`;
    if (!documented.has(key)) problems.push(`${key} (${r.file}): not in docs/api.md's route table`);
    else if (documented.get(key) !== r.token) problems.push(`${key}: token ${documented.get(key)} in the docs, ${r.token} in ${r.file}`);
  }
  for (const key of documented.keys()) {
    if (!routes.some((r) => `${r.method} ${r.pattern}` === key)) problems.push(`${key}: in docs/api.md, but the server has no such route`);
  }
  // Every query route (not the agent's, in agent-api.md; not the UI's) has its own section.
  for (const r of routes.filter((x) => !x.pattern.startsWith('/api/v1/agent/') && x.file !== 'webui.c')) {
    const heading = new RegExp(`^### ${r.method} ${r.pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\\?\}/g, '\\{[^}]+\\}')}$`, 'm');
    if (!heading.test(api)) problems.push(`${r.method} ${r.pattern}: no "### ${r.method} ${r.pattern}" section in docs/api.md`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});
