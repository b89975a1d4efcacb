// The config checker for strongSwan-style proposal strings ("aes256gcm16-prfsha256-x25519"): it refuses
// typos and impossible combinations before the engine ever sees them. What a word means comes from
// the one token grammar, src/crypto/proposal-tokens.ts (the engine's src/ike/proposal-string.ts reads
// the same); this file keeps which words a config may use (those the engine implements, from
// src/crypto/registry.ts) and which of them are weak, and why.
import { DhGroup, EncrId, TransformType } from '../codec/iana.ts';
import { formatToken, grammarWords, isAead, parseToken, prfForInteg } from '../crypto/proposal-tokens.ts';
import { HAVE_3DES, lookupEncr, lookupInteg, lookupKeMethod, lookupPrf } from '../crypto/registry.ts';
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
 * Why a weak word is weak, for the warning of `ikeway check` (RFC 8221 for ESP, RFC 8247 for IKE).
 * These are accepted only when spelled out; the defaults (src/config/spec.ts) use none of them.
 */
const WEAK: ReadonlyMap<string, string> = new Map([
  ['md5', 'HMAC-MD5-96 is broken (RFC 8221 §6 and RFC 8247 §3.3: MUST NOT)'],
  ['prfmd5', 'PRF_HMAC_MD5 is broken (RFC 8247 §3.2: MUST NOT)'],
  ['sha1', 'SHA-1 collisions are practical; HMAC-SHA1-96 is deprecated (RFC 8221 §6, RFC 8247 §3.3: MUST-)'],
  ['sha', 'SHA-1 collisions are practical; HMAC-SHA1-96 is deprecated (RFC 8221 §6, RFC 8247 §3.3: MUST-)'],
  ['prfsha1', 'PRF_HMAC_SHA1 is deprecated (RFC 8247 §3.2: MUST-)'],
  [
    '3des',
    '3DES has 64-bit blocks (Sweet32) and is deprecated (RFC 8221 §5: SHOULD NOT, RFC 8247 §3.1: MAY)',
  ],
  [
    'null',
    'ESP NULL encryption gives no confidentiality (RFC 8221 §5: MAY, only for integrity-only traffic)',
  ],
  [
    'modp1024',
    'MODP-1024 (group 2) is within reach of precomputation attacks (Logjam; RFC 8247 §2.4: SHOULD NOT)',
  ],
  ['modp1536', 'MODP-1536 (group 5) is too small for today (RFC 8247 §2.4: SHOULD NOT)'],
]);

const KIND: ReadonlyMap<number, TokenKind> = new Map([
  [TransformType.ENCR, 'encr'],
  [TransformType.INTEG, 'integ'],
  [TransformType.PRF, 'prf'],
  [TransformType.KE, 'ke'],
  [TransformType.ESN, 'esn'],
  ...[1, 2, 3, 4, 5, 6, 7].map((n) => [TransformType.KE + n + 1, 'addke'] as const),
]);

const KIND_NAME: Readonly<Record<TokenKind, string>> = {
  encr: 'ciphers',
  integ: 'integrity algorithms',
  prf: 'PRFs',
  ke: 'key exchanges',
  addke: 'key exchanges (ke1_ .. ke7_ prefix them, or ke1_none ..)',
  esn: 'ESN settings',
};

/**
 * Whether the engine implements the transform a grammar word names; if not, why (the config refuses
 * it with this reason). Acceptance is derived from the algorithm registry, so a word `check` accepts
 * is one both engines can negotiate and run (the parity test in test/exchange proves it per word).
 */
