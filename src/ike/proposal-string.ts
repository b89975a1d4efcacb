// strongSwan-style proposal strings ("aes256gcm16-prfsha256-x25519", "aes256-sha256-modp2048",
// "aes256gcm16-esn") to Proposal objects, so YAML configs can be shared with swanctl.conf users.
// Grammar: algorithm keywords joined by '-'; several keywords of one type are alternatives in the same
// proposal. As in strongSwan, a string mixing combined-mode and classic ciphers yields two proposals,
// and an IKE proposal without a PRF takes the PRFs matching its integrity algorithms.
import { DhGroup, EncrId, IntegId, PrfId, ProtocolId, TransformType, EsnId } from '../codec/iana.ts';
import { ProposalSyntaxError } from './errors.ts';
import { isAead, type Proposal, type Transform } from './proposals.ts';

const t = (type: TransformType, id: number, keyLength?: number): Transform =>
  keyLength === undefined ? { type, id } : { type, id, keyLength };
const { ENCR, PRF, INTEG, KE, ESN } = TransformType;

/** ICV suffixes: octets (8/12/16) or bits (64/96/128), as strongSwan accepts both. */
const ICV: Record<string, 8 | 12 | 16> = { '8': 8, '12': 12, '16': 16, '64': 8, '96': 12, '128': 16 };
const GCM = { 8: EncrId.AES_GCM_8, 12: EncrId.AES_GCM_12, 16: EncrId.AES_GCM_16 } as const;
const CCM = { 8: EncrId.AES_CCM_8, 12: EncrId.AES_CCM_12, 16: EncrId.AES_CCM_16 } as const;

function parseEncr(w: string): Transform | undefined {
  if (w === 'chacha20poly1305') return t(ENCR, EncrId.CHACHA20_POLY1305);
  if (w === '3des') return t(ENCR, EncrId.TRIPLE_DES);
  if (w === 'null') return t(ENCR, EncrId.NULL);
  if (w === 'aes') return t(ENCR, EncrId.AES_CBC, 128);
  const m = /^(aes|camellia)(128|192|256)(ctr|gcm|ccm|gmac)?(\d+)?$/.exec(w);
  if (!m) return undefined;
  const [, family, bits, mode, icv] = m;
  const keyLength = Number(bits);
  if (family === 'camellia') return mode || icv ? undefined : t(ENCR, EncrId.CAMELLIA_CBC, keyLength);
  if (mode === undefined || mode === 'ctr' || mode === 'gmac') {
    if (icv !== undefined) return undefined;
    const id = mode === 'ctr' ? EncrId.AES_CTR : mode === 'gmac' ? EncrId.NULL_AUTH_AES_GMAC : EncrId.AES_CBC;
    return t(ENCR, id, keyLength);
  }
  const len = icv === undefined ? 16 : ICV[icv];
  if (len === undefined) return undefined;
  return t(ENCR, (mode === 'gcm' ? GCM : CCM)[len], keyLength);
}

const INTEGS: Record<string, IntegId> = {
  md5: IntegId.HMAC_MD5_96,
  sha1: IntegId.HMAC_SHA1_96,
  sha: IntegId.HMAC_SHA1_96,
  sha256: IntegId.HMAC_SHA2_256_128,
  sha2_256: IntegId.HMAC_SHA2_256_128,
  sha384: IntegId.HMAC_SHA2_384_192,
  sha2_384: IntegId.HMAC_SHA2_384_192,
  sha512: IntegId.HMAC_SHA2_512_256,
  sha2_512: IntegId.HMAC_SHA2_512_256,
  aesxcbc: IntegId.AES_XCBC_96,
  aescmac: IntegId.AES_CMAC_96,
};

const PRFS: Record<string, PrfId> = {
  prfmd5: PrfId.HMAC_MD5,
  prfsha1: PrfId.HMAC_SHA1,
  prfsha256: PrfId.HMAC_SHA2_256,
  prfsha384: PrfId.HMAC_SHA2_384,
  prfsha512: PrfId.HMAC_SHA2_512,
  prfaesxcbc: PrfId.AES128_XCBC,
  prfaescmac: PrfId.AES128_CMAC,
};

/** strongSwan derives an IKE PRF from each integrity algorithm when none is given. */
const PRF_FOR_INTEG: Partial<Record<number, PrfId>> = {
  [IntegId.HMAC_MD5_96]: PrfId.HMAC_MD5,
  [IntegId.HMAC_SHA1_96]: PrfId.HMAC_SHA1,
  [IntegId.HMAC_SHA2_256_128]: PrfId.HMAC_SHA2_256,
  [IntegId.HMAC_SHA2_384_192]: PrfId.HMAC_SHA2_384,
  [IntegId.HMAC_SHA2_512_256]: PrfId.HMAC_SHA2_512,
  [IntegId.AES_XCBC_96]: PrfId.AES128_XCBC,
  [IntegId.AES_CMAC_96]: PrfId.AES128_CMAC,
};

