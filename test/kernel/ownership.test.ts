// Ownership: the daemon removes exactly what it installed, never others' objects, and a restart
// reconciles what a crashed run left behind (host kernel, policies + a larval SA; and the fake).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { AppendJournal } from '../../src/kernel/append-journal.ts';
import { OwnedKernel, ownedObjectKey } from '../../src/kernel/ownership.ts';
import { Netns } from '../../lab/netns/netns.ts';

const SCRIPT = fileURLToPath(new URL('./scripts/ownership.ts', import.meta.url));

test(
  'host: crash leaves objects, restart reconciles them; flush and removeAll spare foreign policies',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  (t) => {
    const ns = Netns.create('ko');
    t.after(() => ns.delete());
    const dir = mkdtempSync(join(tmpdir(), 'ikw-own-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    ns.ip(...'xfrm policy add src 10.50.0.0/16 dst 10.99.0.0/16 dir out priority 9'.split(' '));
    const phase = (p: string): Record<string, unknown> => {
      const r = ns.runTs(SCRIPT, [p, dir], 30_000);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    };
    const crash = phase('crash');
    assert.equal(crash.foreignDup, 'EEXIST');
    assert.equal(crash.owned, 3, 'two policies and the larval SA; not the foreign one');
    assert.match(ns.ip('xfrm', 'policy'), /10\.1\.0\.0\/16/);
    const rec = new AppendJournal(join(dir, 'kernel-objects'), ownedObjectKey);
    assert.equal(rec.load().length, 3);
    const re = phase('restart');
    assert.deepEqual(re.reconciled, ['policy', 'policy', 'sa']);
    assert.deepEqual(re.after, ['10.50.0.0/16']);
    assert.equal(re.sas, 0);
    assert.deepEqual(re.afterFlush, ['10.50.0.0/16'], 'flush removed only our policy');
    assert.equal(re.removed, 2);
    assert.deepEqual(re.afterRemoveAll, ['10.50.0.0/16']);
  },
);

test('fake: a failed add is not recorded; batch records successes only; the record never holds keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-own-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = new FakeKernel();
  const k = new OwnedKernel(fake, dir);
  const sa = {
    src: '192.0.2.1',
    dst: '192.0.2.2',
    spi: 0x1001,
    proto: 'esp' as const,
    mode: 'tunnel' as const,
    reqid: 1,
  };
  await fake.addSa(sa); // someone else's
  await assert.rejects(
    k.addSa({ ...sa, aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(0xee), icvBits: 128 } }),
  );
  assert.equal(k.list().length, 0);
  const res = await k.batch([
    {
      op: 'addSa',
      sa: {
        ...sa,
        spi: 0x1002,
        aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(0xee), icvBits: 128 },
      },
    },
    { op: 'addSa', sa },
  ]);
  assert.equal(res[0], null);
  assert.ok(res[1]?.isExists);
  assert.deepEqual(
    k.list().map((o) => o.kind === 'sa' && o.id.spi),
    [0x1002],
  );
  assert.doesNotMatch(readFileSync(join(dir, 'kernel-objects.jsonl'), 'utf8'), /238|ee/);
  await k.removeAll();
  assert.equal(fake.saCount, 1, 'the foreign SA stays');
});
