// Identities (RFC 7296 §3.5) from strongSwan-style strings to ID payload bytes and back, equality and
// pattern matching; DNs (RFC 5280 §4.1.2.4) through DER and text, with fast-check round trips.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdType } from '../../src/codec/iana.ts';
import {
  CredsError,
  ID_ANY,
  decodeDn,
  dnEquals,
  encodeDn,
  formatDn,
  formatId,
  idEquals,
  idFromPayload,
  idMatches,
  parseDn,
  parseId,
  type Dn,
} from '../../src/creds/index.ts';
import { hex, throwsCode, toHex } from './util.ts';

const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');
// C=CH, O=Example, CN=gw1 encoded by hand per X.690: countryName as PrintableString (RFC 5280
// Appendix A), the others as UTF8String; each RDN a SET of one SEQUENCE { OID, value }.
const DN_HEX =
  '302d' +
  '310b3009060355040613024348' +
  '3110300e060355040a0c074578616d706c65' +
  '310c300a06035504030c03677731';

describe('parseId: strongSwan identity strings (RFC 7296 §3.5)', () => {
  const cases: [string, number, string][] = [
    ['192.0.2.1', IdType.IPV4_ADDR, 'c0000201'],
    ['2001:db8::1', IdType.IPV6_ADDR, '20010db8000000000000000000000001'],
    ['vpn.example.com', IdType.FQDN, ascii('vpn.example.com')],
    ['@vpn.example.com', IdType.FQDN, ascii('vpn.example.com')],
    ['@gw', IdType.FQDN, ascii('gw')],
    ['user@example.com', IdType.RFC822_ADDR, ascii('user@example.com')],
    ['@@user', IdType.RFC822_ADDR, ascii('user')],
    ['C=CH, O=Example, CN=gw1', IdType.DER_ASN1_DN, DN_HEX],
    ['C=CH,O=Example,CN=gw1', IdType.DER_ASN1_DN, DN_HEX],
    ['@#0a0b', IdType.KEY_ID, '0a0b'],
    ['keyid:0A:0B', IdType.KEY_ID, '0a0b'],
    ['fqdn:192.0.2.1', IdType.FQDN, ascii('192.0.2.1')],
    ['ipv6:2001:db8::1', IdType.IPV6_ADDR, '20010db8000000000000000000000001'],
    ['%any', ID_ANY, ''],
  ];
  for (const [text, type, data] of cases) {
    test(`${text}`, () => {
      const id = parseId(text);
      assert.equal(id.type, type);
      assert.equal(toHex(id.data), data);
    });
  }
  const bad = [
    '',
    '   ',
    'keyid:zz',
    '@#abc',
    'CN=a, XYZ=b',
    'C=\u00dc',
    'fqdn:has space',
    'E=\u00e9@example.com',
  ];
  for (const text of bad) {
    test(`BAD_ID: ${JSON.stringify(text)}`, () => {
      throwsCode(() => parseId(text), 'BAD_ID');
    });
  }
});

