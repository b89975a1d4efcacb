// A minimal strict DER reader/writer (X.690 §10), enough for the AlgorithmIdentifiers of RFC 7427.
// The reader rejects indefinite and non-minimal lengths and trailing bytes.
import { fail } from './errors.ts';

export const TAG = {
  INTEGER: 0x02,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  CTX0: 0xa0,
  CTX1: 0xa1,
  CTX2: 0xa2,
  CTX3: 0xa3,
} as const;

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** Encode one TLV. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const len = content.reduce((n, c) => n + c.length, 0);
  const head = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
  if (len > 0xffff) fail('MALFORMED', 'DER value longer than 65535 bytes');
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let o = head.length;
  for (const c of content) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Encode an OID given in dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const bytes: number[] = [a * 40 + b];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.OID, Uint8Array.from(bytes));
}

export function derInt(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
    if (v < 256) break;
  }
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Uint8Array.from(bytes));
}

export const DER_NULL = Uint8Array.of(TAG.NULL, 0);

/** Read all TLVs of `buf` in sequence; every byte must belong to a TLV. */
export function readAll(buf: Uint8Array, what: string): Tlv[] {
  const out: Tlv[] = [];
  let o = 0;
  while (o < buf.length) {
    const r = readOne(buf, o, what);
    out.push(r.tlv);
    o = r.end;
  }
  return out;
}

function readOne(buf: Uint8Array, off: number, what: string): { tlv: Tlv; end: number } {
  const tag = buf[off];
  const l0 = buf[off + 1];
  if (tag === undefined || l0 === undefined) fail('MALFORMED', `${what}: truncated DER at offset ${off}`);
  if ((tag & 0x1f) === 0x1f) fail('MALFORMED', `${what}: multi-byte DER tag at offset ${off}`);
  let len = l0;
  let hdr = 2;
  if (l0 & 0x80) {
    const n = l0 & 0x7f;
    if (n === 0 || n > 2) fail('MALFORMED', `${what}: unsupported DER length form at offset ${off}`);
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[off + 2 + i];
      if (b === undefined) fail('MALFORMED', `${what}: truncated DER length at offset ${off}`);
      len = len * 256 + b;
    }
    hdr += n;
    if (len < 0x80 || (n === 2 && len < 0x100))
      fail('MALFORMED', `${what}: non-minimal DER length at ${off}`);
  }
  const end = off + hdr + len;
  if (end > buf.length) fail('MALFORMED', `${what}: DER length ${len} overruns at offset ${off}`);
  return { tlv: { tag, value: buf.subarray(off + hdr, end) }, end };
}

/** Read exactly one TLV of the expected tag covering all of `buf`. */
export function readExactly(buf: Uint8Array, tag: number, what: string): Uint8Array {
  const all = readAll(buf, what);
  const first = all[0];
  if (all.length !== 1 || !first || first.tag !== tag) {
    fail('MALFORMED', `${what}: expected a single DER tag 0x${tag.toString(16)}`);
  }
  return first.value;
}

/** Decode a DER INTEGER's content as a small non-negative number (minimal encoding enforced). */
export function readSmallInt(v: Uint8Array, what: string): number {
  const b0 = v[0];
  const b1 = v[1] ?? 0;
  if (b0 === undefined || v.length > 4 || b0 & 0x80 || (b0 === 0 && v.length > 1 && !(b1 & 0x80))) {
    fail('MALFORMED', `${what}: INTEGER not a small positive minimal encoding`);
  }
  return v.reduce((n, b) => n * 256 + b, 0);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
