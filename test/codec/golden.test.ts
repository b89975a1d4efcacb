// Golden messages from the RFC 7296 §3 diagrams (test/vectors/codec/golden.ts): decode every
// field, build the same bytes from scratch, and check precise errors on malformed variants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecError,
  CodecErrorCode,
  DhGroup,
  EncrId,
  ExchangeType,
  NotifyType,
  PayloadType,
  ProtocolId,
  decodeMessage,
  decodePayloads,
  encodeMessage,
  encodePayloads,
  keyLength,
  type Payload,
} from '../../src/codec/index.ts';
import * as g from '../vectors/codec/golden.ts';

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
const only = <K extends Payload['kind']>(ps: readonly Payload[], kind: K) =>
  ps.filter((p): p is Payload & { kind: K } => p.kind === kind);

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a CodecError');
}

test('RFC 7296 §3.1/§3.3: IKE_SA_INIT golden decodes header, two proposals and key lengths', () => {
  const m = decodeMessage(g.SA_INIT_REQUEST);
  assert.equal(m.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.equal(m.header.length, 212);
  assert.equal(m.header.flags, 0x08);
  assert.equal(Buffer.from(m.header.spiI).toString('hex'), '0011223344556677');
  assert.deepEqual(
    m.payloads.map((p) => p.kind),
    ['SA', 'KE', 'NONCE', 'NOTIFY', 'VENDOR_ID'],
  );
  const [sa] = only(m.payloads, 'SA');
  assert.ok(sa);
  assert.equal(sa.proposals.length, 2);
  const [p1, p2] = sa.proposals;
  assert.ok(p1 && p2);
  assert.deepEqual([p1.num, p2.num, p1.protocolId], [1, 2, ProtocolId.IKE]);
  assert.equal(p1.transforms[0]?.id, EncrId.AES_CBC);
  assert.equal(keyLength(p1.transforms[0]!), 128);
  assert.equal(p2.transforms[0]?.id, EncrId.AES_GCM_16);
  assert.equal(keyLength(p2.transforms[0]!), 256);
  assert.equal(p2.transforms[2]?.id, DhGroup.CURVE25519);
  const [ke] = only(m.payloads, 'KE');
  assert.equal(ke?.group, DhGroup.CURVE25519);
  assert.equal(ke?.data.length, 32);
  const [n] = only(m.payloads, 'NOTIFY');
  assert.equal(n?.notifyType, NotifyType.NAT_DETECTION_SOURCE_IP);
  assert.equal(n?.data.length, 20);
});

test('the encoder builds the IKE_SA_INIT golden from scratch (lengths, chaining, last markers)', () => {
  const aes = (id: number, bits: number) => ({
    type: 1,
    id,
    attributes: [{ format: 'TV' as const, type: 14, value: bits }],
  });
  const built = encodeMessage({
    header: {
      spiI: g.hex('0011223344556677'),
      spiR: new Uint8Array(8),
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: 0x08,
      messageId: 0,
    },
    payloads: [
      {
        kind: 'SA',
        proposals: [
          {
            num: 1,
            protocolId: 1,
            spi: new Uint8Array(0),
            transforms: [
              aes(12, 128),
              { type: 2, id: 5, attributes: [] },
              { type: 4, id: 19, attributes: [] },
            ],
          },
          {
            num: 2,
            protocolId: 1,
            spi: new Uint8Array(0),
            transforms: [
              aes(20, 256),
              { type: 2, id: 7, attributes: [] },
              { type: 4, id: 31, attributes: [] },
            ],
          },
        ],
      },
      { kind: 'KE', group: 31, data: bytes(32, 0x42) },
      { kind: 'NONCE', data: bytes(16, 0x5a) },
      { kind: 'NOTIFY', protocolId: 0, notifyType: 16388, spi: new Uint8Array(0), data: bytes(20, 0xc3) },
      { kind: 'VENDOR_ID', data: bytes(16, 0xf0) },
    ],
  });
  assert.equal(Buffer.from(built).toString('hex'), Buffer.from(g.SA_INIT_REQUEST).toString('hex'));
});

test('RFC 7296 §3.5-§3.15: IKE_AUTH inner chain decodes ID, CERTREQ, AUTH, CP, ESP SA and TS v4/v6', () => {
  const ps = decodePayloads(g.AUTH_INNER, g.AUTH_INNER_FIRST);
  const [id] = only(ps, 'IDi');
  assert.equal(Buffer.from(id!.data).toString(), 'example.com');
  const [cp] = only(ps, 'CP');
  assert.deepEqual(
    cp?.attributes.map((a) => a.type),
    [1, 8],
  );
  const [sa] = only(ps, 'SA');
  assert.equal(Buffer.from(sa!.proposals[0]!.spi).toString('hex'), 'c0ffee01');
  assert.equal(sa!.proposals[0]!.protocolId, ProtocolId.ESP);
  const [tsi] = only(ps, 'TSi');
  const [tsr] = only(ps, 'TSr');
  const v4 = tsi!.selectors[0]!;
  const v6 = tsr!.selectors[0]!;
  assert.ok('startAddr' in v4 && 'startAddr' in v6);
  assert.equal(Buffer.from(v4.endAddr).toString('hex'), 'c00002ff');
  assert.deepEqual([v6.ipProtocol, v6.startPort, v6.endPort, v6.startAddr.length], [6, 443, 443, 16]);
  assert.equal(only(ps, 'NOTIFY')[0]?.notifyType, NotifyType.INITIAL_CONTACT);
});

test('Delete, EAP and unknown non-critical payload chains decode and re-encode identically', () => {
  for (const c of g.GOLDEN_CHAINS) {
    const ps = decodePayloads(c.bytes, c.first);
    const { firstType, bytes: out } = encodePayloads(ps);
    assert.equal(firstType, c.first, c.name);
    assert.deepEqual(out, c.bytes, c.name);
  }
  const [esp, ike] = only(decodePayloads(g.DELETE_INNER, g.DELETE_INNER_FIRST), 'DELETE');
  assert.equal(esp?.spis.length, 2);
  assert.deepEqual([ike?.protocolId, ike?.spiSize, ike?.spis.length], [1, 0, 0]);
  const unknown = decodePayloads(g.EAP_INNER, g.EAP_INNER_FIRST)[1];
  assert.equal(unknown?.kind === 'UNKNOWN' && unknown.type, 200);
});

test('RFC 7296 §3.14 / RFC 7383 §2.5: SK and SKF keep the body opaque and record the inner type', () => {
  const sk = decodeMessage(g.SK_MESSAGE).payloads[0];
  assert.ok(sk?.kind === 'SK');
  assert.deepEqual([sk.innerFirst, sk.body.length], [PayloadType.IDi, 24]);
  const skf = decodeMessage(g.SKF_MESSAGE).payloads[0];
  assert.ok(skf?.kind === 'SKF');
  assert.deepEqual([skf.innerFirst, skf.fragmentNumber, skf.totalFragments, skf.body.length], [36, 1, 3, 16]);
  for (const m of Object.values(g.GOLDEN_MESSAGES)) assert.deepEqual(encodeMessage(decodeMessage(m)), m);
});

test('a payload length below the generic header is INVALID_SYNTAX at the payload offset', () => {
  const bad = g.SA_INIT_REQUEST.slice();
  bad[31] = 3; // SA payload length (offset 30..31) := 3
  const e = codecError(() => decodeMessage(bad));
  assert.equal(e.message, 'offset 28: payload length 3 shorter than the generic header (4)');
  assert.equal(e.notify, NotifyType.INVALID_SYNTAX);
  assert.equal(e.offset, 28);
});

test('RFC 7296 §2.5: a higher major version is answered with INVALID_MAJOR_VERSION', () => {
  const bad = g.SA_INIT_REQUEST.slice();
  bad[17] = 0x30;
  const e = codecError(() => decodeMessage(bad));
  assert.deepEqual(
    [e.code, e.notify, e.offset],
    [CodecErrorCode.BAD_MAJOR_VERSION, NotifyType.INVALID_MAJOR_VERSION, 17],
  );
});

test('RFC 7296 §2.5: an unknown critical payload is UNSUPPORTED_CRITICAL_PAYLOAD with the type as data', () => {
  const chain = g.EAP_INNER.slice();
  chain[10] = 0x80; // critical bit of the unknown payload (starts at 9)
  const e = codecError(() => decodePayloads(chain, g.EAP_INNER_FIRST, 100));
  assert.deepEqual([e.code, e.notify, e.offset], [CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD, 1, 109]);
  assert.deepEqual([...e.notifyData], [200]);
  const kept = decodePayloads(chain, g.EAP_INNER_FIRST, 0, { rejectUnknownCritical: false });
  assert.deepEqual(encodePayloads(kept).bytes, chain);
});

test('structural errors name the field: proposal markers, transform counts, TS and Delete sizes', () => {
  const cases: [Uint8Array, number, number, RegExp][] = [
    [g.SA_INIT_REQUEST, 32, 0, /offset 32: last proposal is marked|proposal marked last but more follow/],
    [g.SA_INIT_REQUEST, 39, 4, /offset 39: proposal says 4 transforms, found 3/],
    [g.SA_INIT_REQUEST, 40, 2, /transform .*marked "more"|neither 0 nor 3/],
  ];
  for (const [msg, at, value, re] of cases) {
    const bad = msg.slice();
    bad[at] = value;
    assert.match(codecError(() => decodeMessage(bad)).message, re);
  }
  const del = g.DELETE_INNER.slice();
  del[7] = 3; // 3 SPIs of 4 bytes announced, 8 bytes present
  assert.match(codecError(() => decodePayloads(del, 42)).message, /offset 6: 3 SPIs of 4 bytes/);
  const ts = g.AUTH_INNER.slice();
  ts[140] = 2; // TSi "Number of TSs" (TSi payload starts at 136)
  assert.match(
    codecError(() => decodePayloads(ts, 35)).message,
    /offset 140: TS payload says 2 selectors, found 1/,
  );
});

test('header length must match the datagram; bytes after the chain are refused', () => {
  const longer = new Uint8Array(g.SA_INIT_REQUEST.length + 1);
  longer.set(g.SA_INIT_REQUEST);
  assert.equal(codecError(() => decodeMessage(longer)).code, CodecErrorCode.TRAILING_DATA);
  assert.match(
    codecError(() => decodeMessage(g.SA_INIT_REQUEST.subarray(0, 100))).message,
    /offset 24: message length 212 exceeds the 100 bytes/,
  );
  assert.match(
    codecError(() => decodeMessage(g.SA_INIT_REQUEST.subarray(0, 20))).message,
    /offset 0: IKE header needs 28 bytes, only 20 left/,
  );
});

test('the encoder refuses values that do not fit their fields', () => {
  const header = {
    spiI: new Uint8Array(8),
    spiR: new Uint8Array(8),
    exchangeType: 34,
    flags: 0,
    messageId: 0,
  };
  const e = codecError(() =>
    encodeMessage({ header, payloads: [{ kind: 'KE', group: 70000, data: new Uint8Array(0) }] }),
  );
  assert.equal(e.code, CodecErrorCode.ENCODE);
  assert.match(e.message, /KE method 70000/);
  assert.match(
    codecError(() => encodeMessage({ header: { ...header, spiI: new Uint8Array(4) }, payloads: [] })).message,
    /initiator's SPI must be 8 bytes/,
  );
  assert.match(
    codecError(() =>
      encodeMessage({
        header,
        payloads: [
          { kind: 'SK', innerFirst: 35, body: new Uint8Array(0) },
          { kind: 'NONCE', data: new Uint8Array(16) },
        ],
      }),
    ).message,
    /SK must be the last payload/,
  );
});
