// The HA sync channel between the two nodes of a pair: every message is sealed with AES-256-GCM under
// a key derived from the configured `ha.sync-key` (HKDF-SHA256, RFC 5869, with a fixed label), and
// carries the sender's node id and a sequence number in the clear header, which is the GCM additional
// data. The receiver refuses, counts and forgets (never acting on it): a datagram from another address,
// a wrong size, an unknown version, its own node id, a failed tag (wrong key, altered or truncated
// bytes), a replayed or too old sequence number (a 64-message sliding window as in RFC 4303 §3.4.3),
// and datagrams above a per-second budget (a flood costs at most that many GCM opens a second).
//
// Nonce uniqueness: the nonce is node id | sequence number; the two nodes share the key but never a
// node id (config refuses equal ids). The sequence number starts at the clock in milliseconds << 16
// at each start, so a restarted node never reuses a nonce unless its clock went backwards.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

export const HA_MAGIC = 0x494b5748; // "IKWH"
export const HA_VERSION = 1;
/** magic(4) version(1) sender(4) seq(8). */
export const HEADER_LEN = 17;
const TAG_LEN = 16;
/** A sealed datagram never exceeds this (one IKE SA record per message; UDP without fragments on loopback). */
export const MAX_DATAGRAM = 65_000;
const WINDOW = 64n;
const LABEL = 'ikeway ha sync v1';

/** Why a datagram was refused (each has a counter). */
export const HA_DROP_REASONS = [
  'foreign_source',
  'too_short',
  'too_long',
  'bad_magic',
  'bad_version',
  'own_sender',
  'auth_failed',
  'replay',
  'too_old',
  'rate_limited',
] as const;
export type HaDropReason = (typeof HA_DROP_REASONS)[number];

export type HaCounterName =
  | `ha.drop_${HaDropReason}`
  | 'ha.rx_messages'
  | 'ha.tx_messages'
  | 'ha.tx_too_long'
  | 'ha.rx_bad_record'
  | 'ha.rx_gap';

/** The channel's counters (read by status and metrics). */
export class HaCounters {
  readonly #v = new Map<HaCounterName, number>();
  inc(name: HaCounterName): void {
    this.#v.set(name, (this.#v.get(name) ?? 0) + 1);
  }
  get(name: HaCounterName): number {
    return this.#v.get(name) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#v].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** The datagram side: a UDP socket (udp.ts) or a memory twin in tests. */
export interface SyncSocket {
  send(data: Uint8Array): void;
  onMessage(fn: (data: Uint8Array, fromAddr: string) => void): void;
  close(): void;
}

export interface SyncChannelOptions {
  readonly socket: SyncSocket;
  /** The configured `ha.sync-key` (at least 16 octets; config checks). Not kept after derivation. */
  readonly syncKey: Uint8Array;
  readonly nodeId: number;
  /** Only datagrams from this address are opened. */
  readonly peerAddr: string;
  readonly now: () => number;
  readonly counters?: HaCounters;
  /** Datagrams opened per second at most (default 2000). */
  readonly maxPerSecond?: number;
}

/** RFC 5869 HKDF-SHA256 of the configured key, with an empty salt and the channel's label. */
export function deriveSyncKey(syncKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', syncKey, new Uint8Array(0), LABEL, 32));
}

function nonce(sender: number, seq: bigint): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(0, sender);
  v.setBigUint64(4, seq);
  return n;
}

/** Encodes and seals one message (exported for tests that forge datagrams). */
export function seal(key: Uint8Array, sender: number, seq: bigint, plain: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + plain.length + TAG_LEN);
  const v = new DataView(out.buffer);
  v.setUint32(0, HA_MAGIC);
  out[4] = HA_VERSION;
  v.setUint32(5, sender);
  v.setBigUint64(9, seq);
  const c = createCipheriv('aes-256-gcm', key, nonce(sender, seq), { authTagLength: TAG_LEN });
  c.setAAD(out.subarray(0, HEADER_LEN));
  const body = Buffer.concat([c.update(plain), c.final()]);
  out.set(body, HEADER_LEN);
  out.set(c.getAuthTag(), HEADER_LEN + body.length);
  return out;
}

export class SyncChannel {
  readonly counters: HaCounters;
  readonly #o: SyncChannelOptions;
  readonly #key: Uint8Array;
  #seq: bigint;
  /** Replay state of the peer: highest sequence number accepted and a bitmap below it. */
  #top = -1n;
  #bitmap = 0n;
  #budget: { second: number; used: number } = { second: -1, used: 0 };
  #handler: ((plain: Uint8Array, sender: number) => void) | undefined;
  #onGap: (() => void) | undefined;
  #lastRx: number | undefined;

