// RFC 7296 §3.4: Key Exchange payload.
//  | Key Exchange Method Num (2)   |           RESERVED (2)        |
//  ~                       Key Exchange Data                       ~
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface KePayload extends PayloadCommon {
  readonly kind: 'KE';
  /** DhGroup value (RFC 9370 "Key Exchange Method"). */
  readonly group: number;
  readonly data: Uint8Array;
  readonly reserved?: number;
}

export const keCodec: BodyCodec<KePayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'KE payload header');
    return {
      kind: 'KE',
      flags: ctx.flags,
      group: r.u16(start),
      data: r.slice(start + 4, end),
      reserved: r.u16(start + 2),
    };
  },
  size: (p) => 4 + p.data.length,
  write(w, off, p) {
    w.u16(off, p.group, 'KE method');
    w.u16(off + 2, p.reserved ?? 0, 'KE reserved');
    w.bytes(off + 4, p.data);
  },
};
