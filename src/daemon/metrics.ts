// The Prometheus view (text exposition format, through prom-client) of what `ikeway status --json`
// shows: built at scrape time from the same status snapshot (without its per-SA kernel queries),
// plus ONE kernel SA dump for the byte/packet/replay counters of every Child SA, the event history
// of each connection (conn-events.ts), and the daemon-wide counters of src/base/counters.ts.
// No key, PSK or identity secret is ever read here: SaInfo carries no keys, the snapshot none.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { COUNTER_NAMES } from '../base/counters.ts';
import type { SaInfo } from '../kernel/types.ts';
import { FAILURE_REASONS, type ConnEvents } from './conn-events.ts';
import type { StatusReport } from './status.ts';

export interface MetricsSource {
  /** The status snapshot without per-SA kernel counters (status(undefined, { kernelCounters: false })). */
  snapshot(): Promise<StatusReport>;
  /** Every SA of the kernel with its counters (Kernel.dumpSas): one dump per scrape. */
  kernelSas(): Promise<readonly SaInfo[]>;
  readonly events: ConnEvents;
  halfOpen(): number;
  cookieThreshold(): number;
  /** notAfter (ms since the epoch) of the connection's own certificate, if it uses one. */
  certificateExpiry(connection: string): number | undefined;
  readonly debugKeys: boolean;
  /** Wall clock, ms. */
  now?(): number;
}

/** "ike.drop_bad_cookie" -> layer "ike", kind "drop", reason "bad_cookie". */
export function splitCounter(name: string): { layer: string; kind: 'drop' | 'event'; reason: string } {
  const [layer = '', rest = ''] = name.split('.', 2);
  return rest.startsWith('drop_')
    ? { layer, kind: 'drop', reason: rest.slice(5) }
    : { layer, kind: 'event', reason: rest };
}

const hostOf = (hostPort: string) => {
  const m = /^\[(.*)\]:\d+$/.exec(hostPort) ?? /^(.*):\d+$/.exec(hostPort);
  return m ? m[1]! : hostPort;
};

export class Metrics {
  readonly registry = new Registry();
  readonly #src: MetricsSource;
  readonly #g: ReturnType<typeof gauges>;
  readonly #c: ReturnType<typeof counters>;

  constructor(src: MetricsSource, opts: { processMetrics?: boolean } = {}) {
    this.#src = src;
    this.#g = gauges(this.registry);
    this.#c = counters(this.registry);
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Refreshes every ikeway metric from a new snapshot; returns the exposition text. */
  async scrape(): Promise<string> {
    const t0 = process.hrtime.bigint();
    await this.update();
    this.#g.scrapeSeconds.set(Number(process.hrtime.bigint() - t0) / 1e9);
    return this.registry.metrics();
  }

  async update(): Promise<void> {
    const src = this.#src;
    const g = this.#g;
    const c = this.#c;
    const now = src.now?.() ?? Date.now();
    const [report, sas] = await Promise.all([
      src.snapshot(),
      src.kernelSas().catch(() => {
        c.kernelErrors.inc();
        return [] as readonly SaInfo[];
      }),
    ]);
    // The kernel's SAs by SPI; a peer-chosen outbound SPI may repeat across peers, so keep all.
    const bySpi = new Map<number, SaInfo[]>();
    for (const sa of sas) {
      if (sa.proto !== 'esp') continue;
      const l = bySpi.get(sa.spi);
      if (l) l.push(sa);
      else bySpi.set(sa.spi, [sa]);
    }
    const find = (spiHex: string, dst: string): SaInfo | undefined => {
      const l = bySpi.get(parseInt(spiHex, 16));
      return l?.length === 1 ? l[0] : l?.find((s) => s.dst === dst);
    };
    for (const m of [g.up, g.ikeSas, g.childSas, g.failClosed, g.sinceEstablished, g.lastEstablished])
      m.reset();
    for (const m of [g.certExpiry, c.bytes, c.packets, c.replay, c.replayWindow, c.integrity]) m.reset();
    for (const conn of report.connections) {
      const connection = conn.name;
      let ike = 0;
      let child = 0;
      for (const sa of conn.ikeSas) {
        if (sa.state === 'established') ike++;
        for (const ch of sa.children) {
          if (ch.state !== 'installed' && ch.state !== 'rekeying') continue;
          child++;
          const local = hostOf(sa.local);
          const remote = hostOf(sa.remote);
          for (const [direction, spi, dst] of [
            ['in', ch.spiIn, local],
            ['out', ch.spiOut, remote],
          ] as const) {
            const k = find(spi, dst);
            if (!k) continue;
            const l = { connection, child_sa: String(ch.id), direction, spi };
            c.bytes.inc(l, Number(k.current.bytes));
            c.packets.inc(l, Number(k.current.packets));
            c.replay.inc(l, k.stats.replay);
            c.replayWindow.inc(l, k.stats.replayWindow);
            c.integrity.inc(l, k.stats.integrityFailed);
          }
        }
      }
      g.up.set({ connection }, child > 0 ? 1 : 0);
      g.ikeSas.set({ connection }, ike);
      g.childSas.set({ connection }, child);
      g.failClosed.set({ connection }, conn.failClosedPolicies);
      const ev = src.events.of(connection);
      if (ev.lastEstablishedMs !== undefined) {
        g.lastEstablished.set({ connection }, ev.lastEstablishedMs / 1000);
        g.sinceEstablished.set({ connection }, Math.max(0, (now - ev.lastEstablishedMs) / 1000));
      }
      const exp = src.certificateExpiry(connection);
      if (exp !== undefined) g.certExpiry.set({ connection }, exp / 1000);
    }
    this.#events();
    c.drops.reset();
    c.events.reset();
    for (const name of COUNTER_NAMES) {
      const { layer, kind, reason } = splitCounter(name);
      const v = report.counters[name] ?? 0;
      if (kind === 'drop') c.drops.inc({ layer, reason }, v);
      else c.events.inc({ layer, event: reason }, v);
    }
    const halfOpen = src.halfOpen();
    g.halfOpen.set(halfOpen);
    g.cookieMode.set(halfOpen >= src.cookieThreshold() ? 1 : 0);
    g.debugKeys.set(src.debugKeys ? 1 : 0);
    g.info.reset();
    g.info.set({ version: report.daemon.version, kernel: report.daemon.kernel }, 1);
  }

  #events(): void {
    const c = this.#c;
    for (const m of [c.ikeEst, c.childInst, c.ikeRekeys, c.childRekeys, c.liveness, c.ikeFail, c.childFail])
      m.reset();
    const ev = this.#src.events;
    for (const connection of ev.names()) {
      const e = ev.of(connection);
      c.ikeEst.inc({ connection }, e.ikeEstablished);
      c.childInst.inc({ connection }, e.childInstalled);
      c.ikeRekeys.inc({ connection }, e.ikeRekeys);
      c.childRekeys.inc({ connection }, e.childRekeys);
      c.liveness.inc({ connection }, e.livenessFailures);
      for (const reason of FAILURE_REASONS) {
        const i = e.ikeFailures.get(reason);
        if (i) c.ikeFail.inc({ connection, reason }, i);
        const ch = e.childFailures.get(reason);
        if (ch) c.childFail.inc({ connection, reason }, ch);
      }
    }
  }
}

