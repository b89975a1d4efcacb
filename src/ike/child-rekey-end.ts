// How a Child SA rekey ends (RFC 7296 §2.8): the old SA is retired once the new one is installed,
// and a simultaneous rekey by both peers is resolved by the nonce rule of §2.8.1. The exchange itself
// is the CREATE_CHILD_SA task (tasks/create-child-sa.ts) with a REKEY_SA notify; the Delete it leads
// to is queued through the IKE SA. Not a task: helpers of the Child SA tasks.
import { NotifyType } from '../codec/index.ts';
import type { ChildSa } from './child-sa.ts';
import { IkeError } from './errors.ts';
import type { IkeSa } from './ike-sa.ts';
import { oursIsRedundant } from './nonces.ts';
import { expectChildDelete, retryChildRekey } from './rekey-guard.ts';
import { holderOf } from './sa-holder.ts';
import type { InboundMessage } from './task.ts';
import { findNotify, u32 } from './wire.ts';

/**
 * Responder: the Child SA a REKEY_SA notify names (our outbound SPI is the peer's inbound one), or
 * undefined for a new Child SA. §2.25: CHILD_SA_NOT_FOUND if it does not exist, TEMPORARY_FAILURE if
 * we are closing it.
 */
export function rekeyTarget(sa: IkeSa, msg: InboundMessage): ChildSa | undefined {
  const n = findNotify(msg.payloads, NotifyType.REKEY_SA);
  if (!n) return undefined;
  const spi = n.spi.length === 4 ? u32(n.spi) : -1;
  const old = sa.children.find((c) => c.spiOut === spi && c.state !== 'destroyed');
  if (!old)
    throw new IkeError('ERR_NO_CONNECTION', 'rekey of an unknown Child SA', NotifyType.CHILD_SA_NOT_FOUND);
  if (old.state !== 'installed' && old.state !== 'rekeying')
    throw new IkeError(
      'ERR_TIMEOUT',
      `rekey of a Child SA that is ${old.state}`,
      NotifyType.TEMPORARY_FAILURE,
    );
  return old;
}

/** What a finished rekey exchange knows: the old and new Child SA and the exchange's nonces. */
export interface RekeyOutcome {
  readonly old: ChildSa | undefined;
  readonly child: ChildSa | undefined;
  readonly nonceI: Uint8Array | undefined;
  readonly nonceR: Uint8Array | undefined;
}

function replaced(sa: IkeSa, old: ChildSa, child: ChildSa): void {
  old.successor = child;
  if (old.state !== 'rekeyed') old.setState('rekeyed');
  sa.services.emit({ type: 'child-rekeyed', sa, child, old });
}

/**
 * Called once the new Child SA of a rekey is installed. Responder: remember the exchange if we are
 * rekeying the same SA ourselves (collision), else wait for the initiator's Delete of the old SA.
 * Initiator: apply the nonce rule if the peer rekeyed the same SA meanwhile, then Delete what we own.
 */
export async function childRekeyed(sa: IkeSa, r: RekeyOutcome, initiator: boolean): Promise<void> {
  const { old, child, nonceI, nonceR } = r;
  if (!old || !child || !nonceI || !nonceR) return;
  if (!initiator) {
    // §2.8.1: "If a peer receives a request to rekey a Child SA that it is currently trying to rekey,
    // it SHOULD reply as usual, and SHOULD prepare to delete redundant SAs later based on the nonces."
    awaitPeerInbound(sa, child);
    if (old.state === 'rekeying') old.peerRekey = { nonces: [nonceI, nonceR], child };
    else {
      replaced(sa, old, child);
      expectChildDelete(sa, old); // §2.8: the initiator deletes the old SA
    }
    return;
  }
  const peer = old.peerRekey;
  old.peerRekey = undefined;
  const redundant = !!peer && oursIsRedundant([nonceI, nonceR], peer.nonces);
  const lost = redundant && peer.child.state !== 'destroyed';
  if (old.state !== 'rekeying') {
    // The peer deleted the old SA while our response was on its way (it won the collision of §2.8.1
    // and our answer to its request told it so). Our new SA is then the redundant one: we close it,
    // also when the peer's SA is gone meanwhile (rekeyed again: our response came very late) -- the
    // peer deleted its side of ours already or never installs it.
    if (redundant) {
      sa.logger.log('info', 'Child SA rekey collision lost: deleting our redundant Child SA', {
        child: child.id,
      });
      if (peer.child.state !== 'destroyed') {
        child.successor = peer.child;
        sa.services.emit({ type: 'child-rekeyed', sa, child: peer.child, old });
      }
      sa.queueChildDelete([child]);
      return;
    }
    // Otherwise the new one stands on its own.
    sa.services.emit({ type: 'child-rekeyed', sa, child, old });
    return;
  }
  if (lost) {
    // We lost: our new SA is the redundant one and we created it, so we close it; the peer closes
    // the old one.
    sa.logger.log('info', 'Child SA rekey collision lost: deleting our redundant Child SA', {
      child: child.id,
    });
    child.successor = peer!.child;
    replaced(sa, old, peer!.child);
    expectChildDelete(sa, old); // the peer won: it deletes the old SA
    sa.queueChildDelete([child]);
    return;
  }
  if (peer) {
    sa.logger.log('info', 'Child SA rekey collision won: the peer deletes its redundant Child SA', {
      child: peer.child.id,
    });
    peer.child.successor = child;
    expectChildDelete(sa, peer.child);
  }
  // §2.8: "create a new, equivalent SA ..., and when the new one is established, delete the old one."
  replaced(sa, old, child);
  sa.queueChildDelete([old]);
}

