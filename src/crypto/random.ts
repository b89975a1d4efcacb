// Random bytes for the engine (nonces, SPIs, cookie secrets, rekey jitter): served from a pool that
// one randomFillSync call refills, so that an IKE SA's half dozen small requests do not each cost
// a call into OpenSSL's DRBG (~1.5-2 us each, measured on the responder's profile as ~5% of its CPU).
// A handed-out range is zeroed in the pool at once: the pool never holds bytes that were used.
import { randomFillSync } from 'node:crypto';

/** Requests larger than this are served directly, not from the pool. */
const MAX_POOLED = 256;

export class RandomPool {
  readonly #buf: Uint8Array;
  #off: number;
  readonly #fill: (b: Uint8Array) => void;

  /** `fill` (default randomFillSync) refills the whole pool; tests inject a counter. */
  constructor(size = 4096, fill: (b: Uint8Array) => void = (b) => void randomFillSync(b)) {
    if (!Number.isInteger(size) || size < MAX_POOLED)
      throw new RangeError(`random pool size ${size} < ${MAX_POOLED}`);
    this.#buf = new Uint8Array(size);
    this.#off = size;
    this.#fill = fill;
  }

  /** `n` fresh random bytes (a new array the caller owns). */
  take(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`random byte count ${n}`);
    if (n > MAX_POOLED) {
      const out = new Uint8Array(n);
      this.#fill(out);
      return out;
    }
    if (this.#off + n > this.#buf.length) {
      this.#fill(this.#buf);
      this.#off = 0;
    }
    const end = this.#off + n;
    const out = this.#buf.slice(this.#off, end);
    this.#buf.fill(0, this.#off, end);
    this.#off = end;
    return out;
  }
}

const shared = new RandomPool();

/** `n` random bytes from the process's pool. */
export function randomBytes(n: number): Uint8Array {
  return shared.take(n);
}
