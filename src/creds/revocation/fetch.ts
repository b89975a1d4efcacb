// Bounded HTTP for CRL distribution points and OCSP responders (RFC 5280 §4.2.1.13, RFC 6960
// Appendix A): plain http:// only, no redirects, one deadline for the whole exchange, and a cap on the
// body (checked against Content-Length and while reading). Asynchronous: an IKE SA waiting for an
// answer never holds up the event loop or any other SA.
import { request } from 'node:http';

export type FetchErrorKind = 'bad-url' | 'timeout' | 'too-large' | 'http-status' | 'network';

export class FetchError extends Error {
  override readonly name = 'FetchError';
  constructor(
    readonly kind: FetchErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface FetchOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: Uint8Array;
  readonly contentType?: string;
  readonly accept?: string;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** The function the checker calls; tests give their own. */
export type Fetcher = (url: string, opts: FetchOptions) => Promise<Uint8Array>;

/** GET or POST `url`; resolves with the body of a 200 answer, rejects with a FetchError. */
export const httpFetch: Fetcher = (url, opts) =>
  new Promise<Uint8Array>((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new FetchError('bad-url', `not a URL: ${url.slice(0, 200)}`));
    }
    if (u.protocol !== 'http:')
      return reject(new FetchError('bad-url', `only http:// is fetched: ${u.protocol}`));
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: FetchError | undefined, body?: Uint8Array) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(body!);
    };
    const headers: Record<string, string> = { connection: 'close' };
    if (opts.accept) headers.accept = opts.accept;
    if (opts.body) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      headers['content-length'] = String(opts.body.length);
    }
    const req = request(u, { method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return finish(new FetchError('http-status', `${u.host} answered HTTP ${res.statusCode}`));
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > opts.maxBytes)
        return finish(
          new FetchError('too-large', `${u.host} announced ${declared} bytes (limit ${opts.maxBytes})`),
        );
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes)
          return finish(new FetchError('too-large', `${u.host} sent more than ${opts.maxBytes} bytes`));
        chunks.push(c);
      });
      res.on('end', () => finish(undefined, new Uint8Array(Buffer.concat(chunks))));
      res.on('error', (e) => finish(new FetchError('network', `${u.host}: ${e.message}`)));
    });
    const timer = setTimeout(
      () => finish(new FetchError('timeout', `${u.host} did not answer within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    req.on('error', (e) =>
      finish(new FetchError('network', `${u.host}: ${(e as { code?: string }).code ?? e.message}`)),
    );
    req.end(opts.body ? Buffer.from(opts.body) : undefined);
  });
