// A Child SA rekey storm (issue 18, item 4): after the load generator brought its IKE SAs up, it
// rekeys their Child SAs (CREATE_CHILD_SA with REKEY_SA, then the Delete of the old one; RFC 7296
// §1.3.3, §2.8) round-robin for a given time, with at most `concurrency` rekeys in flight, the way a
// hub sees its branches' short lifetimes expire. Counts what completed, what failed and how many
// tunnels are still up at the end: a responder that loses one under the storm shows it here.
import type { Engine } from '../../src/ike/engine.ts';
import type { ChildSa } from '../../src/ike/child-sa.ts';
import type { IkeSa } from '../../src/ike/ike-sa.ts';

export interface StormOptions {
  /** How long new rekeys are started (s); the ones in flight then finish (bounded by timeoutMs). */
  readonly seconds: number;
  /** Most rekeys in flight at once. */
  readonly concurrency: number;
  /**
   * A tunnel is rekeyed again only this long (ms) after its last rekey started: its lifetime. Shorter
   * than the rekeyed SAs' grace (old inbound SAs are kept a few seconds) piles SAs up on both sides.
   */
  readonly intervalMs: number;
}

export interface StormReport {
  /** Tunnels (IKE SA with an installed Child SA) at the start of the storm. */
  readonly tunnels: number;
  readonly started: number;
  /** Rekeys that completed (the new Child SA installed, the old one replaced). */
  readonly rekeyed: number;
  /** Rekeys that failed (a child-failed event) or did not finish in time. */
  readonly failed: number;
  /** Tunnels that ended (IKE SA gone, or no installed Child SA) during the storm. */
  readonly lost: number;
  /** From the first rekey started to the last one settled (ms). */
  readonly elapsedMs: number;
  readonly ratePerSec: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const installedChild = (sa: IkeSa): ChildSa | undefined =>
  sa.state === 'established' ? sa.children.find((c) => c.state === 'installed') : undefined;

/**
 * Rekeys the Child SAs of `sas` round-robin for `o.seconds`; `onPhase` is told when the storm starts
 * and when its last rekey settled (the benchmark reads the responder's CPU there).
 */
export async function rekeyStorm(
  engine: Engine,
  sas: readonly IkeSa[],
  o: StormOptions,
  timeoutMs: number,
  now: () => number,
  onPhase?: (phase: 'start' | 'end') => void,
): Promise<StormReport> {
  const tunnels = sas.filter((sa) => installedChild(sa) !== undefined);
  const members = new Set<IkeSa>(tunnels);
  const inflight = new Map<IkeSa, number>();
  const last = new Map<IkeSa, number>();
  let rekeyed = 0;
  let failed = 0;
  const off = engine.onEvent((e) => {
    if (!members.has(e.sa)) return;
    if (e.type === 'child-rekeyed' && inflight.delete(e.sa)) rekeyed++;
    else if ((e.type === 'child-failed' || e.type === 'ike-destroyed') && inflight.delete(e.sa)) failed++;
  });
  onPhase?.('start');
  const t0 = now();
  const stop = t0 + o.seconds * 1000;
  let started = 0;
  let next = 0;
  let skipped = 0;
  try {
    // Bounded: each iteration starts a rekey, skips a tunnel, or sleeps; until the time is up.
    while (now() < stop && tunnels.length > 0) {
      for (const [sa, t] of inflight)
        if (now() - t > timeoutMs) {
          inflight.delete(sa);
          failed++;
        }
      if (inflight.size >= o.concurrency) {
        await sleep(1);
        continue;
      }
      // Round-robin: the next tunnel is the one rekeyed longest ago; wait until its interval passed.
      const sa = tunnels[next % tunnels.length]!;
      const wait = (last.get(sa) ?? -Infinity) + o.intervalMs - now();
      if (wait > 0) {
        await sleep(Math.min(20, Math.max(1, wait)));
        continue;
      }
      next++;
      const child = inflight.has(sa) ? undefined : installedChild(sa);
      if (!child) {
        // Gone, or still in its last rekey (counted at the end); a whole round of those: wait.
        if (++skipped >= tunnels.length) {
          skipped = 0;
          await sleep(1);
        }
        continue;
      }
      skipped = 0;
      inflight.set(sa, now());
      last.set(sa, now());
      started++;
      engine.rekeyChild(sa, child);
      if (started % 32 === 0) await sleep(0); // let answers in while starting a burst
    }
    const end = now() + timeoutMs;
    for (let i = 0; i < 100_000 && inflight.size > 0 && now() < end; i++) await sleep(5);
    failed += inflight.size;
    inflight.clear();
  } finally {
    off();
  }
  const elapsedMs = now() - t0;
  onPhase?.('end');
  const lost = tunnels.filter((sa) => installedChild(sa) === undefined).length;
  return {
    tunnels: tunnels.length,
    started,
    rekeyed,
    failed,
    lost,
    elapsedMs,
    ratePerSec: elapsedMs > 0 ? (rekeyed * 1000) / elapsedMs : 0,
  };
}
