// A throw-away revocation PKI made with the openssl CLI (independent of the code under test): a CA
// (P-256), end entities "good" and "revoked" whose authorityInfoAccess and cRLDistributionPoints
// name the given URLs, a delegated OCSP responder (id-kp-OCSPSigning), an unrelated CA, the CA's
// index.txt (revoked: keyCompromise), a CRL made by `openssl ca -gencrl`, and OCSP responses made by
// `openssl ocsp` from a request file. Used by the in-memory tests and by the namespace lab, where
// the same directory feeds a real `openssl ocsp` responder and an HTTP server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opensslCa, type Issued } from './pki.ts';

export type RevIssued = Issued;

export interface RevPki {
  readonly dir: string;
  readonly ca: RevIssued;
  readonly good: RevIssued;
  readonly revoked: RevIssued;
  /** Issued by `ca` but without AIA/CDP: no source at all. */
  readonly bare: RevIssued;
  readonly responder: RevIssued;
  readonly otherCa: RevIssued;
  /** The CA's CRL (DER), `openssl ca -gencrl`, nextUpdate in `crlDays`. */
  crl(opts?: { crlHours?: number; signer?: 'ca' | 'other' }): Uint8Array;
  /** `openssl ocsp` answering a DER request from the index (signed by the delegated responder). */
  ocspRespond(
    req: Uint8Array,
    opts?: { signer?: 'ca' | 'responder' | 'other'; nextUpdateMin?: number },
  ): Uint8Array;
  cleanup(): void;
}

const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];

/** `ocspUrl` / `crlUrl`: what the end entities' AIA and CDP name (undefined: not present). */
export function makeRevocationPki(urls: { ocspUrl?: string; crlUrl?: string } = {}): RevPki {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-revoc-${process.pid}-`));
  const tool = opensslCa(dir);
  const ssl = tool.ssl;
  let serial = 0x20;
  const selfSigned = (name: string, cn: string): RevIssued =>
    tool.selfSigned(name, 'p256', `/O=ikeway revocation/CN=${cn}`, CA_EXT.join('\n'), 30);
  const issue = (name: string, cn: string, ext: string[]): RevIssued =>
    tool.issue(name, 'p256', `/O=ikeway revocation/CN=${cn}`, `${ext.join('\n')}\n`, 'ca', serial++, 20);

  const ca = selfSigned('ca', 'Revocation CA');
  const otherCa = selfSigned('other', 'Other CA');
  const eeExt = (cn: string) => [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `subjectAltName=DNS:${cn}`,
    ...(urls.ocspUrl ? [`authorityInfoAccess=OCSP;URI:${urls.ocspUrl}`] : []),
    ...(urls.crlUrl ? [`crlDistributionPoints=URI:${urls.crlUrl}`] : []),
  ];
  const good = issue('good', 'good.example.com', eeExt('good.example.com'));
  const revoked = issue('revoked', 'revoked.example.com', eeExt('revoked.example.com'));
  const bare = issue('bare', 'bare.example.com', [
    'basicConstraints=CA:FALSE',
    'subjectAltName=DNS:bare.example.com',
  ]);
  const responder = issue('responder', 'OCSP responder', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=OCSPSigning',
  ]);

  // openssl's CA database: V(alid) or R(evoked), expiry, revocation time[,reason], serial, file, subject.
  const exp = '491231235959Z';
  const line = (c: RevIssued, rev?: string) =>
    [rev ? 'R' : 'V', exp, rev ?? '', c.serial, 'unknown', `/O=ikeway revocation/CN=${c.name}`].join('\t');
  writeFileSync(
    join(dir, 'index.txt'),
    [line(good), line(revoked, '240101000000Z,keyCompromise'), line(bare), line(responder)].join('\n') + '\n',
  );
  writeFileSync(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const caConf = (signer: string) =>
    [
      '[ca]',
      'default_ca = d',
      '[d]',
      'database = index.txt',
      'crlnumber = crlnumber',
      'default_md = sha256',
      `certificate = ${signer}.pem`,
      `private_key = ${signer}.key`,
      'crl_extensions = e',
      '[e]',
      'authorityKeyIdentifier = keyid:always',
    ].join('\n') + '\n';

  return {
    dir,
    ca,
    good,
    revoked,
    bare,
    responder,
    otherCa,
    crl(opts = {}) {
      const signer = opts.signer === 'other' ? 'other' : 'ca';
      writeFileSync(join(dir, `${signer}.cnf`), caConf(signer));
      ssl(
        'ca',
        '-config',
        `${signer}.cnf`,
        '-gencrl',
        '-crlhours',
        String(opts.crlHours ?? 24),
        '-out',
        'crl.pem',
      );
      return Uint8Array.from(ssl('crl', '-in', 'crl.pem', '-outform', 'DER'));
    },
    ocspRespond(req, opts = {}) {
      const signer = opts.signer ?? 'responder';
      writeFileSync(join(dir, 'req.der'), req);
      ssl(
        'ocsp',
        '-index',
        'index.txt',
        '-CA',
        'ca.pem',
        '-rsigner',
        `${signer}.pem`,
        '-rkey',
        `${signer}.key`,
        '-reqin',
        'req.der',
        '-respout',
        'resp.der',
        '-nmin',
        String(opts.nextUpdateMin ?? 60),
      );
      return Uint8Array.from(readFileSync(join(dir, 'resp.der')));
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
