// RFC 7296 §3.14 Encrypted payload (SK) and RFC 7383 §2.5 Encrypted Fragment payload (SKF).
// The codec keeps the body (IV | ciphertext | ICV) opaque; ../protect.ts seals and opens it.
//  SK : | Next Payload  |C|  RESERVED   |         Payload Length        |
//       ~ Initialization Vector | Encrypted IKE Payloads | Padding | Pad Length | ICV ~
//  SKF: | Next Payload  |C|  RESERVED   |         Payload Length        |
//       |        Fragment Number        |        Total Fragments        |
//       ~ Initialization Vector | Encrypted content | Padding | Pad Length | ICV ~
// The Next Payload field names the first inner payload (SKF: only in fragment 1, else 0).
import type { BodyCodec, PayloadCommon } from './codec.ts';

export interface SkPayload extends PayloadCommon {
  readonly kind: 'SK';
  /** Type of the first payload inside (the Next Payload field of SK). */
  readonly innerFirst: number;
  readonly body: Uint8Array;
}

export interface SkfPayload extends PayloadCommon {
  readonly kind: 'SKF';
  readonly innerFirst: number;
  /** 1-based. */
  readonly fragmentNumber: number;
  readonly totalFragments: number;
  readonly body: Uint8Array;
}

export const skCodec: BodyCodec<SkPayload> = {
  decode: (r, start, end, ctx) => ({
    kind: 'SK',
    flags: ctx.flags,
    innerFirst: ctx.next,
    body: r.slice(start, end),
  }),
  size: (p) => p.body.length,
  write: (w, off, p) => w.bytes(off, p.body),
};

export const skfCodec: BodyCodec<SkfPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 4, end, 'SKF fragment numbers');
    const fragmentNumber = r.u16(start);
    const totalFragments = r.u16(start + 2);
    // RFC 7383 §2.5: numbers start at 1 and Fragment Number <= Total Fragments.
    if (fragmentNumber === 0) r.fail(start, 'fragment number 0 (RFC 7383 §2.5: starts at 1)');
    if (fragmentNumber > totalFragments) {
      r.fail(start, `fragment number ${fragmentNumber} exceeds total fragments ${totalFragments}`);
    }
    return {
      kind: 'SKF',
      flags: ctx.flags,
      innerFirst: ctx.next,
      fragmentNumber,
      totalFragments,
      body: r.slice(start + 4, end),
    };
  },
  size: (p) => 4 + p.body.length,
  write(w, off, p) {
    w.u16(off, p.fragmentNumber, 'fragment number');
    w.u16(off + 2, p.totalFragments, 'total fragments');
    w.bytes(off + 4, p.body);
  },
};
