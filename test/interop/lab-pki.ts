// A throw-away ECDSA P-256 PKI made with the openssl CLI for the strongSwan interop tests: a root CA
// with keyUsage digitalSignature,keyCertSign,cRLSign (charon 5.9.8 wants it, KERNEL-LAB.md) and end
// entities whose subjectAltName carries their FQDN, so the IKE ID (RFC 7296 §3.5) is bound to it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LabCert {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  readonly keyPem: string;
}

export interface LabPki {
  readonly dir: string;
  readonly ca: LabCert;
  issue(fqdn: string): LabCert;
  cleanup(): void;
}

const EC = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

export function makeLabPki(): LabPki {
  const dir = mkdtempSync(join(tmpdir(), `ikw-interop-pki-${process.pid}-`));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): LabCert => ({
    certPath: join(dir, `${name}.pem`),
    keyPath: join(dir, `${name}.key`),
    certPem: readFileSync(join(dir, `${name}.pem`), 'utf8'),
    keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
  });
  ssl('genpkey', ...EC, '-out', 'ca.key');
  ssl(
    ...['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/C=XX/O=ikeway interop/CN=Interop CA'],
    ...['-days', '30', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'],
  );
  let serial = 1;
  return {
    dir,
    ca: read('ca'),
    issue(fqdn: string): LabCert {
      if (!/^[a-z0-9.-]+$/.test(fqdn)) throw new Error(`not a plain FQDN: ${fqdn}`);
      ssl('genpkey', ...EC, '-out', `${fqdn}.key`);
      ssl(
        'req',
        '-new',
        '-key',
        `${fqdn}.key`,
        '-subj',
        `/C=XX/O=ikeway interop/CN=${fqdn}`,
        '-out',
        `${fqdn}.csr`,
      );
      writeFileSync(
        join(dir, `${fqdn}.ext`),
        `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:${fqdn}\n`,
      );
      ssl(
        ...['x509', '-req', '-in', `${fqdn}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key'],
        ...['-set_serial', String(serial++), '-days', '30', '-extfile', `${fqdn}.ext`, '-out', `${fqdn}.pem`],
      );
      return read(fqdn);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
