// XFRM message payloads (<linux/xfrm.h>): pure builders and parsers. A builder returns the
// message type, the payload (fixed struct + attributes) and a short object description for errors
// (addresses, SPI, selector - never keys). Netlink framing is in ./nlmsg.ts.
import { KernelError } from '../errors.ts';
import type {
  AllocSpiParams,
  IpProto,
  KernelEvent,
  PolicyDir,
  PolicyId,
  PolicyInfo,
  PolicyParams,
  SaAlgorithmInfo,
  SaId,
  SaInfo,
  SaParams,
  Selector,
} from '../types.ts';
import { formatAddr, parseAddr, type Family } from './addr.ts';
import {
  ALG_NAME_LEN,
  AF_INET,
  IPSEC_PROTO_ANY,
  Size,
  UDP_ENCAP_ESPINUDP,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_BLOCK,
  XFRM_POLICY_FWD,
  XFRM_POLICY_IN,
  XFRM_POLICY_OUT,
  XFRM_STATE_AF_UNSPEC,
  XFRM_STATE_ALIGN4,
  XFRM_STATE_ESN,
  XfrmAttr,
  XfrmMsg,
} from './constants.ts';
import { concat, packAttrs, parseAttrs, u32Data, type Attr } from './nlmsg.ts';
import {
  LE,
  decodeMark,
  decodeTemplates,
  encodeMark,
  encodeTemplate,
  modeName,
  modeNum,
  protoName,
  protoNum,
  readLifetimeCfg,
  readLifetimeCur,
  readName,
  readSelector,
  view,
  writeLifetimeCfg,
  writeName,
  writeSelector,
} from './structs.ts';

export interface Request {
  type: number;
  payload: Uint8Array;
  /** Short, key-free description for errors. */
  object: string;
}

const hex = (spi: number): string => `0x${spi.toString(16).padStart(8, '0')}`;
export const describeSa = (id: SaId & { src?: string }): string =>
  `${id.proto} spi ${hex(id.spi)} ${id.src ? `${id.src}->` : 'dst '}${id.dst}`;
export const describeSelector = (s: Selector): string =>
  `${s.src}->${s.dst}${s.proto ? ` proto ${s.proto}` : ''}${s.sport ? ` sport ${s.sport}` : ''}${s.dport ? ` dport ${s.dport}` : ''}`;
export const describePolicy = (p: { selector: Selector; dir: PolicyDir; index?: number }): string =>
  `${p.dir} ${describeSelector(p.selector)}${p.index ? ` index ${p.index}` : ''}`;

const DIRS: Record<PolicyDir, number> = { in: XFRM_POLICY_IN, out: XFRM_POLICY_OUT, fwd: XFRM_POLICY_FWD };
export function dirName(n: number): PolicyDir | undefined {
  return (Object.keys(DIRS) as PolicyDir[]).find((k) => DIRS[k] === n);
}

function u32Range(v: number | undefined, what: string, object: string, min = 0): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > 0xffffffff))
    throw KernelError.invalid('encode', object, `${what} ${v} out of range ${min}..4294967295`);
}

// ---- SAs ----

/** xfrm_usersa_id (24): daddr, spi (be), family, proto. Plus XFRMA_MARK. */
export function buildSaId(type: number, id: SaId): Request {
  const object = describeSa(id);
  u32Range(id.spi, 'spi', object);
  const b = new Uint8Array(Size.usersaId);
  const v = view(b);
  const dst = parseAddr(id.dst, 'sa dst');
  b.set(dst.bytes, 0);
  v.setUint32(16, id.spi, false);
  v.setUint16(20, dst.family, LE);
  v.setUint8(22, protoNum(id.proto));
  const attrs: Attr[] = id.mark ? [[XfrmAttr.MARK, encodeMark(id.mark)]] : [];
  return { type, payload: packAttrs(b, attrs), object };
}

