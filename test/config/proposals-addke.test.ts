// strongSwan's RFC 9370 proposal syntax in the config checker (src/config/proposals-tokens.ts):
// `aes256gcm16-prfsha384-x25519-ke1_mlkem768`, optional slots with `keN_none`, ML-KEM as a key
// exchange method. `check` accepts exactly what the engine runs (issue 16): additional key exchanges
// in IKE proposals (IKE_INTERMEDIATE) and in ESP proposals after a PFS key exchange (IKE_FOLLOWUP_KE on
// CREATE_CHILD_SA), ML-KEM as a method anywhere. Malformed words get a precise message. test/exchange/algorithm-parity negotiates every accepted word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhGroup } from '../../src/codec/iana.ts';
import { checkProposal } from '../../src/config/proposals-tokens.ts';

const no = (s: string, k: 'ike' | 'esp' = 'ike') => checkProposal(s, k);

test('ke1_ .. ke7_, keN_none and ML-KEM are accepted in IKE proposals, with their slots', () => {
  const c = no('aes256gcm16-prfsha384-ecp384-ke1_mlkem1024-ke1_none-ke7_mlkem512');
  assert.equal(c.ok, true, c.message);
  assert.deepEqual(
    c.tokens.filter((t) => t.kind === 'addke').map((t) => [t.slot, t.id]),
    [
      [1, DhGroup.ML_KEM_1024],
      [1, DhGroup.NONE],
      [7, DhGroup.ML_KEM_512],
    ],
  );
  assert.equal(no('AES256GCM16-PRFSHA384-X25519-KE1_MLKEM768').ok, true);
  assert.equal(no('aes256gcm16-prfsha384-mlkem768').ok, true, 'ML-KEM alone');
  assert.equal(no('aes256gcm16-mlkem1024', 'esp').ok, true, 'ML-KEM as the PFS method of a Child SA');
});

test('additional key exchanges in ESP proposals (IKE_FOLLOWUP_KE) need a first key exchange', () => {
  const c = no('aes256gcm16-x25519-ke1_mlkem768-ke2_none', 'esp');
  assert.equal(c.ok, true, c.message);
  assert.deepEqual(
    c.tokens.filter((t) => t.kind === 'addke').map((t) => [t.slot, t.id]),
    [
      [1, DhGroup.ML_KEM_768],
      [2, DhGroup.NONE],
    ],
  );
  const bad = no('aes256gcm16-ke1_mlkem768', 'esp');
  assert.equal(bad.ok, false);
  assert.match(bad.message ?? '', /names additional key exchanges but no first one/);
  assert.match(bad.hint ?? '', /aes256gcm16-x25519-ke1_mlkem768/);
});

test('a weak method is as weak in a slot; an unimplemented one is refused naming the supported set', () => {
  const c = no('aes256-sha256-modp2048-ke1_modp1024');
  assert.equal(c.ok, true);
  assert.deepEqual(c.weak, ['ke1_modp1024']);
  assert.match(c.weakReasons[0] ?? '', /Logjam/);
  const bad = no('aes256gcm16-prfsha384-x25519-ke1_modp768');
  assert.equal(bad.ok, false);
  assert.match(bad.message ?? '', /"ke1_modp768" .* is not supported by ikeway/);
  assert.match(bad.hint ?? '', /: modp1024 .* x25519 x448 mlkem512 mlkem768 mlkem1024$/);
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
  assert.equal(no('aes256gcm16-prfsha384-ke1_mlkem768').ok, false, 'a first key exchange is needed');
});
