// scripts/run-tests.mjs runs the files marked `// @guest-pass` one at a time in its guest pass,
// holding one guest slot for them, and every other file in its host pass. A file that boots the
// guest without the mark would wait for a slot in the host pass (and could end in GUEST_BUSY); a
// mark on a file that boots none would only slow the suite. The two sets must be equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MARK = /^\/\/ @guest-pass\b/m;
/** The calls that boot a guest kernel (lab/guest/guest.ts, guest-tests.ts, the matrix harness). */
const BOOTS = /\b(withEspKernel|runInGuest|runEspTestFiles|runMatrixPart)\(/;

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

test('the runner selects its guest pass with the same mark', () => {
  const runner = readFileSync(join(ROOT, 'scripts', 'run-tests.mjs'), 'utf8');
  assert.ok(runner.includes(`const GUEST_MARK = ${MARK.toString()};`), 'scripts/run-tests.mjs mark differs');
  const call = ['await withEspKernel', '({'].join(''); // not a call in this file's text
  assert.ok(BOOTS.test(call) && !BOOTS.test('import { withEspKernel }'));
});

test('exactly the test files that boot a guest carry the @guest-pass mark', () => {
  const files = testFiles(join(ROOT, 'test'));
  const texts = files.map((f) => [relative(ROOT, f), readFileSync(f, 'utf8')] as const);
  const booting = texts.filter(([, t]) => BOOTS.test(t)).map(([f]) => f);
  const marked = texts.filter(([, t]) => MARK.test(t)).map(([f]) => f);
  assert.ok(booting.length >= 5, `only ${booting.length} guest files found: ${booting.join(', ')}`);
  assert.deepEqual(marked, booting);
});
