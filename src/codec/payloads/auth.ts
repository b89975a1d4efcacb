// RFC 7296 §3.8: Authentication payload.
//  | Auth Method   |                RESERVED (3)                   |
//  ~                      Authentication Data                      ~
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface AuthPayload extends PayloadCommon {
  readonly kind: 'AUTH';
  /** AuthMethod value. */
  readonly method: number;
  readonly data: Uint8Array;
  readonly reserved?: number;
}

export const authCodec: BodyCodec<AuthPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'AUTH payload header');
    return {
      kind: 'AUTH',
      flags: ctx.flags,
      method: r.u8(start),
      data: r.slice(start + 4, end),
      reserved: (r.u8(start + 1) << 16) | r.u16(start + 2),
    };
  },
  size: (p) => 4 + p.data.length,
  write(w, off, p) {
    w.u8(off, p.method, 'auth method');
    w.u24(off + 1, p.reserved ?? 0, 'AUTH reserved');
    w.bytes(off + 4, p.data);
  },
};
