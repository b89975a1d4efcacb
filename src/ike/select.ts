// Responder connection selection (RFC 7296 §2.9, §2.15; strongSwan's peer-config lookup). Several
// connections may share the same pair of gateways: IKE_SA_INIT only tells the addresses, so the
// responder starts with the best address match, and at IKE_AUTH re-selects using what the initiator
// proved it is (IDi), whom it wants to talk to (optional IDr, §3.5), the authentication method and the
// traffic selectors it proposes. Pure: no engine state.
import { childrenOf } from './child-config.ts';
import { AuthMethod } from '../codec/index.ts';
import type { PacketPath } from '../net/transport.ts';
import type { IkeConnection, IkeIdentity } from './config.ts';
import { selectProposal, type Proposal } from './proposals.ts';
import { narrowPair, type TrafficSelector } from './traffic-selectors.ts';
import { bytesEqual } from './wire.ts';

export const sameId = (a: IkeIdentity, b: IkeIdentity): boolean =>
  a.type === b.type && bytesEqual(a.data, b.data);

/**
 * The connections a request from `path` may belong to: our local address must match, the peer's
 * address must match or the connection takes any peer (`remoteAddr` undefined). Exact peer address
 * first, then "any", each in configuration order.
 */
export function addressCandidates(all: readonly IkeConnection[], path: PacketPath): IkeConnection[] {
  const mine = all.filter((c) => c.localAddr === path.localAddr || c.localAddrs?.includes(path.localAddr));
  return [
    ...mine.filter((c) => c.remoteAddr === path.remoteAddr),
    ...mine.filter((c) => c.remoteAddr === undefined),
  ];
}

/** What the IKE_AUTH request tells about the connection the initiator wants. */
export interface AuthRequestFacts {
  /** IDi (§3.5). */
  readonly peerId: IkeIdentity;
  /** IDr if the initiator sent one (§3.5: "the responder MUST use" a matching identity or fail). */
  readonly ownId?: IkeIdentity;
  /** AUTH method (§3.8). */
  readonly authMethod: number;
  /** The negotiated IKE proposal (IKE_SA_INIT): the connection must accept it too. */
  readonly ikeProposal?: Proposal;
  /** TSi/TSr of the first Child SA, if the request carries one. */
  readonly tsi?: readonly TrafficSelector[];
  readonly tsr?: readonly TrafficSelector[];
}

function authKindOf(method: number): 'psk' | 'cert' {
  return method === AuthMethod.SHARED_KEY_MIC ? 'psk' : 'cert';
}

function accepts(c: IkeConnection, f: AuthRequestFacts): boolean {
  if (c.remoteId && !sameId(c.remoteId, f.peerId)) return false;
  if (f.ownId && !sameId(c.localId, f.ownId)) return false;
  if (c.auth.kind !== authKindOf(f.authMethod)) return false;
  if (!f.ikeProposal) return true;
  try {
    selectProposal([f.ikeProposal], c.ikeProposals);
    return true;
  } catch {
    return false;
  }
}

/** §2.9: the proposed selectors can be narrowed to the policy of one of this connection's children. */
function tsFits(c: IkeConnection, f: AuthRequestFacts): boolean {
  if (!f.tsi || !f.tsr) return false;
  const { tsi, tsr } = f;
  // Any of the connection's children will do (child-config.ts picks which at the Child SA).
  return childrenOf(c).some((k) => {
    try {
      narrowPair({ tsi, tsr }, { tsi: k.remoteTs, tsr: k.localTs });
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * RFC 7296 §2.15 re-selection at IKE_AUTH among `candidates` (addressCandidates order). Only
 * connections whose peer identity, own identity (if IDr was sent), authentication method and IKE
 * proposal fit are eligible; among those the best is the one whose selectors fit the proposed Child SA,
 * then an exact peer ID over "any", then an exact peer address over "any". Undefined: none fits
 * (the caller answers AUTHENTICATION_FAILED, §2.21.2).
 */
export function selectForAuth(
  candidates: readonly IkeConnection[],
  f: AuthRequestFacts,
): IkeConnection | undefined {
  return rankForAuth(candidates, f)[0];
}

/**
 * Every eligible connection, best first (selectForAuth's order; ties keep `candidates` order). The
 * responder tries them in turn until one verifies the peer's AUTH: two connections may take the
 * same peer ID with different keys or CAs (strongSwan's peer-config lookup does the same).
 */
export function rankForAuth(candidates: readonly IkeConnection[], f: AuthRequestFacts): IkeConnection[] {
  const score = (c: IkeConnection) =>
    (tsFits(c, f) ? 4 : 0) + (c.remoteId ? 2 : 0) + (c.remoteAddr !== undefined ? 1 : 0);
  return candidates
    .filter((c) => accepts(c, f))
    .map((c, i) => ({ c, s: score(c), i }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((e) => e.c);
}
