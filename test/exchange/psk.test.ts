// RFC 7296 §1.2: IKE_SA_INIT + IKE_AUTH with a pre-shared key and the first Child SA, both roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair, type Peer } from './harness.ts';

function childParams(p: Peer) {
  return p.kernel.installed;
}

for (const [label, initiatorIsA] of [
  ['A initiates', true],
  ['B initiates', false],
] as const) {
  test(`PSK establishment with the first Child SA (${label})`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);

    // RFC 7296 §1.2: "the IKE_AUTH exchange ... authenticates the previous messages ... and
    // establishes an SA for the first (and often only) AH or ESP Child SA."
    assert.equal(sa.state, 'established');
    assert.equal(established(ini).length, 1);
    assert.equal(established(res).length, 1);
    const rsa = established(res)[0]!;
    assert.deepEqual(rsa.spiI, sa.spiI);
    assert.deepEqual(rsa.spiR, sa.spiR);
    assert.equal(sa.children.length, 1);
    assert.equal(rsa.children.length, 1);

    // Inbound SA installed first (completing allocSpi's larval SA), then outbound (kernel order).
    const [iIn, iOut] = childParams(ini);
    const [rIn, rOut] = childParams(res);
    assert.ok(iIn && iOut && rIn && rOut);
    assert.equal(iIn.dst, ini.conn.localAddr);
    assert.equal(iOut.dst, ini.conn.remoteAddr);
    // RFC 7296 §2.17: each side's outbound SA is the other's inbound SA: same SPI, same keys.
    assert.equal(iOut.spi, rIn.spi);
    assert.equal(rOut.spi, iIn.spi);
    assert.deepEqual(iOut.aead?.key, rIn.aead?.key);
    assert.deepEqual(rOut.aead?.key, iIn.aead?.key);
    assert.notDeepEqual(iOut.aead?.key, iIn.aead?.key);
    assert.equal(iIn.aead?.name, 'rfc4106(gcm(aes))');
    assert.equal(iIn.aead?.key.length, 36); // 256-bit key + 4-octet salt (RFC 4106 §8.1)
    assert.equal(iIn.reqid, iOut.reqid);
    assert.equal(iIn.mode, 'tunnel');
    assert.equal(iIn.encap, undefined);
    // Soft lifetime: the rekey time minus the jitter, at most 10% of the 600 s margin (jitter.ts).
    const soft = iIn.lifetime?.soft?.seconds ?? 0;
    assert.ok(soft <= 3000 && soft >= 2940, `soft ${soft}`);
    assert.deepEqual(iIn.lifetime?.hard, { seconds: 3600 });

    // Policies out, in, fwd with the same reqid in the template (tunnel mode).
    for (const p of [ini, res]) {
      const pols = await p.kernel.dumpPolicies();
      assert.deepEqual(pols.map((x) => x.dir).sort(), ['fwd', 'in', 'out']);
      const out = pols.find((x) => x.dir === 'out')!;
      assert.equal(
        out.selector.src,
        p.conn.localTs.length && (p === h.a ? '192.0.2.0/25' : '198.51.100.0/24'),
      );
      assert.equal(out.templates[0]?.reqid, p.kernel.installed[0]!.reqid);
      assert.equal(out.templates[0]?.dst, p.conn.remoteAddr);
    }
    // Once both SAs are in the kernel, the daemon's copy of the Child SA keys is wiped and let go.
    for (const p of [ini, res]) {
      const child = p.engine.sas()[0]!.children[0]!;
      assert.equal(child.state, 'installed');
      assert.equal(child.keys, undefined, 'no Child SA keys kept after install');
    }
    // Four messages, no retransmissions.
    assert.equal(h.net.stats.sent, 4);
    assert.equal(ini.counters.get('ike.retransmit_sent'), 0);
    // Nothing secret logged: the PSK never appears.
    assert.ok(!ini.logger.text().includes('shared secret'));
  });
}

test('destroying the IKE SA removes its Child SA from the kernel and wipes keys', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const keys = sa.keymat!.keys;
  await sa.destroy();
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.a.kernel.policyCount, 0);
  assert.ok(keys.destroyed);
  assert.ok(keys.skD.every((b) => b === 0));
  assert.equal(h.a.engine.findBySpi(sa.spiI), undefined);
});
