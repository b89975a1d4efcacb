// ML-KEM-512/768/1024 as IKEv2 key exchange methods 35..37 (src/crypto/mlkem.ts, ke-roles.ts):
// NIST ACVP known answers (test/vectors/crypto/mlkem-acvp.json, source cited there), round trips in
// both roles, and the bad-input paths (FIPS 203 §7.2/§7.3 checks, implicit rejection §6.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DhGroup, NotifyType } from '../../src/codec/iana.ts';
import {
  initiatorKeyShare,
  responderRespond,
  type KeInitiator,
  type KeResult,
} from '../../src/crypto/ke-roles.ts';
import {
  checkEncapsulationKey,
  mlKemBackend,
  nobleBackend,
  nodeBackend,
  spkiPrefix,
  type MlKemBackend,
} from '../../src/crypto/mlkem.ts';
import { KEM_METHODS, lookupKem, lookupKeMethod, type KemMethod } from '../../src/crypto/registry.ts';
import { hex, loadVectors, throwsCode, toHex } from './util.ts';

interface Acvp {
  source: string;
  sets: Record<
    string,
    {
      keyGen: { tcId: number; d: string; z: string; ek: string; dk: string }[];
      encapsulation: { tcId: number; ek: string; m: string; c: string; k: string }[];
      decapsulation: { tgId: number; dk: string; tests: { tcId: number; c: string; k: string }[] };
    }
  >;
}
const acvp = loadVectors<Acvp>('mlkem-acvp.json');
const lc = (s: string) => s.toLowerCase();
const methodOf = (paramSet: string): KemMethod => KEM_METHODS.find((m) => m.paramSet === paramSet)!;

function ok<T>(r: KeResult<T>): T {
  if (!r.ok) assert.fail(`expected success, got ${r.code}: ${r.message}`);
  return r;
}
const initiator = (method: number, opts = {}): KeInitiator => ok(initiatorKeyShare(method, opts)).initiator;

test('registry: transform IDs 35/36/37 with the FIPS 203 Table 3 sizes', () => {
  const sizes = KEM_METHODS.map((m) => [m.id, m.ekLen, m.ctLen, m.dkLen, m.secretLen]);
  assert.deepEqual(sizes, [
    [35, 800, 768, 1632, 32],
    [36, 1184, 1088, 2400, 32],
    [37, 1568, 1568, 3168, 32],
  ]);
  assert.equal(lookupKem(DhGroup.ML_KEM_768)?.paramSet, 'ML-KEM-768');
  assert.deepEqual(
    [lookupKeMethod(36)?.initiatorShareLen, lookupKeMethod(36)?.responderShareLen],
    [1184, 1088],
  );
  assert.equal(lookupKeMethod(31)?.responderShareLen, 32, 'DH: both shares have the public length');
});

test('NIST ACVP keyGen / encapsulation / decapsulation vectors match the noble backend', () => {
  assert.match(acvp.source, /usnistgov\/ACVP-Server/);
  let cases = 0;
  for (const [paramSet, s] of Object.entries(acvp.sets)) {
    const m = methodOf(paramSet);
    for (const t of s.keyGen) {
      const kp = nobleBackend.keygen(m, hex(t.d + t.z));
      assert.equal(toHex(kp.ek), lc(t.ek), `${paramSet} keyGen tc ${t.tcId} ek`);
      assert.ok('raw' in kp.dk);
      assert.equal(toHex(kp.dk.raw), lc(t.dk), `${paramSet} keyGen tc ${t.tcId} dk`);
      cases++;
    }
    for (const t of s.encapsulation) {
      const r = nobleBackend.encapsulate(m, hex(t.ek), hex(t.m));
      assert.equal(toHex(r.c), lc(t.c), `${paramSet} encapsulation tc ${t.tcId} c`);
      assert.equal(toHex(r.k), lc(t.k), `${paramSet} encapsulation tc ${t.tcId} k`);
      cases++;
    }
    for (const t of s.decapsulation.tests) {
      const k = nobleBackend.decapsulate(m, { raw: hex(s.decapsulation.dk) }, hex(t.c));
      assert.equal(toHex(k), lc(t.k), `${paramSet} decapsulation tc ${t.tcId}`);
      cases++;
    }
  }
  assert.equal(cases, 21);
});

