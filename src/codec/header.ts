// RFC 7296 §3.1: the IKE header.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                       IKE SA Initiator's SPI                  |
//  |                                                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                       IKE SA Responder's SPI                  |
//  |                                                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                          Message ID                           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                            Length                             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  Flags: X X R V I X X X  (R = response, V = version, I = initiator)
import { type Reader, type Writer, checkLength } from './bytes.ts';
import { CodecError, CodecErrorCode } from './errors.ts';
import { NotifyType } from './iana.ts';

export const HEADER_LENGTH = 28;
/** RFC 7296 §3.1: the only major version we speak. */
export const IKE_MAJOR_VERSION = 2;

export const HeaderFlag = { INITIATOR: 0x08, VERSION: 0x10, RESPONSE: 0x20 } as const;

/** The header fields a sender chooses; next payload and length follow from the payloads. */
export interface IkeHeaderFields {
  /** 8 bytes. */
  readonly spiI: Uint8Array;
  /** 8 bytes; all zero in the first IKE_SA_INIT request. */
  readonly spiR: Uint8Array;
  readonly exchangeType: number;
  /** The whole flags octet, reserved bits included (RFC 7296 §3.1: sent 0, ignored). */
  readonly flags: number;
  readonly messageId: number;
  /** Defaults to 2. */
  readonly majorVersion?: number;
  /** Defaults to 0 (RFC 7296 §3.1). */
  readonly minorVersion?: number;
}

/** A decoded header: every field as received. */
export interface IkeHeader extends IkeHeaderFields {
  readonly nextPayload: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly length: number;
}

export const isResponse = (h: Pick<IkeHeaderFields, 'flags'>): boolean =>
  (h.flags & HeaderFlag.RESPONSE) !== 0;
export const isInitiator = (h: Pick<IkeHeaderFields, 'flags'>): boolean =>
  (h.flags & HeaderFlag.INITIATOR) !== 0;

/**
 * Decodes the header at offset 0 of `r.buf` and checks its Length against the datagram:
 * RFC 7296 §2.5 (major version), §3.1 (length covers header and payloads).
 */
export function decodeHeader(r: Reader): IkeHeader {
  const size = r.buf.length;
  r.need(0, HEADER_LENGTH, size, 'IKE header');
  const version = r.u8(17);
  const majorVersion = version >>> 4;
  if (majorVersion !== IKE_MAJOR_VERSION) {
    // RFC 7296 §2.5: a higher major version is answered with INVALID_MAJOR_VERSION.
    throw new CodecError(
      CodecErrorCode.BAD_MAJOR_VERSION,
      r.base + 17,
      `major version ${majorVersion} is not ${IKE_MAJOR_VERSION}`,
      NotifyType.INVALID_MAJOR_VERSION,
    );
  }
  const length = r.u32(24);
  if (length < HEADER_LENGTH) r.fail(24, `message length ${length} shorter than the IKE header (28)`);
  if (length > size)
    r.fail(24, `message length ${length} exceeds the ${size} bytes received`, CodecErrorCode.TRUNCATED);
  if (length < size) {
    r.fail(length, `${size - length} bytes after the message length ${length}`, CodecErrorCode.TRAILING_DATA);
  }
  return {
    spiI: r.slice(0, 8),
    spiR: r.slice(8, 16),
    nextPayload: r.u8(16),
    majorVersion,
    minorVersion: version & 0x0f,
    exchangeType: r.u8(18),
    flags: r.u8(19),
    messageId: r.u32(20),
    length,
  };
}

export function writeHeader(w: Writer, h: IkeHeaderFields, nextPayload: number, length: number): void {
  checkLength(h.spiI, 8, "initiator's SPI");
  checkLength(h.spiR, 8, "responder's SPI");
  w.bytes(0, h.spiI);
  w.bytes(8, h.spiR);
  w.u8(16, nextPayload, 'next payload');
  const major = h.majorVersion ?? IKE_MAJOR_VERSION;
  const minor = h.minorVersion ?? 0;
  if (major > 15 || minor > 15) w.u8(17, 256, 'version nibble');
  w.u8(17, (major << 4) | minor, 'version');
  w.u8(18, h.exchangeType, 'exchange type');
  w.u8(19, h.flags, 'flags');
  w.u32(20, h.messageId, 'message ID');
  w.u32(24, length, 'message length');
}
