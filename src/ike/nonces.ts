// Nonces of CREATE_CHILD_SA exchanges (RFC 7296 §2.10) and the nonce rule that settles simultaneous
// rekeys (§2.8.1 Child SAs, §2.8.2 IKE SAs). Used by the rekey tasks and child-rekey-end.ts.

/** RFC 7296 §2.10: at least 128 bits and half the PRF key; 32 octets covers SHA-512. */
export const NONCE_LEN = 32;

/** Lexicographic order of two nonces (a shorter prefix sorts first), as "lowest" in RFC 7296 §2.8.1. */
export function compareNonces(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The lowest nonce of a list. */
function lowest(nonces: readonly Uint8Array[]): Uint8Array {
  return nonces.reduce((m, n) => (compareNonces(n, m) < 0 ? n : m));
}

/**
 * RFC 7296 §2.8.1: of two colliding rekeys, "the SA created with the lowest of the four nonces used in
 * the two exchanges is redundant". True when that is the exchange with nonces `ours`.
 */
export function oursIsRedundant(ours: readonly Uint8Array[], theirs: readonly Uint8Array[]): boolean {
  return compareNonces(lowest(ours), lowest(theirs)) < 0;
}
