// Loads secrets and credentials named by the config. Secrets come from files or environment
// variables (an inline secret is refused unless spelled `insecure-inline`); a file holding a secret
// or a private key must not be accessible to group or others. Messages name files and variables,
// never their contents.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Secret } from '../crypto/secret.ts';
import type { Raw, Reporter } from './walk.ts';
import type { CertAuth, PubkeyAuth, RevocationConfig, RevocationMode } from './types.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** Minimum PSK length before a warning: RFC 7296 §2.15 wants PSKs as strong as the PRF key. */
const MIN_PSK_BYTES = 16;

/** Read a file that holds key material: refuses group/other permission bits. */
function readPrivateFile(r: Reporter, file: string, path: string, what: string): Buffer | undefined {
  const at = r.at(path);
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      r.add('E_SECRET', at, path, `${file} is not a regular file`, `point ${what} at a file`);
      return undefined;
    }
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8);
      r.add(
        'E_SECRET',
        at,
        path,
        `${file} is accessible by group or others (mode ${mode})`,
        `run: chmod 600 ${file}`,
      );
      return undefined;
    }
    return readFileSync(file);
  } catch (e) {
    r.add(
      'E_SECRET',
      at,
      path,
      `cannot read ${file}: ${errText(e)}`,
      `create it (chmod 600) or fix the path`,
    );
    return undefined;
  }
}

function errText(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return code ?? 'unreadable';
}

/** Secret text: as is, "0x<hex>" or "0s<base64>"; one trailing newline is dropped. */
function decodeSecret(text: string): Uint8Array | string {
  const t = text.replace(/\r?\n$/, '');
  if (t.startsWith('0x')) {
    const hex = t.slice(2);
    return /^([0-9a-fA-F]{2})+$/.test(hex) ? Buffer.from(hex, 'hex') : 'is not valid hex after "0x"';
  }
  if (t.startsWith('0s')) {
    const b64 = t.slice(2);
    return /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : 'is not valid base64 after "0s"';
  }
  return Buffer.from(t, 'utf8');
}

/** psk: { file | env | insecure-inline } -> Secret, or undefined with the problem recorded. */
export function loadSecret(r: Reporter, ref: Raw, path: string, env: Env): Secret | undefined {
  let text: string | undefined;
  let source: string;
  let p: string;
  if (typeof ref.file === 'string') {
    p = `${path}.file`;
    source = `file ${ref.file}`;
    text = readPrivateFile(r, ref.file, p, 'psk.file')?.toString('utf8');
  } else if (typeof ref.env === 'string') {
    p = `${path}.env`;
    source = `env ${ref.env}`;
    text = env[ref.env];
    if (text === undefined || text === '') {
      r.add(
        'E_SECRET',
        r.at(p),
        p,
        `environment variable ${ref.env} is not set`,
        `export ${ref.env}=... before running ikeway`,
      );
      return undefined;
    }
  } else if (typeof ref.insecureInline === 'string') {
    p = `${path}.insecure-inline`;
    source = 'inline';
    text = ref.insecureInline;
    const hint = 'move the secret to a file (chmod 600) and write psk: { file: ... }';
    r.add('W_INSECURE', r.at(p), p, 'the secret is stored in the config file', hint);
  } else {
    return undefined;
  }
  if (text === undefined) return undefined;
  const bytes = decodeSecret(text);
  if (typeof bytes === 'string' || bytes.length === 0) {
    r.add(
      'E_SECRET',
      r.at(p),
      p,
      `the secret from ${source} ${typeof bytes === 'string' ? bytes : 'is empty'}`,
      '',
    );
    return undefined;
  }
  if (bytes.length < MIN_PSK_BYTES) {
    const hint = 'use at least 16 random bytes, e.g. openssl rand -base64 32 (RFC 7296 §2.15)';
    r.add('W_WEAK', r.at(p), p, `the secret from ${source} is only ${bytes.length} bytes`, hint);
  }
  return new Secret(bytes, source);
}

