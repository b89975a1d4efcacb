// Revocation in memory (RFC 5280 §5-§6.3, RFC 6960, RFC 8954): every decision path of the checker
// with CRLs and OCSP responses made by the openssl CLI (`openssl ca -gencrl`, `openssl ocsp -reqin`),
// served by an injected fetcher: good, revoked (with serial, issuer, reason and source in the
// error), unknown under strict and best-effort, caching until nextUpdate, a failed source held off,
// and bad input (malformed, wrongly signed, replayed nonce, stale, timeout, oversized) counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../../src/base/counters.ts';
import {
  CredsError,
  FetchError,
  RevocationChecker,
  loadCertificate,
  parseCrl,
  type Fetcher,
  type FetchOptions,
  type RevocationPolicy,
} from '../../src/creds/index.ts';
import { buildOcspRequest, checkOcspResponse } from '../../src/creds/revocation/ocsp.ts';
import { makeRevocationPki, type RevPki } from './revocation-pki.ts';
import { throwsCode } from './util.ts';

const OCSP = 'http://ocsp.test/';
const CRL = 'http://crl.test/ca.crl';
let pki: RevPki;
before(() => {
  pki = makeRevocationPki({ ocspUrl: OCSP, crlUrl: CRL });
});
after(() => pki?.cleanup());

const cert = (c: { certPem: string }) => loadCertificate(c.certPem);

interface Served {
  readonly fetcher: Fetcher;
  readonly calls: { url: string; opts: FetchOptions }[];
}
/** A fetcher answering OCSP with `ocsp(req)` and CRL URLs with `crl()`; either may throw. */
function serve(h: { ocsp?: (req: Uint8Array) => Uint8Array; crl?: () => Uint8Array }): Served {
  const calls: Served['calls'] = [];
  const fetcher: Fetcher = async (url, opts) => {
    calls.push({ url, opts });
    if (url.startsWith(OCSP) && h.ocsp) return h.ocsp(opts.body!);
    if (url === CRL && h.crl) return h.crl();
    throw new FetchError('network', 'ECONNREFUSED');
  };
  return { fetcher, calls };
}

function checker(s: Served, now = () => new Date()) {
  const counters = new Counters();
  return { counters, c: new RevocationChecker({ fetcher: s.fetcher, clock: now, counters }) };
}

const path = (c: { certPem: string }) => [cert(c), cert(pki.ca)];
const strict: RevocationPolicy = { mode: 'strict' };
const bestEffort: RevocationPolicy = { mode: 'best-effort' };

async function rejectsCode(p: Promise<unknown>, code: string, re?: RegExp): Promise<CredsError> {
  let got: CredsError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CredsError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    got = e;
    return true;
  });
  return got!;
}

describe('certificate extensions for revocation (RFC 5280 §4.2.1.13, §4.2.2.1)', () => {
  test('AIA OCSP URL, CDP URL and serial are read', () => {
    const g = cert(pki.good);
    assert.deepEqual(g.ocspUrls, [OCSP]);
    assert.deepEqual(g.crlUrls, [CRL]);
    assert.equal(g.serialHex.toUpperCase(), pki.good.serial);
    assert.deepEqual(cert(pki.bare).crlUrls, []);
  });
});

