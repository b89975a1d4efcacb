// Revocation lab in host network namespaces (IKE only: both daemons run with the in-memory kernel, no
// ESP). Three namespaces on one bridge: A (192.0.2.1) initiates with a certificate, B (192.0.2.2)
// checks it, P (192.0.2.3) is the PKI: a real `openssl ocsp` responder on :2560 and a small node HTTP
// server on :8080 (the CRL at /ca.crl, a GET-only front of the openssl responder, a recorded response
// replayed, a responder that hangs, one that sends 8 MiB, one that sends junk). Each scenario starts
// B and A with its own policy and reads B's verdict from its log and counters: a revoked certificate
// refused (OCSP by POST and by GET, CRL over HTTP, CRL file), a good one accepted with openssl's
// echoed nonce, a reconnecting peer answered from the cache (nextUpdate 5 min), a replayed response
// (another nonce) refused, an unreachable responder handled as configured (strict refuses,
// best-effort accepts), and a hanging, huge or malformed answer counted with a precise reason while
// B stays up.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundledCli } from '../../lab/guest/bundle.ts';
import { makeRevocationPki, type RevPki } from '../creds/revocation-pki.ts';
import { Lab, cli, isRoot, ROOT, type Daemon } from './lab.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';
const P = '192.0.2.3';
const OCSP_URL = `http://${P}:2560/`;
const HTTP = `http://${P}:8080`;
const LIFETIME_S = 600; // the PKI servers exit by themselves after this

let lab: Lab;
let pki: RevPki;
/** The bundled CLI: a daemon starts in about a second instead of several through tsx. */
let bin: string;
const servers: ChildProcess[] = [];

function config(addr: string, conn: string, global = ''): string {
  return (
    `log: { level: debug, format: text }\ncontrol-socket: ./ctl.sock\nstate-dir: ./state\n` +
    `retransmit: { timeout: 1s, tries: 3, base: 1.5 }\n${global}local: { address: ${addr} }\n` +
    `connections:\n  gw:\n${conn}`
  );
}

const certAuth = (name: string, extra = '') =>
  `    auth: { cert: { cert: ${pki.dir}/${name}.pem, key: ${pki.dir}/${name}.key, ca: ${pki.dir}/ca.pem${extra} } }\n`;

interface Outcome {
  readonly established: boolean;
  readonly log: string;
  readonly counters: Record<string, number>;
}

/**
 * B (responder, checks revocation with `rev`) and A (initiator holding `cert`); B's verdict. With
 * `reconnect`, A is stopped after the first verdict and started again, so B checks the same
 * certificate a second time while its cached answer is still valid.
 */
async function scenario(cert: 'good' | 'revoked', rev: string, reconnect = false): Promise<Outcome> {
  const host = `${cert}.example.com`;
  lab.writeConfig(
    1,
    config(
      B,
      `    remote: ${A}\n${certAuth('good', `, ${rev}`)}    local-id: good.example.com\n` +
        `    remote-id: ${host}\n    local-subnets: [10.2.0.0/24]\n    remote-subnets: [10.1.0.0/24]\n` +
        `    start: wait\n    liveness: false\n`,
    ),
  );
  lab.writeConfig(
    0,
    config(
      A,
      `    remote: ${B}\n${certAuth(cert)}    local-id: ${host}\n    remote-id: good.example.com\n` +
        `    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.2.0.0/24]\n    start: now\n    liveness: false\n`,
    ),
  );
  const procs: Daemon[] = [];
  try {
    // One after the other: two daemons starting at once on a loaded machine can miss the lab's
    // 20 s start deadline.
    const b = await lab.startDaemon(1, 'memory', [], { bin });
    procs.push(b);
    const a = await lab.startDaemon(0, 'memory', [], { bin });
    procs.push(a);
    await b.waitFor(/IKE SA established|peer authentication failed/, 30_000);
    if (reconnect) {
      const from = b.log.length;
      await stop(a);
      procs.push(await lab.startDaemon(0, 'memory', [], { bin }));
      await b.waitFor(/IKE SA established|peer authentication failed/, 30_000, from);
    }
    const status = JSON.parse(cli(['status', '-s', lab.side(1).socket, '--json']).stdout) as {
      counters: Record<string, number>;
    };
    return { established: /IKE SA established/.test(b.log), log: b.log, counters: status.counters };
  } finally {
    for (const d of procs) await stop(d);
  }
}

