// Raw public key authentication (RFC 7670): each side is configured with the other's public key,
// sends its own as a CERT payload of encoding 15 (Raw Public Key: the DER SubjectPublicKeyInfo,
// §3), and signs its AUTH payload with the matching private key (RFC 7427, or the RFC 4754 ECDSA
// methods). There is no CA and no certificate: the identity check is the key itself, the peer's
// AUTH must verify with the configured key, and a raw key it sends must be that key.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { bytesEqual } from '../crypto/der.ts';
import { fail } from './errors.ts';
import { signOctets, verifySignature, type AuthData, type SignOptions } from './sign.ts';
import { loadPrivateKey } from './x509.ts';

export class RawKeyAuth {
  readonly #key: KeyObject;
  readonly #peer: KeyObject;
  /** Our SubjectPublicKeyInfo (CERT payload data, RFC 7670 §3) and the peer's. */
  readonly ownSpki: Uint8Array;
  readonly peerSpki: Uint8Array;
  readonly #opts: SignOptions;

  constructor(key: KeyObject | string | Uint8Array, peer: KeyObject | string, opts: SignOptions = {}) {
    this.#key = loadPrivateKey(key);
    try {
      this.#peer = typeof peer === 'string' ? createPublicKey(peer) : peer;
    } catch {
      fail('MALFORMED', 'the peer public key is not a PEM public key');
    }
    if (this.#peer.type !== 'public') fail('MALFORMED', 'the peer key is not a public key');
    this.ownSpki = spki(createPublicKey(this.#key));
    this.peerSpki = spki(this.#peer);
    this.#opts = opts;
  }

  /** AUTH data over `octets`; `peerHashes` undefined when the peer sent no SIGNATURE_HASH_ALGORITHMS. */
  sign(octets: Uint8Array, peerHashes: readonly number[] | undefined): AuthData {
    const r = signOctets(this.#key, octets, peerHashes, this.#opts);
    return { method: r.method, data: r.data };
  }

  /**
   * Verifies the peer's AUTH with the configured key. `rawKeys`: the data of the CERT payloads of
   * encoding 15 the peer sent; each must be the configured key (ID_MISMATCH otherwise).
   * Throws BAD_SIGNATURE, ID_MISMATCH, MALFORMED or UNSUPPORTED; returns the scheme.
   */
  verify(
    rawKeys: readonly Uint8Array[],
    method: number,
    authData: Uint8Array,
    octets: Uint8Array,
    allowedHashes?: readonly number[],
  ): string {
    if (rawKeys.length > 1) fail('ID_MISMATCH', `the peer sent ${rawKeys.length} raw public keys`);
    if (rawKeys[0] !== undefined && !bytesEqual(rawKeys[0], this.peerSpki))
      fail('ID_MISMATCH', 'the peer\u2019s raw public key is not the configured one');
    return verifySignature(this.#peer, method, authData, octets, allowedHashes);
  }

  [inspect.custom](): string {
    return `RawKeyAuth(${this.#peer.asymmetricKeyType} peer key)`;
  }

  toJSON(): string {
    return this[inspect.custom]();
  }
}

const spki = (k: KeyObject) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));
