// Proposal domain types and negotiation: RFC 7296 §2.7 (the responder picks one proposal and one
// transform of each type), §3.3 (proposal structure), §3.3.3 (mandatory types per protocol), §3.3.5
// (KEY_LENGTH) and §3.3.6 (attribute negotiation). Pure: no wire format, no crypto operations.
import { ProtocolId, TransformType } from '../codec/iana.ts';
import { isAead } from '../crypto/proposal-tokens.ts';
import { ChosenNotOfferedError, InvalidKePayloadError, NoProposalChosenError } from './errors.ts';

export interface Transform {
  readonly type: TransformType;
  readonly id: number;
  /** KEY_LENGTH attribute in bits (RFC 7296 §3.3.5), for ciphers with variable key sizes. */
  readonly keyLength?: number;
}

export interface Proposal {
  /** Proposal Num: the initiator numbers from 1; the responder echoes the chosen one (§3.3.1). */
  readonly number: number;
  readonly protocol: ProtocolId;
  /** Empty in IKE_SA_INIT, 8 octets for an IKE rekey, 4 for ESP/AH (§3.3.1). */
  readonly spi: Uint8Array;
  readonly transforms: readonly Transform[];
}

/** RFC 5282, RFC 7634, RFC 4543 combined-mode ciphers: one list, with the token grammar. */
export { isAead };

const ADDKE: readonly TransformType[] = [6, 7, 8, 9, 10, 11, 12] as TransformType[];
const { ENCR, PRF, INTEG, KE, ESN } = TransformType;

/** Transform types a proposal of each protocol may carry, in selection order (ENCR first: INTEG
 *  depends on it). §3.3.3 plus RFC 9370's additional key exchanges. */
function typesOf(protocol: number): readonly TransformType[] {
  if (protocol === ProtocolId.IKE) return [ENCR, PRF, INTEG, KE, ...ADDKE];
  if (protocol === ProtocolId.ESP) return [ENCR, INTEG, KE, ...ADDKE, ESN];
  if (protocol === ProtocolId.AH) return [INTEG, KE, ...ADDKE, ESN];
  return [];
}

/** Types whose absence means "NONE" (§3.3.3 optional types; ESN absent read as NO_ESN like strongSwan). */
function optional(protocol: number, type: TransformType): boolean {
  if (type === INTEG) return protocol !== ProtocolId.AH;
  if (type === KE) return protocol !== ProtocolId.IKE;
  return ADDKE.includes(type) || type === ESN;
}

const NONE = (type: TransformType): Transform => ({ type, id: 0 });
const same = (a: Transform, b: Transform) =>
  a.type === b.type && a.id === b.id && a.keyLength === b.keyLength;

function candidates(p: Proposal, type: TransformType, ignoreKe: boolean): readonly Transform[] {
  if (ignoreKe && (type === KE || ADDKE.includes(type))) return [];
  const ts = p.transforms.filter((t) => t.type === type);
  return ts.length === 0 && optional(p.protocol, type) ? [NONE(type)] : ts;
}

export interface SelectOptions {
  /** Walk local proposals (and their transform order) first instead of the initiator's (§2.7 allows either). */
  readonly preferLocal?: boolean;
  /** IKE_AUTH Child SA: KE transforms are not negotiated there (RFC 7296 §1.2); ignore them on both sides. */
  readonly ignoreKe?: boolean;
  /** Prefer this KE group when acceptable, e.g. the group of the KEi payload received (§1.2). */
  readonly preferKeGroup?: number;
  /** The SPI to put into the chosen proposal (our own inbound SPI for ESP/AH); default the offered one. */
  readonly spi?: Uint8Array;
}

/**
 * RFC 7296 §2.7: the responder's choice among `offered` given local `acceptable` proposals. Returns
 * one proposal carrying the initiator's proposal number and exactly one transform of each used type.
 * Throws NoProposalChosenError when nothing fits.
 */
