// Key exchange (RFC 7296 §1.2, §3.4) for MODP (RFC 3526), ECP (RFC 5903) and Curve25519/448 (RFC 8031),
// on node:crypto (OpenSSL), which measured far faster than pure JS (see bench/crypto.ts). Every peer
// value is validated before use; a bad one is a typed INVALID_PUBLIC_KEY error (the engine answers
// INVALID_SYNTAX / drops, RFC 7296 §2.21).
import {
  createDiffieHellman,
  createDiffieHellmanGroup,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type DiffieHellman,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError, fail } from './errors.ts';
import { lookupKeGroup, type KeGroup } from './registry.ts';

export interface KeyExchange {
  readonly group: number;
  /** Our KE payload data: MODP padded to the modulus, ECP x | y (RFC 5903 §7), X25519/X448 raw. */
  readonly publicKey: Uint8Array;
  /** g^ir, padded to the group's size; throws CryptoError INVALID_PUBLIC_KEY on a bad peer value. */
  computeSecret(peerPublic: Uint8Array): Uint8Array;
  /** Drop the private key; computeSecret fails afterwards. */
  destroy(): void;
}

/** Generate a fresh key pair for a group (an IANA DhGroup id). */
export function createKeyExchange(groupId: number): KeyExchange {
  const g = lookupKeGroup(groupId);
  if (!g) fail('UNSUPPORTED', `key exchange group ${groupId}`);
  return build(g);
}

/**
 * A KeyExchange from a known private key, for known-answer tests (RFC 5903 §8, RFC 7748 §6) and
 * interop captures. Production code uses createKeyExchange / KeyExchangePool.
 */
export function importKeyExchange(groupId: number, privateKey: Uint8Array): KeyExchange {
  const g = lookupKeGroup(groupId);
  if (!g) fail('UNSUPPORTED', `key exchange group ${groupId}`);
  return build(g, privateKey);
}

function build(g: KeGroup, priv?: Uint8Array): KeyExchange {
  switch (g.kind) {
    case 'modp':
      return new ModpKeyExchange(g, priv);
    case 'ecp':
      return new EcpKeyExchange(g, priv);
    case 'montgomery':
      return new MontgomeryKeyExchange(g, priv);
  }
}

function leftPad(b: Uint8Array, len: number): Uint8Array {
  if (b.length === len) return b;
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}

function checkLength(g: KeGroup, peer: Uint8Array): void {
  if (peer.length !== g.publicLen) {
    fail('INVALID_PUBLIC_KEY', `${g.name} KE data must be ${g.publicLen} bytes, got ${peer.length}`);
  }
}

abstract class BaseKeyExchange implements KeyExchange {
  abstract readonly publicKey: Uint8Array;
  protected destroyed = false;
  constructor(protected readonly g: KeGroup) {}
  get group(): number {
    return this.g.id;
  }
  computeSecret(peer: Uint8Array): Uint8Array {
    if (this.destroyed) fail('DESTROYED', `${this.g.name} key exchange already destroyed`);
    checkLength(this.g, peer);
    return leftPad(this.derive(peer), this.g.secretLen);
  }
  protected abstract derive(peer: Uint8Array): Uint8Array;
  destroy(): void {
    this.destroyed = true;
  }
  [inspect.custom](): string {
    return `KeyExchange(${this.g.name}, <redacted>)`;
  }
}

const primes = new Map<string, bigint>();
function modpPrime(name: string): bigint {
  let p = primes.get(name);
  if (p === undefined) {
    p = BigInt('0x' + createDiffieHellmanGroup(name).getPrime('hex'));
    primes.set(name, p);
  }
  return p;
}

