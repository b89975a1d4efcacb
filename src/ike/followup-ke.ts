// RFC 9370 §2.2.4: additional key exchanges after a CREATE_CHILD_SA (IKE rekey, or a Child SA with
// PFS), one IKE_FOLLOWUP_KE exchange each, in transform-type order:
//
//   CREATE_CHILD_SA  SA, Ni, KEi(0) [, TS]       -->  <-- SA, Nr, KEr(0), N(ADDITIONAL_KEY_EXCHANGE)(link1)
//   IKE_FOLLOWUP_KE  N(ADDITIONAL_KEY_EXCHANGE)(link1), KEi(1)  -->  <-- KEr(1) [, N(...)(link2)]
//   ...
//
// The responder links each follow-up to its pending exchange by the opaque link data it chose; an
// unknown link is answered STATE_NOT_FOUND. The keys come from every secret at once once the last
// exchange is done (SK(0) | Ni | Nr | SK(1) | ... | SK(n), crypto/derive.ts); until then the new SA is
// not installed. One object per CREATE_CHILD_SA, owned by its task (both roles); destroy() wipes.
import { ExchangeType, NotifyType, isErrorNotify } from '../codec/index.ts';
import { initiatorKeyShare, responderRespond, type KeInitiator } from '../crypto/ke-roles.ts';
import { wipe } from '../crypto/index.ts';
import { IkeError, InvalidSyntaxError, PeerError } from './errors.ts';
import type { IkeSa } from './ike-sa.ts';
import type { InboundMessage, OutboundMessage, Task } from './task.ts';
import { findNotify, findPayload, hex, notify } from './wire.ts';

/** Link data length we choose (RFC 9370 leaves it to the responder; strongSwan uses 8 octets too). */
const LINK_LEN = 8;
/** A responder forgets a pending exchange whose follow-up does not come within this time. */
export const FOLLOWUP_TIMEOUT_MS = 30_000;

export class FollowupKe {
  /** SK(0), SK(1), ...: the shared secrets so far, in exchange order. */
  readonly secrets: Uint8Array[] = [];
  /** The link data of the next follow-up (initiator: received; responder: chosen). */
  link: Uint8Array | undefined;
  #next = 0;
  #ke: KeInitiator | undefined;
  #share: Uint8Array | undefined;

  /** `methods`: the chosen proposal's additional key exchange methods (proposals.ts additionalKeGroups). */
  constructor(
    readonly methods: readonly number[],
    sk0: Uint8Array,
  ) {
    this.secrets.push(sk0);
  }

  /** Whether another IKE_FOLLOWUP_KE exchange is due. */
  get pending(): boolean {
    return this.#next < this.methods.length;
  }

