// RFC 9370 (multiple key exchanges) and RFC 9242 (IKE_INTERMEDIATE) in the codec: registry numbers,
// ADDKE transforms in SA proposals, the two new exchange types and their payload rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CodecError,
  DhGroup,
  ExchangeType,
  NotifyType,
  TransformType,
  checkExchangeRules,
  decodeMessage,
  decodePayloads,
  encodeMessage,
  encodePayloads,
  ianaName,
  transformIdTable,
  type IkeMessage,
  type Payload,
} from '../../src/codec/index.ts';
import { hex } from '../vectors/codec/golden.ts';

test('IANA numbers: RFC 9242, RFC 9370 and draft-ietf-ipsecme-ikev2-mlkem', () => {
  assert.equal(ExchangeType.IKE_INTERMEDIATE, 43); // RFC 9242 §3.2
  assert.equal(ExchangeType.IKE_FOLLOWUP_KE, 44); // RFC 9370 §2.2.4
  assert.equal(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED, 16438); // RFC 9242 §3.1
  assert.equal(NotifyType.ADDITIONAL_KEY_EXCHANGE, 16441); // RFC 9370 §2.2.4
  assert.equal(NotifyType.STATE_NOT_FOUND, 47); // RFC 9370 §2.2.4
  const addke = [6, 7, 8, 9, 10, 11, 12].map((t) => ianaName(TransformType, t));
  assert.deepEqual(addke, ['ADDKE1', 'ADDKE2', 'ADDKE3', 'ADDKE4', 'ADDKE5', 'ADDKE6', 'ADDKE7']);
  // RFC 9370 §2.2.1: the ADDKE types share the Transform Type 4 registry.
  for (let t = 4; t <= 12; t++) if (t !== 5) assert.equal(transformIdTable(t), DhGroup, `type ${t}`);
  assert.equal(transformIdTable(13), undefined);
  assert.deepEqual(
    [35, 36, 37].map((id) => ianaName(DhGroup, id)),
    ['ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024'],
  );
});

/** SA payload: ENCR AES_GCM_16/256, PRF SHA2-384, KE X25519, ADDKE1 {ML-KEM-768, NONE}, ADDKE2 ML-KEM-1024. */
const SA_ADDKE = hex(`
  00 00 0040                # SA payload: next NONE, length 64
  00 00 003c 01 01 00 06    # last proposal, length 60, #1, IKE, SPI size 0, 6 transforms
  03 00 000c 01 00 0014     # ENCR AES_GCM_16
  800e 0100                 #   KEY_LENGTH 256
  03 00 0008 02 00 0006     # PRF_HMAC_SHA2_384
  03 00 0008 04 00 001f     # KE Curve25519
  03 00 0008 06 00 0024     # ADDKE1 ML_KEM_768
  03 00 0008 06 00 0000     # ADDKE1 NONE (the exchange is optional, RFC 9370 §2.2.1)
  00 00 0008 07 00 0025     # ADDKE2 ML_KEM_1024 (last transform)
`);

test('RFC 9370 §2.2.1: ADDKE transforms decode and re-encode byte for byte (golden)', () => {
  const [sa] = decodePayloads(SA_ADDKE, 33);
  assert.equal(sa?.kind, 'SA');
  if (sa?.kind !== 'SA') return;
  const ts = sa.proposals[0]!.transforms.map((t) => [ianaName(TransformType, t.type), t.id]);
  assert.deepEqual(ts, [
    ['ENCR', 20],
    ['PRF', 6],
    ['KE', DhGroup.CURVE25519],
    ['ADDKE1', DhGroup.ML_KEM_768],
    ['ADDKE1', DhGroup.NONE],
    ['ADDKE2', DhGroup.ML_KEM_1024],
  ]);
  const re = encodePayloads([sa]);
  assert.equal(re.firstType, 33);
  assert.equal(Buffer.from(re.bytes).toString('hex'), Buffer.from(SA_ADDKE).toString('hex'));
});

test('proposals with any mix of KE and ADDKE1..7 transforms round-trip (fast-check)', () => {
  const transform = fc.record({
    type: fc.constantFrom(4, 6, 7, 8, 9, 10, 11, 12),
    id: fc.constantFrom(0, 14, 19, 31, 35, 36, 37),
    attributes: fc.constant([]),
  });
  fc.assert(
    fc.property(fc.array(transform, { minLength: 1, maxLength: 14 }), (transforms) => {
      const sa: Payload = {
        kind: 'SA',
        proposals: [{ num: 1, protocolId: 1, spi: new Uint8Array(0), transforms }],
      };
      const { bytes, firstType } = encodePayloads([sa]);
      const [back] = decodePayloads(bytes, firstType);
      assert.ok(back?.kind === 'SA');
      assert.deepEqual(
        back.proposals[0]!.transforms.map((t) => [t.type, t.id]),
        transforms.map((t) => [t.type, t.id]),
      );
    }),
  );
});

/** IKE_INTERMEDIATE request: SK with KE as the first inner payload (RFC 9370 §2.2.2: HDR, SK {KEi(1)}). */
const INTERMEDIATE_REQUEST = hex(`
  0011223344556677 8899aabbccddeeff   # SPIs
  2e 20 2b 08 00000001 00000038       # next SK, 2.0, IKE_INTERMEDIATE(43), I, message ID 1, length 56
  22 00 001c                          # SK: first inner payload KE, length 28
  ${'5c'.repeat(24)}                  # IV | ciphertext | ICV
`);

