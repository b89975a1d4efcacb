// Leaf parsers: durations, sizes, addresses, prefixes, identities, marks, proposal strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBytes,
  parseDuration,
  parseIdentity,
  parseMark,
  parsePrefix,
  prefixesOverlap,
  type Parsed,
} from '../../src/config/values.ts';
import { checkProposal } from '../../src/config/proposals-tokens.ts';
import { DhGroup, EncrId } from '../../src/codec/iana.ts';

const val = <T>(p: Parsed<T>): T => {
  assert.ok(p.ok, p.ok ? '' : `${p.message}; ${p.hint}`);
  return p.value;
};
const err = <T>(p: Parsed<T>): string => {
  assert.ok(!p.ok);
  return `${p.message}; ${p.hint}`;
};

test('durations need a unit and add up', () => {
  assert.equal(val(parseDuration('90s')), 90_000);
  assert.equal(val(parseDuration('1h30m')), 5_400_000);
  assert.equal(val(parseDuration('500ms')), 500);
  assert.equal(val(parseDuration('1.5h')), 5_400_000);
  assert.match(err(parseDuration('3600')), /has no unit; write e\.g\. 3600s/);
  assert.match(err(parseDuration('1 hour')), /is not a duration/);
  assert.match(err(parseDuration('')), /is not a duration/);
});

test('byte sizes in SI and IEC units', () => {
  assert.equal(val(parseBytes('1GiB')), 2 ** 30);
  assert.equal(val(parseBytes('500MB')), 500e6);
  assert.equal(val(parseBytes('4096')), 4096);
  assert.match(err(parseBytes('1 GiBs')), /is not a byte size/);
  assert.match(err(parseBytes('99999999PiB')), /is not a byte size/);
});

test('prefixes: normalized, bare addresses are hosts, host bits refused', () => {
  assert.equal(val(parsePrefix('2001:DB8:0:0::/32')).text, '2001:db8::/32');
  assert.equal(val(parsePrefix('192.0.2.7')).text, '192.0.2.7/32');
  assert.equal(val(parsePrefix('2001:db8::7')).prefixLength, 128);
  assert.match(err(parsePrefix('10.0.0.0/33')), /prefix length 33 > 32/);
  assert.match(err(parsePrefix('2001:db8::/129')), /prefix length 129 > 128/);
  assert.match(err(parsePrefix('10.1.2.3/16')), /write the network address: 10\.1\.0\.0\/16/);
  assert.match(err(parsePrefix('10.0.0/8')), /not a valid IPv4\/IPv6 prefix/);
  assert.match(err(parsePrefix('10.0.0.0/8/1')), /not a valid/);
  assert.ok(prefixesOverlap(val(parsePrefix('10.0.0.0/8')), val(parsePrefix('10.9.0.0/16'))));
  assert.ok(!prefixesOverlap(val(parsePrefix('10.0.0.0/16')), val(parsePrefix('10.1.0.0/16'))));
});

test('identities by form (RFC 7296 §3.5 ID types)', () => {
  assert.deepEqual(val(parseIdentity('192.0.2.1')), { kind: 'ipv4', value: '192.0.2.1' });
  assert.deepEqual(val(parseIdentity('2001:DB8::1')), { kind: 'ipv6', value: '2001:db8::1' });
  assert.deepEqual(val(parseIdentity('vpn.example.org')), { kind: 'fqdn', value: 'vpn.example.org' });
  assert.deepEqual(val(parseIdentity('@gw')), { kind: 'fqdn', value: 'gw' });
  assert.deepEqual(val(parseIdentity('gw@example.org')), { kind: 'rfc822', value: 'gw@example.org' });
  assert.deepEqual(val(parseIdentity('C=CH,O=Example ,  CN=gw')), {
    kind: 'dn',
    value: 'C=CH, O=Example, CN=gw',
  });
  assert.deepEqual(val(parseIdentity('keyid:0A:1b')), { kind: 'keyid', value: '0a1b' });
  assert.match(err(parseIdentity('bad host!')), /is not an identity/);
  assert.match(err(parseIdentity('keyid:xyz')), /is not a key id/);
});

test('marks: value with optional mask', () => {
  assert.deepEqual(val(parseMark('42')), { value: 42, mask: 0xffffffff });
  assert.deepEqual(val(parseMark('0x20/0xff')), { value: 0x20, mask: 0xff });
  assert.match(err(parseMark('0x1ff/0xff')), /bits outside mask/);
  assert.match(err(parseMark('4294967296')), /is not a mark/);
});

test('proposals: tokens map to IANA ids; impossible combinations are refused', () => {
  const ike = checkProposal('aes256gcm16-prfsha256-x25519', 'ike');
  assert.ok(ike.ok);
  assert.deepEqual(
    ike.tokens.map((t) => [t.kind, t.id]),
    [
      ['encr', EncrId.AES_GCM_16],
      ['prf', 5],
      ['ke', DhGroup.CURVE25519],
    ],
  );
  assert.ok(checkProposal('aes256-sha256-modp2048', 'ike').ok);
  assert.ok(checkProposal('AES256GCM16-ESN', 'esp').ok);
  assert.deepEqual(checkProposal('3des-md5-modp1024', 'ike').weak, ['3des', 'md5', 'modp1024']);
  const no = (s: string, k: 'ike' | 'esp') => checkProposal(s, k).message ?? '';
  assert.match(no('aes256gcm16-x25519', 'ike'), /needs a PRF/);
  assert.match(no('aes256-prfsha256', 'ike'), /needs an integrity algorithm/);
  assert.match(no('aes256gcm16-sha256', 'esp'), /adds an integrity algorithm to an AEAD/);
  assert.match(no('aes256gcm16-aes256-sha256', 'esp'), /mixes AEAD and non-AEAD/);
  assert.match(no('aes256gcm16-esn-prfsha256-x25519', 'ike'), /applies to ESP only/);
  assert.match(no('sha256', 'esp'), /names no encryption/);
  assert.equal(checkProposal('aes256gcm16-prfsha256-x2519', 'ike').hint, 'did you mean "x25519"?');
});

test('every token the config accepts is also understood by the engine parser (src/ike/proposal-string.ts)', async () => {
  const { parseProposals } = await import('../../src/ike/proposal-string.ts');
  const { PROPOSAL_TOKENS } = await import('../../src/config/proposals-tokens.ts');
  for (const [word, tok] of Object.entries(PROPOSAL_TOKENS)) {
    const s =
      tok.kind === 'encr'
        ? `${word}-${tok.aead === true ? 'prfsha256' : 'sha256'}-x25519`
        : tok.kind === 'integ'
          ? `aes256-${word}-x25519`
          : tok.kind === 'prf'
            ? `aes256gcm16-${word}-x25519`
            : tok.kind === 'ke'
              ? `aes256gcm16-prfsha256-${word}`
              : tok.kind === 'addke'
                ? `aes256gcm16-prfsha256-x25519-${word}`
                : `aes256gcm16-${word}`;
    const kind = tok.kind === 'esn' || word === 'null' ? 'esp' : 'ike';
    assert.ok(checkProposal(s, kind).ok, s);
    assert.doesNotThrow(() => parseProposals(s, kind), s);
  }
});
