// Task registration: which tasks an initiator queues to establish an IKE SA, and which tasks answer
// each exchange as responder. New exchanges (CREATE_CHILD_SA, INFORMATIONAL) register here.
import { ExchangeType } from '../../codec/index.ts';
import type { IkeSa } from '../ike-sa.ts';
import { TaskRegistry, type Task } from '../task.ts';
import { ProtocolId } from '../../codec/index.ts';
import { ChildCreate } from './child-create.ts';
import { CreateChildSa } from './child-sa-create.ts';
import { IkeRekey } from './ike-rekey.ts';
import { Informational } from './informational.ts';
import { IkeAuth } from './ike-auth.ts';
import { IkeInit } from './ike-init.ts';
import { IkeNatd } from './ike-natd.ts';

/** The initiator's tasks for a new IKE SA with its first Child SA, in exchange order. */
export function initiatorTasks(sa: IkeSa): Task[] {
  return [new IkeInit(sa), new IkeNatd(sa), new IkeAuth(sa), new ChildCreate(sa)];
}

/** The responder's tasks per exchange type (order matters: payload order and processing order). */
export function defaultTaskRegistry(): TaskRegistry {
  return (
    new TaskRegistry()
      .register(ExchangeType.IKE_SA_INIT, (sa) => [new IkeInit(sa), new IkeNatd(sa)])
      .register(ExchangeType.IKE_AUTH, (sa) => [new IkeAuth(sa), new ChildCreate(sa)])
      // RFC 7296 §1.3: an SA payload with protocol IKE rekeys the IKE SA; otherwise a Child SA.
      .register(ExchangeType.CREATE_CHILD_SA, (sa, req) =>
        req.payloads.some((p) => p.kind === 'SA' && p.proposals.some((x) => x.protocolId === ProtocolId.IKE))
          ? [new IkeRekey(sa, false)]
          : [new CreateChildSa(sa, false)],
      )
      .register(ExchangeType.INFORMATIONAL, (sa) => [new Informational(sa)])
  );
}
