// The CLI side of the control socket: connect, send one request, read its response, close.
// Connection failures become ControlErrors that say what to do.
import { connect } from 'node:net';
import { ControlError, MAX_RESPONSE, type ControlCommand, type ControlResponse } from './protocol.ts';

export const DEFAULT_SOCKET = '/run/ikeway/ikeway.sock';

export interface RequestOptions {
  /** Give up after this long (default 30 s: a reload may re-establish tunnels first). */
  readonly timeoutMs?: number;
}

function connectError(path: string, e: NodeJS.ErrnoException): ControlError {
  const start = 'start it with: ikeway daemon -c /etc/ikeway/ikeway.yaml';
  switch (e.code) {
    case 'ENOENT':
      return new ControlError(
        'ERR_NOT_RUNNING',
        `no control socket at ${path}: is the daemon running? ${start} (or pass --socket / -c)`,
      );
    case 'ECONNREFUSED':
      return new ControlError(
        'ERR_NOT_RUNNING',
        `nothing listens on ${path} (a stale socket): the daemon is not running; ${start}`,
      );
    case 'EACCES':
    case 'EPERM':
      return new ControlError(
        'ERR_PERMISSION',
        `permission denied on ${path}: the control socket is root-only; run as root`,
      );
    default:
      return new ControlError('ERR_NOT_RUNNING', `cannot connect to ${path}: ${e.message}`);
  }
}

let nextId = 1;

/** Sends one command and resolves with its result; rejects with ControlError (the daemon's or ours). */
export function request(
  path: string,
  cmd: ControlCommand,
  args?: Record<string, unknown>,
  opts: RequestOptions = {},
): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    // The response is one line; a status of 100,000 SAs is ~100 MB, so the chunks are kept apart
    // and only each new one is searched for the newline (not the whole response so far).
    const chunks: string[] = [];
    let length = 0;
    let settled = false;
    const finish = (err: ControlError | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(
      () =>
        finish(
          new ControlError(
            'ERR_TIMEOUT',
            `the daemon did not answer "${cmd}" within ${timeoutMs / 1000}s; check its log`,
          ),
        ),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.once('error', (e: NodeJS.ErrnoException) => finish(connectError(path, e)));
    sock.once('connect', () => sock.write(`${JSON.stringify({ id, cmd, ...(args ? { args } : {}) })}\n`));
    sock.on('data', (chunk: string) => {
      const nl = chunk.indexOf('\n');
      length += nl < 0 ? chunk.length : nl;
      if (length > MAX_RESPONSE) return finish(new ControlError('ERR_PROTOCOL', 'response too long'));
      if (nl < 0) return void chunks.push(chunk);
      chunks.push(chunk.slice(0, nl));
      let res: ControlResponse;
      try {
        res = JSON.parse(chunks.join('')) as ControlResponse;
      } catch {
        return finish(new ControlError('ERR_PROTOCOL', 'the daemon sent a response that is not JSON'));
      }
      if (res.id !== id)
        return finish(new ControlError('ERR_PROTOCOL', `response id ${res.id} != request id ${id}`));
      if (res.ok) finish(undefined, res.result);
      else finish(new ControlError(res.error.code, res.error.message, res.error.details));
    });
    sock.once('end', () =>
      finish(new ControlError('ERR_PROTOCOL', 'the daemon closed the connection without answering')),
    );
  });
}
