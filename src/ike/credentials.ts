// The narrow interface IKE_AUTH needs for certificate (RFC 7427 signature) authentication. The
// credentials module (src/creds) implements it: it alone holds the private key, verifies chains to a
// trusted CA and matches the peer's ID against its certificate (RFC 7296 §2.15, §3.6, §3.7).
import type { IkeIdentity } from './identity.ts';

export interface LocalAuth {
  /** AUTH Method (AuthMethod.DIGITAL_SIGNATURE for RFC 7427). */
  readonly method: number;
  readonly data: Uint8Array;
  /** CERT payloads to send, end-entity first (CertEncoding value + DER). */
  readonly certs: readonly { readonly encoding: number; readonly data: Uint8Array }[];
}

export interface PeerAuthInput {
  readonly id: IkeIdentity;
  readonly method: number;
  readonly authData: Uint8Array;
  /** The octets the peer signed (RFC 7296 §2.15). */
  readonly octets: Uint8Array;
  /** CERT payloads received, in order. */
  readonly certs: readonly { readonly encoding: number; readonly data: Uint8Array }[];
  /** RFC 7427 §4: hash algorithms we announced in SIGNATURE_HASH_ALGORITHMS. */
  readonly allowedHashes: readonly number[];
}

export interface Credentials {
  /** Signs `octets` for our AUTH payload, honouring the hashes the peer announced (RFC 7427 §4). */
  localAuth(octets: Uint8Array, peerHashes: readonly number[]): LocalAuth;
  /**
   * Verifies the peer's AUTH: certificate chain to a trusted CA, `id` matched against the certificate,
   * the signature over `octets`, then (asynchronously, bounded in time) the revocation status of the
   * path. Throws or rejects (any error) on failure; IKE_AUTH answers AUTHENTICATION_FAILED.
   */
  verifyPeer(input: PeerAuthInput): void | Promise<void>;
  /** RFC 7296 §3.7: CERTREQ data, concatenated SHA-1 hashes of trusted CA public keys (may be empty). */
  certReqHashes(): Uint8Array;
  /** RFC 7427 §4: hash algorithms we support for signatures. */
  readonly hashes: readonly number[];
}
