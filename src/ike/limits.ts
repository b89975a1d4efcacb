// Admission limits of the responder (RFC 7296 §2.6 resource exhaustion): the global half-open limit
// and the IKE SAs one peer address may hold (src/ike/admission.ts adds the per-source half-open limit). A limit that acts drops the IKE_SA_INIT before any DH,
// counts it, and logs one line per burst (the first drop, then at most one summary per quiet
// interval), never one line per packet: a flood must not become a log flood.
import type { Counters, CounterName } from '../base/counters.ts';
import type { Logger } from '../base/logger.ts';

export interface LimitOptions {
  /** Half-open responder SAs in total (limits.half-open). */
  readonly halfOpenLimit: number;
  /** IKE SAs (half-open and established) per peer address (limits.ike-sas-per-peer). */
  readonly ikeSasPerPeer: number;
  /** A burst ends after this long without a drop of the same kind (ms). Default 10 s. */
  readonly burstQuietMs?: number;
}

export type LimitKind = 'half-open' | 'per-peer' | 'per-source';

interface Burst {
  /** Drops since the line that opened or last summarized the burst. */
  dropped: number;
  lastDrop: number;
  lastLog: number;
}

const COUNTER: Readonly<Record<LimitKind, CounterName>> = {
  'half-open': 'ike.drop_half_open_limit',
  'per-peer': 'ike.drop_peer_limit',
  'per-source': 'ike.drop_source_half_open',
};

export class AdmissionLimits {
  readonly #byPeer = new Map<string, number>();
  readonly #bursts = new Map<LimitKind, Burst>();

  constructor(
    private readonly o: LimitOptions,
    private readonly now: () => number,
    private readonly counters: Counters,
    private readonly logger: Logger,
  ) {}

  /** IKE SAs currently held by `addr`. */
  ofPeer(addr: string): number {
    return this.#byPeer.get(addr) ?? 0;
  }

  /** An IKE SA with this peer address now exists (indexSa). */
  add(addr: string): void {
    this.#byPeer.set(addr, this.ofPeer(addr) + 1);
  }

  /** An IKE SA with this peer address is gone (unindexSa). */
  remove(addr: string): void {
    const n = this.ofPeer(addr) - 1;
    if (n > 0) this.#byPeer.set(addr, n);
    else this.#byPeer.delete(addr);
  }

  /**
   * May a new responder SA be created for `addr` while `halfOpen` SAs are half-open? On false the
   * drop is counted and, once per burst, logged.
   */
  admit(addr: string, halfOpen: number): boolean {
    if (halfOpen >= this.o.halfOpenLimit) return this.refuse('half-open', { limit: this.o.halfOpenLimit });
    return this.admitPeer(addr);
  }

  /** The per-peer limit alone (src/ike/admission.ts checks the half-open table itself). */
  admitPeer(addr: string): boolean {
    if (this.ofPeer(addr) >= this.o.ikeSasPerPeer)
      return this.refuse('per-peer', { limit: this.o.ikeSasPerPeer, peer: addr });
    return true;
  }

  /** Counts a drop by limit `kind` and logs it once per burst. */
  refuse(kind: LimitKind, fields: Record<string, string | number>): false {
    this.counters.inc(COUNTER[kind]);
    const now = this.now();
    const quiet = this.o.burstQuietMs ?? 10_000;
    const b = this.#bursts.get(kind);
    if (b === undefined || now - b.lastDrop >= quiet) {
      // A new burst: say so at once, with the limit that acted.
      this.#bursts.set(kind, { dropped: 0, lastDrop: now, lastLog: now });
      this.logger.log('warn', `${kind} limit reached: dropping new IKE_SA_INIT requests`, fields);
      return false;
    }
    b.dropped++;
    b.lastDrop = now;
    if (now - b.lastLog >= quiet) {
      this.logger.log('warn', `${kind} limit still acting`, { ...fields, dropped: b.dropped });
      b.dropped = 0;
      b.lastLog = now;
    }
    return false;
  }
}
