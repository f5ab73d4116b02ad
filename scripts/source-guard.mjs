#!/usr/bin/env node
// Source guard: what docs/security.md promises about the C sources, checked
// on the text of src/ (cheap; run by tests/integration/source_guard.test.mjs
// in the suite, or by hand: `node scripts/source-guard.mjs`, exit 1 on any
// finding).
//
//  - No shell-outs: no call of system() or popen(), no "sh" / "/bin/sh"
//    followed by "-c" anywhere in src/. No exceptions.
//  - SQL only through prepared statements: every call that runs SQL text as
//    it is (sqlite3_exec, PQexec, and our own wrappers of PQexec: pg_exec,
//    exec_simple) either gets a constant (string literals and UPPER_CASE
//    macros only) or is on the allow-list below.
//  - No SQL built with printf: a printf-family call (snprintf, asprintf,
//    strbuf_printf...) whose format holds SQL is on the allow-list below.
//
// The allow-list names each site by file and the call's text (whitespace
// collapsed), not by line number: moving code keeps it allowed, changing
// the call makes the guard fail until someone reviews it again and updates
// the entry. Each entry says why the text it runs is constant.
// Comments are ignored; string literals are kept (they are what is checked).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ALLOW = [
  // SQLite: the schema (its pragmas are a literal: constant, no entry needed).
  { file: 'src/server/store_sqlite.c', call: 'sqlite3_exec(be->db, schema_sql, NULL, NULL, &msg)',
    why: 'schema_sql is a static const string of CREATE statements' },
  { file: 'src/server/store_sqlite.c', call: 'sqlite3_exec(db, migrations[i].sql, NULL, NULL, &msg)',
    why: 'migrations[i].sql: an entry of the static const migrations table' },
  { file: 'src/server/store_sqlite.c', call: 'snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", migrations[i].version)',
    why: 'an integer from the static const migrations table' },
  { file: 'src/server/store_sqlite.c', call: 'sqlite3_exec(db, sql, NULL, NULL, &msg)',
    why: 'the PRAGMA user_version above' },
  // PostgreSQL: the wrappers themselves (their callers are checked).
  { file: 'src/server/store_pg_conn.c', call: 'PQexec(c->conn, sql)', why: 'inside pg_exec(), whose calls are checked' },
  { file: 'src/server/store_pg_schema.c', call: 'PQexec(conn, sql)',
    why: 'inside exec_simple(), whose calls are checked, and in pg_migrate() the advisory unlock built from an integer constant' },
  // Migrations: their SQL and their bookkeeping row are compile-time text.
  { file: 'src/server/store_pg_schema.c', call: 'exec_simple(conn, m->sql, NULL, err, errlen)',
    why: 'm->sql: an entry of the static const migrations table' },
  { file: 'src/server/store_pg_schema.c', call: 'exec_simple(conn, record, NULL, err, errlen)',
    why: 'record: the INSERT below, of a migration\'s version (int) and name (static const)' },
  { file: 'src/server/store_pg_schema.c', call: 'snprintf(record, sizeof(record), "INSERT INTO contprof_migrations VALUES(%d, \'%s\'," " (extract(epoch from now()) * 1000)::bigint)", m->version, m->what)',
    why: 'version and name from the static const migrations table' },
  { file: 'src/server/store_pg_schema.c', call: 'snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", STORE_PG_MIGRATION_LOCK)',
    why: 'an integer constant' },
  { file: 'src/server/store_pg_schema.c', call: 'snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", STORE_PG_MIGRATION_LOCK)',
    why: 'an integer constant' },
  { file: 'src/server/store_pg_schema.c', call: 'exec_simple(conn, sql, NULL, err, errlen)',
    why: 'the advisory lock above' },
  // Partitions: names made of a static table name and a UTC hour, or read
  // back from the catalog and parsed as such (part_start); bounds integers.
  { file: 'src/server/store_pg_schema.c', call: 'snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%lld) TO (%lld)", name, t->name, (long long)start_ms, (long long)(start_ms + t->width_ms))',
    why: 'part_name(): static table name + "_pYYYYMMDDHH"; integer bounds' },
  { file: 'src/server/store_pg_schema.c', call: 'snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name)',
    why: 'a catalog name that part_start() parsed as TABLE_pYYYYMMDDHH of a static table name' },
  { file: 'src/server/store_pg_schema.c', call: 'pg_exec(c, sql)', why: 'the partition CREATE and DROP above' },
];

