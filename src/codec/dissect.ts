// Human-readable dissection of decoded messages, names from the IANA maps (for `ikeway decode`
// and debug logs). Pure: returns lines; no payload is secret here (SK bodies stay opaque).
import { type IkeHeader, isInitiator, isResponse } from './header.ts';
import {
  AuthMethod,
  CertEncoding,
  CfgAttr,
  CfgType,
  DhGroup,
  ExchangeType,
  IdType,
  NotifyType,
  PayloadType,
  ProtocolId,
  TransformType,
  TsType,
  ianaName,
  transformIdTable,
} from './iana.ts';
import type { IkeMessage } from './message.ts';
import type { Payload } from './payload.ts';
import type { Proposal, Transform } from './payloads/sa.ts';
import { type TrafficSelector, isAddrRange } from './payloads/ts.ts';

const HEX_LIMIT = 32;

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

const shortHex = (b: Uint8Array): string =>
  b.length <= HEX_LIMIT ? toHex(b) : `${toHex(b.subarray(0, HEX_LIMIT))}... (${b.length} bytes)`;

/** Dotted quad or RFC 5952 text of a 4- or 16-byte address. */
export function formatAddress(a: Uint8Array): string {
  if (a.length === 4) return a.join('.');
  if (a.length !== 16) return toHex(a);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i] ?? 0) << 8) | (a[i + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

function transformText(t: Transform): string {
  const table = transformIdTable(t.type);
  const id = table ? ianaName(table, t.id) : String(t.id);
  let s = `${ianaName(TransformType, t.type)} ${id}`;
  for (const a of t.attributes) {
    s +=
      a.type === 14 && a.format === 'TV'
        ? ` keylen ${a.value}`
        : ` attr ${a.type}=${a.format === 'TV' ? a.value : shortHex(a.data)}`;
  }
  return s;
}

const proposalText = (p: Proposal): string =>
  `proposal ${p.num} ${ianaName(ProtocolId, p.protocolId)}${p.spi.length ? ` spi ${toHex(p.spi)}` : ''}: ` +
  p.transforms.map(transformText).join(', ');

function selectorText(s: TrafficSelector): string {
  if (!isAddrRange(s)) return `${ianaName(TsType, s.tsType)} ${shortHex(s.data)}`;
  return `${formatAddress(s.startAddr)}-${formatAddress(s.endAddr)} proto ${s.ipProtocol} ports ${s.startPort}-${s.endPort}`;
}

function idText(idType: number, data: Uint8Array): string {
  const t = ianaName(IdType, idType);
  if (idType === IdType.FQDN || idType === IdType.RFC822_ADDR)
    return `${t} ${Buffer.from(data).toString('latin1')}`;
  if (idType === IdType.IPV4_ADDR || idType === IdType.IPV6_ADDR) return `${t} ${formatAddress(data)}`;
  return `${t} ${shortHex(data)}`;
}

/** One payload as text; multi-line payloads (SA, TS, CP) return several lines. */
export function payloadLines(p: Payload): string[] {
  const crit = (p.flags ?? 0) & 0x80 ? ' (critical)' : '';
  const head = `${p.kind === 'UNKNOWN' ? `UNKNOWN(${p.type})` : p.kind}${crit}: `;
  switch (p.kind) {
    case 'SA':
      return p.proposals.map((pr, i) => (i === 0 ? head : ' '.repeat(head.length)) + proposalText(pr));
    case 'KE':
      return [`${head}group ${ianaName(DhGroup, p.group)}, ${p.data.length} bytes`];
    case 'IDi':
    case 'IDr':
      return [head + idText(p.idType, p.data)];
    case 'CERT':
    case 'CERTREQ':
      return [`${head}${ianaName(CertEncoding, p.encoding)} ${shortHex(p.data)}`];
    case 'AUTH':
      return [`${head}${ianaName(AuthMethod, p.method)}, ${p.data.length} bytes`];
    case 'NOTIFY': {
      const spi = p.spi.length ? ` ${ianaName(ProtocolId, p.protocolId)} spi ${toHex(p.spi)}` : '';
      return [
        `${head}${ianaName(NotifyType, p.notifyType)}${spi}${p.data.length ? ` ${shortHex(p.data)}` : ''}`,
      ];
    }
    case 'DELETE':
      return [`${head}${ianaName(ProtocolId, p.protocolId)}${p.spis.map((s) => ` ${toHex(s)}`).join('')}`];
    case 'TSi':
    case 'TSr':
      return p.selectors.map((s, i) => (i === 0 ? head : ' '.repeat(head.length)) + selectorText(s));
    case 'CP':
      return [
        `${head}${ianaName(CfgType, p.cfgType)}` +
          p.attributes
            .map(
              (a) =>
                ` ${ianaName(CfgAttr, a.type)}${a.value.length ? `=${a.value.length === 4 || a.value.length === 16 ? formatAddress(a.value) : shortHex(a.value)}` : ''}`,
            )
            .join(','),
      ];
    case 'SK':
      return [`${head}encrypted, first inner ${ianaName(PayloadType, p.innerFirst)}, ${p.body.length} bytes`];
    case 'SKF':
      return [
        `${head}fragment ${p.fragmentNumber}/${p.totalFragments}, first inner ${ianaName(PayloadType, p.innerFirst)}, ${p.body.length} bytes`,
      ];
    case 'NONCE':
    case 'VENDOR_ID':
    case 'EAP':
    case 'PS':
    case 'UNKNOWN':
      return [head + shortHex(p.data)];
  }
}

export function headerLine(h: IkeHeader): string {
  const dir = isResponse(h) ? 'response' : 'request';
  const role = isInitiator(h) ? 'initiator' : 'responder';
  return (
    `${ianaName(ExchangeType, h.exchangeType)} ${dir} #${h.messageId} from ${role}, ` +
    `SPIi ${toHex(h.spiI)} SPIr ${toHex(h.spiR)}, IKEv${h.majorVersion}.${h.minorVersion}, ${h.length} bytes`
  );
}

/** The whole message as indented text. */
export function dissect(msg: IkeMessage): string {
  const lines = [headerLine(msg.header)];
  for (const p of msg.payloads) for (const l of payloadLines(p)) lines.push(`  ${l}`);
  return lines.join('\n');
}

/** JSON-ready view: byte fields as hex strings, payload type names added. */
export function toJson(msg: IkeMessage): unknown {
  return JSON.parse(
    JSON.stringify(msg, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)),
  ) as unknown;
}
