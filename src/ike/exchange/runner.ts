// The per-IKE-SA exchange runner: the one owner of message IDs, the request window, retransmissions and
// the response cache (strongSwan's task manager, iked's ikev2_msg.c). It never looks inside a message:
// the caller reads the message ID, the Response flag and (for SKF) the fragment number from the clear
// header, asks `checkRequest`/`checkResponse` before any decryption, and reports back once the message
// authenticated. RFC 7296 §2.1 (retransmission), §2.2 (message IDs), §2.3 (window size 1).
import type { Counters, CounterName } from '../../base/counters.ts';
import type { TimerHandle, TimerQueue } from '../../base/timers.ts';
import { retransmitSchedule, type RetransmitPolicy } from './retransmit.ts';

/** A request waiting for its turn. `build` runs once, when the window opens, with the message ID. */
export interface OutgoingRequest {
  /** The encoded request for `messageId`: one packet, or the RFC 7383 fragments of one message. */
  build(messageId: number): readonly Uint8Array[];
  /** For logs ("IKE_AUTH", "INFORMATIONAL(DPD)"). */
  readonly name?: string;
  /**
   * The Delete of the IKE SA (RFC 7296 §1.4.1): the peer drops the SA after answering, so a lost
   * answer is never repeated. Running out of retransmissions ends the SA as asked and is not
   * counted as a dead peer (`ike.give_up`).
   */
  readonly closing?: boolean;
}

export type DropReason =
  | 'msgid_old'
  | 'msgid_future'
  | 'request_in_progress'
  | 'retransmit_answered'
  | 'retransmit_fragment'
  | 'unexpected_response'
  | 'closed';

export type RequestVerdict =
  { readonly action: 'process' } | { readonly action: 'drop'; readonly reason: DropReason };
export type ResponseVerdict =
  | { readonly action: 'process'; readonly request: OutgoingRequest }
  | { readonly action: 'drop'; readonly reason: DropReason };

export type RunnerErrorCode = 'ERR_CLOSED' | 'ERR_QUEUE_FULL' | 'ERR_MSGID_EXHAUSTED' | 'ERR_NOT_EXPECTED';

export class RunnerError extends Error {
  override readonly name = 'RunnerError';
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface ExchangeRunnerOptions {
  readonly timers: TimerQueue;
  /** Puts the packets of one message on the wire (path, NAT-T and errors are the caller's business). */
  readonly send: (packets: readonly Uint8Array[]) => void;
  /** Retransmissions exhausted (RFC 7296 §2.4): the peer is gone; the runner is closed already. */
  readonly onGiveUp: (messageId: number, request: OutgoingRequest) => void;
  readonly counters?: Counters;
  readonly retransmit?: Partial<RetransmitPolicy>;
  /** Source for retransmission jitter, [0, 1). */
  readonly random?: () => number;
  /** Requests that may wait behind the outstanding one (default 32). */
  readonly maxQueued?: number;
  /** Message ID of our first request (default 0). */
  readonly firstRequestId?: number;
  /** Message ID expected of the peer's first request (default 0). */
  readonly firstExpectedId?: number;
  /** Called after the window moved (a response sent, a request sent or answered): HA sync listens. */
  readonly onAdvance?: () => void;
}

const MAX_MSGID = 0xffffffff;

interface Outstanding {
  readonly messageId: number;
  readonly request: OutgoingRequest;
  readonly packets: readonly Uint8Array[];
  sends: number;
  timer: TimerHandle | undefined;
  /** A short schedule that replaced the rest of the normal one (`probe`): waits after each send. */
  probe?: number[];
}

export class ExchangeRunner {
  readonly #o: ExchangeRunnerOptions;
  readonly #delays: readonly number[];
  readonly #jitter: number;
  readonly #queue: OutgoingRequest[] = [];
  #outstanding: Outstanding | undefined;
  #nextRequestId: number;
  #expectedId: number;
  /** The request being processed (authenticated, response not yet sent). */
  #inProgress = false;
  /** RFC 7296 §2.1: the response to the last request, kept to answer its retransmissions. */
  #lastResponse: readonly Uint8Array[] | undefined;
  /**
   * Resumed by an HA standby and no peer request authenticated since: the peer may already be one
   * request further (the old active answered it and died before its sync left).
   */
  #resumed = false;
  #closed = false;

  constructor(opts: ExchangeRunnerOptions) {
    this.#o = opts;
    const schedule = retransmitSchedule(opts.retransmit);
    this.#delays = schedule.delays;
    this.#jitter = schedule.jitter;
    this.#nextRequestId = opts.firstRequestId ?? 0;
    this.#expectedId = opts.firstExpectedId ?? 0;
  }