async function stop(d: Daemon): Promise<void> {
  d.proc.kill('SIGTERM');
  await Promise.race([d.exited, new Promise((r) => setTimeout(r, 5000))]);
  d.proc.kill('SIGKILL');
}

describe(
  'revocation against openssl ocsp and an HTTP CRL in namespaces',
  { skip: !isRoot && 'needs root (network namespaces)' },
  () => {
    before(async () => {
      bin = await bundledCli();
      pki = makeRevocationPki({ ocspUrl: OCSP_URL, crlUrl: `${HTTP}/ca.crl` });
      for (const n of ['good', 'revoked', 'ca']) chmodSync(join(pki.dir, `${n}.key`), 0o600);
      pki.crl(); // writes crl.pem next to the index
      // A real response to a request with another nonce, for the replay scenario (/replay).
      execFileSync(
        'openssl',
        ['ocsp', '-issuer', 'ca.pem', '-cert', 'good.pem', '-reqout', 'replay-req.der'],
        { cwd: pki.dir, stdio: 'pipe' },
      );
      writeFileSync(
        join(pki.dir, 'replay.der'),
        pki.ocspRespond(readFileSync(join(pki.dir, 'replay-req.der'))),
      );
      lab = new Lab([A, B, P]);
      const ns = lab.side(2).ns;
      const ocsp = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'openssl',
          'ocsp',
          '-index',
          'index.txt',
          '-port',
          '2560',
          '-rsigner',
          'responder.pem',
          '-rkey',
          'responder.key',
          '-CA',
          'ca.pem',
          '-nmin',
          '5',
          '-ignore_err',
        ],
        { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const http = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          join(ROOT, 'lab/revocation/http-server.mjs'),
          P,
          '8080',
          join(pki.dir, 'crl.pem'),
          String(LIFETIME_S),
          '2560',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      servers.push(ocsp, http);
      // openssl ocsp has no lifetime option: it is killed in after(), and by the namespace's removal.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('PKI HTTP server did not start')), 10_000);
        http.stdout!.on(
          'data',
          (d: Buffer) => /listening/.test(d.toString()) && (clearTimeout(t), resolve()),
        );
      });
    });
    after(() => {
      for (const s of servers) s.kill('SIGKILL');
      lab?.close();
      pki?.cleanup();
    });

    test('OCSP, strict: the good certificate is accepted', async () => {
      const o = await scenario('good', 'revocation: strict');
      assert.ok(o.established, o.log);
      assert.equal(o.counters['creds.revocation_good'], 1);
      assert.equal(o.counters['creds.ocsp_requests'], 1);
      // openssl echoed our nonce (RFC 8954), and it matched: a wrong one fails the answer.
      assert.equal(o.counters['creds.ocsp_no_nonce'] ?? 0, 0);
      assert.equal(o.counters['creds.ocsp_bad_response'] ?? 0, 0);
      assert.equal(o.counters['creds.crl_fetches'] ?? 0, 0, 'the answer came from OCSP, not the CRL');
    });

    test('OCSP by GET (RFC 6960 A.1), strict: good accepted; the peer reconnects: answered from the cache', async () => {
      // Through /get-only/, which passes GET requests to openssl and answers any other method 405.
      const o = await scenario(
        'good',
        `revocation: strict, revocation-fetch: false, ocsp-method: get, ocsp-responder: "${HTTP}/get-only/"`,
        true,
      );
      assert.ok(o.established, o.log);
      assert.equal(o.counters['creds.revocation_good'], 2, 'both IKE_AUTHs checked the certificate');
      assert.equal(
        o.counters['creds.ocsp_requests'],
        1,
        'one request: the second answer came from the cache',
      );
      assert.equal(o.counters['creds.revocation_cache_hit'], 1);
      assert.equal(o.counters['creds.ocsp_no_nonce'] ?? 0, 0);
      assert.equal(o.counters['creds.ocsp_bad_response'] ?? 0, 0, 'openssl understood the GET request');
      assert.equal(o.counters['creds.fetch_failed'] ?? 0, 0, 'no 405: the request went by GET');
      assert.equal(o.counters['creds.crl_fetches'] ?? 0, 0, 'the answer came from OCSP alone');
    });

    test('OCSP by GET, strict: the revoked certificate is refused', async () => {
      const o = await scenario(
        'revoked',
        `revocation: strict, revocation-fetch: false, ocsp-method: get, ocsp-responder: "${HTTP}/get-only/"`,
      );
      assert.equal(o.established, false);
      assert.match(o.log, new RegExp(`CERT_REVOKED: .*keyCompromise.*source: OCSP ${HTTP}/get-only/`));
      assert.equal(o.counters['creds.ocsp_requests'], 1);
    });

    test("a replayed openssl response (another request's nonce) is no answer: strict refuses", async () => {
      const o = await scenario(
        'good',
        `revocation: strict, revocation-fetch: false, ocsp-responder: "${HTTP}/replay"`,
      );
      assert.equal(o.established, false);
      assert.match(o.log, /REVOCATION_UNKNOWN: .*the response nonce is not ours/);
      assert.equal(o.counters['creds.ocsp_bad_response'], 1);
    });

    test('OCSP, best-effort: the revoked certificate is refused with serial, issuer, reason and source', async () => {
      const o = await scenario('revoked', 'revocation: best-effort');
      assert.equal(o.established, false);
      assert.match(
        o.log,
        new RegExp(
          `CERT_REVOKED: .*serial ${pki.revoked.serial.toLowerCase()} issuer .*Revocation CA.*keyCompromise.*source: OCSP ${OCSP_URL}`,
        ),
      );
      assert.ok(o.counters['creds.revocation_revoked']! >= 1); // A may have retried already
      assert.ok(o.counters['ike.error_notify_sent']! >= 1, 'AUTHENTICATION_FAILED went to the peer');
    });

    test('CRL over HTTP (the responder refuses connections): revoked refused', async () => {
      const o = await scenario('revoked', `revocation: strict, ocsp-responder: "http://${P}:9/"`);
      assert.equal(o.established, false);
      assert.match(o.log, new RegExp(`CERT_REVOKED: .*keyCompromise.*source: CRL ${HTTP}/ca.crl`));
      assert.equal(o.counters['creds.crl_fetches'], 1);
      assert.equal(o.counters['creds.fetch_failed'], 1);
    });

    test('CRL file, no fetching: revoked refused', async () => {
      const o = await scenario(
        'revoked',
        `revocation: strict, revocation-fetch: false, crl: ${pki.dir}/crl.pem`,
      );
      assert.equal(o.established, false);
      assert.match(o.log, /CERT_REVOKED: .*source: CRL file/);
      assert.equal(o.counters['creds.ocsp_requests'] ?? 0, 0);
    });

    for (const mode of ['strict', 'best-effort'] as const) {
      test(`an unreachable responder (no such host), ${mode}`, async () => {
        const rev = `revocation: ${mode}, revocation-fetch: false, ocsp-responder: "http://192.0.2.99:2560/", revocation-timeout: 1s`;
        const o = await scenario('good', rev);
        assert.equal(o.established, mode === 'best-effort', o.log);
        assert.ok(o.counters['creds.revocation_unknown']! >= 1);
        if (mode === 'strict')
          assert.match(o.log, /REVOCATION_UNKNOWN: no revocation answer .*192\.0\.2\.99/);
      });
    }

    test('bad answers: a hanging responder, an 8 MiB answer, junk: precise errors, counted, B unharmed', async () => {
      const hang = await scenario(
        'good',
        `revocation: strict, revocation-fetch: false, ocsp-responder: "${HTTP}/hang", revocation-timeout: 1s`,
      );
      assert.equal(hang.established, false);
      assert.match(hang.log, /did not answer within 1000 ms/);
      assert.equal(hang.counters['creds.fetch_timeout'], 1);
      const huge = await scenario(
        'good',
        `revocation: strict, revocation-fetch: false, ocsp-responder: "${HTTP}/huge"`,
      );
      assert.equal(huge.established, false);
      assert.match(huge.log, /sent more than 4194304 bytes/);
      assert.equal(huge.counters['creds.fetch_too_large'], 1);
      const junk = await scenario(
        'good',
        `revocation: best-effort, revocation-fetch: false, ocsp-responder: "${HTTP}/garbage"`,
      );
      assert.ok(junk.established, 'best-effort: junk is no answer, not a revocation');
      assert.match(junk.log, /MALFORMED: OCSP: /);
      assert.equal(junk.counters['creds.ocsp_bad_response'], 1);
    });
  },
);