export function selectProposal(
  offered: readonly Proposal[],
  acceptable: readonly Proposal[],
  opts: SelectOptions = {},
): Proposal {
  const pairs = opts.preferLocal
    ? acceptable.flatMap((l) => offered.map((o) => [o, l] as const))
    : offered.flatMap((o) => acceptable.map((l) => [o, l] as const));
  for (const [o, l] of pairs) {
    if (o.protocol !== l.protocol || typesOf(o.protocol).length === 0) continue;
    const transforms = matchPair(o, l, opts);
    if (transforms) return { number: o.number, protocol: o.protocol, spi: opts.spi ?? o.spi, transforms };
  }
  const protos = [...new Set(offered.map((o) => o.protocol))].join(',');
  throw new NoProposalChosenError(`none of ${offered.length} proposal(s) (protocol ${protos}) is acceptable`);
}

/** Transforms chosen for one (offered, local) pair, or undefined. */
function matchPair(o: Proposal, l: Proposal, opts: SelectOptions): Transform[] | undefined {
  const types = typesOf(o.protocol);
  if (o.transforms.some((t) => !types.includes(t.type))) return undefined; // e.g. PRF in ESP: malformed
  const ignoreKe = opts.ignoreKe ?? false;
  const order = (type: TransformType) => {
    const [first, second] = opts.preferLocal
      ? [candidates(l, type, ignoreKe), candidates(o, type, ignoreKe)]
      : [candidates(o, type, ignoreKe), candidates(l, type, ignoreKe)];
    const both = first.filter((t) => second.some((s) => same(s, t)));
    const pref = type === KE ? both.findIndex((t) => t.id === opts.preferKeGroup) : -1;
    return pref > 0 ? [both[pref]!, ...both.filter((_, i) => i !== pref)] : both;
  };
  const chosen: Transform[] = [];
  const rest = types.filter((t) => t !== ENCR && t !== INTEG);
  const encrs = types.includes(ENCR) ? order(ENCR) : [undefined];
  // The INTEG choice depends on the ENCR one: try each acceptable cipher in preference order.
  for (const encr of encrs) {
    if (types.includes(ENCR) && encr === undefined) return undefined;
    const aead = encr !== undefined && isAead(encr.id);
    // RFC 5282 §8 / RFC 8247 §2.2: no integrity algorithm with a combined-mode cipher.
    const integ = aead ? undefined : order(INTEG).find((t) => t.id !== 0);
    if (!aead && integ === undefined) continue;
    chosen.length = 0;
    if (encr) chosen.push(encr);
    if (integ) chosen.push(integ);
    let ok = true;
    for (const type of rest) {
      const needed = candidates(o, type, ignoreKe).length > 0 || candidates(l, type, ignoreKe).length > 0;
      if (!needed) continue;
      const pick = order(type)[0];
      if (pick === undefined) {
        ok = false;
        break;
      }
      chosen.push(pick);
    }
    if (!ok) return undefined;
    // Echo only transforms the initiator listed: an implicit NONE stays implicit.
    return chosen.filter((t) => o.transforms.some((x) => same(x, t))).sort((a, b) => a.type - b.type);
  }
  return undefined;
}

/**
 * RFC 7296 §2.7 / §3.3: the initiator's check of the responder's SA payload: exactly one proposal,
 * numbered like one we sent, for the same protocol, one transform per type, each one we offered,
 * and nothing mandatory missing. Returns the chosen proposal; throws ChosenNotOfferedError.
 */
