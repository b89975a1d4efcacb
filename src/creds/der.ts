// A minimal strict DER reader/writer (ITU-T X.690 §8, §10) for the parts of X.509 (RFC 5280 §4.1)
// the credentials layer reads: names, extensions, subject public keys. The reader rejects
// indefinite and non-minimal lengths, high tag numbers and trailing bytes, and throws
// CredsError MALFORMED naming the structure and offset.
import { fail } from './errors.ts';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag [n]: constructed (EXPLICIT / constructed IMPLICIT) or primitive. */
export const ctx = (n: number, constructed: boolean) => (constructed ? 0xa0 : 0x80) | n;

export interface Tlv {
  readonly tag: number;
  /** Content octets. */
  readonly value: Uint8Array;
  /** The whole encoding, header included. */
  readonly der: Uint8Array;
}

const MAX_LEN_OCTETS = 3; // 16 MiB: far above any certificate an IKE peer may send

function readOne(buf: Uint8Array, off: number, what: string): Tlv {
  const tag = buf[off];
  const l0 = buf[off + 1];
  if (tag === undefined || l0 === undefined) fail('MALFORMED', `${what}: truncated DER at offset ${off}`);
  if ((tag & 0x1f) === 0x1f) fail('MALFORMED', `${what}: high-number DER tag at offset ${off}`);
  let len = l0;
  let hdr = 2;
  if (l0 & 0x80) {
    const n = l0 & 0x7f;
    if (n === 0 || n > MAX_LEN_OCTETS) fail('MALFORMED', `${what}: unsupported DER length at offset ${off}`);
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[off + 2 + i];
      if (b === undefined) fail('MALFORMED', `${what}: truncated DER length at offset ${off}`);
      if (i === 0 && b === 0) fail('MALFORMED', `${what}: non-minimal DER length at offset ${off}`);
      len = len * 256 + b;
    }
    if (len < 0x80) fail('MALFORMED', `${what}: non-minimal DER length at offset ${off}`);
    hdr += n;
  }
  const end = off + hdr + len;
  if (end > buf.length) fail('MALFORMED', `${what}: DER length ${len} overruns at offset ${off}`);
  return { tag, value: buf.subarray(off + hdr, end), der: buf.subarray(off, end) };
}

/** All TLVs of `buf` in order; every byte must belong to one. */
export function readAll(buf: Uint8Array, what: string): Tlv[] {
  const out: Tlv[] = [];
  for (let o = 0; o < buf.length;) {
    const t = readOne(buf, o, what);
    out.push(t);
    o += t.der.length;
  }
  return out;
}

/** Exactly one TLV with the expected tag covering all of `buf`. */
export function readExactly(buf: Uint8Array, tag: number, what: string): Tlv {
  const all = readAll(buf, what);
  const first = all[0];
  if (all.length !== 1 || first === undefined || first.tag !== tag) {
    fail('MALFORMED', `${what}: expected one DER element with tag 0x${tag.toString(16)}`);
  }
  return first;
}

/** The children of a constructed element, checking its tag. */
export function children(t: Tlv | undefined, tag: number, what: string): Tlv[] {
  if (t === undefined || t.tag !== tag) fail('MALFORMED', `${what}: expected tag 0x${tag.toString(16)}`);
  return readAll(t.value, what);
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const len = content.reduce((n, c) => n + c.length, 0);
  const lenBytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
  const head = len < 0x80 ? [tag, len] : [tag, 0x80 | lenBytes.length, ...lenBytes];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let o = head.length;
  for (const c of content) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** OID content octets (X.690 §8.19) from dotted text. */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return Uint8Array.from(bytes);
}

/** Dotted text from OID content octets; rejects non-minimal and truncated arcs. */
export function decodeOid(v: Uint8Array, what: string): string {
  const arcs: number[] = [];
  let cur = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (cur === 0 && b === 0x80) fail('MALFORMED', `${what}: non-minimal OID arc`);
    cur = cur * 128 + (b & 0x7f);
    if (cur > Number.MAX_SAFE_INTEGER / 128) fail('MALFORMED', `${what}: OID arc too large`);
    if (!(b & 0x80)) {
      arcs.push(cur);
      cur = 0;
    } else if (i === v.length - 1) fail('MALFORMED', `${what}: truncated OID`);
  }
  const first = arcs.shift();
  if (first === undefined) fail('MALFORMED', `${what}: empty OID`);
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
