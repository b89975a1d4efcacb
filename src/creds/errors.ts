// Typed errors of the credentials layer. Every error has a stable `code`; the exchange runner maps
// them to IKE notifies: all authentication outcomes become AUTHENTICATION_FAILED (RFC 7296 §2.21.2),
// which is sent without detail. Messages name certificates by subject and fields by name; they
// never contain key bytes, PSKs or signature values.
import { NotifyType } from '../codec/iana.ts';

export type CredsErrorCode =
  /** Structurally invalid input: DER, PEM, an ID payload of the wrong length. */
  | 'MALFORMED'
  /** An identity string or ID payload that cannot be understood. */
  | 'BAD_ID'
  /** No path from the peer's certificate to a configured CA, or a certificate signature is bad. */
  | 'CERT_UNTRUSTED'
  /** A certificate on the path is outside its validity period (per the injected clock). */
  | 'CERT_EXPIRED'
  /** A certificate violates a constraint: CA:FALSE issuer, key usage, path length. */
  | 'CERT_INVALID'
  /** The peer's ID is not bound to its certificate (RFC 7296 §3.5, RFC 4945 §3.1). */
  | 'ID_MISMATCH'
  /** The AUTH payload signature does not verify with the certificate's key. */
  | 'BAD_SIGNATURE'
  /** No private key / certificate for the requested local identity. */
  | 'NO_KEY'
  /** No pre-shared key for the pair of identities. */
  | 'NO_PSK'
  /** A certificate on the peer's path is revoked (CRL or OCSP, RFC 5280 §5, RFC 6960). */
  | 'CERT_REVOKED'
  /** Revocation is strict and no CRL or OCSP source gave a definite answer. */
  | 'REVOCATION_UNKNOWN'
  /** Key type, AUTH method or hash not supported (or no common hash with the peer). */
  | 'UNSUPPORTED';

export class CredsError extends Error {
  override readonly name = 'CredsError';
  /** The notify to answer with (RFC 7296 §2.21.2); the runner decides whether to send it. */
  readonly notify: number = NotifyType.AUTHENTICATION_FAILED;
  constructor(
    readonly code: CredsErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function fail(code: CredsErrorCode, message: string): never {
  throw new CredsError(code, message);
}