  /** Message ID our next new request will carry. */
  get nextRequestId(): number {
    return this.#nextRequestId;
  }
  /** Message ID the peer's next new request must carry. */
  get expectedRequestId(): number {
    return this.#expectedId;
  }
  get outstanding():
    { readonly messageId: number; readonly request: OutgoingRequest; readonly sends: number } | undefined {
    const o = this.#outstanding;
    return o && { messageId: o.messageId, request: o.request, sends: o.sends };
  }
  /** The packets of our request in flight (an HA standby re-sends them when it takes over). */
  get outstandingPackets(): readonly Uint8Array[] | undefined {
    return this.#outstanding?.packets;
  }
  /** The cached response to the peer's last request (RFC 7296 §2.1), for an HA standby. */
  get lastResponse(): readonly Uint8Array[] | undefined {
    return this.#lastResponse;
  }

  /**
   * An HA standby taking over an IKE SA (src/ha/): the message IDs and the cached last response the
   * active node had. Only on a runner that has sent and received nothing.
   */
  resume(s: {
    readonly nextRequestId: number;
    readonly expectedRequestId: number;
    readonly lastResponse?: readonly Uint8Array[];
  }): void {
    if (this.#closed || this.#outstanding || this.#queue.length > 0 || this.#inProgress)
      throw new RunnerError('ERR_NOT_EXPECTED', 'resume on a runner in use');
    this.#nextRequestId = s.nextRequestId;
    this.#expectedId = s.expectedRequestId;
    this.#lastResponse = s.lastResponse;
    this.#resumed = true;
  }

  get queued(): number {
    return this.#queue.length;
  }
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a request; it is sent at once if the window (size 1) is open. */
  enqueue(request: OutgoingRequest): void {
    if (this.#closed) throw new RunnerError('ERR_CLOSED', 'the exchange runner is closed');
    if (this.#queue.length >= (this.#o.maxQueued ?? 32)) {
      this.#count('ike.drop_queue_full');
      throw new RunnerError('ERR_QUEUE_FULL', `${this.#queue.length} requests already queued`);
    }
    const pending = this.#queue.length + (this.#outstanding ? 1 : 0);
    if (this.#nextRequestId + pending > MAX_MSGID) {
      // RFC 7296 §2.2: message IDs never wrap; the IKE SA must be rekeyed before.
      throw new RunnerError('ERR_MSGID_EXHAUSTED', 'no message IDs left; rekey the IKE SA');
    }
    this.#queue.push(request);
    if (!this.#outstanding) this.#sendNext();
  }

  /**
   * The cheap check of an incoming request, before decryption. 'process' means: this is the expected
   * message ID, go ahead (reassemble, decrypt, verify), then call `startRequest` and `respond`.
   * A retransmission of the last answered request is answered here from the cache.
   */
  checkRequest(messageId: number, fragmentNumber?: number): RequestVerdict {
    if (this.#closed) return this.#drop('closed');
    if (messageId === this.#expectedId) {
      return this.#inProgress ? this.#drop('request_in_progress') : { action: 'process' };
    }
    // After an HA takeover, one request beyond the synced window may be the peer's next one
    // (startRequest moves the window once it is authenticated). A peer never runs ahead otherwise:
    // ikeway announces no window larger than 1 (RFC 7296 §2.3).
    if (this.#resumed && messageId === this.#expectedId + 1 && !this.#inProgress)
      return { action: 'process' };
    if (messageId === this.#expectedId - 1 && this.#lastResponse !== undefined) {
      // RFC 7383 §2.6.1: only fragment 1 of a retransmitted request triggers the response again.
      if (fragmentNumber !== undefined && fragmentNumber !== 1) return this.#drop('retransmit_fragment');
      this.#o.send(this.#lastResponse);
      return this.#drop('retransmit_answered');
    }
    return this.#drop(messageId < this.#expectedId ? 'msgid_old' : 'msgid_future');
  }

  /** The expected request authenticated: later copies are dropped until `respond`. */
  startRequest(messageId: number): void {
    if (this.#resumed && messageId === this.#expectedId + 1) {
      // The request the old active answered is behind the peer: its cached response went with it.
      this.#expectedId = messageId;
      this.#lastResponse = undefined;
      this.#count('ike.msgid_resume_skip');
    }
    this.#resumed = false;
    this.#assertExpected(messageId);
    this.#inProgress = true;
  }

  /** Sends and caches the response to the expected request, and moves the window on (RFC 7296 §2.2). */
  respond(messageId: number, packets: readonly Uint8Array[]): void {
    this.#assertExpected(messageId);
    this.#lastResponse = packets;
    this.#inProgress = false;
    this.#expectedId = messageId + 1;
    this.#count('ike.response_sent');
    this.#o.send(packets);
    this.#o.onAdvance?.();
  }

  /** The cheap check of an incoming response, before decryption. */
  checkResponse(messageId: number): ResponseVerdict {
    if (this.#closed) return this.#drop('closed');
    const o = this.#outstanding;
    if (o === undefined || o.messageId !== messageId) return this.#drop('unexpected_response');
    return { action: 'process', request: o.request };
  }

  /**
   * The response to the outstanding request authenticated: stop retransmitting and send the next
   * queued request. Returns false if `messageId` is not outstanding (e.g. the runner gave up meanwhile).
   */
  completeRequest(messageId: number): boolean {
    const o = this.#outstanding;
    if (this.#closed || o === undefined || o.messageId !== messageId) return false;
    o.timer?.cancel();
    this.#outstanding = undefined;
    this.#nextRequestId = messageId + 1;
    if (this.#queue.length > 0) this.#sendNext();
    this.#o.onAdvance?.();
    return true;
  }

  /**
   * Replaces the outstanding request by a new one with the same message ID, retransmission count reset:
   * RFC 7296 §2.6 (retry IKE_SA_INIT with a COOKIE) and §1.2 (INVALID_KE_PAYLOAD) keep message ID 0.
   */
  restart(request: OutgoingRequest): void {
    const o = this.#outstanding;
    if (this.#closed || o === undefined) throw new RunnerError('ERR_NOT_EXPECTED', 'no outstanding request');
    o.timer?.cancel();
    this.#transmit(o.messageId, request);
  }

  /** Sends the outstanding request again now (e.g. after a path change), keeping the backoff schedule. */
  retransmitNow(): void {
    const o = this.#outstanding;
    if (this.#closed || o === undefined) return;
    this.#count('ike.retransmit_sent');
    this.#o.send(o.packets);
  }

  /**
   * The peer may have lost our IKE SA (RFC 7296 §2.21.4: an unprotected INVALID_IKE_SPI answered the
   * outstanding request). Sends that request again now and replaces the rest of its schedule by
   * `delaysMs` (the wait after each send; give up after the last): a live peer answers it protected
   * within a round trip, a restarted one never does. Once per request (a flood of hints cannot
   * stretch or restart it). Returns false when there is nothing to probe or it is probed already.
   */
  probe(messageId: number, delaysMs: readonly number[]): boolean {
    const o = this.#outstanding;
    if (this.#closed || o === undefined || o.messageId !== messageId || o.probe || delaysMs.length === 0)
      return false;
    o.timer?.cancel();
    o.probe = [...delaysMs];
    o.sends++;
    this.#count('ike.retransmit_sent');
    this.#o.send(o.packets);
    o.timer = this.#o.timers.after(o.probe.shift()!, () => this.#timeout(o));
    return true;
  }

  /** Stops all timers and forgets queued requests; every later check drops with reason 'closed'. */
  close(): void {
    this.#closed = true;
    this.#outstanding?.timer?.cancel();
    this.#outstanding = undefined;
    this.#queue.length = 0;
    this.#lastResponse = undefined;
  }

  #sendNext(): void {
    const request = this.#queue.shift();
    if (request !== undefined) this.#transmit(this.#nextRequestId, request);
  }

  #transmit(messageId: number, request: OutgoingRequest): void {
    const o: Outstanding = {
      messageId,
      request,
      packets: request.build(messageId),
      sends: 1,
      timer: undefined,
    };
    this.#outstanding = o;
    this.#count('ike.request_sent');
    this.#o.send(o.packets);
    this.#arm(o);
    this.#o.onAdvance?.();
  }

  /** RFC 7296 §2.1: only the initiator of an exchange retransmits, with increasing intervals. */
  #arm(o: Outstanding): void {
    const base = this.#delays[o.sends - 1] ?? 0;
    const jitter = this.#jitter;
    const delay = jitter > 0 ? base * (1 - jitter * (this.#o.random?.() ?? Math.random())) : base;
    o.timer = this.#o.timers.after(delay, () => this.#timeout(o));
  }

  #timeout(o: Outstanding): void {
    if (this.#outstanding !== o) return;
    if (o.probe) {
      const next = o.probe.shift();
      if (next === undefined) return this.#giveUp(o);
      o.sends++;
      this.#count('ike.retransmit_sent');
      this.#o.send(o.packets);
      o.timer = this.#o.timers.after(next, () => this.#timeout(o));
      return;
    }
    if (o.sends >= this.#delays.length) {
      this.#giveUp(o);
      return;
    }
    o.sends++;
    this.#count('ike.retransmit_sent');
    this.#o.send(o.packets); // §2.1: the same bytes, every fragment
    this.#arm(o);
  }

  #giveUp(o: Outstanding): void {
    if (!o.request.closing) this.#count('ike.give_up');
    this.close();
    this.#o.onGiveUp(o.messageId, o.request);
  }

  #assertExpected(messageId: number): void {
    if (this.#closed) throw new RunnerError('ERR_CLOSED', 'the exchange runner is closed');
    if (messageId !== this.#expectedId) {
      throw new RunnerError('ERR_NOT_EXPECTED', `message ID ${messageId}, expected ${this.#expectedId}`);
    }
  }

  #drop(reason: DropReason): { readonly action: 'drop'; readonly reason: DropReason } {
    if (reason !== 'closed')
      this.#count(reason === 'retransmit_answered' ? 'ike.retransmit_answered' : `ike.drop_${reason}`);
    return { action: 'drop', reason };
  }

  #count(name: CounterName): void {
    this.#o.counters?.inc(name);
  }
}
