// Kernel events through our backend: EXPIRE from short lifetimes (RFC 7296 §2.8: soft = rekey,
// hard = delete), by seconds and by packets, and ACQUIRE from a trap policy (RFC 7296 §1.3, a
// PROTECT policy without SA). Each event is compared field by field with what was installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Kernel, KernelEvent, PolicyParams, SaParams } from '../../../src/kernel/index.ts';
import { KernelError } from '../../../src/kernel/index.ts';
import { Netns } from '../../../lab/netns/netns.ts';
import { kernelIn, linkToPeer, ping, testKey } from './support.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';

let k: Kernel;
let close: () => Promise<void>;
let peer: Netns;
before(async () => {
  peer = Netns.create('ev');
  linkToPeer(peer, [`${A}/24`], [`${B}/24`]);
  ({ kernel: k, close } = await kernelIn());
});
after(async () => {
  await close?.();
  peer?.delete();
});

/** Collects events matching `pick` until `count` arrived or `ms` passed (bounded wait). */
function collect<E extends KernelEvent>(
  pick: (e: KernelEvent) => e is E,
  count: number,
  ms: number,
): Promise<E[]> {
  return new Promise((resolve) => {
    const got: E[] = [];
    const stop = (): void => {
      clearTimeout(timer);
      off();
      resolve(got);
    };
    const off = k.onEvent((e) => {
      if (pick(e)) got.push(e);
      if (got.length >= count) stop();
    });
    const timer = setTimeout(stop, ms);
  });
}

const sa = (spi: number, over: Partial<SaParams> = {}): SaParams => ({
  src: A,
  dst: B,
  spi,
  proto: 'esp',
  mode: 'transport',
  reqid: spi & 0xff,
  aead: { name: 'rfc4106(gcm(aes))', key: testKey(20, spi), icvBits: 128 },
  ...over,
});

const expiresOf = (spi: number) => (e: KernelEvent) => e.type === 'expire' && e.sa.spi === spi;
type Expire = Extract<KernelEvent, { type: 'expire' }>;

function assertExpireOf(e: Expire, s: SaParams, hard: boolean): void {
  assert.equal(e.hard, hard);
  assert.deepEqual(
    { src: e.sa.src, dst: e.sa.dst, spi: e.sa.spi, proto: e.sa.proto, reqid: e.sa.reqid },
    { src: s.src, dst: s.dst, spi: s.spi, proto: s.proto, reqid: s.reqid },
  );
}

test('soft then hard EXPIRE by seconds; the SA is gone after the hard one', async () => {
  // The kernel counts lifetimes from xfrm_state_alloc but starts the SA timer only at insert, after
  // the transform is instantiated. Under TCG a first rfc4106(gcm(aes)) instance (module load +
  // crypto self-tests) took seconds, so the first timer run could already be past the hard limit
  // and report the hard expire alone. Instantiate the algorithm first, then time the real SA.
  const warm = sa(0x2000);
  await k.addSa(warm);
  await k.deleteSa(warm);
  const s = sa(0x2001, { lifetime: { soft: { seconds: 2 }, hard: { seconds: 5 } } });
  const events = collect(expiresOf(s.spi) as (e: KernelEvent) => e is Expire, 2, 25_000);
  await k.addSa(s);
  const info = await k.getSa(s);
  assert.deepEqual(info.lifetime?.soft?.seconds, 2);
  assert.deepEqual(info.lifetime?.hard?.seconds, 5);
  const got = await events;
  const [soft, hard] = got;
  assert.ok(
    soft && hard,
    `both expire events arrived: ${JSON.stringify(got)} ${JSON.stringify(info.lifetime, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
  );
  assertExpireOf(soft, s, false);
  assertExpireOf(hard, s, true);
  await assert.rejects(k.getSa(s), (e) => e instanceof KernelError && e.isNotFound);
});

test('soft then hard EXPIRE by packets on an outbound SA carrying traffic', async () => {
  const s = sa(0x2002, { lifetime: { soft: { packets: 2n }, hard: { packets: 4n } } });
  const pol: PolicyParams = {
    selector: { src: `${A}/32`, dst: `${B}/32`, proto: 1 },
    dir: 'out',
    action: 'allow',
    priority: 100,
    templates: [{ src: A, dst: B, proto: 'esp', mode: 'transport', reqid: s.reqid }],
  };
  const events = collect(expiresOf(s.spi) as (e: KernelEvent) => e is Expire, 2, 15_000);
  await k.addSa(s);
  await k.addPolicy(pol);
  try {
    const info = await k.getSa(s);
    assert.deepEqual(info.lifetime?.soft?.packets, 2n);
    assert.deepEqual(info.lifetime?.hard?.packets, 4n);
    ping(B, 6); // B has no SA: no replies, but every request is counted on our outbound SA
    const [soft, hard] = await events;
    assert.ok(soft && hard, 'both expire events arrived');
    assertExpireOf(soft, s, false);
    assertExpireOf(hard, s, true);
  } finally {
    await k.flushPolicies();
    await k.flushSas();
  }
});

test('a trap policy without SA raises ACQUIRE with its template and the packet selector', async () => {
  const dst = '192.0.2.77';
  const pol: PolicyParams = {
    selector: { src: `${A}/32`, dst: `${dst}/32` },
    dir: 'out',
    action: 'allow',
    priority: 100,
    templates: [{ src: A, dst: B, proto: 'esp', mode: 'tunnel', reqid: 77 }],
  };
  await k.addPolicy(pol);
  const acquired = collect(
    (e): e is Extract<KernelEvent, { type: 'acquire' }> => e.type === 'acquire',
    1,
    15_000,
  );
  const udp = createSocket('udp4');
  try {
    await new Promise<void>((r) => udp.bind(0, A, r));
    udp.send(Buffer.from('trigger'), 9, dst); // the kernel holds/drops it and asks IKE for an SA
    const [acq] = await acquired;
    assert.ok(acq, 'ACQUIRE arrived');
    const installed = await k.getPolicy({ selector: pol.selector, dir: 'out' });
    assert.deepEqual(acq.template, { src: A, dst: B, proto: 'esp', mode: 'tunnel', reqid: 77 });
    assert.equal(acq.policyIndex, installed.index);
    assert.equal(acq.dir, 'out');
    assert.equal(acq.selector.dst.replace(/\/32$/, ''), dst);
    assert.equal(acq.selector.src.replace(/\/32$/, ''), A);
  } finally {
    udp.close();
    await k.flushPolicies();
  }
});
