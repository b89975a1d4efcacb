import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DhGroup, EncrId, EsnId, IntegId, PrfId, ProtocolId, TransformType } from '../../src/codec/iana.ts';
import {
  checkKeGroup,
  keGroupOf,
  selectProposal,
  verifyChosen,
  type Proposal,
} from '../../src/ike/proposals.ts';
import { formatProposal, parseProposal, parseProposals } from '../../src/ike/proposal-string.ts';
import { NoProposalChosenError, ChosenNotOfferedError, ProposalSyntaxError } from '../../src/ike/errors.ts';

const { ENCR, PRF, INTEG, KE, ESN } = TransformType;
const ike = (s: string) => parseProposals(s, 'ike');
const esp = (s: string) => parseProposals(s, 'esp');
const withSpi = (ps: Proposal[], spi: number[]) => ps.map((p) => ({ ...p, spi: Uint8Array.from(spi) }));

test('parser: the interop strings from the README map to IANA transforms', () => {
  assert.deepEqual(ike('aes256gcm16-prfsha256-x25519')[0]?.transforms, [
    { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: PRF, id: PrfId.HMAC_SHA2_256 },
    { type: KE, id: DhGroup.CURVE25519 },
  ]);
  assert.deepEqual(ike('aes256-sha256-modp2048')[0]?.transforms, [
    { type: ENCR, id: EncrId.AES_CBC, keyLength: 256 },
    { type: PRF, id: PrfId.HMAC_SHA2_256 }, // derived from the integrity algorithm, as strongSwan does
    { type: INTEG, id: IntegId.HMAC_SHA2_256_128 },
    { type: KE, id: DhGroup.MODP_2048 },
  ]);
  assert.deepEqual(ike('chacha20poly1305-prfsha512-x25519')[0]?.transforms[0], {
    type: ENCR,
    id: EncrId.CHACHA20_POLY1305,
  });
  const e = esp('aes256gcm16-esn')[0]!;
  assert.equal(e.protocol, ProtocolId.ESP);
  assert.deepEqual(e.transforms, [
    { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: ESN, id: EsnId.ESN },
  ]);
  assert.deepEqual(
    esp('aes128-sha1')[0]?.transforms.at(-1),
    { type: ESN, id: EsnId.NO_ESN },
    'noesn by default',
  );
  assert.deepEqual(esp('aes128gcm128-x25519-ke1_mlkem768')[0]?.transforms, [
    { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 128 },
    { type: KE, id: DhGroup.CURVE25519 },
    { type: ESN, id: EsnId.NO_ESN },
    { type: TransformType.ADDKE1, id: DhGroup.ML_KEM_768 },
  ]);
  assert.deepEqual(parseProposals('sha256-esn', 'ah')[0]?.transforms, [
    { type: INTEG, id: IntegId.HMAC_SHA2_256_128 },
    { type: ESN, id: EsnId.ESN },
  ]);
});

test('parser: alternatives, mixed AEAD/classic split, numbering, formatting round trip', () => {
  const ps = ike('aes128-aes256gcm16-sha256-sha1-prfsha256-ecp256-x25519, aes128gcm16-prfsha384-ecp384');
  assert.deepEqual(
    ps.map((p) => [p.number, formatProposal(p)]),
    [
      [1, 'aes128-prfsha256-sha256-sha1-ecp256-x25519'],
      [2, 'aes256gcm16-prfsha256-ecp256-x25519'],
      [3, 'aes128gcm16-prfsha384-ecp384'],
    ],
  );
  for (const p of ps) assert.deepEqual(parseProposal(formatProposal(p), 'ike', p.number)[0], p);
  assert.equal(parseProposals(['AES256GCM16-PRFSHA256-X25519'], 'ike').length, 1, 'case-insensitive');
});

test('parser: precise typed errors', () => {
  const bad: [string, 'ike' | 'esp' | 'ah', RegExp][] = [
    ['aes256-sha256-modp2047', 'ike', /unknown algorithm: "modp2047"/],
    ['aes256gcm16-x25519', 'ike', /no PRF/],
    ['aes256gcm16-prfsha256', 'ike', /no key exchange group/],
    ['aes256-modp2048', 'esp', /no integrity algorithm/],
    ['aes256-sha256-prfsha256', 'esp', /PRF is not an ESP transform/],
    ['aes256gcm16-prfsha256-x25519-esn', 'ike', /ESN is not an IKE transform/],
    ['aes128-sha256', 'ah', /AH has no encryption/],
    ['aes256--sha256', 'esp', /empty algorithm name/],
    ['aes256gcm17', 'esp', /unknown algorithm/],
    ['sha256-esn', 'esp', /no encryption algorithm/],
  ];
  for (const [s, proto, re] of bad) {
    assert.throws(
      () => parseProposals(s, proto),
      (e: unknown) =>
        e instanceof ProposalSyntaxError && e.code === 'ERR_PROPOSAL_SYNTAX' && re.test(e.message),
      s,
    );
  }
});

