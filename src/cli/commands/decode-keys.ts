// `ikeway decode --keys FILE`: opens the SK (and SKF) payloads of captured IKE messages with the
// IKE SA keys debug-keys wrote (src/daemon/keyfile.ts parses them). The direction comes from the
// header's Initiator flag (RFC 7296 §3.1): the original initiator's messages use SK_ei/SK_ai.
// Fragments (RFC 7383) are opened one by one and the message decoded once all have been seen.
// The output shows the decrypted payloads, never a key.
import {
  decodePayloads,
  isInitiator,
  isResponse,
  openFragment,
  openProtected,
  reassembleFragments,
} from '../../codec/index.ts';
import type { DecryptedFragment, IkeMessage, Payload } from '../../codec/index.ts';
import { toHex } from '../../codec/dissect.ts';
import { createSkCipher, type SkCipher } from '../../crypto/index.ts';
import type { IkeKeyEntry } from '../../daemon/keyfile.ts';

export type Opened =
  | { readonly state: 'clear' }
  | { readonly state: 'no-key'; readonly why: string }
  | { readonly state: 'fragment'; readonly have: number; readonly total: number }
  | { readonly state: 'failed'; readonly why: string }
  | { readonly state: 'decrypted'; readonly payloads: readonly Payload[] };

export class KeyedDecoder {
  readonly #keys = new Map<string, IkeKeyEntry>();
  readonly #ciphers = new Map<string, SkCipher>();
  readonly #frags = new Map<string, DecryptedFragment[]>();

  constructor(entries: readonly IkeKeyEntry[]) {
    for (const e of entries) this.#keys.set(`${e.spiI}${e.spiR}`, e);
  }

  get size(): number {
    return this.#keys.size;
  }

  #cipher(spis: string, fromInitiator: boolean): SkCipher | string {
    const id = `${spis}/${fromInitiator ? 'i' : 'r'}`;
    const have = this.#ciphers.get(id);
    if (have) return have;
    const e = this.#keys.get(spis);
    if (!e) return `no keys for SPIi ${spis.slice(0, 16)} SPIr ${spis.slice(16)} in the key file`;
    try {
      const c = createSkCipher(
        { encr: e.encr, keyLen: e.keyBits, ...(e.integ ? { integ: e.integ } : {}) },
        {
          encKey: fromInitiator ? e.skEi : e.skEr,
          ...(e.integ ? { integKey: fromInitiator ? e.skAi : e.skAr } : {}),
        },
      );
      this.#ciphers.set(id, c);
      return c;
    } catch (err) {
      return `the key file's keys for these SPIs are unusable: ${(err as Error).message}`;
    }
  }

  /** Opens the encrypted payload of `msg` (decodeMessage(bytes)), if it has one. */
  open(bytes: Uint8Array, msg: IkeMessage): Opened {
    const last = msg.payloads.at(-1);
    if (last?.kind !== 'SK' && last?.kind !== 'SKF') return { state: 'clear' };
    const h = msg.header;
    const spis = toHex(h.spiI) + toHex(h.spiR);
    const cipher = this.#cipher(spis, isInitiator(h));
    if (typeof cipher === 'string') return { state: 'no-key', why: cipher };
    try {
      if (last.kind === 'SK' || last.totalFragments === 1)
        return {
          state: 'decrypted',
          payloads: openProtected(bytes, msg, cipher, { rejectUnknownCritical: false }),
        };
      const key = `${spis}/${h.messageId}/${isInitiator(h) ? 'i' : 'r'}/${isResponse(h) ? 'resp' : 'req'}`;
      const list = (this.#frags.get(key) ?? []).filter((f) => f.fragmentNumber !== last.fragmentNumber);
      list.push(openFragment(bytes, msg, cipher));
      this.#frags.set(key, list);
      if (list.length < last.totalFragments)
        return { state: 'fragment', have: list.length, total: last.totalFragments };
      this.#frags.delete(key);
      const whole = reassembleFragments(list);
      return {
        state: 'decrypted',
        payloads: decodePayloads(whole.bytes, whole.firstType, 0, { rejectUnknownCritical: false }),
      };
    } catch (err) {
      return { state: 'failed', why: `cannot open the encrypted payload: ${(err as Error).message}` };
    }
  }
}
