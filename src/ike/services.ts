// What an IKE SA and its tasks may use of the engine: injected side effects only (clock, randomness,
// kernel, transport, logger), so exchanges run in-process and deterministically in tests.
import type { KeyExchangePool } from '../crypto/index.ts';
import type { Kernel } from '../kernel/types.ts';
import type { PacketPath } from '../net/transport.ts';
import type { ChildSa } from './child-sa.ts';
import type { EngineOptions, IkeConnection, IkeIdentity } from './config.ts';
import type { Counters } from '../base/counters.ts';
import type { IkeSa } from './ike-sa.ts';
import type { Logger } from '../base/logger.ts';
import type { TaskRegistry } from './task.ts';
import type { TimerQueue } from '../base/timers.ts';

export type EngineEvent =
  | { readonly type: 'ike-established'; readonly sa: IkeSa }
  | { readonly type: 'ike-failed'; readonly sa: IkeSa; readonly reason: string }
  | { readonly type: 'ike-destroyed'; readonly sa: IkeSa }
  | { readonly type: 'child-installed'; readonly sa: IkeSa; readonly child: ChildSa }
  | { readonly type: 'child-failed'; readonly sa: IkeSa; readonly reason: string; readonly notify?: number }
  | { readonly type: 'child-destroyed'; readonly sa: IkeSa; readonly child: ChildSa }
  /** RFC 7296 §2.18: `sa` replaced `old` (Child SAs moved over). */
  | { readonly type: 'ike-rekeyed'; readonly sa: IkeSa; readonly old: IkeSa }
  /** RFC 7296 §2.8: `child` replaced `old` (same reqid and policies). */
  | { readonly type: 'child-rekeyed'; readonly sa: IkeSa; readonly child: ChildSa; readonly old: ChildSa };

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'retransmit' | 'spiMin' | 'spiMax'>> &
  Pick<EngineOptions, 'retransmit' | 'spiMin' | 'spiMax'>;

export interface EngineServices {
  readonly kernel: Kernel;
  readonly timers: TimerQueue;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly pool: KeyExchangePool;
  readonly options: ResolvedEngineOptions;
  readonly tasks: TaskRegistry;
  /** The transport's ports (IKE and NAT-T). */
  readonly ports: { readonly ike: number; readonly natt: number };
  randomBytes(n: number): Uint8Array;
  /** Hands one IKE message to the transport (errors are counted there; retransmission covers loss). */
  send(packet: Uint8Array, path: PacketPath): void;
  allocReqid(): number;
  /** RFC 7296 §2.6: a fresh, unique, non-zero 8-octet IKE SPI of ours (IKE SA rekey, §2.18). */
  newIkeSpi(): Uint8Array;
  nextChildId(): number;
  emit(e: EngineEvent): void;
  /** Runs work on an SA in that SA's serial order, tracked by engine.idle(). */
  run(sa: IkeSa, fn: () => Promise<void>): void;
  /** Responder: connections a peer at `path` may use, best address match first (src/ike/select.ts). */
  responderCandidates(path: PacketPath): IkeConnection[];
  /** Established IKE SAs of the same connection whose peer proved `id` (RFC 7296 §2.4 INITIAL_CONTACT). */
  findByPeerId(conn: IkeConnection, id: IkeIdentity): IkeSa[];
  /** Called by IkeSa when its SPIs become known or it dies, to keep the lookup tables exact. */
  indexSa(sa: IkeSa): void;
  unindexSa(sa: IkeSa): void;
}