test('RFC 7296 §2.7: the responder picks the first acceptable offer, keeping the initiator number', () => {
  const offered = ike('aes128-sha1-modp1024, aes256gcm16-prfsha384-ecp384-x25519, aes256-sha256-modp2048');
  const local = ike('aes256-sha256-modp2048, aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519');
  const chosen = selectProposal(offered, local);
  assert.equal(chosen.number, 2);
  assert.equal(formatProposal(chosen), 'aes256gcm16-prfsha384-x25519');
  // Local preference order: the responder's first proposal wins when it is offered at all.
  const pref = selectProposal(offered, local, { preferLocal: true });
  assert.equal(pref.number, 3);
  assert.equal(formatProposal(pref), 'aes256-prfsha256-sha256-modp2048');
});

test('§3.3.6: one transform per type, in the initiator order; KE preference follows KEi', () => {
  const offered = ike('aes128-aes256-sha256-sha512-ecp256-x25519');
  const local = ike('aes256-aes128-sha512-sha256-x25519-ecp256');
  assert.equal(formatProposal(selectProposal(offered, local)), 'aes128-prfsha256-sha256-ecp256');
  assert.equal(
    formatProposal(selectProposal(offered, local, { preferLocal: true })),
    'aes256-prfsha512-sha512-x25519',
  );
  const viaKe = selectProposal(offered, local, { preferKeGroup: DhGroup.CURVE25519 });
  assert.equal(keGroupOf(viaKe), DhGroup.CURVE25519);
  assert.throws(() => checkKeGroup(viaKe, DhGroup.ECP_256), { code: 'ERR_INVALID_KE_PAYLOAD', wanted: 31 });
  checkKeGroup(viaKe, DhGroup.CURVE25519);
});

