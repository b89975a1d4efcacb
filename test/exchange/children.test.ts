// Several Child SAs under one IKE SA (RFC 7296 §1.3, §2.9): the first inside IKE_AUTH, the others with
// CREATE_CHILD_SA; the responder narrows each request to the child it fits; each child rekeys and is
// deleted on its own; one Child SA per subnet pair when asked (splitPerPair). Both roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyType } from '../../src/codec/index.ts';
import type { ChildSa } from '../../src/ike/child-sa.ts';
import { splitPerPair, type ChildConfig } from '../../src/ike/child-config.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { formatTs, tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { ADDR_A, ADDR_B, established, pair, type Peer } from './harness.ts';

const esp = parseProposals('aes256gcm16', 'esp');
const espCbc = parseProposals('aes128-sha256', 'esp');
const ts = (...c: string[]) => c.map((x) => tsFromCidr(x));

/** A's children; B's are the mirror image. lan: two subnet pairs; voice: its own proposal; host: transport. */
function children(side: 'a' | 'b'): ChildConfig[] {
  const a = side === 'a';
  const mirror = (l: string[], r: string[]) =>
    a ? { localTs: ts(...l), remoteTs: ts(...r) } : { localTs: ts(...r), remoteTs: ts(...l) };
  return [
    {
      name: 'lan',
      espProposals: esp,
      mode: 'tunnel',
      ...mirror(['10.1.0.0/24', '10.3.0.0/24'], ['10.2.0.0/24']),
    },
    { name: 'voice', espProposals: espCbc, mode: 'tunnel', ...mirror(['10.5.0.0/24'], ['10.6.0.0/24']) },
    {
      name: 'host',
      espProposals: esp,
      mode: 'transport',
      ...mirror([`${ADDR_A}/32`], [`${ADDR_B}/32`]),
    },
  ];
}

const live = (p: Peer) => established(p)[0]!.children.filter((c) => c.state === 'installed');
const byName = (cs: readonly ChildSa[]) => Object.fromEntries(cs.map((c) => [c.name, c]));
/** The peer's Child SA that pairs with ours (its outbound SPI is our inbound one). */
const peerOf = (p: Peer, c: ChildSa) => live(p).find((x) => x.spiOut === c.spiIn && x.spiIn === c.spiOut);

