// Authentication of IKE_INTERMEDIATE exchanges (RFC 9242 §3.3): each IKE_INTERMEDIATE message is MACed
// with the SK_p of the keys that protected it, chained per direction, and the two chains end up in the
// octets that AUTH signs (auth.ts signedOctets, field `intAuth`):
//
//   IntAuth_i1 = prf(SK_pi1,              IntAuth_i1_A [| IntAuth_i1_P])
//   IntAuth_in = prf(SK_pin, IntAuth_i(n-1) | IntAuth_in_A [| IntAuth_in_P])      (same for _r, SK_pr)
//   IntAuth    = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID
//   InitiatorSignedOctets = RealMsg1 | NonceRData | MACedIDForI | IntAuth           (RFC 9242 §3.3.2)
//   ResponderSignedOctets = RealMsg2 | NonceIData | MACedIDForR | IntAuth
//
// _i covers the requests (sent by the initiator), _r the responses, whoever computes them. SK_p[i/r]n
// are the keys in force for the n-th IKE_INTERMEDIATE exchange, i.e. BEFORE the RFC 9370 key update that
// exchange's key exchange causes (derive.ts additionalKeyUpdate). IKE_AUTH_MID is the Message ID of the
// first IKE_AUTH request, 4 octets in network order.
//
// IntAuth_A is the message from the first octet of the IKE header (no non-ESP marker) to the end of the
// Encrypted payload's generic header, IntAuth_P the inner payloads in plaintext; IV, padding, Pad Length
// and ICV are left out, and the IKE header's Length and the Encrypted payload's Payload Length are
// adjusted to count A and P only. Fragmented messages (RFC 7383) are MACed as if they had been sent
// whole: the header's Next Payload is SK (46), not SKF, and the Encrypted payload header names the first
// inner payload, so the value does not depend on how the message travelled.
import { PayloadType } from '../codec/iana.ts';
import { fail } from './errors.ts';
import { prf, type PrfName } from './prf.ts';
import { concat } from './secret.ts';

const HEADER_LEN = 28;

/** One IKE_INTERMEDIATE message in its logical (unfragmented, plaintext) form. */
export interface IntermediateMessage {
  /**
   * The 28-octet IKE header as sent or received (of any fragment, for a fragmented message). SPIs,
   * version, exchange type, flags and Message ID are used as is; Next Payload (when `unencrypted` is
   * empty) and Length are replaced as RFC 9242 §3.3.2 says.
   */
  readonly header: Uint8Array;
  /** Payloads before the Encrypted payload, as they would be in the unfragmented message (normally none). */
  readonly unencrypted?: Uint8Array;
  /** Next Payload of the Encrypted payload: the type of the first inner payload (0 if there is none). */
  readonly firstInnerPayload: number;
  /** Octet 1 of the Encrypted payload's generic header (Critical bit + RESERVED) as sent; default 0. */
  readonly skFlags?: number;
  /** The inner payloads in plaintext, without IV, padding, Pad Length or ICV (IntAuth_P). */
  readonly inner: Uint8Array;
}

/** IntAuth_[i/r]n_A | IntAuth_[i/r]n_P of RFC 9242 §3.3.2, with the adjusted length fields. */
export function intAuthInput(msg: IntermediateMessage): Uint8Array {
  if (msg.header.length !== HEADER_LEN)
    fail('MALFORMED', `IKE header must be 28 bytes, got ${msg.header.length}`);
  const unenc = msg.unencrypted ?? new Uint8Array(0);
  const payloadLen = 4 + msg.inner.length;
  const total = HEADER_LEN + unenc.length + payloadLen;
  if (payloadLen > 0xffff)
    fail('MALFORMED', `inner payloads of ${msg.inner.length} bytes exceed a payload length`);
  const out = new Uint8Array(total);
  out.set(msg.header, 0);
  const dv = new DataView(out.buffer);
  if (unenc.length === 0) out[16] = PayloadType.SK; // SKF in a fragment -> SK, as if unfragmented
  dv.setUint32(24, total); // Adjusted Length
  out.set(unenc, HEADER_LEN);
  const sk = HEADER_LEN + unenc.length;
  out[sk] = msg.firstInnerPayload;
  out[sk + 1] = msg.skFlags ?? 0;
  dv.setUint16(sk + 2, payloadLen); // Adjusted Payload Length
  out.set(msg.inner, sk + 4);
  return out;
}

/**
 * One link of an IntAuth chain: IntAuth_[i/r]n = prf(SK_p[i/r]n, IntAuth_[i/r](n-1) | A | P).
 * `prev` is undefined for the first IKE_INTERMEDIATE exchange. Use SK_pi for requests, SK_pr for responses.
 */
export function intAuthStep(
  hash: PrfName,
  skP: Uint8Array,
  prev: Uint8Array | undefined,
  msg: IntermediateMessage,
): Uint8Array {
  const data = intAuthInput(msg);
  return prev ? prf(hash, skP, prev, data) : prf(hash, skP, data);
}

/**
 * IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (RFC 9242 §3.3.2), appended to both sides' signed
 * octets. Both chains must be present: every IKE_INTERMEDIATE exchange has a request and a response.
 */
export function intAuthOctets(
  intAuthI: Uint8Array,
  intAuthR: Uint8Array,
  ikeAuthMessageId: number,
): Uint8Array {
  if (intAuthI.length === 0 || intAuthR.length === 0) fail('MALFORMED', 'IntAuth needs both chains');
  if (!Number.isInteger(ikeAuthMessageId) || ikeAuthMessageId < 0 || ikeAuthMessageId > 0xffffffff) {
    fail('MALFORMED', `IKE_AUTH message ID ${ikeAuthMessageId} is not a 32-bit value`);
  }
  const mid = new Uint8Array(4);
  new DataView(mid.buffer).setUint32(0, ikeAuthMessageId);
  return concat(intAuthI, intAuthR, mid);
}
