// Transform registry: the algorithms ikeway implements, with their IANA ids (src/codec/iana.ts), sizes
// and the Linux XFRM algorithm names the kernel module needs for ESP. One table per transform type;
// lookups by (type, id, key length in bits as carried in the KEY_LENGTH attribute, RFC 7296 §3.3.5).
import { DhGroup, EncrId, IntegId, PrfId, TransformType } from '../codec/iana.ts';
import type { HashName } from './prf.ts';

/** How the kernel names an ESP algorithm (struct xfrm_algo / xfrm_algo_aead / xfrm_algo_auth). */
export interface XfrmAlgName {
  readonly name: string;
  /** AEAD ICV length (xfrm_algo_aead.alg_icv_len) or HMAC truncation (xfrm_algo_auth.alg_trunc_len). */
  readonly bits?: number;
}

export interface EncrAlgorithm {
  readonly type: typeof TransformType.ENCR;
  readonly id: EncrId;
  readonly name: string;
  /** Key lengths in bits (without salt) that may be negotiated. */
  readonly keyBits: readonly number[];
  /** Whether proposals carry the KEY_LENGTH attribute (RFC 7296 §3.3.5; not for ChaCha20, RFC 7634 §2). */
  readonly keyLengthAttr: boolean;
  readonly aead: boolean;
  /** Bytes of explicit IV on the wire. */
  readonly ivLen: number;
  /** AEAD tag length in bytes (0 for non-AEAD: the INTEG transform supplies the ICV). */
  readonly icvLen: number;
  /** Cipher block size in bytes, for padding. 1 for stream-like AEADs. */
  readonly blockLen: number;
  /** Salt taken from the end of the key material: RFC 5282 §7.1 (GCM), RFC 7634 §2 (ChaCha20). */
  readonly saltLen: number;
  /** ESP kernel name. */
  readonly xfrm: XfrmAlgName;
  /** node:crypto cipher name for a key length in bits. */
  readonly nodeCipher: (keyBits: number) => string;
}

export interface PrfAlgorithm {
  readonly type: typeof TransformType.PRF;
  readonly id: PrfId;
  readonly name: string;
  readonly hash: HashName;
  /** Output length, also the preferred key length (RFC 7296 §2.13, RFC 4868 §2.1). */
  readonly outLen: number;
  readonly keyLen: number;
}

export interface IntegAlgorithm {
  readonly type: typeof TransformType.INTEG;
  readonly id: IntegId;
  readonly name: string;
  readonly hash: HashName;
  /** Key length in bytes (RFC 4868 §2.1.1: the full hash output length). */
  readonly keyLen: number;
  /** Truncated ICV length in bytes (RFC 4868 §2.1.1). */
  readonly icvLen: number;
  readonly xfrm: XfrmAlgName;
}

export type KeGroupKind = 'modp' | 'ecp' | 'montgomery';

export interface KeGroup {
  readonly type: typeof TransformType.KE;
  readonly id: DhGroup;
  readonly name: string;
  readonly kind: KeGroupKind;
  /** Length of the KE payload data (RFC 7296 §3.4, RFC 5903 §7, RFC 8031 §2). */
  readonly publicLen: number;
  /** Length of the shared secret g^ir. */
  readonly secretLen: number;
  /** node:crypto name: DH group ("modp14"), ECDH curve ("prime256v1") or key type ("x25519"). */
  readonly node: string;
}

const aesGcm16: EncrAlgorithm = {
  type: TransformType.ENCR,
  id: EncrId.AES_GCM_16,
  name: 'AES_GCM_16',
  keyBits: [128, 256],
  keyLengthAttr: true,
  aead: true,
  ivLen: 8,
  icvLen: 16,
  blockLen: 1,
  saltLen: 4,
  xfrm: { name: 'rfc4106(gcm(aes))', bits: 128 },
  nodeCipher: (bits) => `aes-${bits}-gcm`,
};

const chacha: EncrAlgorithm = {
  type: TransformType.ENCR,
  id: EncrId.CHACHA20_POLY1305,
  name: 'CHACHA20_POLY1305',
  keyBits: [256],
  keyLengthAttr: false,
  aead: true,
  ivLen: 8,
  icvLen: 16,
  blockLen: 1,
  saltLen: 4,
  xfrm: { name: 'rfc7539esp(chacha20,poly1305)', bits: 128 },
  nodeCipher: () => 'chacha20-poly1305',
};

const aesCbc: EncrAlgorithm = {
  type: TransformType.ENCR,
  id: EncrId.AES_CBC,
  name: 'AES_CBC',
  keyBits: [128, 256],
  keyLengthAttr: true,
  aead: false,
  ivLen: 16,
  icvLen: 0,
  blockLen: 16,
  saltLen: 0,
  xfrm: { name: 'cbc(aes)' },
  nodeCipher: (bits) => `aes-${bits}-cbc`,
};

