// The one grammar of strongSwan-style algorithm tokens ("aes256gcm16", "prfsha256", "x25519",
// "ke1_mlkem768", "esn"): one word names one transform, type and IANA id (RFC 7296 §3.3.2, RFC 9370
// for the additional key exchanges) plus a key length for ciphers with variable keys (§3.3.5).
// Its users: src/ike/proposal-string.ts builds Proposals from strings of these words, and
// src/config/proposals-tokens.ts checks the words a config file may use. Both read words here; what a
// whole proposal string means (AEAD split, PRF defaults) stays with them.
import { DhGroup, EncrId, EsnId, IntegId, PrfId, TransformType } from '../codec/iana.ts';

/** The transform one word names (the shape of src/ike `Transform`). */
export interface TokenTransform {
  readonly type: TransformType;
  readonly id: number;
  /** KEY_LENGTH attribute in bits (RFC 7296 §3.3.5), for ciphers with variable key sizes. */
  readonly keyLength?: number;
}

const t = (type: TransformType, id: number, keyLength?: number): TokenTransform =>
  keyLength === undefined ? { type, id } : { type, id, keyLength };
const { ENCR, PRF, INTEG, KE, ESN } = TransformType;

/** RFC 5282, RFC 7634, RFC 4543: combined-mode ciphers, which take no (or a NONE) INTEG transform. */
const AEAD_IDS: ReadonlySet<number> = new Set([
  EncrId.AES_CCM_8,
  EncrId.AES_CCM_12,
  EncrId.AES_CCM_16,
  EncrId.AES_GCM_8,
  EncrId.AES_GCM_12,
  EncrId.AES_GCM_16,
  EncrId.NULL_AUTH_AES_GMAC,
  EncrId.CAMELLIA_CCM_8,
  EncrId.CAMELLIA_CCM_12,
  EncrId.CAMELLIA_CCM_16,
  EncrId.CHACHA20_POLY1305,
  EncrId.AES_CCM_8_IIV,
  EncrId.AES_GCM_16_IIV,
  EncrId.CHACHA20_POLY1305_IIV,
]);

export function isAead(encrId: number): boolean {
  return AEAD_IDS.has(encrId);
}

/** ICV suffixes: octets (8/12/16) or bits (64/96/128), as strongSwan accepts both; none means 16. */
const ICV: ReadonlyMap<string, 8 | 12 | 16> = new Map([
  ['', 16],
  ['8', 8],
  ['12', 12],
  ['16', 16],
  ['64', 8],
  ['96', 12],
  ['128', 16],
]);
const GCM = { 8: EncrId.AES_GCM_8, 12: EncrId.AES_GCM_12, 16: EncrId.AES_GCM_16 } as const;
const CCM = { 8: EncrId.AES_CCM_8, 12: EncrId.AES_CCM_12, 16: EncrId.AES_CCM_16 } as const;

/**
 * Every word of the grammar and the transform it names, in one Map (never a plain object: a word like
 * "constructor" or "toString" must not match a built-in property). Built once from the families below,
 * so tools and tests can enumerate the whole grammar (grammarWords()).
 */
const WORDS = new Map<string, TokenTransform>();
const add = (w: string, x: TokenTransform) => {
  if (!WORDS.has(w)) WORDS.set(w, x);
};

// Ciphers (RFC 7296 §3.3.2 Transform Type 1).
add('aes', t(ENCR, EncrId.AES_CBC, 128));
for (const bits of [128, 192, 256]) {
  add(`aes${bits}`, t(ENCR, EncrId.AES_CBC, bits));
  add(`aes${bits}ctr`, t(ENCR, EncrId.AES_CTR, bits));
  add(`aes${bits}gmac`, t(ENCR, EncrId.NULL_AUTH_AES_GMAC, bits));
  for (const [suffix, len] of ICV) {
    add(`aes${bits}gcm${suffix}`, t(ENCR, GCM[len], bits));
    add(`aes${bits}ccm${suffix}`, t(ENCR, CCM[len], bits));
  }
  add(`camellia${bits}`, t(ENCR, EncrId.CAMELLIA_CBC, bits));
}
add('chacha20poly1305', t(ENCR, EncrId.CHACHA20_POLY1305));
add('3des', t(ENCR, EncrId.TRIPLE_DES));
add('null', t(ENCR, EncrId.NULL));

