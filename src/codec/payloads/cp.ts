// RFC 7296 §3.15: Configuration payload.
//  |   CFG Type    |                    RESERVED (3)               |
//  ~                   Configuration Attributes                    ~
// §3.15.1 attribute: |R|         Attribute Type      |            Length             |  Value ~
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface CfgAttribute {
  /** CfgAttr value (15 bits). */
  readonly type: number;
  /** Empty in a CFG_REQUEST asking for any value. */
  readonly value: Uint8Array;
  /** The R bit as received (§3.15.1: sent 0, ignored). */
  readonly reservedBit?: boolean;
}

export interface CpPayload extends PayloadCommon {
  readonly kind: 'CP';
  /** CfgType value. */
  readonly cfgType: number;
  readonly attributes: readonly CfgAttribute[];
  readonly reserved?: number;
}

export const cpCodec: BodyCodec<CpPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'CP payload header');
    const attributes: CfgAttribute[] = [];
    let off = start + 4;
    while (off < end) {
      r.need(off, 4, end, 'configuration attribute header');
      const word = r.u16(off);
      const len = r.u16(off + 2);
      r.need(off + 4, len, end, `configuration attribute ${word & 0x7fff} value`);
      attributes.push({
        type: word & 0x7fff,
        value: r.slice(off + 4, off + 4 + len),
        reservedBit: word >= 0x8000,
      });
      off += 4 + len;
    }
    return {
      kind: 'CP',
      flags: ctx.flags,
      cfgType: r.u8(start),
      attributes,
      reserved: (r.u8(start + 1) << 16) | r.u16(start + 2),
    };
  },
  size(p) {
    let n = 4;
    for (const a of p.attributes) n += 4 + a.value.length;
    return n;
  },
  write(w, off, p) {
    w.u8(off, p.cfgType, 'CFG type');
    w.u24(off + 1, p.reserved ?? 0, 'CP reserved');
    let o = off + 4;
    for (const a of p.attributes) {
      if (a.type > 0x7fff) w.u16(o, 0x10000, 'configuration attribute type');
      w.u16(o, (a.reservedBit ? 0x8000 : 0) | a.type, 'configuration attribute type');
      w.u16(o + 2, a.value.length, 'configuration attribute length');
      w.bytes(o + 4, a.value);
      o += 4 + a.value.length;
    }
  },
};
