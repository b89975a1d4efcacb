// RFC 7296 §1.3 / §3.10.1: INVALID_KE_PAYLOAD in answer to CREATE_CHILD_SA (a Child SA with PFS, a
// Child rekey, an IKE rekey): the initiator retries once with the group the responder asked for, as a
// new request (the refused exchange is complete). A second refusal fails the exchange, not the IKE SA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, DhGroup, ExchangeType, HeaderFlag } from '../../src/codec/index.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { established, pair, type Peer } from './harness.ts';

const offers = parseProposals('aes256gcm16-x25519-ecp256', 'esp');
const wantsEcp = parseProposals('aes256gcm16-ecp256', 'esp');
const wantsX25519 = parseProposals('aes256gcm16-x25519', 'esp');

type Pair = ReturnType<typeof pair>;

/** Message IDs of the CREATE_CHILD_SA requests (clear header) sent by `from`. */
const createChildRequests = (h: Pair, from: Peer) =>
  h.net.log
    .filter((d) => d.srcAddr === from.conn.localAddr)
    .map((d) => decodeMessage(d.data).header)
    .filter((x) => x.exchangeType === ExchangeType.CREATE_CHILD_SA && !(x.flags & HeaderFlag.RESPONSE))
    .map((x) => x.messageId);

/** Records the KE groups each engine takes from its pool. */
function recordGroups(p: Peer): number[] {
  const groups: number[] = [];
  const take = p.engine.pool.take.bind(p.engine.pool);
  p.engine.pool.take = (g: number) => (groups.push(g), take(g));
  return groups;
}

const outKey = (p: Peer, spi: number) => p.kernel.installed.find((x) => x.spi === spi)?.aead?.key;

for (const kind of ['new Child SA', 'Child rekey'] as const) {
  for (const initiatorIsA of [true, false]) {
    test(`${kind} with PFS: INVALID_KE_PAYLOAD -> one retry with the wanted group (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
      const h = initiatorIsA
        ? pair({ a: { espProposals: offers }, b: { espProposals: wantsEcp } })
        : pair({ b: { espProposals: offers }, a: { espProposals: wantsEcp } });
      t.after(() => h.close());
      const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
      h.a.engine.initiate('site');
      await h.settle(0);
      const sa = established(ini)[0]!;
      const old = sa.children[0]!;
      const [gi, gr] = [recordGroups(ini), recordGroups(res)];
      if (kind === 'new Child SA') ini.engine.createChild('site');
      else ini.engine.rekeyChild(sa, old);
      await h.settle(0);
      // "the responder will indicate the correct group in the response and the initiator SHOULD pick
      // an element of that group" -- x25519 first (our preference), then ECP-256 once.
      assert.deepEqual(gi, [DhGroup.CURVE25519, DhGroup.ECP_256]);
      assert.deepEqual(gr, [DhGroup.ECP_256]);
      assert.equal(res.counters.get('ike.invalid_ke_sent'), 1);
      const ids = createChildRequests(h, ini);
      assert.equal(ids.length, 2);
      assert.equal(ids[1], ids[0]! + 1, 'the retry is a new request');
      const child = sa.children.find((c) => c !== old)!;
      assert.equal(child.state, 'installed');
      const peer = established(res)[0]!.children.find((c) => c.spiIn === child.spiOut)!;
      assert.ok(peer, 'the responder holds the pair');
      assert.deepEqual(outKey(ini, child.spiOut), outKey(res, child.spiOut), 'same KEYMAT (same g^ir)');
      if (kind === 'Child rekey') {
        await h.settle(10_000);
        assert.equal(old.state, 'destroyed');
        assert.deepEqual(sa.children, [child]);
      } else {
        assert.equal(sa.children.length, 2);
      }
      for (const p of [ini, res]) assert.equal(p.kernel.saCount, kind === 'Child rekey' ? 2 : 4, p.name);
    });
  }
}

test('a second INVALID_KE_PAYLOAD fails the Child SA, not the IKE SA (one retry only)', async (t) => {
  const h = pair({ a: { espProposals: offers }, b: { espProposals: wantsEcp } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  // After its first refusal the responder changes its mind (a reload): it now wants x25519.
  h.net.faults = {
    drop: (d) => {
      if (d.srcAddr === h.b.conn.localAddr && h.b.counters.get('ike.invalid_ke_sent') === 1)
        rsa.config = { ...rsa.config, espProposals: wantsX25519 };
      return false;
    },
  };
  h.a.engine.createChild('site');
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.invalid_ke_sent'), 2);
  assert.equal(createChildRequests(h, h.a).length, 2, 'bounded: no third request');
  assert.ok(h.a.events.some((e) => e.type === 'child-failed'));
  assert.equal(established(h.a).length, 1);
  for (const p of [h.a, h.b]) assert.equal(p.kernel.saCount, 2, p.name);
});

for (const initiatorIsA of [true, false]) {
  test(`IKE rekey: INVALID_KE_PAYLOAD -> retry with the wanted group (${initiatorIsA ? 'A' : 'B'} rekeys)`, async (t) => {
    const both = parseProposals('aes256gcm16-prfsha256-x25519-ecp256', 'ike');
    const h = pair({ a: { ikeProposals: both }, b: { ikeProposals: both } });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    assert.equal(sa.keGroup, DhGroup.CURVE25519);
    // The responder's policy now wants ECP-256 only (e.g. after a reload).
    rsa.config = { ...rsa.config, ikeProposals: parseProposals('aes256gcm16-prfsha256-ecp256', 'ike') };
    const gi = recordGroups(ini);
    ini.engine.rekeyIke(sa);
    await h.settle(0);
    assert.deepEqual(gi, [DhGroup.CURVE25519, DhGroup.ECP_256]);
    assert.equal(res.counters.get('ike.invalid_ke_sent'), 1);
    assert.equal(sa.state, 'destroyed', 'the old IKE SA was deleted after the rekey');
    const [n, m] = [established(ini), established(res)];
    assert.equal(n.length, 1);
    assert.equal(m.length, 1);
    assert.equal(n[0]!.keGroup, DhGroup.ECP_256);
    assert.equal(m[0]!.keGroup, DhGroup.ECP_256);
    assert.equal(n[0]!.children.length, 1, 'the Child SA moved to the new IKE SA');
    // The new IKE SA works: a liveness check is answered.
    ini.engine.lifecycle.checkLiveness(n[0]!);
    await h.settle(0);
    assert.equal(established(ini).length, 1);
  });
}