describe('OCSP (RFC 6960)', () => {
  test('openssl answers our request: good, and revoked with reason keyCompromise', async () => {
    const s = serve({ ocsp: (r) => pki.ocspRespond(r) });
    const { c, counters } = checker(s);
    await c.checkPath(path(pki.good), strict);
    assert.equal(counters.get('creds.revocation_good'), 1);
    assert.equal(s.calls[0]!.opts.method, 'POST');
    const e = await rejectsCode(c.checkPath(path(pki.revoked), bestEffort), 'CERT_REVOKED');
    // The log line names the serial, issuer, reason and source.
    assert.match(e.message, new RegExp(`serial ${pki.revoked.serial.toLowerCase()}`));
    assert.match(e.message, /issuer "O=ikeway revocation, CN=Revocation CA"|issuer ".*Revocation CA"/);
    assert.match(e.message, /keyCompromise/);
    assert.match(e.message, /source: OCSP http:\/\/ocsp\.test\//);
    assert.equal(counters.get('creds.revocation_revoked'), 1);
    assert.equal(counters.get('creds.ocsp_requests'), 2);
  });

  test('a response signed by the CA itself is accepted; by an unrelated key it is not', async () => {
    const byCa = checker(serve({ ocsp: (r) => pki.ocspRespond(r, { signer: 'ca' }) }));
    await byCa.c.checkPath(path(pki.good), strict);
    const byOther = checker(serve({ ocsp: (r) => pki.ocspRespond(r, { signer: 'other' }) }));
    await rejectsCode(
      byOther.c.checkPath(path(pki.good), strict),
      'REVOCATION_UNKNOWN',
      /responder ID|certified/,
    );
    assert.equal(byOther.counters.get('creds.ocsp_bad_response'), 1);
    // best-effort: no definite answer is not a failure
    const be = checker(serve({ ocsp: (r) => pki.ocspRespond(r, { signer: 'other' }) }));
    await be.c.checkPath(path(pki.revoked), { mode: 'best-effort', fetch: true, crls: [] });
    assert.equal(be.counters.get('creds.revocation_unknown'), 1);
  });

  test('a replayed response (another request\u2019s nonce) is refused', async () => {
    const g = cert(pki.good);
    const ca = cert(pki.ca);
    const old = pki.ocspRespond(buildOcspRequest(g, ca, new Uint8Array(16).fill(7)));
    throwsCode(
      () => checkOcspResponse(old, g, ca, new Uint8Array(16).fill(8), new Date()),
      'CERT_UNTRUSTED',
      /nonce/,
    );
    const s = serve({ ocsp: () => old });
    const { c, counters } = checker(s);
    await rejectsCode(c.checkPath(path(pki.good), strict), 'REVOCATION_UNKNOWN', /nonce is not ours/);
    assert.equal(counters.get('creds.ocsp_bad_response'), 1);
  });

  test('stale (past nextUpdate) and future responses are refused', () => {
    const g = cert(pki.good);
    const ca = cert(pki.ca);
    const n = new Uint8Array(16).fill(1);
    const resp = pki.ocspRespond(buildOcspRequest(g, ca, n), { nextUpdateMin: 10, signer: 'ca' });
    assert.equal(checkOcspResponse(resp, g, ca, n, new Date()).status, 'good');
    throwsCode(
      () => checkOcspResponse(resp, g, ca, n, new Date(Date.now() + 3_600_000)),
      'CERT_EXPIRED',
      /stale/,
    );
    throwsCode(
      () => checkOcspResponse(resp, g, ca, n, new Date(Date.now() - 3_600_000)),
      'CERT_EXPIRED',
      /future/,
    );
  });

  test('a response for another certificate is no answer', () => {
    const n = new Uint8Array(16).fill(2);
    const resp = pki.ocspRespond(buildOcspRequest(cert(pki.good), cert(pki.ca), n));
    throwsCode(
      () => checkOcspResponse(resp, cert(pki.revoked), cert(pki.ca), n, new Date()),
      'CERT_UNTRUSTED',
      /asked about/,
    );
  });

  test('malformed responses: truncated, bit-flipped, not DER, error status', async () => {
    const g = cert(pki.good);
    const ca = cert(pki.ca);
    const n = new Uint8Array(16).fill(3);
    const resp = pki.ocspRespond(buildOcspRequest(g, ca, n));
    throwsCode(
      () => checkOcspResponse(resp.subarray(0, resp.length - 5), g, ca, n, new Date()),
      'MALFORMED',
      /^MALFORMED: OCSP/,
    );
    throwsCode(
      () => checkOcspResponse(new TextEncoder().encode('<html>oops</html>'), g, ca, n, new Date()),
      'MALFORMED',
    );
    const flipped = Uint8Array.from(resp);
    flipped[flipped.length - 10]! ^= 0x01; // inside the signature
    assert.throws(() => checkOcspResponse(flipped, g, ca, n, new Date()), CredsError);
    // OCSPResponse { responseStatus tryLater(3) }
    throwsCode(
      () => checkOcspResponse(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x03), g, ca, n, new Date()),
      'CERT_UNTRUSTED',
      /tryLater/,
    );
    const { c, counters } = checker(serve({ ocsp: () => resp.subarray(0, 40) }));
    await c.checkPath(path(pki.good), bestEffort); // best-effort: no answer passes
    assert.equal(counters.get('creds.ocsp_bad_response'), 1);
    assert.equal(counters.get('creds.revocation_unknown'), 1);
  });

  test('answers are cached until nextUpdate; a failed responder is held off', async () => {
    let t = Date.now();
    const s = serve({ ocsp: (r) => pki.ocspRespond(r, { nextUpdateMin: 10 }) });
    const { c, counters } = checker(s, () => new Date(t));
    await c.checkPath(path(pki.good), strict);
    await c.checkPath(path(pki.good), strict);
    assert.equal(counters.get('creds.ocsp_requests'), 1);
    assert.equal(counters.get('creds.revocation_cache_hit'), 1);
    t += 11 * 60_000; // past nextUpdate: asked again
    await c.checkPath(path(pki.good), strict);
    assert.equal(counters.get('creds.ocsp_requests'), 2);

    const dead = serve({});
    const d = checker(dead, () => new Date(t));
    await rejectsCode(
      d.c.checkPath(path(pki.good), { mode: 'strict', fetch: true }),
      'REVOCATION_UNKNOWN',
      /ECONNREFUSED/,
    );
    const before = dead.calls.length;
    await rejectsCode(d.c.checkPath(path(pki.good), strict), 'REVOCATION_UNKNOWN', /not retried yet/);
    assert.equal(dead.calls.length, before, 'a failed source is not asked again during the hold');
    assert.equal(d.counters.get('creds.fetch_failed'), 2); // OCSP and CRL, once each
  });

  test('concurrent checks share one request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const fetcher: Fetcher = async (_u, o) => {
      n++;
      await gate;
      return pki.ocspRespond(o.body!);
    };
    const c = new RevocationChecker({ fetcher });
    const all = Promise.all([1, 2, 3].map(() => c.checkPath(path(pki.good), strict)));
    release();
    await all;
    assert.equal(n, 1);
  });

  test('GET puts the base64 request in the URL (RFC 6960 A.1)', async () => {
    const calls: string[] = [];
    const fetcher: Fetcher = async (url) => {
      calls.push(url);
      const b64 = decodeURIComponent(url.slice(OCSP.length));
      return pki.ocspRespond(Buffer.from(b64, 'base64'));
    };
    await new RevocationChecker({ fetcher }).checkPath(path(pki.good), { mode: 'strict', ocspMethod: 'get' });
    assert.equal(calls.length, 1);
    assert.ok(calls[0]!.startsWith(OCSP) && calls[0]!.length > OCSP.length + 40);
  });
});

