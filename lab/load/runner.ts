// The initiator load generator: many IKE SAs (IKE_SA_INIT + IKE_AUTH with one Child SA each, RFC 7296
// §1.2) towards one responder, started at a given rate with at most `concurrency` in flight, each with
// its own IKE SPI, Child SA SPI and identity. Our side keeps Child SAs in the in-memory kernel, so the
// figures measure IKE (and the responder), not our kernel. Reports counts, achieved rate, latency.
import { KeyExchangePool } from '../../src/crypto/index.ts';
import { TransformType } from '../../src/codec/index.ts';
import { RealClock } from '../../src/base/clock.ts';
import type { EngineOptions, IkeConnection } from '../../src/ike/config.ts';
import { Counters } from '../../src/base/counters.ts';
import { Engine } from '../../src/ike/engine.ts';
import type { IkeSa } from '../../src/ike/ike-sa.ts';
import type { EngineEvent } from '../../src/ike/services.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import { FakeKernel } from '../../src/kernel/index.ts';
import type { Transport } from '../../src/net/transport.ts';
import { UdpTransport } from '../../src/net/udp.ts';
import { CredsError, parseId } from '../../src/creds/index.ts';
import { LoadCertError, LoadCredentials, type LoadCert } from './cert-auth.ts';
import { connectionFromSpec, SpecError, type ConnectionSpec } from './spec.ts';
import { summarize, type LatencySummary } from './stats.ts';
import { rekeyStorm, type StormOptions, type StormReport } from './storm.ts';

export interface LoadOptions {
  readonly remote: string;
  readonly local: string;
  /**
   * More local addresses: the i-th SA of the run (from 0) comes from `locals[floor(i / perLocal)]`,
   * not `local` (a responder admits a bounded number of IKE SAs per peer address).
   */
  readonly locals?: readonly string[];
  readonly perLocal?: number;
  readonly count: number;
  /** New IKE SAs started per second; 0 = as fast as `concurrency` allows. */
  readonly rate: number;
  /** Most IKE SAs being set up at once. */
  readonly concurrency: number;
  /** Exactly one of psk and cert. PSK octets (RFC 7296 §2.15), given as text or 0x-hex like the config. */
  readonly psk?: string;
  /** Certificate authentication (RFC 7427 signatures): PEM files, see LoadCert. */
  readonly cert?: LoadCert;
  readonly ike: string;
  readonly esp: string;
  /** Our identity; `%d` becomes the SA's number (1-based) so every IKE SA has its own. */
  readonly idTemplate: string;
  /** The number of the first SA (default 1): runs with disjoint identities (and certificates). */
  readonly first?: number;
  /** The identity the responder must prove; undefined = any. */
  readonly remoteId?: string;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  /**
   * Each SA proposes its own local subnet, 10.H.L.0/24 from its number n (H = n / 256, L = n % 256),
   * instead of `localTs`: a hub's branches, each with its own LAN (distinct policies per tunnel).
   */
  readonly subnetPerSa?: boolean;
  /** Give up on one SA after this long (ms). */
  readonly timeoutMs: number;
  /** Delete every established IKE SA at the end (RFC 7296 §1.4.1) and count the confirmations. */
  readonly delete: boolean;
  /** Our IKE port (default 500; 0 = ephemeral, NAT-T port then ephemeral too). */
  readonly ikePort?: number;
  readonly engine?: EngineOptions;
  /** After the setup: rekey the established SAs' Child SAs for a while (lab/load/storm.ts). */
  readonly storm?: StormOptions;
  /** Told when the storm starts and ends (not JSON: set by the caller's process). */
  readonly onStorm?: (phase: 'start' | 'end') => void;
  /** Replaces the UDP transport (tests). */
  readonly transport?: Transport;
  readonly onProgress?: (done: number, established: number, failed: number) => void;
}

