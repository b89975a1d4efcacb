// The shape every payload body codec has. The generic payload header (RFC 7296 §3.2) is handled
// once in ../payload.ts; a body codec sees [start, end) after that header.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Next Payload  |C|  RESERVED   |         Payload Length        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import type { Reader, Writer } from '../bytes.ts';

export const GENERIC_HEADER_LENGTH = 4;
/** RFC 7296 §3.2: the critical bit in the second octet of the generic payload header. */
export const CRITICAL_FLAG = 0x80;

export interface DecodeContext {
  /** Payload type number (distinguishes IDi/IDr, TSi/TSr). */
  readonly type: number;
  /** The Next Payload field (for SK/SKF: the first inner payload type). */
  readonly next: number;
  /** The raw second octet of the generic header: critical bit and reserved bits. */
  readonly flags: number;
}

export interface BodyCodec<P> {
  decode(r: Reader, start: number, end: number, ctx: DecodeContext): P;
  /** Bytes after the generic header. */
  size(p: P): number;
  write(w: Writer, off: number, p: P): void;
}

/** Fields every payload object has. */
export interface PayloadCommon {
  /** Generic header octet 2 as received: critical bit (0x80) and RESERVED; 0 when omitted. */
  readonly flags?: number;
}