  get method(): number {
    return this.methods[this.#next]!;
  }

  /** Initiator: the link from the CREATE_CHILD_SA or previous IKE_FOLLOWUP_KE response. */
  takeLink(msg: InboundMessage, what: string): void {
    const n = findNotify(msg.payloads, NotifyType.ADDITIONAL_KEY_EXCHANGE);
    if (this.pending && (!n || n.data.length === 0))
      throw new InvalidSyntaxError(`${what}: no ADDITIONAL_KEY_EXCHANGE link for the next key exchange`);
    if (!this.pending && n) throw new InvalidSyntaxError(`${what}: a link after the last key exchange`);
    this.link = n?.data.slice();
  }

  /** Initiator: KEi(n) with the link. */
  buildRequest(sa: IkeSa, msg: OutboundMessage): void {
    this.#ke?.destroy();
    const r = initiatorKeyShare(this.method, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', r.message);
    this.#ke = r.initiator;
    msg.add(notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, this.link!), {
      kind: 'KE',
      group: this.method,
      data: r.initiator.share,
    });
  }

  /** Initiator: KEr(n), then the next link if another exchange follows. */
  processResponse(sa: IkeSa, msg: InboundMessage): void {
    const err = msg.payloads.find((p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType));
    if (err?.kind === 'NOTIFY')
      throw new PeerError(err.notifyType, `IKE_FOLLOWUP_KE refused with notify ${err.notifyType}`);
    const ke = findPayload(msg.payloads, 'KE');
    if (!ke || ke.group !== this.method || !this.#ke)
      throw new InvalidSyntaxError(
        `IKE_FOLLOWUP_KE response: KE ${ke ? `of method ${ke.group}` : 'missing'}`,
      );
    const r = this.#ke.finish(ke.data);
    this.#ke = undefined;
    if (!r.ok) {
      sa.services.counters.inc('ike.bad_ke');
      throw new InvalidSyntaxError(`IKE_FOLLOWUP_KE response: ${r.message}`);
    }
    this.secrets.push(r.secret.bytes());
    this.#next++;
    this.takeLink(msg, 'IKE_FOLLOWUP_KE response');
  }

  /** Responder: a fresh link for the next follow-up, announced in `msg`. */
  announce(sa: IkeSa, msg: OutboundMessage): void {
    this.link = sa.services.randomBytes(LINK_LEN);
    msg.add(notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, this.link));
  }

  /** Responder: KEi(n) of the expected method (else INVALID_SYNTAX, RFC 9370 §2.2.4). */
  processRequest(sa: IkeSa, msg: InboundMessage): void {
    const ke = findPayload(msg.payloads, 'KE');
    if (!ke || ke.group !== this.method) {
      sa.services.counters.inc('ike.followup_bad_ke');
      throw new InvalidSyntaxError(
        `IKE_FOLLOWUP_KE #${this.#next + 1}: KE ${ke ? `of method ${ke.group}` : 'missing'}, ${this.method} negotiated`,
      );
    }
    const r = responderRespond(this.method, ke.data, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) {
      sa.services.counters.inc('ike.followup_bad_ke');
      throw new IkeError('ERR_INVALID_SYNTAX', r.message, r.notify ?? NotifyType.INVALID_SYNTAX);
    }
    this.#share = r.share;
    this.secrets.push(r.secret.bytes());
  }

  /** Responder: KEr(n) and, if another exchange follows, its link. */
  buildResponse(sa: IkeSa, msg: OutboundMessage): void {
    msg.add({ kind: 'KE', group: this.method, data: this.#share! });
    this.#share = undefined;
    this.#next++;
    if (this.pending) this.announce(sa, msg);
    else this.link = undefined;
  }

  /** Wipes every secret and our private key. Idempotent. */
  destroy(): void {
    this.#ke?.destroy();
    this.#ke = undefined;
    wipe(...this.secrets);
    this.secrets.length = 0;
  }
}

/**
 * Responder: remember `task` as the one answering the follow-up with `link` (until `FOLLOWUP_TIMEOUT_MS`,
 * then it is aborted and forgotten).
 */
export function awaitFollowup(sa: IkeSa, link: Uint8Array, task: Task): void {
  const key = hex(link);
  sa.followups.set(key, task);
  sa.after(FOLLOWUP_TIMEOUT_MS, () => {
    if (sa.followups.get(key) !== task) return;
    sa.followups.delete(key);
    sa.logger.log('info', 'IKE_FOLLOWUP_KE did not come: pending exchange dropped');
    void task.abort?.();
  });
}

/** Responder: forget the pending exchange of `task` (done, failed or aborted). */
export function forgetFollowup(sa: IkeSa, task: Task): void {
  for (const [k, t] of sa.followups) if (t === task) sa.followups.delete(k);
}

/** A task that answers an IKE_FOLLOWUP_KE whose link we do not know (RFC 9370 §2.2.4). */
class UnknownFollowup implements Task {
  readonly name = 'followup-unknown';
  readonly exchange = ExchangeType.IKE_FOLLOWUP_KE;
  constructor(private readonly sa: IkeSa) {}
  process(): void {
    this.sa.services.counters.inc('ike.followup_unexpected');
    throw new IkeError(
      'ERR_INVALID_SYNTAX',
      'IKE_FOLLOWUP_KE with an unknown link',
      NotifyType.STATE_NOT_FOUND,
    );
  }
  build(): void {}
}

/** The responder task for an IKE_FOLLOWUP_KE request: the pending exchange its link names. */
export function followupResponder(sa: IkeSa, req: InboundMessage): Task {
  const n = findNotify(req.payloads, NotifyType.ADDITIONAL_KEY_EXCHANGE);
  const task = n ? sa.followups.get(hex(n.data)) : undefined;
  if (!task) return new UnknownFollowup(sa);
  sa.followups.delete(hex(n!.data));
  return task;
}
