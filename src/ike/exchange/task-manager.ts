// The task manager of one IKE SA (strongSwan's task_manager_v2): queues initiator tasks, groups them
// into exchanges, builds/processes messages through the tasks, and turns task errors into notifies.
// The ExchangeRunner below it owns message IDs, retransmission and the response cache (RFC 7296 §2.1-§2.3).
import {
  CodecError,
  ExchangeType,
  NotifyType,
  checkExchangeRules,
  decodePayloads,
  isResponse,
  openFragment,
  openProtectedPlain,
  reassembleFragments,
  type IkeMessage,
  type NotifyPayload,
  type Payload,
} from '../../codec/index.ts';
import type { PacketPath } from '../../net/transport.ts';
import { IkeError, InvalidKePayloadError } from '../errors.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { notify } from '../wire.ts';
import { encodeOutbound, headerFor, Reassembly } from './protect.ts';
import type { ExchangeSa } from './sa-view.ts';

/** Exchanges whose failure kills the IKE SA (RFC 7296 §1.2, §2.21.2). */
const FATAL = new Set<number>([
  ExchangeType.IKE_SA_INIT,
  ExchangeType.IKE_INTERMEDIATE,
  ExchangeType.IKE_AUTH,
]);
/** Exchanges that carry one task each: one SA per CREATE_CHILD_SA (§1.3), one key exchange per
 *  IKE_INTERMEDIATE (RFC 9370 §2.2.2). */
const SINGLE = new Set<number>([
  ExchangeType.CREATE_CHILD_SA,
  ExchangeType.IKE_INTERMEDIATE,
  ExchangeType.IKE_FOLLOWUP_KE,
]);

interface Active {
  readonly exchange: number;
  readonly tasks: Task[];
}

function outbound(
  exchangeType: number,
  response: boolean,
): OutboundMessage & { hooks: (() => void | Promise<void>)[] } {
  const payloads: Payload[] = [];
  const hooks: (() => void | Promise<void>)[] = [];
  return {
    exchangeType,
    response,
    payloads,
    hooks,
    add: (...p) => void payloads.push(...p),
    after: (fn) => void hooks.push(fn),
  };
}

