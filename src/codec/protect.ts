// Sealing and opening the Encrypted payload (RFC 7296 §3.14) and Encrypted Fragment payload
// (RFC 7383 §2.5). The codec lays out the bytes; an SkCipher (src/crypto) does the cryptography.
// AAD is the message from the IKE header to the end of the SK header (SKF: including Fragment
// Number and Total Fragments), with every length already final (RFC 5282 §5.1, RFC 7383 §2.5.3).
import { Writer } from './bytes.ts';
import { CodecError, CodecErrorCode, encodeError } from './errors.ts';
import { HEADER_LENGTH, type IkeHeaderFields, writeHeader } from './header.ts';
import { PayloadType } from './iana.ts';
import type { IkeMessage } from './message.ts';
import { type DecodeOptions, type Payload, decodePayloads, encodePayloads, writeChain } from './payload.ts';
import type { SkfPayload, SkPayload } from './payloads/sk.ts';

export interface SkCipher {
  /** IV + padded ciphertext (incl. pad-length byte) + ICV. */
  sealedLength(plainLen: number): number;
  /** aad = IKE header .. end of SK/SKF generic header, lengths final. */
  seal(aad: Uint8Array, plain: Uint8Array): Uint8Array;
  /** Returns the inner payload bytes, padding removed; throws on auth failure. */
  open(aad: Uint8Array, body: Uint8Array): Uint8Array;
}

const SK_HEADER = 4;
const SKF_HEADER = 8;
/** RFC 7383 §2.5: Fragment Number and Total Fragments are 16-bit. */
const MAX_FRAGMENTS = 0xffff;

function protectionError(detail: string): CodecError {
  return new CodecError(CodecErrorCode.PROTECTION, -1, detail);
}

/** Lays out header + SK/SKF (body zero) and seals `plain` into it; one allocation. */
function seal(
  header: IkeHeaderFields,
  kind: 'SK' | 'SKF',
  make: (body: Uint8Array) => SkPayload | SkfPayload,
  plain: Uint8Array,
  cipher: SkCipher,
): Uint8Array {
  const bodyLen = cipher.sealedLength(plain.length);
  const headLen = HEADER_LENGTH + (kind === 'SK' ? SK_HEADER : SKF_HEADER);
  const bytes = new Uint8Array(headLen + bodyLen);
  const w = new Writer(bytes);
  const sk = make(bytes.subarray(headLen)); // body is a view of the output: written in place, sealed below
  writeChain(w, HEADER_LENGTH, [sk]);
  writeHeader(w, header, sk.kind === 'SK' ? PayloadType.SK : PayloadType.SKF, bytes.length);
  const body = cipher.seal(bytes.subarray(0, headLen), plain);
  if (body.length !== bodyLen) {
    throw protectionError(`cipher sealed ${body.length} bytes, sealedLength promised ${bodyLen}`);
  }
  bytes.set(body, headLen);
  return bytes;
}

/** Builds a whole message: header + SK{inner payloads}. */
export function encodeProtected(
  header: IkeHeaderFields,
  inner: readonly Payload[],
  cipher: SkCipher,
): Uint8Array {
  const plain = encodePayloads(inner);
  return seal(
    header,
    'SK',
    (body) => ({ kind: 'SK', innerFirst: plain.firstType, body }),
    plain.bytes,
    cipher,
  );
}

function lastEncrypted(msg: IkeMessage): SkPayload | SkfPayload {
  const last = msg.payloads[msg.payloads.length - 1];
  if (last?.kind !== 'SK' && last?.kind !== 'SKF') throw protectionError('message has no Encrypted payload');
  return last;
}

function openBody(msgBytes: Uint8Array, p: SkPayload | SkfPayload, cipher: SkCipher): Uint8Array {
  // decodeMessage guarantees the encrypted payload is last, so its body ends the message.
  const bodyStart = msgBytes.length - p.body.length;
  const minStart = HEADER_LENGTH + (p.kind === 'SK' ? SK_HEADER : SKF_HEADER);
  if (bodyStart < minStart) throw protectionError('encrypted body does not belong to these message bytes');
  return cipher.open(msgBytes.subarray(0, bodyStart), msgBytes.subarray(bodyStart));
}

/**
 * Decrypts and decodes the inner payloads of a message with SK (or an unfragmented SKF, total 1).
 * `msg` is decodeMessage(msgBytes). Error offsets are relative to the plaintext.
 */
export function openProtected(
  msgBytes: Uint8Array,
  msg: IkeMessage,
  cipher: SkCipher,
  opts: DecodeOptions = {},
): Payload[] {
  const p = lastEncrypted(msg);
  if (p.kind === 'SKF' && p.totalFragments !== 1) {
    throw protectionError(
      `fragment ${p.fragmentNumber}/${p.totalFragments}: use openFragment and reassembleFragments`,
    );
  }
  return decodePayloads(openBody(msgBytes, p, cipher), p.innerFirst, 0, opts);
}

/**
 * Like openProtected, but returns the decrypted inner chain as bytes with its first payload type
 * (RFC 9242 §3.3.2 IntAuth_P needs the plaintext as received).
 */
