// CredentialStore: the one place that holds trust anchors, our certificates and private keys, and
// pre-shared keys (ARCHITECTURE principle 8). The IKE engine asks it for a signer for IKE_AUTH, for
// the CERTREQ hashes to send, for a PSK by identities, and to verify the peer's AUTH payload.
import { type KeyObject, type X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { Secret } from '../crypto/secret.ts';
import { IdType } from '../codec/iana.ts';
import { certHasId, requireId, verifyChain } from './chain.ts';
import { bytesEqual } from '../crypto/der.ts';
import { dnEquals, decodeDn } from './dn.ts';
import { CredsError, fail } from './errors.ts';
import {
  ANY_ID,
  ID_ANY,
  formatId,
  idEquals,
  idFromConfig,
  idMatches,
  parseId,
  type ConfigIdentity,
  type IkeId,
} from './identity.ts';
import { signOctets, verifySignature, type AuthData, type SignOptions } from './sign.ts';
import {
  certificateFromDer,
  loadCertificate,
  loadCertificates,
  loadPrivateKey,
  type Certificate,
} from './x509.ts';

type CertInput = string | Uint8Array | X509Certificate;
type IdInput = string | IkeId;

export interface StoreOptions extends SignOptions {
  /** Clock for certificate validity (ARCHITECTURE principle 7); default `() => new Date()`. */
  readonly clock?: () => Date;
}

/**
 * The authentication of one connection, as far as the store needs it. src/config's `PskAuth` and
 * `CertAuth` carry more (file paths for reloads) and fit these shapes; creds does not import config.
 */
export interface PskAuthInput {
  readonly kind: 'psk';
  readonly psk: Secret;
}

export interface CertAuthInput {
  readonly kind: 'cert';
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly ca: readonly X509Certificate[];
  /** Intermediate CAs we send after our certificate, issuer of `cert` first. */
  readonly chain: readonly X509Certificate[];
}

export interface LocalInput {
  readonly cert: CertInput;
  readonly key: string | Uint8Array | KeyObject;
  /** Intermediate CA certificates to send after ours in CERT payloads. */
  readonly chain?: readonly CertInput[];
  /** Our ID; default: the certificate's subject DN. Must be bound to the certificate. */
  readonly id?: IdInput;
}

/** What the engine needs to authenticate us with a certificate (RFC 7296 §2.15, §3.6, §3.8). */
export interface LocalSigner {
  /** IDi/IDr payload type and data. */
  readonly id: IkeId;
  readonly certificate: Certificate;
  /** DER certificates for CERT payloads (encoding X509_SIGNATURE): ours first, then intermediates. */
  readonly certificates: readonly Uint8Array[];
  /** `peerHashes`: the peer's SIGNATURE_HASH_ALGORITHMS, undefined when it sent none. */
  sign(octets: Uint8Array, peerHashes: readonly number[] | undefined): AuthData;
}

export interface PeerAuthInput {
  /** The identity from the peer's IDi/IDr payload. */
  readonly peerId: IkeId;
  /** The configured remote identity (pattern, "%any" allowed); the peer's ID must match it. */
  readonly expectedId?: IkeId;
  /** CERT payload data of encoding X509_SIGNATURE, in received order: end entity first. */
  readonly certs: readonly Uint8Array[];
  readonly authMethod: number;
  readonly authData: Uint8Array;
  /** The signed octets (RFC 7296 §2.15) the peer's AUTH covers. */
  readonly octets: Uint8Array;
  /** Hashes we announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4). */
  readonly allowedHashes?: readonly number[];
}

export interface PeerAuthResult {
  readonly ok: true;
  /** Subject DN of the peer's certificate, for logs. */
  readonly subject: string;
  readonly scheme: string;
  /** Validated path: the peer's certificate first, our trust anchor last. */
  readonly path: readonly Certificate[];
}

/** Peers send a handful of certificates; more is a resource attack (RFC 7296 §3.6 has no limit). */
const MAX_PEER_CERTS = 8;
const HASH_LEN = 20;

interface Local {
  readonly cert: Certificate;
  readonly key: KeyObject;
  readonly chain: readonly Certificate[];
  readonly id: IkeId;
}

interface PskEntry {
  readonly secret: Secret;
  readonly local: IkeId;
  readonly remote: IkeId;
}

const toId = (id: IdInput | undefined): IkeId =>
  id === undefined ? ANY_ID : typeof id === 'string' ? parseId(id) : id;

export class CredentialStore {
  readonly #anchors: Certificate[] = [];
  readonly #locals: Local[] = [];
  readonly #peers: Certificate[] = [];
  readonly #psks: PskEntry[] = [];
  readonly #clock: () => Date;
  readonly #opts: SignOptions;

  constructor(opts: StoreOptions = {}) {
    this.#clock = opts.clock ?? (() => new Date());
    this.#opts = { ...(opts.rsaPadding && { rsaPadding: opts.rsaPadding }) };
  }

  /**
   * A store for one connection of the validated config (src/config `Connection`). Generic in the
   * auth type so the config's richer `PskAuth | CertAuth` (with file paths) is taken as it is.
   */
  static fromConnection<A extends PskAuthInput | CertAuthInput>(
    conn: {
      readonly auth: A;
      readonly localId: ConfigIdentity;
      readonly remoteId: ConfigIdentity;
    },
    opts: StoreOptions = {},
  ): CredentialStore {
    const s = new CredentialStore(opts);
    const local = idFromConfig(conn.localId);
    if (conn.auth.kind === 'psk') {
      s.addPsk(conn.auth.psk, local, idFromConfig(conn.remoteId));
    } else {
      for (const ca of conn.auth.ca) s.addCa(ca);
      s.addLocal({
        cert: conn.auth.cert,
        key: conn.auth.key,
        chain: conn.auth.chain,
        ...(local.type !== ID_ANY && { id: local }),
      });
    }
    return s;
  }

  /** Add trust anchors (PEM may hold several). Throws CERT_INVALID for a certificate that is not a CA. */
  addCa(input: CertInput): Certificate[] {
    const certs = loadCertificates(input);
    for (const c of certs) {
      if (!c.ca) fail('CERT_INVALID', `"${c.subjectText}" is not a CA certificate (basicConstraints)`);
    }
    for (const c of certs) if (!this.#anchors.some((a) => bytesEqual(a.der, c.der))) this.#anchors.push(c);
    return certs;
  }

  /**
   * Trust a peer's end-entity certificate as configured (strongSwan's remote certs), for peers that
   * send no CERT payload; it is used when the peer's ID is bound to it and it is within validity.
   */
  addPeerCert(input: CertInput): Certificate {
    const c = loadCertificate(input);
    this.#peers.push(c);
    return c;
  }

  /** Add our certificate and private key. Throws NO_KEY (key does not fit) or ID_MISMATCH. */
  addLocal(input: LocalInput): LocalSigner {
    const cert = loadCertificate(input.cert);
    const key = loadPrivateKey(input.key);
    if (!cert.x509.checkPrivateKey(key))
      fail('NO_KEY', `the private key is not the key of "${cert.subjectText}"`);
    const id = input.id === undefined ? { type: IdType.DER_ASN1_DN, data: cert.subject } : toId(input.id);
    requireId(cert, id);
    const chain = (input.chain ?? []).flatMap((c) => loadCertificates(c));
    const local: Local = { cert, key, chain, id: canonicalId(cert, id) };
    this.#locals.push(local);
    return this.#signer(local, local.id);
  }

  /** A PSK for a pair of identities (either may be "%any"). `secret` bytes are not copied. */
  addPsk(secret: Secret | Uint8Array, localId?: IdInput, remoteId?: IdInput): void {
    const s = secret instanceof Secret ? secret : new Secret(secret, 'api');
    this.#psks.push({ secret: s, local: toId(localId), remote: toId(remoteId) });
  }

  /**
   * The PSK for our `localId` and the peer's `remoteId` (RFC 7296 §2.15). The best match wins: an
   * exact identity counts more than "%any". Throws NO_PSK.
   */
  psk(localId: IkeId, remoteId: IkeId): Secret {
    let best: { s: Secret; score: number } | undefined;
    for (const e of this.#psks) {
      if (!idMatches(e.local, localId) || !idMatches(e.remote, remoteId)) continue;
      const score = (e.local.type === ID_ANY ? 1 : 2) + (e.remote.type === ID_ANY ? 1 : 2);
      if (best === undefined || score > best.score) best = { s: e.secret, score };
    }
    if (best === undefined) fail('NO_PSK', `no PSK for ${formatId(localId)} - ${formatId(remoteId)}`);
    return best.s;
  }

  /**
   * A signer for our identity `id` (any local certificate when omitted). With the peer's CERTREQ
   * hashes (RFC 7296 §3.7), a certificate whose chain leads to a requested CA is preferred.
   * Throws NO_KEY.
   */
  localSigner(id?: IkeId, certReq?: readonly Uint8Array[]): LocalSigner {
    const fits = this.#locals.filter(
      (l) => id === undefined || id.type === ID_ANY || idEquals(l.id, id) || certHasId(l.cert, id),
    );
    const wanted = certReq?.length
      ? fits.find((l) => this.#chainHashes(l).some((h) => certReq.some((r) => bytesEqual(h, r))))
      : undefined;
    const l = wanted ?? fits[0];
    if (l === undefined) fail('NO_KEY', `no certificate and key for ${id ? formatId(id) : 'any identity'}`);
    return this.#signer(
      l,
      id === undefined || id.type === ID_ANY || idEquals(l.id, id) ? l.id : canonicalId(l.cert, id),
    );
  }

  /** SHA-1 hashes of our trust anchors' SubjectPublicKeyInfo, for CERTREQ (RFC 7296 §3.7). */
  caHashes(): Uint8Array[] {
    return this.#anchors.map((a) => a.spkiSha1);
  }

  /** CERTREQ Certification Authority field: the concatenated hashes. */
  certReqData(): Uint8Array {
    return Buffer.concat(this.caHashes());
  }

  /** Our trust anchors a peer's CERTREQ data names (unknown hashes are ignored). Throws MALFORMED. */
  requestedCas(certReqData: Uint8Array): Certificate[] {
    const hashes = splitCertReq(certReqData);
    return this.#anchors.filter((a) => hashes.some((h) => bytesEqual(h, a.spkiSha1)));
  }

  /**
   * Verify the peer's signature AUTH: its ID matches `expectedId`, its certificate chains to one of
   * our CAs (at the injected clock), the ID is bound to the certificate, and the AUTH data verifies.
   * Throws CredsError (ID_MISMATCH, CERT_UNTRUSTED, CERT_EXPIRED, CERT_INVALID, BAD_SIGNATURE,
   * MALFORMED, UNSUPPORTED).
   */
  verifyPeerAuth(input: PeerAuthInput): PeerAuthResult {
    if (input.expectedId && !idMatches(input.expectedId, input.peerId)) {
      fail('ID_MISMATCH', `peer ID ${formatId(input.peerId)} does not match ${formatId(input.expectedId)}`);
    }
    const { ee, path } = this.#peerPath(input.certs, input.peerId);
    const scheme = verifySignature(
      ee.publicKey,
      input.authMethod,
      input.authData,
      input.octets,
      input.allowedHashes,
    );
    return { ok: true, subject: ee.subjectText, scheme, path };
  }

  /** The peer's certificate path: from its CERT payloads, or a configured peer certificate. */
  #peerPath(certs: readonly Uint8Array[], peerId: IkeId): { ee: Certificate; path: Certificate[] } {
    const now = this.#clock();
    const [eeDer, ...rest] = certs;
    if (certs.length > MAX_PEER_CERTS) fail('CERT_UNTRUSTED', `the peer sent ${certs.length} certificates`);
    const sent = eeDer === undefined ? undefined : certificateFromDer(eeDer);
    // RFC 7296 §3.6: CERT payloads are optional; a configured peer certificate is trusted as it is.
    const configured = this.#peers.find((c) => (sent ? bytesEqual(c.der, sent.der) : certHasId(c, peerId)));
    const ee = sent ?? configured;
    if (ee === undefined) fail('CERT_UNTRUSTED', `no certificate sent or configured for ${formatId(peerId)}`);
    requireId(ee, peerId);
    if (configured === undefined) {
      return {
        ee,
        path: verifyChain(
          ee,
          rest.map((d) => certificateFromDer(d)),
          this.#anchors,
          now,
        ),
      };
    }
    if (now < ee.notBefore || now > ee.notAfter) fail('CERT_EXPIRED', `"${ee.subjectText}" is not valid now`);
    return { ee, path: [ee] };
  }

  #chainHashes(l: Local): Uint8Array[] {
    const top = l.chain[l.chain.length - 1] ?? l.cert;
    const anchors = this.#anchors.filter(
      (a) => bytesEqual(a.subject, top.issuer) || safeDnEq(a.subject, top.issuer),
    );
    return [...l.chain, ...anchors].map((c) => c.spkiSha1);
  }

  #signer(l: Local, id: IkeId): LocalSigner {
    const key = l.key;
    const opts = this.#opts;
    return Object.freeze({
      id,
      certificate: l.cert,
      certificates: [l.cert.der, ...l.chain.map((c) => c.der)],
      sign: (octets: Uint8Array, peerHashes: readonly number[] | undefined) => {
        const r = signOctets(key, octets, peerHashes, opts);
        return { method: r.method, data: r.data };
      },
      [inspect.custom]: () => `LocalSigner(${formatId(id)})`,
    });
  }

  [inspect.custom](): string {
    return `CredentialStore(${this.#anchors.length} CA, ${this.#locals.length} local, ${this.#peers.length} peer, ${this.#psks.length} PSK)`;
  }

  toJSON(): string {
    return this[inspect.custom]();
  }
}

/** A DN ID equal to the subject is sent as the certificate's own subject bytes (RFC 4945 §3.1.5). */
function canonicalId(cert: Certificate, id: IkeId): IkeId {
  if (id.type === IdType.DER_ASN1_DN && safeDnEq(id.data, cert.subject)) {
    return { type: id.type, data: cert.subject };
  }
  return id;
}

function safeDnEq(a: Uint8Array, b: Uint8Array): boolean {
  try {
    return dnEquals(decodeDn(a), decodeDn(b));
  } catch (e) {
    if (e instanceof CredsError) return false;
    throw e;
  }
}

/** RFC 7296 §3.7: the Certification Authority field is a concatenation of 20-octet SHA-1 hashes. */
export function splitCertReq(data: Uint8Array): Uint8Array[] {
  if (data.length % HASH_LEN !== 0)
    fail('MALFORMED', `CERTREQ data length ${data.length} is not a multiple of 20`);
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += HASH_LEN) out.push(data.subarray(o, o + HASH_LEN));
  return out;
}