function refusal(word: string): { kind: TokenKind | undefined; why?: string } {
  const tr = parseToken(word);
  if (tr === undefined) return { kind: undefined, why: 'is not an algorithm name' };
  if (tr.type >= TransformType.ADDKE1 && tr.type <= TransformType.ADDKE7) {
    // RFC 9370: an additional key exchange of an implemented method, or NONE (an optional slot).
    if (tr.id === DhGroup.NONE || lookupKeMethod(tr.id)) return { kind: 'addke' };
    return { kind: 'addke', why: 'is not supported by ikeway' };
  }
  const kind = KIND.get(tr.type);
  if (kind === undefined) return { kind, why: 'is not a transform a proposal may name' };
  const no = (why = 'is not supported by ikeway') => ({ kind, why });
  switch (kind) {
    case 'encr':
      if (tr.id === EncrId.TRIPLE_DES && !HAVE_3DES) {
        return no("is not available: this Node.js's OpenSSL does not offer des-ede3-cbc");
      }
      return lookupEncr(tr.id, tr.keyLength) ? { kind } : no();
    case 'integ':
      return lookupInteg(tr.id) ? { kind } : no();
    case 'prf':
      return lookupPrf(tr.id) ? { kind } : no();
    case 'ke':
      return lookupKeMethod(tr.id) ? { kind } : no();
    case 'esn':
    case 'addke':
      return { kind };
  }
}

/** "ke2_modp1024" -> "modp1024": an additional key exchange is as weak as its method. */
const baseWord = (word: string) => word.replace(/^ke[1-7]_/, '');

function token(word: string): Token | undefined {
  const tr = parseToken(word);
  const kind = tr && KIND.get(tr.type);
  if (tr === undefined || kind === undefined || refusal(word).why !== undefined) return undefined;
  const prf = kind === 'integ' ? prfForInteg(tr.id) : undefined;
  return {
    kind,
    id: tr.id,
    ...(tr.keyLength !== undefined && { keyLength: tr.keyLength }),
    ...(kind === 'encr' && isAead(tr.id) && { aead: true }),
    ...(WEAK.has(baseWord(word)) && { weak: true }),
    ...(prf !== undefined && { prf }),
    ...(kind === 'addke' && { slot: tr.type - TransformType.KE - 1 }),
  };
}

/** The words a config file may use, null-prototype so "constructor" or "toString" never match. */
const T = Object.create(null) as Record<string, Token>;
for (const w of grammarWords()) {
  const tok = token(w);
  if (tok !== undefined) T[w] = tok;
}

export const PROPOSAL_TOKENS: Readonly<Record<string, Token>> = Object.freeze(T);

/** The accepted token for a word, or undefined (own properties only). */
export function proposalToken(word: string): Token | undefined {
  return Object.hasOwn(PROPOSAL_TOKENS, word) ? PROPOSAL_TOKENS[word] : undefined;
}

/** The accepted words of one kind, for messages naming what is supported. */
export function supportedWords(kind: TokenKind): string[] {
  return Object.keys(PROPOSAL_TOKENS).filter((w) => PROPOSAL_TOKENS[w]!.kind === kind);
}

/**
 * The same, short enough for a message: aliases dropped (the grammar's own spelling of each transform,
 * formatToken), and AES key sizes folded ("aes{128,192,256}gcm16").
 */
export function describeSupported(kind: TokenKind, forIke: boolean): string {
  const canonical = supportedWords(kind).filter((w) => {
    const tr = parseToken(w);
    return tr !== undefined && formatToken(tr) === w && !(forIke && w === 'null');
  });
  const out: string[] = [];
  for (const w of canonical) {
    const m = /^aes(128|192|256)(.*)$/.exec(w);
    if (!m) out.push(w);
    else if (m[1] === '128') {
      const sizes = ['128', '192', '256'].filter((b) => canonical.includes(`aes${b}${m[2]}`));
      out.push(`aes{${sizes.join(',')}}${m[2]}`);
    }
  }
  return out.join(' ');
}

/** Why a weak word is weak (for warnings), or undefined. */
export function weakReason(word: string): string | undefined {
  return WEAK.get(word);
}

export type ProposalFor = 'ike' | 'esp';

export interface ProposalCheck {
  readonly ok: boolean;
  /** What is wrong (errors) — first problem only, with a hint. */
  readonly message?: string;
  readonly hint?: string;
  /** Weak tokens found (for warnings). */
  readonly weak: readonly string[];
  /** Why each weak token is weak, in the order of `weak`. */
  readonly weakReasons: readonly string[];
  readonly tokens: readonly Token[];
}

