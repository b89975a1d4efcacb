// The Prometheus view (text exposition format; process metrics and content type from prom-client,
// the ikeway families written here, see Family) of what `ikeway status --json`
// shows: built at scrape time from the same status snapshot (without its per-SA kernel queries),
// plus ONE kernel SA dump for the byte/packet/replay counters of every Child SA, the event history
// of each connection (conn-events.ts), and the daemon-wide counters of src/base/counters.ts.
// No key, PSK or identity secret is ever read here: SaInfo carries no keys, the snapshot none.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { COUNTER_NAMES } from '../base/counters.ts';
import type { SaInfo } from '../kernel/types.ts';
import { FAILURE_REASONS, failureReason, type ConnEvents } from './conn-events.ts';
import type { StatusReport } from '../control/status-types.ts';

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

type Labels = Record<string, string>;

/** A label value in the exposition format: backslash, double quote and newline escaped. */
const esc = (v: string) =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
const num = (v: number) =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);

/**
 * One metric family, refilled on every scrape and written straight as exposition text (Prometheus
 * text format 0.0.4, what prom-client writes too). prom-client's own path (label objects hashed on
 * every set, then formatted and escaped by its registry) cost ~0.5 ms of CPU per tunnel plus the
 * garbage it leaves, at 10,000 tunnels most of a scrape (bench/metrics-scrape.ts); prom-client still
 * serves the process metrics and the content type.
 */