/** struct xfrm_usersa_info (224) at 0 of `b`; returns the outer family. */
function writeSaInfo(b: Uint8Array, p: SaParams, object: string): Family {
  const v = view(b);
  const src = parseAddr(p.src, 'sa src');
  const dst = parseAddr(p.dst, 'sa dst');
  if (src.family !== dst.family) throw KernelError.invalid('encode', object, 'src and dst families differ');
  let flags = p.extraFlags ?? 0;
  if (p.selector) writeSelector(v, 0, p.selector);
  else if (p.mode === 'transport') writeSelector(v, 0, { src: `${p.src}`, dst: `${p.dst}` });
  else flags |= XFRM_STATE_AF_UNSPEC; // tunnel mode: any inner family (mixed families)
  b.set(dst.bytes, 56); // xfrm_id.daddr
  v.setUint32(72, p.spi, false);
  v.setUint8(76, protoNum(p.proto));
  b.set(src.bytes, 80);
  writeLifetimeCfg(v, 96, p.lifetime);
  v.setUint32(208, p.reqid >>> 0, LE);
  v.setUint16(212, src.family, LE);
  v.setUint8(214, modeNum(p.mode));
  const win = p.replayWindow ?? 0;
  const esnAttr = p.esn || win > 32;
  v.setUint8(215, esnAttr ? 0 : win);
  if (p.esn) flags |= XFRM_STATE_ESN;
  // RFC 4302 §3.3.3.2.1: an IPv4 AH header is a multiple of 32 bits (IPv6: 64). Linux pads to 64 bits
  // unless told otherwise, which adds 4 octets to HMAC-SHA2-256-128's ICV that other stacks reject.
  if (p.proto === 'ah' && src.family === AF_INET) flags |= XFRM_STATE_ALIGN4;
  v.setUint8(216, flags);
  return src.family;
}

function algAttrs(p: SaParams, object: string): Attr[] {
  const out: Attr[] = [];
  const keyed = (hdr: number, name: string, key: Uint8Array, extra?: number): Uint8Array => {
    const b = new Uint8Array(hdr + key.length);
    writeName(b, 0, name, ALG_NAME_LEN, object);
    const v = view(b);
    v.setUint32(64, key.length * 8, LE);
    if (extra !== undefined) v.setUint32(68, extra, LE);
    b.set(key, hdr);
    return b;
  };
  if (p.aead) {
    if (p.crypt || p.auth) throw KernelError.invalid('encode', object, 'aead excludes crypt and auth');
    out.push([XfrmAttr.ALG_AEAD, keyed(Size.algoAead, p.aead.name, p.aead.key, p.aead.icvBits)]);
  }
  if (p.crypt) out.push([XfrmAttr.ALG_CRYPT, keyed(Size.algo, p.crypt.name, p.crypt.key)]);
  if (p.auth)
    out.push([XfrmAttr.ALG_AUTH_TRUNC, keyed(Size.algoAuth, p.auth.name, p.auth.key, p.auth.truncBits)]);
  return out;
}

/**
 * xfrm_replay_state_esn with a bitmap of ceil(window/32) words (RFC 4303 §3.4.3); counters zero but
 * the outbound one, `oseq` (oseq at 4, oseq_hi at 12).
 */
export function encodeReplayEsn(window: number, oseq = 0n): Uint8Array {
  const bmpLen = Math.ceil(window / 32);
  const b = new Uint8Array(Size.replayEsn + bmpLen * 4);
  view(b).setUint32(0, bmpLen, LE);
  view(b).setUint32(4, Number(oseq & 0xffffffffn), LE);
  view(b).setUint32(12, Number((oseq >> 32n) & 0xffffffffn), LE);
  view(b).setUint32(20, window, LE);
  return b;
}

/** xfrm_replay_state {oseq, seq, bitmap} for a non-ESN SA whose outbound counter starts at `oseq`. */
function encodeReplay(oseq: bigint): Uint8Array {
  const b = new Uint8Array(12);
  view(b).setUint32(0, Number(oseq), LE);
  return b;
}

