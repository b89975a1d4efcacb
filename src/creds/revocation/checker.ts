// Revocation of the peer's certificate path (RFC 5280 §6.3, RFC 6960), after the path and the AUTH
// signature verified, so only certificates our CAs issued can make us fetch anything. For each
// certificate below the trust anchor, in order: configured CRL files, an OCSP responder (configured,
// else the certificate's authorityInfoAccess), the CRLs at its cRLDistributionPoints. The first
// definite answer (good or revoked) wins. Policy per connection:
//   strict:      every certificate needs a definite "good"; no answer fails AUTH.
//   best-effort: only a definite "revoked" fails AUTH.
//   off:         nothing is checked.
// Answers are cached until their nextUpdate in bounded LRU maps; a source that failed is not asked
// again for `failureHoldMs` (an unreachable responder costs one timeout, not one per IKE_AUTH); one
// fetch per source is in flight at a time, shared by every SA that waits for it.
import { randomBytes } from 'node:crypto';
import type { CounterName } from '../../base/counters.ts';
import type { Logger } from '../../base/logger.ts';
import { CredsError, fail } from '../errors.ts';
import type { Certificate } from '../x509.ts';
import { ExpiringLru } from './cache.ts';
import { crlLookup, crlSignedBy, describeEntry, parseCrl, type Crl } from './crl.ts';
import { FetchError, httpFetch, type Fetcher } from './fetch.ts';
import { buildOcspRequest, certId, checkOcspResponse, NONCE_LEN, OCSP_SKEW_MS } from './ocsp.ts';
import { reasonName } from './reasons.ts';

export type RevocationMode = 'strict' | 'best-effort' | 'off';

export interface RevocationPolicy {
  readonly mode: RevocationMode;
  /** CRLs from files (parsed): consulted first, for the certificates of the CA that signed each. */
  readonly crls?: readonly Crl[];
  /** Ask this OCSP responder instead of the one in the certificate's authorityInfoAccess. */
  readonly ocspUrl?: string;
  /** RFC 6960 Appendix A.1: POST (default) or GET with the base64 request in the path. */
  readonly ocspMethod?: 'post' | 'get';
  /** Fetch from the certificates' distribution points and AIA responders (default true). */
  readonly fetch?: boolean;
  /** Deadline for one HTTP fetch (default 5000 ms). */
  readonly timeoutMs?: number;
}

export interface Verdict {
  readonly status: 'good' | 'revoked' | 'unknown';
  /** "OCSP http://...", "CRL http://...", "CRL file"; for unknown, what was tried. */
  readonly source: string;
  /** For revoked: the reason and date; for unknown: why each source gave no answer. */
  readonly detail: string;
}

export interface CheckerOptions {
  readonly fetcher?: Fetcher;
  readonly clock?: () => Date;
  readonly counters?: { inc(name: CounterName): void };
  /** Where a best-effort pass without an answer is noted (warn). */
  readonly logger?: Logger;
  /** Largest CRL or OCSP response read (default 4 MiB). */
  readonly maxBytes?: number;
  /** OCSP answers kept (default 4096) and CRLs kept (default 32). */
  readonly ocspEntries?: number;
  readonly crlEntries?: number;
  /** How long a failed source is left alone (default 30 s). */
  readonly failureHoldMs?: number;
  /** Longest time any answer is cached, whatever its nextUpdate says (default 24 h). */
  readonly maxCacheMs?: number;
  readonly random?: (n: number) => Uint8Array;
}

type Answer =
  { readonly status: 'good' | 'unknown' } | { readonly status: 'revoked'; readonly detail: string };

/** A source gave no usable answer; `message` says why (already counted). */
class SourceFailed extends Error {}

const failedWhy = (e: unknown): string => {
  if (e instanceof SourceFailed) return e.message;
  throw e;
};

const DEFAULT_TIMEOUT_MS = 5000;
const HOUR = 3_600_000;

export class RevocationChecker {
  readonly #fetch: Fetcher;
  readonly #clock: () => Date;
  readonly #count: (name: CounterName) => void;
  readonly #logger: Logger | undefined;
  readonly #maxBytes: number;
  readonly #holdMs: number;
  readonly #maxCacheMs: number;
  readonly #random: (n: number) => Uint8Array;
  readonly #ocsp: ExpiringLru<Answer>;
  readonly #crls: ExpiringLru<Crl>;
  /** Sources that failed recently: key -> the error, until the hold ends. */
  readonly #failed = new ExpiringLru<string>(256);
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(opts: CheckerOptions = {}) {
    this.#fetch = opts.fetcher ?? httpFetch;
    this.#clock = opts.clock ?? (() => new Date());
    this.#count = (n) => opts.counters?.inc(n);
    this.#logger = opts.logger;
    this.#maxBytes = opts.maxBytes ?? 4 << 20;
    this.#holdMs = opts.failureHoldMs ?? 30_000;
    this.#maxCacheMs = opts.maxCacheMs ?? 24 * HOUR;
    this.#random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#ocsp = new ExpiringLru(opts.ocspEntries ?? 4096);
    this.#crls = new ExpiringLru(opts.crlEntries ?? 32);
  }

