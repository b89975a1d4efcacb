// Adapts src/creds' CredentialStore to the narrow Credentials interface IKE_AUTH uses
// (src/ike/credentials.ts): RFC 7427 signatures, CERT/CERTREQ (RFC 7296 §3.6, §3.7), and the peer's
// ID matched against its certificate. The store alone holds the private key.
import { CertEncoding, HashAlgorithm } from '../codec/index.ts';
import type {
  CredentialStore,
  IkeId,
  RawKeyAuth,
  RevocationChecker,
  RevocationPolicy,
} from '../creds/index.ts';
import type { Credentials, LocalAuth, PeerAuthInput } from './credentials.ts';

export interface StoreCredentialsOptions {
  /** Our identity (must be bound to one of the store's certificates). */
  readonly localId?: IkeId;
  /** The identity (pattern) the peer must prove; undefined = any bound to a trusted certificate. */
  readonly expectedId?: IkeId;
  /** RFC 7427 §4 hashes we announce and accept. */
  readonly hashes?: readonly number[];
  /** Revocation of the peer's path after its AUTH verified (RFC 5280 §6.3, RFC 6960). */
  readonly revocation?: { readonly checker: RevocationChecker; readonly policy: RevocationPolicy };
}

const DEFAULT_HASHES = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];

export function storeCredentials(store: CredentialStore, opts: StoreCredentialsOptions = {}): Credentials {
  const hashes = opts.hashes ?? DEFAULT_HASHES;
  return {
    hashes,
    localAuth(octets: Uint8Array, peerHashes: readonly number[]): LocalAuth {
      const signer = store.localSigner(opts.localId);
      const auth = signer.sign(octets, peerHashes.length > 0 ? peerHashes : undefined);
      return {
        method: auth.method,
        data: auth.data,
        certs: signer.certificates.map((data) => ({ encoding: CertEncoding.X509_SIGNATURE, data })),
      };
    },
    verifyPeer(input: PeerAuthInput): void | Promise<void> {
      const result = store.verifyPeerAuth({
        peerId: input.id,
        ...(opts.expectedId ? { expectedId: opts.expectedId } : {}),
        certs: input.certs.filter((c) => c.encoding === CertEncoding.X509_SIGNATURE).map((c) => c.data),
        authMethod: input.method,
        authData: input.authData,
        octets: input.octets,
        allowedHashes: input.allowedHashes,
      });
      const r = opts.revocation;
      if (r !== undefined && r.policy.mode !== 'off') return r.checker.checkPath(result.path, r.policy);
    },
    certReqHashes: () => store.certReqData(),
  };
}

/**
 * RFC 7670 raw public keys through the same interface: our key goes out as CERT encoding 15, the
 * peer's AUTH is verified with the configured key (a raw key it sends must be that key; X.509
 * certificates it may send are ignored). No CERTREQ: there is no CA to name.
 */
export function rawKeyCredentials(auth: RawKeyAuth, hashes: readonly number[] = DEFAULT_HASHES): Credentials {
  return {
    hashes,
    localAuth(octets: Uint8Array, peerHashes: readonly number[]): LocalAuth {
      const a = auth.sign(octets, peerHashes.length > 0 ? peerHashes : undefined);
      return {
        method: a.method,
        data: a.data,
        certs: [{ encoding: CertEncoding.RAW_PUBLIC_KEY, data: auth.ownSpki }],
      };
    },
    verifyPeer(input: PeerAuthInput): void {
      const raw = input.certs.filter((c) => c.encoding === CertEncoding.RAW_PUBLIC_KEY).map((c) => c.data);
      auth.verify(raw, input.method, input.authData, input.octets, input.allowedHashes);
    },
    certReqHashes: () => new Uint8Array(),
  };
}
