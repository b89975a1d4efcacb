// Protection of the Encrypted (SK) and Encrypted Fragment (SKF) payloads.
//   AEAD: RFC 5282 (AES-GCM-16) and RFC 7634 (ChaCha20-Poly1305): body = IV(8) | ciphertext | ICV(16),
//         nonce = salt(4) | IV(8), AAD = IKE header .. end of the SK/SKF payload header (RFC 5282 §5.1).
//   CBC + HMAC: RFC 7296 §3.14: body = IV(16) | ciphertext | ICV, ICV = truncated HMAC over the message
//         from the IKE header through the ciphertext.
// The plaintext inside is  payloads | padding | pad length (RFC 7296 §3.14).
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomFillSync,
  timingSafeEqual,
  type CipherGCMTypes,
  type CipherChaCha20Poly1305Types,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError, fail } from './errors.ts';
import { lookupEncr, lookupInteg, type EncrSpec, type IntegAlgorithm } from './registry.ts';

/** Structural twin of the codec's SkCipher (src/codec/protect.ts). */
export interface SkCipher {
  /** Length of the SK body (IV | ciphertext | ICV) for `plainLen` bytes of inner payloads. */
  sealedLength(plainLen: number): number;
  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array;
  open(aad: Uint8Array, body: Uint8Array): Uint8Array;
}

export interface SkTransforms {
  /** ENCR transform id (EncrId). */
  readonly encr: number;
  /** Key length in bits (the KEY_LENGTH attribute); may be omitted for ChaCha20-Poly1305. */
  readonly keyLen?: number;
  /** INTEG transform id (IntegId); required for non-AEAD ciphers, absent/0 for AEAD. */
  readonly integ?: number;
}

export interface SkKeys {
  /** SK_ei or SK_er: cipher key, followed by the salt for AEAD. */
  readonly encKey: Uint8Array;
  /** SK_ai or SK_ar (non-AEAD only). */
  readonly integKey?: Uint8Array;
}

/** Build an SkCipher for one direction; keys are copied into KeyObjects once. */
export function createSkCipher(t: SkTransforms, keys: SkKeys): SkCipher {
  const encr = lookupEncr(t.encr, t.keyLen);
  if (!encr) fail('UNSUPPORTED', `ENCR ${t.encr} with key length ${t.keyLen ?? '(none)'}`);
  if (keys.encKey.length !== encr.keyMatLen) {
    fail('INVALID_KEY', `${encr.alg.name} needs ${encr.keyMatLen} key bytes, got ${keys.encKey.length}`);
  }
  if (encr.alg.aead) {
    if (t.integ) fail('UNSUPPORTED', `${encr.alg.name} is AEAD and takes no INTEG transform (RFC 5282 §8)`);
    return new AeadSkCipher(encr, keys.encKey);
  }
  const integ = t.integ === undefined ? undefined : lookupInteg(t.integ);
  if (!integ) fail('UNSUPPORTED', `INTEG ${t.integ ?? '(none)'} with ${encr.alg.name}`);
  if (keys.integKey?.length !== integ.keyLen) {
    fail('INVALID_KEY', `${integ.name} needs ${integ.keyLen} key bytes, got ${keys.integKey?.length ?? 0}`);
  }
  return new CbcHmacSkCipher(encr, integ, keys.encKey, keys.integKey);
}

/**
 * The nonce of one seal/open (salt | IV), filled right before createCipheriv, which copies it: one
 * scratch buffer for every SA instead of one per SA and direction (JS runs one seal/open at a time).
 */
const scratchNonce = Buffer.alloc(12);

class AeadSkCipher implements SkCipher {
  readonly #key: KeyObject;
  readonly #cipher: CipherGCMTypes | CipherChaCha20Poly1305Types;
  /** RFC 5282 §4 / RFC 7634 §2: the 4-octet salt, the nonce's first part. */
  readonly #salt: number;
  readonly #icvLen: number;
  /** RFC 5282 §3.1: the IV must never repeat under one key; a 64-bit counter guarantees it. */
  #counter = 0n;

  constructor(encr: EncrSpec, keyMat: Uint8Array) {
    this.#key = createSecretKey(keyMat.subarray(0, encr.keyLen));
    const salt = keyMat.subarray(encr.keyLen);
    if (salt.length !== 4) fail('INVALID_KEY', `${encr.alg.name} salt must be 4 bytes, got ${salt.length}`);
    this.#salt = new DataView(salt.buffer, salt.byteOffset, 4).getUint32(0);
    this.#cipher = encr.alg.nodeCipher(encr.keyBits) as CipherGCMTypes | CipherChaCha20Poly1305Types;
    this.#icvLen = encr.alg.icvLen;
  }

  sealedLength(plainLen: number): number {
    return 8 + plainLen + 1 + this.#icvLen; // no padding needed for AEAD (RFC 5282 §3), pad length 0
  }

