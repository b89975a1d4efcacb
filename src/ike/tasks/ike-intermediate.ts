// IKE_INTERMEDIATE (RFC 9242) carrying one additional key exchange (RFC 9370 §2.2.2): after
// IKE_SA_INIT, one exchange per negotiated Additional Key Exchange transform, in transform-type order,
// each with a KE payload; message IDs 1..n, IKE_AUTH follows with n+1. Each exchange is authenticated
// into the IntAuth chains (RFC 9242 §3.3.2, with the SK_p in force for it) and then replaces every
// IKE SA key (RFC 9370 §2.2.2 key update). Anything out of order or not negotiated is refused with
// INVALID_SYNTAX, which ends the half-open SA (no state kept).
import {
  ExchangeType,
  HeaderFlag,
  NotifyType,
  PayloadType,
  encodePayloads,
  isErrorNotify,
} from '../../codec/index.ts';
import { initiatorKeyShare, responderRespond, type KeInitiator } from '../../crypto/ke-roles.ts';
import { intAuthStep, type IntermediateMessage } from '../../crypto/intauth.ts';
import type { Secret } from '../../crypto/secret.ts';
import { IkeError, InvalidSyntaxError, PeerError } from '../errors.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { findPayload } from '../wire.ts';

/** The 28-octet IKE header of a message we send (Next Payload and Length are rewritten by intauth.ts). */
function ourHeader(sa: IkeSa, messageId: number, response: boolean): Uint8Array {
  const h = new Uint8Array(28);
  h.set(sa.spiI, 0);
  h.set(sa.spiR, 8);
  h[16] = PayloadType.SK;
  h[17] = 0x20;
  h[18] = ExchangeType.IKE_INTERMEDIATE;
  h[19] = (sa.initiator ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0);
  new DataView(h.buffer).setUint32(20, messageId);
  return h;
}

function sentMessage(
  sa: IkeSa,
  messageId: number,
  response: boolean,
  msg: OutboundMessage,
): IntermediateMessage {
  const plain = encodePayloads(msg.payloads);
  return {
    header: ourHeader(sa, messageId, response),
    firstInnerPayload: plain.firstType,
    inner: plain.bytes,
  };
}

function receivedMessage(msg: InboundMessage): IntermediateMessage {
  if (!msg.plain) throw new InvalidSyntaxError('IKE_INTERMEDIATE without an Encrypted payload');
  return {
    header: msg.bytes.subarray(0, 28),
    firstInnerPayload: msg.plain.firstType,
    inner: msg.plain.bytes,
  };
}

/** One link of both chains, then the key update with the exchange's shared secret. */
function complete(
  sa: IkeSa,
  method: number,
  req: IntermediateMessage,
  resp: IntermediateMessage,
  sk: Secret,
) {
  const old = sa.keymat!;
  const hash = sa.algorithms!.prf.hash;
  try {
    sa.intAuthI = intAuthStep(hash, old.skP(true), sa.intAuthI, req);
    sa.intAuthR = intAuthStep(hash, old.skP(false), sa.intAuthR, resp);
    sa.keymat = old.update(sk.bytes(), sa.nonceI!, sa.nonceR!, sa.spiI, sa.spiR);
  } finally {
    sk.destroy();
  }
  old.destroy();
  sa.intermediateDone++;
  sa.keMethods.push(method);
  sa.logger.log('info', 'additional key exchange done', { n: sa.intermediateDone, method });
}

export class IkeIntermediate implements Task {
  readonly name = 'ike-intermediate';
  readonly exchange = ExchangeType.IKE_INTERMEDIATE;
  #ke: KeInitiator | undefined;
  #sent: OutboundMessage | undefined;
  #secret: Secret | undefined;
  #request: IntermediateMessage | undefined;
  #method = 0;

  /** `method`: the initiator's key exchange method for this exchange; the responder reads it from the SA. */
  constructor(
    private readonly sa: IkeSa,
    method?: number,
  ) {
    this.#method = method ?? 0;
  }