export function openProtectedPlain(
  msgBytes: Uint8Array,
  msg: IkeMessage,
  cipher: SkCipher,
): { firstType: number; bytes: Uint8Array } {
  const p = lastEncrypted(msg);
  if (p.kind === 'SKF' && p.totalFragments !== 1) {
    throw protectionError(
      `fragment ${p.fragmentNumber}/${p.totalFragments}: use openFragment and reassembleFragments`,
    );
  }
  return { firstType: p.innerFirst, bytes: openBody(msgBytes, p, cipher) };
}

export interface DecryptedFragment {
  readonly fragmentNumber: number;
  readonly totalFragments: number;
  /** Next Payload of the SKF: the first inner payload type in fragment 1, 0 in the others. */
  readonly innerFirst: number;
  readonly plain: Uint8Array;
}

/** Decrypts one SKF message (RFC 7383 §2.6: each fragment is authenticated on its own). */
export function openFragment(msgBytes: Uint8Array, msg: IkeMessage, cipher: SkCipher): DecryptedFragment {
  const p = lastEncrypted(msg);
  if (p.kind !== 'SKF') throw protectionError('message carries SK, not an Encrypted Fragment payload');
  const plain = openBody(msgBytes, p, cipher);
  return {
    fragmentNumber: p.fragmentNumber,
    totalFragments: p.totalFragments,
    innerFirst: p.innerFirst,
    plain,
  };
}

/**
 * Joins the plaintexts of all fragments of one message in fragment-number order (RFC 7383 §2.6).
 * Throws unless fragments 1..total are each present exactly once with one Total Fragments.
 * Decode the result with decodePayloads(bytes, firstType).
 */
export function reassembleFragments(frags: readonly DecryptedFragment[]): {
  firstType: number;
  bytes: Uint8Array;
} {
  const total = frags[0]?.totalFragments ?? 0;
  if (total === 0 || frags.length !== total)
    throw protectionError(`have ${frags.length} of ${total} fragments`);
  const ordered: (DecryptedFragment | undefined)[] = new Array<DecryptedFragment | undefined>(total);
  let size = 0;
  for (const f of frags) {
    if (f.totalFragments !== total)
      throw protectionError(`fragment ${f.fragmentNumber} says ${f.totalFragments} total, not ${total}`);
    if (f.fragmentNumber < 1 || f.fragmentNumber > total || ordered[f.fragmentNumber - 1]) {
      throw protectionError(`fragment number ${f.fragmentNumber} duplicated or out of 1..${total}`);
    }
    ordered[f.fragmentNumber - 1] = f;
    size += f.plain.length;
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const f of ordered as DecryptedFragment[]) {
    bytes.set(f.plain, off);
    off += f.plain.length;
  }
  return { firstType: (ordered[0] as DecryptedFragment).innerFirst, bytes };
}

/** Largest plaintext per fragment so that header + SKF + sealed body fits maxMessageSize. */
export function maxFragmentPlaintext(cipher: SkCipher, maxMessageSize: number): number {
  const room = maxMessageSize - HEADER_LENGTH - SKF_HEADER;
  let lo = 0;
  let hi = Math.max(0, room);
  // Binary search: sealedLength is non-decreasing in the plaintext length.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cipher.sealedLength(mid) <= room) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) throw encodeError(`max message size ${maxMessageSize} leaves no room for fragment content`);
  return lo;
}

/** RFC 7383 §2.5: splits inner payload bytes into pieces of at most maxPlain bytes (views). */
export function splitForFragments(plain: Uint8Array, maxPlain: number): Uint8Array[] {
  if (!(maxPlain >= 1)) throw encodeError(`fragment size ${maxPlain} must be at least 1`);
  const out: Uint8Array[] = [];
  for (let off = 0; off < plain.length; off += maxPlain) out.push(plain.subarray(off, off + maxPlain));
  if (out.length === 0) out.push(plain);
  if (out.length > MAX_FRAGMENTS) throw encodeError(`${out.length} fragments exceed ${MAX_FRAGMENTS}`);
  return out;
}

/**
 * RFC 7383 §2.5: encodes the inner payloads as SKF messages of at most maxMessageSize bytes each
 * (IKE header and SKF included; the caller subtracts IP, UDP and non-ESP marker sizes). All
 * fragments share the header (same Message ID); fragment 1 names the first inner payload.
 */
export function encodeFragments(
  header: IkeHeaderFields,
  inner: readonly Payload[],
  cipher: SkCipher,
  maxMessageSize: number,
): Uint8Array[] {
  const plain = encodePayloads(inner);
  const pieces = splitForFragments(plain.bytes, maxFragmentPlaintext(cipher, maxMessageSize));
  const totalFragments = pieces.length;
  return pieces.map((piece, i) =>
    seal(
      header,
      'SKF',
      (body) => ({
        kind: 'SKF',
        innerFirst: i === 0 ? plain.firstType : PayloadType.NONE,
        fragmentNumber: i + 1,
        totalFragments,
        body,
      }),
      piece,
      cipher,
    ),
  );
}
