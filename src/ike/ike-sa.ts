// The IKE SA (RFC 7296 §1, §2): SPIs, role, state, negotiated keys, the path to the peer, its Child
// SAs, one exchange runner (message IDs, retransmits) and one task manager. Everything that dies with
// the SA (keys, timers, Child SAs, runner) is released by destroy().
import type { KeyExchangePool } from '../crypto/index.ts';
import type { KeInitiator } from '../crypto/ke-roles.ts';
import type { Kernel } from '../kernel/types.ts';
import type { PacketPath } from '../net/transport.ts';
import type { ChildSa } from './child-sa.ts';
import type { EngineOptions, IkeConnection, IkeIdentity } from './config.ts';
import type { Counters } from '../base/counters.ts';
import { ExchangeRunner } from './exchange/runner.ts';
import { TaskManager } from './exchange/task-manager.ts';
import type { IkeKeymat, NegotiatedIke } from './keymat.ts';
import type { LogFields, LogLevel, Logger } from '../base/logger.ts';
import type { Proposal } from './proposals.ts';
import { IKE_TRANSITIONS, StateMachine, type IkeSaState } from './state.ts';
import type { InboundMessage, Task } from './task.ts';
import type { TimerHandle, TimerQueue } from '../base/timers.ts';
import { hex } from './wire.ts';

// ---- What an IKE SA and its tasks may use of the engine: injected side effects only (clock,
// randomness, kernel, transport, logger), so exchanges run in-process and deterministically in tests.
// Declared here, next to the IKE SA they name (services.ts re-exports them for the engine's users).

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
  | { readonly type: 'child-rekeyed'; readonly sa: IkeSa; readonly child: ChildSa; readonly old: ChildSa }
  /** An exchange of `sa` completed: its message IDs moved (only with retainChildKeys: HA sync). */
  | { readonly type: 'ike-advanced'; readonly sa: IkeSa };

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'retransmit' | 'spiMin' | 'spiMax'>> &
  Pick<EngineOptions, 'retransmit' | 'spiMin' | 'spiMax'>;

/**
 * The initiator work that helpers and tasks ask an IKE SA for without naming a task class (strongSwan:
 * everything but composition goes through the IKE SA's task queue). Each call queues the task on
 * `sa` and starts it after the exchanges before it. tasks/index.ts provides it.
 */
export interface InitiatorFactory {
  /** RFC 7296 §1.4.1: Delete of Child SAs we are responsible for closing. */
  queueChildDelete(sa: IkeSa, children: readonly ChildSa[]): void;
  /** §2.9 / §1.2: Delete of a Child SA only the peer still holds (our inbound SPI). */
  queueOrphanDelete(sa: IkeSa, spiIn: number): void;
  /** §1.4.1: Delete of the IKE SA (waits for an exchange already in flight). */
  queueIkeDelete(sa: IkeSa): void;
  /** §1.3.3: a rekey of `child`. */
  queueChildRekey(sa: IkeSa, child: ChildSa): void;
  /** §2.25: a new Child SA that replaces `lost`, which the peer no longer has (rekey-guard.ts). */
  queueChildReplacement(sa: IkeSa, lost: ChildSa): void;
  /** §2.4: an empty INFORMATIONAL request (liveness check). */
  queueDpd(sa: IkeSa): void;
  /** True when a rekey (or a replacement) of `child` is queued or running on `sa`. */
  rekeyPending(sa: IkeSa, child: ChildSa): boolean;
  /** RFC 9370 §2.2.2: one IKE_INTERMEDIATE exchange per additional key exchange, before IKE_AUTH. */
  queueIntermediate(sa: IkeSa, methods: readonly number[]): void;
}

/** The tasks an IKE SA is made of (task-registry.ts): responders per exchange, initiators on demand. */
export interface SaTaskFactory {
  has(exchangeType: number): boolean;
  create(sa: IkeSa, request: InboundMessage): Task[];
  readonly initiators: InitiatorFactory;
}