describe('formatId / idFromPayload', () => {
  const texts = [
    '192.0.2.1',
    '2001:db8::1',
    '@vpn.example.com',
    'user@example.com',
    '@@user',
    'C=CH, O=Example\\, Inc., OU=a+CN=b',
    '@#0a0b',
    '%any',
  ];
  test('parseId(formatId(id)) is the same identity', () => {
    for (const t of texts) {
      const id = parseId(t);
      const again = parseId(formatId(id));
      assert.ok(idEquals(id, again), `${t} -> ${formatId(id)}`);
      assert.equal(formatId(again), formatId(id));
    }
    assert.equal(formatId(parseId('2001:DB8:0:0::1')), '2001:db8::1');
    assert.equal(formatId(parseId('C=CH,O=Example,   CN=gw1')), 'C=CH, O=Example, CN=gw1');
  });
  test('payload data is checked for its type', () => {
    throwsCode(() => idFromPayload(IdType.IPV4_ADDR, hex('c00002')), 'BAD_ID', /4 octets/);
    throwsCode(() => idFromPayload(IdType.IPV6_ADDR, new Uint8Array(4)), 'BAD_ID', /16 octets/);
    throwsCode(() => idFromPayload(IdType.FQDN, hex('61006200')), 'BAD_ID', /NUL/);
    throwsCode(() => idFromPayload(IdType.RFC822_ADDR, new Uint8Array(0)), 'BAD_ID');
    throwsCode(() => idFromPayload(IdType.DER_ASN1_DN, hex('3005310330')), 'BAD_ID', /DER_ASN1_DN/);
    throwsCode(() => idFromPayload(ID_ANY, new Uint8Array(0)), 'BAD_ID');
    const fc12 = idFromPayload(IdType.FC_NAME, hex('0102'));
    assert.equal(formatId(fc12), 'id-type-12:#0102');
    assert.equal(formatId(idFromPayload(IdType.DER_ASN1_DN, hex(DN_HEX))), 'C=CH, O=Example, CN=gw1');
  });
  test('decoding arbitrary payloads only ever throws CredsError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 40 }), (type, data) => {
        try {
          formatId(idFromPayload(type, data));
        } catch (e) {
          if (!(e instanceof CredsError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('idEquals / idMatches', () => {
  const eq = (a: string, b: string) => idEquals(parseId(a), parseId(b));
  const match = (p: string, id: string) => idMatches(parseId(p), parseId(id));
  test('FQDN and RFC822 compare case-insensitively; DNs on normalized RDNs', () => {
    assert.ok(eq('VPN.example.com', '@vpn.EXAMPLE.com'));
    assert.ok(eq('User@Example.com', 'user@example.com'));
    assert.ok(eq('C=CH, O=Example, CN=gw1', 'c=ch,o=EXAMPLE,cn=Gw1'));
    assert.ok(eq('CN=a  b', 'CN= a b '));
    assert.ok(!eq('C=CH, O=Example, CN=gw1', 'O=Example, C=CH, CN=gw1'), 'RDN order matters');
    assert.ok(!eq('C=CH, O=Example, CN=gw1', 'C=CH, O=Example'));
    assert.ok(!eq('192.0.2.1', 'fqdn:192.0.2.1'), 'types differ');
    assert.ok(!eq('@#0a0b', '@#0a0c'));
  });
  test('patterns: %any, *.domain, *@domain, DN value *', () => {
    assert.ok(match('%any', '2001:db8::1'));
    assert.ok(match('*.example.com', 'gw.example.com'));
    assert.ok(!match('*.example.com', 'example.com'));
    assert.ok(!match('*.example.com', 'gw.example.org'));
    assert.ok(match('*@example.com', 'alice@example.com'));
    assert.ok(!match('*@example.com', 'alice@example.org'));
    assert.ok(match('C=CH, O=Example, CN=*', 'C=CH, O=Example, CN=gw7'));
    assert.ok(!match('C=CH, O=Example, CN=*', 'C=CH, O=Other, CN=gw7'));
    assert.ok(!match('C=CH, O=Example, CN=*', 'C=CH, O=Example, OU=x, CN=gw7'));
    assert.ok(!match('gw.example.com', '*.example.com'), 'wildcards only in the pattern');
    assert.ok(!match('CN=gw7', 'CN=*'));
  });
});

describe('DN text and DER', () => {
  test('separators: literal ", " when no name= follows, escapes, multi-valued RDNs, dotted OIDs', () => {
    const dn = parseDn('O=Example, Inc., CN=C++ dev, OU=a\\,b+CN=c, 2.5.4.99=x, E=a@example.com');
    assert.deepEqual(
      dn.map((r) => r.map((a) => [a.oid, a.value])),
      [
        [['2.5.4.10', 'Example, Inc.']],
        [['2.5.4.3', 'C++ dev']],
        [
          ['2.5.4.11', 'a,b'],
          ['2.5.4.3', 'c'],
        ],
        [['2.5.4.99', 'x']],
        [['1.2.840.113549.1.9.1', 'a@example.com']],
      ],
    );
    assert.equal(
      formatDn(dn),
      'O=Example\\, Inc., CN=C\\+\\+ dev, OU=a\\,b+CN=c, 2.5.4.99=x, E=a@example.com',
    );
    // emailAddress is an IA5String (tag 0x16), RFC 5280 Appendix A
    assert.equal(toHex(encodeDn(parseDn('E=a@b'))), '30143112301006092a864886f70d0109011603614062');
  });
  test('BMPString and TeletexString values decode; unknown string types are UNSUPPORTED', () => {
    const avaDn = (tag: number, value: string) =>
      hex(
        `30${h(11 + value.length / 2)}31${h(9 + value.length / 2)}30${h(7 + value.length / 2)}0603550403${h(tag)}${h(value.length / 2)}${value}`,
      );
    assert.equal(decodeDn(avaDn(0x1e, '00e9004100e9'))[0]![0]!.value, '\u00e9A\u00e9');
    assert.equal(decodeDn(avaDn(0x14, 'e9'))[0]![0]!.value, '\u00e9');
    throwsCode(() => decodeDn(avaDn(0x04, '41')), 'UNSUPPORTED');
    throwsCode(() => decodeDn(avaDn(0x0c, 'ff')), 'MALFORMED', /UTF-8/);
    throwsCode(() => decodeDn(avaDn(0x13, 'c3')), 'MALFORMED');
  });
  test('DER strictness: trailing bytes, non-minimal lengths, empty RDN', () => {
    throwsCode(() => decodeDn(hex(`${DN_HEX}00`)), 'MALFORMED');
    throwsCode(() => decodeDn(hex('3081033100')), 'MALFORMED', /non-minimal/);
    throwsCode(() => decodeDn(hex('30023100')), 'MALFORMED', /empty/);
    assert.deepEqual(decodeDn(hex('3000')), []);
  });
});

const h = (n: number) => n.toString(16).padStart(2, '0');

const PRINTABLE = [..."ABCXYZabcxyz0189 '()+,-./:=?"];
const attr = fc.oneof(
  fc.record({
    oid: fc.constant('2.5.4.6'),
    value: fc.string({ unit: fc.constantFrom(...PRINTABLE), maxLength: 4 }),
  }),
  fc.record({
    oid: fc.constantFrom('2.5.4.3', '2.5.4.10', '2.5.4.11', '2.5.4.7', '2.5.4.8', '2.5.4.99'),
    value: fc.string({ unit: 'grapheme', maxLength: 12 }),
  }),
  fc.record({
    oid: fc.constantFrom('1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25'),
    value: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
  }),
);
const dnArb: fc.Arbitrary<Dn> = fc.array(fc.array(attr, { minLength: 1, maxLength: 2 }), {
  minLength: 1,
  maxLength: 5,
});
/** oid/value pairs with multi-valued RDNs sorted (SET OF has no order). */
const plain = (dn: Dn) => dn.map((r) => r.map((a) => `${a.oid}=${a.value}`).sort());

describe('DN properties (fast-check)', () => {
  test('decode(encode(dn)) and parse(format(dn)) give the same RDNs; re-encoding is byte-identical', () => {
    fc.assert(
      fc.property(dnArb, (dn) => {
        const der = encodeDn(dn);
        const back = decodeDn(der);
        assert.deepEqual(plain(back), plain(dn));
        assert.equal(toHex(encodeDn(back)), toHex(der));
        const text = formatDn(dn);
        assert.deepEqual(plain(parseDn(text)), plain(dn), text);
        assert.ok(dnEquals(parseDn(text), back));
      }),
      { numRuns: 500 },
    );
  });
  test('mutated DER decodes or throws CredsError, never anything else', () => {
    fc.assert(
      fc.property(dnArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (dn, pos, x) => {
        const der = Uint8Array.from(encodeDn(dn));
        der[pos % der.length]! ^= x;
        try {
          formatDn(decodeDn(der));
        } catch (e) {
          if (!(e instanceof CredsError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
