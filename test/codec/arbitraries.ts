// fast-check arbitraries for well-formed IKEv2 messages: every optional raw field (flags,
// reserved octets) is generated so decode(encode(m)) can be compared with m field by field.
import fc from 'fast-check';
import { isKnownPayloadType, type IkeMessageInit, type Payload } from '../../src/codec/index.ts';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u24 = fc.integer({ min: 0, max: 0xffffff });
const flags = u8.map((f) => f & 0x7f); // known payloads: any reserved bits, critical bit ignored

const attribute = fc.oneof(
  fc.record({ format: fc.constant('TV' as const), type: fc.integer({ min: 0, max: 0x7fff }), value: u16 }),
  fc.record({
    format: fc.constant('TLV' as const),
    type: fc.integer({ min: 0, max: 0x7fff }),
    data: bytes(0, 12),
  }),
);
const transform = fc.record({
  type: u8,
  id: u16,
  attributes: fc.array(attribute, { maxLength: 3 }),
  reserved1: u8,
  reserved2: u8,
});
const proposal = fc.record({
  num: u8,
  protocolId: u8,
  spi: bytes(0, 8),
  transforms: fc.array(transform, { maxLength: 5 }),
  reserved: u8,
});
const v4 = fc.record({
  tsType: fc.constant(7 as const),
  ipProtocol: u8,
  startPort: u16,
  endPort: u16,
  startAddr: bytes(4, 4),
  endAddr: bytes(4, 4),
});
const v6 = fc.record({
  tsType: fc.constant(8 as const),
  ipProtocol: u8,
  startPort: u16,
  endPort: u16,
  startAddr: bytes(16, 16),
  endAddr: bytes(16, 16),
});
const otherTs = fc.record({ tsType: u8.filter((t) => t !== 7 && t !== 8), byte1: u8, data: bytes(0, 12) });
const eapMessage = fc
  .tuple(u8, u8, bytes(0, 20))
  .map(([code, id, rest]) =>
    Uint8Array.from([code, id, (rest.length + 4) >> 8, (rest.length + 4) & 0xff, ...rest]),
  );
const deletePayload = fc.integer({ min: 0, max: 8 }).chain((spiSize) =>
  fc.record({
    kind: fc.constant('DELETE' as const),
    flags,
    protocolId: u8,
    spiSize: fc.constant(spiSize),
    spis: fc.array(bytes(spiSize, spiSize), { maxLength: spiSize === 0 ? 0 : 4 }),
  }),
);

/** Any payload except SK/SKF (which must come last). */
export const plainPayload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({
    kind: fc.constant('SA' as const),
    flags,
    proposals: fc.array(proposal, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('KE' as const), flags, group: u16, data: bytes(0, 64), reserved: u16 }),
  fc.record({
    kind: fc.constantFrom('IDi' as const, 'IDr' as const),
    flags,
    idType: u8,
    data: bytes(0, 32),
    reserved: u24,
  }),
  fc.record({
    kind: fc.constantFrom('CERT' as const, 'CERTREQ' as const),
    flags,
    encoding: u8,
    data: bytes(0, 40),
  }),
  fc.record({ kind: fc.constant('AUTH' as const), flags, method: u8, data: bytes(0, 40), reserved: u24 }),
  fc.record({ kind: fc.constant('NONCE' as const), flags, data: bytes(0, 64) }),
  fc.record({ kind: fc.constant('VENDOR_ID' as const), flags, data: bytes(0, 20) }),
  fc.record({
    kind: fc.constant('NOTIFY' as const),
    flags,
    protocolId: u8,
    notifyType: u16,
    spi: bytes(0, 8),
    data: bytes(0, 24),
  }),
  deletePayload,
  fc.record({
    kind: fc.constantFrom('TSi' as const, 'TSr' as const),
    flags,
    selectors: fc.array(fc.oneof(v4, v6, otherTs), { maxLength: 4 }),
    reserved: u24,
  }),
  fc.record({
    kind: fc.constant('CP' as const),
    flags,
    cfgType: u8,
    attributes: fc.array(
      fc.record({
        type: fc.integer({ min: 0, max: 0x7fff }),
        value: bytes(0, 16),
        reservedBit: fc.boolean(),
      }),
      { maxLength: 4 },
    ),
    reserved: u24,
  }),
  fc.record({ kind: fc.constant('EAP' as const), flags, data: eapMessage }),
  fc.record({
    kind: fc.constant('UNKNOWN' as const),
    type: u8.filter((t) => t !== 0 && !isKnownPayloadType(t)),
    flags,
    data: bytes(0, 16),
  }),
);

const encrypted: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({ kind: fc.constant('SK' as const), flags, innerFirst: u8, body: bytes(0, 48) }),
  fc.integer({ min: 1, max: 0xffff }).chain((total) =>
    fc.record({
      kind: fc.constant('SKF' as const),
      flags,
      innerFirst: u8,
      fragmentNumber: fc.integer({ min: 1, max: total }),
      totalFragments: fc.constant(total),
      body: bytes(0, 48),
    }),
  ),
);

export const payloadChain: fc.Arbitrary<Payload[]> = fc
  .tuple(fc.array(plainPayload, { maxLength: 6 }), fc.option(encrypted, { nil: undefined }))
  .map(([ps, enc]) => (enc ? [...ps, enc] : ps));

export const message: fc.Arbitrary<IkeMessageInit> = fc.record({
  header: fc.record({
    spiI: bytes(8, 8),
    spiR: bytes(8, 8),
    exchangeType: u8,
    flags: u8,
    messageId: fc.integer({ min: 0, max: 0xffffffff }),
    majorVersion: fc.constant(2),
    minorVersion: fc.integer({ min: 0, max: 15 }),
  }),
  payloads: payloadChain,
});
