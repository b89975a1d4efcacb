// Real strongSwan 5.9.8 exchanges (test/vectors/strongswan/*.json, captured by the lab engineer):
// every message decodes, re-encodes byte for byte and passes the exchange rules on its outer part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { strongswanMessages } from './strongswan-vectors.ts';
import { ExchangeType, checkExchangeRules, decodeMessage, encodeMessage } from '../../src/codec/index.ts';

test('every captured strongSwan message decodes and re-encodes identically', () => {
  const msgs = strongswanMessages();
  assert.ok(msgs.length >= 12, `only ${msgs.length} vectors`);
  for (const m of msgs) {
    const d = decodeMessage(m.bytes);
    assert.equal(ExchangeType[m.exchange as keyof typeof ExchangeType], d.header.exchangeType, m.file);
    assert.deepEqual(encodeMessage(d), m.bytes, `${m.file} ${m.exchange}`);
    checkExchangeRules(d);
  }
});

test('strongSwan IKE_SA_INIT carries SA, KE, Nonce and the NAT-D / fragmentation notifies', () => {
  const init = strongswanMessages().find((m) => m.exchange === 'IKE_SA_INIT');
  assert.ok(init);
  const d = decodeMessage(init.bytes);
  const kinds = d.payloads.map((p) => p.kind);
  assert.deepEqual(kinds.slice(0, 3), ['SA', 'KE', 'NONCE']);
  const notifies = d.payloads.flatMap((p) => (p.kind === 'NOTIFY' ? [p.notifyType] : []));
  assert.ok(
    notifies.includes(16388) && notifies.includes(16389) && notifies.includes(16430),
    String(notifies),
  );
});
