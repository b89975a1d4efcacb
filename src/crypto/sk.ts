// Protection of the Encrypted (SK) and Encrypted Fragment (SKF) payloads.
//   AEAD: RFC 5282 (AES-GCM and AES-CCM, ICV 8/12/16) and RFC 7634 (ChaCha20-Poly1305):
//         body = IV(8) | ciphertext | ICV, nonce = salt(4; 3 for CCM) | IV(8),
//         AAD = IKE header .. end of the SK/SKF payload header (RFC 5282 §5.1).
//   Cipher + MAC: RFC 7296 §3.14: body = IV | ciphertext | ICV, ICV = truncated HMAC or AES-XCBC-MAC
//         (RFC 3566) over the message from the IKE header through the ciphertext. Ciphers: AES-CBC,
//         3DES-CBC (RFC 2451) and AES-CTR (RFC 5930: counter block = nonce(4) | IV(8) | 1, no padding).
// The plaintext inside is  payloads | padding | pad length (RFC 7296 §3.14).
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomFillSync,
  timingSafeEqual,
  type CipherCCMTypes,
  type CipherGCMTypes,
  type CipherChaCha20Poly1305Types,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError, fail } from './errors.ts';
import { createMac, type Mac } from './prf.ts';
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
  if (encr.alg.espOnly === true) fail('UNSUPPORTED', `${encr.alg.name} is for ESP only (RFC 7296 §5)`);
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
  return new CipherMacSkCipher(encr, integ, keys.encKey, keys.integKey);
}

/**
 * The nonce of one seal/open (salt | IV), filled right before createCipheriv, which copies it: one
 * scratch buffer per salt length for every SA instead of one per SA and direction (JS runs one
 * seal/open at a time). 12 octets for GCM and ChaCha20, 11 for CCM (RFC 5282 §4).
 */
const scratchNonce = { 3: Buffer.alloc(11), 4: Buffer.alloc(12) } as const;

type AeadCipherName = CipherGCMTypes | CipherCCMTypes | CipherChaCha20Poly1305Types;

class AeadSkCipher implements SkCipher {
  readonly #key: KeyObject;
  readonly #cipher: AeadCipherName;
  /** RFC 5282 §4 / RFC 7634 §2: the salt (4 octets; 3 for CCM), the nonce's first part. */
  readonly #salt: Buffer;
  readonly #nonce: Buffer;
  readonly #icvLen: number;
  /** CCM authenticates in one pass: one update() call carrying the whole plaintext (RFC 3610 §2). */
  readonly #ccm: boolean;
  /** RFC 5282 §3.1: the IV must never repeat under one key; a 64-bit counter guarantees it. */
  #counter = 0n;

  constructor(encr: EncrSpec, keyMat: Uint8Array) {
    this.#key = createSecretKey(keyMat.subarray(0, encr.keyLen));
    const salt = keyMat.subarray(encr.keyLen);
    if (salt.length !== encr.alg.saltLen || (salt.length !== 3 && salt.length !== 4)) {
      fail('INVALID_KEY', `${encr.alg.name} salt must be ${encr.alg.saltLen} bytes, got ${salt.length}`);
    }
    this.#salt = Buffer.from(salt);
    this.#nonce = scratchNonce[salt.length];
    this.#cipher = encr.alg.nodeCipher(encr.keyBits) as AeadCipherName;
    this.#icvLen = encr.alg.icvLen;
    this.#ccm = encr.alg.mode === 'ccm';
  }

  sealedLength(plainLen: number): number {
    return 8 + plainLen + 1 + this.#icvLen; // no padding needed for AEAD (RFC 5282 §3), pad length 0
  }

