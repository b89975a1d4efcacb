// The same contract suite against FakeKernel and against the host kernel's XFRM (in a throwaway
// network namespace), so the fake cannot drift from what engines will meet for real.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { Netns } from '../../lab/netns/netns.ts';
import { contractCases } from './contract-cases.ts';

const isRoot = process.getuid?.() === 0;

describe('Kernel contract: FakeKernel', () => {
  for (const c of contractCases) test(c.name, () => c.run(new FakeKernel()));
});

describe('Kernel contract: host XFRM over netlink', { skip: !isRoot && 'needs root for a netns' }, () => {
  const results = new Map<string, { ok: boolean; error?: string }>();
  test('runs in a fresh namespace', (t) => {
    const ns = Netns.create('kc');
    t.after(() => ns.delete());
    const script = fileURLToPath(new URL('./scripts/contract-real.ts', import.meta.url));
    const r = ns.runTs(script, [], 60_000);
    assert.equal(r.status, 0, r.stderr);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const j = JSON.parse(line) as { name: string; ok: boolean; error?: string };
      results.set(j.name, j);
    }
  });
  for (const c of contractCases)
    test(c.name, () => {
      const r = results.get(c.name);
      assert.ok(r, 'case did not run');
      assert.ok(r.ok, r.error);
    });
});