const GROUPS: Record<string, DhGroup> = {
  modp768: DhGroup.MODP_768,
  modp1024: DhGroup.MODP_1024,
  modp1536: DhGroup.MODP_1536,
  modp2048: DhGroup.MODP_2048,
  modp3072: DhGroup.MODP_3072,
  modp4096: DhGroup.MODP_4096,
  modp6144: DhGroup.MODP_6144,
  modp8192: DhGroup.MODP_8192,
  modp1024s160: DhGroup.MODP_1024_160,
  modp2048s224: DhGroup.MODP_2048_224,
  modp2048s256: DhGroup.MODP_2048_256,
  ecp192: DhGroup.ECP_192,
  ecp224: DhGroup.ECP_224,
  ecp256: DhGroup.ECP_256,
  ecp384: DhGroup.ECP_384,
  ecp521: DhGroup.ECP_521,
  ecp224bp: DhGroup.ECP_224_BP,
  ecp256bp: DhGroup.ECP_256_BP,
  ecp384bp: DhGroup.ECP_384_BP,
  ecp512bp: DhGroup.ECP_512_BP,
  x25519: DhGroup.CURVE25519,
  curve25519: DhGroup.CURVE25519,
  x448: DhGroup.CURVE448,
  curve448: DhGroup.CURVE448,
  mlkem512: DhGroup.ML_KEM_512,
  mlkem768: DhGroup.ML_KEM_768,
  mlkem1024: DhGroup.ML_KEM_1024,
};

function parseWord(w: string): Transform | undefined {
  const encr = parseEncr(w);
  if (encr) return encr;
  if (w in INTEGS) return t(INTEG, INTEGS[w]!);
  if (w in PRFS) return t(PRF, PRFS[w]!);
  if (w === 'esn') return t(ESN, EsnId.ESN);
  if (w === 'noesn') return t(ESN, EsnId.NO_ESN);
  // RFC 9370: "ke1_mlkem768" .. "ke7_..." are additional key exchanges (transform types 6..12).
  const ke = /^(?:ke([1-7])_)?(.+)$/.exec(w)!;
  const group = GROUPS[ke[2]!];
  if (group === undefined) return undefined;
  return t((ke[1] ? KE + Number(ke[1]) + 1 : KE) as TransformType, group);
}

export type ProposalProtocol = 'ike' | 'esp' | 'ah';
const PROTO: Record<ProposalProtocol, ProtocolId> = {
  ike: ProtocolId.IKE,
  esp: ProtocolId.ESP,
  ah: ProtocolId.AH,
};

/** Parses one proposal string into one or two proposals (numbered from `firstNumber`). */
export function parseProposal(input: string, protocol: ProposalProtocol, firstNumber = 1): Proposal[] {
  const fail = (token: string, why: string): never => {
    throw new ProposalSyntaxError(input, token, why);
  };
  const words = input.trim().toLowerCase().split('-');
  const all: Transform[] = [];
  for (const w of words) {
    if (w === '') fail(w, 'empty algorithm name');
    const tr = parseWord(w) ?? fail(w, 'unknown algorithm');
    if (protocol === 'ike' && tr.type === ESN) fail(w, 'ESN is not an IKE transform');
    if (protocol !== 'ike' && tr.type === PRF) fail(w, `a PRF is not an ${protocol.toUpperCase()} transform`);
    if (protocol === 'ah' && tr.type === ENCR) fail(w, 'AH has no encryption');
    if (!all.some((x) => x.type === tr.type && x.id === tr.id && x.keyLength === tr.keyLength)) all.push(tr);
  }
  const encrs = all.filter((x) => x.type === ENCR);
  const aead = encrs.filter((x) => isAead(x.id));
  const classic = encrs.filter((x) => !isAead(x.id));
  const others = all.filter((x) => x.type !== ENCR);
  const groups: Transform[][] = [];
  const build = (ciphers: Transform[], withInteg: boolean) => [
    ...ciphers,
    ...others.filter((x) => withInteg || x.type !== INTEG),
  ];
  if (protocol === 'ah') groups.push(others);
  else if (encrs.length === 0) fail(input, 'no encryption algorithm');
  else {
    const aeadFirst = isAead(encrs[0]!.id);
    if (aead.length > 0 && aeadFirst) groups.push(build(aead, false));
    if (classic.length > 0) groups.push(build(classic, true));
    if (aead.length > 0 && !aeadFirst) groups.push(build(aead, false));
  }
  return groups.map((transforms, i) => {
    transforms = complete(transforms, all, protocol, input, fail);
    return { number: firstNumber + i, protocol: PROTO[protocol], spi: new Uint8Array(0), transforms };
  });
}