test('the role API reproduces the ACVP keyGen and encapsulation answers when seeded', () => {
  for (const [paramSet, s] of Object.entries(acvp.sets)) {
    const m = methodOf(paramSet);
    const kg = s.keyGen[0]!;
    const i = initiator(m.id, { mlkem: nobleBackend, mlkemSeed: hex(kg.d + kg.z) });
    assert.equal(toHex(i.share), lc(kg.ek), `${paramSet}: KEi data is the ACVP ek`);
    const en = s.encapsulation[0]!;
    const r = ok(responderRespond(m.id, hex(en.ek), { mlkem: nobleBackend, mlkemMessage: hex(en.m) }));
    assert.equal(toHex(r.share), lc(en.c), `${paramSet}: KEr data is the ACVP ciphertext`);
    assert.equal(toHex(r.secret.bytes()), lc(en.k), `${paramSet}: shared secret is the ACVP K`);
    i.destroy();
  }
});

test('round trip in both roles for every parameter set gives one 32-byte secret', () => {
  for (const m of KEM_METHODS) {
    const i = initiator(m.id);
    assert.equal(i.share.length, m.ekLen);
    const r = ok(responderRespond(m.id, i.share));
    assert.equal(r.share.length, m.ctLen);
    const s = ok(i.finish(r.share)).secret;
    assert.equal(s.bytes().length, 32);
    assert.equal(toHex(s.bytes()), toHex(r.secret.bytes()), m.name);
    // A second exchange gets a different secret (fresh randomness every time).
    const i2 = initiator(m.id);
    assert.notEqual(toHex(i2.share), toHex(i.share));
    i2.destroy();
  }
});

test('wrong-length key shares and ciphertexts are INVALID_LENGTH -> INVALID_SYNTAX, never a throw', () => {
  for (const m of KEM_METHODS) {
    const i = initiator(m.id);
    for (const len of [0, m.ekLen - 1, m.ekLen + 1, m.ctLen]) {
      if (len === m.ekLen) continue;
      const r = responderRespond(m.id, new Uint8Array(len));
      assert.equal(r.ok, false);
      if (r.ok) continue;
      assert.equal(r.code, 'INVALID_LENGTH', `${m.name} ek of ${len}`);
      assert.equal(r.notify, NotifyType.INVALID_SYNTAX);
      assert.match(r.message, new RegExp(`${m.ekLen} bytes, got ${len}`));
    }
    const short = i.finish(new Uint8Array(m.ctLen - 1));
    assert.equal(short.ok, false);
    if (!short.ok) {
      assert.equal(short.code, 'INVALID_LENGTH');
      assert.equal(short.notify, NotifyType.INVALID_SYNTAX);
    }
    // Single use: the key was wiped by the failed finish, a retry is refused without a notify.
    const again = i.finish(new Uint8Array(m.ctLen));
    assert.equal(again.ok, false);
    if (!again.ok) {
      assert.equal(again.code, 'USED');
      assert.equal(again.notify, undefined);
    }
  }
});

test('FIPS 203 §7.2: an encapsulation key with a coefficient >= q is INVALID_PUBLIC_KEY', () => {
  for (const m of KEM_METHODS) {
    const ek = Uint8Array.from(initiator(m.id).share);
    checkEncapsulationKey(m, ek); // a real one passes
    // First coefficient := 0xfff (>= 3329): low byte 0xff, low nibble of the second byte 0xf.
    ek[0] = 0xff;
    ek[1] = ek[1]! | 0x0f;
    throwsCode(() => checkEncapsulationKey(m, ek), 'INVALID_PUBLIC_KEY', /modulus check/);
    const r = responderRespond(m.id, ek);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.code, 'INVALID_PUBLIC_KEY');
      assert.equal(r.notify, NotifyType.INVALID_SYNTAX);
    }
    // The coefficient q - 1 = 3328 = 0xd00 is still valid; q itself (0xd01) is not.
    const edge = Uint8Array.from(initiator(m.id).share);
    edge[0] = 0x00;
    edge[1] = (edge[1]! & 0xf0) | 0x0d;
    checkEncapsulationKey(m, edge);
    edge[0] = 0x01;
    throwsCode(() => checkEncapsulationKey(m, edge), 'INVALID_PUBLIC_KEY');
  }
});

