// The append-only ownership log (src/kernel/append-journal.ts): replay, torn last line, a damaged
// line in the middle, the upgrade from the older whole-file record, and compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppendJournal } from '../../src/kernel/append-journal.ts';

type Obj = { k: string; v: number };
const keyOf = (o: Obj) => o.k;
const fresh = () => join(mkdtempSync(join(tmpdir(), 'ikw-aj-')), 'rec');
const lines = (base: string) => readFileSync(`${base}.jsonl`, 'utf8').trim().split('\n').length;

test('adds and removes replay to the live set after a restart', () => {
  const base = fresh();
  const j = new AppendJournal<Obj>(base, keyOf);
  assert.deepEqual(j.load(), []);
  j.add({ k: 'a', v: 1 });
  j.add({ k: 'b', v: 2 });
  j.add({ k: 'a', v: 3 });
  j.remove('b');
  j.remove('missing');
  j.close();
  assert.equal(lines(base), 5, 'header + 3 adds + 1 delete; removing a missing key writes nothing');
  assert.deepEqual(new AppendJournal<Obj>(base, keyOf).load(), [{ k: 'a', v: 3 }]);
});

test('a torn last line is ignored; a damaged line before it is an error', () => {
  const base = fresh();
  const j = new AppendJournal<Obj>(base, keyOf);
  j.load();
  j.add({ k: 'a', v: 1 });
  j.close();
  appendFileSync(`${base}.jsonl`, '{"add":{"k":"b"');
  assert.deepEqual(new AppendJournal<Obj>(base, keyOf).load(), [{ k: 'a', v: 1 }]);
  writeFileSync(`${base}.jsonl`, '{"version":2}\n{"add":\n{"add":{"k":"c","v":1}}\n');
  assert.throws(() => new AppendJournal<Obj>(base, keyOf).load(), /line 2 is not valid JSON/);
  writeFileSync(`${base}.jsonl`, '{"version":9}\n');
  assert.throws(() => new AppendJournal<Obj>(base, keyOf).load(), /unknown header/);
});

test('the older whole-file record is read once and replaced by the log', () => {
  const base = fresh();
  writeFileSync(`${base}.json`, JSON.stringify({ version: 1, objects: [{ k: 'x', v: 7 }] }));
  assert.deepEqual(new AppendJournal<Obj>(base, keyOf).load(), [{ k: 'x', v: 7 }]);
  assert.equal(existsSync(`${base}.json`), false);
  assert.deepEqual(new AppendJournal<Obj>(base, keyOf).load(), [{ k: 'x', v: 7 }]);
});

test('the log is compacted when it outgrows the live set, keeping every live object', () => {
  const base = fresh();
  const j = new AppendJournal<Obj>(base, keyOf);
  j.load();
  for (let i = 0; i < 6000; i++) {
    j.add({ k: `o${i}`, v: i });
    if (i % 3 !== 0) j.remove(`o${i}`);
  }
  j.close();
  assert.ok(lines(base) < 6000 + 4000, `compacted: ${lines(base)} lines for 10000 changes`);
  const live = new AppendJournal<Obj>(base, keyOf).load();
  assert.equal(live.length, 2000);
  assert.ok(live.every((o) => Number(o.k.slice(1)) % 3 === 0));
  assert.equal(lines(base), 2001, 'load compacts to header + live objects');
});
