// What the exchange layer (task manager, message protection) needs of its IKE SA. The IKE SA
// (ike-sa.ts) is above this layer and satisfies the interface; this file imports nothing above it,
// so the task manager, protect.ts and the IKE SA form no import circle.
import type { Counters } from '../../base/counters.ts';
import type { Logger } from '../../base/logger.ts';
import type { TimerQueue } from '../../base/timers.ts';
import type { PacketPath } from '../../net/transport.ts';
import type { IkeKeymat } from '../keymat.ts';
import type { IkeSaState } from '../state.ts';
import type { InboundMessage, Task } from '../task.ts';
import type { ExchangeRunner } from './runner.ts';

/** The engine options and services the exchange layer reads. */
export interface ExchangeServices {
  readonly counters: Counters;
  readonly timers: TimerQueue;
  readonly options: {
    readonly fragmentSize: number;
    readonly maxFragments: number;
    readonly maxReassembly: number;
    /** RFC 7296 §2.21.4 hint: the short retransmit schedule of a probed request (runner.probe). */
    readonly restartProbeMs: readonly number[];
  };
  readonly ports: { readonly natt: number };
  /** Which exchange types have responder tasks (task-registry.ts). */
  readonly tasks: { has(exchangeType: number): boolean };
}

export interface ExchangeSa {
  readonly name: string;
  readonly logger: Logger;
  readonly services: ExchangeServices;
  readonly state: IkeSaState;
  readonly initiator: boolean;
  readonly spiI: Uint8Array;
  readonly spiR: Uint8Array;
  readonly keymat: IkeKeymat | undefined;
  readonly fragmentation: boolean;
  readonly natLocal: boolean;
  readonly natRemote: boolean;
  readonly runner: ExchangeRunner;
  path: PacketPath;
  lastInbound: number;
  initRequest: Uint8Array | undefined;
  initResponse: Uint8Array | undefined;
  /** The responder tasks for one received request (task-registry.ts). */
  responderTasks(request: InboundMessage): Task[];
  /** The SA failed: report and destroy. */
  fail(reason: string): Promise<void>;
  /** Ends the SA without reporting a failure (a half-open SA a normal step ended). */
  destroy(): Promise<void>;
}
