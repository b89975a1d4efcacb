// Every rekey state ends in bounded time (RFC 7296 §2.8, §2.8.1, §2.8.2, §2.25). The protocol leaves
// some endings to the peer: it deletes the SA it replaced, or the redundant SA of a collision it
// lost. Under loss the peer may never get there (its exchange died with an IKE SA that was rekeyed
// or deleted meanwhile), and a Child SA whose rekey failed gets no second soft expire from the
// kernel. These guards retry and clean up so that both sides always come back to one SA pair.
// Not a task: the work they start is queued through the IKE SA (queueChildRekey, queueChildDelete ...).
import type { ChildSa } from './child-sa.ts';
import { resolveRetransmit, retransmitDelays } from './exchange/retransmit.ts';
import type { EngineServices, IkeSa } from './ike-sa.ts';
import { holderOf } from './sa-holder.ts';

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
    if (child.state !== 'installed' || h.state !== 'established' || h.rekeyPending(child)) return;
    sa.logger.log('info', 'retrying the rekey of a Child SA', {
      child: child.id,
      attempt: child.rekeyRetries,
    });
    h.queueChildRekey(child);
  });
}

/** Child SAs a CREATE_CHILD_SA request of the peer made: the IKE SA and the request's message ID. */
const peerMade = new WeakMap<ChildSa, { readonly sa: WeakRef<IkeSa>; readonly messageId: number }>();

/** We installed `child` answering the peer's CREATE_CHILD_SA request `messageId` on `sa`. */
export function notePeerMade(sa: IkeSa, child: ChildSa, messageId: number): void {
  peerMade.set(child, { sa: new WeakRef(sa), messageId }); // the IKE SA may go before the Child SA
}

/**
 * May the peer still be waiting for our response that made `child`? Until a later request of the
 * peer arrives on that IKE SA (window size 1, RFC 7296 §2.3: it sends the next one only after our
 * response), it may not have installed it -- and answer a rekey of it with CHILD_SA_NOT_FOUND.
 */
function peerMayLack(sa: IkeSa, child: ChildSa): boolean {
  const m = peerMade.get(child);
  const made = m?.sa.deref();
  return !!made && holderOf(sa, child) === made && made.runner.expectedRequestId <= m!.messageId + 1;
}

const sameTs = (a: ChildSa, b: ChildSa) =>
  JSON.stringify([a.localTs, a.remoteTs], big) === JSON.stringify([b.localTs, b.remoteTs], big);
function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/**
 * Our rekey of `child` was answered CHILD_SA_NOT_FOUND (RFC 7296 §2.25): the peer no longer has it
 * (a local flush, a lost Delete), and a rekey can never succeed; it would die at its hard lifetime
 * with nothing after it. After `delayMs` (to twice that), a new Child SA with the same selectors
 * replaces it, then it is deleted -- but only if it is really gone on both sides: still installed
 * here and unreplaced (no Delete nor rekey of it from the peer arrived meanwhile: under loss the
 * answer may be to a rekey of an SA the peer itself just rekeyed in a collision, §2.8.1), and no
 * other Child SA of ours has these selectors (the peer can hold one only if we hold it too: we
 * install before we answer). Bounded by the Child SA's rekey retries.
 */
export function replaceLostChild(sa: IkeSa, child: ChildSa, delayMs: number): void {
  if (child.rekeyRetries >= MAX_REKEY_RETRIES) return retryChildRekey(sa, child, delayMs); // logs
  child.rekeyRetries++;
  sa.services.timers.after(retryDelayMs(sa.services, delayMs), () => {
    const h = holderOf(sa, child);
    if (child.state !== 'installed' || child.successor || child.peerRekey) return;
    if (h.state !== 'established' || h.rekeyPending(child)) return;
    const live = new Set(['installing', 'installed', 'rekeying']);
    const twin = h.children.some((c) => c !== child && live.has(c.state) && sameTs(c, child));
    // Another pair with these selectors: left to the paths that made it; or the peer may not have
    // finished making this one: retried as before.
    if (twin || peerMayLack(h, child)) return retryChildRekey(h, child, delayMs);
    sa.logger.log('info', 'the peer does not have a Child SA we rekey; replacing it', { child: child.id });
    h.queueChildReplacement(child);
  });
}

/**
 * The new Child SA `fresh` that replaces `lost` (replaceLostChild) is installed on both sides. If
 * `lost` is still unreplaced here, it is retired like a rekeyed SA (§2.8: the new one takes its
 * policies, same reqid) and deleted; if the peer rekeyed it meanwhile after all, `fresh` is the
 * redundant one and goes.
 */
export function replacedLost(sa: IkeSa, lost: ChildSa, fresh: ChildSa): void {
  const h = holderOf(sa, lost);
  if (lost.state === 'installed' && !lost.successor) {
    lost.successor = fresh;
    lost.setState('rekeyed');
    sa.services.emit({ type: 'child-rekeyed', sa, child: fresh, old: lost });
    h.queueChildDelete([lost]);
  } else if (lost.successor && lost.successor !== fresh && lost.successor.state !== 'destroyed') {
    sa.logger.log('info', 'the peer rekeyed the Child SA we replaced; deleting the replacement', {
      child: fresh.id,
    });
    sa.queueChildDelete([fresh]);
  }
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
    h.queueChildDelete([child]);
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
  sa.queueIkeDelete();
}