/** XFRM_MSG_NEWSA / UPDSA: usersa_info + algorithms, encap, mark, if_id, tfcpad, replay. */
export function buildSa(p: SaParams, update = false): Request {
  const object = describeSa(p);
  u32Range(p.spi, 'spi', object, 1);
  u32Range(p.reqid, 'reqid', object);
  const win = p.replayWindow ?? 0;
  if (!Number.isInteger(win) || win < 0 || win > 4096)
    throw KernelError.invalid('encode', object, `replay window ${win} out of range 0..4096`);
  const info = new Uint8Array(Size.usersaInfo);
  writeSaInfo(info, p, object);
  const attrs = algAttrs(p, object);
  if (p.encap) {
    const e = new Uint8Array(Size.encapTmpl);
    const v = view(e);
    v.setUint16(0, UDP_ENCAP_ESPINUDP, LE);
    v.setUint16(2, p.encap.sport, false);
    v.setUint16(4, p.encap.dport, false);
    if (p.encap.oa) e.set(parseAddr(p.encap.oa, 'encap oa').bytes, 8);
    attrs.push([XfrmAttr.ENCAP, e]);
  }
  const oseq = p.oseq ?? 0n;
  if (oseq < 0n || oseq > (p.esn ? 0xffffffffffffffffn : 0xffffffffn))
    throw KernelError.invalid('encode', object, `oseq ${oseq} out of range`);
  if (p.esn || win > 32) attrs.push([XfrmAttr.REPLAY_ESN_VAL, encodeReplayEsn(win, oseq)]);
  else if (oseq > 0n) attrs.push([XfrmAttr.REPLAY_VAL, encodeReplay(oseq)]);
  if (p.mark) attrs.push([XfrmAttr.MARK, encodeMark(p.mark)]);
  if (p.ifId !== undefined) attrs.push([XfrmAttr.IF_ID, u32Data(p.ifId)]);
  if (p.tfcPad !== undefined) attrs.push([XfrmAttr.TFCPAD, u32Data(p.tfcPad)]);
  return { type: update ? XfrmMsg.UPDSA : XfrmMsg.NEWSA, payload: packAttrs(info, attrs), object };
}

/** XFRM_MSG_ALLOCSPI: xfrm_userspi_info = usersa_info (addresses, proto, reqid) + min + max. */
export function buildAllocSpi(p: AllocSpiParams): Request {
  const min = p.min ?? 0xc0000000;
  const max = p.max ?? 0xcfffffff;
  const object = `${p.proto} ${p.src}->${p.dst} spi ${hex(min)}..${hex(max)}`;
  u32Range(min, 'min spi', object, 256); // RFC 4303 §2.1: 1..255 are reserved by IANA
  u32Range(max, 'max spi', object, min);
  const b = new Uint8Array(Size.userspiInfo);
  const v = view(b);
  const src = parseAddr(p.src, 'src');
  const dst = parseAddr(p.dst, 'dst');
  if (src.family !== dst.family) throw KernelError.invalid('encode', object, 'src and dst families differ');
  b.set(dst.bytes, 56);
  v.setUint8(76, protoNum(p.proto));
  b.set(src.bytes, 80);
  writeLifetimeCfg(v, 96, undefined);
  v.setUint32(208, p.reqid ?? 0, LE);
  v.setUint16(212, src.family, LE);
  v.setUint32(224, min, LE);
  v.setUint32(228, max, LE);
  const attrs: Attr[] = p.mark ? [[XfrmAttr.MARK, encodeMark(p.mark)]] : [];
  return { type: XfrmMsg.ALLOCSPI, payload: packAttrs(b, attrs), object };
}

export function buildFlushSa(proto?: IpProto): Request {
  const b = new Uint8Array(4); // xfrm_usersa_flush is one byte; netlink pads to 4
  b[0] = proto ? protoNum(proto) : IPSEC_PROTO_ANY;
  return { type: XfrmMsg.FLUSHSA, payload: b, object: proto ?? 'all' };
}

