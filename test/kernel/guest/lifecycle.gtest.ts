// The life of a Child SA as the IKE engine drives it, on real ESP: the responder's inbound SPI
// comes from ALLOCSPI and the larval SA is completed by UPDSA (RFC 7296 §1.3 / §3.3.1); extended
// sequence numbers with a wide replay window (RFC 4303 §2.2.1, §3.4.3); a wrong key is counted as
// an integrity failure, not accepted (RFC 4303 §3.4.4); a deleted SA carries nothing more; and
// route-based tunnels, where SAs and policies carry an if_id and traffic is routed into an XFRM
// interface.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyParams, SaParams } from '../../../src/kernel/index.ts';
import { KernelError } from '../../../src/kernel/index.ts';
import { sh } from '../../../lab/netns/netns.ts';
import { ADDR, pingFrom, testKey, twoSides, type TwoSides } from './support.ts';

const A = ADDR.outer4.a;
const B = ADDR.outer4.b;

let lab: TwoSides;
before(async () => {
  lab = await twoSides('life');
});
after(async () => {
  await lab?.close();
});

const gcm = (seed: number): SaParams['aead'] => ({
  name: 'rfc4106(gcm(aes))',
  key: testKey(20, seed),
  icvBits: 128,
});

/** Transport-mode out/in policies of one side for the A<->B host pair. */
function transportPolicies(self: string, peer: string, reqid: number): PolicyParams[] {
  const tmpl = (src: string, dst: string): PolicyParams['templates'] => [
    { src, dst, proto: 'esp', mode: 'transport', reqid },
  ];
  return [
    {
      selector: { src: `${self}/32`, dst: `${peer}/32` },
      dir: 'out',
      action: 'allow',
      priority: 100,
      templates: tmpl(self, peer),
    },
    {
      selector: { src: `${peer}/32`, dst: `${self}/32` },
      dir: 'in',
      action: 'allow',
      priority: 100,
      templates: tmpl(peer, self),
    },
  ];
}

/** Installs a bidirectional transport pair; `abOnB` lets a test give B a different A->B SA (key). */
async function pair(ab: SaParams, ba: SaParams, abOnB: SaParams = ab): Promise<void> {
  await lab.ka.addSa(ab);
  await lab.ka.addSa(ba);
  await lab.kb.addSa(abOnB);
  await lab.kb.addSa(ba);
  for (const p of transportPolicies(A, B, ab.reqid)) await lab.ka.addPolicy(p);
  for (const p of transportPolicies(B, A, ab.reqid)) await lab.kb.addPolicy(p);
}

async function flushBoth(): Promise<void> {
  for (const k of [lab.ka, lab.kb]) {
    await k.flushPolicies();
    await k.flushSas();
  }
}

const base = (src: string, dst: string, spi: number, reqid: number): SaParams => ({
  src,
  dst,
  spi,
  proto: 'esp',
  mode: 'transport',
  reqid,
  replayWindow: 32,
  aead: gcm(spi),
});

test('ALLOCSPI reserves an SPI in range; UPDSA completes the larval SA, which then carries traffic', async () => {
  try {
    const spi = await lab.kb.allocSpi({
      src: A,
      dst: B,
      proto: 'esp',
      reqid: 61,
      min: 0xc0000000,
      max: 0xc00000ff,
    });
    assert.ok(spi >= 0xc0000000 && spi <= 0xc00000ff, `spi 0x${spi.toString(16)} within the range`);
    const ab = base(A, B, spi, 61);
    const ba = base(B, A, 0x6002, 61);
    await lab.kb.updateSa(ab); // completes the larval SA on the responder
    await lab.ka.addSa(ab);
    await lab.ka.addSa(ba);
    await lab.kb.addSa(ba);
    for (const p of transportPolicies(A, B, 61)) await lab.ka.addPolicy(p);
    for (const p of transportPolicies(B, A, 61)) await lab.kb.addPolicy(p);
    assert.equal(pingFrom(A, B, 3), 3);
    const got = await lab.kb.getSa(ab);
    assert.deepEqual([got.spi, got.reqid, got.algorithms.aead?.name], [spi, 61, 'rfc4106(gcm(aes))']);
    assert.equal(got.current.packets, 3n);
  } finally {
    await flushBoth();
  }
});

test('ESN with a 128-packet replay window is installed as requested and carries traffic', async () => {
  const esn = (s: SaParams): SaParams => ({ ...s, esn: true, replayWindow: 128 });
  const ab = esn(base(A, B, 0x6101, 62));
  const ba = esn(base(B, A, 0x6102, 62));
  try {
    await pair(ab, ba);
    assert.equal(pingFrom(A, B, 3), 3);
    for (const [k, s] of [
      [lab.ka, ab],
      [lab.kb, ab],
      [lab.ka, ba],
      [lab.kb, ba],
    ] as const) {
      const got = await k.getSa(s);
      assert.equal(got.esn, true);
      assert.equal(got.replayWindow, 128);
      assert.equal(got.current.packets, 3n);
    }
    // RFC 4303 §2.2.1: the sender's 64-bit counter advanced by one per packet.
    assert.equal((await lab.ka.getSa(ab)).replay?.oseq, 3n);
  } finally {
    await flushBoth();
  }
});

