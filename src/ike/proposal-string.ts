// strongSwan-style proposal strings ("aes256gcm16-prfsha256-x25519", "aes256-sha256-modp2048",
// "aes256gcm16-esn") to Proposal objects, so YAML configs can be shared with swanctl.conf users.
// Grammar: algorithm keywords (the token grammar of src/crypto/proposal-tokens.ts) joined by '-';
// several keywords of one type are alternatives in the same proposal. As in strongSwan, a string mixing combined-mode and classic ciphers yields two proposals,
// and an IKE proposal without a PRF takes the PRFs matching its integrity algorithms.
import { EncrId, EsnId, ProtocolId, TransformType } from '../codec/iana.ts';
import { formatToken, isAead, parseToken, prfForInteg } from '../crypto/proposal-tokens.ts';
import { ProposalSyntaxError } from './errors.ts';
import type { Proposal, Transform } from './proposals.ts';

const t = (type: TransformType, id: number): Transform => ({ type, id });
const { ENCR, PRF, INTEG, KE, ESN } = TransformType;

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
    const tr = parseToken(w) ?? fail(w, 'unknown algorithm');
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
      const derived = all.flatMap((x) => {
        const f = x.type === INTEG ? prfForInteg(x.id) : undefined;
        return f === undefined ? [] : [t(PRF, f)];
      });
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

/** strongSwan-style rendering for logs and `ikeway status`, e.g. "aes256gcm16-prfsha256-x25519". */
export function formatProposal(p: Proposal): string {
  return p.transforms.map(formatToken).join('-');
}

/** A key exchange method by name for status ("x25519", "mlkem768"), or its number. */
export function formatKeMethod(id: number): string {
  return formatToken({ type: KE, id });
}
