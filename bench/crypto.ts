// Key-exchange and SK throughput: node:crypto (what src/crypto uses) against pure-JS @noble/curves,
// side by side in one run. Not part of the tests. Run: node --import tsx bench/crypto.ts [seconds-per-case]
import { randomBytes } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { x448 } from '@noble/curves/ed448.js';
import { createKeyExchange } from '../src/crypto/ke.ts';
import { createSkCipher } from '../src/crypto/sk.ts';
import { EncrId, IntegId } from '../src/codec/iana.ts';

const budgetMs = Number(process.argv[2] ?? 0.5) * 1000;

/** Operations per second of fn, run for about budgetMs (bounded to 1e6 iterations). */
function opsPerSec(fn: () => void): number {
  fn();
  const start = performance.now();
  let n = 0;
  while (n < 1e6 && performance.now() - start < budgetMs) {
    fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

interface Noble {
  utils: { randomSecretKey(): Uint8Array };
  getPublicKey(sk: Uint8Array): Uint8Array;
  getSharedSecret(a: Uint8Array, b: Uint8Array): Uint8Array;
}
const noble: Record<number, Noble | undefined> = { 19: p256, 20: p384, 21: p521, 31: x25519, 32: x448 };

const fmt = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(0)).padStart(10);
console.log('keygen + DH per second (one side of an exchange)');
console.log(`${'group'.padEnd(8)}${'node'.padStart(10)}${'noble'.padStart(10)}   ratio`);
for (const g of [14, 15, 16, 19, 20, 21, 31, 32]) {
  const peer = createKeyExchange(g).publicKey;
  const mine = opsPerSec(() => createKeyExchange(g).computeSecret(peer));
  const n = noble[g];
  let theirs: number | undefined;
  if (n) {
    const peerKey = n.getPublicKey(n.utils.randomSecretKey());
    theirs = opsPerSec(() => {
      const sk = n.utils.randomSecretKey();
      n.getPublicKey(sk);
      n.getSharedSecret(sk, peerKey);
    });
  }
  const ratio = theirs ? `${(mine / theirs).toFixed(1)}x` : '';
  console.log(`${String(g).padEnd(8)}${fmt(mine)}${fmt(theirs)}   ${ratio}`);
}

console.log('\nSK seal+open of a 1200-byte message per second');
const sk = [
  ['AES-GCM-16-256', { encr: EncrId.AES_GCM_16, keyLen: 256 }, { encKey: randomBytes(36) }],
  ['ChaCha20-Poly1305', { encr: EncrId.CHACHA20_POLY1305 }, { encKey: randomBytes(36) }],
  [
    'AES-CBC-256/SHA256',
    { encr: EncrId.AES_CBC, keyLen: 256, integ: IntegId.HMAC_SHA2_256_128 },
    { encKey: randomBytes(32), integKey: randomBytes(32) },
  ],
] as const;
const aad = randomBytes(32);
const plain = randomBytes(1200);
for (const [name, t, keys] of sk) {
  const c = createSkCipher(t, keys);
  console.log(`${name.padEnd(20)}${fmt(opsPerSec(() => c.open(aad, c.seal(aad, plain))))}`);
}
