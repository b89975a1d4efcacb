// Every rekey state ends in bounded time (RFC 7296 §2.8, §2.8.1, §2.8.2, §2.25). The protocol leaves
// some endings to the peer: it deletes the SA it replaced, or the redundant SA of a collision it
// lost. Under loss the peer may never get there (its exchange died with an IKE SA that was rekeyed
// or deleted meanwhile), and a Child SA whose rekey failed gets no second soft expire from the
// kernel. These guards retry and clean up so that both sides always come back to one SA pair.
import { resolveRetransmit, retransmitDelays } from '../exchange/retransmit.ts';
import type { ChildSa } from '../child-sa.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { EngineServices } from '../services.ts';
import { CreateChildSa } from './child-sa-create.ts';
import { holderOf, queueChildDelete } from './child-rekey.ts';
import { queueIkeDelete } from './ike-delete.ts';

/** Failed rekeys of one Child SA that are retried before its hard lifetime ends it (§2.8). */
export const MAX_REKEY_RETRIES = 8;

/**
 * How long we wait for the peer to end its part: its whole retransmission schedule (§2.1; assumed
 * equal to ours) and the rekey grace period.
 */
export function patienceMs(s: EngineServices): number {
  const total = retransmitDelays(resolveRetransmit(s.options.retransmit)).reduce((a, b) => a + b, 0);
  return Math.round(total) + s.options.rekeyGraceMs;
}

/**
 * A retry delay of `ms` to 2 x `ms`, random: two peers refusing each other's rekeys with
 * TEMPORARY_FAILURE (§2.25) must not retry in lockstep forever.
 */
export function retryDelayMs(s: EngineServices, ms: number): number {
  return Math.round(ms * (1 + s.randomBytes(1)[0]! / 256));
}

/**
 * A Child SA rekey that did not happen (refused with TEMPORARY_FAILURE §2.25, aborted by an IKE SA
 * rekey that moved the Child SA, a failed exchange): tried again after `delayMs` (to twice that,
 * random) on whichever IKE SA
 * holds the Child SA then, while it is still installed and unreplaced (bounded per Child SA).
 */
export function retryChildRekey(sa: IkeSa, child: ChildSa, delayMs: number): void {
  if (child.rekeyRetries >= MAX_REKEY_RETRIES) {
    sa.logger.log('warn', 'Child SA rekey failed too often; it ends at its hard lifetime', {
      child: child.id,
    });
    return;
  }
  child.rekeyRetries++;
  sa.services.timers.after(retryDelayMs(sa.services, delayMs), () => {
    const h = holderOf(sa, child);
    if (child.state !== 'installed' || h.state !== 'established' || rekeyPending(h, child)) return;
    sa.logger.log('info', 'retrying the rekey of a Child SA', {
      child: child.id,
      attempt: child.rekeyRetries,
    });
    h.tasks.queue(new CreateChildSa(h, true, { rekey: child }));
    h.services.run(h, () => h.tasks.initiate());
  });
}

/** True when a rekey of `child` is queued or running on `sa`. */
export function rekeyPending(sa: IkeSa, child: ChildSa): boolean {
  const tasks = [...sa.tasks.queued, ...(sa.tasks.active?.tasks ?? [])];
  return tasks.some((t) => t instanceof CreateChildSa && t.old === child);
}

/**
 * A Child SA the peer is expected to delete (the one its rekey replaced, §2.8; the redundant one of
 * a collision it lost, §2.8.1). If it is still there after the peer had all its retransmissions, we
 * delete it ourselves (either side may delete an SA, §1.4.1).
 */
export function expectChildDelete(sa: IkeSa, child: ChildSa): void {
  sa.services.timers.after(patienceMs(sa.services), () => {
    if (child.state === 'destroyed' || child.state === 'deleting') return;
    if (child.state === 'installed' && !child.successor) return; // reinstated: it carries the traffic
    const h = holderOf(sa, child);
    if (!h.established && h.state !== 'rekeyed') return;
    sa.logger.log('info', 'the peer did not delete a replaced Child SA; deleting it', { child: child.id });
    queueChildDelete(h, [child]);
  });
}

/** Redundant IKE SAs by the old IKE SA whose collision created them (§2.8.2). */
const redundantOf = new WeakMap<IkeSa, IkeSa>();

/**
 * An IKE SA the peer is expected to delete (the one its rekey replaced, §2.18; the redundant one of
 * a collision it lost, §2.8.2, then `old` is the IKE SA both rekeyed): deleted by us once the peer had
 * all its retransmissions, or once `old` is deleted (the peer's exchange on it can no longer end).
 */
export function expectIkeDelete(sa: IkeSa, old?: IkeSa): void {
  if (old) redundantOf.set(old, sa);
  sa.after(patienceMs(sa.services), () => deleteStale(sa));
}

/** The Delete of `old` ended: a redundant IKE SA the peer created on it is deleted now. */
export function ikeDeleted(old: IkeSa): void {
  const r = redundantOf.get(old);
  redundantOf.delete(old);
  if (r) deleteStale(r);
}

function deleteStale(sa: IkeSa): void {
  if (sa.state !== 'established' && sa.state !== 'rekeyed') return;
  sa.logger.log('info', 'the peer did not delete a replaced IKE SA; deleting it');
  queueIkeDelete(sa);
}
