// Every saved fuzz finding (test/fuzz/findings/<target>-<id>.hex) replayed through its target: each
// was a crash or an untyped error once, and must stay fixed. `npm run fuzz` adds new files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fromHex } from './lib/mutate.ts';
import { FINDINGS_DIR, replay } from './lib/runner.ts';
import { targetByName } from './lib/targets.ts';

const files = readdirSync(FINDINGS_DIR).filter((f) => f.endsWith('.hex'));

test('every saved finding names a known target', () => {
  assert.ok(files.length > 0, 'the findings directory holds the regressions of fixed bugs');
  for (const f of files) assert.ok(targetByName(f.replace(/-[0-9a-f]+\.hex$/, '')), f);
});

for (const f of files) {
  test(`finding ${f} stays fixed`, async () => {
    const target = targetByName(f.replace(/-[0-9a-f]+\.hex$/, ''))!;
    const input = fromHex(readFileSync(new URL(f, FINDINGS_DIR), 'utf8'));
    const found = await replay(target, [input]);
    assert.deepEqual(
      found.map((x) => x.error),
      [],
    );
  });
}
