// The payload chain (RFC 7296 §3.2): generic headers linked by Next Payload, dispatched to one
// body codec per payload type. Used for the outer chain of a message and the inner chain of SK.
import { Reader, Writer } from './bytes.ts';
import { CodecError, CodecErrorCode, encodeError } from './errors.ts';
import { NotifyType, PayloadType, ianaName } from './iana.ts';
import { authCodec, type AuthPayload } from './payloads/auth.ts';
import { certCodec, type CertPayload } from './payloads/cert.ts';
import { type BodyCodec, CRITICAL_FLAG, GENERIC_HEADER_LENGTH } from './payloads/codec.ts';
import { cpCodec, type CpPayload } from './payloads/cp.ts';
import { deleteCodec, type DeletePayload } from './payloads/delete.ts';
import { idCodec, type IdPayload } from './payloads/id.ts';
import { keCodec, type KePayload } from './payloads/ke.ts';
import { notifyCodec, type NotifyPayload } from './payloads/notify.ts';
import {
  decodeUnknown,
  eapCodec,
  type EapPayload,
  nonceCodec,
  type NoncePayload,
  psCodec,
  type PuzzleSolutionPayload,
  type UnknownPayload,
  vendorIdCodec,
  type VendorIdPayload,
} from './payloads/opaque.ts';
import { saCodec, type SaPayload } from './payloads/sa.ts';
import { skCodec, skfCodec, type SkfPayload, type SkPayload } from './payloads/sk.ts';
import { tsCodec, type TsPayload } from './payloads/ts.ts';

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | SkPayload
  | CpPayload
  | EapPayload
  | SkfPayload
  | PuzzleSolutionPayload
  | UnknownPayload;

export type PayloadKind = Payload['kind'];

// One body codec per payload type we understand (RFC 7296 §3.3-§3.16, RFC 7383 §2.5).
const CODECS = new Map<number, BodyCodec<Payload>>([
  [PayloadType.SA, saCodec],
  [PayloadType.KE, keCodec],
  [PayloadType.IDi, idCodec],
  [PayloadType.IDr, idCodec],
  [PayloadType.CERT, certCodec],
  [PayloadType.CERTREQ, certCodec],
  [PayloadType.AUTH, authCodec],
  [PayloadType.NONCE, nonceCodec],
  [PayloadType.NOTIFY, notifyCodec],
  [PayloadType.DELETE, deleteCodec],
  [PayloadType.VENDOR_ID, vendorIdCodec],
  [PayloadType.TSi, tsCodec],
  [PayloadType.TSr, tsCodec],
  [PayloadType.SK, skCodec],
  [PayloadType.CP, cpCodec],
  [PayloadType.EAP, eapCodec],
  [PayloadType.SKF, skfCodec],
  [PayloadType.PS, psCodec],
] as [number, BodyCodec<Payload>][]);

/** The wire payload type of a payload object. */
export function payloadType(p: Payload): number {
  return p.kind === 'UNKNOWN' ? p.type : PayloadType[p.kind];
}

/** True when the payload type has a codec here (RFC 7296 §2.5 "understands"). */
export const isKnownPayloadType = (type: number): boolean => CODECS.has(type);

const isEncrypted = (type: number): boolean => type === PayloadType.SK || type === PayloadType.SKF;

export interface DecodeOptions {
  /**
   * RFC 7296 §2.5: an unknown payload with the critical bit set makes the message rejected with
   * UNSUPPORTED_CRITICAL_PAYLOAD. true (default) throws that CodecError; false keeps it as an
   * UNKNOWN payload (for dissection).
   */
  readonly rejectUnknownCritical?: boolean;
}

function unsupportedCritical(offset: number, type: number): CodecError {
  return new CodecError(
    CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD,
    offset,
    `payload type ${type} is not understood and has the critical bit set`,
    NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
    Uint8Array.of(type), // RFC 7296 §3.10.1: the data is the one-octet payload type
  );
}

