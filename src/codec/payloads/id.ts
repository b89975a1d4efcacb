// RFC 7296 §3.5: Identification payloads (IDi, IDr).
//  |   ID Type     |                 RESERVED (3)                  |
//  ~                   Identification Data                         ~
import type { BodyCodec, PayloadCommon } from './codec.ts';
import { PayloadType } from '../iana.ts';

export interface IdPayload extends PayloadCommon {
  readonly kind: 'IDi' | 'IDr';
  /** IdType value. */
  readonly idType: number;
  readonly data: Uint8Array;
  /** 24-bit RESERVED as received. */
  readonly reserved?: number;
}

export const idCodec: BodyCodec<IdPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'ID payload header');
    return {
      kind: ctx.type === PayloadType.IDi ? 'IDi' : 'IDr',
      flags: ctx.flags,
      idType: r.u8(start),
      data: r.slice(start + 4, end),
      reserved: (r.u8(start + 1) << 16) | r.u16(start + 2),
    };
  },
  size: (p) => 4 + p.data.length,
  write(w, off, p) {
    w.u8(off, p.idType, 'ID type');
    w.u24(off + 1, p.reserved ?? 0, 'ID reserved');
    w.bytes(off + 4, p.data);
  },
};
