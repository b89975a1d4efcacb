// RFC 7296 §3.11: Delete payload.
//  | Protocol ID   |   SPI Size    |          Num of SPIs          |
//  ~               Security Parameter Index(es) (SPI)              ~
import type { BodyCodec, PayloadCommon } from './codec.ts';
import { checkLength } from '../bytes.ts';

export interface DeletePayload extends PayloadCommon {
  readonly kind: 'DELETE';
  readonly protocolId: number;
  /** 0 for IKE (the SA is the one the message is protected by), 4 for ESP/AH. */
  readonly spiSize: number;
  readonly spis: readonly Uint8Array[];
}

export const deleteCodec: BodyCodec<DeletePayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'Delete payload header');
    const spiSize = r.u8(start + 1);
    const count = r.u16(start + 2);
    const bytes = spiSize * count;
    if (bytes !== end - start - 4) {
      r.fail(start + 2, `${count} SPIs of ${spiSize} bytes do not fill the ${end - start - 4} bytes of SPIs`);
    }
    const spis: Uint8Array[] = [];
    for (let i = 0, o = start + 4; i < count; i++, o += spiSize) spis.push(r.slice(o, o + spiSize));
    return { kind: 'DELETE', flags: ctx.flags, protocolId: r.u8(start), spiSize, spis };
  },
  size: (p) => 4 + p.spiSize * p.spis.length,
  write(w, off, p) {
    w.u8(off, p.protocolId, 'delete protocol ID');
    w.u8(off + 1, p.spiSize, 'delete SPI size');
    w.u16(off + 2, p.spis.length, 'number of SPIs');
    let o = off + 4;
    for (const spi of p.spis) {
      checkLength(spi, p.spiSize, 'deleted SPI');
      w.bytes(o, spi);
      o += p.spiSize;
    }
  },
};
