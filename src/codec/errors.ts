// Typed codec errors. Every decode failure carries the byte offset where it was found and the
// IKE notify type the engine answers with (RFC 7296 §2.21.1, §3.10.1); the message never holds
// payload contents, so it is safe to log.
import { NotifyType } from './iana.ts';

/** Stable error codes (`err.code`), for counters and tests. */
export const CodecErrorCode = {
  /** A field or structure runs past the bytes available. */
  TRUNCATED: 'ERR_IKE_TRUNCATED',
  /** A length field is inconsistent (too small, or disagrees with the data). */
  BAD_LENGTH: 'ERR_IKE_BAD_LENGTH',
  /** A field holds a value the RFC forbids. */
  BAD_VALUE: 'ERR_IKE_BAD_VALUE',
  /** The header's major version is not 2 (RFC 7296 §2.5). */
  BAD_MAJOR_VERSION: 'ERR_IKE_BAD_MAJOR_VERSION',
  /** A payload type we do not understand has the critical bit set (RFC 7296 §2.5). */
  UNSUPPORTED_CRITICAL_PAYLOAD: 'ERR_IKE_UNSUPPORTED_CRITICAL_PAYLOAD',
  /** Bytes left over after the payload chain or the header length. */
  TRAILING_DATA: 'ERR_IKE_TRAILING_DATA',
  /** The payloads do not fit the exchange (rules.ts). */
  RULE_VIOLATION: 'ERR_IKE_RULE_VIOLATION',
  /** Encrypted payload problems: bad cipher output, fragments that do not fit together. */
  PROTECTION: 'ERR_IKE_PROTECTION',
  /** An object handed to the encoder cannot be encoded (value out of range, SK not last ...). */
  ENCODE: 'ERR_IKE_ENCODE',
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

export class CodecError extends Error {
  override readonly name = 'CodecError';
  /** Human-readable detail without the "offset N: " prefix. */
  readonly detail: string;

  constructor(
    readonly code: CodecErrorCode,
    /** Absolute byte offset in the message (-1 when not tied to a position, e.g. encoding). */
    readonly offset: number,
    detail: string,
    /** Notify type to answer with (RFC 7296 §3.10.1); INVALID_SYNTAX unless more precise. */
    readonly notify: NotifyType = NotifyType.INVALID_SYNTAX,
    /** Notification data for the answer, e.g. the payload type for UNSUPPORTED_CRITICAL_PAYLOAD. */
    readonly notifyData: Uint8Array = new Uint8Array(0),
  ) {
    super(offset >= 0 ? `offset ${offset}: ${detail}` : detail);
    this.detail = detail;
  }
}

export function encodeError(detail: string): CodecError {
  return new CodecError(CodecErrorCode.ENCODE, -1, detail);
}