function decodeAlgs(attrs: Map<number, Uint8Array>): SaAlgorithmInfo {
  const a: SaAlgorithmInfo = {};
  const aead = attrs.get(XfrmAttr.ALG_AEAD);
  if (aead && aead.length >= Size.algoAead) {
    const v = view(aead);
    a.aead = {
      name: readName(aead, 0, ALG_NAME_LEN),
      keyBits: v.getUint32(64, LE),
      icvBits: v.getUint32(68, LE),
    };
  }
  const crypt = attrs.get(XfrmAttr.ALG_CRYPT);
  if (crypt && crypt.length >= Size.algo)
    a.crypt = { name: readName(crypt, 0, ALG_NAME_LEN), keyBits: view(crypt).getUint32(64, LE) };
  const auth = attrs.get(XfrmAttr.ALG_AUTH_TRUNC);
  if (auth && auth.length >= Size.algoAuth) {
    const v = view(auth);
    a.auth = {
      name: readName(auth, 0, ALG_NAME_LEN),
      keyBits: v.getUint32(64, LE),
      truncBits: v.getUint32(68, LE),
    };
  }
  return a;
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) throw new KernelError('protocol', 0, 'decode', what, `${b.length} bytes, need ${n}`);
}

/** Parses an SA (NEWSA payload from GETSA or a dump) into SaInfo (no key bytes). */
/** The SPI of an xfrm_usersa_info (ALLOCSPI's reply: the rest is the larval SA we asked for). */
export function parseSaSpi(p: Uint8Array): number {
  need(p, Size.usersaInfo, 'xfrm_usersa_info');
  return view(p).getUint32(72, false);
}

export function parseSa(p: Uint8Array, off = 0, withAttrs = true): SaInfo {
  need(p, off + Size.usersaInfo, 'xfrm_usersa_info');
  const v = view(p);
  const family = v.getUint16(off + 212, LE);
  const attrs = withAttrs ? parseAttrs(p, off + Size.usersaInfo) : new Map<number, Uint8Array>();
  const flags = v.getUint8(off + 216);
  const info: SaInfo = {
    dst: formatAddr(family, p, off + 56),
    spi: v.getUint32(off + 72, false),
    proto: protoName(v.getUint8(off + 76)),
    src: formatAddr(family, p, off + 80),
    mode: modeName(v.getUint8(off + 214)),
    reqid: v.getUint32(off + 208, LE),
    selector: readSelector(v, off),
    algorithms: decodeAlgs(attrs),
    current: readLifetimeCur(v, off + 160),
    stats: {
      replayWindow: v.getUint32(off + 192, LE),
      replay: v.getUint32(off + 196, LE),
      integrityFailed: v.getUint32(off + 200, LE),
    },
  };
  const lt = readLifetimeCfg(v, off + 96);
  if (lt) info.lifetime = lt;
  let win = v.getUint8(off + 215);
  const esnVal = attrs.get(XfrmAttr.REPLAY_ESN_VAL);
  if (esnVal && esnVal.length >= Size.replayEsn) {
    const e = view(esnVal);
    win = e.getUint32(20, LE);
    const hi = (o: number): bigint => BigInt(e.getUint32(o, LE)) << 32n;
    info.replay = { oseq: hi(12) | BigInt(e.getUint32(4, LE)), seq: hi(16) | BigInt(e.getUint32(8, LE)) };
  } else {
    const r = attrs.get(XfrmAttr.REPLAY_VAL);
    if (r && r.length >= 12)
      info.replay = { oseq: BigInt(view(r).getUint32(0, LE)), seq: BigInt(view(r).getUint32(4, LE)) };
  }
  if (win) info.replayWindow = win;
  if (flags & XFRM_STATE_ESN) info.esn = true;
  const mark = decodeMark(attrs.get(XfrmAttr.MARK));
  if (mark) info.mark = mark;
  const encap = attrs.get(XfrmAttr.ENCAP);
  if (encap && encap.length >= Size.encapTmpl) {
    const ev = view(encap);
    info.encap = { sport: ev.getUint16(2, false), dport: ev.getUint16(4, false) };
  }
  const ifId = attrs.get(XfrmAttr.IF_ID);
  if (ifId && ifId.length >= 4) info.ifId = view(ifId).getUint32(0, LE);
  const tfc = attrs.get(XfrmAttr.TFCPAD);
  if (tfc && tfc.length >= 4) info.tfcPad = view(tfc).getUint32(0, LE);
  return info;
}

