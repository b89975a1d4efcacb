// The config checker for strongSwan-style proposal strings ("aes256gcm16-prfsha256-x25519"): it refuses
// typos and impossible combinations before the engine ever sees them. What a word means comes from
// the one token grammar, src/crypto/proposal-tokens.ts (the engine's src/ike/proposal-string.ts reads
// the same); this file keeps which words a config may use and which of them are weak.
import { DhGroup, EncrId, TransformType } from '../codec/iana.ts';
import { PRF_FOR_INTEG, isAead, parseToken } from '../crypto/proposal-tokens.ts';
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

/**
 * The words a config file may use today (a subset of the grammar; which words the config accepts is
 * a policy decision kept here), with the weak or deprecated ones (RFC 8221, RFC 8247) flagged.
 */
const ACCEPTED: readonly string[] = [
  ...[128, 192, 256].flatMap((bits) =>
    ['', 'ctr', 'gcm', 'gcm8', 'gcm12', 'gcm16', 'ccm8', 'ccm12', 'ccm16'].map((m) => `aes${bits}${m}`),
  ),
  'chacha20poly1305',
  '3des',
  'null',
  ...['md5', 'sha1', 'sha256', 'sha384', 'sha512', 'aesxcbc'],
  ...['prfmd5', 'prfsha1', 'prfsha256', 'prfsha384', 'prfsha512', 'prfaesxcbc'],
  ...['modp1024', 'modp1536', 'modp2048', 'modp3072', 'modp4096', 'modp6144', 'modp8192'],
  ...['ecp256', 'ecp384', 'ecp521', 'ecp256bp', 'ecp384bp'],
  ...['x25519', 'curve25519', 'x448', 'curve448', 'mlkem512', 'mlkem768', 'mlkem1024'],
  'esn',
  'noesn',
];
const WEAK: ReadonlySet<string> = new Set(['3des', 'null', 'md5', 'prfmd5', 'modp1024', 'modp1536']);
const KIND: Partial<Record<number, TokenKind>> = {
  [TransformType.ENCR]: 'encr',
  [TransformType.INTEG]: 'integ',
  [TransformType.PRF]: 'prf',
  [TransformType.KE]: 'ke',
  [TransformType.ESN]: 'esn',
};

function token(word: string): Token {
  const tr = parseToken(word);
  const kind = tr && KIND[tr.type];
  if (tr === undefined || kind === undefined) throw new Error(`config token "${word}" is not in the grammar`);
  const prf = kind === 'integ' ? PRF_FOR_INTEG[tr.id] : undefined;
  return {
    kind,
    id: tr.id,
    ...(tr.keyLength !== undefined && { keyLength: tr.keyLength }),
    ...(kind === 'encr' && isAead(tr.id) && { aead: true }),
    ...(WEAK.has(word) && { weak: true }),
    ...(prf !== undefined && { prf }),
  };
}

const T: Record<string, Token> = {};
for (const w of ACCEPTED) T[w] = token(w);

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
