// Who gets a half-open responder SA under load (RFC 7296 §2.6; RFC 8019 §4-§7). Every check here
// runs before any DH or state, in the order of cost, so a flood from addresses that answer cookies
// cannot crowd out the peers we know:
//   1. the peer's IKE SAs (limits.ike-sas-per-peer), read from the source address alone, before decoding;
//   2. decoding and the exchange rules; an unknown critical payload is answered
//      UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 §2.5), statelessly; then the source's half-open SAs
//      (limits.half-open-per-source), except for peers a connection names by address;
//   3. the COOKIE above cookie-threshold (§2.6) and, when the request rate is high and puzzles are
//      enabled, an RFC 8019 puzzle on top of it, both before the global limit;
//   4. the global half-open limit, of which `halfOpenReserved` is room only for peers a connection
//      names by address. When the table is full, the oldest half-open SA of the source holding the
//      most half-open SAs ages out first (RFC 8019 §5: "a flooding source").
import {
  CodecError,
  ExchangeType,
  HeaderFlag,
  NotifyType,
  TransformType,
  checkExchangeRules,
  decodeMessage,
  encodeMessage,
  encodePuzzleData,
  type IkeMessage,
  type Payload,
} from '../codec/index.ts';
import { PUZZLE_PRFS, verifyPuzzle } from '../crypto/index.ts';
import type { PacketPath } from '../net/transport.ts';
import type { CounterName, Counters } from '../base/counters.ts';
import type { Logger } from '../base/logger.ts';
import type { IkeConnection, PuzzleOptions } from './config.ts';
import { CookieJar } from './cookie.ts';
import type { AdmissionLimits } from './limits.ts';
import { findNotify, findPayload, notify } from './wire.ts';

export interface AdmissionOptions {
  readonly halfOpenLimit: number;
  readonly halfOpenPerSource: number;
  readonly halfOpenReserved: number;
  readonly cookieThreshold: number;
  readonly cookieSecretLifetimeMs: number;
  readonly puzzles: PuzzleOptions;
}

export interface AdmissionDeps {
  readonly now: () => number;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly counters: Counters;
  readonly logger: Logger;
  /** The per-peer IKE SA counts and once-per-burst drop logging (src/ike/limits.ts). */
  readonly limits: AdmissionLimits;
  /** Sends a stateless answer (COOKIE, PUZZLE, error notify). */
  readonly send: (packet: Uint8Array, path: PacketPath) => void;
}

/** A request that may have its half-open SA, and the SA to age out first to make room. */
export interface Admitted<T> {
  readonly msg: IkeMessage;
  readonly config: IkeConnection;
  /** The connection names the peer's address: it may use the reserved room. */
  readonly reserved: boolean;
  readonly evict?: T;
}

export interface AdmissionStatus {
  readonly halfOpen: number;
  /** Half-open SAs of peers named by address (they may use the reserved room). */
  readonly halfOpenReserved: number;
  /** Source addresses holding half-open SAs, and the most any one holds. */
  readonly sources: number;
  readonly maxPerSource: number;
  /** The five sources holding the most half-open SAs. */
  readonly topSources: readonly { readonly addr: string; readonly halfOpen: number }[];
  /** New IKE_SA_INIT requests per second over the last full second. */
  readonly requestRate: number;
  /** RFC 8019 puzzle difficulty now asked of initiators (0: off). */
  readonly puzzleDifficulty: number;
}

interface Entry {
  readonly addr: string;
  readonly reserved: boolean;
}

const WINDOW_MS = 1000;

export class Admission<T> {
  readonly #cookies: CookieJar;
  /** Half-open SAs by source address, oldest first (a Set keeps insertion order). */
  readonly #bySource = new Map<string, Set<T>>();
  readonly #entry = new Map<T, Entry>();
  /** Unreserved sources by how many half-open SAs they hold: #byCount[n] holds sources with n. */
  readonly #byCount: Set<string>[] = [];
  #reservedCount = 0;
  #winStart: number;
  #winCount = 0;
  #rate = 0;
  #difficulty = 0;
  #lastOver = -Infinity;