describe('CRL (RFC 5280 §5)', () => {
  test('parse: issuer, nextUpdate, the revoked serial with its reason', () => {
    const crl = parseCrl(pki.crl());
    assert.match(crl.issuerText, /Revocation CA/);
    assert.ok(crl.nextUpdate && crl.nextUpdate > crl.thisUpdate);
    assert.deepEqual([...crl.revoked.keys()], [pki.revoked.serial.toLowerCase()]);
    assert.equal(crl.revoked.get(pki.revoked.serial.toLowerCase())!.reason, 1);
  });

  test('fetched from the distribution point when OCSP gives no answer', async () => {
    const s = serve({ crl: () => pki.crl() }); // OCSP refuses connections
    const { c, counters } = checker(s);
    await c.checkPath(path(pki.good), strict);
    const e = await rejectsCode(
      c.checkPath(path(pki.revoked), strict),
      'CERT_REVOKED',
      /source: CRL http:\/\/crl\.test/,
    );
    assert.match(e.message, /keyCompromise since 2024-01-01/);
    assert.equal(counters.get('creds.crl_fetches'), 1, 'the CRL is cached for the second certificate');
    assert.equal(counters.get('creds.revocation_cache_hit'), 1);
  });

  test('a CRL file is used first, without fetching', async () => {
    const s = serve({});
    const { c } = checker(s);
    const crls = [parseCrl(pki.crl())];
    await c.checkPath(path(pki.good), { mode: 'strict', crls });
    await rejectsCode(
      c.checkPath(path(pki.revoked), { mode: 'strict', crls }),
      'CERT_REVOKED',
      /source: CRL file/,
    );
    assert.equal(s.calls.length, 0);
  });

  test('a CRL signed by another CA, a stale CRL, a malformed CRL: no answer, counted', async () => {
    const other = parseCrl(pki.crl({ signer: 'other' }));
    const s0 = serve({});
    // a foreign CRL file is not applied; nothing else answers
    await rejectsCode(
      checker(s0).c.checkPath(path(pki.bare), { mode: 'strict', crls: [other] }),
      'REVOCATION_UNKNOWN',
    );
    const foreign = checker(serve({ crl: () => pki.crl({ signer: 'other' }) }));
    await rejectsCode(foreign.c.checkPath(path(pki.revoked), strict), 'REVOCATION_UNKNOWN', /not signed by/);
    assert.equal(foreign.counters.get('creds.crl_bad'), 1);
    const der = pki.crl({ crlHours: 1 });
    const late = checker(serve({ crl: () => der }), () => new Date(Date.now() + 3 * 3_600_000));
    await rejectsCode(late.c.checkPath(path(pki.revoked), strict), 'REVOCATION_UNKNOWN', /stale CRL/);
    const bad = checker(serve({ crl: () => der.subarray(0, der.length - 1) }));
    await rejectsCode(bad.c.checkPath(path(pki.revoked), strict), 'REVOCATION_UNKNOWN', /CRL: /);
    assert.equal(bad.counters.get('creds.crl_bad'), 1);
    throwsCode(
      () => parseCrl(new TextEncoder().encode('-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----')),
      'MALFORMED',
    );
  });
});

