// Bounds-checked big-endian reads and range-checked writes over one DataView per buffer.
// Offsets are relative to `buf`; errors report `base + offset` so nested decoders (the inner
// chain of an SK payload) point at the byte in the whole message.
import { CodecError, CodecErrorCode, encodeError } from './errors.ts';

/** Zero octets; frozen so that no one can give it properties. */
const EMPTY: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

export class Reader {
  readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    readonly base = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Throws TRUNCATED unless `n` bytes from `off` fit before `end`. */
  need(off: number, n: number, end: number, what: string): void {
    if (off + n > end) {
      const left = Math.max(0, end - off);
      throw new CodecError(
        CodecErrorCode.TRUNCATED,
        this.base + off,
        `${what} needs ${n} bytes, only ${left} left`,
      );
    }
  }

  u8(off: number): number {
    return this.view.getUint8(off);
  }

  u16(off: number): number {
    return this.view.getUint16(off);
  }

  u32(off: number): number {
    return this.view.getUint32(off);
  }

  /**
   * A view (no copy) of buf[start, end). An empty field (the IKE SA proposal's SPI, RFC 7296 §3.3.1)
   * is one shared empty array, not a view that keeps the whole received message alive.
   */
  slice(start: number, end: number): Uint8Array {
    return end > start ? this.buf.subarray(start, end) : EMPTY;
  }

  fail(off: number, detail: string, code: CodecErrorCode = CodecErrorCode.BAD_VALUE): never {
    throw new CodecError(code, this.base + off, detail);
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw encodeError(`${what} ${v} is not an integer in 0..${max}`);
}

export class Writer {
  readonly view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u8(off: number, v: number, what: string): void {
    checkUint(v, 0xff, what);
    this.view.setUint8(off, v);
  }

  u16(off: number, v: number, what: string): void {
    checkUint(v, 0xffff, what);
    this.view.setUint16(off, v);
  }

  u24(off: number, v: number, what: string): void {
    checkUint(v, 0xffffff, what);
    this.view.setUint8(off, v >>> 16);
    this.view.setUint16(off + 1, v & 0xffff);
  }

  u32(off: number, v: number, what: string): void {
    checkUint(v, 0xffffffff, what);
    this.view.setUint32(off, v);
  }

  bytes(off: number, src: Uint8Array): void {
    this.buf.set(src, off);
  }
}

/** Fixed-length byte field check for the encoder (SPIs, addresses). */
export function checkLength(b: Uint8Array, len: number, what: string): void {
  if (b.length !== len) throw encodeError(`${what} must be ${len} bytes, got ${b.length}`);
}
