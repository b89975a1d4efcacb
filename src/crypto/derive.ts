// IKEv2 key derivation: SKEYSEED and the IKE SA keys (RFC 7296 §2.14), IKE SA rekey (§2.18), Child
// SA KEYMAT (§2.17), and the key updates of multiple key exchanges (RFC 9370 §2.2.2, §2.2.4).
// Intermediate values are wiped; results live in KeyContainers with destroy().
import { fail } from './errors.ts';
import { prf, prfPlus } from './prf.ts';
import type { EncrSpec, IntegAlgorithm, PrfAlgorithm } from './registry.ts';
import { KeyContainer, concat, wipe } from './secret.ts';

type Prf = Pick<PrfAlgorithm, 'hash' | 'keyLen'>;

/** Key lengths (bytes) to take from prf+: encryption key including any AEAD salt, integrity key. */
export interface KeyLengths {
  readonly encrKeyLen: number;
  /** 0 for AEAD transforms (RFC 5282 §7: no SK_ai / SK_ar). */
  readonly integKeyLen: number;
}

/** Key lengths for a negotiated ENCR (+ INTEG for non-AEAD) pair; no ENCR for AH (RFC 4302). */
export function keyLengths(encr: EncrSpec | undefined, integ?: IntegAlgorithm): KeyLengths {
  if (!encr) return { encrKeyLen: 0, integKeyLen: integ?.keyLen ?? 0 };
  return { encrKeyLen: encr.keyMatLen, integKeyLen: encr.alg.aead ? 0 : (integ?.keyLen ?? 0) };
}

/**
 * RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir). A PRF with a fixed-length key (AES-XCBC-PRF-128,
 * 16 octets) takes half of its key from the start of Ni and half from the start of Nr (same section).
 */
export function skeyseed(p: Prf, ni: Uint8Array, nr: Uint8Array, gir: Uint8Array): Uint8Array {
  const half = p.hash === 'aesxcbc' ? p.keyLen / 2 : undefined;
  if (half !== undefined && (ni.length < half || nr.length < half)) {
    fail('MALFORMED', `nonces shorter than ${half} octets for a fixed-key PRF`);
  }
  const key = half === undefined ? concat(ni, nr) : concat(ni.subarray(0, half), nr.subarray(0, half));
  try {
    return prf(p.hash, key, gir);
  } finally {
    wipe(key);
  }
}

/** RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), using the new SA's PRF. */
export function rekeySkeyseed(
  p: Prf,
  skdOld: Uint8Array,
  gir: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
): Uint8Array {
  return prf(p.hash, skdOld, gir, ni, nr);
}

/** The seven IKE SA keys of RFC 7296 §2.14. */
export class IkeSaKeys extends KeyContainer {
  constructor(
    readonly skD: Uint8Array,
    readonly skAi: Uint8Array,
    readonly skAr: Uint8Array,
    readonly skEi: Uint8Array,
    readonly skEr: Uint8Array,
    readonly skPi: Uint8Array,
    readonly skPr: Uint8Array,
  ) {
    super();
  }
  protected buffers(): Uint8Array[] {
    return [this.skD, this.skAi, this.skAr, this.skEi, this.skEr, this.skPi, this.skPr];
  }
}

/**
 * Views of consecutive parts of the prf+ stream, which the keys then own together: one buffer per
 * key set instead of one per key (memory per IKE SA; destroy() wipes each view, so the whole stream).
 */
function split(buf: Uint8Array, lens: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  for (const l of lens) {
    out.push(buf.subarray(o, o + l));
    o += l;
  }
  return out;
}

function checkSpi(name: string, spi: Uint8Array): void {
  if (spi.length !== 8) fail('MALFORMED', `${name} must be 8 bytes, got ${spi.length}`);
}

/**
 * RFC 7296 §2.14:
 *   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
 * SK_d, SK_pi and SK_pr have the PRF's preferred key length.
 */
export function deriveIkeSaKeys(
  p: Prf,
  lens: KeyLengths,
  seed: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
): IkeSaKeys {
  checkSpi('SPIi', spiI);
  checkSpi('SPIr', spiR);
  const { encrKeyLen: e, integKeyLen: a } = lens;
  const sizes = [p.keyLen, a, a, e, e, p.keyLen, p.keyLen];
  const total = sizes.reduce((x, y) => x + y, 0);
  const stream = prfPlus(p.hash, seed, concat(ni, nr, spiI, spiR), total);
  const [d, ai, ar, ei, er, pi, pr] = split(stream, sizes) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  return new IkeSaKeys(d, ai, ar, ei, er, pi, pr);
}