const INTEGS: ReadonlyArray<readonly [string, IntegId]> = [
  ['md5', IntegId.HMAC_MD5_96],
  ['sha1', IntegId.HMAC_SHA1_96],
  ['sha', IntegId.HMAC_SHA1_96],
  ['sha256', IntegId.HMAC_SHA2_256_128],
  ['sha2_256', IntegId.HMAC_SHA2_256_128],
  ['sha384', IntegId.HMAC_SHA2_384_192],
  ['sha2_384', IntegId.HMAC_SHA2_384_192],
  ['sha512', IntegId.HMAC_SHA2_512_256],
  ['sha2_512', IntegId.HMAC_SHA2_512_256],
  ['aesxcbc', IntegId.AES_XCBC_96],
  ['aescmac', IntegId.AES_CMAC_96],
];

const PRFS: ReadonlyArray<readonly [string, PrfId]> = [
  ['prfmd5', PrfId.HMAC_MD5],
  ['prfsha1', PrfId.HMAC_SHA1],
  ['prfsha256', PrfId.HMAC_SHA2_256],
  ['prfsha384', PrfId.HMAC_SHA2_384],
  ['prfsha512', PrfId.HMAC_SHA2_512],
  ['prfaesxcbc', PrfId.AES128_XCBC],
  ['prfaescmac', PrfId.AES128_CMAC],
];

/** The PRF of the same hash as an integrity algorithm (strongSwan's default IKE PRF when none is given). */
const PRF_OF_INTEG: ReadonlyMap<number, PrfId> = new Map([
  [IntegId.HMAC_MD5_96, PrfId.HMAC_MD5],
  [IntegId.HMAC_SHA1_96, PrfId.HMAC_SHA1],
  [IntegId.HMAC_SHA2_256_128, PrfId.HMAC_SHA2_256],
  [IntegId.HMAC_SHA2_384_192, PrfId.HMAC_SHA2_384],
  [IntegId.HMAC_SHA2_512_256, PrfId.HMAC_SHA2_512],
  [IntegId.AES_XCBC_96, PrfId.AES128_XCBC],
  [IntegId.AES_CMAC_96, PrfId.AES128_CMAC],
]);

/** The same, indexed by number (numeric keys only; kept for callers that index). */
export const PRF_FOR_INTEG: Readonly<Partial<Record<number, PrfId>>> = Object.freeze(
  Object.assign(Object.create(null) as Record<number, PrfId>, Object.fromEntries(PRF_OF_INTEG)),
);

/** The PRF implied by an integrity algorithm, if any. */
export function prfForInteg(integId: number): PrfId | undefined {
  return PRF_OF_INTEG.get(integId);
}

const GROUPS: ReadonlyArray<readonly [string, DhGroup]> = [
  ['modp768', DhGroup.MODP_768],
  ['modp1024', DhGroup.MODP_1024],
  ['modp1536', DhGroup.MODP_1536],
  ['modp2048', DhGroup.MODP_2048],
  ['modp3072', DhGroup.MODP_3072],
  ['modp4096', DhGroup.MODP_4096],
  ['modp6144', DhGroup.MODP_6144],
  ['modp8192', DhGroup.MODP_8192],
  ['modp1024s160', DhGroup.MODP_1024_160],
  ['modp2048s224', DhGroup.MODP_2048_224],
  ['modp2048s256', DhGroup.MODP_2048_256],
  ['ecp192', DhGroup.ECP_192],
  ['ecp224', DhGroup.ECP_224],
  ['ecp256', DhGroup.ECP_256],
  ['ecp384', DhGroup.ECP_384],
  ['ecp521', DhGroup.ECP_521],
  ['ecp224bp', DhGroup.ECP_224_BP],
  ['ecp256bp', DhGroup.ECP_256_BP],
  ['ecp384bp', DhGroup.ECP_384_BP],
  ['ecp512bp', DhGroup.ECP_512_BP],
  ['x25519', DhGroup.CURVE25519],
  ['curve25519', DhGroup.CURVE25519],
  ['x448', DhGroup.CURVE448],
  ['curve448', DhGroup.CURVE448],
  ['mlkem512', DhGroup.ML_KEM_512],
  ['mlkem768', DhGroup.ML_KEM_768],
  ['mlkem1024', DhGroup.ML_KEM_1024],
];

