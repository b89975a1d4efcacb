// The daemon's control socket: a Unix stream socket, root-only (mode 0600 in a directory created
// 0700), one JSON request per line, one response per request, handled in order per client.
// Peer credentials (SO_PEERCRED) are not read: node exposes no way without a native addon, so access
// control is the file mode, which the kernel enforces on connect(2) (unix(7)).
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../base/logger.ts';
import {
  ControlError,
  MAX_LINE,
  parseRequest,
  type ControlRequest,
  type ControlResponse,
} from './protocol.ts';

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

/** Most clients served at once; more are refused (bounded resources). */
export const MAX_CLIENTS = 64;

export class ControlServer {
  readonly #server: Server;
  readonly #clients = new Set<Socket>();
  #closed = false;

  private constructor(
    readonly path: string,
    server: Server,
  ) {
    this.#server = server;
  }

  /**
   * Listens on `path`. A stale socket file (no daemon answers on it) is replaced; a live one means
   * another daemon runs, which is an error.
   */
  static async listen(path: string, handler: ControlHandler, logger: Logger): Promise<ControlServer> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (existsSync(path)) {
      if (await answers(path))
        throw new ControlError(
          'ERR_BUSY',
          `another ikeway daemon is listening on ${path}; stop it first (ikeway status -s ${path})`,
        );
      unlinkSync(path);
    }
    const server = createServer();
    const cs = new ControlServer(path, server);
    server.on('connection', (sock) => cs.#accept(sock, handler, logger));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // umask-independent: nothing but root may connect, even before the chmod below.
      const old = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    chmodSync(path, 0o600);
    return cs;
  }

  #accept(sock: Socket, handler: ControlHandler, logger: Logger): void {
    if (this.#closed || this.#clients.size >= MAX_CLIENTS) {
      sock.destroy();
      return;
    }
    this.#clients.add(sock);
    sock.on('close', () => this.#clients.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let chain = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        sock.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        chain = chain.then(() => this.#serve(line, sock, handler, logger));
      }
    });
  }

  async #serve(line: string, sock: Socket, handler: ControlHandler, logger: Logger): Promise<void> {
    let id = 0;
    let res: ControlResponse;
    try {
      const req = parseRequest(line);
      id = req.id;
      logger.log('debug', 'control request', { component: 'control', cmd: req.cmd });
      res = { id, ok: true, result: await handler(req) };
    } catch (e) {
      const err =
        e instanceof ControlError
          ? e
          : new ControlError('ERR_INTERNAL', `internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (err.code === 'ERR_INTERNAL')
        logger.log('error', 'control request failed', { component: 'control', error: err.message });
      res = { id, ok: false, error: err.toBody() };
    }
    if (!sock.destroyed) sock.write(`${JSON.stringify(res, bigintJson)}\n`);
  }

  /** Stops listening, drops clients and removes the socket file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#clients) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** JSON.stringify replacer: bigint counters as decimal strings would lose type; send numbers when safe. */
export function bigintJson(_k: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** True when something accepts connections on `path` (within 1 s). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), 1000);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
