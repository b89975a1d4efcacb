// Deleting Child SAs (RFC 7296 §1.4.1): an INFORMATIONAL request with a Delete payload listing our
// inbound SPIs; the peer answers with the SPIs of the paired SAs. Both sides then remove the pair.
import { ExchangeType, ProtocolId } from '../../codec/index.ts';
import type { ChildSa } from '../child-sa.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { OutboundMessage, Task } from '../task.ts';
import { u32Bytes } from '../wire.ts';
import { retireChild } from './child-rekey.ts';

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
    // §1.4.1: "listing the SPIs (as they would be expected in the headers of inbound packets)".
    if (this.#sent.length > 0)
      msg.add({
        kind: 'DELETE',
        protocolId: ProtocolId.ESP,
        spiSize: 4,
        spis: this.#sent.map((c) => u32Bytes(c.spiIn)),
      });
  }

  /** §1.4.1: "the incoming SAs while processing the response" -- any answer closes them. */
  async process(): Promise<void> {
    for (const c of this.#sent) await retireChild(this.sa, c);
  }

  async abort(): Promise<void> {
    for (const c of this.#sent) await retireChild(this.sa, c);
  }
}
