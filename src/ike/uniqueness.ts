// One IKE SA per connection and pair of authenticated identities (RFC 7296 §2.4: INITIAL_CONTACT
// "asserts that this IKE SA is the only IKE SA currently active between the authenticated
// identities"; strongSwan's default uniqueness policy replaces duplicates too). Duplicates appear when
// both ends initiate the same connection at the same moment (both start at once, or one re-initiates
// on liveness/traffic while the other does): then both IKE SAs and both Child SA pairs come up, and
// the kernel holds one policy per selector, so the ends could send over different SAs.
//
// Both ends must keep the same one without talking about it, so the choice depends only on what both
// see: the IKE SA with the larger SPIi|SPIr stays. Only the end that initiated the survivor deletes
// the others: it alone knows the survivor is established on both ends (it got the IKE_AUTH or
// CREATE_CHILD_SA response, §1.2/§1.3.2); the responder of a survivor cannot tell whether its
// response arrived. If the peer never deletes them (its survivor never came up, or its Delete was
// lost), we probe the survivor and then delete the duplicates ourselves.
// Not a task: the Deletes and the probe are queued through the IKE SAs.
import type { IkeSa } from './ike-sa.ts';
import { patienceMs } from './rekey-guard.ts';

const live = (sa: IkeSa) => sa.state === 'established';

/**
 * The order of events (not clock time: several happen in one tick): when a responder IKE SA got its
 * IKE_SA_INIT, when an IKE SA was established.
 */
let sequence = 0;
const createdAt = new WeakMap<IkeSa, number>();
const establishedAt = new WeakMap<IkeSa, number>();

/** A responder IKE SA received its IKE_SA_INIT request (tasks/ike-init.ts). */
export function noteCreated(sa: IkeSa): void {
  createdAt.set(sa, ++sequence);
}

/**
 * RFC 7296 §2.4 INITIAL_CONTACT on `sa` (we are its responder): may `other` be destroyed as the state
 * the peer lost? Only if it was established before the peer started `sa`. One established meanwhile
 * may be the peer's own concurrent setup (both ends initiating at once: the peer decided to send
 * INITIAL_CONTACT before it had it); the uniqueness rule below settles those, with Deletes.
 */
export function staleOnInitialContact(sa: IkeSa, other: IkeSa): boolean {
  const created = createdAt.get(sa);
  const est = establishedAt.get(other);
  return created === undefined || est === undefined || est < created;
}

/** Lexicographic order of SPIi|SPIr: the same on both ends of each IKE SA. */
export function compareIkeSas(x: IkeSa, y: IkeSa): number {
  for (const [a, b] of [
    [x.spiI, y.spiI],
    [x.spiR, y.spiR],
  ] as const) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = (a[i] ?? -1) - (b[i] ?? -1);
      if (d !== 0) return d;
    }
  }
  return 0;
}

/**
 * Called when `sa` became established by IKE_AUTH: settles duplicates of the same connection and
 * peer identity. SAs in the middle of a rekey or a delete, and the IKE SAs of a rekey collision
 * (§2.8.2 settles those), are left alone.
 */
export function enforceUniqueness(sa: IkeSa): void {
  establishedAt.set(sa, ++sequence);
  if (!live(sa) || sa.peerId === undefined || sa.config.unique === 'no') return;
  const dups = sa.services
    .findByPeerId(sa.config, sa.peerId)
    .filter((x) => live(x) && !x.peerRekey && !x.successor);
  if (!dups.includes(sa)) dups.push(sa);
  if (dups.length < 2) return;
  const keep = dups.reduce((best, x) => (compareIkeSas(x, best) > 0 ? x : best));
  const losers = dups.filter((x) => x !== keep);
  for (const other of losers)
    sa.logger.log('info', 'duplicate IKE SA of the same peer (uniqueness)', {
      keep: keep.describe(),
      drop: other.describe(),
      by: keep.initiator ? 'us' : 'peer',
    });
  if (keep.initiator) {
    // After the survivor's current work (its first Child SA is installed before the duplicate's
    // Child SAs go; their policies are handed back to it, spd/spd.ts #handBack).
    sa.services.run(keep, async () => {
      for (const other of losers) if (live(other)) other.queueIkeDelete();
    });
    return;
  }
  const wait = patienceMs(sa.services);
  // The peer should delete them; if it has not after its retransmissions, ask whether the survivor
  // is alive (a dead one fails and the duplicate stays), then delete them ourselves.
  keep.after(wait, () => {
    if (!losers.some(live) || !live(keep)) return;
    if (!keep.tasks.active && keep.tasks.queued.length === 0) keep.queueDpd();
    keep.after(wait, () => {
      for (const other of losers)
        if (live(other) && live(keep)) {
          keep.logger.log('info', 'the peer did not delete a duplicate IKE SA; deleting it', {
            drop: other.describe(),
          });
          other.queueIkeDelete();
        }
    });
  });
}