function readCert(r: Reporter, file: string, path: string): X509Certificate | undefined {
  try {
    return new X509Certificate(readFileSync(file));
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const why = code.startsWith('ERR_') || code === '' ? 'not a PEM certificate' : errText(e);
    r.add(
      'E_CREDENTIAL',
      r.at(path),
      path,
      `cannot load certificate ${file}: ${why}`,
      'give a PEM file (-----BEGIN CERTIFICATE-----)',
    );
    return undefined;
  }
}

function readKey(r: Reporter, file: string, path: string): KeyObject | undefined {
  const pem = readPrivateFile(r, file, path, 'cert.key');
  if (pem === undefined) return undefined;
  try {
    return createPrivateKey(pem);
  } catch {
    const hint = 'give an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)';
    r.add('E_CREDENTIAL', r.at(path), path, `cannot load private key ${file}`, hint);
    return undefined;
  }
}

/**
 * cert: { cert, key, ca, chain? } -> CertAuth, checking that the key matches, the CAs are CAs and
 * the chain is in order (each intermediate issued the certificate before it).
 */
export function loadCertAuth(r: Reporter, raw: Raw, path: string, now: Date): CertAuth | undefined {
  const certFile = raw.cert as string;
  const keyFile = raw.key as string;
  const caFiles = raw.ca as string[];
  const chainFiles = (raw.chain as string[] | undefined) ?? [];
  const cert = readCert(r, certFile, `${path}.cert`);
  const key = readKey(r, keyFile, `${path}.key`);
  const ca = caFiles.map((f, i) => readCert(r, f, `${path}.ca[${i}]`));
  const chain = chainFiles.map((f, i) => readCert(r, f, `${path}.chain[${i}]`));
  if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
    const p = `${path}.key`;
    r.add(
      'E_CREDENTIAL',
      r.at(p),
      p,
      `${keyFile} is not the private key of ${certFile}`,
      'give the key the certificate was issued for',
    );
  }
  ca.forEach((c, i) => {
    const p = `${path}.ca[${i}]`;
    if (c !== undefined && !c.ca)
      r.add('E_CREDENTIAL', r.at(p), p, `${caFiles[i]} is not a CA certificate`, 'give the issuing CA');
  });
  checkChain(r, cert, chain, chainFiles, path);
  for (const [c, p] of [
    [cert, `${path}.cert`],
    ...ca.map((c, i) => [c, `${path}.ca[${i}]`] as const),
    ...chain.map((c, i) => [c, `${path}.chain[${i}]`] as const),
  ] as const) {
    if (c !== undefined) checkValidity(r, c, p, now);
  }
  const all = [...ca, ...chain];
  const revocation = loadRevocation(r, raw, path);
  if (cert === undefined || key === undefined || all.some((c) => c === undefined) || revocation === undefined)
    return undefined;
  return {
    revocation,
    kind: 'cert',
    cert,
    key,
    ca: ca as X509Certificate[],
    chain: chain as X509Certificate[],
    certFile,
    keyFile,
    caFiles,
    chainFiles,
  };
}

/** Each chain entry must be a CA that issued the certificate before it (ours, then the chain's). */
function checkChain(
  r: Reporter,
  cert: X509Certificate | undefined,
  chain: readonly (X509Certificate | undefined)[],
  files: readonly string[],
  path: string,
): void {
  let below = cert;
  chain.forEach((c, i) => {
    const p = `${path}.chain[${i}]`;
    if (c === undefined) return;
    if (!c.ca)
      r.add('E_CREDENTIAL', r.at(p), p, `${files[i]} is not a CA certificate`, 'give an intermediate CA');
    else if (below !== undefined && !below.checkIssued(c)) {
      const what = i === 0 ? 'our certificate' : files[i - 1];
      const hint = 'list the CA that issued our certificate first, then its issuer, and so on';
      r.add('E_CREDENTIAL', r.at(p), p, `${files[i]} did not issue ${what}`, hint);
    }
    below = c;
  });
}

/** Certificates that expire within this many days are warned about (check, status, metrics). */
export const EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

