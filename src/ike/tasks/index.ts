// Task registration: which tasks an initiator queues to establish an IKE SA, which tasks answer each
// exchange as responder, and the initiator work queued through an IKE SA (InitiatorFactory). The one
// module that knows every task; nothing below it imports a task above itself.
import { ExchangeType, ProtocolId } from '../../codec/index.ts';
import type { IkeSa, InitiatorFactory } from '../ike-sa.ts';
import { TaskRegistry } from '../task-registry.ts';
import type { Task } from '../task.ts';
import { firstChild, followingChildren } from '../child-config.ts';
import { IkeAuthChild } from './auth-child.ts';
import { queueChildDelete, queueOrphanDelete } from './child-delete.ts';
import { CreateChildSa, queueChildRekey, queueChildReplacement, rekeyPending } from './create-child-sa.ts';
import { queueDpd } from './dpd.ts';
import { followupResponder } from '../followup-ke.ts';
import { IkeAuth } from './ike-auth.ts';
import { queueIkeDelete } from './ike-delete.ts';
import { IkeInit } from './ike-init.ts';
import { IkeIntermediate, queueIntermediate } from './ike-intermediate.ts';
import { IkeNatd } from './ike-natd.ts';
import { IkeRekey } from './ike-rekey.ts';
import { Informational } from './informational.ts';

/**
 * The initiator's tasks for a new IKE SA, in exchange order: its first Child SA inside IKE_AUTH
 * (`child`, default the first that starts now), then one CREATE_CHILD_SA per other child that starts
 * now (RFC 7296 §1.3.1; the task manager runs one Child SA per exchange).
 */
export function initiatorTasks(sa: IkeSa, child?: string): Task[] {
  const first = firstChild(sa.config, child);
  return [
    new IkeInit(sa),
    new IkeNatd(sa),
    new IkeAuth(sa),
    new IkeAuthChild(sa, first.name),
    ...followingChildren(sa.config, first).map((cc) => new CreateChildSa(sa, true, { child: cc })),
  ];
}

/** The initiator work helpers and tasks queue through an IKE SA. */
export const defaultInitiators: InitiatorFactory = {
  queueChildDelete,
  queueOrphanDelete,
  queueIkeDelete,
  queueChildRekey,
  queueChildReplacement,
  queueDpd,
  rekeyPending,
  queueIntermediate,
};

/** The responder's tasks per exchange type (order matters: payload order and processing order). */
export function defaultTaskRegistry(): TaskRegistry {
  return (
    new TaskRegistry(defaultInitiators)
      .register(ExchangeType.IKE_SA_INIT, (sa) => [new IkeInit(sa), new IkeNatd(sa)])
      .register(ExchangeType.IKE_INTERMEDIATE, (sa) => [new IkeIntermediate(sa)])
      .register(ExchangeType.IKE_AUTH, (sa) => [new IkeAuth(sa), new IkeAuthChild(sa)])
      // RFC 7296 §1.3: an SA payload with protocol IKE rekeys the IKE SA; otherwise a Child SA.
      .register(ExchangeType.CREATE_CHILD_SA, (sa, req) =>
        req.payloads.some((p) => p.kind === 'SA' && p.proposals.some((x) => x.protocolId === ProtocolId.IKE))
          ? [new IkeRekey(sa, false)]
          : [new CreateChildSa(sa, false)],
      )
      // RFC 9370 §2.2.4: the pending CREATE_CHILD_SA its link names goes on (or STATE_NOT_FOUND).
      .register(ExchangeType.IKE_FOLLOWUP_KE, (sa, req) => [followupResponder(sa, req)])
      .register(ExchangeType.INFORMATIONAL, (sa) => [new Informational(sa)])
  );
}