/** Child SA keys: for traffic initiator->responder and responder->initiator (RFC 7296 §2.17). */
export class ChildSaKeys extends KeyContainer {
  constructor(
    /** Encryption key (with salt for AEAD) for initiator -> responder. */
    readonly encrI: Uint8Array,
    readonly integI: Uint8Array,
    /** Encryption key (with salt for AEAD) for responder -> initiator. */
    readonly encrR: Uint8Array,
    readonly integR: Uint8Array,
  ) {
    super();
  }
  protected buffers(): Uint8Array[] {
    return [this.encrI, this.integI, this.encrR, this.integR];
  }
}

/**
 * RFC 7296 §2.17:  KEYMAT = prf+(SK_d, Ni | Nr)  or, with PFS,  prf+(SK_d, g^ir (new) | Ni | Nr).
 * Keys are taken initiator-to-responder first, encryption before integrity (§2.17, third paragraph);
 * for AEAD the encryption key includes the salt (RFC 5282 §7.1, RFC 7634 §2).
 */
export function deriveChildSaKeys(
  p: Prf,
  lens: KeyLengths,
  skD: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  gir?: Uint8Array,
): ChildSaKeys {
  const { encrKeyLen: e, integKeyLen: a } = lens;
  const seed = gir ? concat(gir, ni, nr) : concat(ni, nr);
  const stream = prfPlus(p.hash, skD, seed, 2 * (e + a));
  wipe(seed);
  const [ei, ai, er, ar] = split(stream, [e, a, e, a]) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return new ChildSaKeys(ei, ai, er, ar);
}

/**
 * RFC 9370 §2.2.2: after the n-th additional key exchange in IKE_INTERMEDIATE, all IKE SA keys are
 * replaced:
 *   SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
 *   {SK_d(n) | SK_ai(n) | SK_ar(n) | SK_ei(n) | SK_er(n) | SK_pi(n) | SK_pr(n)}
 *                = prf+ (SKEYSEED(n), Ni | Nr | SPIi | SPIr)
 * Ni, Nr and the SPIs are those of IKE_SA_INIT; SK_d(0) is the SK_d of IKE_SA_INIT. The new keys protect
 * the next IKE_INTERMEDIATE (or IKE_AUTH); SK_p(n) authenticates it (RFC 9242 §3.3.2, see intauth.ts).
 * The caller destroys the previous key set once the exchange that used it is complete.
 */
export function additionalKeyUpdate(
  p: Prf,
  lens: KeyLengths,
  skdPrev: Uint8Array,
  skN: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
): IkeSaKeys {
  const seed = prf(p.hash, skdPrev, skN, ni, nr);
  try {
    return deriveIkeSaKeys(p, lens, seed, ni, nr, spiI, spiR);
  } finally {
    wipe(seed);
  }
}

/** SK(0) | Ni | Nr | SK(1) | ... | SK(n): the RFC 9370 §2.2.4 input for rekeys with additional exchanges. */
function multiKeInput(secrets: readonly Uint8Array[], ni: Uint8Array, nr: Uint8Array): Uint8Array {
  const [first, ...rest] = secrets;
  if (!first) fail('MALFORMED', 'at least the CREATE_CHILD_SA shared secret SK(0) is needed');
  return concat(first, ni, nr, ...rest);
}

/**
 * RFC 9370 §2.2.4, IKE SA rekey with additional key exchanges (CREATE_CHILD_SA + IKE_FOLLOWUP_KE):
 *   SKEYSEED = prf(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n))
 * with SK_d of the existing IKE SA, SK(0), Ni, Nr from CREATE_CHILD_SA, SK(1..n) from the follow-ups, and
 * the new SA's PRF. With one secret this is exactly rekeySkeyseed (RFC 7296 §2.18).
 */
export function rekeySkeyseedMulti(
  p: Prf,
  skdOld: Uint8Array,
  secrets: readonly Uint8Array[],
  ni: Uint8Array,
  nr: Uint8Array,
): Uint8Array {
  const input = multiKeInput(secrets, ni, nr);
  try {
    return prf(p.hash, skdOld, input);
  } finally {
    wipe(input);
  }
}

/**
 * RFC 9370 §2.2.4, Child SA creation or rekey with additional key exchanges:
 *   KEYMAT = prf+ (SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n))
 * split as deriveChildSaKeys does. With one secret this is the PFS case of RFC 7296 §2.17.
 */
export function deriveChildSaKeysMulti(
  p: Prf,
  lens: KeyLengths,
  skD: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  secrets: readonly Uint8Array[],
): ChildSaKeys {
  const { encrKeyLen: e, integKeyLen: a } = lens;
  const input = multiKeInput(secrets, ni, nr);
  const stream = prfPlus(p.hash, skD, input, 2 * (e + a));
  wipe(input);
  const [ei, ai, er, ar] = split(stream, [e, a, e, a]) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return new ChildSaKeys(ei, ai, er, ar);
}
