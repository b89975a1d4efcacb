// Adapts src/creds' CredentialStore to the narrow Credentials interface IKE_AUTH uses
// (src/ike/credentials.ts): RFC 7427 signatures, CERT/CERTREQ (RFC 7296 §3.6, §3.7), and the peer's
// ID matched against its certificate. The store alone holds the private key.
import { CertEncoding, HashAlgorithm } from '../codec/index.ts';
import type { CredentialStore, IkeId, RevocationChecker, RevocationPolicy } from '../creds/index.ts';
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
