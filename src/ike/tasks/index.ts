// Task registration: which tasks an initiator queues to establish an IKE SA, and which tasks answer
// each exchange as responder. New exchanges (CREATE_CHILD_SA, INFORMATIONAL) register here.
import { ExchangeType } from '../../codec/index.ts';
import type { IkeSa } from '../ike-sa.ts';
import { TaskRegistry, type Task } from '../task.ts';
import { ChildCreate } from './child-create.ts';
import { IkeAuth } from './ike-auth.ts';
import { IkeInit } from './ike-init.ts';
import { IkeNatd } from './ike-natd.ts';

/** The initiator's tasks for a new IKE SA with its first Child SA, in exchange order. */
export function initiatorTasks(sa: IkeSa): Task[] {
  return [new IkeInit(sa), new IkeNatd(sa), new IkeAuth(sa), new ChildCreate(sa)];
}

/** The responder's tasks per exchange type (order matters: payload order and processing order). */
export function defaultTaskRegistry(): TaskRegistry {
  return new TaskRegistry()
    .register(ExchangeType.IKE_SA_INIT, (sa) => [new IkeInit(sa), new IkeNatd(sa)])
    .register(ExchangeType.IKE_AUTH, (sa) => [new IkeAuth(sa), new ChildCreate(sa)]);
}
