// A throw-away test PKI made with the openssl CLI per test file (independent of the code under
// test): root CA (P-256) -> intermediate (P-384, pathlen 0) -> end entities with P-256, P-384,
// Ed25519 and RSA-2048 keys and subjectAltNames; plus an unrelated CA, a CA:FALSE "issuer", a CA
// below the pathlen-0 intermediate, and an end entity without digitalSignature.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly der: Uint8Array;
  /** Serial as openssl prints it (upper-case hex), as its CA index writes it. */
  readonly serial: string;
}

export type KeyAlg = 'p256' | 'p384' | 'ed25519' | 'rsa';

export interface Pki {
  readonly dir: string;
  readonly root: Issued;
  readonly inter: Issued;
  readonly other: Issued;
  /** An end entity (P-256) issued by `other`. */
  readonly otherEe: Issued;
  readonly ee: Readonly<Record<'p256' | 'p384' | 'ed25519' | 'rsa', Issued>>;
  readonly notCa: Issued;
  readonly underNotCa: Issued;
  readonly deepCa: Issued;
  readonly underDeep: Issued;
  readonly noSig: Issued;
  /** `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha1` of a certificate file. */
  spkiSha1(c: Issued): string;
  cleanup(): void;
}

const KEYGEN: Record<KeyAlg, string[]> = {
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

/** The openssl CLI working in `dir`: the one place the test PKIs (this file, revocation-pki.ts) build certificates. */
export interface OpensslCa {
  readonly dir: string;
  ssl(...args: string[]): Buffer;
  /** A self-signed certificate `name`.pem with key `name`.key and the given extension lines. */
  selfSigned(name: string, alg: KeyAlg, subj: string, ext: string, days: number): Issued;
  /** `name`.pem signed by the certificate `issuer` (files `issuer`.pem / `issuer`.key in `dir`). */
  issue(
    name: string,
    alg: KeyAlg,
    subj: string,
    ext: string,
    issuer: string,
    serial: number,
    days: number,
  ): Issued;
  read(name: string): Issued;
}

export function opensslCa(dir: string): OpensslCa {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): Issued => ({
    name,
    certPem: readFileSync(join(dir, `${name}.pem`), 'utf8'),
    keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
    der: Uint8Array.from(ssl('x509', '-in', `${name}.pem`, '-outform', 'DER')),
    serial: ssl('x509', '-in', `${name}.pem`, '-noout', '-serial').toString().trim().split('=')[1]!,
  });
  return {
    dir,
    ssl,
    read,
    selfSigned(name, alg, subj, ext, days) {
      ssl('genpkey', ...KEYGEN[alg], '-out', `${name}.key`);
      const extArgs = ext
        .trim()
        .split('\n')
        .flatMap((e) => ['-addext', e]);
      ssl(
        ...['req', '-x509', '-new', '-key', `${name}.key`, '-subj', subj, '-days', String(days)],
        ...[...extArgs, '-out', `${name}.pem`],
      );
      return read(name);
    },
    issue(name, alg, subj, ext, issuer, serial, days) {
      ssl('genpkey', ...KEYGEN[alg], '-out', `${name}.key`);
      writeFileSync(join(dir, `${name}.ext`), ext);
      ssl('req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`);
      ssl(
        ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`],
        ...['-set_serial', String(serial), '-days', String(days), '-extfile', `${name}.ext`],
        ...['-out', `${name}.pem`],
      );
      return read(name);
    },
  };
}

/** Last octet of each end entity's IPv4/IPv6 subjectAltName (192.0.2.N, 2001:db8::N). */
export const HOST = { p256: 10, p384: 11, ed25519: 12, rsa: 13 } as const;

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
const INTER_EXT = 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n';
const EE_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n';

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-creds-${process.pid}-`));
  const tool = opensslCa(dir);
  const ssl = tool.ssl;
  let serial = 1;
  const issue = (name: string, alg: KeyAlg, subj: string, ext: string, issuer?: Issued): Issued =>
    issuer === undefined
      ? tool.selfSigned(name, alg, subj, ext, 365)
      : tool.issue(name, alg, subj, ext, issuer.name, serial++, 365);

  const root = issue('root', 'p256', '/C=XX/O=ikeway test/CN=Root CA', CA_EXT);
  const inter = issue('inter', 'p384', '/C=XX/O=ikeway test/OU=Intermediate/CN=Sub CA', INTER_EXT, root);
  const other = issue('other', 'p256', '/C=XX/O=elsewhere/CN=Other CA', CA_EXT);
  const otherEe = issue(
    'otheree',
    'p256',
    '/C=XX/O=elsewhere/CN=p256.example.com',
    `${EE_EXT}subjectAltName=DNS:p256.example.com\n`,
    other,
  );
  const ee = Object.fromEntries(
    (['p256', 'p384', 'ed25519', 'rsa'] as const).map((k) => [
      k,
      issue(
        k,
        k,
        `/C=XX/O=ikeway test/CN=${k}.example.com`,
        `${EE_EXT}subjectAltName=DNS:${k}.example.com,email:${k}@example.com,IP:192.0.2.${HOST[k]},IP:2001:db8::${HOST[k]}\n`,
        inter,
      ),
    ]),
  ) as unknown as Pki['ee'];
  const notCa = issue(
    'notca',
    'p256',
    '/C=XX/O=ikeway test/CN=Not a CA',
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n',
    root,
  );
  const underNotCa = issue(
    'undernotca',
    'p256',
    '/C=XX/O=ikeway test/CN=under.example.com',
    `${EE_EXT}subjectAltName=DNS:under.example.com\n`,
    notCa,
  );
  const deepCa = issue('deepca', 'p256', '/C=XX/O=ikeway test/CN=Deep CA', CA_EXT, inter);
  const underDeep = issue(
    'underdeep',
    'p256',
    '/C=XX/O=ikeway test/CN=deep.example.com',
    `${EE_EXT}subjectAltName=DNS:deep.example.com\n`,
    deepCa,
  );
  const noSig = issue(
    'nosig',
    'p256',
    '/C=XX/O=ikeway test/CN=nosig.example.com',
    'keyUsage=critical,keyEncipherment\nsubjectAltName=DNS:nosig.example.com\n',
    inter,
  );

  return {
    dir,
    root,
    inter,
    other,
    otherEe,
    ee,
    notCa,
    underNotCa,
    deepCa,
    underDeep,
    noSig,
    spkiSha1(c) {
      const pub = ssl('x509', '-in', `${c.name}.pem`, '-noout', '-pubkey');
      const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: pub });
      return execFileSync('openssl', ['dgst', '-sha1', '-r'], { input: der }).toString().split(' ')[0]!;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