export function verifyChosen(
  offered: readonly Proposal[],
  received: readonly Proposal[],
  opts: { readonly ignoreKe?: boolean } = {},
): Proposal {
  const fail = (why: string): never => {
    throw new ChosenNotOfferedError(why);
  };
  if (received.length !== 1) fail(`responder returned ${received.length} proposals, not one`);
  const r = received[0]!;
  const o = offered.find((p) => p.number === r.number && p.protocol === r.protocol);
  if (o === undefined) return fail(`proposal #${r.number} (protocol ${r.protocol}) was not offered`);
  const spiLen = r.protocol === ProtocolId.IKE ? [0, 8] : [4];
  if (!spiLen.includes(r.spi.length)) fail(`SPI of ${r.spi.length} octets for protocol ${r.protocol}`);
  const ignoreKe = opts.ignoreKe ?? false;
  const types = typesOf(r.protocol);
  for (const type of types) {
    const got = r.transforms.filter((t) => t.type === type);
    if (got.length > 1) fail(`${got.length} transforms of type ${type}`);
    const t = got[0];
    const aead = r.transforms.some((x) => x.type === ENCR && isAead(x.id));
    if (t === undefined) {
      const needed = candidates(o, type, ignoreKe).some((c) => c.id !== 0);
      const optionalHere = candidates(o, type, ignoreKe).some((c) => c.id === 0);
      if (needed && !optionalHere && !(type === INTEG && aead)) fail(`no transform of type ${type} chosen`);
      continue;
    }
    if (!candidates(o, type, ignoreKe).some((c) => same(c, t))) {
      fail(`transform ${type}/${t.id}${t.keyLength ? `/${t.keyLength}` : ''} was not offered`);
    }
    if (type === INTEG && aead && t.id !== 0) fail('integrity transform chosen with a combined-mode cipher');
  }
  if (r.transforms.some((t) => !types.includes(t.type))) fail('transform type not valid for the protocol');
  return r;
}

/** RFC 9370: whether a proposal carries Additional Key Exchange transforms other than NONE. */
export function hasAdditionalKe(p: Proposal): boolean {
  return p.transforms.some((t) => ADDKE.includes(t.type) && t.id !== 0);
}

/** The additional key exchange methods of a chosen proposal, in transform-type order (§2.2.2). */
export function additionalKeGroups(chosen: Proposal): number[] {
  return ADDKE.flatMap((type) =>
    chosen.transforms.filter((t) => t.type === type && t.id !== 0).map((t) => t.id),
  );
}

/**
 * A local proposal for a peer without IKE_INTERMEDIATE: its ADDKE slots that allow NONE keep only
 * NONE; undefined when a slot requires an additional exchange.
 */
export function withoutAdditionalKe(p: Proposal): Proposal | undefined {
  for (const type of ADDKE) {
    const ts = p.transforms.filter((t) => t.type === type);
    if (ts.length > 0 && !ts.some((t) => t.id === 0)) return undefined;
  }
  return { ...p, transforms: p.transforms.filter((t) => !ADDKE.includes(t.type) || t.id === 0) };
}

/** The KE group of a chosen proposal, if any. */
export function keGroupOf(p: Proposal): number | undefined {
  return p.transforms.find((t) => t.type === KE && t.id !== 0)?.id;
}

/** RFC 7296 §1.2: the responder answers INVALID_KE_PAYLOAD when KEi's group is not the chosen group. */
export function checkKeGroup(chosen: Proposal, keGroupReceived: number): void {
  const wanted = keGroupOf(chosen);
  if (wanted !== undefined && wanted !== keGroupReceived)
    throw new InvalidKePayloadError(keGroupReceived, wanted);
}

/**
 * RFC 7296 §1.2 / §1.3 / §3.10.1: the group an INVALID_KE_PAYLOAD notify (`data`: 2-octet group)
 * asks for, if it is one of the KE transforms we offered and not the one we just sent; else undefined
 * (the exchange fails instead of retrying).
 */
export function retryKeGroup(
  offered: readonly Proposal[],
  data: Uint8Array,
  sent: number | undefined,
): number | undefined {
  if (data.length < 2) return undefined;
  const wanted = (data[0]! << 8) | data[1]!;
  const ok = offered.some((p) => p.transforms.some((t) => t.type === KE && t.id === wanted));
  return ok && wanted !== sent ? wanted : undefined;
}