  build(msg: OutboundMessage): void {
    const sa = this.sa;
    if (!sa.initiator) return this.#buildResponse(msg);
    this.#ke?.destroy();
    const r = initiatorKeyShare(this.#method, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', r.message);
    this.#ke = r.initiator;
    this.#sent = msg;
    msg.add({ kind: 'KE', group: this.#method, data: r.initiator.share });
  }

  process(msg: InboundMessage): void {
    return this.sa.initiator ? this.#processResponse(msg) : this.#processRequest(msg);
  }

  #processRequest(msg: InboundMessage): void {
    const sa = this.sa;
    // RFC 9370 §2.2.2: only while setting up, only as many as negotiated, in order.
    const n = sa.intermediateDone;
    if (sa.state !== 'connecting' || !sa.intermediate || n >= sa.addKe.length || !sa.keymat) {
      sa.services.counters.inc('ike.intermediate_unexpected');
      throw new InvalidSyntaxError(`IKE_INTERMEDIATE #${n + 1} was not negotiated`);
    }
    if (msg.header.messageId !== n + 1) {
      sa.services.counters.inc('ike.intermediate_unexpected');
      throw new InvalidSyntaxError(`IKE_INTERMEDIATE with message ID ${msg.header.messageId}, not ${n + 1}`);
    }
    this.#method = sa.addKe[n]!;
    const ke = findPayload(msg.payloads, 'KE');
    if (!ke || ke.group !== this.#method) {
      sa.services.counters.inc('ike.intermediate_bad_ke');
      throw new InvalidSyntaxError(
        `IKE_INTERMEDIATE #${n + 1}: KE ${ke ? `of method ${ke.group}` : 'missing'}, ${this.#method} negotiated`,
      );
    }
    const r = responderRespond(this.#method, ke.data, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) {
      sa.services.counters.inc('ike.intermediate_bad_ke');
      throw new IkeError('ERR_INVALID_SYNTAX', r.message, r.notify ?? NotifyType.INVALID_SYNTAX);
    }
    this.#request = receivedMessage(msg);
    this.#secret = r.secret;
    this.#sent = undefined;
    this.#ke = undefined;
    this.#shareOut = r.share;
  }

  #shareOut: Uint8Array | undefined;

  #buildResponse(msg: OutboundMessage): void {
    const sa = this.sa;
    const messageId = sa.intermediateDone + 1;
    msg.add({ kind: 'KE', group: this.#method, data: this.#shareOut! });
    // The response leaves with the current keys; the update follows once it is handed to the runner.
    msg.after(() => {
      const secret = this.#secret!;
      this.#secret = undefined;
      complete(sa, this.#method, this.#request!, sentMessage(sa, messageId, true, msg), secret);
    });
  }

  #processResponse(msg: InboundMessage): void {
    const sa = this.sa;
    const err = msg.payloads.find((p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType));
    if (err?.kind === 'NOTIFY')
      throw new PeerError(err.notifyType, `IKE_INTERMEDIATE refused with notify ${err.notifyType}`);
    const ke = findPayload(msg.payloads, 'KE');
    if (!ke || ke.group !== this.#method)
      throw new InvalidSyntaxError(
        `IKE_INTERMEDIATE response: KE ${ke ? `of method ${ke.group}` : 'missing'}`,
      );
    const r = this.#ke!.finish(ke.data);
    this.#ke = undefined;
    if (!r.ok) throw new InvalidSyntaxError(`IKE_INTERMEDIATE response: ${r.message}`);
    const req = sentMessage(sa, msg.header.messageId, false, this.#sent!);
    complete(sa, this.#method, req, receivedMessage(msg), r.secret);
  }

  abort(): void {
    this.#ke?.destroy();
    this.#ke = undefined;
    this.#secret?.destroy();
    this.#secret = undefined;
  }
}

/** Queues one initiator IKE_INTERMEDIATE task per additional key exchange, ahead of IKE_AUTH. */
export function queueIntermediate(sa: IkeSa, methods: readonly number[]): void {
  sa.tasks.queueFirst(methods.map((m) => new IkeIntermediate(sa, m)));
}