// ---- Policies ----

function checkPolicy(p: PolicyParams, object: string): void {
  u32Range(p.priority, 'priority', object);
  u32Range(p.index, 'index', object);
  u32Range(p.ifId, 'ifId', object);
  if (p.action === 'block' && p.templates.length)
    throw KernelError.invalid('encode', object, 'a block policy takes no templates');
}

/** XFRM_MSG_NEWPOLICY / UPDPOLICY: xfrm_userpolicy_info + XFRMA_TMPL, MARK, IF_ID. */
export function buildPolicy(p: PolicyParams, update = false): Request {
  const object = describePolicy(p);
  checkPolicy(p, object);
  const b = new Uint8Array(Size.userpolicyInfo);
  const v = view(b);
  const family = writeSelector(v, 0, p.selector);
  writeLifetimeCfg(v, 56, p.lifetime);
  v.setUint32(152, p.priority, LE);
  v.setUint32(156, p.index ?? 0, LE);
  v.setUint8(160, DIRS[p.dir]);
  v.setUint8(161, p.action === 'block' ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW);
  const attrs: Attr[] = [];
  if (p.templates.length === 1) attrs.push([XfrmAttr.TMPL, encodeTemplate(p.templates[0]!, family)]);
  else if (p.templates.length)
    attrs.push([XfrmAttr.TMPL, concat(p.templates.map((t) => encodeTemplate(t, family)))]);
  if (p.mark) attrs.push([XfrmAttr.MARK, encodeMark(p.mark)]);
  if (p.ifId !== undefined) attrs.push([XfrmAttr.IF_ID, u32Data(p.ifId)]);
  return { type: update ? XfrmMsg.UPDPOLICY : XfrmMsg.NEWPOLICY, payload: packAttrs(b, attrs), object };
}

/** XFRM_MSG_GETPOLICY / DELPOLICY: xfrm_userpolicy_id (selector, index, dir) + MARK, IF_ID. */
export function buildPolicyId(type: number, id: PolicyId): Request {
  const object = describePolicy(id);
  u32Range(id.index, 'index', object);
  const b = new Uint8Array(Size.userpolicyId);
  const v = view(b);
  writeSelector(v, 0, id.selector);
  v.setUint32(56, id.index ?? 0, LE);
  v.setUint8(60, DIRS[id.dir]);
  const attrs: Attr[] = [];
  if (id.mark) attrs.push([XfrmAttr.MARK, encodeMark(id.mark)]);
  if (id.ifId !== undefined) attrs.push([XfrmAttr.IF_ID, u32Data(id.ifId)]);
  return { type, payload: packAttrs(b, attrs), object };
}

export function buildFlushPolicy(): Request {
  return { type: XfrmMsg.FLUSHPOLICY, payload: new Uint8Array(0), object: 'all' };
}

function readPolicyInfo(p: Uint8Array, off: number): PolicyInfo {
  need(p, off + Size.userpolicyInfo, 'xfrm_userpolicy_info');
  const v = view(p);
  const dir = dirName(v.getUint8(off + 160));
  const selector = readSelector(v, off) ?? { src: '0.0.0.0/0', dst: '0.0.0.0/0' };
  if (!dir) throw new KernelError('protocol', 0, 'decode', describeSelector(selector), 'bad direction');
  const info: PolicyInfo = {
    selector,
    dir,
    action: v.getUint8(off + 161) === XFRM_POLICY_BLOCK ? 'block' : 'allow',
    priority: v.getUint32(off + 152, LE),
    index: v.getUint32(off + 156, LE),
    templates: [],
    current: readLifetimeCur(v, off + 120),
  };
  const lt = readLifetimeCfg(v, off + 56);
  if (lt) info.lifetime = lt;
  return info;
}

