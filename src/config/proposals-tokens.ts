// A small table of strongSwan-style proposal tokens ("aes256gcm16-prfsha256-x25519"), enough for the
// config checker to refuse typos and impossible combinations before the engine ever sees them.
// Interim: src/ike/proposals.ts (engine) will own the real parser; this table should be unified
// with it once it lands. Transform ids are the IANA ones (RFC 7296 §3.3.2) from src/codec/iana.ts.
import { DhGroup, EncrId, IntegId, PrfId } from '../codec/iana.ts';
import { editDistance } from './errors.ts';

/** 'addke': an RFC 9370 additional key exchange, written `ke1_<ke>` .. `ke7_<ke>` or `keN_none`. */
export type TokenKind = 'encr' | 'integ' | 'prf' | 'ke' | 'addke' | 'esn';

export interface Token {
  readonly kind: TokenKind;
  readonly id: number;
  readonly keyLength?: number;
  /** AEAD ciphers carry their own integrity (RFC 5282): no integ transform with them. */
  readonly aead?: boolean;
  /** Weak or deprecated (RFC 8221, RFC 8247): accepted with a warning. */
  readonly weak?: boolean;
  /** For integ tokens in IKE proposals: the PRF implied by the same hash. */
  readonly prf?: number;
  /** For addke tokens: 1..7, the Additional Key Exchange transform type is 5 + slot (RFC 9370 §2.2.1). */
  readonly slot?: number;
}

const T: Record<string, Token> = {};
for (const bits of [128, 192, 256]) {
  T[`aes${bits}`] = { kind: 'encr', id: EncrId.AES_CBC, keyLength: bits };
  T[`aes${bits}ctr`] = { kind: 'encr', id: EncrId.AES_CTR, keyLength: bits };
  T[`aes${bits}gcm`] = { kind: 'encr', id: EncrId.AES_GCM_16, keyLength: bits, aead: true };
  T[`aes${bits}gcm8`] = { kind: 'encr', id: EncrId.AES_GCM_8, keyLength: bits, aead: true };
  T[`aes${bits}gcm12`] = { kind: 'encr', id: EncrId.AES_GCM_12, keyLength: bits, aead: true };
  T[`aes${bits}gcm16`] = { kind: 'encr', id: EncrId.AES_GCM_16, keyLength: bits, aead: true };
  T[`aes${bits}ccm8`] = { kind: 'encr', id: EncrId.AES_CCM_8, keyLength: bits, aead: true };
  T[`aes${bits}ccm12`] = { kind: 'encr', id: EncrId.AES_CCM_12, keyLength: bits, aead: true };
  T[`aes${bits}ccm16`] = { kind: 'encr', id: EncrId.AES_CCM_16, keyLength: bits, aead: true };
}
T['chacha20poly1305'] = { kind: 'encr', id: EncrId.CHACHA20_POLY1305, keyLength: 256, aead: true };
T['3des'] = { kind: 'encr', id: EncrId.TRIPLE_DES, weak: true };
T['null'] = { kind: 'encr', id: EncrId.NULL, weak: true };

T['md5'] = { kind: 'integ', id: IntegId.HMAC_MD5_96, prf: PrfId.HMAC_MD5, weak: true };
T['sha1'] = { kind: 'integ', id: IntegId.HMAC_SHA1_96, prf: PrfId.HMAC_SHA1 };
T['sha256'] = { kind: 'integ', id: IntegId.HMAC_SHA2_256_128, prf: PrfId.HMAC_SHA2_256 };
T['sha384'] = { kind: 'integ', id: IntegId.HMAC_SHA2_384_192, prf: PrfId.HMAC_SHA2_384 };
T['sha512'] = { kind: 'integ', id: IntegId.HMAC_SHA2_512_256, prf: PrfId.HMAC_SHA2_512 };
T['aesxcbc'] = { kind: 'integ', id: IntegId.AES_XCBC_96, prf: PrfId.AES128_XCBC };

T['prfmd5'] = { kind: 'prf', id: PrfId.HMAC_MD5, weak: true };
T['prfsha1'] = { kind: 'prf', id: PrfId.HMAC_SHA1 };
T['prfsha256'] = { kind: 'prf', id: PrfId.HMAC_SHA2_256 };
T['prfsha384'] = { kind: 'prf', id: PrfId.HMAC_SHA2_384 };
T['prfsha512'] = { kind: 'prf', id: PrfId.HMAC_SHA2_512 };
T['prfaesxcbc'] = { kind: 'prf', id: PrfId.AES128_XCBC };

T['modp1024'] = { kind: 'ke', id: DhGroup.MODP_1024, weak: true };
T['modp1536'] = { kind: 'ke', id: DhGroup.MODP_1536, weak: true };
T['modp2048'] = { kind: 'ke', id: DhGroup.MODP_2048 };
T['modp3072'] = { kind: 'ke', id: DhGroup.MODP_3072 };
T['modp4096'] = { kind: 'ke', id: DhGroup.MODP_4096 };
T['modp6144'] = { kind: 'ke', id: DhGroup.MODP_6144 };
T['modp8192'] = { kind: 'ke', id: DhGroup.MODP_8192 };
T['ecp256'] = { kind: 'ke', id: DhGroup.ECP_256 };
T['ecp384'] = { kind: 'ke', id: DhGroup.ECP_384 };
T['ecp521'] = { kind: 'ke', id: DhGroup.ECP_521 };
T['ecp256bp'] = { kind: 'ke', id: DhGroup.ECP_256_BP };
T['ecp384bp'] = { kind: 'ke', id: DhGroup.ECP_384_BP };
T['x25519'] = { kind: 'ke', id: DhGroup.CURVE25519 };
T['curve25519'] = { kind: 'ke', id: DhGroup.CURVE25519 };
T['x448'] = { kind: 'ke', id: DhGroup.CURVE448 };
T['curve448'] = { kind: 'ke', id: DhGroup.CURVE448 };
T['mlkem512'] = { kind: 'ke', id: DhGroup.ML_KEM_512 };
T['mlkem768'] = { kind: 'ke', id: DhGroup.ML_KEM_768 };
T['mlkem1024'] = { kind: 'ke', id: DhGroup.ML_KEM_1024 };