test('§3.3.5 key lengths must match exactly; ESN and PFS must agree', () => {
  assert.throws(() => selectProposal(esp('aes128gcm16'), esp('aes256gcm16')), NoProposalChosenError);
  assert.throws(
    () => selectProposal(esp('aes256gcm16-esn'), esp('aes256gcm16-noesn')),
    NoProposalChosenError,
  );
  const both = selectProposal(esp('aes256gcm16-esn-noesn'), esp('aes256gcm16-noesn-esn'));
  assert.deepEqual(both.transforms.at(-1), { type: ESN, id: EsnId.ESN }, 'initiator order wins');
  // The initiator demands PFS, the responder has no KE: NO_PROPOSAL_CHOSEN.
  const err = (() => {
    try {
      selectProposal(esp('aes256gcm16-x25519'), esp('aes256gcm16'));
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof NoProposalChosenError);
  assert.equal(err.notify, 14);
  // ... but in IKE_AUTH KE transforms are ignored (RFC 7296 §1.2).
  const auth = selectProposal(esp('aes256gcm16-x25519'), esp('aes256gcm16'), { ignoreKe: true });
  assert.equal(keGroupOf(auth), undefined);
});

test('AEAD takes no INTEG; classic ciphers need one (RFC 5282 §8); ESP SPI is ours when given', () => {
  const offered = withSpi(esp('aes256gcm16-aes256-sha256'), [1, 2, 3, 4]);
  const local = esp('aes256-sha256, aes256gcm16');
  const c = selectProposal(offered, local, { spi: Uint8Array.of(9, 9, 9, 9) });
  assert.equal(formatProposal(c), 'aes256gcm16-noesn', 'AEAD first (initiator order), no INTEG');
  // An ESN transform the initiator left out stays implicit in the answer.
  const bare: Proposal = { ...offered[0]!, transforms: offered[0]!.transforms.filter((t) => t.type !== ESN) };
  assert.equal(formatProposal(selectProposal([bare], local)), 'aes256gcm16');
  assert.deepEqual([...c.spi], [9, 9, 9, 9]);
  const integNone: Proposal = {
    number: 1,
    protocol: ProtocolId.ESP,
    spi: new Uint8Array(4),
    transforms: [
      { type: ENCR, id: EncrId.AES_CBC, keyLength: 128 },
      { type: INTEG, id: IntegId.NONE },
    ],
  };
  assert.throws(() => selectProposal([integNone], esp('aes128-sha256')), NoProposalChosenError);
  const prfInEsp: Proposal = {
    ...integNone,
    transforms: [...esp('aes128gcm16')[0]!.transforms, { type: PRF, id: 5 }],
  };
  assert.throws(() => selectProposal([prfInEsp], esp('aes128gcm16')), NoProposalChosenError);
});

test('the initiator accepts only a single choice it offered (RFC 7296 §2.7, §3.3)', () => {
  const offered = withSpi(esp('aes256gcm16-aes128gcm16-esn-noesn, aes256-sha256'), []);
  const mine = (transforms: Proposal['transforms'], number = 1): Proposal[] => [
    { number, protocol: ProtocolId.ESP, spi: Uint8Array.of(1, 2, 3, 4), transforms },
  ];
  const ok = mine([
    { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 128 },
    { type: ESN, id: EsnId.NO_ESN },
  ]);
  assert.equal(verifyChosen(offered, ok), ok[0]);
  const bad: [Proposal[], RegExp][] = [
    [[...ok, ...ok], /2 proposals/],
    [mine(ok[0]!.transforms, 3), /#3 .* not offered/],
    [mine([{ type: ENCR, id: EncrId.AES_GCM_16, keyLength: 192 }]), /not offered/],
    [
      mine([...ok[0]!.transforms, { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }]),
      /2 transforms of type 1/,
    ],
    [mine([{ type: ESN, id: 0 }]), /no transform of type 1/],
    [mine([{ type: ENCR, id: EncrId.AES_CBC, keyLength: 256 }], 2), /no transform of type 3/],
    [mine([...ok[0]!.transforms, { type: INTEG, id: IntegId.HMAC_SHA2_256_128 }]), /not offered/],
    [[{ ...ok[0]!, spi: new Uint8Array(8) }], /SPI of 8 octets/],
  ];
  for (const [received, re] of bad) {
    assert.throws(
      () => verifyChosen(offered, received),
      (e: unknown) => e instanceof ChosenNotOfferedError && re.test(e.message),
    );
  }
});

const ENCR_WORDS = ['aes128', 'aes256', 'aes128gcm16', 'aes256gcm16', 'chacha20poly1305', 'aes128ctr'];
const INTEG_WORDS = ['sha1', 'sha256', 'sha384', 'sha512'];
const KE_WORDS = ['modp2048', 'ecp256', 'ecp384', 'x25519', 'x448'];
const proposalString = fc
  .tuple(
    fc.subarray(ENCR_WORDS, { minLength: 1 }),
    fc.subarray(INTEG_WORDS, { minLength: 1 }),
    fc.subarray(KE_WORDS, { minLength: 1 }),
  )
  .map(([e, i, k]) => [...e, ...i, ...k].join('-'));

test('property: a selected proposal verifies for the initiator and is a subset of both sides', () => {
  fc.assert(
    fc.property(
      fc.array(proposalString, { minLength: 1, maxLength: 3 }),
      fc.array(proposalString, { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      (o, l, preferLocal) => {
        const offered = ike(o.join(','));
        const local = ike(l.join(','));
        let chosen: Proposal;
        try {
          chosen = selectProposal(offered, local, { preferLocal });
        } catch (e) {
          assert.ok(e instanceof NoProposalChosenError);
          // Nothing was acceptable: no offered proposal shares an ENCR, PRF and KE with any local one.
          return;
        }
        verifyChosen(offered, [chosen]);
        const sameT = (a: Proposal['transforms'][number], b: Proposal['transforms'][number]) =>
          a.type === b.type && a.id === b.id && a.keyLength === b.keyLength;
        assert.ok(local.some((lp) => chosen.transforms.every((t) => lp.transforms.some((x) => sameT(x, t)))));
        const types = chosen.transforms.map((t) => t.type);
        assert.equal(new Set(types).size, types.length, 'one transform per type');
      },
    ),
    { numRuns: 300 },
  );
});

test('property: selecting a proposal against itself always succeeds', () => {
  fc.assert(
    fc.property(proposalString, (s) => {
      const p = ike(s);
      assert.equal(selectProposal(p, p).number, 1);
    }),
  );
});
