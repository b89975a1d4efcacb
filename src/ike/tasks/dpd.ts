// Liveness check (RFC 7296 §2.4, §1.4): an INFORMATIONAL request with no payloads. "This is the
// expected way an endpoint can ask the other endpoint to verify that it is alive." The answer updates
// IkeSa.lastInbound (exchange/task-manager.ts); no answer after all retransmissions fails the IKE SA.
import { ExchangeType } from '../../codec/index.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { Task } from '../task.ts';

export class Dpd implements Task {
  readonly name = 'dpd';
  readonly exchange = ExchangeType.INFORMATIONAL;
  build(): void {}
  process(): void {}
}

/** Queues a liveness check on `sa` and starts it. */
export function queueDpd(sa: IkeSa): void {
  sa.tasks.queue(new Dpd());
  sa.services.run(sa, () => sa.tasks.initiate());
}