export const ENCR_ALGORITHMS: readonly EncrAlgorithm[] = [aesGcm16, chacha, aesCbc];

const hmacPrf = (id: PrfId, name: string, hash: HashName, outLen: number): PrfAlgorithm => ({
  type: TransformType.PRF,
  ...{ id, name, hash, outLen, keyLen: outLen },
});

export const PRF_ALGORITHMS: readonly PrfAlgorithm[] = [
  hmacPrf(PrfId.HMAC_SHA2_256, 'PRF_HMAC_SHA2_256', 'sha256', 32),
  hmacPrf(PrfId.HMAC_SHA2_384, 'PRF_HMAC_SHA2_384', 'sha384', 48),
  hmacPrf(PrfId.HMAC_SHA2_512, 'PRF_HMAC_SHA2_512', 'sha512', 64),
];

const hmacInteg = (id: IntegId, name: string, hash: HashName, keyLen: number): IntegAlgorithm => ({
  type: TransformType.INTEG,
  ...{ id, name, hash, keyLen, icvLen: keyLen / 2 },
  xfrm: { name: `hmac(${hash})`, bits: keyLen * 4 },
});

export const INTEG_ALGORITHMS: readonly IntegAlgorithm[] = [
  hmacInteg(IntegId.HMAC_SHA2_256_128, 'AUTH_HMAC_SHA2_256_128', 'sha256', 32),
  hmacInteg(IntegId.HMAC_SHA2_384_192, 'AUTH_HMAC_SHA2_384_192', 'sha384', 48),
  hmacInteg(IntegId.HMAC_SHA2_512_256, 'AUTH_HMAC_SHA2_512_256', 'sha512', 64),
];

const group = (id: DhGroup, name: string, kind: KeGroupKind, node: string, pub: number, sec: number) =>
  ({ type: TransformType.KE, id, name, kind, node, publicLen: pub, secretLen: sec }) as const;

export const KE_GROUPS: readonly KeGroup[] = [
  // RFC 3526 MODP groups: public value and secret are padded to the modulus size (RFC 7296 §3.4).
  group(DhGroup.MODP_2048, 'MODP_2048', 'modp', 'modp14', 256, 256),
  group(DhGroup.MODP_3072, 'MODP_3072', 'modp', 'modp15', 384, 384),
  group(DhGroup.MODP_4096, 'MODP_4096', 'modp', 'modp16', 512, 512),
  // RFC 5903 §7: KE data is x | y, the shared secret is x alone.
  group(DhGroup.ECP_256, 'ECP_256', 'ecp', 'prime256v1', 64, 32),
  group(DhGroup.ECP_384, 'ECP_384', 'ecp', 'secp384r1', 96, 48),
  group(DhGroup.ECP_521, 'ECP_521', 'ecp', 'secp521r1', 132, 66),
  // RFC 8031 §2: raw little-endian u-coordinates.
  group(DhGroup.CURVE25519, 'CURVE25519', 'montgomery', 'x25519', 32, 32),
  group(DhGroup.CURVE448, 'CURVE448', 'montgomery', 'x448', 56, 56),
];

/**
 * ML-KEM (FIPS 203) as an IKEv2 key exchange method (draft-ietf-ipsecme-ikev2-mlkem, IANA "Transform
 * Type 4 - Key Exchange Method Transform IDs" 35..37, also usable in the ADDKE1..7 slots of RFC 9370).
 * Kept apart from KE_GROUPS: a KEM is not Diffie-Hellman shaped (the two KE payloads differ in length
 * and meaning), so only the role API of src/crypto/ke-roles.ts runs it.
 */
export interface KemMethod {
  readonly type: typeof TransformType.KE;
  readonly id: DhGroup;
  readonly name: string;
  readonly kind: 'mlkem';
  /** FIPS 203 §8 parameter set name. */
  readonly paramSet: 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';
  /** Initiator's KE data: the encapsulation key ek, 384k + 32 octets (FIPS 203 §8 Table 3). */
  readonly ekLen: number;
  /** Responder's KE data: the ciphertext c, 32(du k + dv) octets. */
  readonly ctLen: number;
  /** Decapsulation key dk, 768k + 96 octets (kept by the initiator only). */
  readonly dkLen: number;
  /** Shared secret K: always 32 octets. */
  readonly secretLen: 32;
}

/** FIPS 203 §8 Table 2: module rank k and compression widths du, dv give every length. */
const kem = (
  id: DhGroup,
  name: string,
  paramSet: KemMethod['paramSet'],
  k: number,
  du: number,
  dv: number,
): KemMethod => ({
  type: TransformType.KE,
  ...{ id, name, kind: 'mlkem', paramSet },
  ...{ ekLen: 384 * k + 32, ctLen: 32 * (du * k + dv), dkLen: 768 * k + 96, secretLen: 32 },
});

