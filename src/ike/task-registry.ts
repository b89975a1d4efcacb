// Which tasks an IKE SA is made of: the responder tasks answering each exchange type, and the
// initiator work other parts of the engine queue on an SA without naming a task class
// (InitiatorFactory, ike-sa.ts). tasks/index.ts fills in the defaults.
import type { IkeSa, InitiatorFactory, SaTaskFactory } from './ike-sa.ts';
import type { InboundMessage, Task } from './task.ts';

/** Creates the responder tasks for one received request. */
export type ResponderFactory = (sa: IkeSa, request: InboundMessage) => Task[];

/**
 * Which tasks answer which exchange as responder. Later exchanges (CREATE_CHILD_SA, INFORMATIONAL)
 * register here; several factories per exchange type are concatenated in registration order.
 */
export class TaskRegistry implements SaTaskFactory {
  readonly #factories = new Map<number, ResponderFactory[]>();

  constructor(readonly initiators: InitiatorFactory) {}

  register(exchangeType: number, factory: ResponderFactory): this {
    const list = this.#factories.get(exchangeType) ?? [];
    list.push(factory);
    this.#factories.set(exchangeType, list);
    return this;
  }

  has(exchangeType: number): boolean {
    return this.#factories.has(exchangeType);
  }

  create(sa: IkeSa, request: InboundMessage): Task[] {
    return (this.#factories.get(request.header.exchangeType) ?? []).flatMap((f) => f(sa, request));
  }
}
