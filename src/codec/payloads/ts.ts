// RFC 7296 §3.13: Traffic Selector payloads (TSi, TSr).
//  | Number of TSs |                 RESERVED (3)                  |
//  ~                       <Traffic Selectors>                     ~
// §3.13.1 Traffic Selector:
//  |   TS Type     |IP Protocol ID*|       Selector Length         |
//  |           Start Port*         |           End Port*           |
//  ~                         Starting Address*                     ~
//  ~                         Ending Address*                       ~
// (*) layout of TS_IPV4_ADDR_RANGE (length 16) and TS_IPV6_ADDR_RANGE (length 40).
import type { Reader, Writer } from '../bytes.ts';
import { checkLength } from '../bytes.ts';
import { PayloadType, TsType } from '../iana.ts';
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface AddrRangeSelector {
  readonly tsType: typeof TsType.IPV4_ADDR_RANGE | typeof TsType.IPV6_ADDR_RANGE;
  /** 0 = any protocol. */
  readonly ipProtocol: number;
  readonly startPort: number;
  readonly endPort: number;
  /** 4 or 16 bytes, matching tsType. */
  readonly startAddr: Uint8Array;
  readonly endAddr: Uint8Array;
}

/** A selector type without an address-range layout (FC, security label ...), kept raw. */
export interface OtherSelector {
  readonly tsType: number;
  /** Octet 2 of the selector header. */
  readonly byte1: number;
  /** Everything after the 4-byte selector header. */
  readonly data: Uint8Array;
}

export type TrafficSelector = AddrRangeSelector | OtherSelector;

export interface TsPayload extends PayloadCommon {
  readonly kind: 'TSi' | 'TSr';
  readonly selectors: readonly TrafficSelector[];
  readonly reserved?: number;
}

export const isAddrRange = (s: TrafficSelector): s is AddrRangeSelector =>
  s.tsType === TsType.IPV4_ADDR_RANGE || s.tsType === TsType.IPV6_ADDR_RANGE;

const addrLen = (tsType: number): number => (tsType === TsType.IPV4_ADDR_RANGE ? 4 : 16);
const selectorSize = (s: TrafficSelector): number =>
  isAddrRange(s) ? 8 + 2 * addrLen(s.tsType) : 4 + (s as OtherSelector).data.length;

function decodeSelector(r: Reader, off: number, end: number): [TrafficSelector, number] {
  r.need(off, 4, end, 'traffic selector header');
  const tsType = r.u8(off);
  const len = r.u16(off + 2);
  if (len < 4) r.fail(off + 2, `selector length ${len} shorter than its header (4)`);
  r.need(off, len, end, 'traffic selector');
  if (tsType === TsType.IPV4_ADDR_RANGE || tsType === TsType.IPV6_ADDR_RANGE) {
    const a = addrLen(tsType);
    if (len !== 8 + 2 * a)
      r.fail(off + 2, `selector length ${len} is not ${8 + 2 * a} for TS type ${tsType}`);
    const sel: AddrRangeSelector = {
      tsType,
      ipProtocol: r.u8(off + 1),
      startPort: r.u16(off + 4),
      endPort: r.u16(off + 6),
      startAddr: r.slice(off + 8, off + 8 + a),
      endAddr: r.slice(off + 8 + a, off + 8 + 2 * a),
    };
    return [sel, len];
  }
  return [{ tsType, byte1: r.u8(off + 1), data: r.slice(off + 4, off + len) }, len];
}

function writeSelector(w: Writer, off: number, s: TrafficSelector): void {
  const len = selectorSize(s);
  w.u8(off, s.tsType, 'TS type');
  w.u16(off + 2, len, 'selector length');
  if (isAddrRange(s)) {
    const a = addrLen(s.tsType);
    checkLength(s.startAddr, a, 'TS starting address');
    checkLength(s.endAddr, a, 'TS ending address');
    w.u8(off + 1, s.ipProtocol, 'TS IP protocol');
    w.u16(off + 4, s.startPort, 'TS start port');
    w.u16(off + 6, s.endPort, 'TS end port');
    w.bytes(off + 8, s.startAddr);
    w.bytes(off + 8 + a, s.endAddr);
  } else {
    w.u8(off + 1, s.byte1, 'TS octet 2');
    w.bytes(off + 4, s.data);
  }
}

export const tsCodec: BodyCodec<TsPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'TS payload header');
    const count = r.u8(start);
    const selectors: TrafficSelector[] = [];
    let off = start + 4;
    while (off < end) {
      const [sel, len] = decodeSelector(r, off, end);
      selectors.push(sel);
      off += len;
    }
    if (selectors.length !== count)
      r.fail(start, `TS payload says ${count} selectors, found ${selectors.length}`);
    return {
      kind: ctx.type === PayloadType.TSi ? 'TSi' : 'TSr',
      flags: ctx.flags,
      selectors,
      reserved: (r.u8(start + 1) << 16) | r.u16(start + 2),
    };
  },
  size(p) {
    let n = 4;
    for (const s of p.selectors) n += selectorSize(s);
    return n;
  },
  write(w, off, p) {
    w.u8(off, p.selectors.length, 'number of TSs');
    w.u24(off + 1, p.reserved ?? 0, 'TS reserved');
    let o = off + 4;
    for (const s of p.selectors) {
      writeSelector(w, o, s);
      o += selectorSize(s);
    }
  },
};
