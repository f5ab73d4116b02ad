// The source guard (scripts/source-guard.mjs, docs/security.md): no
// shell-outs in src/, SQL text run as it is only when constant or on the
// reviewed allow-list, no SQL built with printf outside it. Static: reads
// the sources, runs nothing.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanText, scanTree, ALLOW } from '../../scripts/source-guard.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('src/ has no shell-out, no unreviewed raw SQL and no SQL built with printf', () => {
  const { found, stale } = scanTree(ROOT);
  assert.deepEqual(found.map((f) => `${f.file}:${f.line}: ${f.rule}: ${f.call}`), [], 'findings');
  assert.deepEqual(stale.map((e) => `${e.file}: ${e.call}`), [], 'allow-list entries that match nothing');
  for (const e of ALLOW) assert.ok(e.why, `allow-list entry without a reason: ${e.call}`);
});

test('the guard finds each kind of violation and ignores comments and constants', () => {
  const rules = (text, file = 'src/x/planted.c') => scanText(file, text, ALLOW).map((f) => `${f.line}:${f.rule}`);
  // Shell-outs, however spelled.
  assert.deepEqual(rules('int f(void)\n{\n\treturn system(cmd);\n}\n'), ['3:shell-out']);
  assert.deepEqual(rules('FILE *p = popen (cmd, "r");'), ['1:shell-out']);
  assert.deepEqual(rules('execl("/bin/sh", "sh", "-c", cmd, NULL);'), ['1:shell-out']);
  assert.deepEqual(rules('char *argv[] = {"/bin/sh",\n "-c", cmd};'), ['1:shell-out']);
  // Raw SQL text with data in it; constants pass.
  assert.deepEqual(rules('sqlite3_exec(db, sql, NULL, NULL, &msg);'), ['1:sql-text']);
  assert.deepEqual(rules('r = PQexec(conn, query);'), ['1:sql-text']);
  assert.deepEqual(rules('r = pg_exec(c, buf);\nr = exec_simple(conn, text, NULL, e, n);'), ['1:sql-text', '2:sql-text']);
  assert.deepEqual(rules('PQexec(conn, "ROLLBACK");\npg_exec(c, "BEGIN");\nPQexec(conn, "LISTEN " CHANNEL);'), []);
  // SQL in a printf format, over several lines too.
  assert.deepEqual(rules('snprintf(q, sizeof(q), "SELECT * FROM t WHERE id = \'%s\'", id);'), ['1:sql-printf']);
  assert.deepEqual(rules('strbuf_printf(&b,\n\t"DELETE FROM tasks WHERE id = %lld", (long long)v);'), ['1:sql-printf']);
  assert.deepEqual(rules('asprintf(&q, "INSERT INTO x VALUES(%d)", n);'), ['1:sql-printf']);
  assert.deepEqual(rules('snprintf(err, n, "cannot open %s: %s", path, why);'), []);
  // Comments are not code.
  assert.deepEqual(rules('/* never system(cmd) nor popen() */\n// PQexec(conn, sql)\nint x;'), []);
  // An allow-list entry holds only in its own file and for its exact call.
  const entry = ALLOW.find((e) => e.call.startsWith('snprintf(sql, sizeof(sql), "DROP TABLE'));
  assert.ok(entry);
  assert.deepEqual(rules(`${entry.call};`, entry.file), []);
  assert.deepEqual(rules(`${entry.call};`, 'src/server/other.c'), ['1:sql-printf']);
  assert.deepEqual(rules(entry.call.replace('name)', 'user_name)') + ';', entry.file), ['1:sql-printf']);
});
