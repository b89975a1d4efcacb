// strongSwan's RFC 9370 proposal syntax in the config checker (src/config/proposals-tokens.ts):
// `aes256gcm16-prfsha384-x25519-ke1_mlkem768`, optional slots with `keN_none`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhGroup } from '../../src/codec/iana.ts';
import { checkProposal } from '../../src/config/proposals-tokens.ts';

const kes = (s: string, k: 'ike' | 'esp' = 'ike') =>
  checkProposal(s, k)
    .tokens.filter((t) => t.kind === 'ke' || t.kind === 'addke')
    .map((t) => [t.kind, t.slot, t.id]);
const no = (s: string, k: 'ike' | 'esp' = 'ike') => checkProposal(s, k);

test('ke1_ .. ke7_ name additional key exchanges (RFC 9370 ADDKE1..7), keN_none an optional slot', () => {
  assert.ok(checkProposal('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike').ok);
  assert.deepEqual(kes('aes256gcm16-prfsha384-x25519-ke1_mlkem768'), [
    ['ke', undefined, DhGroup.CURVE25519],
    ['addke', 1, DhGroup.ML_KEM_768],
  ]);
  assert.deepEqual(kes('aes256gcm16-prfsha384-ecp384-ke1_mlkem1024-ke1_none-ke7_mlkem512'), [
    ['ke', undefined, DhGroup.ECP_384],
    ['addke', 1, DhGroup.ML_KEM_1024],
    ['addke', 1, DhGroup.NONE],
    ['addke', 7, DhGroup.ML_KEM_512],
  ]);
  assert.deepEqual(kes('AES256GCM16-X25519-KE1_MLKEM768', 'esp'), [
    ['ke', undefined, DhGroup.CURVE25519],
    ['addke', 1, DhGroup.ML_KEM_768],
  ]);
  assert.ok(checkProposal('aes256gcm16-prfsha384-mlkem768', 'ike').ok, 'ML-KEM alone');
  assert.deepEqual(checkProposal('aes256-sha256-modp2048-ke1_modp1024', 'ike').weak, ['ke1_modp1024']);
});

test('bad additional key exchanges are refused with a precise message', () => {
  assert.match(no('aes256gcm16-prfsha384-x25519-ke8_mlkem768').message ?? '', /slots are ke1_ \.\. ke7_/);
  assert.match(no('aes256gcm16-prfsha384-x25519-ke0_mlkem768').message ?? '', /slots are ke1_ \.\. ke7_/);
  assert.match(no('aes256gcm16-prfsha384-x25519-ke1_aes256').message ?? '', /"aes256" is not a key exchange/);
  assert.match(
    no('aes256gcm16-prfsha384-x25519-ke1_mlkem999').message ?? '',
    /"mlkem999" is not a key exchange/,
  );
  assert.match(no('aes256gcm16-prfsha384-x25519-ke1_').message ?? '', /is not a key exchange/);
  assert.match(
    no('aes256gcm16-ke1_mlkem768', 'esp').message ?? '',
    /additional key exchanges but no key exchange/,
  );
  assert.match(no('aes256gcm16-prfsha384-ke1_mlkem768').message ?? '', /but no key exchange/);
  assert.equal(no('aes256gcm16-prfsha384-x25519-none').ok, false, '"none" only inside a slot');
});