export const KEM_METHODS: readonly KemMethod[] = [
  kem(DhGroup.ML_KEM_512, 'ML_KEM_512', 'ML-KEM-512', 2, 10, 4),
  kem(DhGroup.ML_KEM_768, 'ML_KEM_768', 'ML-KEM-768', 3, 10, 4),
  kem(DhGroup.ML_KEM_1024, 'ML_KEM_1024', 'ML-KEM-1024', 4, 11, 5),
];

export function lookupKem(id: number): KemMethod | undefined {
  return KEM_METHODS.find((m) => m.id === id);
}

/**
 * Any key exchange method ikeway implements, DH group or KEM (RFC 9370 §2 renames "D-H" to "Key
 * Exchange Method"), with the lengths of the two KE payloads: the one the initiator sends and the
 * one the responder answers with (equal for DH).
 */
export interface KeMethodInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: KeGroupKind | 'mlkem';
  readonly initiatorShareLen: number;
  readonly responderShareLen: number;
  readonly secretLen: number;
}

export function lookupKeMethod(id: number): KeMethodInfo | undefined {
  const g = lookupKeGroup(id);
  if (g) return { ...g, initiatorShareLen: g.publicLen, responderShareLen: g.publicLen };
  const m = lookupKem(id);
  if (m) return { ...m, initiatorShareLen: m.ekLen, responderShareLen: m.ctLen };
  return undefined;
}

/** An ENCR transform resolved for one key length. */
export interface EncrSpec {
  readonly alg: EncrAlgorithm;
  readonly keyBits: number;
  /** Cipher key bytes (without salt). */
  readonly keyLen: number;
  /** Key material taken from prf+ (cipher key + salt; RFC 5282 §7.1, RFC 7634 §2). */
  readonly keyMatLen: number;
}

export function lookupEncr(id: number, keyBits?: number): EncrSpec | undefined {
  const alg = ENCR_ALGORITHMS.find((a) => a.id === id);
  if (!alg) return undefined;
  const bits = keyBits ?? (alg.keyLengthAttr ? undefined : alg.keyBits[0]);
  if (bits === undefined || !alg.keyBits.includes(bits)) return undefined;
  return { alg, keyBits: bits, keyLen: bits / 8, keyMatLen: bits / 8 + alg.saltLen };
}

export function lookupPrf(id: number): PrfAlgorithm | undefined {
  return PRF_ALGORITHMS.find((a) => a.id === id);
}

export function lookupInteg(id: number): IntegAlgorithm | undefined {
  return INTEG_ALGORITHMS.find((a) => a.id === id);
}

export function lookupKeGroup(id: number): KeGroup | undefined {
  return KE_GROUPS.find((g) => g.id === id);
}

export type TransformEntry = EncrSpec | PrfAlgorithm | IntegAlgorithm | KeGroup;

/**
 * Generic lookup by (transform type, transform id, KEY_LENGTH bits). Returns undefined for anything
 * not implemented, including a key length an ENCR transform does not allow or a key length given for a
 * transform that has none (RFC 7296 §3.3.6: such a transform must be rejected).
 */
export function lookupTransform(type: number, id: number, keyBits?: number): TransformEntry | undefined {
  switch (type) {
    case TransformType.ENCR:
      return lookupEncr(id, keyBits);
    case TransformType.PRF:
      return keyBits === undefined ? lookupPrf(id) : undefined;
    case TransformType.INTEG:
      return keyBits === undefined ? lookupInteg(id) : undefined;
    case TransformType.KE:
      return keyBits === undefined ? lookupKeGroup(id) : undefined;
    default:
      return undefined;
  }
}

/** Kernel parameters for an ESP SA (what XFRMA_ALG_AEAD / _CRYPT / _AUTH_TRUNC carry). */
export interface EspKernelAlgs {
  readonly aead?: { readonly name: string; readonly icvBits: number; readonly keyLen: number };
  readonly crypt?: { readonly name: string; readonly keyLen: number };
  readonly auth?: { readonly name: string; readonly truncBits: number; readonly keyLen: number };
}

/**
 * Map a negotiated ESP proposal to kernel algorithm names and key lengths (bytes; AEAD key lengths
 * include the salt, as the kernel's rfc4106/rfc7539esp templates expect it appended to the key).
 * Returns undefined if the combination is invalid (AEAD with INTEG, or non-AEAD without INTEG).
 */
export function espKernelAlgs(encr: EncrSpec, integ?: IntegAlgorithm): EspKernelAlgs | undefined {
  const x = encr.alg.xfrm;
  if (encr.alg.aead) {
    if (integ) return undefined; // RFC 5282 §8 / RFC 4303: AEAD is not combined with an INTEG transform
    return { aead: { name: x.name, icvBits: x.bits ?? encr.alg.icvLen * 8, keyLen: encr.keyMatLen } };
  }
  if (!integ) return undefined;
  return {
    crypt: { name: x.name, keyLen: encr.keyLen },
    auth: { name: integ.xfrm.name, truncBits: integ.xfrm.bits ?? integ.icvLen * 8, keyLen: integ.keyLen },
  };
}