T['esn'] = { kind: 'esn', id: 1 };
T['noesn'] = { kind: 'esn', id: 0 };

export const PROPOSAL_TOKENS: Readonly<Record<string, Token>> = Object.freeze(T);

export type ProposalFor = 'ike' | 'esp';

export interface ProposalCheck {
  readonly ok: boolean;
  /** What is wrong (errors) — first problem only, with a hint. */
  readonly message?: string;
  readonly hint?: string;
  /** Weak tokens found (for warnings). */
  readonly weak: readonly string[];
  readonly tokens: readonly Token[];
}

const EXAMPLE = { ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16' } as const;

/** Check one proposal string for an IKE or ESP SA (RFC 7296 §3.3.3 lists mandatory transforms). */
export function checkProposal(text: string, kind: ProposalFor): ProposalCheck {
  const words = text.trim().toLowerCase().split('-');
  const tokens: Token[] = [];
  const weak: string[] = [];
  const fail = (message: string, hint: string): ProposalCheck => ({ ok: false, message, hint, weak, tokens });
  for (const w of words) {
    const add = /^ke(\d+)_(.*)$/.exec(w);
    if (add) {
      const r = additionalKe(Number(add[1]), add[2]!, w);
      if (typeof r === 'string') return fail(r, 'write e.g. x25519-ke1_mlkem768 (slots ke1_ .. ke7_)');
      if (r.weak === true) weak.push(w);
      tokens.push(r);
      continue;
    }
    const tok = PROPOSAL_TOKENS[w];
    if (tok === undefined) {
      return fail(`unknown algorithm "${w}" in proposal "${text}"`, suggestToken(w, kind));
    }
    if (kind === 'ike' && tok.kind === 'esn') return fail(`"${w}" applies to ESP only`, `remove "-${w}"`);
    if (kind === 'esp' && tok.kind === 'prf') return fail(`"${w}" applies to IKE only`, `remove "-${w}"`);
    if (tok.weak === true) weak.push(w);
    tokens.push(tok);
  }
  const encr = tokens.filter((t) => t.kind === 'encr');
  const integ = tokens.filter((t) => t.kind === 'integ');
  if (encr.length === 0)
    return fail(`proposal "${text}" names no encryption algorithm`, `write e.g. ${EXAMPLE[kind]}`);
  const aead = encr.filter((t) => t.aead === true).length;
  if (aead !== 0 && aead !== encr.length) {
    return fail(`proposal "${text}" mixes AEAD and non-AEAD ciphers`, 'put them in separate proposals');
  }
  if (aead !== 0 && integ.length > 0) {
    return fail(
      `proposal "${text}" adds an integrity algorithm to an AEAD cipher`,
      'remove the integrity algorithm (RFC 5282 §8)',
    );
  }
  if (aead === 0 && integ.length === 0 && !encr.every((t) => t.id === EncrId.NULL)) {
    return fail(`proposal "${text}" needs an integrity algorithm`, 'add e.g. -sha256, or use aes256gcm16');
  }
  if (tokens.some((t) => t.kind === 'addke') && !tokens.some((t) => t.kind === 'ke')) {
    return fail(
      `proposal "${text}" has additional key exchanges but no key exchange`,
      'add the first one, e.g. -x25519-ke1_mlkem768 (RFC 9370 §2.2.1)',
    );
  }
  if (kind === 'ike') {
    if (!tokens.some((t) => t.kind === 'ke'))
      return fail(`IKE proposal "${text}" names no key exchange`, 'add e.g. -x25519');
    if (aead !== 0 && !tokens.some((t) => t.kind === 'prf')) {
      return fail(`IKE proposal "${text}" with an AEAD cipher needs a PRF`, 'add e.g. -prfsha256');
    }
    if (encr.some((t) => t.id === EncrId.NULL))
      return fail('IKE cannot use null encryption', `write e.g. ${EXAMPLE.ike}`);
  }
  return { ok: true, weak, tokens };
}

/**
 * strongSwan's RFC 9370 syntax: `ke<slot>_<key exchange>` or `ke<slot>_none` (the slot is optional),
 * slot 1..7 for the transform types ADDKE1..ADDKE7. Returns the token or what is wrong.
 */
function additionalKe(slot: number, name: string, word: string): Token | string {
  if (!(slot >= 1 && slot <= 7)) return `"${word}": additional key exchange slots are ke1_ .. ke7_`;
  if (name === 'none') return { kind: 'addke', id: DhGroup.NONE, slot };
  const tok = PROPOSAL_TOKENS[name];
  if (tok?.kind !== 'ke') return `"${word}": "${name}" is not a key exchange method`;
  return { kind: 'addke', id: tok.id, slot, ...(tok.weak === true ? { weak: true } : {}) };
}

function suggestToken(w: string, kind: ProposalFor): string {
  const names = Object.keys(PROPOSAL_TOKENS);
  let best = '';
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(w, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return bestD <= 2 ? `did you mean "${best}"?` : `known: e.g. ${EXAMPLE[kind]}; see examples/README.md`;
}
