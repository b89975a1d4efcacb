// Transform registry: the algorithms ikeway implements, with their IANA ids (src/codec/iana.ts), sizes
// and the Linux XFRM algorithm names the kernel module needs for ESP. One table per transform type;
// lookups by (type, id, key length in bits as carried in the KEY_LENGTH attribute, RFC 7296 §3.3.5).
import { DhGroup, EncrId, IntegId, PrfId, TransformType } from '../codec/iana.ts';
import { getCiphers } from 'node:crypto';
import type { PrfName } from './prf.ts';

/** How the kernel names an ESP algorithm (struct xfrm_algo / xfrm_algo_aead / xfrm_algo_auth). */
export interface XfrmAlgName {
  readonly name: string;
  /** AEAD ICV length (xfrm_algo_aead.alg_icv_len) or HMAC truncation (xfrm_algo_auth.alg_trunc_len). */
  readonly bits?: number;
}

export type EncrMode = 'cbc' | 'ctr' | 'gcm' | 'ccm' | 'chacha' | 'null';

export interface EncrAlgorithm {
  readonly type: typeof TransformType.ENCR;
  readonly id: EncrId;
  readonly name: string;
  /** How the cipher is run: its node:crypto mode and the layout of IV, salt and ICV. */
  readonly mode: EncrMode;
  /** Only for ESP (NULL encryption, RFC 2410): never an IKE SA's cipher (RFC 7296 §5). */
  readonly espOnly?: boolean;
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
  /** Salt taken from the end of the key material: RFC 5282 §7.1 (GCM 4, CCM 3), RFC 7634 §2 (ChaCha20),
   *  RFC 3686 §5.1 / RFC 5930 §2 (the CTR nonce, 4). */
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
  readonly hash: PrfName;
  /** Output length, also the preferred key length (RFC 7296 §2.13, RFC 4868 §2.1). */
  readonly outLen: number;
  readonly keyLen: number;
}

