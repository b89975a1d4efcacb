// Pre-generated key-exchange key pairs, so that key generation happens off the critical path of an
// IKE_SA_INIT / CREATE_CHILD_SA exchange (half the cost of a DH). Each pair is handed out once.
import { createKeyExchange, type KeyExchange } from './ke.ts';
import { lookupKeGroup } from './registry.ts';
import { fail } from './errors.ts';

export interface KeyExchangePoolOptions {
  /** DhGroup ids to keep ready. */
  readonly groups: readonly number[];
  /** Key pairs kept ready per group (default 4). */
  readonly size?: number;
  /** Schedules background work; default setImmediate (unref'd). Tests inject a manual scheduler. */
  readonly schedule?: (fn: () => void) => void;
  /** Key pair factory (default createKeyExchange). */
  readonly create?: (group: number) => KeyExchange;
}

const defaultSchedule = (fn: () => void): void => {
  setImmediate(fn).unref();
};

export class KeyExchangePool {
  readonly #ready = new Map<number, KeyExchange[]>();
  readonly #size: number;
  readonly #schedule: (fn: () => void) => void;
  readonly #create: (group: number) => KeyExchange;
  #pending = false;
  #closed = false;

  constructor(opts: KeyExchangePoolOptions) {
    this.#size = opts.size ?? 4;
    if (!Number.isInteger(this.#size) || this.#size < 0 || this.#size > 64) {
      fail('MALFORMED', `pool size ${this.#size} not in 0..64`);
    }
    for (const g of opts.groups) {
      if (!lookupKeGroup(g)) fail('UNSUPPORTED', `key exchange group ${g}`);
      this.#ready.set(g, []);
    }
    this.#schedule = opts.schedule ?? defaultSchedule;
    this.#create = opts.create ?? createKeyExchange;
  }

  /** Number of pre-generated pairs ready for a group. */
  available(group: number): number {
    return this.#ready.get(group)?.length ?? 0;
  }

  /** A key pair for `group`: a pooled one if ready, else a fresh one. Schedules a refill. */
  take(group: number): KeyExchange {
    const kx = this.#ready.get(group)?.pop() ?? this.#create(group);
    this.#scheduleRefill();
    return kx;
  }

  /** Fill every group up to the pool size now (e.g. at startup). */
  fill(): void {
    while (this.#refillOne());
  }

  /** Destroy all pooled pairs and stop refilling. */
  close(): void {
    this.#closed = true;
    for (const list of this.#ready.values()) for (const kx of list.splice(0)) kx.destroy();
  }

  /** Generate one missing pair; returns false when everything is full. */
  #refillOne(): boolean {
    if (this.#closed) return false;
    for (const [g, list] of this.#ready) {
      if (list.length < this.#size) {
        list.push(this.#create(g));
        return true;
      }
    }
    return false;
  }

  /** One pair per tick, so a burst of refills never blocks the event loop for long. */
  #scheduleRefill(): void {
    if (this.#pending || this.#closed) return;
    this.#pending = true;
    this.#schedule(() => {
      this.#pending = false;
      if (this.#refillOne()) this.#scheduleRefill();
    });
  }
}
