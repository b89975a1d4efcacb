// `--log-level trace`: one line per IKE datagram received or sent, from its fixed header alone
// (RFC 7296 §3.1): exchange, request/response, role, message ID, SPIs, length and first payload.
// Never payload contents (no nonces, KE data or keys). Cheap: no decoding beyond 28 octets.
import { ExchangeType, HeaderFlag, PayloadType, ianaName } from '../codec/index.ts';
import type { PacketPath } from './transport.ts';

export type TraceFn = (dir: 'rx' | 'tx', packet: Uint8Array, path: PacketPath) => void;

const hex8 = (b: Uint8Array, at: number) => Buffer.from(b.buffer, b.byteOffset + at, 8).toString('hex');

/** The header summary of an IKE message, or undefined if it is shorter than a header. */
export function headerSummary(p: Uint8Array): Record<string, string | number> | undefined {
  if (p.length < 28) return undefined;
  const flags = p[19]!;
  return {
    exchange: ianaName(ExchangeType, p[18]!),
    kind: flags & HeaderFlag.RESPONSE ? 'response' : 'request',
    from: flags & HeaderFlag.INITIATOR ? 'initiator' : 'responder',
    msgid: new DataView(p.buffer, p.byteOffset, p.length).getUint32(20),
    spiI: hex8(p, 0),
    spiR: hex8(p, 8),
    first: ianaName(PayloadType, p[16]!),
    len: p.length,
  };
}

/** A TraceFn that writes `rx`/`tx` lines through `log` while `on()` (the level may change on reload). */
export function traceDatagrams(
  on: () => boolean,
  log: (message: string, fields: Record<string, string | number>) => void,
): TraceFn {
  return (dir, packet, path) => {
    if (!on()) return;
    const h = headerSummary(packet);
    if (!h) return;
    log(dir === 'rx' ? 'datagram received' : 'datagram sent', {
      component: 'net',
      dir,
      peer: `${path.remoteAddr}:${path.remotePort}`,
      local: `${path.localAddr}:${path.localPort}`,
      ...h,
    });
  };
}
