// Deleting the IKE SA (RFC 7296 §1.4.1): a Delete payload with protocol IKE and no SPIs; "Deleting an
// IKE SA implicitly closes any remaining Child SAs negotiated under it." The response is empty.
import { ExchangeType, ProtocolId } from '../../codec/index.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { OutboundMessage, Task } from '../task.ts';
import { ikeDeleted } from '../rekey-guard.ts';

export class IkeDelete implements Task {
  readonly name = 'ike-delete';
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(private readonly sa: IkeSa) {}

  build(msg: OutboundMessage): void {
    if (this.sa.state !== 'deleting' && this.sa.state !== 'destroyed') this.sa.setState('deleting');
    msg.add({ kind: 'DELETE', protocolId: ProtocolId.IKE, spiSize: 0, spis: [] });
  }

  async process(): Promise<void> {
    await this.sa.destroy();
    ikeDeleted(this.sa);
  }

  async abort(): Promise<void> {
    await this.sa.destroy();
    ikeDeleted(this.sa);
  }
}

/** Queues the Delete of an IKE SA and starts it (it waits for an exchange already in flight). */
export function queueIkeDelete(sa: IkeSa): void {
  if (sa.state === 'destroyed') return;
  sa.tasks.queue(new IkeDelete(sa));
  sa.services.run(sa, () => sa.tasks.initiate());
}
