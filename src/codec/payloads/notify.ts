// RFC 7296 §3.10: Notify payload.
//  |  Protocol ID  |   SPI Size    |      Notify Message Type      |
//  ~                Security Parameter Index (SPI)                 ~
//  ~                       Notification Data                       ~
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface NotifyPayload extends PayloadCommon {
  readonly kind: 'NOTIFY';
  /** ProtocolId, or 0 when not about an SA (§3.10). */
  readonly protocolId: number;
  /** NotifyType value. */
  readonly notifyType: number;
  readonly spi: Uint8Array;
  readonly data: Uint8Array;
}

export const notifyCodec: BodyCodec<NotifyPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'Notify payload header');
    const spiSize = r.u8(start + 1);
    r.need(start + 4, spiSize, end, 'Notify SPI');
    return {
      kind: 'NOTIFY',
      flags: ctx.flags,
      protocolId: r.u8(start),
      notifyType: r.u16(start + 2),
      spi: r.slice(start + 4, start + 4 + spiSize),
      data: r.slice(start + 4 + spiSize, end),
    };
  },
  size: (p) => 4 + p.spi.length + p.data.length,
  write(w, off, p) {
    w.u8(off, p.protocolId, 'notify protocol ID');
    w.u8(off + 1, p.spi.length, 'notify SPI size');
    w.u16(off + 2, p.notifyType, 'notify type');
    w.bytes(off + 4, p.spi);
    w.bytes(off + 4 + p.spi.length, p.data);
  },
};
