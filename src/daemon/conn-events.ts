// Per-connection event history for the metrics page: establishments, failures by reason class,
// rekeys, liveness failures and when the connection was last established. Fed from engine events;
// holds only names, counts and times (no SA objects beyond a WeakSet, no keys).
import type { EngineEvent } from '../ike/services.ts';
import type { IkeSa } from '../ike/ike-sa.ts';

/** A bounded set of failure classes (free-text reasons would make unbounded label values). */
export const FAILURE_REASONS = [
  'timeout',
  'half_open_timeout',
  'auth',
  'no_proposal',
  'ts_unacceptable',
  'key_exchange',
  'kernel',
  'other',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export function failureReason(text: string): FailureReason {
  if (/half-open/i.test(text)) return 'half_open_timeout';
  if (/no response|timed? ?out/i.test(text)) return 'timeout';
  if (/AUTHENTICATION_FAILED|auth|signature|certificate|psk/i.test(text)) return 'auth';
  if (/NO_PROPOSAL_CHOSEN|proposal|transform/i.test(text)) return 'no_proposal';
  if (/TS_UNACCEPTABLE|traffic selector/i.test(text)) return 'ts_unacceptable';
  if (/INVALID_KE|key exchange|\bKE\b/i.test(text)) return 'key_exchange';
  if (/kernel|XFRM|netlink|E[A-Z]{3,}/.test(text)) return 'kernel';
  return 'other';
}

/** Child SA failures carry the IKE notify they were answered with (RFC 7296 §3.10.1). */
function childReason(reason: string, notify: number | undefined): FailureReason {
  switch (notify) {
    case 14:
      return 'no_proposal';
    case 38:
      return 'ts_unacceptable';
    case 17:
      return 'key_exchange';
    case 24:
      return 'auth';
  }
  return failureReason(reason);
}

export interface ConnEventCounts {
  ikeEstablished: number;
  childInstalled: number;
  ikeRekeys: number;
  childRekeys: number;
  livenessFailures: number;
  ikeFailures: Map<FailureReason, number>;
  childFailures: Map<FailureReason, number>;
  /** Wall-clock ms of the last IKE SA establishment. */
  lastEstablishedMs: number | undefined;
  /** Wall-clock ms an IKE or Child SA of it was last destroyed (when it is down: since then). */
  lastDownMs: number | undefined;
  /** The last IKE or Child SA failure, its reason as the engine said it (for `explain`). */
  lastFailure: { atMs: number; reason: string } | undefined;
}

const empty = (): ConnEventCounts => ({
  ikeEstablished: 0,
  childInstalled: 0,
  ikeRekeys: 0,
  childRekeys: 0,
  livenessFailures: 0,
  ikeFailures: new Map(),
  childFailures: new Map(),
  lastEstablishedMs: undefined,
  lastDownMs: undefined,
  lastFailure: undefined,
});

const bump = (m: Map<FailureReason, number>, r: FailureReason) => m.set(r, (m.get(r) ?? 0) + 1);

export class ConnEvents {
  readonly #by = new Map<string, ConnEventCounts>();
  readonly #established = new WeakSet<IkeSa>();
  readonly #wallNow: () => number;

  constructor(wallNow: () => number = Date.now) {
    this.#wallNow = wallNow;
  }

  of(name: string): ConnEventCounts {
    let c = this.#by.get(name);
    if (!c) this.#by.set(name, (c = empty()));
    return c;
  }

  names(): IterableIterator<string> {
    return this.#by.keys();
  }

  onEvent(e: EngineEvent): void {
    const c = this.of(e.sa.config.name);
    switch (e.type) {
      case 'ike-established':
        this.#established.add(e.sa);
        c.ikeEstablished++;
        c.lastEstablishedMs = this.#wallNow();
        break;
      case 'ike-failed': {
        const r = failureReason(e.reason);
        bump(c.ikeFailures, r);
        c.lastFailure = { atMs: this.#wallNow(), reason: e.reason };
        // An established SA that stopped answering: the liveness check (RFC 7296 §2.4) failed.
        if (r === 'timeout' && this.#established.has(e.sa)) c.livenessFailures++;
        break;
      }
      case 'child-installed':
        c.childInstalled++;
        break;
      case 'child-failed':
        bump(c.childFailures, childReason(e.reason, e.notify));
        c.lastFailure = { atMs: this.#wallNow(), reason: `Child SA: ${e.reason}` };
        break;
      case 'ike-rekeyed':
        this.#established.add(e.sa);
        c.ikeRekeys++;
        break;
      case 'child-rekeyed':
        c.childRekeys++;
        break;
      case 'ike-destroyed':
      case 'child-destroyed':
        c.lastDownMs = this.#wallNow();
        break;
    }
  }
}
