// An internal error ends the daemon with EX_SOFTWARE (70) and one JSON error line that names the
// error and its stack frames, never its properties (they could hold keys): the kernel keeps the
// fail-closed policies and systemd restarts the unit (src/daemon/crash.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { crashFields, EXIT_SOFTWARE } from '../../src/daemon/crash.ts';

const SCRIPT = join(import.meta.dirname, 'scripts', 'crash.ts');

for (const how of ['throw', 'reject'] as const) {
  test(`${how === 'throw' ? 'a thrown exception' : 'an unhandled rejection'}: exit 70, one error line, no secrets`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, how], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, EXIT_SOFTWARE, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    assert.equal(lines.length, 1, r.stderr);
    const entry = JSON.parse(lines[0]!) as Record<string, string>;
    assert.equal(entry.level, 'error');
    assert.equal(entry.component, 'daemon');
    assert.match(entry.msg!, how === 'throw' ? /^uncaught exception: / : /^unhandled rejection: /);
    assert.equal(entry.error, 'TypeError: cannot read the peer SPI');
    assert.match(entry.stack!, /crash\.ts/);
    for (const secret of ['SECRET-PSK-TEXT', 'c0ffee00', 'c0 ff ee'])
      assert.ok(!r.stderr.includes(secret), secret);
  });
}

test('crashFields: non-Error values are named by type only', () => {
  assert.deepEqual(crashFields({ psk: 'x' }), {
    component: 'daemon',
    error: 'non-Error value thrown (object)',
  });
  const f = crashFields(new RangeError('bad'));
  assert.equal(f.error, 'RangeError: bad');
  assert.ok(String(f.stack).split(' | ').length <= 12);
});
