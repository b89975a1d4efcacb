// The HTTP side of the metrics: GET /metrics on the configured address and port, nothing else.
// A port in use does not stop the daemon (the tunnels matter more than their graphs): the error
// is logged with the address, and the bind is retried every 30 s until it succeeds or we stop.
// Prometheus itself shows the gap (up == 0 for the target).
import { createServer, type Server } from 'node:http';
import type { Logger } from '../base/logger.ts';
import type { Metrics } from './metrics.ts';

export const METRICS_RETRY_MS = 30_000;

export class MetricsServer {
  readonly #server: Server;
  readonly #log: Logger;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #listening = false;

  private constructor(metrics: Metrics, log: Logger) {
    this.#log = log;
    this.#server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('ikeway: only GET /metrics is served\n');
        return;
      }
      metrics.scrape().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (e: unknown) => {
          this.#log.log('error', 'metrics scrape failed', { component: 'metrics', error: String(e) });
          res.writeHead(500, { 'content-type': 'text/plain' }).end('ikeway: scrape failed; see the log\n');
        },
      );
    });
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** The bound port (0 before the bind succeeded). */
  get port(): number {
    const a = this.#server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /**
   * Starts listening. Resolves true once bound, false when the first bind failed (the error is
   * logged, and a retry timer keeps trying); never rejects.
   */
  static async start(metrics: Metrics, address: string, port: number, log: Logger): Promise<MetricsServer> {
    const s = new MetricsServer(metrics, log);
    await s.#listen(address, port);
    return s;
  }

  #listen(address: string, port: number): Promise<void> {
    return new Promise((resolve) => {
      const onError = (e: NodeJS.ErrnoException) => {
        this.#server.off('listening', onListening);
        const where = `${address.includes(':') ? `[${address}]` : address}:${port}`;
        const why =
          e.code === 'EADDRINUSE'
            ? `${where} is already in use by another process`
            : e.code === 'EADDRNOTAVAIL'
              ? `${address} is not an address of this host`
              : e.code === 'EACCES'
                ? `no permission to bind ${where}`
                : `cannot bind ${where}: ${e.message}`;
        this.#log.log('error', `metrics: ${why}; /metrics is off, retrying every 30 s (metrics.port)`, {
          component: 'metrics',
          code: e.code,
        });
        if (!this.#closed) {
          this.#retry = setTimeout(() => void this.#listen(address, port), METRICS_RETRY_MS);
          this.#retry.unref();
        }
        resolve();
      };
      const onListening = () => {
        this.#server.off('error', onError);
        this.#listening = true;
        this.#log.log('info', 'metrics listening', { component: 'metrics', address, port: this.port });
        resolve();
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen(port, address);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#server.closeAllConnections();
    if (!this.#listening) return Promise.resolve();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
