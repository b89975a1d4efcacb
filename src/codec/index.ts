// Public surface of the IKEv2 codec (pure: bytes in, typed readonly objects out).
export * from './iana.ts';
export * from './errors.ts';
export * from './header.ts';
export * from './message.ts';
export * from './payload.ts';
export * from './protect.ts';
export * from './rules.ts';
export type { SaPayload, Proposal, Transform, TransformAttribute } from './payloads/sa.ts';
export { keyLength } from './payloads/sa.ts';
export type { KePayload } from './payloads/ke.ts';
export type { IdPayload } from './payloads/id.ts';
export type { CertPayload } from './payloads/cert.ts';
export type { AuthPayload } from './payloads/auth.ts';
export type { NotifyPayload } from './payloads/notify.ts';
export type { DeletePayload } from './payloads/delete.ts';
export type { TsPayload, TrafficSelector, AddrRangeSelector, OtherSelector } from './payloads/ts.ts';
export { isAddrRange } from './payloads/ts.ts';
export type { CpPayload, CfgAttribute } from './payloads/cp.ts';
export type {
  NoncePayload,
  VendorIdPayload,
  EapPayload,
  PuzzleSolutionPayload,
  UnknownPayload,
} from './payloads/opaque.ts';
export type { SkPayload, SkfPayload } from './payloads/sk.ts';
export { CRITICAL_FLAG } from './payloads/codec.ts';
export * from './puzzle.ts';
