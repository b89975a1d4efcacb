// The messages of the HA sync protocol (the plaintext inside channel.ts's seal): JSON, one message per
// datagram, checked field by field on receipt; a message that does not check is counted and dropped.
import type { IkeRecord } from './record.ts';

export type HaRole = 'active' | 'standby';

export type HaMessage =
  /** Every heartbeat interval: who I am and what I think I am (split-brain detection). */
  | {
      readonly t: 'hello';
      readonly role: HaRole;
      readonly priority: number;
      /** Start time of the sender (ms): a new value means it restarted. */
      readonly epoch: number;
      /** A standby that holds a complete copy of the active's state. */
      readonly synced: boolean;
    }
  /** One IKE SA created or changed (rekeyed, message IDs moved, Child SAs added or removed). */
  | { readonly t: 'sa'; readonly rec: IkeRecord }
  /** One IKE SA gone (by its SPIs). */
  | { readonly t: 'del'; readonly spiI: string; readonly spiR: string }
  /** A standby asks for everything (it (re)connected or missed a message). */
  | { readonly t: 'resync-req' }
  /** Full resync framing: the standby replaces its copy with the records in between. */
  | { readonly t: 'resync-begin' }
  | { readonly t: 'resync-end'; readonly count: number };

export class HaMessageError extends Error {
  override readonly name = 'HaMessageError';
  readonly code = 'ERR_HA_MESSAGE';
}

export function encodeMessage(m: HaMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isHex = (v: unknown, len?: number) =>
  typeof v === 'string' &&
  /^[0-9a-f]*$/.test(v) &&
  v.length % 2 === 0 &&
  (len === undefined || v.length === len);
const isU32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

function checkRecord(r: unknown): asserts r is IkeRecord {
  const bad = (what: string) => {
    throw new HaMessageError(`bad IKE SA record: ${what}`);
  };
  if (!isObj(r) || r.v !== 1) bad('version');
  const rec = r as Record<string, unknown>;
  if (typeof rec.conn !== 'string') bad('conn');
  if (!isHex(rec.spiI, 16) || !isHex(rec.spiR, 16)) bad('SPIs');
  if (!Array.isArray(rec.keys) || rec.keys.length !== 7 || !rec.keys.every((k) => isHex(k))) bad('keys');
  if (!isU32(rec.nextRequestId) || !isU32(rec.expectedRequestId)) bad('message IDs');
  const p = rec.path;
  if (!isObj(p) || typeof p.localAddr !== 'string' || typeof p.remoteAddr !== 'string') bad('path');
  if (!Array.isArray(rec.children)) bad('children');
  for (const c of rec.children as unknown[]) {
    if (!isObj(c) || !isU32(c.spiIn) || !isU32(c.spiOut) || !isU32(c.reqid)) bad('Child SA SPIs');
    const child = c as Record<string, unknown>;
    if (!Array.isArray(child.keys) || child.keys.length !== 4 || !child.keys.every((k) => isHex(k)))
      bad('Child SA keys');
  }
}

/** Decodes and checks one message; throws HaMessageError (never with record content in it). */
export function decodeMessage(plain: Uint8Array): HaMessage {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch {
    throw new HaMessageError('not a JSON message');
  }
  if (!isObj(m)) throw new HaMessageError('not an object');
  switch (m.t) {
    case 'hello':
      if ((m.role !== 'active' && m.role !== 'standby') || !isU32(m.priority) || typeof m.epoch !== 'number')
        throw new HaMessageError('bad hello');
      return m as HaMessage;
    case 'sa':
      checkRecord(m.rec);
      return m as HaMessage;
    case 'del':
      if (!isHex(m.spiI, 16) || !isHex(m.spiR, 16)) throw new HaMessageError('bad del');
      return m as HaMessage;
    case 'resync-req':
    case 'resync-begin':
      return m as HaMessage;
    case 'resync-end':
      if (!isU32(m.count)) throw new HaMessageError('bad resync-end');
      return m as HaMessage;
    default:
      throw new HaMessageError('unknown message type');
  }
}