/** The notify a responder answers an error with (RFC 7296 §2.21), or undefined for internal errors. */
export function errorNotify(e: unknown): NotifyPayload | undefined {
  if (e instanceof InvalidKePayloadError)
    return notify(NotifyType.INVALID_KE_PAYLOAD, Uint8Array.of(e.wanted >> 8, e.wanted & 0xff));
  if (e instanceof IkeError && e.notify !== undefined) return notify(e.notify);
  if (e instanceof CodecError) return notify(e.notify, e.notifyData);
  return undefined;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** An unprotected response that carries INVALID_IKE_SPI (RFC 7296 §2.21.4), outside IKE_SA_INIT. */
function restartHint(msg: IkeMessage): boolean {
  if (msg.header.exchangeType === ExchangeType.IKE_SA_INIT) return false;
  if (msg.payloads.some((p) => p.kind === 'SK' || p.kind === 'SKF')) return false;
  return msg.payloads.some((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.INVALID_IKE_SPI);
}

export class TaskManager {
  readonly #sa: ExchangeSa;
  readonly #queue: Task[] = [];
  #active: Active | undefined;
  #processingResponse = false;
  #serial: Promise<void> = Promise.resolve();
  readonly #requestFrags: Reassembly;
  readonly #responseFrags: Reassembly;

  constructor(sa: ExchangeSa) {
    this.#sa = sa;
    const o = sa.services.options;
    this.#requestFrags = new Reassembly(o.maxFragments, o.maxReassembly);
    this.#responseFrags = new Reassembly(o.maxFragments, o.maxReassembly);
  }

  /** Tasks waiting for their exchange (initiator side). */
  get queued(): readonly Task[] {
    return this.#queue;
  }
  get active(): { readonly exchange: number; readonly tasks: readonly Task[] } | undefined {
    return this.#active;
  }

  /** Queues an initiator task; call initiate() (or engine.initiateTasks) to start it. */
  queue(task: Task): void {
    this.#queue.push(task);
  }

  /** Queues initiator tasks ahead of everything queued (e.g. IKE_INTERMEDIATE before IKE_AUTH). */
  queueFirst(tasks: readonly Task[]): void {
    this.#queue.unshift(...tasks);
  }

  /** Runs `fn` after every earlier piece of work on this SA (one message at a time per IKE SA). */
  serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.#serial.then(fn, fn);
    this.#serial = next.catch((e: unknown) => {
      this.#sa.logger.log('error', 'unexpected error', { error: errText(e) });
    });
    return this.#serial;
  }

  /** Starts the next exchange from the queue unless one is active (window size 1, RFC 7296 §2.3). */
  async initiate(): Promise<void> {
    const sa = this.#sa;
    if (this.#active || this.#queue.length === 0 || sa.state === 'destroyed') return;
    const exchange = this.#queue[0]!.exchange;
    const tasks: Task[] = [this.#queue.shift()!];
    // RFC 7296 §1.3: a CREATE_CHILD_SA exchange creates or rekeys one SA; other tasks of one type share.
    if (!SINGLE.has(exchange)) while (this.#queue[0]?.exchange === exchange) tasks.push(this.#queue.shift()!);
    this.#active = { exchange, tasks };
    try {
      await this.#sendRequest(this.#active, false);
    } catch (e) {
      await this.#failExchange(this.#active, e);
    }
  }

  async #buildRequest(active: Active): Promise<ReturnType<typeof outbound>> {
    const msg = outbound(active.exchange, false);
    for (const t of active.tasks) await t.build(msg);
    return msg;
  }

  async #sendRequest(active: Active, restart: boolean): Promise<void> {
    const sa = this.#sa;
    const msg = await this.#buildRequest(active);
    if (sa.state === 'destroyed') return;
    const request = {
      name: active.tasks.map((t) => t.name).join('+'),
      closing: active.tasks.some((t) => t.name === 'ike-delete'),
      build: (messageId: number) => {
        const packets = encodeOutbound(sa, headerFor(sa, active.exchange, messageId, false), msg.payloads);
        if (active.exchange === ExchangeType.IKE_SA_INIT) sa.initRequest = packets[0];
        return packets;
      },
    };
    if (restart) sa.runner.restart(request);
    else sa.runner.enqueue(request);
    for (const h of msg.hooks) await h();
  }

  async #failExchange(active: Active, e: unknown): Promise<void> {
    const sa = this.#sa;
    this.#active = undefined;
    for (const t of active.tasks) await t.abort?.();
    if (FATAL.has(active.exchange)) {
      await sa.fail(errText(e));
      return;
    }
    sa.logger.log('warn', 'exchange failed', { exchange: active.exchange, error: errText(e) });
    await this.initiate();
  }

  /** Aborts queued and active tasks (the SA is being destroyed). */
  async abortAll(): Promise<void> {
    const tasks = [...(this.#active?.tasks ?? []), ...this.#queue.splice(0)];
    this.#active = undefined;
    for (const t of tasks) {
      try {
        await t.abort?.();
      } catch (e) {
        this.#sa.logger.log('warn', 'task abort failed', { task: t.name, error: errText(e) });
      }
    }
  }

  /** Handles one decoded message for this SA (clear header checked and SPI matched by the engine). */
  async receive(bytes: Uint8Array, msg: IkeMessage, path: PacketPath): Promise<void> {
    const sa = this.#sa;
    if (sa.state === 'destroyed') return;
    const h = msg.header;
    const last = msg.payloads[msg.payloads.length - 1];
    const fragment = last?.kind === 'SKF' ? last.fragmentNumber : undefined;
    if (isResponse(h)) {
      if (this.#processingResponse) return sa.services.counters.inc('ike.drop_response_in_progress');
      if (sa.runner.checkResponse(h.messageId).action === 'drop') return;
      if (restartHint(msg)) return this.#restartHint(h.messageId);
      const inbound = this.#open(bytes, msg, path, this.#responseFrags);
      if (!inbound) return;
      this.#processingResponse = true;
      try {
        await this.#processResponse(inbound);
      } finally {
        this.#processingResponse = false;
      }
      return;
    }
    if (!sa.services.tasks.has(h.exchangeType))
      return sa.services.counters.inc('ike.drop_unexpected_exchange');
    if (sa.runner.checkRequest(h.messageId, fragment).action === 'drop') return;
    const inbound = this.#open(bytes, msg, path, this.#requestFrags);
    if (!inbound) return;
    sa.runner.startRequest(h.messageId);
    await this.#processRequest(inbound);
  }

  /**
   * RFC 7296 §2.21.4: a node that lost our IKE SA (a restart) MAY answer our request with an
   * unprotected INVALID_IKE_SPI. Unauthenticated, so only a hint: the request is retransmitted at
   * once on a short bounded schedule (restartProbeMs). A live peer answers it protected and nothing
   * changes (a spoofed hint costs a few retransmissions); a restarted one does not, and the IKE SA
   * fails in seconds instead of after the whole retransmission schedule (then the dead-peer action).
   * Only for an established SA: before that, IKE_SA_INIT/IKE_AUTH have their own handling.
   */
  #restartHint(messageId: number): void {
    const sa = this.#sa;
    if (sa.state !== 'established' && sa.state !== 'rekeying')
      return sa.services.counters.inc('ike.drop_rules');
    sa.services.counters.inc('ike.restart_hint');
    const schedule = sa.services.options.restartProbeMs;
    if (sa.runner.probe(messageId, schedule))
      sa.logger.log('info', 'unprotected INVALID_IKE_SPI: the peer may have restarted; checking', {
        messageId,
        giveUpMs: schedule.reduce((a, b) => a + b, 0),
      });
  }

  /** Decrypts/reassembles and rule-checks; undefined when dropped (counted) or still incomplete. */
  #open(bytes: Uint8Array, msg: IkeMessage, path: PacketPath, frags: Reassembly): InboundMessage | undefined {
    const sa = this.#sa;
    const c = sa.services.counters;
    const h = msg.header;
    try {
      checkExchangeRules(msg);
    } catch {
      c.inc('ike.drop_rules');
      return undefined;
    }
    if (h.exchangeType === ExchangeType.IKE_SA_INIT)
      return { header: h, payloads: msg.payloads, bytes, path };
    const keymat = sa.keymat;
    if (!keymat) return void c.inc('ike.drop_unexpected_exchange');
    let payloads: Payload[];
    let plain: { firstType: number; bytes: Uint8Array };
    try {
      const last = msg.payloads[msg.payloads.length - 1];
      if (last?.kind === 'SKF' && last.totalFragments !== 1) {
        const f = openFragment(bytes, msg, keymat.inbound); // RFC 7383 §2.6: authenticate each fragment
        c.inc('ike.fragments_received');
        const r = frags.add(h.messageId, f);
        if (r === 'pending') return undefined;
        if (r === 'reject') return void c.inc('ike.drop_reassembly_limit');
        plain = reassembleFragments(r);
      } else {
        plain = openProtectedPlain(bytes, msg, keymat.inbound);
      }
      payloads = decodePayloads(plain.bytes, plain.firstType);
    } catch (e) {
      // Unauthenticated garbage: counted, never answered (ARCHITECTURE principle 4).
      c.inc(
        e instanceof CodecError && e.code !== 'ERR_IKE_PROTECTION'
          ? 'ike.drop_malformed'
          : 'ike.drop_decrypt_failed',
      );
      return undefined;
    }
    try {
      checkExchangeRules(msg, payloads);
    } catch {
      c.inc('ike.drop_rules');
      return undefined;
    }
    // RFC 7296 §2.4: an authenticated message is proof of liveness (DPD looks at this).
    sa.lastInbound = sa.services.timers.now();
    // RFC 7296 §2.23: behind a NAT, follow the address and port authenticated messages come from.
    if ((sa.natLocal || sa.natRemote) && !isResponse(h)) sa.path = { ...path };
    return { header: h, payloads, bytes, path, plain };
  }

  async #processRequest(req: InboundMessage): Promise<void> {
    const sa = this.#sa;
    const exchange = req.header.exchangeType;
    const tasks = sa.responderTasks(req);
    let resp = outbound(exchange, true);
    let fatal: string | undefined;
    let quiet = false;
    try {
      for (const t of tasks) await t.process(req);
      for (const t of tasks) await t.build(resp);
    } catch (e) {
      for (const t of tasks) await t.abort?.();
      const n = errorNotify(e) ?? notify(NotifyType.INVALID_SYNTAX);
      resp = outbound(exchange, true);
      resp.add(n);
      sa.services.counters.inc(
        n.notifyType === NotifyType.INVALID_KE_PAYLOAD ? 'ike.invalid_ke_sent' : 'ike.error_notify_sent',
      );
      if (n.notifyType === NotifyType.AUTHENTICATION_FAILED) sa.services.counters.inc('ike.auth_failed');
      if (e instanceof InvalidKePayloadError && exchange === ExchangeType.IKE_SA_INIT) {
        // RFC 7296 §1.2: a normal step -- the initiator retries with the group we name; this
        // half-open SA simply ends (the retry makes a new one): not a failure.
        sa.logger.log('info', 'IKE_SA_INIT: asking the initiator for another key exchange group', {
          group: e.wanted,
          received: e.received,
        });
        quiet = true;
      } else
        sa.logger.log('info', 'answering request with an error', { notify: n.notifyType, error: errText(e) });
      if (FATAL.has(exchange)) fatal = errText(e);
    }
    if (sa.state === 'destroyed') return;
    const packets = encodeOutbound(sa, headerFor(sa, exchange, req.header.messageId, true), resp.payloads);
    if (exchange === ExchangeType.IKE_SA_INIT) sa.initResponse = packets[0];
    sa.runner.respond(req.header.messageId, packets);
    for (const h of resp.hooks) await h();
    if (quiet) await sa.destroy();
    else if (fatal !== undefined) await sa.fail(fatal);
  }

  async #processResponse(resp: InboundMessage): Promise<void> {
    const sa = this.#sa;
    const active = this.#active;
    if (!active || active.exchange !== resp.header.exchangeType) {
      sa.services.counters.inc('ike.drop_unexpected_exchange');
      return;
    }
    let retry = false;
    let next = false;
    try {
      for (const t of active.tasks) {
        const r = await t.process(resp);
        if (r === 'ignore') return; // still outstanding: retransmitted until a usable response comes
        if (r === 'retry') retry = true;
        if (r === 'next') next = active.tasks.length === 1;
      }
      if (next) {
        // RFC 9370 §2.2.4: the same task goes on with another exchange (IKE_FOLLOWUP_KE).
        sa.runner.completeRequest(resp.header.messageId);
        const task = active.tasks[0]!;
        this.#active = { exchange: task.exchange, tasks: [task] };
        await this.#sendRequest(this.#active, false);
        return;
      }
      if (retry) {
        // RFC 7296 §2.6 / §1.2: IKE_SA_INIT again with message ID 0, tasks rebuilt. Any other exchange
        // is complete (the peer answered it), so its retry (§1.3 INVALID_KE_PAYLOAD) is a new request.
        const again = active.exchange !== ExchangeType.IKE_SA_INIT;
        if (again) sa.runner.completeRequest(resp.header.messageId);
        await this.#sendRequest(active, !again);
        return;
      }
    } catch (e) {
      sa.runner.completeRequest(resp.header.messageId);
      await this.#failExchange(active, e);
      return;
    }
    sa.runner.completeRequest(resp.header.messageId);
    this.#active = undefined;
    await this.initiate();
  }
}