function checkValidity(r: Reporter, c: X509Certificate, path: string, now: Date): void {
  const left = Date.parse(c.validTo) - now.getTime();
  if (left < 0) r.add('W_CERT', r.at(path), path, `certificate expired on ${c.validTo}`, 'renew it');
  else if (left < EXPIRY_WARN_DAYS * DAY_MS) {
    const days = Math.floor(left / DAY_MS);
    const hint = 'renew it before then (ikeway status and the metrics show the date too)';
    r.add(
      'W_CERT',
      r.at(path),
      path,
      `certificate expires in ${days} day${days === 1 ? '' : 's'} (${c.validTo})`,
      hint,
    );
  }
  if (new Date(c.validFrom) > now)
    r.add('W_CERT', r.at(path), path, `certificate is valid only from ${c.validFrom}`, 'check the clock');
}

const PEM_CRL = /-----BEGIN X509 CRL-----[A-Za-z0-9+/=\s]+-----END X509 CRL-----/;

/**
 * revocation, crl, ocsp-responder, ocsp-method, revocation-fetch, revocation-timeout of a cert
 * auth. CRL files are read here and must look like a CRL (a PEM X509 CRL block or DER); src/creds
 * parses and checks them fully when the daemon maps the connection.
 */
function loadRevocation(r: Reporter, raw: Raw, path: string): RevocationConfig | undefined {
  const crlFiles = (raw.crl as string[] | undefined) ?? [];
  let ok = true;
  const crls = crlFiles.map((f, i) => {
    const p = `${path}.crl[${i}]`;
    try {
      const b = readFileSync(f);
      if (!PEM_CRL.test(b.toString('latin1')) && b[0] !== 0x30) {
        ok = false;
        r.add(
          'E_CREDENTIAL',
          r.at(p),
          p,
          `${f} is not a CRL`,
          'give a PEM (-----BEGIN X509 CRL-----) or DER CRL',
        );
      }
      return new Uint8Array(b);
    } catch (e) {
      ok = false;
      r.add('E_CREDENTIAL', r.at(p), p, `cannot read CRL ${f}: ${errText(e)}`, 'fix the path');
      return new Uint8Array();
    }
  });
  const mode = (raw.revocation as RevocationMode | undefined) ?? 'off';
  if (mode === 'off' && (crlFiles.length > 0 || raw.ocspResponder !== undefined)) {
    const p = `${path}.revocation`;
    r.add(
      'W_CERT',
      r.at(p),
      p,
      'CRL or OCSP sources are given but revocation is off',
      'set revocation: best-effort or strict',
    );
  }
  if (!ok) return undefined;
  return {
    mode,
    crlFiles,
    crls,
    ocspResponder: raw.ocspResponder as string | undefined,
    ocspMethod: (raw.ocspMethod as 'post' | 'get' | undefined) ?? 'post',
    fetch: (raw.revocationFetch as boolean | undefined) ?? true,
    timeoutMs: (raw.revocationTimeout as number | undefined) ?? 5000,
  };
}

/** pubkey: { key, peer } (RFC 7670): our private key (mode 600) and the peer's public key. */
export function loadPubkeyAuth(r: Reporter, raw: Raw, path: string): PubkeyAuth | undefined {
  const keyFile = raw.key as string;
  const peerFile = raw.peer as string;
  const key = readKey(r, keyFile, `${path}.key`);
  let peer: KeyObject | undefined;
  const p = `${path}.peer`;
  try {
    const text = readFileSync(peerFile);
    peer = createPublicKey(text);
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const why = code.startsWith('ERR_') || code === '' ? 'not a PEM public key' : errText(e);
    const hint = 'give the peer\u2019s public key: openssl pkey -in peer.key -pubout > peer.pub';
    r.add('E_CREDENTIAL', r.at(p), p, `cannot load public key ${peerFile}: ${why}`, hint);
  }
  if (key === undefined || peer === undefined) return undefined;
  return { kind: 'pubkey', key, peer, keyFile, peerFile };
}
