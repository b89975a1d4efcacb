// Certificates for the interop cells, made with the openssl CLI: a root CA (and for the chain cell an
// intermediate CA) with keyUsage critical,digitalSignature,keyCertSign,cRLSign (charon 5.9.8 wants
// digitalSignature on signers, KERNEL-LAB.md), and one end certificate per side whose
// subjectAltName carries the side's FQDN, so the IKE ID (RFC 7296 §3.5) is bound to it.
// Private keys are PKCS#8 PEM, mode 600. Lab use only.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../errors.ts';

export type KeyType = 'ecdsa' | 'rsa' | 'ed25519';

export interface EndCert {
  readonly cert: string;
  readonly key: string;
}

export interface CellPki {
  readonly root: string;
  /** Intermediate CA certificates between the root and the end certificates (chain cell). */
  readonly intermediates: readonly string[];
  readonly ends: Readonly<Record<string, EndCert>>;
}

const KEYGEN: Record<KeyType, string[]> = {
  ecdsa: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  ed25519: ['-algorithm', 'ED25519'],
};
/** Ed25519 signs without a separate digest (RFC 8410); the others sign SHA-256. */
const digest = (t: KeyType) => (t === 'ed25519' ? [] : ['-sha256']);
const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\n';

/** Makes a root (plus `chain` intermediates) and an end certificate per FQDN in `dir`. */
export function makeCellPki(dir: string, type: KeyType, fqdns: readonly string[], chain = 0): CellPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ssl = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 60_000 });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString('utf8') ?? String(e);
      throw new LabError('LAB_TUNNEL', `openssl ${args[0]} failed: ${err.trim().split('\n')[0]}`);
    }
  };
  const key = (name: string) => {
    ssl('genpkey', ...KEYGEN[type], '-out', `${name}.key`);
    chmodSync(join(dir, `${name}.key`), 0o600);
  };
  let serial = 1;
  const sign = (name: string, subject: string, issuer: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    ssl(
      ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`],
      ...['-set_serial', String(serial++), '-days', '90', '-extfile', `${name}.ext`, ...digest(type)],
      ...['-out', `${name}.pem`],
    );
  };
  key('root');
  ssl(
    ...['req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=ikeway interop/CN=Interop Root CA'],
    ...['-days', '90', '-addext', 'basicConstraints=critical,CA:TRUE'],
    ...[
      '-addext',
      'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      ...digest(type),
      '-out',
      'root.pem',
    ],
  );
  let issuer = 'root';
  const intermediates: string[] = [];
  for (let i = 1; i <= chain; i++) {
    const name = `inter${i}`;
    key(name);
    sign(name, `/O=ikeway interop/CN=Interop Intermediate CA ${i}`, issuer, CA_EXT);
    intermediates.push(join(dir, `${name}.pem`));
    issuer = name;
  }
  const ends: Record<string, EndCert> = {};
  for (const fqdn of fqdns) {
    if (!/^[a-z0-9.-]+$/.test(fqdn)) throw new LabError('LAB_TOPOLOGY', `not a plain FQDN: ${fqdn}`);
    key(fqdn);
    sign(
      fqdn,
      `/O=ikeway interop/CN=${fqdn}`,
      issuer,
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:${fqdn}\n`,
    );
    ends[fqdn] = { cert: join(dir, `${fqdn}.pem`), key: join(dir, `${fqdn}.key`) };
  }
  return { root: join(dir, 'root.pem'), intermediates, ends };
}