export interface EngineServices {
  readonly kernel: Kernel;
  readonly timers: TimerQueue;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly pool: KeyExchangePool;
  readonly options: ResolvedEngineOptions;
  readonly tasks: SaTaskFactory;
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

// ---- The IKE SA

let uniqueIds = 0;
const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

export interface IkeSaInit {
  readonly services: EngineServices;
  readonly config: IkeConnection;
  /** True when we are the original initiator (RFC 7296 §2.2: decides the I flag and key directions). */
  readonly initiator: boolean;
  readonly path: PacketPath;
  readonly spiI: Uint8Array;
  readonly spiR?: Uint8Array;
}

/** A logger that can tell whether a level is on (DaemonLogger), so that fields are not built for nothing. */
type LevelLogger = Logger & { enabled?(level: LogLevel): boolean };

export class IkeSa implements Logger {
  /** Unique per process, for logs and `ikeway status` ("name[id]"). */
  readonly id = ++uniqueIds;
  readonly services: EngineServices;
  readonly initiator: boolean;
  readonly runner: ExchangeRunner;
  readonly tasks: TaskManager;
  config: IkeConnection;
  spiI: Uint8Array;
  spiR: Uint8Array;
  /** Where we send to and from; updated on NAT-T port switch (RFC 7296 §2.23). */
  path: PacketPath;

  // Negotiation results (IKE_SA_INIT).
  proposal: Proposal | undefined;
  algorithms: NegotiatedIke | undefined;
  keGroup: number | undefined;
  ke: KeInitiator | undefined;
  /** RFC 9370: the additional key exchange methods negotiated (transform types 6..12 in order). */
  addKe: readonly number[] = [];
  /** Every key exchange this SA ran so far (the first one and each additional one), for status. */
  keMethods: number[] = [];
  /** RFC 9242 §2: both sides sent INTERMEDIATE_EXCHANGE_SUPPORTED. */
  intermediate = false;
  /** RFC 9242 §3.3.2: the IntAuth chains (requests, responses) after the IKE_INTERMEDIATE exchanges. */
  intAuthI: Uint8Array | undefined;
  intAuthR: Uint8Array | undefined;
  /** IKE_INTERMEDIATE exchanges completed (each with its key update). */
  intermediateDone = 0;
  /** RFC 9370 §2.2.4, responder: tasks waiting for their IKE_FOLLOWUP_KE, by link data (hex). */
  readonly followups = new Map<string, Task>();
  nonceI: Uint8Array | undefined;
  nonceR: Uint8Array | undefined;
  /** RFC 7296 §2.15: the IKE_SA_INIT messages as sent (RealMessage1, RealMessage2). */
  initRequest: Uint8Array | undefined;
  initResponse: Uint8Array | undefined;
  keymat: IkeKeymat | undefined;
  /** RFC 7296 §2.23: NAT in front of us / in front of the peer. */
  natLocal = false;
  natRemote = false;
  /** RFC 7383 §2.3: both sides sent IKEV2_FRAGMENTATION_SUPPORTED. */
  fragmentation = false;
  /** RFC 7427 §4: the hash algorithms the peer announced. */
  peerHashes: readonly number[] = [];
  /** The identity the peer proved in IKE_AUTH. */
  peerId: IkeIdentity | undefined;
  readonly children: ChildSa[] = [];
  /** Clock time of the last authenticated message from the peer (RFC 7296 §2.4 liveness). */
  lastInbound = 0;
  /** A liveness.timeout deadline is pending (lifecycle.ts). */
  deadlineArmed = false;
  /** True once the SA was established: a later failure is a lost peer (dpdAction applies). */
  wasEstablished = false;
  /**
   * RFC 7296 §2.8.2: the peer's rekey of this IKE SA that we answered while rekeying it ourselves
   * (its nonces and the new IKE SA it created), for the nonce rule once our own exchange completes.
   */
  peerRekey: { readonly nonces: readonly Uint8Array[]; readonly sa: IkeSa } | undefined;
  /** The IKE SA that replaced this one after a rekey (its Child SAs moved there). */
  successor: IkeSa | undefined;
  /** Timers that die with the SA (fired ones are pruned as new ones come); created on first use. */
  #timers: TimerHandle[] | undefined;
  readonly #state: StateMachine<IkeSaState>;