  /** salt | the 8-octet IV at the start of `body` (RFC 5282 §4). */
  #nonceFor(body: Uint8Array): Buffer {
    this.#salt.copy(this.#nonce, 0);
    this.#nonce.set(body.subarray(0, 8), this.#salt.length);
    return this.#nonce;
  }

  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array {
    if (this.#counter >= 0xffffffffffffffffn) fail('IV_EXHAUSTED', 'AEAD IV counter exhausted; rekey');
    const out = Buffer.allocUnsafe(this.sealedLength(plain.length));
    out.writeBigUInt64BE(this.#counter++, 0);
    const c = createCipheriv(this.#cipher as CipherGCMTypes, this.#key, this.#nonceFor(out), {
      authTagLength: this.#icvLen,
    });
    let o = 8;
    if (this.#ccm) {
      const whole = Buffer.concat([plain, PAD_LEN_ZERO]);
      c.setAAD(aad, { plaintextLength: whole.length });
      o += c.update(whole).copy(out, o);
      whole.fill(0);
    } else {
      c.setAAD(aad);
      o += c.update(plain).copy(out, o);
      o += c.update(PAD_LEN_ZERO).copy(out, o);
    }
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
    d.setAuthTag(body.subarray(8 + ctLen));
    d.setAAD(aad, this.#ccm ? { plaintextLength: ctLen } : undefined);
    let first: Buffer;
    let last: Buffer;
    try {
      // CCM reports a bad tag from update() already; GCM and ChaCha20-Poly1305 from final().
      first = d.update(body.subarray(8, 8 + ctLen));
      try {
        last = d.final();
      } catch (e) {
        first.fill(0);
        throw e;
      }
    } catch {
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

class CipherMacSkCipher implements SkCipher {
  readonly #encKey: KeyObject;
  readonly #mac: Mac;
  readonly #cipher: string;
  readonly #icvLen: number;
  /** Padding block (16 AES-CBC, 8 3DES, 1 for CTR) and explicit IV length (16, 8, 8). */
  readonly #block: number;
  readonly #ivLen: number;
  /** AES-CTR (RFC 5930 §2): the 4-octet nonce from the key material and a per-message IV counter. */
  readonly #ctrNonce: Buffer | undefined;
  #counter = 0n;

  constructor(encr: EncrSpec, integ: IntegAlgorithm, encKey: Uint8Array, integKey: Uint8Array) {
    this.#encKey = createSecretKey(encKey.subarray(0, encr.keyLen));
    this.#ctrNonce = encr.alg.mode === 'ctr' ? Buffer.from(encKey.subarray(encr.keyLen)) : undefined;
    if (this.#ctrNonce && this.#ctrNonce.length !== 4) fail('INVALID_KEY', 'AES-CTR nonce must be 4 bytes');
    this.#mac = createMac(integ.hash, integKey);
    this.#icvLen = integ.icvLen;
    this.#cipher = encr.alg.nodeCipher(encr.keyBits);
    this.#block = encr.alg.blockLen;
    this.#ivLen = encr.alg.ivLen;
  }

  #padLen(plainLen: number): number {
    return (this.#block - ((plainLen + 1) % this.#block)) % this.#block;
  }

  sealedLength(plainLen: number): number {
    return this.#ivLen + plainLen + this.#padLen(plainLen) + 1 + this.#icvLen;
  }

  /** The node:crypto IV: the explicit IV (CBC), or nonce | IV | block counter 1 (RFC 3686 §4). */
  #nodeIv(iv: Uint8Array): Uint8Array {
    if (!this.#ctrNonce) return iv;
    const block = Buffer.alloc(16);
    this.#ctrNonce.copy(block, 0);
    block.set(iv, 4);
    block.writeUInt32BE(1, 12);
    return block;
  }

  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array {
    const padLen = this.#padLen(plain.length);
    const out = Buffer.allocUnsafe(this.sealedLength(plain.length));
    const iv = out.subarray(0, this.#ivLen);
    if (this.#ctrNonce) {
      // RFC 5930 §2 / RFC 3686 §3: the IV must not repeat under one key; a counter guarantees it.
      if (this.#counter >= 0xffffffffffffffffn) fail('IV_EXHAUSTED', 'AES-CTR IV counter exhausted; rekey');
      out.writeBigUInt64BE(this.#counter++, 0);
    } else {
      randomFillSync(iv); // RFC 7296 §3.14: CBC IVs MUST be unpredictable; random per message
    }
    const tail = Buffer.alloc(padLen + 1); // padding MAY be any value; zeros here
    tail[padLen] = padLen;
    const c = createCipheriv(this.#cipher, this.#encKey, this.#nodeIv(iv)).setAutoPadding(false);
    let o = this.#ivLen;
    o += c.update(plain).copy(out, o);
    o += c.update(tail).copy(out, o);
    o += c.final().copy(out, o);
    out.set(this.#mac(aad, out.subarray(0, o)).subarray(0, this.#icvLen), o);
    return out;
  }

  open(aad: Uint8Array, body: Uint8Array): Uint8Array {
    const icvLen = this.#icvLen;
    const ctLen = body.length - this.#ivLen - icvLen;
    if (ctLen < Math.max(1, this.#block) || ctLen % this.#block !== 0) {
      fail(
        'MALFORMED',
        `SK body of ${body.length} bytes: ciphertext is not a positive multiple of the block`,
      );
    }
    const signed = body.subarray(0, body.length - icvLen);
    const expected = this.#mac(aad, signed).subarray(0, icvLen);
    // Constant-time check BEFORE decryption (RFC 7296 §3.14: verify then decrypt).
    if (!timingSafeEqual(expected, body.subarray(body.length - icvLen))) {
      throw new CryptoError('AUTH_FAILED', 'SK payload ICV mismatch');
    }
    const iv = this.#nodeIv(body.subarray(0, this.#ivLen));
    const d = createDecipheriv(this.#cipher, this.#encKey, iv);
    d.setAutoPadding(false);
    const plain = Buffer.concat([d.update(signed.subarray(this.#ivLen)), d.final()]);
    return stripPadding(plain);
  }

  [inspect.custom](): string {
    return 'CipherMacSkCipher(<redacted>)';
  }
}