/** Parses a policy (NEWPOLICY payload from GETPOLICY or a dump). */
export function parsePolicy(p: Uint8Array): PolicyInfo {
  const info = readPolicyInfo(p, 0);
  const attrs = parseAttrs(p, Size.userpolicyInfo);
  info.templates = decodeTemplates(attrs.get(XfrmAttr.TMPL));
  const mark = decodeMark(attrs.get(XfrmAttr.MARK));
  if (mark) info.mark = mark;
  const ifId = attrs.get(XfrmAttr.IF_ID);
  if (ifId && ifId.length >= 4) info.ifId = view(ifId).getUint32(0, LE);
  return info;
}

// ---- Events ----

/** Decodes a multicast message into a KernelEvent; undefined for types we do not report. */
export function parseEvent(type: number, p: Uint8Array): KernelEvent | undefined {
  const v = view(p);
  switch (type) {
    case XfrmMsg.ACQUIRE: {
      need(p, Size.userAcquire, 'xfrm_user_acquire');
      const selector = readSelector(v, 40) ?? { src: '0.0.0.0/0', dst: '0.0.0.0/0' };
      const pol = readPolicyInfo(p, 96);
      const tmplBytes = parseAttrs(p, Size.userAcquire).get(XfrmAttr.TMPL);
      const tmpl = decodeTemplates(tmplBytes)[0];
      // The outer addresses are in the template's family (mixed families: not the selector's).
      const outer =
        tmplBytes && tmplBytes.length >= 26 ? view(tmplBytes).getUint16(24, LE) : v.getUint16(80, LE);
      return {
        type: 'acquire',
        selector,
        template: {
          src: formatAddr(outer || AF_INET, p, 24),
          dst: formatAddr(outer || AF_INET, p, 0),
          proto: protoName(v.getUint8(20)),
          mode: tmpl?.mode ?? 'transport',
          reqid: tmpl?.reqid ?? 0,
        },
        policyIndex: pol.index,
        dir: pol.dir,
        seq: v.getUint32(276, LE),
      };
    }
    case XfrmMsg.EXPIRE: {
      need(p, Size.userExpire, 'xfrm_user_expire');
      const sa = parseSa(p, 0, false);
      const attrs = parseAttrs(p, Size.userExpire);
      const mark = decodeMark(attrs.get(XfrmAttr.MARK));
      const id = { dst: sa.dst, spi: sa.spi, proto: sa.proto, src: sa.src, reqid: sa.reqid };
      return { type: 'expire', hard: v.getUint8(224) !== 0, sa: mark ? { ...id, mark } : id };
    }
    case XfrmMsg.POLEXPIRE: {
      need(p, Size.userPolexpire, 'xfrm_user_polexpire');
      const pol = readPolicyInfo(p, 0);
      return {
        type: 'polexpire',
        hard: v.getUint8(168) !== 0,
        selector: pol.selector,
        dir: pol.dir,
        index: pol.index,
      };
    }
    case XfrmMsg.MAPPING: {
      need(p, Size.userMapping, 'xfrm_user_mapping');
      const family = v.getUint16(20, LE);
      return {
        type: 'mapping',
        sa: { dst: formatAddr(family, p, 0), spi: v.getUint32(16, false), proto: protoName(v.getUint8(22)) },
        reqid: v.getUint32(24, LE),
        oldAddr: formatAddr(family, p, 28),
        newAddr: formatAddr(family, p, 44),
        oldPort: v.getUint16(60, false),
        newPort: v.getUint16(62, false),
      };
    }
    default:
      return undefined;
  }
}