const EXAMPLE = { ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16' } as const;

/** Check one proposal string for an IKE or ESP SA (RFC 7296 §3.3.3 lists mandatory transforms). */
export function checkProposal(text: string, kind: ProposalFor): ProposalCheck {
  const words = text.trim().toLowerCase().split('-');
  const tokens: Token[] = [];
  const weak: string[] = [];
  const weakReasons: string[] = [];
  const fail = (message: string, hint: string): ProposalCheck => ({
    ...{ ok: false, message, hint },
    ...{ weak, weakReasons, tokens },
  });
  for (const w of words) {
    const add = /^ke(\d+)_(.*)$/.exec(w);
    if (add) {
      // strongSwan's RFC 9370 syntax; a malformed word gets a precise message.
      const r = additionalKe(Number(add[1]), add[2]!, w);
      const hint = `supported additional key exchanges: ke1_ .. ke7_ with ${describeSupported('ke', true)} or none`;
      if (typeof r === 'string') return fail(r, hint);
    }
    const tok = proposalToken(w);
    if (tok === undefined) {
      const r = refusal(w);
      if (r.kind !== undefined && r.why !== undefined) {
        const list = describeSupported(r.kind === 'addke' ? 'ke' : r.kind, kind === 'ike');
        return fail(`"${w}" in proposal "${text}" ${r.why}`, `supported ${KIND_NAME[r.kind]}: ${list}`);
      }
      return fail(`unknown algorithm "${w}" in proposal "${text}"`, suggestToken(w, kind));
    }
    if (kind === 'ike' && tok.kind === 'esn') return fail(`"${w}" applies to ESP only`, `remove "-${w}"`);
    if (kind === 'esp' && tok.kind === 'prf') return fail(`"${w}" applies to IKE only`, `remove "-${w}"`);
    if (tok.weak === true) {
      weak.push(w);
      weakReasons.push(`${w}: ${WEAK.get(baseWord(w)) ?? 'weak'}`);
    }
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
  // RFC 9370 §2.2.4: the additional key exchanges of a Child SA follow its first (PFS) one.
  if (
    kind === 'esp' &&
    tokens.some((t) => t.kind === 'addke' && t.id !== 0) &&
    !tokens.some((t) => t.kind === 'ke')
  )
    return fail(
      `ESP proposal "${text}" names additional key exchanges but no first one`,
      'add the PFS key exchange before them, e.g. aes256gcm16-x25519-ke1_mlkem768',
    );
  if (kind === 'ike') {
    if (!tokens.some((t) => t.kind === 'ke'))
      return fail(`IKE proposal "${text}" names no key exchange`, 'add e.g. -x25519');
    if (aead !== 0 && !tokens.some((t) => t.kind === 'prf')) {
      return fail(`IKE proposal "${text}" with an AEAD cipher needs a PRF`, 'add e.g. -prfsha256');
    }
    if (encr.some((t) => t.id === EncrId.NULL))
      return fail(
        `"null" in proposal "${text}": an IKE SA cannot go unencrypted (RFC 7296 §5)`,
        `supported ciphers: ${describeSupported('encr', true)}`,
      );
  }
  return { ok: true, weak, weakReasons, tokens };
}

/**
 * strongSwan's RFC 9370 syntax: `ke<slot>_<key exchange>` or `ke<slot>_none`, slot 1..7 for the
 * transform types ADDKE1..ADDKE7. Returns the token or what is wrong with the word.
 */
function additionalKe(slot: number, name: string, word: string): Token | string {
  if (!(slot >= 1 && slot <= 7)) return `"${word}": additional key exchange slots are ke1_ .. ke7_`;
  if (name === 'none') return { kind: 'addke', id: DhGroup.NONE, slot };
  const tr = parseToken(name);
  if (tr?.type !== TransformType.KE) return `"${word}": "${name}" is not a key exchange method`;
  return { kind: 'addke', id: tr.id, slot };
}

function suggestToken(w: string, kind: ProposalFor): string {
  const names = Object.keys(PROPOSAL_TOKENS);
  let best = '';
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(w, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  if (bestD <= 2) return `did you mean "${best}"?`;
  const kinds: TokenKind[] = kind === 'ike' ? ['encr', 'integ', 'prf', 'ke'] : ['encr', 'integ', 'ke', 'esn'];
  const lists = kinds.map((k) => `${KIND_NAME[k]}: ${describeSupported(k, kind === 'ike')}`);
  return `write e.g. ${EXAMPLE[kind]}; supported ${lists.join('; ')}`;
}