test('FIPS 203 §6.3 implicit rejection: a corrupted ciphertext gives a different secret, no error', () => {
  for (const m of KEM_METHODS) {
    const i = initiator(m.id);
    const r = ok(responderRespond(m.id, i.share));
    const c = Uint8Array.from(r.share);
    c[c.length >> 1]! ^= 0x01;
    const s = ok(i.finish(c)).secret;
    assert.equal(s.bytes().length, 32);
    // Mismatched keys: the engine sees this as a failed integrity check or AUTH, not here.
    assert.notEqual(toHex(s.bytes()), toHex(r.secret.bytes()), m.name);
  }
});

test('the decapsulation key is wiped after finish and destroy; nothing prints key bytes', () => {
  const seen: Uint8Array[] = [];
  const spy: MlKemBackend = {
    ...nobleBackend,
    keygen(m, seed) {
      const kp = nobleBackend.keygen(m, seed);
      if ('raw' in kp.dk) seen.push(kp.dk.raw);
      return kp;
    },
  };
  const i = initiator(DhGroup.ML_KEM_768, { mlkem: spy });
  const r = ok(responderRespond(DhGroup.ML_KEM_768, i.share));
  assert.ok(seen[0]!.some((b) => b !== 0));
  ok(i.finish(r.share));
  assert.ok(
    seen[0]!.every((b) => b === 0),
    'dk wiped after finish',
  );
  const j = initiator(DhGroup.ML_KEM_512, { mlkem: spy });
  j.destroy();
  assert.ok(
    seen[1]!.every((b) => b === 0),
    'dk wiped by destroy',
  );
  assert.equal(inspect(j), 'KeInitiator(ML_KEM_512, <redacted>)');
  assert.equal(inspect(r.secret), 'Secret(<redacted>, key exchange)');
  r.secret.destroy();
  assert.ok(
    r.secret.bytes().every((b) => b === 0),
    'shared secret wiped by Secret.destroy',
  );
});

test('backend choice: node:crypto only when it has ML-KEM; noble on Node 20', () => {
  const b = mlKemBackend();
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) assert.equal(b.name, 'noble', `Node ${process.versions.node} has no ML-KEM`);
  assert.equal(mlKemBackend(), b, 'detected once and cached');
});

test('node:crypto backend agrees with noble in both directions', (t) => {
  if (mlKemBackend().name !== 'node') {
    t.skip(`node:crypto has no ML-KEM on Node ${process.versions.node}`);
    return;
  }
  for (const m of KEM_METHODS) {
    const a = nodeBackend.keygen(m);
    const e = nobleBackend.encapsulate(m, a.ek);
    assert.equal(toHex(nodeBackend.decapsulate(m, a.dk, e.c)), toHex(e.k));
    const b = nobleBackend.keygen(m);
    const f = nodeBackend.encapsulate(m, b.ek);
    assert.equal(toHex(nobleBackend.decapsulate(m, b.dk, f.c)), toHex(f.k));
  }
});

test('SubjectPublicKeyInfo prefix for the node backend (id-alg-ml-kem-768, 1184-byte key)', () => {
  const p = spkiPrefix(lookupKem(DhGroup.ML_KEM_768)!);
  // SEQUENCE(1202) { SEQUENCE(11) { OID 2.16.840.1.101.3.4.4.2 } BIT STRING(1185, 0 unused bits) }
  assert.equal(toHex(p), '308204b2300b0609608648016503040402038204a100');
  assert.equal(p.length + 1184, 0x4b2 + 4);
});
