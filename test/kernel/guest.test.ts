// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass).
// Runs every test/kernel/guest/*.gtest.ts where the kernel has ESP: in ONE guest boot when the
// host kernel lacks it (docs: KERNEL-LAB.md), directly in namespaces otherwise. Each file runs in
// a fresh namespace; this host-side test reports each file as a subtest with its TAP output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runEspTestFiles, type EspTestsResult } from '../../lab/guest/guest-tests.ts';

const isRoot = process.getuid?.() === 0;
const dir = join(import.meta.dirname, 'guest');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.gtest.ts'))
  .sort()
  .map((f) => join(dir, f));

test('ESP kernel tests (test/kernel/guest/*.gtest.ts)', { skip: !isRoot && 'needs root' }, async (t) => {
  assert.ok(files.length > 0, 'no .gtest.ts files found');
  const r: EspTestsResult = await runEspTestFiles(files, { timeoutMs: 600_000 });
  const { where, bootMs, wallMs, queuedMs } = r.run;
  t.diagnostic(`ran in ${where}: queued ${queuedMs} ms, boot ${bootMs} ms, wall ${wallMs} ms`);
  for (const l of r.run.lockups) t.diagnostic(`an earlier boot ended: ${l}`);
  for (const f of r.files)
    await t.test(f.file, (ft) => {
      if (f.crashedFirst)
        ft.diagnostic(`re-run after a crash before any test: ${f.crashedFirst.slice(0, 500)}`);
      const tail = `\n--- ${f.file} output ---\n${f.output.slice(-6000)}`;
      assert.equal(
        f.status,
        0,
        `exit status ${f.status}${tail}${f.status < 0 ? `\n${r.run.console.slice(-3000)}` : ''}`,
      );
      assert.equal(f.fail, 0, `TAP reports failures${tail}`);
      assert.ok((f.pass ?? 0) > 0, `no passing tests reported${tail}`);
    });
});
