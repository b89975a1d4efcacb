// Payloads whose body is one opaque field: Nonce (RFC 7296 §3.9), Vendor ID (§3.12),
// EAP (§3.16, the body is one EAP message, RFC 3748 §4), Puzzle Solution (RFC 8019 §8.2), and payload types we do not
// understand (kept whole so re-encoding is identical, RFC 7296 §2.5).
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface NoncePayload extends PayloadCommon {
  readonly kind: 'NONCE';
  readonly data: Uint8Array;
}

export interface VendorIdPayload extends PayloadCommon {
  readonly kind: 'VENDOR_ID';
  readonly data: Uint8Array;
}

export interface EapPayload extends PayloadCommon {
  readonly kind: 'EAP';
  /** The EAP message: Code, Identifier, Length, [Type, Type-Data]. */
  readonly data: Uint8Array;
}

/** RFC 8019 §8.2: Puzzle Solution; the body is four equal-sized PRF keys, concatenated (§7.1.3). */
export interface PuzzleSolutionPayload extends PayloadCommon {
  readonly kind: 'PS';
  readonly data: Uint8Array;
}

export interface UnknownPayload extends PayloadCommon {
  readonly kind: 'UNKNOWN';
  /** The payload type number we have no codec for. */
  readonly type: number;
  readonly data: Uint8Array;
}

export const nonceCodec: BodyCodec<NoncePayload> = {
  decode: (r, start, end, ctx) => ({ kind: 'NONCE', flags: ctx.flags, data: r.slice(start, end) }),
  size: (p) => p.data.length,
  write: (w, off, p) => w.bytes(off, p.data),
};

export const vendorIdCodec: BodyCodec<VendorIdPayload> = {
  decode: (r, start, end, ctx) => ({ kind: 'VENDOR_ID', flags: ctx.flags, data: r.slice(start, end) }),
  size: (p) => p.data.length,
  write: (w, off, p) => w.bytes(off, p.data),
};

export const psCodec: BodyCodec<PuzzleSolutionPayload> = {
  decode(r, start, end, ctx) {
    // RFC 8019 §8.2: the solution is a PRF key; an empty one cannot be a key.
    if (end === start) r.fail(start, 'empty Puzzle Solution payload');
    return { kind: 'PS', flags: ctx.flags, data: r.slice(start, end) };
  },
  size: (p) => p.data.length,
  write: (w, off, p) => w.bytes(off, p.data),
};

export const eapCodec: BodyCodec<EapPayload> = {
  decode(r, start, end, ctx) {
    // RFC 3748 §4: Code(1) Identifier(1) Length(2); Length covers the whole EAP message.
    r.need(start, 4, end, 'EAP message header');
    const len = r.u16(start + 2);
    if (len !== end - start)
      r.fail(start + 2, `EAP length ${len} differs from the ${end - start} bytes in the payload`);
    return { kind: 'EAP', flags: ctx.flags, data: r.slice(start, end) };
  },
  size: (p) => p.data.length,
  write: (w, off, p) => w.bytes(off, p.data),
};

export function decodeUnknown(data: Uint8Array, type: number, flags: number): UnknownPayload {
  return { kind: 'UNKNOWN', type, flags, data };
}