/** Decodes a payload chain spanning all of `r.buf` from local offset `start`. */
export function decodeChain(
  r: Reader,
  start: number,
  firstType: number,
  opts: DecodeOptions = {},
): Payload[] {
  const end = r.buf.length;
  const out: Payload[] = [];
  let off = start;
  let type = firstType;
  while (type !== PayloadType.NONE) {
    const name = ianaName(PayloadType, type);
    r.need(off, GENERIC_HEADER_LENGTH, end, `${name} payload header`);
    const next = r.u8(off);
    const flags = r.u8(off + 1);
    const len = r.u16(off + 2);
    if (len < GENERIC_HEADER_LENGTH) r.fail(off, `payload length ${len} shorter than the generic header (4)`);
    if (off + len > end) r.fail(off, `${name} payload length ${len} exceeds the ${end - off} bytes left`);
    const codec = CODECS.get(type);
    if (codec) {
      out.push(codec.decode(r, off + GENERIC_HEADER_LENGTH, off + len, { type, next, flags }));
    } else {
      if (flags & CRITICAL_FLAG && opts.rejectUnknownCritical !== false)
        throw unsupportedCritical(r.base + off, type);
      out.push(decodeUnknown(r.slice(off + GENERIC_HEADER_LENGTH, off + len), type, flags));
    }
    off += len;
    if (isEncrypted(type)) {
      // RFC 7296 §3.14 / RFC 7383 §2.5: the encrypted payload is the last one; its Next
      // Payload names the first inner payload, not a following outer one.
      if (off !== end) r.fail(off, `${end - off} bytes after the ${name} payload, which must be last`);
      return out;
    }
    type = next;
  }
  if (off !== end) r.fail(off, `${end - off} bytes after the last payload`, CodecErrorCode.TRAILING_DATA);
  return out;
}

/**
 * Decodes an inner (decrypted) payload chain: `bytes` holds exactly the chain, `firstType` is
 * the SK Next Payload, `baseOffset` is added to error offsets.
 */
export function decodePayloads(
  bytes: Uint8Array,
  firstType: number,
  baseOffset = 0,
  opts: DecodeOptions = {},
): Payload[] {
  return decodeChain(new Reader(bytes, baseOffset), 0, firstType, opts);
}

const MAX_PAYLOAD_LENGTH = 0xffff;

/** Total bytes of the chain (generic headers included). */
export function chainSize(payloads: readonly Payload[]): number {
  let n = 0;
  for (const p of payloads) n += GENERIC_HEADER_LENGTH + codecFor(p).size(p);
  return n;
}

function codecFor(p: Payload): BodyCodec<Payload> {
  if (p.kind === 'UNKNOWN') return UNKNOWN_CODEC;
  const c = CODECS.get(PayloadType[p.kind]);
  if (!c) throw encodeError(`no codec for payload kind ${String(p.kind)}`);
  return c;
}

const UNKNOWN_CODEC: BodyCodec<Payload> = {
  decode: () => {
    throw encodeError('unreachable');
  },
  size: (p) => (p as UnknownPayload).data.length,
  write: (w, off, p) => w.bytes(off, (p as UnknownPayload).data),
};

/** Writes the chain at `off`; returns the first payload type (0 for none). */
export function writeChain(w: Writer, off: number, payloads: readonly Payload[]): number {
  let o = off;
  payloads.forEach((p, i) => {
    const codec = codecFor(p);
    const len = GENERIC_HEADER_LENGTH + codec.size(p);
    if (len > MAX_PAYLOAD_LENGTH) throw encodeError(`${p.kind} payload of ${len} bytes exceeds 65535`);
    const following = payloads[i + 1];
    let next: number;
    if (p.kind === 'SK' || p.kind === 'SKF') {
      if (following) throw encodeError(`${p.kind} must be the last payload (RFC 7296 §3.14)`);
      next = p.innerFirst;
    } else {
      next = following ? payloadType(following) : PayloadType.NONE;
    }
    w.u8(o, next, 'next payload');
    w.u8(o + 1, p.flags ?? 0, 'payload flags');
    w.u16(o + 2, len, 'payload length');
    codec.write(w, o + GENERIC_HEADER_LENGTH, p);
    o += len;
  });
  return payloads[0] ? payloadType(payloads[0]) : PayloadType.NONE;
}

/** Encodes an inner payload chain (the plaintext of SK). */
export function encodePayloads(payloads: readonly Payload[]): { firstType: number; bytes: Uint8Array } {
  const bytes = new Uint8Array(chainSize(payloads));
  const firstType = writeChain(new Writer(bytes), 0, payloads);
  return { firstType, bytes };
}
