// A whole IKE message (RFC 7296 §3): header + payload chain, decoded strictly and re-encoded
// byte for byte.
import { Reader, Writer } from './bytes.ts';
import { encodeError } from './errors.ts';
import { HEADER_LENGTH, type IkeHeader, type IkeHeaderFields, decodeHeader, writeHeader } from './header.ts';
import { type DecodeOptions, type Payload, chainSize, decodeChain, writeChain } from './payload.ts';

export interface IkeMessage {
  readonly header: IkeHeader;
  readonly payloads: readonly Payload[];
}

/** What encodeMessage needs: next payload and length are derived. */
export interface IkeMessageInit {
  readonly header: IkeHeaderFields;
  readonly payloads: readonly Payload[];
}

/**
 * Decodes one IKE message (the UDP payload, non-ESP marker already removed). Throws CodecError.
 * The result holds views into `bytes` (no copies): keep `bytes` unchanged while it is used.
 */
export function decodeMessage(bytes: Uint8Array, opts: DecodeOptions = {}): IkeMessage {
  const r = new Reader(bytes);
  const header = decodeHeader(r);
  const payloads = decodeChain(r, HEADER_LENGTH, header.nextPayload, opts);
  return { header, payloads };
}

/** Encodes a message; lengths, Next Payload chaining and "last" markers are computed. */
export function encodeMessage(msg: IkeMessageInit): Uint8Array {
  const length = HEADER_LENGTH + chainSize(msg.payloads);
  if (length > 0xffffffff) throw encodeError(`message length ${length} too large`);
  const bytes = new Uint8Array(length);
  const w = new Writer(bytes);
  const first = writeChain(w, HEADER_LENGTH, msg.payloads);
  writeHeader(w, msg.header, first, length);
  return bytes;
}