  constructor(init: IkeSaInit) {
    this.services = init.services;
    this.config = init.config;
    this.initiator = init.initiator;
    this.path = init.path;
    this.spiI = init.spiI;
    this.spiR = init.spiR ?? new Uint8Array(8);
    this.#state = new StateMachine<IkeSaState>(
      'created',
      IKE_TRANSITIONS,
      () => `IKE_SA ${this.name}`,
      this.logger,
    );
    const s = init.services;
    this.runner = new ExchangeRunner({
      timers: s.timers,
      counters: s.counters,
      send: (packets) => {
        for (const p of packets) s.send(p, this.path);
      },
      onGiveUp: (messageId, request) => {
        this.logger.log('warn', 'giving up after retransmissions', { messageId, request: request.name });
        // In the SA's serial order (never under a task's feet). An unanswered Delete of this IKE SA
        // ends it as asked: the peer dropped it already when only its response was lost (§1.4.1).
        const deleting = this.state === 'deleting';
        s.run(this, () =>
          deleting
            ? this.destroy()
            : this.fail(`no response to ${request.name ?? 'request'} (RFC 7296 §2.4)`),
        );
      },
      ...(s.options.retransmit ? { retransmit: s.options.retransmit } : {}),
      ...(s.options.retainChildKeys ? { onAdvance: () => s.emit({ type: 'ike-advanced', sa: this }) } : {}),
    });
    this.tasks = new TaskManager(this);
  }

