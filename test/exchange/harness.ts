// Two IKE engines in one process: each with its own FakeKernel (recording the SaParams it was given,
// keys included, so tests can compare keys crosswise), joined by a MemoryNetwork driven by a FakeClock.
import { IdType } from '../../src/codec/index.ts';
import { Engine } from '../../src/ike/engine.ts';
import { FakeClock } from '../../src/base/clock.ts';
import type { EngineOptions, IkeConnection } from '../../src/ike/config.ts';
import { Counters } from '../../src/base/counters.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import type { EngineEvent } from '../../src/ike/services.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import type { SaParams } from '../../src/kernel/types.ts';
import { seededRandom } from '../../src/net/prng.ts';
import { MemoryNetwork, type Faults, type MemoryNetworkOptions } from '../../src/net/memory.ts';

/** A FakeKernel that also keeps the full SaParams (with keys) it was given, for crosswise checks. */
export class RecordingKernel extends FakeKernel {
  readonly installed: SaParams[] = [];
  override async updateSa(p: SaParams): Promise<void> {
    await super.updateSa(p);
    this.installed.push(p);
  }
  override async addSa(p: SaParams): Promise<void> {
    await super.addSa(p);
    this.installed.push(p);
  }
}

/**
 * A RecordingKernel whose SAs expire like the kernel's (RFC 7296 §2.8 lifetimes): the soft lifetime
 * sends a soft EXPIRE, the hard one removes the SA and sends a hard EXPIRE, on the test's FakeClock.
 * The lifetime starts when the SA gets its keys (addSa, or updateSa of a larval SA).
 */
export class ExpiringKernel extends RecordingKernel {
  readonly #armed = new Set<string>();
  constructor(private readonly timers: TimerQueue) {
    super();
  }
  override async updateSa(p: SaParams): Promise<void> {
    await super.updateSa(p);
    this.#arm(p);
  }
  override async addSa(p: SaParams): Promise<void> {
    await super.addSa(p);
    this.#arm(p);
  }
  #arm(p: SaParams): void {
    const key = `${p.dst}|${p.spi}`;
    if (this.#armed.has(key)) return; // a re-pointed SA keeps its lifetime
    this.#armed.add(key);
    const id = { dst: p.dst, spi: p.spi, proto: p.proto, src: p.src, reqid: p.reqid };
    const alive = async () => (await this.dumpSas()).some((s) => s.dst === p.dst && s.spi === p.spi);
    const soft = p.lifetime?.soft?.seconds;
    const hard = p.lifetime?.hard?.seconds;
    if (soft !== undefined)
      this.timers.after(soft * 1000, () => {
        void alive().then((ok) => ok && this.emit({ type: 'expire', hard: false, sa: id }));
      });
    if (hard !== undefined)
      this.timers.after(hard * 1000, () => {
        void alive().then(async (ok) => {
          if (!ok) return;
          await this.deleteSa(id).catch(() => undefined);
          this.emit({ type: 'expire', hard: true, sa: id });
        });
      });
  }
}

export interface Peer {
  readonly name: string;
  readonly engine: Engine;
  readonly kernel: RecordingKernel;
  readonly counters: Counters;
  readonly logger: MemoryLogger;
  readonly conn: IkeConnection;
  readonly events: EngineEvent[];
}

export const ADDR_A = '203.0.113.1';
export const ADDR_B = '203.0.113.2';
export const PSK = new TextEncoder().encode('a shared secret of reasonable length');

const fqdn = (s: string) => ({ type: IdType.FQDN, data: new TextEncoder().encode(s) });

export function connection(side: 'a' | 'b', over: Partial<IkeConnection> = {}): IkeConnection {
  const a = side === 'a';
  return {
    name: 'site',
    localAddr: a ? ADDR_A : ADDR_B,
    remoteAddr: a ? ADDR_B : ADDR_A,
    localId: fqdn(a ? 'a.example' : 'b.example'),
    remoteId: fqdn(a ? 'b.example' : 'a.example'),
    auth: { kind: 'psk', psk: PSK },
    ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519', 'ike'),
    espProposals: parseProposals('aes256gcm16', 'esp'),
    localTs: [tsFromCidr(a ? '192.0.2.0/25' : '198.51.100.0/24')],
    remoteTs: [tsFromCidr(a ? '198.51.100.0/24' : '192.0.2.0/25')],
    mode: 'tunnel',
    childRekeyMs: 3_000_000,
    childLifetimeMs: 3_600_000,
    ...over,
  };
}

export interface PairOptions {
  readonly a?: Partial<IkeConnection>;
  readonly b?: Partial<IkeConnection>;
  readonly optionsA?: EngineOptions;
  readonly optionsB?: EngineOptions;
  readonly faults?: Faults;
  readonly net?: MemoryNetworkOptions;
  /** Extra addresses for A's transport (e.g. a NAT-side address). */
  readonly addrA?: string;
  /** Seeds the engines' randomness (SPIs, nonces, jitter) for reproducible runs; default node:crypto. */
  readonly randomSeed?: number;
  /** Kernels whose SAs expire at their soft/hard lifetimes on the FakeClock (ExpiringKernel). */
  readonly expiring?: boolean;
}

/** Deterministic bytes from a seeded PRNG: test reproducibility only, never for real keys. */
function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = seededRandom(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

export function pair(o: PairOptions = {}) {
  const clock = new FakeClock(0);
  const timers = new TimerQueue(clock);
  const net = new MemoryNetwork(timers, { ...o.net, ...(o.faults ? { faults: o.faults } : {}) });
  let seed = 1;
  const peer = (name: 'a' | 'b', over: Partial<IkeConnection> | undefined, options?: EngineOptions): Peer => {
    const counters = new Counters();
    const logger = new MemoryLogger();
    const kernel = o.expiring ? new ExpiringKernel(timers) : new RecordingKernel();
    const s = seed++;
    let x = s * 7919;
    kernel.random = () => (x = (x * 48271) % 2147483647) / 2147483647; // deterministic SPIs
    const conn = connection(name, { ...over, ...(name === 'a' && o.addrA ? { localAddr: o.addrA } : {}) });
    const transport = net.createTransport({ addresses: [conn.localAddr], counters });
    const engine = new Engine({
      transport,
      kernel,
      timers,
      connections: [conn],
      counters,
      logger,
      ...(options ? { options } : {}),
      ...(o.randomSeed !== undefined ? { randomBytes: seededBytes(o.randomSeed * 1000 + s) } : {}),
    });
    const events: EngineEvent[] = [];
    engine.onEvent((e) => events.push(e));
    return { name, engine, kernel, counters, logger, conn, events };
  };
  const a = peer('a', o.a, o.optionsA);
  const b = peer('b', o.b, o.optionsB);

  /** Lets every due datagram and async step run, then moves time by `ms` in steps, settling after each. */
  async function settle(ms = 0, stepMs = 500): Promise<void> {
    const end = clock.now() + ms;
    for (let i = 0; i < 10_000; i++) {
      for (let j = 0; j < 100; j++) {
        clock.advance(0);
        await a.engine.idle();
        await b.engine.idle();
        await new Promise<void>((r) => setImmediate(r));
        if (clock.alarmAt === undefined || clock.alarmAt > clock.now()) break;
      }
      if (clock.now() >= end) return;
      clock.advanceTo(Math.min(end, clock.now() + stepMs));
    }
  }

  async function close(): Promise<void> {
    await a.engine.close();
    await b.engine.close();
    timers.clear();
  }

  return { clock, timers, net, a, b, settle, close };
}

export const established = (p: Peer) => p.engine.sas().filter((sa) => sa.state === 'established');
