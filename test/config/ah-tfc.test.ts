// What `check` says about AH (RFC 4302) and TFC padding (RFC 4303 §2.7), issue 21: protocol: ah warns
// that nothing is encrypted, an encryption algorithm with AH is an error at its line:col, ESP-only and
// AH-only keys conflict with the other protocol, TFC padding needs ESP in tunnel mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkProposal } from '../../src/config/proposals-tokens.ts';
import { toIkeConnection } from '../../src/daemon/connections.ts';
import { ProtocolId } from '../../src/codec/iana.ts';
import { ENV, doc, ok, problems, where } from './helpers.ts';

test('protocol: ah is accepted with a warning that AH does not encrypt; AH proposals default to sha256', () => {
  const r = ok(doc('    protocol: ah\n'), { env: ENV });
  assert.deepEqual(
    r.warnings.map((w) => `${w.line}:${w.col} ${w.code}`),
    ['7:15 W_CLEARTEXT'],
  );
  assert.match(r.warnings[0]!.message, /AH does not encrypt/);
  const c = r.config.connections[0]!;
  assert.equal(c.protocol, 'ah');
  assert.deepEqual(c.ahProposals, ['sha256']);
  const ike = toIkeConnection(c);
  assert.equal(ike.childProtocol, 'ah');
  assert.deepEqual(
    ike.espProposals.map((p) => p.protocol),
    [ProtocolId.AH],
  );
  assert.deepEqual(
    ike.espProposals[0]!.transforms.map((t) => [t.type, t.id]),
    [
      [3, 12],
      [5, 0],
    ],
    'INTEG AUTH_HMAC_SHA2_256_128 (and NO_ESN), no ENCR',
  );
});

test('an encryption algorithm in ah-proposals is an error at the proposal, saying AH does not encrypt', () => {
  const ps = problems(doc('    protocol: ah\n    ah-proposals: [sha384, aes256gcm16]\n'), { env: ENV });
  assert.deepEqual(where(ps.filter((p) => p.severity === 'error')), [
    '8:28 E_PROPOSAL connections.hq.ah-proposals[1]',
  ]);
  assert.match(
    ps.find((p) => p.code === 'E_PROPOSAL')!.message,
    /encryption algorithm: AH \(RFC 4302\) does not encrypt/,
  );
  assert.equal(checkProposal('aes256-sha256', 'ah').ok, false);
  assert.equal(checkProposal('sha512', 'ah').ok, true);
  assert.equal(checkProposal('prfsha256', 'ah').ok, false);
  // AES-GMAC would be an AEAD for the kernel, which Linux AH refuses: refused as encryption.
  assert.equal(checkProposal('aes256gmac', 'ah').ok, false);
});

test('protocol: ah with esp-proposals written is a conflict at esp-proposals; ah-proposals without ah too', () => {
  const ah = problems(doc('    protocol: ah\n    esp-proposals: aes256gcm16\n'), { env: ENV });
  assert.deepEqual(where(ah.filter((p) => p.severity === 'error')), [
    '8:20 E_CONFLICT connections.hq.esp-proposals',
  ]);
  const esp = problems(doc('    ah-proposals: sha256\n'), { env: ENV });
  assert.deepEqual(where(esp), ['7:19 E_CONFLICT connections.hq.ah-proposals']);
});

test('tfc-padding: octets or mtu, ESP tunnel mode only; transport mode and AH are errors at the key', () => {
  const n = ok(doc('    tfc-padding: 1400\n'), { env: ENV }).config.connections[0]!;
  assert.equal(n.tfcPadding, 1400);
  assert.equal(toIkeConnection(n).tfcPadding, 1400);
  const m = ok(doc('    tfc-padding: mtu\n    accept-tfc-padding: false\n'), { env: ENV }).config
    .connections[0]!;
  assert.equal(toIkeConnection(m).tfcPadding, 65535, 'the kernel caps XFRMA_TFCPAD at the path MTU');
  assert.equal(toIkeConnection(m).acceptTfcPadding, false);
  assert.equal(toIkeConnection(ok(doc(''), { env: ENV }).config.connections[0]!).tfcPadding, undefined);
  const transport = problems(doc('    mode: transport\n    tfc-padding: 1400\n'), { env: ENV });
  assert.deepEqual(where(transport), ['8:18 E_CONFLICT connections.hq.tfc-padding']);
  assert.match(transport[0]!.message, /needs tunnel mode/);
  const ah = problems(doc('    protocol: ah\n    tfc-padding: mtu\n'), { env: ENV });
  assert.deepEqual(where(ah.filter((p) => p.severity === 'error')), [
    '8:18 E_CONFLICT connections.hq.tfc-padding',
  ]);
  for (const bad of ['0', '70000', 'big', '1.5']) {
    const ps = problems(doc(`    tfc-padding: ${bad}\n`), { env: ENV });
    assert.deepEqual(where(ps), ['7:18 E_VALUE connections.hq.tfc-padding'], bad);
  }
});