function gauges(r: Registry) {
  const g = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name: `ikeway_${name}`, help, labelNames, registers: [r] });
  const C = ['connection'];
  return {
    up: g('connection_up', '1 when the connection has an installed Child SA, else 0.', C),
    ikeSas: g('connection_ike_sas', 'Established IKE SAs of the connection.', C),
    childSas: g('connection_child_sas', 'Installed Child SAs of the connection.', C),
    failClosed: g('connection_fail_closed_policies', 'Fail-closed kernel policies of the connection.', C),
    lastEstablished: g(
      'connection_last_established_timestamp_seconds',
      'When an IKE SA of the connection was last established (Unix time).',
      C,
    ),
    sinceEstablished: g(
      'connection_seconds_since_established',
      'Seconds since an IKE SA of the connection was last established.',
      C,
    ),
    certExpiry: g(
      'connection_certificate_expiry_timestamp_seconds',
      'notAfter of the connection’s own certificate (Unix time).',
      C,
    ),
    halfOpen: g('half_open_ike_sas', 'Half-open IKE SAs (RFC 7296 §2.6).'),
    cookieMode: g('cookie_mode', '1 while responders demand cookies (half-open >= cookie-threshold).'),
    debugKeys: g('debug_keys_enabled', '1 when debug-keys writes SA keys to disk: a security hazard.'),
    info: g('info', 'Daemon version and kernel backend.', ['version', 'kernel']),
    scrapeSeconds: g('metrics_build_seconds', 'Time the previous scrape took to build the ikeway metrics.'),
  };
}

function counters(r: Registry) {
  const c = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name: `ikeway_${name}`, help, labelNames, registers: [r] });
  const C = ['connection'];
  const SA = ['connection', 'child_sa', 'direction', 'spi'];
  return {
    ikeEst: c('ike_sa_established_total', 'IKE SAs established.', C),
    childInst: c('child_sa_installed_total', 'Child SAs installed.', C),
    ikeRekeys: c('ike_sa_rekeys_total', 'IKE SA rekeys (RFC 7296 §2.18).', C),
    childRekeys: c('child_sa_rekeys_total', 'Child SA rekeys (RFC 7296 §2.8).', C),
    liveness: c('liveness_failures_total', 'Established IKE SAs lost to an unanswered request.', C),
    ikeFail: c('ike_sa_failures_total', 'IKE SA failures by reason class.', [...C, 'reason']),
    childFail: c('child_sa_failures_total', 'Child SA failures by reason class.', [...C, 'reason']),
    bytes: c('child_sa_bytes_total', 'Bytes through the Child SA (kernel counter).', SA),
    packets: c('child_sa_packets_total', 'Packets through the Child SA (kernel counter).', SA),
    replay: c('child_sa_replay_errors_total', 'Replayed packets dropped by the kernel.', SA),
    replayWindow: c('child_sa_replay_window_errors_total', 'Packets outside the replay window.', SA),
    integrity: c('child_sa_integrity_failures_total', 'Packets failing the ICV check.', SA),
    drops: c('drops_total', 'Packets dropped, by layer and reason (src/base/counters.ts).', [
      'layer',
      'reason',
    ]),
    events: c('events_total', 'Daemon events since start, by layer (src/base/counters.ts).', [
      'layer',
      'event',
    ]),
    kernelErrors: new Counter({
      name: 'ikeway_kernel_dump_errors_total',
      help: 'Kernel SA dumps that failed during a scrape (counters missing from that scrape).',
      registers: [r],
    }),
  };
}
