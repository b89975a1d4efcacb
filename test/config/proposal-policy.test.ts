// What `check` says about proposal words (issue 14 item 4): built-in property names are not words,
// weak words warn and say why (never in the defaults), ML-KEM and RFC 9370 additional key exchanges
// are refused as "not supported yet", and every refusal names what is supported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkProposal, describeSupported, proposalToken } from '../../src/config/proposals-tokens.ts';
import { parseToken } from '../../src/crypto/proposal-tokens.ts';
import { parseProposal } from '../../src/ike/proposal-string.ts';
import { ProposalSyntaxError } from '../../src/ike/errors.ts';
import { ENV, doc, ok, problems, where } from './helpers.ts';

const PROTO_WORDS = ['constructor', 'tostring', '__proto__', 'hasownproperty', 'valueof', 'isprototypeof'];

test('words that are built-in object properties are unknown words, not transforms', () => {
  for (const w of PROTO_WORDS) {
    assert.equal(parseToken(w), undefined, w);
    assert.equal(proposalToken(w), undefined, w);
    const ike = checkProposal(`aes256-sha256-${w}`, 'ike');
    assert.equal(ike.ok, false, w);
    assert.equal(ike.message, `unknown algorithm "${w}" in proposal "aes256-sha256-${w}"`);
    assert.match(ike.hint ?? '', /supported ciphers: aes\{128,192,256\} /);
    assert.throws(() => parseProposal(`aes256-sha256-x25519-${w}`, 'ike'), ProposalSyntaxError);
  }
  // Mixed case reaches the lower-cased table the same way.
  assert.equal(checkProposal('aes256gcm16-prfsha256-toString', 'ike').ok, false);
});

test('weak words are accepted with a warning that says why; the defaults have none', () => {
  const c = checkProposal('3des-sha1-prfsha1-modp1536', 'ike');
  assert.ok(c.ok);
  assert.deepEqual(c.weak, ['3des', 'sha1', 'prfsha1', 'modp1536']);
  assert.match(c.weakReasons[0]!, /^3des: .*Sweet32.*RFC 8221/);
  assert.match(c.weakReasons[1]!, /^sha1: SHA-1 collisions/);
  const r = ok(doc('    ike-proposals: aes128-sha1-modp1024\n    esp-proposals: aes128ctr-md5\n'), {
    env: ENV,
  });
  assert.deepEqual(
    r.warnings.map((w) => `${w.line}:${w.col} ${w.code}`),
    ['7:20 W_WEAK', '8:20 W_WEAK'],
  );
  assert.match(r.warnings[0]!.message, /sha1: SHA-1 .*; modp1024: MODP-1024 .*Logjam/);
  assert.match(r.warnings[1]!.message, /md5: HMAC-MD5-96 is broken/);
  assert.deepEqual(ok(doc(), { env: ENV }).warnings, [], 'defaults carry no weak algorithm');
});

test('ML-KEM and additional key exchanges are accepted in IKE and ESP proposals', () => {
  const r = ok(
    doc(
      '    ike-proposals: [aes256gcm16-prfsha256-mlkem768, aes256gcm16-prfsha256-x25519-ke1_mlkem768]\n' +
        '    esp-proposals: [aes256gcm16-mlkem768, aes256gcm16-x25519-ke1_mlkem768]\n',
    ),
    { env: ENV },
  );
  assert.deepEqual(r.warnings, []);
  const ps = problems(doc('    esp-proposals: aes256gcm16-ke1_mlkem768\n'), { env: ENV });
  assert.deepEqual(where(ps), ['7:20 E_PROPOSAL connections.hq.esp-proposals[0]']);
  assert.match(ps[0]!.message, /names additional key exchanges but no first one/);
  assert.match(
    describeSupported('ke', true),
    /modp2048 .*ecp256bp ecp384bp x25519 x448 mlkem512 mlkem768 mlkem1024$/,
  );
});

test('grammar words ikeway does not implement are refused with the supported set of their kind', () => {
  const cases: [string, 'ike' | 'esp', RegExp][] = [
    ['camellia256-sha256-x25519', 'ike', /^supported ciphers: aes\{128,192,256\} .*chacha20poly1305/],
    ['aes128gmac', 'esp', /^supported ciphers: .* null$/],
    ['aes128-aescmac', 'esp', /^supported integrity algorithms: md5 sha1 sha256 sha384 sha512 aesxcbc$/],
    ['aes256gcm16-prfaescmac-x25519', 'ike', /^supported PRFs: .*prfaesxcbc$/],
    ['aes256gcm16-prfsha256-modp768', 'ike', /^supported key exchanges: modp1024 /],
    ['null-sha256-x25519', 'ike', /^supported ciphers: (?!.*null)/],
  ];
  for (const [text, kind, hint] of cases) {
    const c = checkProposal(text, kind);
    assert.equal(c.ok, false, text);
    assert.match(c.hint ?? '', hint, text);
  }
});