  /** salt | the 8-octet IV at the start of `body` (RFC 5282 §4). */
  #nonceFor(body: Uint8Array): Buffer {
    scratchNonce.writeUInt32BE(this.#salt, 0);
    scratchNonce.set(body.subarray(0, 8), 4);
    return scratchNonce;
  }

  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array {
    if (this.#counter >= 0xffffffffffffffffn) fail('IV_EXHAUSTED', 'AEAD IV counter exhausted; rekey');
    const out = Buffer.allocUnsafe(this.sealedLength(plain.length));
    out.writeBigUInt64BE(this.#counter++, 0);
    const c = createCipheriv(this.#cipher as CipherGCMTypes, this.#key, this.#nonceFor(out), {
      authTagLength: this.#icvLen,
    });
    c.setAAD(aad);
    let o = 8;
    o += c.update(plain).copy(out, o);
    o += c.update(PAD_LEN_ZERO).copy(out, o);
    o += c.final().copy(out, o);
    c.getAuthTag().copy(out, o);
    return out;
  }

  open(aad: Uint8Array, body: Uint8Array): Uint8Array {
    const ctLen = body.length - 8 - this.#icvLen;
    if (ctLen < 1) fail('MALFORMED', `SK body of ${body.length} bytes is shorter than IV + pad length + ICV`);
    const d = createDecipheriv(this.#cipher as CipherGCMTypes, this.#key, this.#nonceFor(body), {
      authTagLength: this.#icvLen,
    });
    d.setAAD(aad);
    d.setAuthTag(body.subarray(8 + ctLen));
    const first = d.update(body.subarray(8, 8 + ctLen));
    let last: Buffer;
    try {
      last = d.final();
    } catch {
      first.fill(0);
      throw new CryptoError('AUTH_FAILED', 'SK payload ICV mismatch');
    }
    const plain = last.length === 0 ? first : Buffer.concat([first, last]);
    return stripPadding(plain);
  }

  [inspect.custom](): string {
    return 'AeadSkCipher(<redacted>)';
  }
}

const PAD_LEN_ZERO = new Uint8Array(1);

/** RFC 7296 §3.14: the last byte is the pad length; reject a pad length that exceeds the plaintext. */
function stripPadding(plain: Buffer): Buffer {
  const padLen = plain[plain.length - 1];
  if (padLen === undefined || padLen + 1 > plain.length) {
    plain.fill(0);
    fail('MALFORMED', `pad length ${padLen ?? '(none)'} exceeds the decrypted ${plain.length} bytes`);
  }
  return plain.subarray(0, plain.length - 1 - padLen);
}

class CbcHmacSkCipher implements SkCipher {
  readonly #encKey: KeyObject;
  readonly #integKey: KeyObject;
  readonly #cipher: string;
  readonly #integ: IntegAlgorithm;
  readonly #block: number;

  constructor(encr: EncrSpec, integ: IntegAlgorithm, encKey: Uint8Array, integKey: Uint8Array) {
    this.#encKey = createSecretKey(encKey);
    this.#integKey = createSecretKey(integKey);
    this.#cipher = encr.alg.nodeCipher(encr.keyBits);
    this.#integ = integ;
    this.#block = encr.alg.blockLen;
  }

  #padLen(plainLen: number): number {
    return (this.#block - ((plainLen + 1) % this.#block)) % this.#block;
  }

  sealedLength(plainLen: number): number {
    return this.#block + plainLen + this.#padLen(plainLen) + 1 + this.#integ.icvLen;
  }

  #icv(aad: Uint8Array, ivAndCt: Uint8Array): Buffer {
    return createHmac(this.#integ.hash, this.#integKey).update(aad).update(ivAndCt).digest();
  }

  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array {
    const padLen = this.#padLen(plain.length);
    const out = Buffer.allocUnsafe(this.sealedLength(plain.length));
    const iv = out.subarray(0, this.#block);
    randomFillSync(iv); // RFC 7296 §3.14: IVs MUST be unpredictable; random per message
    const tail = Buffer.alloc(padLen + 1); // padding MAY be any value; zeros here
    tail[padLen] = padLen;
    const c = createCipheriv(this.#cipher, this.#encKey, iv).setAutoPadding(false);
    let o = this.#block;
    o += c.update(plain).copy(out, o);
    o += c.update(tail).copy(out, o);
    o += c.final().copy(out, o);
    this.#icv(aad, out.subarray(0, o)).copy(out, o, 0, this.#integ.icvLen);
    return out;
  }

  open(aad: Uint8Array, body: Uint8Array): Uint8Array {
    const icvLen = this.#integ.icvLen;
    const ctLen = body.length - this.#block - icvLen;
    if (ctLen < this.#block || ctLen % this.#block !== 0) {
      fail(
        'MALFORMED',
        `SK body of ${body.length} bytes: ciphertext is not a positive multiple of the block`,
      );
    }
    const signed = body.subarray(0, body.length - icvLen);
    const expected = this.#icv(aad, signed).subarray(0, icvLen);
    // Constant-time check BEFORE decryption (RFC 7296 §3.14: verify then decrypt).
    if (!timingSafeEqual(expected, body.subarray(body.length - icvLen))) {
      throw new CryptoError('AUTH_FAILED', 'SK payload ICV mismatch');
    }
    const d = createDecipheriv(this.#cipher, this.#encKey, body.subarray(0, this.#block));
    d.setAutoPadding(false);
    const plain = Buffer.concat([d.update(signed.subarray(this.#block)), d.final()]);
    return stripPadding(plain);
  }

  [inspect.custom](): string {
    return 'CbcHmacSkCipher(<redacted>)';
  }
}
