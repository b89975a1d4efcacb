// The cheap receive path: garbage is dropped and counted before any DH or decryption, never answered
// (RFC 7296 §2.21, §2.21.4); half-open limits (§2.6); INITIAL_CONTACT (§2.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, ExchangeType, HeaderFlag } from '../../src/codec/index.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const toB = { localAddr: ADDR_B, localPort: 500, remoteAddr: ADDR_A, remotePort: 500 };

test('unauthenticated garbage is dropped, counted and never answered', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const before = h.net.stats.sent;
  const c = h.b.counters;
  // 1. wrong major version (RFC 7296 §2.5)
  const init = new Uint8Array(h.net.log[0]!.data);
  const badVersion = init.slice();
  badVersion[17] = 0x30;
  h.net.inject(badVersion, toB);
  // 2. header length disagrees with the datagram
  h.net.inject(init.subarray(0, 40), toB);
  // 3. unknown SPI
  const unknown = encodeMessage({
    header: {
      spiI: new Uint8Array(8).fill(9),
      spiR: new Uint8Array(8).fill(9),
      exchangeType: ExchangeType.INFORMATIONAL,
      flags: HeaderFlag.INITIATOR,
      messageId: 1,
    },
    payloads: [{ kind: 'SK', innerFirst: 0, body: new Uint8Array(40) }],
  });
  h.net.inject(unknown, toB);
  // 4. a request on the live SA with a forged SK body (fails integrity)
  const forged = encodeMessage({
    header: {
      spiI: rsa.spiI,
      spiR: rsa.spiR,
      exchangeType: ExchangeType.INFORMATIONAL,
      flags: HeaderFlag.INITIATOR,
      messageId: 2,
    },
    payloads: [{ kind: 'SK', innerFirst: 0, body: new Uint8Array(64).fill(1) }],
  });
  h.net.inject(forged, toB);
  // 5. an IKE_AUTH request with the expected ID but a broken payload chain
  const chain = encodeMessage({
    header: {
      spiI: rsa.spiI,
      spiR: rsa.spiR,
      exchangeType: ExchangeType.IKE_AUTH,
      flags: HeaderFlag.INITIATOR,
      messageId: 1,
    },
    payloads: [{ kind: 'SK', innerFirst: 0, body: new Uint8Array(64).fill(2) }],
  });
  chain[28 + 2] = 0xff; // SK payload length beyond the message
  h.net.inject(chain, toB);
  await h.settle(0);
  assert.equal(c.get('ike.drop_bad_header'), 2);
  assert.equal(c.get('ike.drop_unknown_spi'), 1);
  assert.equal(c.get('ike.drop_malformed'), 1);
  assert.ok(
    c.get('ike.drop_decrypt_failed') +
      c.get('ike.drop_msgid_future') +
      c.get('ike.drop_unexpected_exchange') >=
      1,
  );
  assert.equal(h.net.stats.sent, before + 5); // only what we injected: nothing answered
  assert.equal(sa.state, 'established');
  assert.equal(rsa.state, 'established');
});

test('half-open limit: IKE_SA_INIT beyond it is dropped before any DH', async (t) => {
  const h = pair({ optionsB: { halfOpenLimit: 1, cookieThreshold: 100 } });
  t.after(() => h.close());
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_A && d.data[18] === ExchangeType.IKE_AUTH };
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.b.engine.halfOpenCount, 1);
  // A second initiator (new SPIi) while one is half-open.
  const init = decodeMessage(h.net.log[0]!.data);
  h.net.inject(
    encodeMessage({ header: { ...init.header, spiI: new Uint8Array(8).fill(3) }, payloads: init.payloads }),
    toB,
  );
  await h.settle(0);
  assert.equal(h.b.counters.get('ike.drop_half_open_limit'), 1);
  assert.equal(h.b.engine.sas().length, 1);
  // Half-open SAs expire (default 30 s).
  await h.settle(31_000);
  assert.equal(h.b.engine.halfOpenCount, 0);
});

test('INITIAL_CONTACT: the responder deletes older IKE SAs of the same identity', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const first = h.a.engine.initiate('site');
  await h.settle(0);
  const old = established(h.b)[0]!;
  // A "reboots": its SA vanishes without a Delete; the new one carries INITIAL_CONTACT.
  await first.destroy();
  const second = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(second.state, 'established');
  // "the receiver MAY delete other IKE SAs" -- ours does, with their Child SAs.
  assert.equal(old.state, 'destroyed');
  assert.deepEqual(
    established(h.b).map((s) => s.id),
    [established(h.b)[0]!.id],
  );
  assert.equal(h.b.engine.sas().length, 1);
  assert.equal(h.b.kernel.saCount, 2);
});

test('no INITIAL_CONTACT while another IKE SA with the peer exists', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  h.a.engine.initiate('site');
  await h.settle(0);
  // The first SA survives the second's IKE_AUTH (no silent INITIAL_CONTACT delete, RFC 7296 §2.4);
  // the uniqueness rule (src/ike/uniqueness.ts) then keeps one of the two, the same on both ends.
  assert.doesNotMatch(h.b.logger.text(), /INITIAL_CONTACT: deleting/);
  assert.match(h.b.logger.text(), /duplicate IKE SA of the same peer/);
  await h.settle(10_000);
  const [a, b] = [established(h.a), established(h.b)];
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
  assert.deepEqual(a[0]!.spiR, b[0]!.spiR);
});
