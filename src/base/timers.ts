// One timer structure for the whole daemon: a binary min-heap of deadlines with O(log n) insert and
// cancel (each entry knows its heap index), driving the clock's single alarm set to the earliest
// deadline. Retransmissions, rekeys, DPD, half-open and NAT-T keepalive timers of every SA live here;
// there is never one node timer per SA (compare wireguard-go's timers.go, all hooks in one place).
import type { Clock } from './clock.ts';

export interface TimerHandle {
  /** Absolute deadline (clock milliseconds). */
  readonly deadline: number;
  /** True until the timer fires or is cancelled. */
  readonly active: boolean;
  /** Removes the timer; returns false if it already fired or was cancelled. O(log n). */
  cancel(): boolean;
}

class Entry implements TimerHandle {
  index: number; // position in the heap, -1 once removed
  constructor(
    readonly deadline: number,
    readonly seq: number,
    readonly fn: () => void,
    index: number,
    readonly remove: (e: Entry) => boolean,
  ) {
    this.index = index;
  }
  get active(): boolean {
    return this.index >= 0;
  }
  cancel(): boolean {
    return this.remove(this);
  }
}

export interface TimerQueueOptions {
  /** Called with an error a timer callback threw; the other due timers still run. Default: rethrow
   *  the first such error after the pass (so tests see it). */
  readonly onError?: (err: unknown) => void;
}

export class TimerQueue {
  readonly clock: Clock;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #armedAt: number | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;

  constructor(clock: Clock, opts: TimerQueueOptions = {}) {
    this.clock = clock;
    this.#onError = opts.onError;
  }

  get size(): number {
    return this.#heap.length;
  }

  now(): number {
    return this.clock.now();
  }

  /** Earliest pending deadline, or undefined when no timer is pending. */
  nextDeadline(): number | undefined {
    return this.#heap[0]?.deadline;
  }

  /** Runs `fn` once `delayMs` from now. */
  after(delayMs: number, fn: () => void): TimerHandle {
    if (!Number.isFinite(delayMs) || delayMs < 0)
      throw new RangeError(`timer delay must be >= 0: ${delayMs}`);
    return this.at(this.clock.now() + delayMs, fn);
  }

  /** Runs `fn` at absolute clock time `deadline`. Timers with equal deadlines run in insertion order. */
  at(deadline: number, fn: () => void): TimerHandle {
    if (Number.isNaN(deadline)) throw new RangeError('timer deadline is NaN');
    const entry = new Entry(deadline, this.#seq++, fn, this.#heap.length, this.#removeFn);
    this.#heap.push(entry);
    this.#up(entry.index);
    this.#rearm();
    return entry;
  }

  /** Cancels every pending timer and the alarm (daemon shutdown). */
  clear(): void {
    for (const e of this.#heap) e.index = -1;
    this.#heap.length = 0;
    this.#rearm();
  }

  /**
   * Fires every timer whose deadline is <= now, in (deadline, insertion) order. Timers added by a
   * callback are left for the next alarm, so a callback re-arming at `now` cannot loop forever here.
   * Returns the number fired.
   */
  runDue(): number {
    const now = this.clock.now();
    const limitSeq = this.#seq;
    let fired = 0;
    let firstError: { err: unknown } | undefined;
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.deadline > now || top.seq >= limitSeq) break;
      this.#remove(top, false);
      fired++;
      try {
        top.fn();
      } catch (err) {
        if (this.#onError) this.#onError(err);
        else firstError ??= { err };
      }
    }
    this.#rearm();
    if (firstError) throw firstError.err;
    return fired;
  }

  #rearm(): void {
    const next = this.#heap[0]?.deadline;
    if (next === this.#armedAt) return;
    this.#armedAt = next;
    if (next === undefined) this.clock.clearAlarm();
    else
      this.clock.setAlarm(next, () => {
        this.#armedAt = undefined;
        this.runDue();
      });
  }

  readonly #removeFn = (e: Entry): boolean => this.#remove(e);

  #remove(entry: Entry, rearm = true): boolean {
    const i = entry.index;
    if (i < 0) return false;
    const last = this.#heap.pop() as Entry;
    entry.index = -1;
    if (last !== entry) {
      this.#heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    if (rearm) this.#rearm();
    return true;
  }

  #less(a: Entry, b: Entry): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const a = this.#heap[i] as Entry;
    const b = this.#heap[j] as Entry;
    this.#heap[i] = b;
    this.#heap[j] = a;
    a.index = j;
    b.index = i;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#heap[i] as Entry, this.#heap[parent] as Entry)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(this.#heap[l] as Entry, this.#heap[m] as Entry)) m = l;
      if (r < n && this.#less(this.#heap[r] as Entry, this.#heap[m] as Entry)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