for (const [w, id] of INTEGS) add(w, t(INTEG, id));
for (const [w, id] of PRFS) add(w, t(PRF, id));
add('esn', t(ESN, EsnId.ESN));
add('noesn', t(ESN, EsnId.NO_ESN));
for (const [w, id] of GROUPS) add(w, t(KE, id));
// RFC 9370: "ke1_mlkem768" .. "ke7_..." are additional key exchanges (transform types 6..12).
for (let n = 1; n <= 7; n++) {
  for (const [w, id] of GROUPS) add(`ke${n}_${w}`, t((KE + n + 1) as TransformType, id));
  // "keN_none": the slot is optional (RFC 9370 §2.2.1: transform ID 0, NONE).
  add(`ke${n}_none`, t((KE + n + 1) as TransformType, 0));
}

/** The transform one lower-case word names, or undefined for a word the grammar does not know. */
export function parseToken(w: string): TokenTransform | undefined {
  return WORDS.get(w);
}

/** Every word the grammar knows, in a stable order (ciphers, integrity, PRFs, ESN, groups, ke1_..ke7_). */
export function grammarWords(): readonly string[] {
  return [...WORDS.keys()];
}

const NAMES = new Map<string, string>();
for (const [name, id] of INTEGS) if (!NAMES.has(`${INTEG}/${id}`)) NAMES.set(`${INTEG}/${id}`, name);
for (const [name, id] of PRFS) NAMES.set(`${PRF}/${id}`, name);
for (const [name, id] of GROUPS) if (!NAMES.has(`${KE}/${id}`)) NAMES.set(`${KE}/${id}`, name);

/** The word for a transform (the first of its spellings), or a numeric fallback for logs. */
export function formatToken(x: TokenTransform): string {
  if (x.type === ENCR) {
    const k = x.keyLength ?? '';
    const byId = new Map<number, string>([
      [EncrId.AES_CBC, `aes${k}`],
      [EncrId.AES_CTR, `aes${k}ctr`],
      [EncrId.AES_GCM_8, `aes${k}gcm8`],
      [EncrId.AES_GCM_12, `aes${k}gcm12`],
      [EncrId.AES_GCM_16, `aes${k}gcm16`],
      [EncrId.AES_CCM_8, `aes${k}ccm8`],
      [EncrId.AES_CCM_12, `aes${k}ccm12`],
      [EncrId.AES_CCM_16, `aes${k}ccm16`],
      [EncrId.NULL_AUTH_AES_GMAC, `aes${k}gmac`],
      [EncrId.CAMELLIA_CBC, `camellia${k}`],
      [EncrId.CHACHA20_POLY1305, 'chacha20poly1305'],
      [EncrId.TRIPLE_DES, '3des'],
      [EncrId.NULL, 'null'],
    ]);
    return byId.get(x.id) ?? `encr${x.id}${x.keyLength ? `_${x.keyLength}` : ''}`;
  }
  if (x.type === ESN) return x.id === EsnId.ESN ? 'esn' : 'noesn';
  if (x.type > KE)
    return `ke${x.type - KE - 1}_${x.id === 0 ? 'none' : (NAMES.get(`${KE}/${x.id}`) ?? x.id)}`;
  return NAMES.get(`${x.type}/${x.id}`) ?? `t${x.type}_${x.id}`;
}
