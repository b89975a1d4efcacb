// RFC 7296 §2.6: stateless cookies above the half-open threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, NotifyType } from '../../src/codec/index.ts';
import { CookieJar } from '../../src/ike/cookie.ts';
import { notify } from '../../src/ike/wire.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

for (const initiatorIsA of [true, false]) {
  test(`COOKIE requested and returned (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const opts = { cookieThreshold: 0 };
    const h = pair(initiatorIsA ? { optionsB: opts } : { optionsA: opts });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    const msgs = h.net.log.map((d) => decodeMessage(d.data));
    // "the responder ... MAY reject the initial message ... and instead send a response containing a
    // new cookie" -- and keeps no state for it.
    const reply = msgs[1]!;
    assert.equal(reply.payloads.length, 1);
    assert.equal(reply.payloads[0]?.kind === 'NOTIFY' && reply.payloads[0].notifyType, NotifyType.COOKIE);
    assert.ok(reply.header.spiR.every((b) => b === 0));
    // "the initiator ... MUST retry the IKE_SA_INIT with a Notify payload of type COOKIE containing
    // the responder-supplied cookie data as the first payload and all other payloads unchanged."
    const retry = msgs[2]!;
    const first = retry.payloads[0];
    assert.equal(first?.kind === 'NOTIFY' && first.notifyType, NotifyType.COOKIE);
    assert.deepEqual(
      first?.kind === 'NOTIFY' && first.data,
      reply.payloads[0]?.kind === 'NOTIFY' && reply.payloads[0].data,
    );
    const nonce = (i: number) => msgs[i]!.payloads.find((p) => p.kind === 'NONCE');
    assert.deepEqual(nonce(2), nonce(0));
    assert.equal(res.counters.get('ike.cookie_sent'), 1);
    assert.equal(sa.state, 'established');
    assert.equal(established(res).length, 1);
  });
}

test('a forged COOKIE is dropped and counted, never answered', async (t) => {
  const h = pair({ optionsB: { cookieThreshold: 0 } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(established(h.b).length, 1);
  // Replay A's first IKE_SA_INIT with a new SPIi and a cookie B never made.
  const first = decodeMessage(h.net.log[0]!.data);
  const forged = encodeMessage({
    header: { ...first.header, spiI: Uint8Array.from({ length: 8 }, (_, i) => i + 1) },
    payloads: [notify(NotifyType.COOKIE, new Uint8Array(36).fill(7)), ...first.payloads],
  });
  const sent = h.net.stats.sent;
  h.net.inject(forged, { localAddr: ADDR_B, localPort: 500, remoteAddr: ADDR_A, remotePort: 500 });
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.drop_bad_cookie'), 1);
  assert.equal(h.net.stats.sent, sent + 1); // only the injected datagram: no answer
  assert.equal(h.b.engine.sas().length, 1);
});

test('CookieJar: a cookie survives one secret rotation and expires after the second', () => {
  let now = 0;
  let n = 0;
  const jar = new CookieJar(
    () => now,
    (len) => new Uint8Array(len).fill(++n),
    1000,
  );
  const ni = new Uint8Array(32).fill(1);
  const spi = new Uint8Array(8).fill(2);
  const c = jar.make(ni, '192.0.2.1', spi);
  assert.ok(jar.verify(c, ni, '192.0.2.1', spi));
  assert.ok(!jar.verify(c, ni, '192.0.2.9', spi)); // bound to IPi
  assert.ok(!jar.verify(c, new Uint8Array(32), '192.0.2.1', spi)); // bound to Ni
  now = 1500;
  assert.ok(jar.verify(c, ni, '192.0.2.1', spi)); // previous secret still accepted
  now = 2600;
  assert.ok(!jar.verify(c, ni, '192.0.2.1', spi));
});