  /**
   * Checks every certificate of a validated `path` (peer first, trust anchor last) except the anchor.
   * Throws CredsError CERT_REVOKED, or REVOCATION_UNKNOWN when strict and a certificate has no answer.
   * A path of one certificate (a configured peer certificate, trusted as it is) is not checked.
   */
  async checkPath(path: readonly Certificate[], policy: RevocationPolicy): Promise<void> {
    if (policy.mode === 'off') return;
    for (let k = 0; k + 1 < path.length; k++) {
      const cert = path[k]!;
      const issuer = path[k + 1]!;
      const v = await this.status(cert, issuer, policy);
      const who = `"${cert.subjectText}" serial ${cert.serialHex} issuer "${issuer.subjectText}"`;
      if (v.status === 'revoked') {
        this.#count('creds.revocation_revoked');
        fail('CERT_REVOKED', `${who} is revoked: ${v.detail} (source: ${v.source})`);
      }
      if (v.status === 'good') {
        this.#count('creds.revocation_good');
        continue;
      }
      this.#count('creds.revocation_unknown');
      if (policy.mode === 'strict') {
        this.#count('creds.revocation_refused');
        fail('REVOCATION_UNKNOWN', `no revocation answer for ${who} (strict): ${v.detail}`);
      }
      this.#logger?.log('warn', 'revocation status unknown, accepted (best-effort)', {
        certificate: who,
        why: v.detail,
      });
    }
  }

  /** The revocation status of `cert` issued by `issuer`, from the first source with a definite answer. */
  async status(cert: Certificate, issuer: Certificate, policy: RevocationPolicy): Promise<Verdict> {
    const tried: string[] = [];
    const now = this.#clock();
    for (const crl of policy.crls ?? []) {
      if (!crlSignedBy(crl, issuer)) continue;
      if (crl.nextUpdate !== undefined && now.getTime() > crl.nextUpdate.getTime() + OCSP_SKEW_MS) {
        tried.push(`CRL file of "${crl.issuerText}" is stale (nextUpdate ${crl.nextUpdate.toISOString()})`);
        continue;
      }
      const e = crlLookup(crl, cert);
      return e
        ? { status: 'revoked', source: 'CRL file', detail: describeEntry(e) }
        : { status: 'good', source: 'CRL file', detail: '' };
    }
    const fetch = policy.fetch !== false;
    const ocspUrl =
      policy.ocspUrl ?? (fetch ? cert.ocspUrls.find((u) => u.startsWith('http://')) : undefined);
    if (ocspUrl !== undefined) {
      const a = await this.#ocspAnswer(ocspUrl, cert, issuer, policy, tried);
      if (a !== undefined && a.status !== 'unknown') return this.#verdict(a, `OCSP ${ocspUrl}`);
    }
    if (fetch) {
      for (const url of cert.crlUrls.filter((u) => u.startsWith('http://')).slice(0, 2)) {
        const crl = await this.#crl(url, issuer, policy, tried);
        if (crl === undefined) continue;
        const e = crlLookup(crl, cert);
        return e
          ? { status: 'revoked', source: `CRL ${url}`, detail: describeEntry(e) }
          : { status: 'good', source: `CRL ${url}`, detail: '' };
      }
    }
    if (tried.length === 0) tried.push('no CRL or OCSP source for this certificate');
    return { status: 'unknown', source: 'none', detail: tried.join('; ') };
  }

  #verdict(a: Answer, source: string): Verdict {
    return a.status === 'revoked'
      ? { status: 'revoked', source, detail: a.detail }
      : { status: a.status, source, detail: '' };
  }

  async #ocspAnswer(
    url: string,
    cert: Certificate,
    issuer: Certificate,
    policy: RevocationPolicy,
    tried: string[],
  ): Promise<Answer | undefined> {
    const key = `${url} ${Buffer.from(certId(cert, issuer)).toString('hex')}`;
    const now = this.#clock().getTime();
    const cached = this.#ocsp.get(key, now);
    if (cached !== undefined) {
      this.#count('creds.revocation_cache_hit');
      if (cached.status === 'unknown') tried.push(`OCSP ${url}: certificate unknown to the responder`);
      return cached;
    }
    const held = this.#failed.get(`ocsp ${url}`, now);
    if (held !== undefined) {
      tried.push(`OCSP ${url}: ${held} (not retried yet)`);
      return undefined;
    }
    try {
      return await this.#once(key, 'ocsp', async () => {
        const nonce = this.#random(NONCE_LEN);
        const req = buildOcspRequest(cert, issuer, nonce);
        this.#count('creds.ocsp_requests');
        const get = policy.ocspMethod === 'get';
        const target = get
          ? `${url.replace(/\/$/, '')}/${encodeURIComponent(Buffer.from(req).toString('base64'))}`
          : url;
        const body = await this.#get(target, policy, {
          ...(get ? {} : { method: 'POST' as const, body: req, contentType: 'application/ocsp-request' }),
          accept: 'application/ocsp-response',
        });
        const at = this.#clock();
        const r = checkOcspResponse(body, cert, issuer, nonce, at);
        if (!r.nonceEchoed) this.#count('creds.ocsp_no_nonce');
        const answer: Answer =
          r.status === 'revoked'
            ? { status: 'revoked', detail: `${reasonName(r.reason)} since ${r.date.toISOString()}` }
            : { status: r.status };
        const until = r.nextUpdate?.getTime() ?? r.thisUpdate.getTime() + OCSP_SKEW_MS;
        this.#ocsp.set(key, answer, Math.min(until, at.getTime() + this.#maxCacheMs));
        if (answer.status === 'unknown') tried.push(`OCSP ${url}: certificate unknown to the responder`);
        return answer;
      });
    } catch (e) {
      const why = failedWhy(e);
      this.#failed.set(`ocsp ${url}`, why, this.#clock().getTime() + this.#holdMs);
      tried.push(`OCSP ${url}: ${why}`);
      return undefined;
    }
  }

  async #crl(
    url: string,
    issuer: Certificate,
    policy: RevocationPolicy,
    tried: string[],
  ): Promise<Crl | undefined> {
    const now = this.#clock().getTime();
    const cached = this.#crls.get(url, now);
    if (cached !== undefined && crlSignedBy(cached, issuer)) {
      this.#count('creds.revocation_cache_hit');
      return cached;
    }
    const held = this.#failed.get(`crl ${url}`, now);
    if (held !== undefined) {
      tried.push(`CRL ${url}: ${held} (not retried yet)`);
      return undefined;
    }
    try {
      return await this.#once(`crl ${url}`, 'crl', async () => {
        this.#count('creds.crl_fetches');
        const crl = parseCrl(await this.#get(url, policy, { accept: 'application/pkix-crl' }));
        if (!crlSignedBy(crl, issuer))
          fail('CERT_UNTRUSTED', `CRL of "${crl.issuerText}" is not signed by "${issuer.subjectText}"`);
        const at = this.#clock().getTime();
        const next = crl.nextUpdate?.getTime() ?? at + HOUR;
        if (next + OCSP_SKEW_MS < at)
          fail('CERT_EXPIRED', `stale CRL (nextUpdate ${crl.nextUpdate!.toISOString()})`);
        this.#crls.set(url, crl, Math.min(next, at + this.#maxCacheMs));
        return crl;
      });
    } catch (e) {
      const why = failedWhy(e);
      this.#failed.set(`crl ${url}`, why, this.#clock().getTime() + this.#holdMs);
      tried.push(`CRL ${url}: ${why}`);
      return undefined;
    }
  }

  #get(
    url: string,
    policy: RevocationPolicy,
    o: { method?: 'POST'; body?: Uint8Array; contentType?: string; accept: string },
  ): Promise<Uint8Array> {
    return this.#fetch(url, {
      ...o,
      timeoutMs: policy.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxBytes: this.#maxBytes,
    });
  }

  /** Counts a failed source and wraps the reason for the log (no secrets in any of them). */
  #failure(e: unknown, what: 'ocsp' | 'crl'): SourceFailed {
    if (e instanceof FetchError) {
      this.#count(
        e.kind === 'timeout'
          ? 'creds.fetch_timeout'
          : e.kind === 'too-large'
            ? 'creds.fetch_too_large'
            : 'creds.fetch_failed',
      );
      return new SourceFailed(e.message);
    }
    if (e instanceof CredsError) {
      this.#count(what === 'ocsp' ? 'creds.ocsp_bad_response' : 'creds.crl_bad');
      return new SourceFailed(e.message);
    }
    throw e;
  }

  /**
   * One promise per key while it runs: concurrent IKE_AUTHs wait for the same fetch, and its failure
   * is counted once.
   */
  #once<T>(key: string, what: 'ocsp' | 'crl', run: () => Promise<T>): Promise<T> {
    const running = this.#inflight.get(key);
    if (running !== undefined) return running as Promise<T>;
    const p = run()
      .catch((e: unknown) => {
        throw this.#failure(e, what);
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }
}
