// RFC 7296 §1.3.1: an additional Child SA with CREATE_CHILD_SA, both roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { established, pair } from './harness.ts';

for (const [label, initiatorIsA] of [
  ['A asks', true],
  ['B asks', false],
] as const) {
  test(`an additional Child SA on an established IKE SA (${label})`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.createChild('site');
    await h.settle(0);
    const rsa = established(res)[0]!;
    // §1.3.1: "A Child SA may be created by sending a CREATE_CHILD_SA request." Each side now holds
    // two Child SAs under the one IKE SA, four kernel SAs each.
    assert.equal(sa.children.length, 2);
    assert.equal(rsa.children.length, 2);
    assert.equal(ini.kernel.saCount, 4);
    assert.equal(res.kernel.saCount, 4);
    const [, second] = sa.children;
    const peer = rsa.children.find((c) => c.spiOut === second!.spiIn);
    assert.ok(peer, 'the responder sends on the SPI we receive on');
    assert.equal(peer.spiIn, second!.spiOut);
    // §2.17: KEYMAT from this exchange's nonces: new keys, crosswise equal.
    const params = (p: typeof ini, spi: number) => p.kernel.installed.find((x) => x.spi === spi)!;
    assert.deepEqual(params(ini, second!.spiOut).aead?.key, params(res, second!.spiOut).aead?.key);
    assert.notDeepEqual(params(ini, second!.spiOut).aead?.key, params(ini, sa.children[0]!.spiOut).aead?.key);
    assert.ok(second!.reqid !== sa.children[0]!.reqid, 'a separate Child SA gets its own reqid');
    assert.equal(ini.events.filter((e) => e.type === 'child-installed').length, 2);
  });
}

test('CREATE_CHILD_SA with selectors outside policy is refused; the IKE SA stays', async (t) => {
  const h = pair({ b: { remoteTs: [tsFromCidr('192.0.2.0/26')], localTs: [tsFromCidr('198.51.100.0/24')] } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.children.length, 1); // narrowed to /26 in IKE_AUTH
  const before = h.a.kernel.saCount;
  // A new policy on A wider than B accepts: B narrows it; a disjoint one is refused.
  h.a.engine.removeConnection('site');
  h.a.engine.addConnection({ ...h.a.conn, localTs: [tsFromCidr('192.0.2.200/32')] });
  sa.config = h.a.engine.connection('site')!;
  h.a.engine.createChild('site');
  await h.settle(0);
  // §2.9: "If the responder's policy does not allow it to accept any part of the proposed Traffic
  // Selectors, it responds with a TS_UNACCEPTABLE Notify message."
  assert.equal(sa.state, 'established');
  assert.equal(sa.children.length, 1);
  assert.equal(h.a.kernel.saCount, before, 'the larval SA of the refused Child SA is released');
  assert.ok(h.a.events.some((e) => e.type === 'child-failed'));
});

test('ESP proposals with a KE group: the additional Child SA runs a key exchange (PFS)', async (t) => {
  const esp = parseProposals('aes256gcm16-x25519', 'esp');
  const h = pair({ a: { espProposals: esp }, b: { espProposals: esp } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const groups: number[] = [];
  for (const p of [h.a, h.b]) {
    const take = p.engine.pool.take.bind(p.engine.pool);
    p.engine.pool.take = (g: number) => (groups.push(g), take(g));
  }
  const sa = h.a.engine.createChild('site');
  await h.settle(0);
  assert.equal(sa.children.length, 2);
  assert.equal(h.b.kernel.saCount, 4);
  // §1.3.1: "[KEi]" -- with a KE transform both sides generate a key pair of that group (31 = x25519).
  assert.deepEqual(groups, [31, 31]);
});
