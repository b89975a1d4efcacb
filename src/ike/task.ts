// The task model (strongSwan libcharon, ARCHITECTURE.md): one task per concern, each with `build` and
// `process`, its role fixed at construction. An exchange is the list of tasks sharing an exchange type:
//   initiator: build(request) for each task, send; on the response process(response) for each task.
//   responder: process(request) for each task, then build(response) for each task, send.
// Tasks never touch the network or netlink directly: they add payloads to messages, read payloads
// from messages, and reach the kernel through ChildSa.install (src/ike/kernel-install.ts).
// This file names no IKE SA: the task manager (exchange/task-manager.ts) and the IKE SA both build on it;
// which tasks exist is in task-registry.ts and tasks/index.ts.
import type { IkeHeader, Payload } from '../codec/index.ts';
import type { PacketPath } from '../net/transport.ts';

/** A message under construction. For IKE_SA_INIT `payloads` is the clear chain, otherwise the SK content. */
export interface OutboundMessage {
  readonly exchangeType: number;
  readonly response: boolean;
  readonly payloads: Payload[];
  add(...p: Payload[]): void;
  /** Runs `fn` once the message has been handed to the transport (e.g. destroy after a Delete reply). */
  after(fn: () => void | Promise<void>): void;
}

/** A received, authenticated (decrypted, reassembled, rule-checked) message. */
export interface InboundMessage {
  readonly header: IkeHeader;
  /** Clear payloads for IKE_SA_INIT, the decrypted inner chain otherwise. */
  readonly payloads: readonly Payload[];
  /** The message as received (for IKE_SA_INIT: the bytes the AUTH payload signs, RFC 7296 §2.15). */
  readonly bytes: Uint8Array;
  readonly path: PacketPath;
  /** The decrypted inner chain as received (reassembled if fragmented); absent for IKE_SA_INIT. */
  readonly plain?: { readonly firstType: number; readonly bytes: Uint8Array };
}

/**
 * 'done': the task finished. 'retry' (initiator only): send this exchange again after rebuilding every
 * task: IKE_SA_INIT with the same message ID (RFC 7296 §2.6 COOKIE, §1.2 INVALID_KE_PAYLOAD), any
 * other exchange as a new request (§1.3 INVALID_KE_PAYLOAD in CREATE_CHILD_SA). 'ignore' (initiator
 * only): the response is not one to act on (RFC 8019 §7.1.2: a PUZZLE without a COOKIE); the request
 * stays outstanding and its retransmissions go on. 'next' (initiator only, a single-task exchange): the
 * exchange is complete and the task runs another one right away, of the type its `exchange` names now
 * (RFC 9370 §2.2.4: IKE_FOLLOWUP_KE after CREATE_CHILD_SA).
 */
export type TaskResult = 'done' | 'retry' | 'ignore' | 'next';

export interface Task {
  /** For logs, e.g. "ike-init". */
  readonly name: string;
  /** ExchangeType value of the exchange the task runs in. */
  readonly exchange: number;
  build(msg: OutboundMessage): void | Promise<void>;
  /**
   * Throwing an IkeError with a notify makes a responder answer with that notify alone; on the
   * initiator a throw fails the exchange (and the IKE SA when it is IKE_SA_INIT or IKE_AUTH).
   */
  process(msg: InboundMessage): TaskResult | void | Promise<TaskResult | void>;
  /** The exchange ended without the task completing (error, give-up, IKE SA destroyed): clean up. */
  abort?(): void | Promise<void>;
}