for (const [label, aStarts] of [
  ['A initiates', true],
  ['B initiates', false],
] as const) {
  test(`three children come up under one IKE SA, each matched to its own child (${label})`, async (t) => {
    const h = pair({ a: { children: children('a') }, b: { children: children('b') } });
    t.after(() => h.close());
    const [ini, res] = aStarts ? [h.a, h.b] : [h.b, h.a];
    ini.engine.initiate('site');
    await h.settle(0);
    // §1.3.1: the first Child SA in IKE_AUTH, "additional Child SAs ... CREATE_CHILD_SA" for the others.
    assert.equal(established(ini).length, 1);
    const mine = byName(live(ini));
    assert.deepEqual(Object.keys(mine).sort(), ['host', 'lan', 'voice']);
    assert.equal(established(ini)[0]!.children[0]!.name, 'lan', 'the first child rides in IKE_AUTH');
    for (const c of live(ini)) {
      // §2.9: the responder picked the child of the same name for each request.
      const theirs = peerOf(res, c);
      assert.ok(theirs, `the responder holds the peer of ${c.name}`);
      assert.equal(theirs.name, c.name);
      assert.notEqual(c.reqid, live(ini).find((x) => x !== c && x.reqid === c.reqid)?.reqid, 'own reqid');
    }
    assert.deepEqual(
      mine.lan!.localTs.map(formatTs).sort(),
      aStarts ? ['10.1.0.0/24', '10.3.0.0/24'] : ['10.2.0.0/24'],
    );
    assert.equal(mine.host!.mode, 'transport');
    assert.equal(mine.lan!.mode, 'tunnel');
    // Each child's own ESP proposal: voice negotiated AES-CBC, the others AES-GCM.
    assert.equal(mine.voice!.integ !== undefined, true);
    assert.equal(mine.lan!.integ, undefined);
    // 3 Child SAs: 6 kernel SAs per side.
    assert.equal(ini.kernel.saCount, 6);
    assert.equal(res.kernel.saCount, 6);
  });

  test(`each child rekeys on its own and a Delete of one leaves the others (${label})`, async (t) => {
    const h = pair({ a: { children: children('a') }, b: { children: children('b') } });
    t.after(() => h.close());
    const [ini, res] = aStarts ? [h.a, h.b] : [h.b, h.a];
    ini.engine.initiate('site');
    await h.settle(0);
    const sa = established(ini)[0]!;
    const before = byName(live(ini));
    ini.engine.rekeyChild(sa, before.lan!);
    await h.settle(10_000);
    const afterLan = byName(live(ini));
    assert.notEqual(afterLan.lan!.spiIn, before.lan!.spiIn, 'lan got new SAs');
    assert.equal(afterLan.lan!.reqid, before.lan!.reqid, 'same reqid: its policies stay (§2.8)');
    assert.equal(afterLan.voice, before.voice, 'voice untouched');
    assert.equal(afterLan.host, before.host, 'host untouched');
    assert.equal(peerOf(res, afterLan.lan!)?.name, 'lan', 'the responder rekeyed its lan child');
    // The rekey of a transport child stays transport.
    ini.engine.rekeyChild(sa, afterLan.host!);
    await h.settle(10_000);
    const afterHost = byName(live(ini));
    assert.notEqual(afterHost.host!.spiIn, before.host!.spiIn);
    assert.equal(afterHost.host!.mode, 'transport');
    assert.equal(afterHost.lan, afterLan.lan);
    // §1.4.1: deleting voice removes that pair only, on both sides.
    ini.engine.terminateChild(sa, afterHost.voice!);
    await h.settle(0);
    assert.deepEqual(
      live(ini)
        .map((c) => c.name)
        .sort(),
      ['host', 'lan'],
    );
    assert.deepEqual(
      live(res)
        .map((c) => c.name)
        .sort(),
      ['host', 'lan'],
    );
    assert.equal(ini.kernel.saCount, 4);
    assert.equal(res.kernel.saCount, 4);
    assert.equal(sa.state, 'established');
    // ... and it can be set up again on the same IKE SA.
    ini.engine.createChild('site', 'voice');
    await h.settle(0);
    assert.deepEqual(
      live(ini)
        .map((c) => c.name)
        .sort(),
      ['host', 'lan', 'voice'],
    );
  });
}

