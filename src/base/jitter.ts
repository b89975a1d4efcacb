// Rekey jitter (strongSwan's rand_time): when both peers have equal lifetimes they would start their
// rekeys at the same instant, and every rekey would be a collision (RFC 7296 §2.8.1). RFC 7296 §2.8:
// "... the responder SHOULD ... reduce the probability of this happening by having the rekey timer
// ... be randomized". The soft lifetime moves earlier by a random 0..fraction of the rekey margin.

/**
 * The rekey time shortened by a random part of the margin between rekey and lifetime (without a
 * lifetime, the margin is 10% of the rekey time). `fraction` 0 disables jitter. Never below 1 ms.
 */
export function jitteredRekeyMs(
  rekeyMs: number,
  lifetimeMs: number | undefined,
  fraction: number,
  random: (n: number) => Uint8Array,
): number {
  if (!(fraction > 0)) return rekeyMs;
  const margin = lifetimeMs !== undefined && lifetimeMs > rekeyMs ? lifetimeMs - rekeyMs : rekeyMs / 10;
  const b = random(2);
  const r = ((b[0]! << 8) | b[1]!) / 65536; // [0, 1)
  return Math.max(1, Math.round(rekeyMs - r * fraction * margin));
}