class ModpKeyExchange extends BaseKeyExchange {
  #dh: ReturnType<typeof createDiffieHellmanGroup> | DiffieHellman | undefined;
  readonly publicKey: Uint8Array;
  constructor(g: KeGroup, priv?: Uint8Array) {
    super(g);
    if (priv) {
      const named = createDiffieHellmanGroup(g.node);
      const dh = createDiffieHellman(named.getPrime(), named.getGenerator());
      dh.setPrivateKey(priv);
      this.#dh = dh;
    } else {
      this.#dh = createDiffieHellmanGroup(g.node);
    }
    this.publicKey = leftPad(this.#dh.generateKeys(), g.publicLen);
  }
  protected derive(peer: Uint8Array): Uint8Array {
    // Reject 0, 1, p-1 and values >= p (degenerate or out-of-range; NIST SP 800-56A §5.6.2.3.1).
    // The RFC 3526 primes are safe primes, so with ephemeral keys no further subgroup check is needed.
    const y = BigInt('0x' + Buffer.from(peer.buffer, peer.byteOffset, peer.length).toString('hex'));
    if (y < 2n || y > modpPrime(this.g.node) - 2n) {
      fail('INVALID_PUBLIC_KEY', `${this.g.name} public value outside [2, p-2]`);
    }
    try {
      return this.#dh!.computeSecret(peer);
    } catch {
      throw new CryptoError('INVALID_PUBLIC_KEY', `${this.g.name} public value rejected`);
    }
  }
  override destroy(): void {
    super.destroy();
    this.#dh = undefined;
  }
}

class EcpKeyExchange extends BaseKeyExchange {
  #ecdh: ReturnType<typeof createECDH> | undefined;
  readonly publicKey: Uint8Array;
  constructor(g: KeGroup, priv?: Uint8Array) {
    super(g);
    this.#ecdh = createECDH(g.node);
    if (priv) this.#ecdh.setPrivateKey(priv);
    // Uncompressed SEC1 point 0x04 | x | y; RFC 5903 §7 sends x | y without the prefix.
    this.publicKey = (priv ? this.#ecdh.getPublicKey() : this.#ecdh.generateKeys()).subarray(1);
  }
  protected derive(peer: Uint8Array): Uint8Array {
    const point = Buffer.allocUnsafe(peer.length + 1);
    point[0] = 4;
    point.set(peer, 1);
    try {
      // OpenSSL decodes the point and checks that it is on the curve (RFC 5903 §9 requirement).
      return this.#ecdh!.computeSecret(point);
    } catch {
      throw new CryptoError('INVALID_PUBLIC_KEY', `${this.g.name} point is not on the curve`);
    }
  }
  override destroy(): void {
    super.destroy();
    this.#ecdh = undefined;
  }
}

/** DER PKCS#8 prefixes for raw X25519 / X448 private keys (RFC 8410 §7). */
const PKCS8_PREFIX: Readonly<Record<string, Buffer>> = {
  x25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
  x448: Buffer.from('3046020100300506032b656f043a0438', 'hex'),
};

/**
 * The base points (RFC 7748 §4.1, §4.2: u = 9 and u = 5), as public keys: our public value is
 * X25519(k, 9) / X448(k, 5), computed with the same diffieHellman call as the shared secret.
 */
const BASE_POINTS = new Map<string, KeyObject>();
function basePoint(g: KeGroup): KeyObject {
  let k = BASE_POINTS.get(g.node);
  if (!k) {
    const u = Buffer.alloc(g.publicLen);
    u[0] = g.node === 'x448' ? 5 : 9;
    const crv = g.node === 'x448' ? 'X448' : 'X25519';
    k = createPublicKey({ key: { kty: 'OKP', crv, x: u.toString('base64url') }, format: 'jwk' });
    BASE_POINTS.set(g.node, k);
  }
  return k;
}

class MontgomeryKeyExchange extends BaseKeyExchange {
  #priv: KeyObject | undefined;
  readonly publicKey: Uint8Array;
  /** RFC 8037 §2: the JWK "crv" of an OKP key. */
  readonly #crv: 'X25519' | 'X448';
  constructor(g: KeGroup, priv?: Uint8Array) {
    super(g);
    this.#crv = g.node === 'x448' ? 'X448' : 'X25519';
    if (priv) {
      if (priv.length !== g.secretLen)
        fail('INVALID_KEY', `${g.name} private key must be ${g.secretLen} bytes`);
      const der = Buffer.concat([PKCS8_PREFIX[g.node]!, priv]);
      this.#priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      this.publicKey = diffieHellman({ privateKey: this.#priv, publicKey: basePoint(g) });
    } else {
      // The public value comes encoded out of the generation job itself (no second scalar
      // multiplication: X25519(k, 9) costs as much as the key generation, ~35 us here).
      // Never export (JWK, DER) a key that generateKeyPairSync made, afterwards: Node 20's key
      // generation job locks that key's mutex in its destructor, which a GC runs; a GC inside an
      // export (which holds the same mutex and allocates) deadlocks the process. It hung ikeway's
      // responder and its load generator after ~24,000 IKE SAs (docs/benchmarks.md);
      // test/crypto/ke-keygen-deadlock.test.ts. Encoded inside the job, the job is still running
      // (not collectable) while the encoder holds the mutex.
      const pair =
        g.node === 'x448'
          ? generateKeyPairSync('x448', { publicKeyEncoding: { format: 'jwk' } })
          : generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } });
      this.#priv = pair.privateKey;
      const x = (pair.publicKey as { x?: unknown }).x;
      if (typeof x !== 'string') fail('INVALID_KEY', `${g.name} key generation returned no public value`);
      // Its own 32/56-byte buffer: Buffer.from would slice the shared 8 KiB pool, which a held IKE
      // SA would then keep alive.
      this.publicKey = new Uint8Array(Buffer.from(x, 'base64url'));
    }
    if (this.publicKey.length !== g.publicLen) fail('INVALID_KEY', `${g.name} public key derivation failed`);
  }
  protected derive(peer: Uint8Array): Uint8Array {
    let secret: Buffer;
    try {
      const x = Buffer.from(peer.buffer, peer.byteOffset, peer.length).toString('base64url');
      const pub = createPublicKey({ key: { kty: 'OKP', crv: this.#crv, x }, format: 'jwk' });
      secret = diffieHellman({ privateKey: this.#priv!, publicKey: pub });
    } catch {
      throw new CryptoError('INVALID_PUBLIC_KEY', `${this.g.name} public value rejected`);
    }
    // RFC 7748 §6.1 / RFC 8031 §2.3: an all-zero result means a low-order point; abort.
    if (secret.every((b) => b === 0)) fail('INVALID_PUBLIC_KEY', `${this.g.name} shared secret is all zero`);
    return secret;
  }
  override destroy(): void {
    super.destroy();
    this.#priv = undefined;
  }
}
