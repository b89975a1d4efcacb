// RFC 8019 §8.1: the PUZZLE notify's data (Notify type 16434, Protocol ID 0, no SPI):
//   PRF (2 octets, a Transform Type 2 ID the initiator proposed) | Difficulty (1 octet, 0..255)
// The Puzzle Solution payload (type 54, §8.2) is an opaque key: src/codec/payloads/opaque.ts.
import { CodecError, CodecErrorCode, encodeError } from './errors.ts';
import { NotifyType } from './iana.ts';

export interface PuzzleParams {
  /** PRF transform ID (RFC 7296 §3.3.2, Transform Type 2). */
  readonly prf: number;
  /** Trailing zero bits the initiator must produce (RFC 8019 §7.1.1). */
  readonly difficulty: number;
}

export function encodePuzzleData(p: PuzzleParams): Uint8Array {
  if (!Number.isInteger(p.prf) || p.prf < 0 || p.prf > 0xffff)
    throw encodeError(`PUZZLE PRF ${p.prf} is not a 16-bit ID`);
  if (!Number.isInteger(p.difficulty) || p.difficulty < 0 || p.difficulty > 255)
    throw encodeError(`PUZZLE difficulty ${p.difficulty} is not 0..255`);
  return Uint8Array.of(p.prf >> 8, p.prf & 0xff, p.difficulty);
}

/** Throws CodecError (INVALID_SYNTAX) unless the data is exactly 3 octets. */
export function decodePuzzleData(data: Uint8Array): PuzzleParams {
  if (data.length !== 3)
    throw new CodecError(
      CodecErrorCode.BAD_LENGTH,
      0,
      `PUZZLE notify data is ${data.length} octets, not 3 (RFC 8019 §8.1)`,
      NotifyType.INVALID_SYNTAX,
    );
  return { prf: (data[0]! << 8) | data[1]!, difficulty: data[2]! };
}