  get name(): string {
    return `${this.config.name}[${this.id}]`;
  }
  /**
   * The SA's logger: the engine's, every entry tagged with sa=name[id]. The SA is its own logger, so
   * that 10^5 SAs do not hold 10^5 closures and field objects (memory per IKE SA, issue 7).
   */
  get logger(): Logger {
    return this;
  }
  enabled(level: LogLevel): boolean {
    return (this.services.logger as LevelLogger).enabled?.(level) ?? true;
  }
  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.services.logger.log(level, message, { sa: this.name, ...fields });
  }
  get state(): IkeSaState {
    return this.#state.state;
  }
  /** The one guarded transition (refuses illegal moves, logs "a -> b"). */
  setState(s: IkeSaState): void {
    this.#state.set(s);
  }
  get established(): boolean {
    return this.state === 'established' || this.state === 'rekeying';
  }
  /** Our own SPI: what the engine's table is keyed by. */
  get localSpi(): Uint8Array {
    return this.initiator ? this.spiI : this.spiR;
  }
  get remoteSpi(): Uint8Array {
    return this.initiator ? this.spiR : this.spiI;
  }
  describe(): string {
    return `${this.name} ${hex(this.spiI)}_i ${hex(this.spiR)}_r ${this.state}`;
  }

  /** A timer that dies with the SA (rekey, DPD, half-open ... hooks for later tasks). */
  after(delayMs: number, fn: () => void): TimerHandle {
    const h = this.services.timers.after(delayMs, fn);
    const list = (this.#timers ??= []);
    // Handles that fired or were cancelled (re-arming liveness/keepalive timers, the half-open
    // timer) go, so that they do not pile up nor keep their callbacks alive. The list is tiny.
    let j = 0;
    for (const t of list) if (t.active) list[j++] = t;
    list.length = j;
    list.push(h);
    return h;
  }

  /**
   * Once IKE_AUTH is done (RFC 7296 §2.15: the IKE_SA_INIT messages and nonces only feed the AUTH
   * payloads and the first Child SA's KEYMAT, §2.17), drops what the SA no longer needs: the two
   * IKE_SA_INIT messages, the nonces and the key-exchange private key (g^ir is in SK_* already).
   * Called by the engine after an exchange of an established SA completed.
   */
  releaseSetupState(): void {
    if (!this.established) return;
    this.initRequest = undefined;
    this.initResponse = undefined;
    this.nonceI = undefined;
    this.nonceR = undefined;
    this.intAuthI = undefined;
    this.intAuthR = undefined;
    this.ke?.destroy();
    this.ke = undefined;
  }

  /** The responder tasks for one request of the peer (the task manager asks). */
  responderTasks(request: InboundMessage): Task[] {
    return this.services.tasks.create(this, request);
  }

  // Work queued on this SA (InitiatorFactory): tasks and helpers ask for it here.
  queueChildDelete(children: readonly ChildSa[]): void {
    this.services.tasks.initiators.queueChildDelete(this, children);
  }
  queueOrphanDelete(spiIn: number): void {
    this.services.tasks.initiators.queueOrphanDelete(this, spiIn);
  }
  queueIntermediate(methods: readonly number[]): void {
    this.services.tasks.initiators.queueIntermediate(this, methods);
  }
  queueIkeDelete(): void {
    this.services.tasks.initiators.queueIkeDelete(this);
  }
  queueChildRekey(child: ChildSa): void {
    this.services.tasks.initiators.queueChildRekey(this, child);
  }
  queueChildReplacement(lost: ChildSa): void {
    this.services.tasks.initiators.queueChildReplacement(this, lost);
  }
  queueDpd(): void {
    this.services.tasks.initiators.queueDpd(this);
  }
  rekeyPending(child: ChildSa): boolean {
    return this.services.tasks.initiators.rekeyPending(this, child);
  }

  addChild(child: ChildSa): void {
    this.children.push(child);
  }

  /** Removes a Child SA; policies shared with our other Child SAs (a rekey's successor) stay. */
  async removeChild(child: ChildSa): Promise<void> {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    if (child.state === 'destroyed') return;
    // Every other Child SA whose policies stand (policies() is empty for one not installed or gone),
    // whatever its state: a successor being rekeyed ('rekeying') or deleted holds them as much as an
    // installed one (issue 13: its policies vanished while its own rekey was in flight).
    const others = this.children.filter((c) => c.state !== 'destroyed');
    const same = (a: ChildSa, b: ChildSa) =>
      a.localTs.length === b.localTs.length &&
      a.localTs.every((t, j) => JSON.stringify(t, big) === JSON.stringify(b.localTs[j], big)) &&
      a.remoteTs.every((t, j) => JSON.stringify(t, big) === JSON.stringify(b.remoteTs[j], big));
    // Policies shared with another Child SA (a rekey's successor: same reqid) stay; one with the same
    // selectors but its own reqid gets its policies back, pointing at its own SAs.
    const keep = others.flatMap((c) => c.policies());
    await child.destroy(this.services.kernel, keep);
    for (const c of others)
      if (c.reqid !== child.reqid && same(c, child))
        await c.refreshPolicies(this.services.kernel).catch(() => undefined);
    this.services.emit({ type: 'child-destroyed', sa: this, child });
  }

  /** The SA failed (auth, negotiation, timeout): report and destroy. */
  async fail(reason: string): Promise<void> {
    if (this.state === 'destroyed') return;
    this.logger.log('warn', 'IKE SA failed', { reason });
    this.services.counters.inc('ike.sa_failed');
    this.services.emit({ type: 'ike-failed', sa: this, reason });
    await this.destroy();
  }

  /**
   * Releases everything: runner and timers stopped, pending tasks aborted, Child SAs removed from the
   * kernel, keys wiped, the SA unindexed. Idempotent.
   */
  async destroy(): Promise<void> {
    if (this.state === 'destroyed') return;
    this.setState('destroyed');
    this.runner.close();
    for (const t of this.#timers ?? []) t.cancel();
    this.#timers = undefined;
    this.services.unindexSa(this);
    await this.tasks.abortAll();
    // Responder exchanges still waiting for an IKE_FOLLOWUP_KE (their new Child SAs are not installed).
    const pending = [...new Set(this.followups.values())];
    this.followups.clear();
    for (const t of pending) await t.abort?.();
    for (const child of this.children.splice(0)) {
      await child.destroy(this.services.kernel);
      this.services.emit({ type: 'child-destroyed', sa: this, child });
    }
    this.ke?.destroy();
    this.keymat?.destroy();
    this.peerRekey = undefined;
    this.logger.log('info', 'IKE SA destroyed');
    this.services.emit({ type: 'ike-destroyed', sa: this });
  }
}