const SHELL_CALL = /\b(system|popen)\s*\(/g;
const SHELL_ARGS = /"(?:\/bin\/)?sh"\s*,\s*"-c"/g;
const EXEC_CALL = /\b(sqlite3_exec|PQexec|pg_exec|exec_simple)\s*\(/g;
const PRINTF_CALL = /\b(snprintf|sprintf|asprintf|vsnprintf|vasprintf|vsprintf|strbuf_printf|strbuf_vprintf)\s*\(/g;
const SQL_WORDS = /\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|TRIGGER|UNIQUE|OR)|DROP\s+(TABLE|INDEX|TRIGGER)|ALTER\s+TABLE|PRAGMA|VALUES\s*\(|WHERE|LISTEN|NOTIFY)\b/;

// `text` with comments blanked (newlines kept, so offsets and lines hold).
export function stripComments(text) {
  let out = '';
  for (let i = 0; i < text.length;) {
    const c = text[i], n = text[i + 1];
    if (c === '/' && n === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && n === '/') {
      let stop = text.indexOf('\n', i);
      if (stop < 0) stop = text.length;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === '\'') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// The text of the call whose name starts at `at` (to its closing paren).
function callText(code, at) {
  let depth = 0;
  for (let i = code.indexOf('(', at); i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === '\'') {
      let j = i + 1;
      while (j < code.length && code[j] !== c && code[j] !== '\n') j += code[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return code.slice(at, i + 1);
  }
  return code.slice(at);
}

const collapse = (s) => s.replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();
const literals = (s) => [...s.matchAll(/"((?:[^"\\\n]|\\.)*)"/g)].map((m) => m[1]);
// A constant argument: string literals and UPPER_CASE macro names only.
const constantArg = (a) => /^(\s*("([^"\\\n]|\\.)*"|[A-Z][A-Z0-9_]*)\s*)+$/.test(a);

// Top-level arguments of a call's text.
function args(call) {
  const inner = call.slice(call.indexOf('(') + 1, -1), out = [];
  let depth = 0, start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"' || c === '\'') {
      let j = i + 1;
      while (j < inner.length && inner[j] !== c) j += inner[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) { out.push(inner.slice(start, i)); start = i + 1; }
  }
  out.push(inner.slice(start));
  return out;
}

// Findings in one file's text: [{file, line, rule, call}]. `allow` as ALLOW;
// `used` (a Set) collects the allow entries that matched.
export function scanText(file, text, allow = ALLOW, used = new Set()) {
  const code = stripComments(text), found = [];
  const lineOf = (at) => code.slice(0, at).split('\n').length;
  const allowed = (call) => {
    const entry = allow.find((e) => e.file === file && collapse(e.call) === call);
    if (entry) used.add(entry);
    return !!entry;
  };
  for (const m of code.matchAll(SHELL_CALL)) {
    // A declaration or member of another name (foo_system() does not match \b).
    found.push({ file, line: lineOf(m.index), rule: 'shell-out', call: collapse(callText(code, m.index)) });
  }
  for (const m of code.matchAll(SHELL_ARGS)) found.push({ file, line: lineOf(m.index), rule: 'shell-out', call: m[0] });
  for (const m of code.matchAll(EXEC_CALL)) {
    const call = collapse(callText(code, m.index));
    // A definition or declaration (`int pg_exec(struct pg_conn *c, ...)`) is not a call.
    if (/^\w+\((const )?(struct \w+|PGconn|sqlite3) \*/.test(call)) continue;
    const sql = args(call)[1] ?? '';
    if (constantArg(sql) || allowed(call)) continue;
    found.push({ file, line: lineOf(m.index), rule: 'sql-text', call });
  }
  for (const m of code.matchAll(PRINTF_CALL)) {
    const call = collapse(callText(code, m.index));
    if (!literals(call).some((l) => SQL_WORDS.test(l)) || allowed(call)) continue;
    found.push({ file, line: lineOf(m.index), rule: 'sql-printf', call });
  }
  return found;
}

function cFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return cFiles(p);
    return /\.(c|h)$/.test(d.name) ? [p] : [];
  });
}

// Every finding under `root`/src, and the allow entries that matched none
// (stale: the code they allowed is gone or changed).
export function scanTree(root, allow = ALLOW) {
  const used = new Set(), found = [];
  for (const f of cFiles(path.join(root, 'src'))) {
    const rel = path.relative(root, f).split(path.sep).join('/');
    found.push(...scanText(rel, fs.readFileSync(f, 'utf8'), allow, used));
  }
  return { found, stale: allow.filter((e) => !used.has(e)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { found, stale } = scanTree(root);
  for (const f of found) console.log(`${f.file}:${f.line}: ${f.rule}: ${f.call}`);
  for (const e of stale) console.log(`stale allow-list entry (${e.file}): ${e.call}`);
  console.log(`source guard: ${found.length} findings, ${stale.length} stale allow-list entries`);
  process.exit(found.length || stale.length ? 1 : 0);
}