test('RFC 9242 §3.2: IKE_INTERMEDIATE (43) and IKE_FOLLOWUP_KE (44) headers decode and re-encode', () => {
  const m = decodeMessage(INTERMEDIATE_REQUEST);
  assert.equal(m.header.exchangeType, ExchangeType.IKE_INTERMEDIATE);
  assert.equal(m.header.messageId, 1);
  const sk = m.payloads[0];
  assert.equal(sk?.kind, 'SK');
  const re = encodeMessage({ header: m.header, payloads: m.payloads });
  assert.equal(Buffer.from(re).toString('hex'), Buffer.from(INTERMEDIATE_REQUEST).toString('hex'));
  const followup = Uint8Array.from(INTERMEDIATE_REQUEST);
  followup[18] = 44;
  assert.equal(decodeMessage(followup).header.exchangeType, ExchangeType.IKE_FOLLOWUP_KE);
  checkExchangeRules(m); // outer: exactly one SK
});

const ke = (group: number, len: number): Payload => ({
  kind: 'KE',
  group,
  data: new Uint8Array(len).fill(7),
});
const notify = (notifyType: number, data = new Uint8Array(0)): Payload => ({
  kind: 'NOTIFY',
  protocolId: 0,
  notifyType,
  spi: new Uint8Array(0),
  data,
});
const sa: Payload = { kind: 'SA', proposals: [] };
const nonce: Payload = { kind: 'NONCE', data: new Uint8Array(32) };
const msgOf = (exchangeType: number, response: boolean): IkeMessage => {
  const m = decodeMessage(INTERMEDIATE_REQUEST);
  return { header: { ...m.header, exchangeType, flags: response ? 0x20 : 0x08 }, payloads: m.payloads };
};
function refused(m: IkeMessage, inner: Payload[]): string {
  try {
    checkExchangeRules(m, inner);
  } catch (e) {
    assert.ok(e instanceof CodecError);
    assert.equal(e.notify, NotifyType.INVALID_SYNTAX);
    return e.message;
  }
  assert.fail('expected a rule violation');
}

test('RFC 9370 §2.2.2: IKE_INTERMEDIATE carries at most one KE and nothing of IKE_AUTH', () => {
  const req = msgOf(ExchangeType.IKE_INTERMEDIATE, false);
  const resp = msgOf(ExchangeType.IKE_INTERMEDIATE, true);
  checkExchangeRules(req, [ke(DhGroup.ML_KEM_768, 1184)]);
  checkExchangeRules(resp, [ke(DhGroup.ML_KEM_768, 1088)]);
  checkExchangeRules(req, [notify(NotifyType.USE_PPK_INT)]); // other RFC 9242 users: no KE
  checkExchangeRules(resp, [notify(NotifyType.INVALID_SYNTAX)]); // bare error answer
  assert.match(
    refused(req, [ke(36, 1184), ke(37, 1568)]),
    /more than 1 KE payload in IKE_INTERMEDIATE request/,
  );
  assert.match(refused(req, [ke(36, 1184), sa]), /SA payload not allowed in IKE_INTERMEDIATE request/);
  assert.match(refused(resp, [nonce]), /NONCE payload not allowed in IKE_INTERMEDIATE response/);
});

test('RFC 9370 §2.2.4: IKE_FOLLOWUP_KE needs KE, and the request the ADDITIONAL_KEY_EXCHANGE link', () => {
  const req = msgOf(ExchangeType.IKE_FOLLOWUP_KE, false);
  const resp = msgOf(ExchangeType.IKE_FOLLOWUP_KE, true);
  const link = (n: number) => notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, Uint8Array.of(n));
  checkExchangeRules(req, [ke(36, 1184), link(1)]);
  checkExchangeRules(resp, [ke(36, 1088), link(2)]);
  checkExchangeRules(resp, [ke(36, 1088)]); // the last follow-up response has no link
  checkExchangeRules(resp, [notify(NotifyType.STATE_NOT_FOUND)]); // responder lost the state
  assert.match(
    refused(req, [ke(36, 1184)]),
    /ADDITIONAL_KEY_EXCHANGE notify missing in IKE_FOLLOWUP_KE request/,
  );
  assert.match(refused(req, [ke(36, 1184), link(1), link(2)]), /more than 1 ADDITIONAL_KEY_EXCHANGE/);
  assert.match(refused(req, [link(1)]), /KE payload missing in IKE_FOLLOWUP_KE request/);
  assert.match(refused(resp, [link(2)]), /KE payload missing in IKE_FOLLOWUP_KE response/);
  assert.match(refused(resp, [ke(36, 1088), link(2), link(3)]), /more than 1 ADDITIONAL_KEY_EXCHANGE/);
  // A CREATE_CHILD_SA response announces the follow-ups with one link notify, not two.
  const ccsa = msgOf(ExchangeType.CREATE_CHILD_SA, true);
  const child = [sa, nonce, ke(31, 32)];
  checkExchangeRules(ccsa, [...child, link(1)]);
  assert.match(refused(ccsa, [...child, link(1), link(2)]), /more than 1 ADDITIONAL_KEY_EXCHANGE/);
});
