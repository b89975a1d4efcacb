// AUTH payload data for shared keys (RFC 7296 §2.15) and the octets every AUTH method signs.
import { timingSafeEqual } from 'node:crypto';
import { CryptoError } from './errors.ts';
import { prf, type PrfName } from './prf.ts';
import { wipe } from './secret.ts';

/** RFC 7296 §2.15: the fixed pad string (17 ASCII octets, no NUL). */
export const KEY_PAD = new TextEncoder().encode('Key Pad for IKEv2');

export interface SignedOctetsInput {
  /** The peer-visible IKE_SA_INIT message this side sent (RealMessage1 or RealMessage2), as on the wire. */
  readonly realMessage: Uint8Array;
  /** The other side's nonce data (NonceRData for the initiator, NonceIData for the responder). */
  readonly peerNonce: Uint8Array;
  /** SK_pi (initiator) or SK_pr (responder). */
  readonly skP: Uint8Array;
  /** This side's ID payload body after the generic header: ID Type | RESERVED | Identification Data. */
  readonly idPayloadBody: Uint8Array;
  /**
   * RFC 9242 §3.3.2: IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (intauth.ts intAuthOctets), the
   * same on both sides, when IKE_INTERMEDIATE exchanges took place; absent otherwise.
   */
  readonly intAuth?: Uint8Array;
}

/**
 * RFC 7296 §2.15:  InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
 *                  MACedIDForI = prf(SK_pi, RestOfInitIDPayload)   (and symmetrically for the responder).
 * RFC 9242 §3.3.2 appends IntAuth after IKE_INTERMEDIATE exchanges.
 */
export function signedOctets(hash: PrfName, s: SignedOctetsInput): Uint8Array {
  const maced = prf(hash, s.skP, s.idPayloadBody);
  const extra = s.intAuth ?? new Uint8Array(0);
  const out = new Uint8Array(s.realMessage.length + s.peerNonce.length + maced.length + extra.length);
  out.set(s.realMessage, 0);
  out.set(s.peerNonce, s.realMessage.length);
  out.set(maced, s.realMessage.length + s.peerNonce.length);
  out.set(extra, s.realMessage.length + s.peerNonce.length + maced.length);
  return out;
}

/** RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuth(hash: PrfName, sharedSecret: Uint8Array, octets: Uint8Array): Uint8Array {
  const inner = prf(hash, sharedSecret, KEY_PAD);
  try {
    return prf(hash, inner, octets);
  } finally {
    wipe(inner);
  }
}

/** Check a received PSK AUTH value in constant time; throws CryptoError AUTH_FAILED on mismatch. */
export function verifyPskAuth(
  hash: PrfName,
  sharedSecret: Uint8Array,
  octets: Uint8Array,
  received: Uint8Array,
): void {
  const expected = pskAuth(hash, sharedSecret, octets);
  const ok = expected.length === received.length && timingSafeEqual(expected, received);
  wipe(expected);
  if (!ok) throw new CryptoError('AUTH_FAILED', 'shared-key AUTH mismatch');
}