/**
 * Removes a Child SA that was closed by a Delete exchange. One that a rekey replaced stays in the
 * kernel for the grace period: §2.8 "When there are two SAs eligible to receive packets, a node MUST
 * accept incoming packets through either SA."
 */
export async function retireChild(sa: IkeSa, child: ChildSa): Promise<void> {
  if (child.state === 'destroyed') return;
  const holder = holderOf(sa, child);
  // The peer deleted (or answered our Delete of) the SA this one replaced: it receives on the new one.
  if (child.successor?.outboundPending) await switchOutbound(holder, child.successor, 'old SA deleted');
  if (!child.successor) {
    reinstatePredecessor(holder, child);
    return holder.removeChild(child);
  }
  retireAfterGrace(sa, child, await child.inboundPackets(sa.services.kernel), 0);
}

/**
 * The old inbound SA leaves when the peer stopped using it: after `rekeyGraceMs`, unless packets
 * still arrived on it during that time (read from its kernel counters), then after another grace, at
 * most `rekeyGraceExtensions` times (a peer that never stops cannot keep it forever).
 */
function retireAfterGrace(sa: IkeSa, child: ChildSa, seen: bigint | undefined, extended: number): void {
  const { rekeyGraceMs, rekeyGraceExtensions } = sa.services.options;
  // Not an IKE SA timer: an IKE SA rekey (§2.8) may move the Child SA to the new IKE SA, and the old
  // one's timers die with it. The timer finds whichever IKE SA holds the Child SA when it fires.
  sa.services.timers.after(rekeyGraceMs, () => {
    if (child.state === 'destroyed') return;
    // The holder again when the work runs: an IKE SA rekey queued before it may move the Child SA.
    const h = holderOf(sa, child);
    sa.services.run(h, async () => {
      if (child.state === 'destroyed') return;
      const now =
        extended < rekeyGraceExtensions ? await child.inboundPackets(sa.services.kernel) : undefined;
      if (now !== undefined && seen !== undefined && now > seen) {
        sa.logger.log('debug', 'the peer still sends on the replaced Child SA: it stays a while', {
          child: child.id,
          packets: String(now - seen),
        });
        retireAfterGrace(sa, child, now, extended + 1);
        return;
      }
      await holderOf(h, child).removeChild(child);
    });
  });
}

/**
 * The new Child SA of a rekey we answered is deleted before the old one: the initiator could not
 * install it (RFC 7296 §2.9, it "MUST delete" it). The old SA carries the traffic on, so it is
 * `installed` again and can be rekeyed later.
 */
function reinstatePredecessor(sa: IkeSa, child: ChildSa): void {
  for (const c of sa.children)
    if (c.successor === child && c.state === 'rekeyed') {
      c.successor = undefined;
      c.setState('installed');
      sa.logger.log('info', 'the replacement of a rekeyed Child SA was deleted; the old one stays', {
        child: c.id,
      });
      // Its soft lifetime has passed already: no kernel EXPIRE will start the next rekey (§2.8).
      retryChildRekey(sa, c, sa.services.options.rekeyRetryMs);
    }
}

/**
 * Make-before-break (RFC 7296 §2.8) for a rekey we answered: our new inbound SA is in before the
 * response, but the initiator installs its inbound SA only when the response arrives. So our outbound
 * SA of the new Child SA waits (the old one carries the traffic) until the peer shows it can receive
 * on it -- its Delete of the old SA (retireChild), or a packet it sent on the new SA (the inbound
 * SA's kernel counters, read every `rekeyTrafficPollMs`: an initiator installs both directions at
 * once) -- or, at the latest, `rekeyOutboundGraceMs` passed (a lost Delete, a peer that deletes late
 * and sends nothing). A Child SA replaced meanwhile (a collision it lost, §2.8.1, or rekeyed again)
 * never gets it: the kernel would send on the newest SA of the reqid.
 */
function awaitPeerInbound(sa: IkeSa, child: ChildSa): void {
  if (!child.outboundPending) return;
  const { rekeyOutboundGraceMs: grace, rekeyTrafficPollMs: poll } = sa.services.options;
  const waiting = () => child.outboundPending && child.state === 'installed' && !child.successor;
  const deadline = sa.services.timers.now() + grace;
  const check = () => {
    if (!waiting()) return;
    const h = holderOf(sa, child);
    sa.services.run(h, async () => {
      if (!waiting()) return;
      const packets = await child.inboundPackets(sa.services.kernel);
      if (packets !== undefined && packets > 0n) await switchOutbound(h, child, 'traffic on the new SA');
      else if (sa.services.timers.now() + poll < deadline) sa.services.timers.after(poll, check);
    });
  };
  if (poll > 0 && poll < grace) sa.services.timers.after(poll, check);
  sa.services.timers.after(grace, () => {
    if (!waiting()) return;
    const h = holderOf(sa, child);
    sa.services.run(h, () => switchOutbound(h, child, 'grace passed'));
  });
}

async function switchOutbound(sa: IkeSa, child: ChildSa, why: string): Promise<void> {
  if (await child.installOutbound(sa.services.kernel))
    sa.logger.log('info', 'outbound traffic moves to the new Child SA', { child: child.id, why });
}