/** Mandatory types (RFC 7296 §3.3.3) and strongSwan's defaults for missing ones. */
function complete(
  ts: Transform[],
  all: readonly Transform[],
  protocol: ProposalProtocol,
  input: string,
  fail: (token: string, why: string) => never,
): Transform[] {
  const has = (type: TransformType) => ts.some((x) => x.type === type);
  const aead = ts.some((x) => x.type === ENCR && isAead(x.id));
  if (!aead && !has(INTEG) && !ts.some((x) => x.type === ENCR && x.id === EncrId.NULL_AUTH_AES_GMAC)) {
    fail(input, 'no integrity algorithm for a non-AEAD cipher');
  }
  if (protocol === 'ike') {
    if (!has(PRF)) {
      // From every integrity word of the string, also for its AEAD half ("aes128gcm16-sha256-x25519").
      const derived = all.flatMap((x) =>
        x.type === INTEG && PRF_FOR_INTEG[x.id] ? [t(PRF, PRF_FOR_INTEG[x.id]!)] : [],
      );
      if (derived.length === 0) fail(input, 'no PRF (required with an AEAD cipher)');
      ts = [...ts, ...derived];
    }
    if (!has(KE)) fail(input, 'no key exchange group');
  } else if (!has(ESN)) {
    ts = [...ts, t(ESN, EsnId.NO_ESN)];
  }
  const order = (x: Transform) => x.type;
  return ts
    .map((x, i) => [x, i] as const)
    .sort((a, b) => order(a[0]) - order(b[0]) || a[1] - b[1])
    .map(([x]) => x);
}

/** Parses a list of proposal strings (or one comma-separated string), numbering proposals 1..n. */
export function parseProposals(input: string | readonly string[], protocol: ProposalProtocol): Proposal[] {
  const list = typeof input === 'string' ? input.split(',') : input;
  const out: Proposal[] = [];
  for (const s of list) out.push(...parseProposal(s, protocol, out.length + 1));
  if (out.length === 0) throw new ProposalSyntaxError(String(input), '', 'no proposals');
  return out;
}

const NAMES = new Map<string, string>();
for (const [name, id] of Object.entries(INTEGS))
  NAMES.set(`${INTEG}/${id}`, NAMES.get(`${INTEG}/${id}`) ?? name);
for (const [name, id] of Object.entries(PRFS)) NAMES.set(`${PRF}/${id}`, name);
for (const [name, id] of Object.entries(GROUPS))
  if (!NAMES.has(`${KE}/${id}`)) NAMES.set(`${KE}/${id}`, name);

function formatTransform(x: Transform): string {
  if (x.type === ENCR) {
    const k = x.keyLength ?? '';
    const byId: Partial<Record<number, string>> = {
      [EncrId.AES_CBC]: `aes${k}`,
      [EncrId.AES_CTR]: `aes${k}ctr`,
      [EncrId.AES_GCM_8]: `aes${k}gcm8`,
      [EncrId.AES_GCM_12]: `aes${k}gcm12`,
      [EncrId.AES_GCM_16]: `aes${k}gcm16`,
      [EncrId.AES_CCM_8]: `aes${k}ccm8`,
      [EncrId.AES_CCM_12]: `aes${k}ccm12`,
      [EncrId.AES_CCM_16]: `aes${k}ccm16`,
      [EncrId.NULL_AUTH_AES_GMAC]: `aes${k}gmac`,
      [EncrId.CAMELLIA_CBC]: `camellia${k}`,
      [EncrId.CHACHA20_POLY1305]: 'chacha20poly1305',
      [EncrId.TRIPLE_DES]: '3des',
      [EncrId.NULL]: 'null',
    };
    return byId[x.id] ?? `encr${x.id}${x.keyLength ? `_${x.keyLength}` : ''}`;
  }
  if (x.type === ESN) return x.id === EsnId.ESN ? 'esn' : 'noesn';
  if (x.type > KE) return `ke${x.type - KE - 1}_${NAMES.get(`${KE}/${x.id}`) ?? x.id}`;
  return NAMES.get(`${x.type}/${x.id}`) ?? `t${x.type}_${x.id}`;
}

/** strongSwan-style rendering for logs and `ikeway status`, e.g. "aes256gcm16-prfsha256-x25519". */
export function formatProposal(p: Proposal): string {
  return p.transforms.map(formatTransform).join('-');
}