export interface LoadReport {
  readonly requested: number;
  readonly established: number;
  readonly failed: number;
  /** Failure reasons and how often each occurred. */
  readonly failures: Readonly<Record<string, number>>;
  /** From the first IKE_SA_INIT to the last SA settled. */
  readonly elapsedMs: number;
  /** Established IKE SAs (with their Child SA) per second over elapsedMs. */
  readonly ratePerSec: number;
  /** Time from initiate to Child SA installed, per established SA (ms). */
  readonly latencyMs: LatencySummary;
  readonly retransmits: number;
  /** With `delete`: IKE SAs whose Delete was answered (or undefined when not asked). */
  readonly deleted?: number;
  /** With `storm`: what the rekey storm did. */
  readonly storm?: StormReport;
}

export class LoadError extends Error {
  override readonly name = 'LoadError';
  readonly code = 'ERR_LOAD';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function validateLoadOptions(o: LoadOptions): void {
  const int = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new LoadError(`--${name} must be an integer >= ${min}, got ${v}`);
  };
  int(o.count, 'count', 1);
  int(o.concurrency, 'concurrency', 1);
  int(o.first ?? 1, 'first', 1);
  if (!(o.rate >= 0) || !Number.isFinite(o.rate)) throw new LoadError(`--rate must be >= 0, got ${o.rate}`);
  if (!(o.timeoutMs > 0)) throw new LoadError(`--timeout must be > 0, got ${o.timeoutMs}`);
  if (o.locals !== undefined) {
    int(o.perLocal ?? 0, 'per-local', 1);
    if (o.locals.length * o.perLocal! < o.count)
      throw new LoadError(
        `${o.locals.length} local addresses x ${o.perLocal} SAs hold fewer than ${o.count}`,
      );
  }
  if (o.subnetPerSa && (o.first ?? 1) + o.count - 1 > 65_535)
    throw new LoadError('subnet per SA: SA numbers above 65535 would repeat a subnet');
  if (o.storm) {
    int(o.storm.concurrency, 'storm-concurrency', 1);
    int(o.storm.intervalMs, 'storm-interval', 1);
    if (!(o.storm.seconds > 0)) throw new LoadError(`storm seconds must be > 0, got ${o.storm.seconds}`);
  }
  if ((o.psk === undefined) === (o.cert === undefined))
    throw new LoadError('give exactly one of a PSK (--psk-file) and a certificate (--cert, --key, --ca)');
}

/** The SA's identity from the template: `%d` becomes n. */
const idOf = (o: LoadOptions, n: number) => o.idTemplate.replaceAll('%d', String(n));

/** Builds connections; certificate files are read once (LoadCredentials), not per IKE SA. */
export class LoadConnections {
  readonly #o: LoadOptions;
  readonly #creds: LoadCredentials | undefined;

  constructor(o: LoadOptions) {
    this.#o = o;
    try {
      this.#creds = o.cert ? LoadCredentials.fromFiles(o.cert) : undefined;
    } catch (e) {
      if (e instanceof LoadCertError) throw new LoadError(e.message);
      throw e;
    }
  }

  /** The connection of the n-th SA of this run (1-based): its own name, identity (and certificate). */
  connection(i: number): IkeConnection {
    const o = this.#o;
    const n = i + (o.first ?? 1) - 1;
    let auth: Pick<ConnectionSpec, 'psk' | 'credentials'>;
    try {
      auth = this.#creds
        ? {
            credentials: this.#creds.forSa(
              n,
              parseId(idOf(o, n)),
              o.remoteId === undefined ? undefined : parseId(o.remoteId),
            ),
          }
        : { psk: o.psk! };
    } catch (e) {
      if (e instanceof LoadCertError) throw new LoadError(e.message);
      if (e instanceof CredsError) throw new LoadError(`--id / --remote-id: ${e.message}`);
      throw e;
    }
    return loadConnection(o, n, auth);
  }
}

