// RFC 7296 §1.3.3 / §2.8: rekeying a Child SA with CREATE_CHILD_SA (REKEY_SA), with PFS, both roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { established, pair } from './harness.ts';

const pfs = parseProposals('aes256gcm16-x25519', 'esp');

for (const [label, initiatorIsA] of [
  ['A rekeys', true],
  ['B rekeys', false],
] as const) {
  test(`Child SA rekey with PFS (${label})`, async (t) => {
    const h = pair({ a: { espProposals: pfs }, b: { espProposals: pfs } });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    const old = sa.children[0]!;
    const oldPeer = rsa.children[0]!;
    const groups: number[] = [];
    for (const p of [ini, res]) {
      const take = p.engine.pool.take.bind(p.engine.pool);
      p.engine.pool.take = (g: number) => (groups.push(g), take(g));
    }
    ini.engine.rekeyChild(sa, old);
    await h.settle(0);
    // §1.3.2/§1.3.3: "[N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr" -- a KE of the proposal's group each.
    assert.deepEqual(groups, [31, 31]);
    const child = sa.children.find((c) => c !== old)!;
    const peer = rsa.children.find((c) => c !== oldPeer)!;
    assert.ok(child && peer);
    assert.equal(child.state, 'installed');
    assert.equal(peer.spiIn, child.spiOut);
    assert.equal(peer.spiOut, child.spiIn);
    // §2.8: "create a new, equivalent SA ..., and when the new one is established, delete the old one."
    assert.equal(child.reqid, old.reqid, 'same reqid: the policies stay');
    assert.equal(peer.reqid, oldPeer.reqid);
    const key = (p: typeof ini, spi: number) => p.kernel.installed.find((x) => x.spi === spi)!.aead!.key;
    assert.deepEqual(key(ini, child.spiOut), key(res, child.spiOut));
    assert.notDeepEqual(key(ini, child.spiOut), key(ini, old.spiOut));
    assert.equal(old.successor, child);
    assert.ok(ini.events.some((e) => e.type === 'child-rekeyed' && e.old === old && e.child === child));
    assert.ok(res.events.some((e) => e.type === 'child-rekeyed' && e.old === oldPeer && e.child === peer));
    // §2.8: "a node MUST accept incoming packets through either SA" -- the old pair stays for the grace.
    assert.equal(ini.kernel.saCount, 4);
    assert.equal(res.kernel.saCount, 4);
    await h.settle(5_000);
    assert.equal(old.state, 'destroyed');
    assert.equal(oldPeer.state, 'destroyed');
    assert.ok(old.keys === undefined || old.keys.destroyed, 'keys of the old Child SA are wiped');
    for (const p of [ini, res]) {
      assert.equal(p.kernel.saCount, 2);
      const pols = await p.kernel.dumpPolicies();
      assert.deepEqual(pols.map((x) => x.dir).sort(), ['fwd', 'in', 'out'], 'the policies survive the rekey');
      assert.equal(pols[0]!.templates[0]!.reqid, child.reqid);
    }
    assert.deepEqual(sa.children, [child]);
    assert.deepEqual(rsa.children, [peer]);
  });
}

test('a Child SA rekey without PFS derives fresh keys from SK_d and the new nonces', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const old = sa.children[0]!;
  h.a.engine.rekeyChild(sa, old);
  await h.settle(6_000);
  const child = sa.children[0]!;
  assert.notEqual(child, old);
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.b.kernel.saCount, 2);
  const key = (spi: number) => h.a.kernel.installed.find((x) => x.spi === spi)!.aead!.key;
  // §2.17: "KEYMAT = prf+(SK_d, Ni | Nr)" with this exchange's nonces: new keys in both directions.
  assert.notDeepEqual(key(child.spiOut), key(old.spiOut));
  assert.notDeepEqual(key(child.spiIn), key(old.spiIn));
});

test('rekeying a Child SA the peer does not know: CHILD_SA_NOT_FOUND, the old SA is kept', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const old = sa.children[0]!;
  // B forgets the Child SA silently (as after a local flush).
  await rsa.removeChild(rsa.children[0]!);
  h.a.engine.rekeyChild(sa, old);
  await h.settle(0);
  // §2.25: "If a peer receives a request to rekey a Child SA that does not exist, it SHOULD reply
  // with CHILD_SA_NOT_FOUND." The initiator keeps what it had.
  assert.equal(h.b.counters.get('ike.error_notify_sent'), 1);
  assert.equal(old.state, 'installed');
  assert.deepEqual(sa.children, [old]);
  assert.equal(h.a.kernel.saCount, 2);
});
