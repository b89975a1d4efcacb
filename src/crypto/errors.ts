// Typed errors for the crypto layer. Every error carries a stable `code` so the exchange runner can map
// it to an IKE notify (e.g. AUTH_FAILED -> drop silently or AUTHENTICATION_FAILED, RFC 7296 §2.21).
// Messages name the field that was wrong, never the key bytes.

export type CryptoErrorCode =
  /** Integrity check / AEAD tag / signature did not verify. */
  | 'AUTH_FAILED'
  /** Structurally invalid input (lengths, padding, DER). */
  | 'MALFORMED'
  /** A key or key-length does not fit the transform. */
  | 'INVALID_KEY'
  /** A peer's key-exchange value is invalid (length, not on curve, degenerate). */
  | 'INVALID_PUBLIC_KEY'
  /** Transform, group or signature scheme not supported. */
  | 'UNSUPPORTED'
  /** The 64-bit IV counter of an AEAD SA is exhausted (RFC 5282 §3.1: IVs must never repeat). */
  | 'IV_EXHAUSTED'
  /** The object was destroyed (keys wiped) and cannot be used any more. */
  | 'DESTROYED';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function fail(code: CryptoErrorCode, message: string): never {
  throw new CryptoError(code, message);
}
