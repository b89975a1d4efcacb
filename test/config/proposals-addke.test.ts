// strongSwan's RFC 9370 proposal syntax in the config checker (src/config/proposals-tokens.ts):
// `aes256gcm16-prfsha384-x25519-ke1_mlkem768`, optional slots with `keN_none`. The syntax is
// understood, so a malformed word gets a precise message; but the engine has no IKE_INTERMEDIATE
// exchange and no KEM in IKE_SA_INIT yet, so `check` refuses every additional key exchange and
// ML-KEM as "not supported yet" instead of accepting what the daemon cannot negotiate (issue 14).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkProposal } from '../../src/config/proposals-tokens.ts';

const no = (s: string, k: 'ike' | 'esp' = 'ike') => checkProposal(s, k);

test('ke1_ .. ke7_ and keN_none are refused as not supported yet, naming the supported groups', () => {
  for (const [s, k] of [
    ['aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'],
    ['aes256gcm16-prfsha384-ecp384-ke1_mlkem1024-ke1_none-ke7_mlkem512', 'ike'],
    ['AES256GCM16-X25519-KE1_MLKEM768', 'esp'],
    ['aes256-sha256-modp2048-ke1_modp1024', 'ike'],
    ['aes256gcm16-prfsha384-x25519-ke3_none', 'ike'],
  ] as const) {
    const c = no(s, k);
    assert.equal(c.ok, false, s);
    assert.match(
      c.message ?? '',
      /additional key exchange \(RFC 9370\), which ikeway does not support yet/,
      s,
    );
    assert.match(c.hint ?? '', /^supported key exchanges \(one per proposal\): modp1024 .* x25519 x448$/, s);
  }
  assert.match(
    no('aes256gcm16-prfsha384-mlkem768').message ?? '',
    /is ML-KEM, which ikeway does not support yet/,
  );
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
  assert.equal(no('aes256gcm16-prfsha384-x25519-none').ok, false, '"none" only inside a slot');
});