/** The connection of SA number `n` (1-based): its own name and identity; PSK unless `auth` says. */
export function loadConnection(
  o: LoadOptions,
  n: number,
  auth: Pick<ConnectionSpec, 'psk' | 'credentials'> = { psk: o.psk ?? '' },
): IkeConnection {
  const spec: ConnectionSpec = {
    name: `load-${n}`,
    localAddr: o.locals ? o.locals[Math.floor((n - (o.first ?? 1)) / o.perLocal!)]! : o.local,
    remoteAddr: o.remote,
    localId: idOf(o, n),
    ...(o.remoteId !== undefined ? { remoteId: o.remoteId } : {}),
    ...auth,
    ike: o.ike,
    esp: o.esp,
    localTs: o.subnetPerSa ? [`10.${(n >> 8) & 255}.${n & 255}.0/24`] : o.localTs,
    remoteTs: o.remoteTs,
  };
  return connectionFromSpec(spec, 'load');
}

interface Tracker {
  readonly started: Map<IkeSa, number>;
  readonly latencies: number[];
  readonly failures: Map<string, number>;
  readonly done: Set<IkeSa>;
  established: IkeSa[];
}

function track(engine: Engine, now: () => number): Tracker {
  const tr: Tracker = {
    started: new Map(),
    latencies: [],
    failures: new Map(),
    done: new Set(),
    established: [],
  };
  const settle = (sa: IkeSa, failure?: string) => {
    const t0 = tr.started.get(sa);
    if (t0 === undefined || tr.done.has(sa)) return;
    tr.done.add(sa);
    if (failure === undefined) {
      tr.latencies.push(now() - t0);
      tr.established.push(sa);
    } else tr.failures.set(failure, (tr.failures.get(failure) ?? 0) + 1);
  };
  engine.onEvent((e: EngineEvent) => {
    if (e.type === 'child-installed') settle(e.sa);
    else if (e.type === 'child-failed')
      settle(e.sa, `child-failed${e.notify ? ` (notify ${e.notify})` : ''}`);
    else if (e.type === 'ike-failed') settle(e.sa, `ike-failed: ${e.reason.replace(/\d+/g, 'N')}`);
    else if (e.type === 'ike-destroyed') settle(e.sa, 'ike-destroyed');
  });
  return tr;
}

/** Starts SAs on schedule; resolves once all started SAs settled or timed out. */
async function drive(
  o: LoadOptions,
  conns: LoadConnections,
  engine: Engine,
  tr: Tracker,
  now: () => number,
): Promise<void> {
  const t0 = now();
  const interval = o.rate > 0 ? 1000 / o.rate : 0;
  const inflight = () => tr.started.size - tr.done.size;
  const expire = () => {
    for (const [sa, t] of tr.started) {
      if (tr.done.has(sa) || now() - t < o.timeoutMs) continue;
      tr.done.add(sa);
      tr.failures.set('timeout', (tr.failures.get('timeout') ?? 0) + 1);
      engine.run(sa, () => sa.destroy());
    }
  };
  // Bounded: every iteration either starts an SA or sleeps >= 1 ms; the deadline caps the whole run.
  const deadline = t0 + o.count * interval + o.timeoutMs * (Math.ceil(o.count / o.concurrency) + 1);
  let n = 0;
  while ((n < o.count || inflight() > 0) && now() < deadline) {
    expire();
    const due = t0 + n * interval;
    if (n < o.count && inflight() < o.concurrency && now() >= due) {
      n++;
      const conn = conns.connection(n);
      engine.addConnection(conn);
      tr.started.set(engine.initiate(conn.name), now());
      if (n % 64 === 0) await sleep(0); // let replies in while starting a burst
      continue;
    }
    o.onProgress?.(tr.done.size, tr.latencies.length, tr.done.size - tr.latencies.length);
    await sleep(Math.max(1, Math.min(20, due - now())));
  }
  expire();
}