describe('policy', () => {
  test('off checks nothing; a certificate with no source: strict refuses, best-effort accepts', async () => {
    const s = serve({ ocsp: () => assert.fail('not asked') });
    const { c, counters } = checker(s);
    await c.checkPath(path(pki.revoked), { mode: 'off' });
    assert.equal(s.calls.length, 0);
    await rejectsCode(c.checkPath(path(pki.bare), strict), 'REVOCATION_UNKNOWN', /no CRL or OCSP source/);
    await c.checkPath(path(pki.bare), bestEffort);
    assert.equal(counters.get('creds.revocation_unknown'), 2);
    assert.equal(counters.get('creds.revocation_refused'), 1);
  });

  test('a configured OCSP URL replaces the AIA; fetch: false asks only configured sources', async () => {
    const calls: string[] = [];
    const fetcher: Fetcher = async (url, o) => {
      calls.push(url);
      return pki.ocspRespond(o.body!);
    };
    const c = new RevocationChecker({ fetcher });
    await c.checkPath(path(pki.bare), { mode: 'strict', ocspUrl: 'http://configured.test/' });
    assert.deepEqual(calls, ['http://configured.test/']);
    await rejectsCode(c.checkPath(path(pki.good), { mode: 'strict', fetch: false }), 'REVOCATION_UNKNOWN');
    assert.equal(calls.length, 1);
  });

  test('timeouts and oversized answers are counted as such', async () => {
    const timeout = checker({
      fetcher: async () => Promise.reject(new FetchError('timeout', 'slow')),
      calls: [],
    });
    await rejectsCode(timeout.c.checkPath(path(pki.good), strict), 'REVOCATION_UNKNOWN', /slow/);
    assert.equal(timeout.counters.get('creds.fetch_timeout'), 2);
    const big = checker({
      fetcher: async () => Promise.reject(new FetchError('too-large', 'big')),
      calls: [],
    });
    await big.c.checkPath(path(pki.good), bestEffort);
    assert.equal(big.counters.get('creds.fetch_too_large'), 2);
  });
});
