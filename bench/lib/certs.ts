// The certificate section of the benchmark (issue 7, item 1): one throwaway ECDSA P-256 PKI
// (lab/load/pki.ts) per run, the responder's certificate for both daemons and one initiator
// certificate per IKE SA the plan sets up against either responder, so every SA proves its own
// identity with its own certificate (RFC 7296 §2.15, RFC 7427 ECDSA with SHA-256).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLoadPki } from '../../lab/load/pki.ts';
import type { IkePlan } from './ike.ts';
import type { AuthSetup } from './responders.ts';

const RESPONDER_FQDN = 'responder.ikeway.test';

export const CERT_SETTINGS =
  'certificates: ECDSA P-256 (in-process PKI, lab/load/pki.ts): root CA -> end certificates with a dNSName subjectAltName; responder ID fqdn:' +
  `${RESPONDER_FQDN}, one certificate and identity per initiator IKE SA (shared initiator key), CERT and CERTREQ sent, RFC 7427 ECDSA-SHA256 AUTH; charon: auth pubkey, cacerts = the CA`;

export interface CertSetup {
  readonly auth: AuthSetup;
  cleanup(): void;
}

/** Certificates for both responders' runs of `plan` (SA numbers never repeat in one bench process). */
export function certSetup(plan: IkePlan, responders = 2): CertSetup {
  const dir = mkdtempSync(join(tmpdir(), `ikw-bench-pki-${process.pid}-`));
  const perResponder = plan.warmup + plan.sequential + plan.burst;
  const fqdn = (n: number) => `load-c${n}.ikeway.test`;
  const p = makeLoadPki(dir, RESPONDER_FQDN, perResponder * responders, fqdn);
  return {
    auth: {
      localId: RESPONDER_FQDN,
      cert: {
        certPem: readFileSync(p.responderCert, 'utf8'),
        keyPem: readFileSync(p.responderKey, 'utf8'),
        caPem: readFileSync(p.ca, 'utf8'),
      },
      loadCert: {
        cert: p.initiatorCerts,
        key: p.initiatorKey,
        ca: [p.ca],
        idTemplate: 'fqdn:load-c%d.ikeway.test',
      },
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
