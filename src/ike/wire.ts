// Conversions between the engine's domain objects (proposals.ts, ts.ts) and codec payloads, and small
// helpers to read and write notifies. Pure.
import {
  TransformAttr,
  isAddrRange,
  keyLength,
  type NotifyPayload,
  type Payload,
  type PayloadKind,
  type Proposal as WireProposal,
  type TrafficSelector as WireTs,
} from '../codec/index.ts';
import type { Proposal } from './proposals.ts';
import { addressFromBytes, addressToBytes, type TrafficSelector } from './traffic-selectors.ts';

export function proposalToWire(p: Proposal): WireProposal {
  return {
    num: p.number,
    protocolId: p.protocol,
    spi: p.spi,
    transforms: p.transforms.map((t) => ({
      type: t.type,
      id: t.id,
      attributes:
        t.keyLength === undefined
          ? []
          : [{ format: 'TV', type: TransformAttr.KEY_LENGTH, value: t.keyLength }],
    })),
  };
}

/** RFC 7296 §3.3.6: a transform with an attribute we do not understand is skipped (here: dropped). */
export function proposalFromWire(p: WireProposal): Proposal {
  const transforms = p.transforms
    .filter((t) => t.attributes.every((a) => a.type === TransformAttr.KEY_LENGTH && a.format === 'TV'))
    .map((t) => {
      const kl = keyLength(t);
      return kl === undefined ? { type: t.type, id: t.id } : { type: t.type, id: t.id, keyLength: kl };
    });
  return { number: p.num, protocol: p.protocolId, spi: p.spi, transforms } as Proposal;
}

export function tsToWire(ts: TrafficSelector): WireTs {
  return {
    tsType: ts.type,
    ipProtocol: ts.protocol,
    startPort: ts.startPort,
    endPort: ts.endPort,
    startAddr: addressToBytes(ts.start, ts.type),
    endAddr: addressToBytes(ts.end, ts.type),
  };
}

/** Address-range selectors only; other types (FC, SECLABEL) are ignored (RFC 7296 §3.13.1). */
export function tsFromWire(list: readonly WireTs[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const s of list) {
    if (!isAddrRange(s)) continue;
    const a = addressFromBytes(s.startAddr);
    const b = addressFromBytes(s.endAddr);
    out.push({
      type: a.type,
      protocol: s.ipProtocol,
      startPort: s.startPort,
      endPort: s.endPort,
      start: a.value,
      end: b.value,
    });
  }
  return out;
}

export function notify(
  notifyType: number,
  data: Uint8Array = new Uint8Array(0),
  protocolId = 0,
  spi: Uint8Array = new Uint8Array(0),
): NotifyPayload {
  return { kind: 'NOTIFY', protocolId, notifyType, spi, data };
}

export function findNotify(payloads: readonly Payload[], type: number): NotifyPayload | undefined {
  for (const p of payloads) if (p.kind === 'NOTIFY' && p.notifyType === type) return p;
  return undefined;
}

export function findNotifies(payloads: readonly Payload[], type: number): NotifyPayload[] {
  return payloads.filter((p): p is NotifyPayload => p.kind === 'NOTIFY' && p.notifyType === type);
}

/** The payload type whose `kind` union includes K (TsPayload is 'TSi' | 'TSr', IdPayload 'IDi' | 'IDr'). */
export type PayloadOf<K extends PayloadKind> = Payload extends infer P
  ? P extends { kind: infer PK }
    ? K extends PK
      ? P
      : never
    : never
  : never;

export function findPayload<K extends PayloadKind>(
  payloads: readonly Payload[],
  kind: K,
): PayloadOf<K> | undefined {
  return payloads.find((p) => p.kind === kind) as PayloadOf<K> | undefined;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
export const u32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
export const u32Bytes = (v: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0);
  return out;
};
