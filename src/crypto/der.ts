// The one strict DER reader/writer (ITU-T X.690 §8, §10) of ikeway. Its users: the RFC 7427
// AlgorithmIdentifiers of signature AUTH data (src/crypto/signature.ts) and the parts of X.509
// (RFC 5280 §4.1) the credentials layer reads: names, extensions, subject public keys (src/creds).
// The reader rejects indefinite and non-minimal lengths, high tag numbers, truncation and trailing
// bytes, naming the structure and offset. Each layer keeps its own typed error: a reader is made
// with `derReader({ malformed })`, which raises that layer's MALFORMED error, and a cap on the
// length octets (2 for the AUTH payload, 3 for certificates).

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
  CTX0: 0xa0,
  CTX1: 0xa1,
  CTX2: 0xa2,
  CTX3: 0xa3,
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

export interface DerReaderOptions {
  /** Longest length field accepted, in octets after the first (2: 64 KiB, 3: 16 MiB). */
  readonly maxLengthOctets: 1 | 2 | 3;
  /** Throws the caller's layer error (code MALFORMED) with this message. */
  readonly malformed: (message: string) => never;
}

export interface DerReader {
  /** All TLVs of `buf` in order; every byte must belong to one. */
  readAll(buf: Uint8Array, what: string): Tlv[];
  /** Exactly one TLV with the expected tag covering all of `buf`. */
  readExactly(buf: Uint8Array, tag: number, what: string): Tlv;
  /** The children of a constructed element, checking its tag. */
  children(t: Tlv | undefined, tag: number, what: string): Tlv[];
  /** Dotted text from OID content octets; rejects non-minimal and truncated arcs. */
  decodeOid(v: Uint8Array, what: string): string;
  /** A DER INTEGER's content as a small non-negative number (minimal encoding enforced). */
  readSmallInt(v: Uint8Array, what: string): number;
}

export function derReader(opts: DerReaderOptions): DerReader {
  const { maxLengthOctets } = opts;

  function readOne(buf: Uint8Array, off: number, what: string): Tlv {
    const tag = buf[off];
    const l0 = buf[off + 1];
    if (tag === undefined || l0 === undefined) opts.malformed(`${what}: truncated DER at offset ${off}`);
    if ((tag & 0x1f) === 0x1f) opts.malformed(`${what}: high-number DER tag at offset ${off}`);
    let len = l0;
    let hdr = 2;
    if (l0 & 0x80) {
      const n = l0 & 0x7f;
      if (n === 0 || n > maxLengthOctets) opts.malformed(`${what}: unsupported DER length at offset ${off}`);
      len = 0;
      for (let i = 0; i < n; i++) {
        const b = buf[off + 2 + i];
        if (b === undefined) opts.malformed(`${what}: truncated DER length at offset ${off}`);
        if (i === 0 && b === 0) opts.malformed(`${what}: non-minimal DER length at offset ${off}`);
        len = len * 256 + b;
      }
      if (len < 0x80) opts.malformed(`${what}: non-minimal DER length at offset ${off}`);
      hdr += n;
    }
    const end = off + hdr + len;
    if (end > buf.length) opts.malformed(`${what}: DER length ${len} overruns at offset ${off}`);
    return { tag, value: buf.subarray(off + hdr, end), der: buf.subarray(off, end) };
  }

  function readAll(buf: Uint8Array, what: string): Tlv[] {
    const out: Tlv[] = [];
    for (let o = 0; o < buf.length;) {
      const t = readOne(buf, o, what);
      out.push(t);
      o += t.der.length;
    }
    return out;
  }

  function readExactly(buf: Uint8Array, tag: number, what: string): Tlv {
    const all = readAll(buf, what);
    const first = all[0];
    if (all.length !== 1 || first === undefined || first.tag !== tag) {
      opts.malformed(`${what}: expected one DER element with tag 0x${tag.toString(16)}`);
    }
    return first;
  }

  function children(t: Tlv | undefined, tag: number, what: string): Tlv[] {
    if (t === undefined || t.tag !== tag) opts.malformed(`${what}: expected tag 0x${tag.toString(16)}`);
    return readAll(t.value, what);
  }

  function decodeOid(v: Uint8Array, what: string): string {
    const arcs: number[] = [];
    let cur = 0;
    for (let i = 0; i < v.length; i++) {
      const b = v[i]!;
      if (cur === 0 && b === 0x80) opts.malformed(`${what}: non-minimal OID arc`);
      cur = cur * 128 + (b & 0x7f);
      if (cur > Number.MAX_SAFE_INTEGER / 128) opts.malformed(`${what}: OID arc too large`);
      if (!(b & 0x80)) {
        arcs.push(cur);
        cur = 0;
      } else if (i === v.length - 1) opts.malformed(`${what}: truncated OID`);
    }
    const first = arcs.shift();
    if (first === undefined) opts.malformed(`${what}: empty OID`);
    const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
    return [...head, ...arcs].join('.');
  }

  function readSmallInt(v: Uint8Array, what: string): number {
    const b0 = v[0];
    const b1 = v[1] ?? 0;
    if (b0 === undefined || v.length > 4 || b0 & 0x80 || (b0 === 0 && v.length > 1 && !(b1 & 0x80))) {
      opts.malformed(`${what}: INTEGER not a small positive minimal encoding`);
    }
    return v.reduce((n, b) => n * 256 + b, 0);
  }

  return { readAll, readExactly, children, decodeOid, readSmallInt };
}

/** Encode one TLV (definite length, minimal length octets). */
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

/** A whole OID TLV from dotted text. */
export const oid = (dotted: string): Uint8Array => tlv(TAG.OID, encodeOid(dotted));

/** A DER INTEGER of a non-negative number. */
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

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
