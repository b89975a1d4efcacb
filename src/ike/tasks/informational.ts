// The responder side of INFORMATIONAL (RFC 7296 §1.4): Delete payloads for the IKE SA or its Child
// SAs (§1.4.1), an empty request as a liveness check (§2.4), AUTHENTICATION_FAILED after IKE_AUTH
// (§2.21.2) closing the IKE SA, other notifies logged. "The recipient of an
// INFORMATIONAL exchange request MUST send some response ... That response MAY be an empty message."
import {
  ExchangeType,
  NotifyType,
  ProtocolId,
  isErrorNotify,
  type DeletePayload,
} from '../../codec/index.ts';
import type { ChildSa } from '../child-sa.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { u32, u32Bytes } from '../wire.ts';
import { retireChild } from '../child-rekey-end.ts';
import { byProtocol } from './child-delete.ts';

export class Informational implements Task {
  readonly name = 'informational';
  readonly exchange = ExchangeType.INFORMATIONAL;
  #deleteIke = false;
  /** Child SAs the peer closed; `answer` false when we had sent our own Delete (crossing deletes). */
  readonly #children: { child: ChildSa; answer: boolean }[] = [];

  constructor(private readonly sa: IkeSa) {}

  process(msg: InboundMessage): void {
    const sa = this.sa;
    for (const p of msg.payloads) {
      if (p.kind === 'NOTIFY' && p.notifyType === NotifyType.AUTHENTICATION_FAILED) {
        // RFC 7296 §2.21.2: an initiator that fails to authenticate us "MAY" say so "in a separate
        // INFORMATIONAL exchange" after IKE_AUTH (strongSwan does). The IKE SA is then not
        // authenticated on the peer's side: it goes, with its Child SAs, as if the peer had deleted it.
        sa.logger.log('warn', 'peer failed to authenticate us (AUTHENTICATION_FAILED): IKE SA deleted', {
          notify: p.notifyType,
        });
        sa.services.counters.inc('ike.auth_failed');
        this.#deleteIke = true;
      } else if (p.kind === 'NOTIFY' && isErrorNotify(p.notifyType))
        sa.logger.log('info', 'peer reported an error in INFORMATIONAL', { notify: p.notifyType });
      if (p.kind !== 'DELETE') continue;
      if (p.protocolId === ProtocolId.IKE) this.#deleteIke = true;
      else this.#childDeletes(p);
    }
  }

  #childDeletes(p: DeletePayload): void {
    const proto = p.protocolId === ProtocolId.ESP ? 'esp' : p.protocolId === ProtocolId.AH ? 'ah' : undefined;
    if (proto === undefined || p.spiSize !== 4) return;
    for (const spi of p.spis) {
      // The peer lists its inbound SPIs: our outbound ones, of that protocol (an ESP and an AH SA may
      // share an SPI value). Unknown SPIs (already gone) are ignored.
      const v = u32(spi);
      const child = childrenOf(this.sa).find(
        (c) => c.spiOut === v && c.protocol === proto && c.state !== 'destroyed',
      );
      if (!child || this.#children.some((x) => x.child === child)) continue;
      // §1.4.1: "If a node receives a delete request for SAs for which it has already issued a delete
      // request, ... the responses MUST NOT include Delete payloads for the deleted SAs".
      this.#children.push({ child, answer: child.state !== 'deleting' });
    }
  }

  build(msg: OutboundMessage): void {
    const sa = this.sa;
    if (this.#deleteIke) {
      // §1.4.1: "The response to a request that deletes the IKE SA is an empty INFORMATIONAL response."
      // Child SAs named in the same request (they may live on the IKE SA that replaced this one) close too.
      if (sa.state !== 'deleting') sa.setState('deleting');
      msg.after(async () => {
        for (const { child } of this.#children) await retireChild(sa, child);
        await closeIke(sa);
      });
      return;
    }
    const answered = this.#children.filter((x) => x.answer).map((x) => x.child);
    for (const c of answered) c.setState('deleting');
    // §1.4.1: "the response ... will contain Delete payloads for the paired SAs going in the other direction."
    for (const [protocolId, children] of byProtocol(answered))
      msg.add({ kind: 'DELETE', protocolId, spiSize: 4, spis: children.map((c) => u32Bytes(c.spiIn)) });
    msg.after(async () => {
      for (const { child } of this.#children) await retireChild(sa, child);
    });
  }
}

/**
 * The Child SAs of an IKE SA and of the IKE SAs that replaced it: a Delete the peer sent on the old
 * IKE SA before it learned of the rekey names Child SAs that moved to the new one (RFC 7296 §2.8).
 */
function childrenOf(sa: IkeSa): ChildSa[] {
  const out: ChildSa[] = [];
  let s: IkeSa | undefined = sa;
  for (let i = 0; s && i < 16; i++, s = s.successor) out.push(...s.children);
  return out;
}

/**
 * Destroys an IKE SA the peer deleted. If it was replaced by a rekey whose exchange is still settling
 * (RFC 7296 §2.8.2 collisions), its Child SAs move to the new IKE SA instead of dying with it.
 */
export async function closeIke(sa: IkeSa): Promise<void> {
  const announced = sa.successor !== undefined;
  const heir = sa.successor ?? sa.peerRekey?.sa;
  if (heir && heir.state !== 'destroyed') {
    heir.children.push(...sa.children.splice(0));
    // The peer's rekey we answered while rekeying ourselves stands (§2.8.2; our exchange dies with
    // this SA): announced as the replacement, so its rekey, lifetime and liveness timers run.
    if (!announced) {
      sa.successor = heir; // holderOf() finds the Child SAs there
      sa.services.emit({ type: 'ike-rekeyed', sa: heir, old: sa });
    }
  }
  await sa.destroy();
}
