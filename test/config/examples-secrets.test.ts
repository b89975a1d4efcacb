// examples/README.md promises that every example passes `ikeway check` after one documented
// command (examples/lab-secrets.sh). This runs exactly the documented lines in a fresh copy of
// examples/, as a newcomer would in a fresh clone, with `ikeway` being this checkout's bin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.ts';

const root = new URL('../../', import.meta.url).pathname;
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

/** The two lines examples/README.md gives, verbatim. */
const DOCUMENTED = [
  'sh examples/lab-secrets.sh && . examples/lab-secrets.env',
  'for f in examples/*.yaml; do ikeway check "$f"; done',
];

/** Runs shell lines in `cwd` with `ikeway` standing for this checkout's CLI. */
function sh(cwd: string, lines: readonly string[]) {
  const script = [`ikeway() { "${process.execPath}" "${join(root, 'bin/ikeway.js')}" "$@"; }`, ...lines];
  return spawnSync('/bin/sh', ['-c', script.join('\n')], {
    cwd,
    encoding: 'utf8',
    // No IKEWAY_* from the caller's environment: only what the documented command provides.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IKEWAY_PSK'))),
  });
}

function freshCopy() {
  const tmp = tempDir();
  cpSync(join(root, 'examples'), join(tmp.dir, 'examples'), {
    recursive: true,
    // A developer's own generated files in the checkout are not part of a fresh clone.
    filter: (src) => !/\/examples\/(secrets|certs|lab-secrets\.env)$/.test(src),
  });
  return tmp;
}

test('examples/README.md gives the command that makes every example pass ikeway check', () => {
  const readme = readFileSync(join(root, 'examples/README.md'), 'utf8');
  assert.ok(readme.includes(DOCUMENTED.join('\n')), 'README lines differ from the tested ones');
  const ignored = readFileSync(join(root, '.gitignore'), 'utf8');
  for (const p of ['/examples/secrets/', '/examples/certs/', '/examples/lab-secrets.env'])
    assert.ok(ignored.split('\n').includes(p), `.gitignore lacks ${p}`);
});

test('in a fresh copy of examples/, the documented command makes every example pass check', (t) => {
  const tmp = freshCopy();
  t.after(tmp.cleanup);
  // A fresh clone: the site-to-site example fails for want of its PSK file.
  const before = sh(tmp.dir, ['ikeway check examples/site-to-site-psk.yaml']);
  assert.equal(before.status, 1);
  assert.match(before.stderr, /secrets\/branch\.psk/);

  const r = sh(tmp.dir, DOCUMENTED);
  assert.equal(r.stderr, '', 'no errors or warnings');
  const oks = r.stdout.split('\n').filter((l) => l.startsWith('OK: '));
  assert.equal(oks.length, examples.length, r.stdout);
  assert.match(r.stdout, /the examples read these variables: IKEWAY_PSK_DB\n/);
  assert.match(r.stdout, /export them with: \. .*\/examples\/lab-secrets\.env\n/);

  // What it made: lab-only marked keys, unreadable by others.
  const ex = join(tmp.dir, 'examples');
  const psk = readFileSync(join(ex, 'secrets/branch.psk'), 'utf8');
  assert.match(psk, /^LAB-ONLY-[0-9a-f]{48}\n$/);
  for (const f of ['secrets/branch.psk', 'certs/gw1.key', 'certs/ca.key', 'lab-secrets.env'])
    assert.equal(statSync(join(ex, f)).mode & 0o077, 0, `${f} is readable by others`);
  assert.match(
    readFileSync(join(ex, 'lab-secrets.env'), 'utf8'),
    /^# LAB ONLY.*\nexport IKEWAY_PSK_DB=0x[0-9a-f]{64}\n$/,
  );

  // Run again: existing files are kept, nothing is regenerated.
  const again = sh(tmp.dir, ['sh examples/lab-secrets.sh']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /: 0 made, the others kept/);
  assert.equal(readFileSync(join(ex, 'secrets/branch.psk'), 'utf8'), psk);

  // Without the exported variable, the env-keyed example is refused: the check above saw it.
  const noEnv = sh(tmp.dir, ['ikeway check examples/host-to-host-transport.yaml']);
  assert.equal(noEnv.status, 1);
  assert.match(noEnv.stderr, /IKEWAY_PSK_DB/);
});
