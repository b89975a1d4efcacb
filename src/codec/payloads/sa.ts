// RFC 7296 §3.3: Security Association payload = proposals, each with transforms and attributes.
//
// Proposal substructure (§3.3.1):
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Last Substruc |   RESERVED    |         Proposal Length       |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  ~                        SPI (variable)                         ~
//  ~                        <Transforms>                           ~
// Transform substructure (§3.3.2):
//  | Last Substruc |   RESERVED    |        Transform Length       |
//  |Transform Type |   RESERVED    |          Transform ID         |
//  ~                      Transform Attributes                     ~
// Data attribute (§3.3.5): |A|  Attribute Type  | AF=0 Length / AF=1 Value | [AF=0 Value]
import type { Reader, Writer } from '../bytes.ts';
import { encodeError } from '../errors.ts';
import { TransformAttr } from '../iana.ts';
import type { BodyCodec, PayloadCommon } from './codec.ts';

/** §3.3.1/§3.3.2 "Last Substruc" values. */
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const AF_TV = 0x8000;

export type TransformAttribute =
  | { readonly format: 'TV'; readonly type: number; readonly value: number }
  | { readonly format: 'TLV'; readonly type: number; readonly data: Uint8Array };

export interface Transform {
  readonly type: number;
  readonly id: number;
  readonly attributes: readonly TransformAttribute[];
  /** RESERVED octets 2 and 6 as received (sent 0). */
  readonly reserved1?: number;
  readonly reserved2?: number;
}

export interface Proposal {
  readonly num: number;
  readonly protocolId: number;
  /** Empty for IKE in IKE_SA_INIT; 4 bytes for ESP/AH; 8 for IKE rekeys. */
  readonly spi: Uint8Array;
  readonly transforms: readonly Transform[];
  readonly reserved?: number;
}

export interface SaPayload extends PayloadCommon {
  readonly kind: 'SA';
  readonly proposals: readonly Proposal[];
}

/** The Key Length attribute (§3.3.5) of a transform, in bits, if present. */
export function keyLength(t: Transform): number | undefined {
  for (const a of t.attributes) if (a.type === TransformAttr.KEY_LENGTH && a.format === 'TV') return a.value;
  return undefined;
}

function decodeAttributes(r: Reader, start: number, end: number): TransformAttribute[] {
  const out: TransformAttribute[] = [];
  let a = start;
  while (a < end) {
    r.need(a, 4, end, 'transform attribute');
    const word = r.u16(a);
    const type = word & 0x7fff;
    if (word & AF_TV) {
      out.push({ format: 'TV', type, value: r.u16(a + 2) });
      a += 4;
    } else {
      const len = r.u16(a + 2);
      r.need(a + 4, len, end, `TLV attribute ${type} value`);
      out.push({ format: 'TLV', type, data: r.slice(a + 4, a + 4 + len) });
      a += 4 + len;
    }
  }
  return out;
}

/** Walks substructures [start, end) with the "Last Substruc" rule of §3.3.1/§3.3.2. */
function walk(
  r: Reader,
  start: number,
  end: number,
  what: 'proposal' | 'transform',
  each: (off: number, subEnd: number) => void,
): void {
  const more = what === 'proposal' ? MORE_PROPOSALS : MORE_TRANSFORMS;
  let off = start;
  while (off < end) {
    r.need(off, 8, end, `${what} substructure`);
    const last = r.u8(off);
    const len = r.u16(off + 2);
    if (last !== 0 && last !== more) r.fail(off, `${what} "last substruc" ${last} is neither 0 nor ${more}`);
    if (len < 8) r.fail(off + 2, `${what} length ${len} shorter than its header (8)`);
    if (off + len > end) r.fail(off + 2, `${what} length ${len} exceeds the ${end - off} bytes left`);
    const isLast = off + len === end;
    if ((last === more) === isLast) {
      r.fail(off, isLast ? `last ${what} is marked "more" (${more})` : `${what} marked last but more follow`);
    }
    each(off, off + len);
    off += len;
  }
}