class Family {
  rows: string[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
  ) {}
  add(labels: Labels, value: number): void {
    let l = '';
    for (const k in labels) l += `${l ? ',' : ''}${k}="${esc(labels[k]!)}"`;
    this.rows.push(l ? `${this.name}{${l}} ${num(value)}` : `${this.name} ${num(value)}`);
  }
  text(): string {
    const head = `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${this.name} ${this.type}\n`;
    return this.rows.length ? `${head}${this.rows.join('\n')}\n` : head;
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly #src: MetricsSource;
  readonly #f: ReturnType<typeof families>;
  #kernelErrors = 0;
  #lastBuildSeconds = 0;

  constructor(src: MetricsSource, opts: { processMetrics?: boolean } = {}) {
    this.#src = src;
    this.#f = families();
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Refreshes every ikeway metric from a new snapshot; returns the exposition text. */
  async scrape(): Promise<string> {
    const t0 = process.hrtime.bigint();
    await this.update();
    let text = '';
    for (const f of Object.values(this.#f)) text += `${f.text()}\n`;
    text += await this.registry.metrics();
    this.#lastBuildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return text;
  }

  async update(): Promise<void> {
    const src = this.#src;
    const f = this.#f;
    for (const fam of Object.values(f)) fam.rows = [];
    const now = src.now?.() ?? Date.now();
    const [report, sas] = await Promise.all([
      src.snapshot(),
      src.kernelSas().catch(() => {
        this.#kernelErrors++;
        return [] as readonly SaInfo[];
      }),
    ]);
    // The kernel's ESP and AH SAs by SPI; a peer-chosen outbound SPI may repeat across peers (and
    // protocols), so keep all.
    const bySpi = new Map<number, SaInfo[]>();
    for (const sa of sas) {
      const l = bySpi.get(sa.spi);
      if (l) l.push(sa);
      else bySpi.set(sa.spi, [sa]);
    }
    const find = (spiHex: string, dst: string, proto: string): SaInfo | undefined => {
      const l = bySpi.get(parseInt(spiHex, 16))?.filter((s) => s.proto === proto);
      return l?.length === 1 ? l[0] : l?.find((s) => s.dst === dst);
    };
    for (const conn of report.connections) {
      const connection = conn.name;
      const C = { connection };
      let ike = 0;
      let child = 0;
      for (const sa of conn.ikeSas) {
        if (sa.state === 'established') ike++;
        for (const ch of sa.children) {
          if (ch.state !== 'installed' && ch.state !== 'rekeying') continue;
          child++;
          const child_sa = String(ch.id);
          const proto = ch.protocol ?? 'esp';
          f.childInfo.add(
            { connection, child_sa, protocol: proto, mode: ch.mode, tfc_padding: String(ch.tfcPadding ?? 0) },
            1,
          );
          const kin = find(ch.spiIn, hostOf(sa.local), proto);
          const kout = find(ch.spiOut, hostOf(sa.remote), proto);
          if (kin) {
            const l = { connection, child_sa, direction: 'in', spi: ch.spiIn };
            f.bytes.add(l, Number(kin.current.bytes));
            f.packets.add(l, Number(kin.current.packets));
            // Replay and ICV checks happen on the receiving SA only (RFC 4303 §3.4.3, §3.4.4).
            f.replay.add(l, kin.stats.replay);
            f.replayWindow.add(l, kin.stats.replayWindow);
            f.integrity.add(l, kin.stats.integrityFailed);
          }
          if (kout) {
            const l = { connection, child_sa, direction: 'out', spi: ch.spiOut };
            f.bytes.add(l, Number(kout.current.bytes));
            f.packets.add(l, Number(kout.current.packets));
          }
        }
      }
      f.up.add(C, child > 0 ? 1 : 0);
      f.ikeSas.add(C, ike);
      f.childSas.add(C, child);
      f.failClosed.add(C, conn.failClosedPolicies);
      const ev = src.events.of(connection);
      f.ikeEst.add(C, ev.ikeEstablished);
      f.childInst.add(C, ev.childInstalled);
      // Rare events only once they happened (a series per connection each would double the page).
      if (ev.ikeRekeys) f.ikeRekeys.add(C, ev.ikeRekeys);
      if (ev.childRekeys) f.childRekeys.add(C, ev.childRekeys);
      if (ev.livenessFailures) f.liveness.add(C, ev.livenessFailures);
      for (const reason of FAILURE_REASONS) {
        const i = ev.ikeFailures.get(reason);
        if (i) f.ikeFail.add({ connection, reason }, i);
        const ch = ev.childFailures.get(reason);
        if (ch) f.childFail.add({ connection, reason }, ch);
      }
      if (ev.lastEstablishedMs !== undefined) {
        f.lastEstablished.add(C, ev.lastEstablishedMs / 1000);
        f.sinceEstablished.add(C, Math.max(0, (now - ev.lastEstablishedMs) / 1000));
      }
      // start: now after a failure: why it waits (reason class), which retry, and until when.
      const r = conn.retry;
      if (r) {
        const reason = failureReason(r.reason);
        f.retryAttempt.add({ connection, reason }, r.attempt);
        if (r.gaveUp) f.retryGaveUp.add({ connection, reason }, 1);
        else f.nextRetry.add(C, Math.round(now / 1000 + (r.inSeconds ?? 0)));
      }
      const exp = src.certificateExpiry(connection);
      if (exp !== undefined) f.certExpiry.add(C, exp / 1000);
    }
    for (const name of COUNTER_NAMES) {
      const { layer, kind, reason } = splitCounter(name);
      const v = report.counters[name] ?? 0;
      if (name === 'kernel.netlink_errors') f.netlinkErrors.add({}, v);
      else if (kind === 'drop') f.drops.add({ layer, reason }, v);
      else f.events.add({ layer, event: reason }, v);
    }
    const halfOpen = src.halfOpen();
    f.halfOpen.add({}, halfOpen);
    f.cookieMode.add({}, halfOpen >= src.cookieThreshold() ? 1 : 0);
    f.debugKeys.add({}, src.debugKeys ? 1 : 0);
    f.info.add({ version: report.daemon.version, kernel: report.daemon.kernel }, 1);
    f.kernelErrors.add({}, this.#kernelErrors);
    f.buildSeconds.add({}, this.#lastBuildSeconds);
    const ha = report.ha;
    if (ha) {
      f.haActive.add({}, ha.role === 'active' ? 1 : 0);
      f.haSynced.add({}, ha.synced ? 1 : 0);
      if (ha.syncLagMs !== undefined) f.haLag.add({}, ha.syncLagMs / 1000);
      if (ha.lastFailover?.atUnixSeconds !== undefined) f.haFailover.add({}, ha.lastFailover.atUnixSeconds);
      for (const [name, v] of Object.entries(ha.counters))
        f.haChannel.add({ event: name.replace(/^ha\./, '') }, v);
    }
  }
}

function families() {
  const g = (name: string, help: string) => new Family(`ikeway_${name}`, help, 'gauge');
  const c = (name: string, help: string) => new Family(`ikeway_${name}`, help, 'counter');
  return {
    up: g('connection_up', '1 when the connection has an installed Child SA, else 0.'),
    ikeSas: g('connection_ike_sas', 'Established IKE SAs of the connection.'),
    childSas: g('connection_child_sas', 'Installed Child SAs of the connection.'),
    failClosed: g('connection_fail_closed_policies', 'Fail-closed kernel policies of the connection.'),
    lastEstablished: g(
      'connection_last_established_timestamp_seconds',
      'When an IKE SA of the connection was last established (Unix time).',
    ),
    sinceEstablished: g(
      'connection_seconds_since_established',
      'Seconds since an IKE SA of the connection was last established.',
    ),
    certExpiry: g(
      'connection_certificate_expiry_timestamp_seconds',
      "notAfter of the connection's own certificate (Unix time).",
    ),
    retryAttempt: g(
      'connection_retry_attempt',
      'A start: now connection waiting after a failure: its retry number, by the reason class of the failure.',
    ),
    nextRetry: g(
      'connection_next_retry_timestamp_seconds',
      'When a waiting connection initiates again (Unix time; retry backoff).',
    ),
    retryGaveUp: g('connection_retry_gave_up', '1 when the connection used its retry attempts and stopped.'),
    ikeEst: c('ike_sa_established_total', 'IKE SAs established.'),
    childInst: c('child_sa_installed_total', 'Child SAs installed.'),
    ikeRekeys: c('ike_sa_rekeys_total', 'IKE SA rekeys (RFC 7296 §2.18).'),
    childRekeys: c('child_sa_rekeys_total', 'Child SA rekeys (RFC 7296 §2.8).'),
    liveness: c('liveness_failures_total', 'Established IKE SAs lost to an unanswered request.'),
    ikeFail: c('ike_sa_failures_total', 'IKE SA failures by reason class.'),
    childFail: c('child_sa_failures_total', 'Child SA failures by reason class.'),
    childInfo: g(
      'child_sa_info',
      'One series per Child SA: its protocol (esp, or ah = RFC 4302, integrity without encryption), mode ' +
        'and outbound TFC padding in octets (0 = none).',
    ),
    bytes: c('child_sa_bytes_total', 'Bytes through the Child SA (kernel counter).'),
    packets: c('child_sa_packets_total', 'Packets through the Child SA (kernel counter).'),
    replay: c('child_sa_replay_errors_total', 'Replayed packets dropped by the kernel (inbound SA).'),
    replayWindow: c('child_sa_replay_window_errors_total', 'Packets outside the replay window (inbound SA).'),
    integrity: c('child_sa_integrity_failures_total', 'Packets failing the ICV check (inbound SA).'),
    drops: c('drops_total', 'Packets dropped, by layer and reason (src/base/counters.ts).'),
    events: c('events_total', 'Daemon events since start, by layer (src/base/counters.ts).'),
    netlinkErrors: c(
      'netlink_errors_total',
      'Kernel operations (netlink requests) that failed, daemon-wide (src/kernel/error-count.ts).',
    ),
    kernelErrors: c('kernel_dump_errors_total', 'Kernel SA dumps that failed during a scrape.'),
    halfOpen: g('half_open_ike_sas', 'Half-open IKE SAs (RFC 7296 §2.6).'),
    cookieMode: g('cookie_mode', '1 while responders demand cookies (half-open >= cookie-threshold).'),
    debugKeys: g('debug_keys_enabled', '1 when debug-keys writes SA keys to disk: a security hazard.'),
    info: g('info', 'Daemon version and kernel backend.'),
    buildSeconds: g('metrics_build_seconds', 'Time the previous scrape took to build the page.'),
    haActive: g('ha_active', 'HA pair (ha:): 1 on the active node, 0 on the standby.'),
    haSynced: g('ha_synced', "HA standby: 1 while it holds a complete copy of the active node's SAs."),
    haLag: g('ha_sync_lag_seconds', 'HA: seconds since the last authenticated message from the other node.'),
    haFailover: g('ha_last_failover_timestamp_seconds', 'HA: when this node last changed role (Unix time).'),
    haChannel: c('ha_sync_messages_total', 'HA sync channel messages by event (rx, tx, drop reasons).'),
  };
}
