// Key exchange (src/crypto/ke.ts, pool.ts): agreement and cross-checks with @noble/curves and BigInt
// arithmetic, and rejection of invalid peer values (RFC 7296 §3.4, RFC 5903 §7, RFC 7748 §6, RFC 8031 §2.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDiffieHellmanGroup, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { x448 } from '@noble/curves/ed448.js';
import { createKeyExchange, importKeyExchange } from '../../src/crypto/ke.ts';
import { KeyExchangePool } from '../../src/crypto/pool.ts';
import { lookupKeGroup } from '../../src/crypto/registry.ts';
import { DhGroup } from '../../src/codec/iana.ts';
import { throwsCode, toHex } from './util.ts';

const ALL = [14, 15, 16, 19, 20, 21, 31, 32];

test('both sides of every group compute the same g^ir of the registry length', () => {
  for (const g of ALL) {
    const a = createKeyExchange(g);
    const b = createKeyExchange(g);
    const info = lookupKeGroup(g)!;
    assert.equal(a.publicKey.length, info.publicLen, `group ${g} public length`);
    const s1 = a.computeSecret(b.publicKey);
    assert.equal(s1.length, info.secretLen);
    assert.equal(toHex(s1), toHex(b.computeSecret(a.publicKey)), `group ${g}`);
    assert.notEqual(toHex(a.publicKey), toHex(b.publicKey));
  }
});

const nist = { 19: p256, 20: p384, 21: p521 } as const;

test('ECP groups agree with @noble/curves in both directions (fast-check over noble keys)', () => {
  fc.assert(
    fc.property(fc.constantFrom<19 | 20 | 21>(19, 20, 21), (g) => {
      const curve = nist[g];
      const sk = curve.utils.randomSecretKey();
      const nobleRaw = curve.getPublicKey(sk, false).subarray(1); // RFC 5903: x | y, no 0x04
      const ours = createKeyExchange(g);
      const mine = ours.computeSecret(nobleRaw);
      const theirs = curve
        .getSharedSecret(sk, Uint8Array.of(4, ...ours.publicKey), false)
        .subarray(1, 1 + mine.length);
      assert.equal(toHex(mine), toHex(theirs));
    }),
    { numRuns: 12 },
  );
});

test('X25519 / X448 agree with @noble/curves, and importKeyExchange derives noble public keys', () => {
  for (const [g, curve] of [
    [31, x25519],
    [32, x448],
  ] as const) {
    for (let i = 0; i < 5; i++) {
      const sk = curve.utils.randomSecretKey();
      const ours = createKeyExchange(g);
      assert.equal(
        toHex(ours.computeSecret(curve.getPublicKey(sk))),
        toHex(curve.getSharedSecret(sk, ours.publicKey)),
      );
      assert.equal(toHex(importKeyExchange(g, sk).publicKey), toHex(curve.getPublicKey(sk)));
    }
  }
});

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const big = (b: Uint8Array) => BigInt('0x' + (toHex(b) || '0'));
const pad = (n: bigint, len: number) => n.toString(16).padStart(len * 2, '0');

test('MODP 14/15/16: public value and g^ir match BigInt arithmetic, left-padded to the modulus', () => {
  for (const [g, name] of [
    [14, 'modp14'],
    [15, 'modp15'],
    [16, 'modp16'],
  ] as const) {
    const p = big(createDiffieHellmanGroup(name).getPrime());
    const len = lookupKeGroup(g)!.publicLen;
    const x = randomBytes(32);
    const ours = importKeyExchange(g, x);
    assert.equal(toHex(ours.publicKey), pad(modPow(2n, big(x), p), len));
    const peer = createKeyExchange(g);
    assert.equal(toHex(ours.computeSecret(peer.publicKey)), pad(modPow(big(peer.publicKey), big(x), p), len));
  }
});

test('wrong-length KE data is INVALID_PUBLIC_KEY for every group', () => {
  for (const g of ALL) {
    const kx = createKeyExchange(g);
    const n = kx.publicKey.length;
    for (const len of [0, 1, n - 1, n + 1]) {
      throwsCode(() => kx.computeSecret(new Uint8Array(len).fill(5)), 'INVALID_PUBLIC_KEY', /bytes/);
    }
  }
});

test('ECP points not on the curve are rejected (RFC 5903 §7)', () => {
  for (const g of [19, 20, 21]) {
    const kx = createKeyExchange(g);
    const bad = Uint8Array.from(createKeyExchange(g).publicKey);
    bad[bad.length - 1]! ^= 1;
    throwsCode(() => kx.computeSecret(bad), 'INVALID_PUBLIC_KEY');
    throwsCode(() => kx.computeSecret(new Uint8Array(bad.length)), 'INVALID_PUBLIC_KEY');
  }
});

test('MODP values 0, 1, p-1, p and above are rejected', () => {
  const kx = createKeyExchange(DhGroup.MODP_2048);
  const p = big(createDiffieHellmanGroup('modp14').getPrime());
  for (const v of [0n, 1n, p - 1n, p, p + 1n, (1n << 2048n) - 1n]) {
    throwsCode(() => kx.computeSecret(Buffer.from(pad(v, 256), 'hex')), 'INVALID_PUBLIC_KEY', /\[2, p-2\]/);
  }
  assert.equal(kx.computeSecret(Buffer.from(pad(2n, 256), 'hex')).length, 256); // 2 is a legal value
});

test('X25519 / X448 low-order points that give an all-zero secret are rejected (RFC 7748 §6)', () => {
  for (const g of [31, 32]) {
    const kx = createKeyExchange(g);
    const n = kx.publicKey.length;
    const one = new Uint8Array(n);
    one[0] = 1;
    throwsCode(() => kx.computeSecret(new Uint8Array(n)), 'INVALID_PUBLIC_KEY');
    throwsCode(() => kx.computeSecret(one), 'INVALID_PUBLIC_KEY');
  }
});

test('unknown groups are UNSUPPORTED; destroyed key exchanges refuse; inspect hides keys', () => {
  throwsCode(() => createKeyExchange(DhGroup.MODP_768), 'UNSUPPORTED');
  throwsCode(() => createKeyExchange(9999), 'UNSUPPORTED');
  const kx = createKeyExchange(31);
  assert.equal(inspect(kx), 'KeyExchange(CURVE25519, <redacted>)');
  const peer = createKeyExchange(31).publicKey;
  kx.destroy();
  throwsCode(() => kx.computeSecret(peer), 'DESTROYED');
});

test('KeyExchangePool hands out each pre-generated pair once and refills in the background', () => {
  const queue: (() => void)[] = [];
  const pool = new KeyExchangePool({ groups: [19, 31], size: 2, schedule: (fn) => queue.push(fn) });
  assert.equal(pool.available(19), 0);
  pool.fill();
  assert.equal(pool.available(19), 2);
  assert.equal(pool.available(31), 2);
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) seen.add(toHex(pool.take(19).publicKey)); // third one created on demand
  assert.equal(seen.size, 3);
  assert.equal(pool.available(19), 0);
  assert.equal(queue.length, 1); // a single refill task, not one per take
  for (let i = 0; i < 10 && queue.length > 0; i++) queue.shift()!();
  assert.equal(pool.available(19), 2);
  assert.equal(queue.length, 0);
  assert.equal(pool.take(14).publicKey.length, 256); // groups not pooled still work
  pool.close();
  assert.equal(pool.available(31), 0);
  throwsCode(() => new KeyExchangePool({ groups: [7] }), 'UNSUPPORTED');
});
