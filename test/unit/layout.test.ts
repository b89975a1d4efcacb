// The daemon stands alone in src/: the development tools (labs, guest runner, load generator) live in
// lab/, which may import src/ but never the other way round. A production install (bin, src,
// package.json and its dependencies; no lab/) still runs, and says where `lab`/`load` went.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

/** Every relative specifier in static imports, re-exports and literal dynamic imports. */
function specifiers(text: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
  return [...text.matchAll(re)].map((m) => m[1] as string);
}

test('the scanner sees an import that leaves src/ (so the next test can fail)', () => {
  const probe =
    "import { x } from '../../lab/cli/index.ts';\nexport { y } from './y.ts';\nawait import('../z.ts');";
  assert.deepEqual(specifiers(probe), ['../../lab/cli/index.ts', './y.ts', '../z.ts']);
});

test('no file in src/ imports anything outside src/ (lab/ in particular)', () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, `only ${files.length} source files found under src/`);
  const outside: string[] = [];
  for (const f of files)
    for (const s of specifiers(readFileSync(f, 'utf8'))) {
      const target = resolve(dirname(f), s);
      if (!target.startsWith(SRC + sep)) outside.push(`${relative(ROOT, f)} -> ${s}`);
    }
  assert.deepEqual(outside, []);
});

test('src/ carries no qemu or guest-kernel code', () => {
  const hits = sources(SRC).filter((f) => /qemu/i.test(readFileSync(f, 'utf8')));
  assert.deepEqual(
    hits.map((f) => relative(ROOT, f)),
    [],
  );
});

test('without lab/ (a production install) the CLI runs and `lab`/`load` say where they are', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-prod-'));
  try {
    for (const part of ['bin', 'src', 'package.json'])
      cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(dir, 'bin', 'ikeway.js'), ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    const help = run('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /ikeway daemon/);
    assert.doesNotMatch(help.stdout, /ikeway (lab|load)\b/);
    for (const args of [
      ['lab', 'demo'],
      ['load', '--remote', '192.0.2.1'],
    ]) {
      const r = run(...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(
        r.stderr.trim(),
        '`ikeway lab`/`load` are development tools, available from a git checkout',
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('from the checkout the CLI offers `lab` and `load`', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'ikeway.js'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ikeway load\b/);
  assert.match(r.stdout, /ikeway lab <command>/);
});
