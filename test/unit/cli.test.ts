import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const bin = new URL('../../bin/ikeway.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('ikeway --help lists the commands and exits 0', () => {
  const r = run('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ikeway <command>/);
  assert.match(r.stdout, /version/);
});

test('ikeway version prints the package version', () => {
  const r = run('version');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ikeway \d+\.\d+\.\d+ \(node v\d+/);
});

test('ikeway --version and -v print exactly what ikeway version prints', () => {
  const want = run('version');
  assert.equal(want.status, 0, want.stderr);
  for (const flag of ['--version', '-v']) {
    const r = run(flag);
    assert.equal(r.status, 0, `${flag}: ${r.stderr}`);
    assert.equal(r.stdout, want.stdout, flag);
    assert.equal(r.stderr, '', flag);
  }
  assert.match(run('--help').stdout, /-v, --version/);
});

test('an unknown command is an error with exit status 1', () => {
  const r = run('no-such-command');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Unknown argument: no-such-command/);
});