  constructor(
    private readonly o: AdmissionOptions,
    private readonly d: AdmissionDeps,
  ) {
    this.#cookies = new CookieJar(d.now, d.randomBytes, o.cookieSecretLifetimeMs);
    this.#winStart = d.now();
  }

  get halfOpen(): number {
    return this.#entry.size;
  }

  /** The puzzle difficulty asked now (0: puzzles off). */
  get puzzleDifficulty(): number {
    this.#tick();
    return this.#difficulty;
  }

  /**
   * The admission path of a new IKE_SA_INIT request (no SA for its SPIi yet). Returns what the SA
   * needs, or undefined when the request was dropped (counted) or answered statelessly.
   */
  request(
    packet: Uint8Array,
    path: PacketPath,
    pick: (p: PacketPath) => IkeConnection | undefined,
  ): Admitted<T> | undefined {
    this.#winCount++;
    this.#tick();
    const addr = path.remoteAddr;
    if (!this.d.limits.admitPeer(addr)) return undefined;
    const msg = this.#decode(packet, path);
    if (!msg) return undefined;
    // RFC 7296 §2.15: IKE_SA_INIT only tells addresses; IKE_AUTH re-selects (src/ike/select.ts).
    const config = pick(path);
    if (!config) return this.#drop('ike.drop_no_connection');
    const reserved = config.remoteAddr !== undefined;
    // Peers a connection names by address are exempt: a spoofer who sends a few requests with a
    // branch's address must not fill that branch's quota (the cookie and the reserved room guard them).
    if (!reserved && (this.#bySource.get(addr)?.size ?? 0) >= this.o.halfOpenPerSource) {
      this.d.limits.refuse('per-source', { limit: this.o.halfOpenPerSource, peer: addr });
      return undefined;
    }
    const busy = this.#entry.size >= this.o.cookieThreshold || this.#difficulty > 0;
    if (busy && !this.#cookieOk(msg, path, reserved)) return undefined;
    const room = this.#room(addr, reserved);
    if (!room) return undefined;
    return { msg, config, reserved, ...(room.evict !== undefined && { evict: room.evict }) };
  }

  /** A half-open SA now exists for `addr`. */
  opened(sa: T, addr: string, reserved: boolean): void {
    if (this.#entry.has(sa)) return;
    this.#entry.set(sa, { addr, reserved });
    let set = this.#bySource.get(addr);
    if (!set) this.#bySource.set(addr, (set = new Set()));
    set.add(sa);
    if (reserved) this.#reservedCount++;
    else this.#move(addr, set.size - 1, set.size);
  }

  /** The SA is no longer half-open (established, failed, timed out or evicted). */
  closed(sa: T): void {
    const e = this.#entry.get(sa);
    if (!e) return;
    this.#entry.delete(sa);
    const set = this.#bySource.get(e.addr)!;
    set.delete(sa);
    if (set.size === 0) this.#bySource.delete(e.addr);
    if (e.reserved) this.#reservedCount--;
    else this.#move(e.addr, set.size + 1, set.size);
  }

  status(): AdmissionStatus {
    this.#tick();
    const top = [...this.#bySource]
      .map(([addr, s]) => ({ addr, halfOpen: s.size }))
      .sort((a, b) => b.halfOpen - a.halfOpen)
      .slice(0, 5);
    return {
      halfOpen: this.#entry.size,
      halfOpenReserved: this.#reservedCount,
      sources: this.#bySource.size,
      maxPerSource: top[0]?.halfOpen ?? 0,
      topSources: top,
      requestRate: this.#rate,
      puzzleDifficulty: this.#difficulty,
    };
  }

  destroy(): void {
    this.#cookies.destroy();
  }

  #drop(c: CounterName): undefined {
    this.d.counters.inc(c);
    return undefined;
  }

  /** Moves an unreserved source between the count buckets. */
  #move(addr: string, from: number, to: number): void {
    if (from > 0) this.#byCount[from]?.delete(addr);
    if (to > 0) (this.#byCount[to] ??= new Set()).add(addr);
  }

  /**
   * The global limit with the reserved room. A full table makes room by aging out the oldest
   * half-open SA of the heaviest unreserved source, when that source holds at least two more than
   * the requester: a source can never push out one lighter than itself, so a legitimate peer with
   * one request in flight is the last to go and floods only displace each other.
   */
  #room(addr: string, reserved: boolean): { evict?: T } | undefined {
    const limit = this.o.halfOpenLimit;
    const reserve = Math.min(this.o.halfOpenReserved, Math.floor(limit / 2));
    const total = this.#entry.size;
    const unreserved = total - this.#reservedCount;
    if (reserved ? total < limit : total < limit && unreserved < limit - reserve) return {};
    const own = reserved ? 0 : (this.#bySource.get(addr)?.size ?? 0);
    for (let n = this.#byCount.length - 1; n >= own + 2; n--) {
      const src = this.#byCount[n]?.values().next().value;
      if (src === undefined) continue;
      const victim = this.#bySource.get(src)!.values().next().value as T;
      this.closed(victim);
      this.d.counters.inc('ike.evict_half_open');
      return { evict: victim };
    }
    return this.d.limits.refuse('half-open', { limit, reserved: reserve }) ? {} : undefined;
  }

  /** Decodes and checks the exchange rules; answers an unknown critical payload (RFC 7296 §2.5). */
  #decode(packet: Uint8Array, path: PacketPath): IkeMessage | undefined {
    let msg: IkeMessage;
    try {
      msg = decodeMessage(packet);
      checkExchangeRules(msg);
    } catch (e) {
      if (e instanceof CodecError && e.notify === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD) {
        // §2.5: "MUST reject the entire message and MUST send an UNSUPPORTED_CRITICAL_PAYLOAD"
        // notification with the payload type as its data; stateless, like a COOKIE.
        this.#answer(
          packet.subarray(0, 8),
          [notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, e.notifyData)],
          path,
        );
        return this.#drop('ike.unsupported_critical_sent');
      }
      return this.#drop(
        e instanceof CodecError && e.code === 'ERR_IKE_RULE_VIOLATION'
          ? 'ike.drop_rules'
          : 'ike.drop_malformed',
      );
    }
    return msg;
  }

  #answer(spiI: Uint8Array, payloads: Payload[], path: PacketPath): void {
    const header = {
      spiI: spiI.slice(),
      spiR: new Uint8Array(8),
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.RESPONSE,
      messageId: 0,
    };
    this.d.send(encodeMessage({ header, payloads }), path);
  }

  /** Rolls the one-second request-rate window and sets the puzzle difficulty from it. */
  #tick(): void {
    const now = this.d.now();
    const elapsed = now - this.#winStart;
    if (elapsed < WINDOW_MS) return;
    this.#rate = Math.round((this.#winCount * 1000) / elapsed);
    this.#winStart = now;
    this.#winCount = 0;
    const p = this.o.puzzles;
    if (!p.enabled) return;
    const before = this.#difficulty;
    if (this.#rate >= p.above) {
      // One more bit each time the rate doubles (RFC 8019 §7.1.1 leaves the policy to us).
      const extra = Math.floor(Math.log2(this.#rate / p.above));
      this.#difficulty = Math.min(p.maxDifficulty, p.difficulty + extra);
      this.#lastOver = now;
    } else if (now - this.#lastOver >= p.holdMs) this.#difficulty = 0;
    if (this.#difficulty !== before)
      this.d.logger.log('warn', this.#difficulty ? 'client puzzles on (RFC 8019)' : 'client puzzles off', {
        difficulty: this.#difficulty,
        rate: this.#rate,
      });
  }

  /**
   * The PRF for the puzzle (RFC 8019 §7.1.1.2): one the initiator proposed that we support, the
   * first in its order (the SA payload is the same in the retried request, so is the choice).
   */
  #puzzlePrf(msg: IkeMessage): number | undefined {
    const sa = findPayload(msg.payloads, 'SA');
    for (const pr of sa?.proposals ?? [])
      for (const t of pr.transforms) if (t.type === TransformType.PRF && PUZZLE_PRFS.has(t.id)) return t.id;
    return undefined;
  }

  /**
   * RFC 7296 §2.6 COOKIE, with an RFC 8019 PUZZLE on top while puzzles are on (never for peers named
   * by address: the cookie already proves their address, and the reserved room is theirs). The cookie
   * carries the difficulty posed with it (src/ike/cookie.ts, §7.1.1.3), so a returned cookie tells
   * whether a puzzle was given and how hard. Returns true when the request may go on.
   */
  #cookieOk(msg: IkeMessage, path: PacketPath, reserved: boolean): boolean {
    const nonce = findPayload(msg.payloads, 'NONCE');
    if (!nonce) return false;
    const spiI = msg.header.spiI;
    const difficulty = reserved ? 0 : this.#difficulty;
    const cookie = findNotify(msg.payloads, NotifyType.COOKIE);
    if (cookie) {
      const posed = this.#cookies.check(cookie.data, nonce.data, path.remoteAddr, spiI);
      if (posed < 0) {
        this.#drop('ike.drop_bad_cookie');
        return false;
      }
      // §7.1.4: the level asked is the one posed with this cookie; a cookie given without a puzzle
      // passes while puzzles are off (a PS in it "MUST be ignored"), else it earns a puzzle now.
      const required = reserved ? 0 : posed > 0 ? posed : difficulty;
      if (required === 0) return true;
      const prf = this.#puzzlePrf(msg);
      const ps = msg.payloads.find((p) => p.kind === 'PS');
      // §7.1.4: all four keys of the solution earn at least the requested zero bits.
      if (ps && prf !== undefined && verifyPuzzle(prf, required, ps.data, cookie.data)) return true;
      this.d.counters.inc(ps ? 'ike.drop_bad_puzzle' : 'ike.drop_puzzle_missing');
      // §7.1.5: "demand more work from the Initiator by giving it a new puzzle" (as cheap as the
      // COOKIE alone), so an initiator that ignored or failed the puzzle may still try again.
    }
    const prf = difficulty > 0 ? this.#puzzlePrf(msg) : undefined;
    if (difficulty > 0 && prf === undefined) {
      // §7.1.1.2: "If there are no mutually supported PRFs, then IKE SA negotiation will fail anyway
      // and there is no reason to return a puzzle. In this case the Responder returns a
      // NO_PROPOSAL_CHOSEN notification."
      this.#answer(spiI, [notify(NotifyType.NO_PROPOSAL_CHOSEN)], path);
      this.d.counters.inc('ike.puzzle_no_prf');
      return false;
    }
    const posed = prf !== undefined ? difficulty : 0;
    const data = this.#cookies.make(nonce.data, path.remoteAddr, spiI, posed);
    // §7.1.1: "HDR, N(COOKIE), N(PUZZLE), [V+][N+]"; the PUZZLE never goes without the COOKIE.
    const payloads: Payload[] = [notify(NotifyType.COOKIE, data)];
    if (prf !== undefined) payloads.push(notify(NotifyType.PUZZLE, encodePuzzleData({ prf, difficulty })));
    this.#answer(spiI, payloads, path);
    this.d.counters.inc('ike.cookie_sent');
    if (prf !== undefined) this.d.counters.inc('ike.puzzle_sent');
    return false;
  }
}