test('one Child SA per subnet pair: the initiator splits, the responder narrows each to its child', async (t) => {
  const h = pair({ a: { children: splitPerPair(children('a')) }, b: { children: children('b') } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const mine = byName(live(h.a));
  assert.deepEqual(Object.keys(mine).sort(), ['host', 'lan#1', 'lan#2', 'voice']);
  assert.deepEqual(mine['lan#1']!.localTs.map(formatTs), ['10.1.0.0/24']);
  assert.deepEqual(mine['lan#2']!.localTs.map(formatTs), ['10.3.0.0/24']);
  // B has one lan child with both pairs: both requests fit it (narrowed to what was asked).
  assert.deepEqual(
    live(h.b)
      .map((c) => c.name)
      .sort(),
    ['host', 'lan', 'lan', 'voice'],
  );
  assert.deepEqual(peerOf(h.b, mine['lan#2']!)?.remoteTs.map(formatTs), ['10.3.0.0/24']);
});

test('one Child SA per subnet pair as responder: a request with several pairs is narrowed to one', async (t) => {
  const h = pair({ a: { children: children('a') }, b: { children: splitPerPair(children('b')) } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  // §2.9: B narrows A's lan request (10.1/24 and 10.3/24) to the pair of one of its children.
  const lan = byName(live(h.a)).lan!;
  assert.equal(lan.localTs.length, 1);
  assert.equal(
    peerOf(h.b, lan)?.name,
    `lan#${lan.localTs[0] && formatTs(lan.localTs[0]) === '10.1.0.0/24' ? 1 : 2}`,
  );
});

for (const [where, order] of [
  ['IKE_AUTH', ['lan', 'voice', 'host']],
  ['CREATE_CHILD_SA', ['voice', 'lan', 'host']],
] as const)
  test(`one Child SA per subnet pair as responder: the pairs narrowed away are then requested by the responder (lan in ${where})`, async (t) => {
    // A does not split; B narrows A's two-pair lan request to one part, then asks for the other part
    // itself (A's lan child takes it, narrowed to that pair): each pair ends with its own SA pair.
    const mine = children('a');
    const h = pair({
      a: { children: order.map((n) => mine.find((c) => c.name === n)!) },
      b: { children: splitPerPair(children('b')) },
    });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const parts = live(h.b).filter((c) => c.name.startsWith('lan#'));
    assert.deepEqual(parts.map((c) => c.name).sort(), ['lan#1', 'lan#2']);
    const aLans = live(h.a).filter((c) => c.name === 'lan');
    assert.deepEqual(aLans.map((c) => c.localTs.map(formatTs).join(',')).sort(), [
      '10.1.0.0/24',
      '10.3.0.0/24',
    ]);
    for (const p of parts) assert.ok(peerOf(h.a, p), `${p.name} is paired with one of A's Child SAs`);
    // Nothing asked twice: one SA pair per pair and per other child.
    assert.equal(live(h.b).length, 4);
    assert.equal(live(h.a).length, 4);
  });

test('a request that fits no child is answered TS_UNACCEPTABLE; the other children stay', async (t) => {
  const stray: ChildConfig = {
    name: 'stray',
    espProposals: esp,
    mode: 'tunnel',
    localTs: ts('10.9.0.0/24'),
    remoteTs: ts('10.2.0.0/24'),
    start: 'wait',
  };
  const h = pair({ a: { children: [...children('a'), stray] }, b: { children: children('b') } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.deepEqual(
    live(h.a)
      .map((c) => c.name)
      .sort(),
    ['host', 'lan', 'voice'],
    'start: wait is not initiated',
  );
  h.a.engine.createChild('site', 'stray');
  await h.settle(0);
  // §2.9: "If the responder's policy does not allow it to accept any part of the proposed Traffic
  // Selectors, it responds with a TS_UNACCEPTABLE Notify message."
  const failed = h.a.events.filter((e) => e.type === 'child-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.type === 'child-failed' && failed[0]!.notify, NotifyType.TS_UNACCEPTABLE);
  assert.equal(h.b.kernel.saCount, 6, 'B made no Child SA for it');
  assert.deepEqual(
    live(h.a)
      .map((c) => c.name)
      .sort(),
    ['host', 'lan', 'voice'],
  );
  assert.equal(established(h.a)[0]!.state, 'established');
});

test('IKE_AUTH with selectors that fit no child: TS_UNACCEPTABLE, the IKE SA stays (§1.2)', async (t) => {
  const first: ChildConfig = {
    name: 'odd',
    espProposals: esp,
    mode: 'tunnel',
    localTs: ts('10.8.0.0/24'),
    remoteTs: ts('10.2.0.0/24'),
  };
  const h = pair({ a: { children: [first, ...children('a')] }, b: { children: children('b') } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const fail = h.a.events.find((e) => e.type === 'child-failed');
  assert.ok(fail && fail.type === 'child-failed');
  assert.equal(fail.notify, NotifyType.TS_UNACCEPTABLE);
  assert.deepEqual(
    live(h.a)
      .map((c) => c.name)
      .sort(),
    ['host', 'lan', 'voice'],
  );
});
