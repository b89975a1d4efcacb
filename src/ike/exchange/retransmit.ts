// Retransmission tunables (RFC 7296 §2.1 leaves the schedule to the implementation; these are
// strongSwan's charon defaults: 4 s, base 1.8, 5 retransmits, i.e. give up after about 165 s).

export interface RetransmitPolicy {
  /** First timeout in ms. */
  readonly timeoutMs: number;
  /** Each further timeout is multiplied by this. */
  readonly base: number;
  /** Retransmissions after the first send before giving up. */
  readonly tries: number;
  /** Upper bound for one timeout in ms (0 = none). */
  readonly limitMs: number;
  /** Each timeout is shortened by a random fraction up to this, in [0, 1), to spread bursts. */
  readonly jitter: number;
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = Object.freeze({
  timeoutMs: 4000,
  base: 1.8,
  tries: 5,
  limitMs: 0,
  jitter: 0,
});

export function resolveRetransmit(p: Partial<RetransmitPolicy> = {}): RetransmitPolicy {
  const r = { ...DEFAULT_RETRANSMIT, ...p };
  const bad = (field: string, v: number) => new RangeError(`retransmit.${field} out of range: ${v}`);
  if (!(r.timeoutMs > 0)) throw bad('timeoutMs', r.timeoutMs);
  if (!(r.base >= 1)) throw bad('base', r.base);
  if (!Number.isInteger(r.tries) || r.tries < 0 || r.tries > 100) throw bad('tries', r.tries);
  if (!(r.limitMs >= 0)) throw bad('limitMs', r.limitMs);
  if (!(r.jitter >= 0 && r.jitter < 1)) throw bad('jitter', r.jitter);
  return r;
}

/**
 * The wait after each send: entry i follows send i+1; the last entry is the wait after the final
 * retransmission before giving up. Length tries + 1.
 */
export function retransmitDelays(p: RetransmitPolicy): number[] {
  return Array.from({ length: p.tries + 1 }, (_, n) => {
    const d = p.timeoutMs * Math.pow(p.base, n);
    return p.limitMs > 0 ? Math.min(d, p.limitMs) : d;
  });
}

/** The resolved schedule of one configured policy object (shared by every exchange that uses it). */
export interface RetransmitSchedule {
  readonly delays: readonly number[];
  readonly jitter: number;
}
const SCHEDULES = new WeakMap<object, RetransmitSchedule>();
let defaultSchedule: RetransmitSchedule | undefined;

/**
 * resolveRetransmit + retransmitDelays, once per policy object: every IKE SA's exchange runner asks
 * for the schedule of the same few configured objects (a per-SA array otherwise).
 */
export function retransmitSchedule(p?: Partial<RetransmitPolicy>): RetransmitSchedule {
  const have = p ? SCHEDULES.get(p) : defaultSchedule;
  if (have) return have;
  const policy = resolveRetransmit(p);
  const s = Object.freeze({ delays: Object.freeze(retransmitDelays(policy)), jitter: policy.jitter });
  if (p) SCHEDULES.set(p, s);
  else defaultSchedule = s;
  return s;
}
