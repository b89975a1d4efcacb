// Deleting Child SAs (RFC 7296 §1.4.1): an INFORMATIONAL request with a Delete payload listing our
// inbound SPIs; the peer answers with the SPIs of the paired SAs. Both sides then remove the pair.
import { ExchangeType, ProtocolId } from '../../codec/index.ts';
import { retireChild } from '../child-rekey-end.ts';
import type { ChildSa } from '../child-sa.ts';
import type { IkeSa } from '../ike-sa.ts';
import { holderOf } from '../sa-holder.ts';
import type { OutboundMessage, Task } from '../task.ts';
import { u32Bytes } from '../wire.ts';

export class ChildDelete implements Task {
  readonly name = 'child-delete';
  readonly exchange = ExchangeType.INFORMATIONAL;
  #sent: ChildSa[] = [];

  constructor(
    private readonly sa: IkeSa,
    private readonly children: readonly ChildSa[],
  ) {}

  build(msg: OutboundMessage): void {
    this.#sent = this.children.filter((c) => c.state !== 'destroyed');
    for (const c of this.#sent) if (c.state !== 'deleting') c.setState('deleting');
    // §1.4.1: "listing the SPIs (as they would be expected in the headers of inbound packets)"; one
    // Delete payload per protocol (§3.11: the Protocol ID applies to all its SPIs), ESP = 3, AH = 2.
    for (const [protocolId, children] of byProtocol(this.#sent))
      msg.add({ kind: 'DELETE', protocolId, spiSize: 4, spis: children.map((c) => u32Bytes(c.spiIn)) });
  }

  /** §1.4.1: "the incoming SAs while processing the response" -- any answer closes them. */
  async process(): Promise<void> {
    for (const c of this.#sent) await retireChild(this.sa, c);
  }

  /**
   * The exchange died. If an IKE SA rekey moved the Child SAs to a live IKE SA (§2.8: the old one was
   * deleted under our request), the peer may never have seen the Delete: it is sent again there
   * (unknown SPIs are ignored by the peer, §1.4.1). Otherwise they are closed locally.
   */
  async abort(): Promise<void> {
    const sa = this.sa;
    const again = new Map<IkeSa, ChildSa[]>();
    for (const c of this.#sent) {
      const h = holderOf(sa, c);
      if (h !== sa && h.established && c.state !== 'destroyed') again.set(h, [...(again.get(h) ?? []), c]);
      else await retireChild(sa, c);
    }
    for (const [h, children] of again) {
      h.tasks.queue(new ChildDelete(h, children));
      h.services.run(h, () => h.tasks.initiate());
    }
  }
}

/** Queues the Delete of Child SAs we are responsible for closing, and starts it. */
export function queueChildDelete(sa: IkeSa, children: readonly ChildSa[]): void {
  sa.tasks.queue(new ChildDelete(sa, children));
  sa.services.run(sa, () => sa.tasks.initiate());
}

/**
 * RFC 7296 §2.9 / §1.2: the responder installed a Child SA that we, the initiator, could not install or
 * refuse (narrowed selectors, a proposal we did not offer, a kernel error); "the initiator ... MUST
 * delete" it. Our side is gone already, so the Delete names only the SPI the peer sends to (our
 * inbound SPI); the peer's answer needs nothing more from us.
 */
export class OrphanDelete implements Task {
  readonly name = 'child-delete-orphan';
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(
    private readonly spis: readonly number[],
    private readonly protocolId: ProtocolId = ProtocolId.ESP,
  ) {}

  build(msg: OutboundMessage): void {
    msg.add({ kind: 'DELETE', protocolId: this.protocolId, spiSize: 4, spis: this.spis.map(u32Bytes) });
  }

  process(): void {}
}

/** Queues and starts the Delete of a Child SA only the peer still holds (see OrphanDelete). */
export function queueOrphanDelete(sa: IkeSa, spiIn: number): void {
  if (!sa.established) return;
  sa.logger.log('info', 'deleting the Child SA the peer installed and we could not', {
    spi: spiIn.toString(16),
  });
  sa.tasks.queue(
    new OrphanDelete([spiIn], sa.config.childProtocol === 'ah' ? ProtocolId.AH : ProtocolId.ESP),
  );
  sa.services.run(sa, () => sa.tasks.initiate());
}

/** Child SAs grouped by the IKE protocol ID of their SAs (ESP first), for Delete payloads. */
export function byProtocol(children: readonly ChildSa[]): Map<ProtocolId, ChildSa[]> {
  const out = new Map<ProtocolId, ChildSa[]>();
  for (const c of children) {
    const id = c.protocol === 'ah' ? ProtocolId.AH : ProtocolId.ESP;
    out.set(id, [...(out.get(id) ?? []), c]);
  }
  return new Map([...out].sort((a, b) => b[0] - a[0]));
}
