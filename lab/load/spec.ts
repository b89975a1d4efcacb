// A compact, JSON-friendly description of one IKE connection (strings where the engine wants typed
// objects), turned into the engine's IkeConnection. Used by the load generator (one connection per
// IKE SA, distinct identities) and by the lab peer script of the interop tests. The daemon's real
// configuration path is src/config; this is the small programmatic twin for tools and labs.
import { readFileSync } from 'node:fs';
import { CredentialStore, parseId } from '../../src/creds/index.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import type { Credentials } from '../../src/ike/credentials.ts';
import { storeCredentials } from '../../src/ike/creds-adapter.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';

export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly code = 'ERR_SPEC';
  constructor(
    /** The field that is wrong, e.g. "connections[0].ike". */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface CertSpec {
  /** PEM files: our certificate, its private key, trust anchors, optional intermediates we send. */
  readonly cert: string;
  readonly key: string;
  readonly ca: readonly string[];
  readonly chain?: readonly string[];
}

export interface ConnectionSpec {
  readonly name: string;
  readonly localAddr: string;
  readonly remoteAddr?: string;
  /** Identities as in configs: "fqdn:a.example", "192.0.2.1", "C=XX, O=y, CN=z", "@host" ... */
  readonly localId: string;
  readonly remoteId?: string;
  /** Exactly one of psk (the octets of this string, or "0x..." hex), cert and credentials. */
  readonly psk?: string;
  readonly cert?: CertSpec;
  /** Ready-made certificate credentials (the load generator builds them once per identity). */
  readonly credentials?: Credentials;
  /** strongSwan-style proposal strings, e.g. "aes256gcm16-prfsha256-x25519". */
  readonly ike: string;
  readonly esp: string;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  readonly mode?: 'tunnel' | 'transport';
  readonly sendIdr?: boolean;
}

/** RFC 7296 §2.15: the PSK is an octet string; "0x" hex gives arbitrary octets. */
export function pskBytes(text: string, field = 'psk'): Uint8Array {
  if (/^0x([0-9a-f]{2})+$/i.test(text)) return new Uint8Array(Buffer.from(text.slice(2), 'hex'));
  if (text.length === 0) throw new SpecError(field, 'empty PSK');
  return new TextEncoder().encode(text);
}

function wrap<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SpecError) throw e;
    throw new SpecError(field, e instanceof Error ? e.message : String(e));
  }
}

function certAuth(spec: ConnectionSpec, field: string): IkeConnection['auth'] {
  const c = spec.cert!;
  const read = (f: string) => wrap(`${field}.cert`, () => readFileSync(f, 'utf8'));
  const store = new CredentialStore();
  const localId = wrap(`${field}.localId`, () => parseId(spec.localId));
  const remoteId = spec.remoteId === undefined ? undefined : parseId(spec.remoteId);
  wrap(`${field}.cert.ca`, () => c.ca.forEach((f) => store.addCa(read(f))));
  wrap(`${field}.cert`, () =>
    store.addLocal({ cert: read(c.cert), key: read(c.key), chain: (c.chain ?? []).map(read), id: localId }),
  );
  const credentials = storeCredentials(store, { localId, ...(remoteId ? { expectedId: remoteId } : {}) });
  return { kind: 'cert', credentials };
}

/** The engine connection for `spec`; throws SpecError naming the bad field (never echoing a PSK). */
export function connectionFromSpec(spec: ConnectionSpec, field = 'connection'): IkeConnection {
  const given = [spec.psk, spec.cert, spec.credentials].filter((x) => x !== undefined).length;
  if (given !== 1) throw new SpecError(`${field}.auth`, 'give exactly one of psk, cert and credentials');
  const auth: IkeConnection['auth'] =
    spec.psk !== undefined
      ? { kind: 'psk', psk: pskBytes(spec.psk, `${field}.psk`) }
      : spec.credentials !== undefined
        ? { kind: 'cert', credentials: spec.credentials }
        : certAuth(spec, field);
  const localId = wrap(`${field}.localId`, () => parseId(spec.localId));
  const remoteId =
    spec.remoteId === undefined ? undefined : wrap(`${field}.remoteId`, () => parseId(spec.remoteId!));
  return {
    name: spec.name,
    localAddr: spec.localAddr,
    ...(spec.remoteAddr !== undefined ? { remoteAddr: spec.remoteAddr } : {}),
    localId,
    // "%any" parses to type 0: accept any peer identity.
    ...(remoteId && remoteId.type !== 0 ? { remoteId } : {}),
    ...(spec.sendIdr ? { sendIdr: true } : {}),
    auth,
    ikeProposals: wrap(`${field}.ike`, () => parseProposals(spec.ike, 'ike')),
    espProposals: wrap(`${field}.esp`, () => parseProposals(spec.esp, 'esp')),
    localTs: spec.localTs.map((c, i) => wrap(`${field}.localTs[${i}]`, () => tsFromCidr(c))),
    remoteTs: spec.remoteTs.map((c, i) => wrap(`${field}.remoteTs[${i}]`, () => tsFromCidr(c))),
    mode: spec.mode ?? 'tunnel',
    childRekeyMs: 3_000_000,
    childLifetimeMs: 3_600_000,
  };
}
