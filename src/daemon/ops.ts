// The operator's side channels of a running daemon, attached by main.ts with a few hooks: systemd
// notification (sdnotify.ts), the Prometheus endpoint (metrics.ts, metrics-server.ts) and the
// debug-keys file (keylog.ts). Each one failing (port in use, key file not writable, no socket)
// is logged precisely and leaves the daemon and its tunnels running.
import type { Config } from '../config/index.ts';
import type { Logger } from '../base/logger.ts';
import type { Kernel } from '../kernel/types.ts';
import { ConnEvents } from './conn-events.ts';
import type { Daemon } from './daemon.ts';
import { KeyLog, debugKeysWarning, keyLoggingKernel } from './keylog.ts';
import { Metrics } from './metrics.ts';
import { MetricsServer } from './metrics-server.ts';
import { SdNotify } from './sdnotify.ts';
import { sasByConnection } from './status.ts';
import { summaryLine } from './summary.ts';

/** notAfter (ms) of each certificate connection's own certificate, once per config (a reload makes a new one). */
const expiries = new WeakMap<Config, ReadonlyMap<string, number>>();
function certExpiry(c: Config): ReadonlyMap<string, number> {
  let m = expiries.get(c);
  if (!m) {
    m = new Map(
      c.connections.flatMap((x) =>
        x.auth.kind === 'cert' ? [[x.name, Date.parse(x.auth.cert.validTo)]] : [],
      ),
    );
    expiries.set(c, m);
  }
  return m;
}

export class Ops {
  readonly #log: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly events = new ConnEvents();
  #keylog: KeyLog | undefined;
  #notify: SdNotify | undefined;
  #server: MetricsServer | undefined;
  #daemon: Daemon | undefined;

  constructor(log: Logger, env: NodeJS.ProcessEnv) {
    this.#log = log;
    this.#env = env;
  }

  get metricsServer(): MetricsServer | undefined {
    return this.#server;
  }

  /** At start, once the config is valid: opens the debug-keys files if asked for. */
  configure(c: Config): void {
    if (c.debugKeys === undefined) return;
    try {
      this.#keylog = KeyLog.open(c.debugKeys);
      this.#log.log('warn', debugKeysWarning(c.debugKeys), { component: 'daemon' });
    } catch (e) {
      this.#log.log('error', `${e instanceof Error ? e.message : String(e)}; no keys will be written`, {
        component: 'daemon',
      });
    }
  }

  wrapKernel(k: Kernel): Kernel {
    return this.#keylog ? keyLoggingKernel(k, this.#keylog) : k;
  }

  /** After the daemon is up (sockets bound, kernel reconciled): metrics, events, READY=1. */
  async started(d: Daemon): Promise<void> {
    this.#daemon = d;
    const keylog = this.#keylog;
    d.engine.onEvent((e) => {
      this.events.onEvent(e);
      // IKE SA keys once derived; written at establishment (or failure, to debug a bad IKE_AUTH).
      if (keylog && (e.type === 'ike-established' || e.type === 'ike-failed' || e.type === 'ike-rekeyed'))
        keylog.ikeSa(e.sa);
    });
    const m = d.config.metrics;
    if (m) {
      const metrics = new Metrics({
        snapshot: () => d.status(undefined, { kernelCounters: false }),
        kernelSas: () => d.runtime.kernel.dumpSas(),
        events: this.events,
        halfOpen: () => d.engine.halfOpenCount,
        cookieThreshold: () => d.config.cookieThreshold,
        certificateExpiry: (name) => certExpiry(d.config).get(name),
        debugKeys: keylog !== undefined,
      });
      this.#server = await MetricsServer.start(metrics, m.address.address, m.port, this.#log);
    }
    this.#notify = SdNotify.fromEnv({ env: this.#env, logger: this.#log, summary: () => this.summary() });
    await this.#notify?.ready();
  }

  summary(): string {
    const d = this.#daemon;
    if (!d) return 'starting';
    const sas = sasByConnection(d.engine);
    return summaryLine({
      connections: d.config.connections.map((c) => c.name),
      sasOf: (n) => sas.get(n) ?? [],
      debugKeys: this.#keylog !== undefined,
    });
  }

  onReload(phase: 'begin' | 'end'): void {
    void (phase === 'begin' ? this.#notify?.reloading() : this.#notify?.ready());
  }

  async stopping(): Promise<void> {
    await this.#notify?.stopping();
  }

  async close(): Promise<void> {
    await this.#server?.close();
    this.#notify?.close();
    this.#keylog?.close();
  }
}