test('a receiver with the wrong key counts integrity failures and delivers nothing', async () => {
  const ab = base(A, B, 0x6201, 63);
  const ba = base(B, A, 0x6202, 63);
  try {
    await pair(ab, ba, { ...ab, aead: gcm(0x99) });
    assert.equal(pingFrom(A, B, 3), 0, 'no echo reply gets through');
    const onB = await lab.kb.getSa(ab);
    assert.equal(onB.stats.integrityFailed, 3, 'each packet failed the ICV check');
    assert.equal(onB.current.packets, 0n, 'nothing was accepted');
    assert.equal((await lab.ka.getSa(ab)).current.packets, 3n, 'the sender did send');
  } finally {
    await flushBoth();
  }
});

test('deleteSa removes the SA: getSa is isNotFound and traffic stops', async () => {
  const ab = base(A, B, 0x6301, 64);
  const ba = base(B, A, 0x6302, 64);
  try {
    await pair(ab, ba);
    assert.equal(pingFrom(A, B, 2), 2);
    await lab.kb.deleteSa(ab);
    await assert.rejects(lab.kb.getSa(ab), (e) => e instanceof KernelError && e.isNotFound);
    await assert.rejects(lab.kb.deleteSa(ab), (e) => e instanceof KernelError && e.isNotFound);
    assert.equal(pingFrom(A, B, 2), 0, 'B cannot decrypt any more');
    assert.equal((await lab.ka.getSa(ab)).current.packets, 4n, 'A kept sending on its SA');
  } finally {
    await flushBoth();
  }
});

/** Packets counted by `ip -s link show dev` as [rx, tx]. */
function linkPackets(run: (...args: string[]) => string, dev: string): [number, number] {
  const out = run('-s', 'link', 'show', 'dev', dev);
  const rx = /RX:[^\n]*\n\s*\d+\s+(\d+)/.exec(out);
  const tx = /TX:[^\n]*\n\s*\d+\s+(\d+)/.exec(out);
  return [Number(rx?.[1] ?? -1), Number(tx?.[1] ?? -1)];
}

test('route-based: SAs and policies with an if_id carry traffic routed into XFRM interfaces', async () => {
  const IF_ID = 42;
  const dev = 'ikwxfrm42';
  const inner = { a: '198.51.100.42', b: '203.0.113.42' };
  const self = (...args: string[]): string => sh('ip', args);
  const peer = (...args: string[]): string => lab.b.ip(...args);
  const sides = [
    { run: self, k: lab.ka, veth: lab.dev[0], me: inner.a, other: inner.b },
    { run: peer, k: lab.kb, veth: lab.dev[1], me: inner.b, other: inner.a },
  ];
  const ab: SaParams = { ...base(A, B, 0x6401, 65), mode: 'tunnel', ifId: IF_ID };
  const ba: SaParams = { ...base(B, A, 0x6402, 65), mode: 'tunnel', ifId: IF_ID };
  try {
    for (const { run, k, veth, me, other } of sides) {
      run('link', 'add', dev, 'type', 'xfrm', 'dev', veth, 'if_id', String(IF_ID));
      run('link', 'set', dev, 'up');
      run('addr', 'add', `${me}/32`, 'dev', 'lo');
      run('route', 'add', `${other}/32`, 'dev', dev, 'src', me);
      await k.addSa(ab);
      await k.addSa(ba);
      const [outer, peerOuter] = me === inner.a ? [A, B] : [B, A];
      for (const [dir, src, dst, tsrc, tdst] of [
        ['out', me, other, outer, peerOuter],
        ['in', other, me, peerOuter, outer],
      ] as const)
        await k.addPolicy({
          selector: { src: `${src}/32`, dst: `${dst}/32` },
          dir,
          action: 'allow',
          priority: 100,
          ifId: IF_ID,
          templates: [{ src: tsrc, dst: tdst, proto: 'esp', mode: 'tunnel', reqid: 65 }],
        });
    }
    assert.equal(pingFrom(inner.a, inner.b, 3), 3);
    for (const { k } of sides)
      for (const s of [ab, ba]) {
        const got = await k.getSa(s);
        assert.equal(got.ifId, IF_ID);
        assert.equal(got.current.packets, 3n);
      }
    const pol = await lab.ka.getPolicy({
      selector: { src: `${inner.a}/32`, dst: `${inner.b}/32` },
      dir: 'out',
      ifId: IF_ID,
    });
    assert.equal(pol.ifId, IF_ID);
    assert.deepEqual(linkPackets(self, dev), [3, 3], 'A: 3 replies in, 3 requests out through the interface');
    assert.deepEqual(linkPackets(peer, dev), [3, 3], 'B: 3 requests in, 3 replies out');
  } finally {
    await flushBoth();
    for (const { run, me } of sides) {
      run('link', 'del', dev);
      run('addr', 'del', `${me}/32`, 'dev', 'lo');
    }
  }
});