  constructor(opts: SyncChannelOptions) {
    this.#o = opts;
    this.counters = opts.counters ?? new HaCounters();
    this.#key = deriveSyncKey(opts.syncKey);
    this.#seq = BigInt(Math.max(0, Math.floor(opts.now()))) << 16n;
    opts.socket.onMessage((d, from) => this.#receive(d, from));
  }

  /** Called with each authenticated, fresh message (the plaintext is the caller's to parse). */
  onMessage(fn: (plain: Uint8Array, sender: number) => void): void {
    this.#handler = fn;
  }

  /**
   * Called when an authenticated message skipped sequence numbers (messages lost or reordered on the
   * way): the standby then asks for a full resync. Not after the peer restarted (a new epoch).
   */
  onGap(fn: () => void): void {
    this.#onGap = fn;
  }

  /** ms since the last authenticated message (on this channel's clock), undefined if none yet. */
  sinceLastReceived(): number | undefined {
    return this.#lastRx === undefined ? undefined : this.#o.now() - this.#lastRx;
  }

  /** Seals and sends; false (counted) when the message would exceed MAX_DATAGRAM. */
  send(plain: Uint8Array): boolean {
    if (plain.length + HEADER_LEN + TAG_LEN > MAX_DATAGRAM) {
      this.counters.inc('ha.tx_too_long');
      return false;
    }
    this.#seq += 1n;
    this.#o.socket.send(seal(this.#key, this.#o.nodeId, this.#seq, plain));
    this.counters.inc('ha.tx_messages');
    return true;
  }

  close(): void {
    this.#o.socket.close();
    this.#key.fill(0);
    this.#handler = undefined;
  }

  #drop(reason: HaDropReason): void {
    this.counters.inc(`ha.drop_${reason}`);
  }

  #receive(d: Uint8Array, from: string): void {
    if (from !== this.#o.peerAddr) return this.#drop('foreign_source');
    const second = Math.floor(this.#o.now() / 1000);
    if (this.#budget.second !== second) this.#budget = { second, used: 0 };
    if (++this.#budget.used > (this.#o.maxPerSecond ?? 2000)) return this.#drop('rate_limited');
    if (d.length < HEADER_LEN + TAG_LEN) return this.#drop('too_short');
    if (d.length > MAX_DATAGRAM) return this.#drop('too_long');
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    if (v.getUint32(0) !== HA_MAGIC) return this.#drop('bad_magic');
    if (d[4] !== HA_VERSION) return this.#drop('bad_version');
    const sender = v.getUint32(5);
    if (sender === this.#o.nodeId) return this.#drop('own_sender');
    const seq = v.getBigUint64(9);
    // The cheap replay check first; the window moves only after the tag verified.
    const verdict = this.#replay(seq);
    if (verdict) return this.#drop(verdict);
    let plain: Uint8Array;
    try {
      const c = createDecipheriv('aes-256-gcm', this.#key, nonce(sender, seq), { authTagLength: TAG_LEN });
      c.setAAD(d.subarray(0, HEADER_LEN));
      c.setAuthTag(d.subarray(d.length - TAG_LEN));
      plain = new Uint8Array(
        Buffer.concat([c.update(d.subarray(HEADER_LEN, d.length - TAG_LEN)), c.final()]),
      );
    } catch {
      return this.#drop('auth_failed');
    }
    // Sequence numbers run by one per message within a run of the sender; a jump of 2^32 or more is
    // a restart of the peer (its counter starts at its clock in ms << 16), anything less a loss.
    const gap = this.#top >= 0n && seq > this.#top + 1n && seq - this.#top < 1n << 32n;
    this.#accept(seq);
    this.#lastRx = this.#o.now();
    if (gap) {
      this.counters.inc('ha.rx_gap');
      this.#onGap?.();
    }
    this.counters.inc('ha.rx_messages');
    this.#handler?.(plain, sender);
  }

  #replay(seq: bigint): HaDropReason | undefined {
    if (this.#top < 0n || seq > this.#top) return undefined;
    const diff = this.#top - seq;
    if (diff >= WINDOW) return 'too_old';
    return (this.#bitmap >> diff) & 1n ? 'replay' : undefined;
  }

  #accept(seq: bigint): void {
    if (this.#top < 0n || seq > this.#top) {
      const shift = this.#top < 0n ? WINDOW : seq - this.#top;
      this.#bitmap = shift >= WINDOW ? 1n : ((this.#bitmap << shift) | 1n) & ((1n << WINDOW) - 1n);
      this.#top = seq;
    } else this.#bitmap |= 1n << (this.#top - seq);
  }
}
