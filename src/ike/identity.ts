// An IKE identity (RFC 7296 §3.5), shared by the connection configuration (config.ts) and the
// credentials interface (credentials.ts). Imports nothing, so both can name it without a circle.

/** An IKE identity: type and identification data as on the wire. */
export interface IkeIdentity {
  /** IdType value. */
  readonly type: number;
  readonly data: Uint8Array;
}
