// Certificate authentication for the load generator (RFC 7296 §2.15 signatures, RFC 7427): a PEM
// bundle of end certificates (SA n uses the n-th, cycling), one private key that fits them, and the
// trust anchors the responder's certificate must chain to. Files are read and checked once; each IKE
// SA gets its own CredentialStore (src/creds) bound to its identity, as the daemon builds one per
// connection. Errors name the file and the problem, never key material.
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import {
  CredentialStore,
  CredsError,
  formatId,
  loadCertificates,
  loadPrivateKey,
} from '../../src/creds/index.ts';
import type { Certificate, IkeId } from '../../src/creds/index.ts';
import type { Credentials } from '../../src/ike/credentials.ts';
import { storeCredentials } from '../../src/ike/creds-adapter.ts';

export interface LoadCert {
  /** PEM file with one or more end certificates; SA n uses certificate ((n - 1) mod count). */
  readonly cert: string;
  /** PEM private key file (PKCS#8 or SEC1) that fits every certificate of `cert`. */
  readonly key: string;
  /** PEM files with the CA certificates the responder's certificate must chain to. */
  readonly ca: readonly string[];
}

export class LoadCertError extends Error {
  override readonly name = 'LoadCertError';
  readonly code = 'ERR_LOAD_CERT';
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new LoadCertError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

function parse<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CredsError) throw new LoadCertError(`${what}: ${e.message}`);
    throw e;
  }
}

export class LoadCredentials {
  readonly #certs: readonly Certificate[];
  readonly #key: KeyObject;
  readonly #cas: readonly Certificate[];

  private constructor(certs: readonly Certificate[], key: KeyObject, cas: readonly Certificate[]) {
    this.#certs = certs;
    this.#key = key;
    this.#cas = cas;
  }

  /** Reads and checks the files: certificates parse, the key fits the first one, CAs are CAs. */
  static fromFiles(c: LoadCert): LoadCredentials {
    if (c.ca.length === 0) throw new LoadCertError('--ca: give at least one CA certificate file');
    const certs = parse(`--cert ${c.cert}`, () => loadCertificates(readText(c.cert, '--cert')));
    const key = parse(`--key ${c.key}`, () => loadPrivateKey(readText(c.key, '--key')));
    const probe = new CredentialStore();
    const cas = c.ca.flatMap((f) => parse(`--ca ${f}`, () => probe.addCa(readText(f, '--ca'))));
    const first = certs[0]!;
    if (!first.x509.checkPrivateKey(key))
      throw new LoadCertError(`--key ${c.key} is not the key of "${first.subjectText}" (--cert ${c.cert})`);
    return new LoadCredentials(certs, key, cas);
  }

  get count(): number {
    return this.#certs.length;
  }

  /** Credentials for SA number n (1-based) proving `localId`, which its certificate must hold. */
  forSa(n: number, localId: IkeId, remoteId?: IkeId): Credentials {
    const i = (n - 1) % this.#certs.length;
    const cert = this.#certs[i]!;
    const store = new CredentialStore();
    for (const ca of this.#cas) store.addCa(ca.x509);
    try {
      store.addLocal({ cert: cert.x509, key: this.#key, id: localId });
    } catch (e) {
      if (!(e instanceof CredsError)) throw e;
      throw new LoadCertError(
        `SA ${n}: identity ${formatId(localId)} with certificate ${i + 1} ("${cert.subjectText}"): ${e.message}`,
      );
    }
    return storeCredentials(store, { localId, ...(remoteId ? { expectedId: remoteId } : {}) });
  }
}