function decodeProposal(r: Reader, off: number, end: number): Proposal {
  const spiSize = r.u8(off + 6);
  const count = r.u8(off + 7);
  r.need(off + 8, spiSize, end, 'proposal SPI');
  const transforms: Transform[] = [];
  walk(r, off + 8 + spiSize, end, 'transform', (t, tEnd) => {
    transforms.push({
      type: r.u8(t + 4),
      id: r.u16(t + 6),
      attributes: decodeAttributes(r, t + 8, tEnd),
      reserved1: r.u8(t + 1),
      reserved2: r.u8(t + 5),
    });
  });
  if (transforms.length !== count)
    r.fail(off + 7, `proposal says ${count} transforms, found ${transforms.length}`);
  return {
    num: r.u8(off + 4),
    protocolId: r.u8(off + 5),
    spi: r.slice(off + 8, off + 8 + spiSize),
    transforms,
    reserved: r.u8(off + 1),
  };
}

const attrSize = (a: TransformAttribute): number => (a.format === 'TV' ? 4 : 4 + a.data.length);

function transformSize(t: Transform): number {
  let n = 8;
  for (const a of t.attributes) n += attrSize(a);
  return n;
}

function proposalSize(p: Proposal): number {
  let n = 8 + p.spi.length;
  for (const t of p.transforms) n += transformSize(t);
  return n;
}

function writeTransform(w: Writer, off: number, t: Transform, last: boolean, len: number): void {
  w.u8(off, last ? 0 : MORE_TRANSFORMS, 'last substruc');
  w.u8(off + 1, t.reserved1 ?? 0, 'transform reserved');
  w.u16(off + 2, len, 'transform length');
  w.u8(off + 4, t.type, 'transform type');
  w.u8(off + 5, t.reserved2 ?? 0, 'transform reserved');
  w.u16(off + 6, t.id, 'transform ID');
  let a = off + 8;
  for (const attr of t.attributes) {
    if (attr.type > 0x7fff || attr.type < 0) throw encodeError(`attribute type ${attr.type} exceeds 15 bits`);
    if (attr.format === 'TV') {
      w.u16(a, AF_TV | attr.type, 'attribute type');
      w.u16(a + 2, attr.value, 'TV attribute value');
    } else {
      w.u16(a, attr.type, 'attribute type');
      w.u16(a + 2, attr.data.length, 'TLV attribute length');
      w.bytes(a + 4, attr.data);
    }
    a += attrSize(attr);
  }
}

function writeProposal(w: Writer, off: number, p: Proposal, last: boolean, len: number): void {
  w.u8(off, last ? 0 : MORE_PROPOSALS, 'last substruc');
  w.u8(off + 1, p.reserved ?? 0, 'proposal reserved');
  w.u16(off + 2, len, 'proposal length');
  w.u8(off + 4, p.num, 'proposal number');
  w.u8(off + 5, p.protocolId, 'protocol ID');
  w.u8(off + 6, p.spi.length, 'SPI size');
  w.u8(off + 7, p.transforms.length, 'number of transforms');
  w.bytes(off + 8, p.spi);
  let t = off + 8 + p.spi.length;
  p.transforms.forEach((tr, i) => {
    const tl = transformSize(tr);
    writeTransform(w, t, tr, i === p.transforms.length - 1, tl);
    t += tl;
  });
}

export const saCodec: BodyCodec<SaPayload> = {
  decode(r, start, end, ctx) {
    const proposals: Proposal[] = [];
    walk(r, start, end, 'proposal', (off, pEnd) => proposals.push(decodeProposal(r, off, pEnd)));
    if (proposals.length === 0) r.fail(start, 'SA payload without proposals (RFC 7296 §3.3)');
    return { kind: 'SA', flags: ctx.flags, proposals };
  },
  size(p) {
    let n = 0;
    for (const pr of p.proposals) n += proposalSize(pr);
    return n;
  },
  write(w, off, p) {
    if (p.proposals.length === 0) throw encodeError('SA payload without proposals (RFC 7296 §3.3)');
    let o = off;
    p.proposals.forEach((pr, i) => {
      const len = proposalSize(pr);
      writeProposal(w, o, pr, i === p.proposals.length - 1, len);
      o += len;
    });
  },
};