export interface IntegAlgorithm {
  readonly type: typeof TransformType.INTEG;
  readonly id: IntegId;
  readonly name: string;
  readonly hash: PrfName;
  /** Key length in bytes (RFC 4868 §2.1.1: the full hash output length; RFC 3566: 16 for XCBC). */
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

/** node:crypto's OpenSSL may drop 3DES (a legacy cipher); offer it only if it is there. */
export const HAVE_3DES: boolean = getCiphers().includes('des-ede3-cbc');

const AES_BITS = [128, 192, 256] as const;
const encr = (
  x: Omit<EncrAlgorithm, 'type' | 'keyLengthAttr' | 'aead' | 'saltLen'> &
    Partial<Pick<EncrAlgorithm, 'keyLengthAttr' | 'saltLen'>>,
): EncrAlgorithm => ({
  type: TransformType.ENCR,
  keyLengthAttr: true,
  saltLen: 0,
  aead: x.mode === 'gcm' || x.mode === 'ccm' || x.mode === 'chacha',
  ...x,
});

/** RFC 4106 (ESP) / RFC 5282 (IKE): AES-GCM with an 8, 12 or 16 octet ICV, 4-octet salt. */
const aesGcm = (id: EncrId, icv: number): EncrAlgorithm =>
  encr({
    ...{ id, name: `AES_GCM_${icv}`, mode: 'gcm', keyBits: AES_BITS, ivLen: 8, icvLen: icv, blockLen: 1 },
    saltLen: 4,
    xfrm: { name: 'rfc4106(gcm(aes))', bits: icv * 8 },
    nodeCipher: (bits) => `aes-${bits}-gcm`,
  });

/** RFC 4309 (ESP) / RFC 5282 (IKE): AES-CCM with an 8, 12 or 16 octet ICV, 3-octet salt. */
const aesCcm = (id: EncrId, icv: number): EncrAlgorithm =>
  encr({
    ...{ id, name: `AES_CCM_${icv}`, mode: 'ccm', keyBits: AES_BITS, ivLen: 8, icvLen: icv, blockLen: 1 },
    saltLen: 3,
    xfrm: { name: 'rfc4309(ccm(aes))', bits: icv * 8 },
    nodeCipher: (bits) => `aes-${bits}-ccm`,
  });

export const ENCR_ALGORITHMS: readonly EncrAlgorithm[] = [
  aesGcm(EncrId.AES_GCM_16, 16),
  aesGcm(EncrId.AES_GCM_12, 12),
  aesGcm(EncrId.AES_GCM_8, 8),
  aesCcm(EncrId.AES_CCM_16, 16),
  aesCcm(EncrId.AES_CCM_12, 12),
  aesCcm(EncrId.AES_CCM_8, 8),
  // RFC 7634 §2: no KEY_LENGTH attribute, 4-octet salt.
  encr({
    ...{ id: EncrId.CHACHA20_POLY1305, name: 'CHACHA20_POLY1305', mode: 'chacha', keyBits: [256] },
    ...{ keyLengthAttr: false, ivLen: 8, icvLen: 16, blockLen: 1, saltLen: 4 },
    xfrm: { name: 'rfc7539esp(chacha20,poly1305)', bits: 128 },
    nodeCipher: () => 'chacha20-poly1305',
  }),
  encr({
    ...{ id: EncrId.AES_CBC, name: 'AES_CBC', mode: 'cbc', keyBits: AES_BITS },
    ...{ ivLen: 16, icvLen: 0, blockLen: 16 },
    xfrm: { name: 'cbc(aes)' },
    nodeCipher: (bits) => `aes-${bits}-cbc`,
  }),
  // RFC 3686 (ESP) / RFC 5930 (IKE): the key is followed by a 4-octet nonce; 8-octet IV; no padding
  // beyond the pad-length octet in IKE (a stream mode).
  encr({
    ...{ id: EncrId.AES_CTR, name: 'AES_CTR', mode: 'ctr', keyBits: AES_BITS },
    ...{ ivLen: 8, icvLen: 0, blockLen: 1, saltLen: 4 },
    xfrm: { name: 'rfc3686(ctr(aes))' },
    nodeCipher: (bits) => `aes-${bits}-ctr`,
  }),
  // RFC 2451: 3DES-CBC, 192-bit key (no KEY_LENGTH attribute), 8-octet blocks; weak (RFC 8221 §5).
  ...(HAVE_3DES
    ? [
        encr({
          ...{ id: EncrId.TRIPLE_DES, name: '3DES', mode: 'cbc', keyBits: [192], keyLengthAttr: false },
          ...{ ivLen: 8, icvLen: 0, blockLen: 8 },
          xfrm: { name: 'cbc(des3_ede)' },
          nodeCipher: () => 'des-ede3-cbc',
        }),
      ]
    : []),
  // RFC 2410: ESP without confidentiality; never for IKE (RFC 7296 §5).
  encr({
    ...{ id: EncrId.NULL, name: 'NULL', mode: 'null', keyBits: [0], keyLengthAttr: false },
    ...{ ivLen: 0, icvLen: 0, blockLen: 4, espOnly: true },
    xfrm: { name: 'ecb(cipher_null)' },
    nodeCipher: () => '',
  }),
];

const hmacPrf = (id: PrfId, name: string, hash: PrfName, outLen: number): PrfAlgorithm => ({
  type: TransformType.PRF,
  ...{ id, name, hash, outLen, keyLen: outLen },
});

export const PRF_ALGORITHMS: readonly PrfAlgorithm[] = [
  hmacPrf(PrfId.HMAC_SHA2_256, 'PRF_HMAC_SHA2_256', 'sha256', 32),
  hmacPrf(PrfId.HMAC_SHA2_384, 'PRF_HMAC_SHA2_384', 'sha384', 48),
  hmacPrf(PrfId.HMAC_SHA2_512, 'PRF_HMAC_SHA2_512', 'sha512', 64),
  // RFC 2104 / RFC 7296 §3.3.2: HMAC-SHA1 and HMAC-MD5 PRFs (weak, RFC 8247 §2.3).
  hmacPrf(PrfId.HMAC_SHA1, 'PRF_HMAC_SHA1', 'sha1', 20),
  hmacPrf(PrfId.HMAC_MD5, 'PRF_HMAC_MD5', 'md5', 16),
  // RFC 4434: AES-XCBC-PRF-128, 16-octet output and preferred key.
  hmacPrf(PrfId.AES128_XCBC, 'PRF_AES128_XCBC', 'aesxcbc', 16),
];

const hmacInteg = (
  id: IntegId,
  name: string,
  hash: PrfName,
  keyLen: number,
  icvLen: number,
): IntegAlgorithm => ({
  type: TransformType.INTEG,
  ...{ id, name, hash, keyLen, icvLen },
  xfrm: { name: hash === 'aesxcbc' ? 'xcbc(aes)' : `hmac(${hash})`, bits: icvLen * 8 },
});

export const INTEG_ALGORITHMS: readonly IntegAlgorithm[] = [
  hmacInteg(IntegId.HMAC_SHA2_256_128, 'AUTH_HMAC_SHA2_256_128', 'sha256', 32, 16),
  hmacInteg(IntegId.HMAC_SHA2_384_192, 'AUTH_HMAC_SHA2_384_192', 'sha384', 48, 24),
  hmacInteg(IntegId.HMAC_SHA2_512_256, 'AUTH_HMAC_SHA2_512_256', 'sha512', 64, 32),
  // RFC 2404 HMAC-SHA1-96 and RFC 2403 HMAC-MD5-96 (weak, RFC 8221 §6, RFC 8247 §3.3).
  hmacInteg(IntegId.HMAC_SHA1_96, 'AUTH_HMAC_SHA1_96', 'sha1', 20, 12),
  hmacInteg(IntegId.HMAC_MD5_96, 'AUTH_HMAC_MD5_96', 'md5', 16, 12),
  // RFC 3566: AES-XCBC-MAC-96, 128-bit key.
  hmacInteg(IntegId.AES_XCBC_96, 'AUTH_AES_XCBC_96', 'aesxcbc', 16, 12),
];

const group = (id: DhGroup, name: string, kind: KeGroupKind, node: string, pub: number, sec: number) =>
  ({ type: TransformType.KE, id, name, kind, node, publicLen: pub, secretLen: sec }) as const;

export const KE_GROUPS: readonly KeGroup[] = [
  // RFC 3526 MODP groups: public value and secret are padded to the modulus size (RFC 7296 §3.4).
  group(DhGroup.MODP_2048, 'MODP_2048', 'modp', 'modp14', 256, 256),
  group(DhGroup.MODP_3072, 'MODP_3072', 'modp', 'modp15', 384, 384),
  group(DhGroup.MODP_4096, 'MODP_4096', 'modp', 'modp16', 512, 512),
  group(DhGroup.MODP_6144, 'MODP_6144', 'modp', 'modp17', 768, 768),
  group(DhGroup.MODP_8192, 'MODP_8192', 'modp', 'modp18', 1024, 1024),
  // RFC 2409 §6.2 (group 2) and RFC 3526 §2 (group 5): weak (RFC 8247 §2.4).
  group(DhGroup.MODP_1024, 'MODP_1024', 'modp', 'modp2', 128, 128),
  group(DhGroup.MODP_1536, 'MODP_1536', 'modp', 'modp5', 192, 192),
  // RFC 5903 §7: KE data is x | y, the shared secret is x alone.
  group(DhGroup.ECP_256, 'ECP_256', 'ecp', 'prime256v1', 64, 32),
  group(DhGroup.ECP_384, 'ECP_384', 'ecp', 'secp384r1', 96, 48),
  group(DhGroup.ECP_521, 'ECP_521', 'ecp', 'secp521r1', 132, 66),
  // RFC 6954 §4: Brainpool groups 28/29 encode like RFC 5903 (x | y; the secret is x).
  group(DhGroup.ECP_256_BP, 'ECP_256_BP', 'ecp', 'brainpoolP256r1', 64, 32),
  group(DhGroup.ECP_384_BP, 'ECP_384_BP', 'ecp', 'brainpoolP384r1', 96, 48),
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
 * The kernel's AH algorithm for a negotiated INTEG transform (RFC 4302 §3.3.2: AH carries integrity
 * only). Linux AH takes XFRMA_ALG_AUTH(_TRUNC) alone: an AEAD such as rfc4543(gcm(aes)) (AES-GMAC,
 * RFC 4543) is refused for AH by the kernel, so GMAC is not offered for AH.
 */
export function ahKernelAuth(integ: IntegAlgorithm): { readonly name: string; readonly truncBits: number } {
  return { name: integ.xfrm.name, truncBits: integ.xfrm.bits ?? integ.icvLen * 8 };
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
    // RFC 3686 §5.1: the kernel's rfc3686 template takes the nonce appended to the key, like the salt.
    crypt: { name: x.name, keyLen: encr.keyMatLen },
    auth: { name: integ.xfrm.name, truncBits: integ.xfrm.bits ?? integ.icvLen * 8, keyLen: integ.keyLen },
  };
}
