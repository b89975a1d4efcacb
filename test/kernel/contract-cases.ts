// The Kernel contract: cases that must hold for FakeKernel and for the real XFRM backend alike.
// Each case gets a fresh kernel (the real one in a fresh network namespace). Only what the host
// kernel supports is here (policies, ALLOCSPI, error paths); SAs with ESP run in the guest tests.
import assert from 'node:assert/strict';
import { KernelError } from '../../src/kernel/errors.ts';
import type { Kernel, PolicyParams } from '../../src/kernel/types.ts';

export interface ContractCase {
  name: string;
  run(k: Kernel): Promise<void>;
}

const pol = (n: number, over: Partial<PolicyParams> = {}): PolicyParams => ({
  selector: { src: `10.${n}.0.0/16`, dst: '10.200.0.0/16' },
  dir: 'out',
  action: 'allow',
  priority: 1000 + n,
  templates: [{ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'tunnel', reqid: 100 + n }],
  ...over,
});

async function rejectsWith(
  p: Promise<unknown>,
  check: (e: KernelError) => boolean,
  what: string,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KernelError, `${what}: expected KernelError, got ${String(e)}`);
    assert.ok(check(e), `${what}: unexpected ${e.code} ${e.message}`);
    return true;
  });
}

export const contractCases: ContractCase[] = [
  {
    name: 'a policy added is read back field by field, and updated in place',
    async run(k) {
      const p = pol(1, {
        mark: { value: 7, mask: 0xff },
        selector: { src: '10.1.0.0/16', dst: '10.200.0.0/16', proto: 17, dport: 53 },
      });
      await k.addPolicy(p);
      const got = await k.getPolicy({ selector: p.selector, dir: 'out', mark: p.mark });
      assert.deepEqual(got.selector, p.selector);
      assert.equal(got.action, 'allow');
      assert.equal(got.priority, 1001);
      assert.deepEqual(got.mark, { value: 7, mask: 0xff });
      assert.deepEqual(got.templates, p.templates);
      await k.updatePolicy({ ...p, priority: 5, templates: [] });
      const up = await k.getPolicy({ selector: p.selector, dir: 'out', mark: p.mark });
      assert.equal(up.priority, 5);
      assert.deepEqual(up.templates, []);
      assert.equal((await k.dumpPolicies()).length, 1);
    },
  },
  {
    name: 'a duplicate policy add is isExists; a missing delete/get is isNotFound',
    async run(k) {
      await k.addPolicy(pol(2));
      await rejectsWith(k.addPolicy(pol(2)), (e) => e.isExists && e.errno === 17, 'duplicate add');
      await rejectsWith(
        k.deletePolicy({ selector: pol(3).selector, dir: 'out' }),
        (e) => e.isNotFound,
        'delete missing',
      );
      await rejectsWith(
        k.getPolicy({ selector: pol(3).selector, dir: 'in' }),
        (e) => e.isNotFound,
        'get missing',
      );
      await k.deletePolicy({ selector: pol(2).selector, dir: 'out' });
      assert.equal((await k.dumpPolicies()).length, 0);
    },
  },
  {
    name: 'block policies, IPv6 selectors and in/fwd directions coexist; flush removes them',
    async run(k) {
      await k.addPolicy(pol(4, { action: 'block', templates: [] }));
      await k.addPolicy(
        pol(5, {
          dir: 'in',
          selector: { src: '2001:db8:1::/48', dst: '2001:db8:2::/48' },
          templates: [{ src: '2001:db8::1', dst: '2001:db8::2', proto: 'esp', mode: 'tunnel', reqid: 9 }],
        }),
      );
      await k.addPolicy(pol(6, { dir: 'fwd', ifId: 42 }));
      const all = await k.dumpPolicies();
      assert.equal(all.length, 3);
      const v6 = all.find((p) => p.dir === 'in');
      assert.deepEqual(v6?.selector, { src: '2001:db8:1::/48', dst: '2001:db8:2::/48' });
      assert.equal(v6?.templates[0]?.dst, '2001:db8::2');
      assert.equal(all.find((p) => p.action === 'block')?.templates.length, 0);
      assert.equal(all.find((p) => p.dir === 'fwd')?.ifId, 42);
      await k.flushPolicies();
      assert.equal((await k.dumpPolicies()).length, 0);
    },
  },
  {
    name: 'ALLOCSPI returns unique SPIs inside the requested range',
    async run(k) {
      const min = 0x1000;
      const max = 0x10ff;
      const spis = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const spi = await k.allocSpi({
          src: '192.0.2.1',
          dst: '192.0.2.2',
          proto: 'esp',
          reqid: 1,
          min,
          max,
        });
        assert.ok(spi >= min && spi <= max, `spi ${spi} outside range`);
        spis.add(spi);
      }
      assert.equal(spis.size, 40);
      await rejectsWith(
        k.allocSpi({ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', min: 10, max: 20 }),
        (e) => e.kind === 'invalid',
        'reserved range',
      );
    },
  },
  {
    name: 'a larval SA from ALLOCSPI is found by getSa and removed by deleteSa; missing SA is isNotFound',
    async run(k) {
      const spi = await k.allocSpi({ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', reqid: 77 });
      const sa = await k.getSa({ dst: '192.0.2.2', spi, proto: 'esp' });
      assert.equal(sa.spi, spi);
      assert.equal(sa.src, '192.0.2.1');
      assert.equal(sa.reqid, 77);
      await k.deleteSa({ dst: '192.0.2.2', spi, proto: 'esp' });
      await rejectsWith(k.getSa({ dst: '192.0.2.2', spi, proto: 'esp' }), (e) => e.isNotFound, 'get deleted');
      await rejectsWith(
        k.deleteSa({ dst: '192.0.2.2', spi, proto: 'esp' }),
        (e) => e.isNotFound,
        'delete deleted',
      );
    },
  },
  {
    name: 'batch reports each operation: successes null, the duplicate its EEXIST',
    async run(k) {
      const res = await k.batch([
        { op: 'addPolicy', policy: pol(10) },
        { op: 'addPolicy', policy: pol(11) },
        { op: 'addPolicy', policy: pol(10) },
        { op: 'deletePolicy', id: { selector: pol(12).selector, dir: 'out' } },
        { op: 'addPolicy', policy: pol(13, { priority: -1 }) },
      ]);
      assert.equal(res[0], null);
      assert.equal(res[1], null);
      assert.ok(res[2]?.isExists, 'third is a duplicate');
      assert.ok(res[3]?.isNotFound, 'fourth deletes a missing policy');
      assert.equal(res[4]?.kind, 'invalid');
      assert.equal((await k.dumpPolicies()).length, 2);
    },
  },
  {
    name: 'bad input is a typed invalid error naming the field, before any kernel call',
    async run(k) {
      await rejectsWith(
        k.addPolicy(pol(20, { selector: { src: '10.0.0.0/33', dst: '10.1.0.0/16' } })),
        (e) => e.kind === 'invalid' && /prefix/.test(e.message),
        'prefix',
      );
      await rejectsWith(
        k.addPolicy(pol(21, { selector: { src: '10.0.0.0/8', dst: '2001:db8::/32' } })),
        (e) => e.kind === 'invalid' && /families/.test(e.message),
        'families',
      );
    },
  },
];
