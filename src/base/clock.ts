// The injectable clock. Time is monotonic milliseconds (never wall-clock: a stepped system clock must not
// fire or starve retransmissions). A clock has exactly one alarm: the daemon-wide TimerQueue
// (./timers.ts) arms it for its earliest deadline, so there is one node timer however many SAs exist.
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic time in milliseconds. */
  now(): number;
  /** Arms the single alarm to call `fire` at (or after) time `at`; replaces any armed alarm. */
  setAlarm(at: number, fire: () => void): void;
  clearAlarm(): void;
}

/** Node's setTimeout cannot wait longer than 2^31-1 ms; longer alarms wake early and re-arm. */
const MAX_NODE_DELAY = 0x7fffffff;

export interface RealClockOptions {
  /** Do not keep the event loop alive for the alarm alone (tests, short-lived CLI commands). */
  readonly unref?: boolean;
}

export class RealClock implements Clock {
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #unref: boolean;

  constructor(opts: RealClockOptions = {}) {
    this.#unref = opts.unref ?? false;
  }

  now(): number {
    return performance.now();
  }

  setAlarm(at: number, fire: () => void): void {
    this.clearAlarm();
    const delay = Math.min(Math.max(0, Math.ceil(at - this.now())), MAX_NODE_DELAY);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      fire();
    }, delay);
    if (this.#unref) this.#timer.unref();
  }

  clearAlarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

export class FakeClockError extends Error {
  override readonly name = 'FakeClockError';
  readonly code = 'ERR_FAKE_CLOCK_RUNAWAY';
}

/**
 * A clock that only moves when told to. `advance` steps time to each alarm in turn and fires it, so the
 * TimerQueue runs its timers in deadline order, each seeing `now()` equal to its own deadline.
 */
export class FakeClock implements Clock {
  #now: number;
  #alarm: { at: number; fire: () => void } | undefined;
  /** Upper bound on alarms fired by one advance(), so a timer that re-arms at `now` cannot hang a test. */
  readonly maxFiresPerAdvance: number;

  constructor(start = 0, maxFiresPerAdvance = 100_000) {
    this.#now = start;
    this.maxFiresPerAdvance = maxFiresPerAdvance;
  }

  now(): number {
    return this.#now;
  }

  setAlarm(at: number, fire: () => void): void {
    this.#alarm = { at, fire };
  }

  clearAlarm(): void {
    this.#alarm = undefined;
  }

  /** When the armed alarm is due, or undefined. */
  get alarmAt(): number | undefined {
    return this.#alarm?.at;
  }

  /** Moves time forward by `ms`, firing every alarm that falls due on the way (deadline order). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(ms): ms must be >= 0, got ${ms}`);
    this.advanceTo(this.#now + ms);
  }

  advanceTo(target: number): void {
    for (let fired = 0; this.#alarm !== undefined && this.#alarm.at <= target; fired++) {
      if (fired >= this.maxFiresPerAdvance) {
        throw new FakeClockError(`more than ${this.maxFiresPerAdvance} alarms in one advance`);
      }
      const alarm = this.#alarm;
      this.#alarm = undefined;
      this.#now = Math.max(this.#now, alarm.at);
      alarm.fire();
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Fires alarms until none is armed (or `limitMs` has passed); returns the time reached. */
  runAll(limitMs = 24 * 3600 * 1000): number {
    const end = this.#now + limitMs;
    for (let steps = 0; this.#alarm !== undefined && this.#alarm.at <= end; steps++) {
      if (steps >= this.maxFiresPerAdvance) {
        throw new FakeClockError(`more than ${this.maxFiresPerAdvance} alarms in one runAll`);
      }
      this.advanceTo(this.#alarm.at);
    }
    return this.#now;
  }
}