/**
 * Deletes every established IKE SA (RFC 7296 §1.4.1: an INFORMATIONAL exchange with a Delete payload),
 * at most `inFlight` asked in the last STALL_MS and unanswered, as the setups were: a thousand Deletes
 * sent at once overran the peers' receive buffers, and a third to a half were still unanswered after
 * 30 s (2026-12-07). A Delete unanswered for STALL_MS (its retransmissions go on) frees its slot.
 */
async function deleteAll(engine: Engine, tr: Tracker, timeoutMs: number, inFlight: number): Promise<number> {
  const live = new Set(tr.established.filter((sa) => sa.state !== 'destroyed'));
  const off = engine.onEvent((e) => {
    if (e.type === 'ike-destroyed') live.delete(e.sa);
  });
  const total = live.size;
  const queue = [...live];
  let asked: { sa: IkeSa; at: number }[] = [];
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000 && live.size > 0 && Date.now() < end; i++) {
    const t = Date.now();
    asked = asked.filter((a) => live.has(a.sa) && t - a.at <= STALL_MS);
    while (queue.length > 0 && asked.length < inFlight) {
      const sa = queue.shift()!;
      if (!live.has(sa)) continue;
      engine.terminate(sa.config.name);
      asked.push({ sa, at: t });
    }
    await sleep(5);
  }
  off();
  return total - live.size;
}
const STALL_MS = 2000;

/** Runs the load; the transport (unless injected) is opened and closed here. */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  validateLoadOptions(o);
  const conns = new LoadConnections(o);
  let first: IkeConnection;
  try {
    first = conns.connection(1); // fail fast on a bad proposal, identity, selector or certificate
  } catch (e) {
    if (e instanceof SpecError) throw new LoadError(e.message);
    throw e;
  }
  const counters = new Counters();
  const transport =
    o.transport ??
    (await UdpTransport.open({
      addresses: o.locals ? [...o.locals] : [o.local],
      ikePort: o.ikePort ?? 500,
      nattPort: o.ikePort === 0 ? 0 : 4500,
      counters,
    }));
  const clock = new RealClock();
  const timers = new TimerQueue(clock);
  const groups = first.ikeProposals
    .flatMap((p) => p.transforms)
    .filter((t) => t.type === TransformType.KE)
    .map((t) => t.id);
  const engine = new Engine({
    transport,
    // No call log: a storm makes millions of kernel calls (the log ran the generator out of heap).
    kernel: new FakeKernel({ recordCalls: false, validate: false }),
    timers,
    connections: [],
    counters,
    pool: new KeyExchangePool({ groups: [...new Set(groups)], size: 16 }),
    ...(o.engine ? { options: o.engine } : {}),
    ...(transport instanceof UdpTransport ? { ports: transport.ports } : {}),
  });
  const now = () => clock.now();
  const tr = track(engine, now);
  const t0 = now();
  try {
    await drive(o, conns, engine, tr, now);
    const elapsedMs = now() - t0;
    const notStarted = o.count - tr.started.size;
    if (notStarted > 0) tr.failures.set('not started (run deadline)', notStarted);
    const storm = o.storm
      ? await rekeyStorm(engine, tr.established, o.storm, o.timeoutMs, now, o.onStorm)
      : undefined;
    const deleted = o.delete ? await deleteAll(engine, tr, o.timeoutMs, o.concurrency) : undefined;
    return {
      requested: o.count,
      established: tr.latencies.length,
      failed: o.count - tr.latencies.length,
      failures: Object.fromEntries(tr.failures),
      elapsedMs,
      ratePerSec: elapsedMs > 0 ? (tr.latencies.length * 1000) / elapsedMs : 0,
      latencyMs: summarize(tr.latencies),
      retransmits: counters.get('ike.retransmit_sent'),
      ...(deleted !== undefined ? { deleted } : {}),
      ...(storm ? { storm } : {}),
    };
  } finally {
    await engine.close();
    timers.clear();
    if (!o.transport) await transport.close();
  }
}
