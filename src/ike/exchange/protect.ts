// Encoding our messages (clear IKE_SA_INIT, SK, or RFC 7383 SKF fragments) and opening received
// ones, with bounded-memory reassembly. Uses the codec for bytes and the IKE SA's SK ciphers.
import {
  ExchangeType,
  HeaderFlag,
  encodeFragments,
  encodeMessage,
  encodeProtected,
  type DecryptedFragment,
  type IkeHeaderFields,
  type Payload,
} from '../../codec/index.ts';
import { NON_ESP_MARKER_LEN } from '../../net/transport.ts';
import type { ExchangeSa } from './sa-view.ts';

export function headerFor(
  sa: ExchangeSa,
  exchangeType: number,
  messageId: number,
  response: boolean,
): IkeHeaderFields {
  // RFC 7296 §3.1: I is set by the original initiator, R on responses.
  const flags = (sa.initiator ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0);
  return { spiI: sa.spiI, spiR: sa.spiR, exchangeType, flags, messageId };
}

/** One message as the packets to send: RFC 7383 fragments when negotiated and the message is too big. */
export function encodeOutbound(
  sa: ExchangeSa,
  header: IkeHeaderFields,
  payloads: readonly Payload[],
): Uint8Array[] {
  if (header.exchangeType === ExchangeType.IKE_SA_INIT) return [encodeMessage({ header, payloads })];
  const keymat = sa.keymat;
  if (!keymat) throw new Error(`no keys to protect ${header.exchangeType} on ${sa.name}`);
  const whole = encodeProtected(header, payloads, keymat.outbound);
  const natt = sa.path.localPort === sa.services.ports.natt;
  // RFC 7383 §2.5.1: the limit is for the IKE message; the non-ESP marker shares the datagram.
  const limit = sa.services.options.fragmentSize - (natt ? NON_ESP_MARKER_LEN : 0);
  if (!sa.fragmentation || whole.length <= limit) return [whole];
  const frags = encodeFragments(header, payloads, keymat.outbound, limit);
  sa.services.counters.inc('ike.fragments_sent', frags.length);
  return frags;
}

/**
 * RFC 7383 §2.6: collects the decrypted fragments of one message. Memory is bounded by a maximum
 * fragment count and total size; a fragment of a newer message replaces the partial older one.
 */
export class Reassembly {
  #messageId = -1;
  #total = 0;
  #bytes = 0;
  readonly #frags = new Map<number, DecryptedFragment>();

  constructor(
    private readonly maxFragments: number,
    private readonly maxBytes: number,
  ) {}

  /** 'reject' when the fragment cannot be kept; the fragments when the message is complete. */
  add(messageId: number, f: DecryptedFragment): 'pending' | 'reject' | DecryptedFragment[] {
    if (f.totalFragments > this.maxFragments || f.fragmentNumber > f.totalFragments || f.fragmentNumber < 1) {
      return 'reject';
    }
    if (messageId !== this.#messageId || f.totalFragments !== this.#total) {
      // RFC 7383 §2.6.1: a retransmission may be fragmented differently; start over.
      this.clear();
      this.#messageId = messageId;
      this.#total = f.totalFragments;
    }
    if (this.#frags.has(f.fragmentNumber)) return 'pending'; // duplicate
    if (this.#bytes + f.plain.length > this.maxBytes) {
      this.clear();
      return 'reject';
    }
    this.#frags.set(f.fragmentNumber, f);
    this.#bytes += f.plain.length;
    if (this.#frags.size < this.#total) return 'pending';
    const all = [...this.#frags.values()];
    this.clear();
    return all;
  }

  clear(): void {
    this.#frags.clear();
    this.#bytes = 0;
    this.#messageId = -1;
    this.#total = 0;
  }
}
