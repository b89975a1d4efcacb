// A throwaway ECDSA P-256 PKI for load runs and benchmarks, made in-process with node:crypto: a
// root CA, one responder certificate and many initiator certificates (one per IKE SA, so every SA
// has its own identity as a real population of peers would, and no INITIAL_CONTACT (RFC 7296 §2.4)
// replaces an older SA). The initiator certificates share one key pair: the responder still parses
// and verifies each certificate's signature chain and each AUTH. X.509 v3 as RFC 5280 §4.1, with
// basicConstraints, keyUsage (digitalSignature on the CA too, which charon wants) and a dNSName
// subjectAltName binding the FQDN identity (RFC 7296 §3.5, RFC 4945 §3.1). Lab use only.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctx, encodeOid, TAG, tlv } from '../../src/crypto/der.ts';
import { encodeDn, parseDn } from '../../src/creds/dn.ts';

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
} as const;

export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly code = 'ERR_LOAD_PKI';
}

interface Issuer {
  readonly name: Uint8Array;
  readonly key: KeyObject;
}

const der = (tag: number, ...c: Uint8Array[]) => tlv(tag, ...c);
const utcTime = (d: Date) => {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return der(TAG.UTC_TIME, new TextEncoder().encode(`${s}Z`));
};

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  const crit = critical ? [der(TAG.BOOLEAN, Uint8Array.of(0xff))] : [];
  return der(TAG.SEQUENCE, der(TAG.OID, encodeOid(oid)), ...crit, der(TAG.OCTET_STRING, value));
}

function extensions(ca: boolean, fqdn: string | undefined): Uint8Array {
  const list = [
    extension(
      OID.basicConstraints,
      true,
      ca ? der(TAG.SEQUENCE, der(TAG.BOOLEAN, Uint8Array.of(0xff))) : der(TAG.SEQUENCE),
    ),
    // keyUsage BIT STRING: digitalSignature (bit 0), + keyCertSign (5) and cRLSign (6) for the CA.
    extension(OID.keyUsage, true, der(TAG.BIT_STRING, ca ? Uint8Array.of(1, 0x86) : Uint8Array.of(7, 0x80))),
  ];
  if (fqdn !== undefined)
    list.push(
      extension(OID.subjectAltName, false, der(TAG.SEQUENCE, der(ctx(2, false), Buffer.from(fqdn, 'ascii')))),
    );
  return der(ctx(3, true), der(TAG.SEQUENCE, ...list));
}

/** One DER certificate for `publicKey`, signed by `issuer` (self-signed when issuer is the subject). */
function certificate(o: {
  subject: Uint8Array;
  publicKey: KeyObject;
  issuer: Issuer;
  ca: boolean;
  fqdn?: string;
  serial: number;
}): Uint8Array {
  const now = Date.now();
  const alg = der(TAG.SEQUENCE, der(TAG.OID, encodeOid(OID.ecdsaSha256)));
  const serial = Buffer.alloc(8);
  serial.writeUInt32BE(o.serial, 4);
  serial[0] = 0x01; // positive, minimal (first octet non-zero)
  const tbs = der(
    TAG.SEQUENCE,
    der(ctx(0, true), der(TAG.INTEGER, Uint8Array.of(2))),
    der(TAG.INTEGER, serial),
    alg,
    o.issuer.name,
    der(TAG.SEQUENCE, utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 30 * 86400_000))),
    o.subject,
    new Uint8Array(o.publicKey.export({ type: 'spki', format: 'der' })),
    extensions(o.ca, o.fqdn),
  );
  const sig = sign('sha256', tbs, o.issuer.key); // DER ECDSA-Sig-Value, as RFC 5758 §3.2 wants
  return der(TAG.SEQUENCE, tbs, alg, der(TAG.BIT_STRING, Uint8Array.of(0), sig));
}

export function pem(derBytes: Uint8Array): string {
  const b64 = Buffer.from(derBytes)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

export interface LoadPki {
  readonly dir: string;
  /** PEM files. */
  readonly ca: string;
  readonly responderCert: string;
  readonly responderKey: string;
  /** All initiator certificates in one PEM bundle (SA n uses the n-th); one shared key. */
  readonly initiatorCerts: string;
  readonly initiatorKey: string;
}

const FQDN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/**
 * Writes the PKI into `dir` (mode 700, keys 600): the responder certificate for `responderFqdn`
 * and `count` initiator certificates for `initiatorFqdn(n)`, n = 1..count.
 */
export function makeLoadPki(
  dir: string,
  responderFqdn: string,
  count: number,
  initiatorFqdn: (n: number) => string,
): LoadPki {
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000)
    throw new PkiError(`certificate count must be an integer in 1..1000000, got ${count}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tag = randomBytes(4).toString('hex'); // distinct CAs across runs
  const caKeys = ec();
  const caName = encodeDn(parseDn(`C=XX, O=ikeway load ${tag}, CN=Load CA`));
  const ca: Issuer = { name: caName, key: caKeys.privateKey };
  const caDer = certificate({
    subject: caName,
    publicKey: caKeys.publicKey,
    issuer: ca,
    ca: true,
    serial: 1,
  });
  const leaf = (fqdn: string, publicKey: KeyObject, serial: number) => {
    if (!FQDN.test(fqdn)) throw new PkiError(`not a plain lower-case FQDN: ${JSON.stringify(fqdn)}`);
    const subject = encodeDn(parseDn(`C=XX, O=ikeway load ${tag}, CN=${fqdn}`));
    return pem(certificate({ subject, publicKey, issuer: ca, ca: false, fqdn, serial }));
  };
  const resp = ec();
  const init = ec();
  const files = {
    ca: join(dir, 'ca.pem'),
    responderCert: join(dir, 'responder.pem'),
    responderKey: join(dir, 'responder.key'),
    initiatorCerts: join(dir, 'initiators.pem'),
    initiatorKey: join(dir, 'initiator.key'),
  };
  const keyPem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(files.ca, pem(caDer));
  writeFileSync(files.responderCert, leaf(responderFqdn, resp.publicKey, 2));
  writeFileSync(files.responderKey, keyPem(resp.privateKey), { mode: 0o600 });
  const bundle: string[] = [];
  for (let n = 1; n <= count; n++) bundle.push(leaf(initiatorFqdn(n), init.publicKey, 2 + n));
  writeFileSync(files.initiatorCerts, bundle.join(''));
  writeFileSync(files.initiatorKey, keyPem(init.privateKey), { mode: 0o600 });
  return { dir, ...files };
}
