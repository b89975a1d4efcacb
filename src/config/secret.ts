// A loaded secret (pre-shared key). ARCHITECTURE principle 8: secrets never reach logs, so every way
// of printing one (String(), template literals, JSON.stringify, util.inspect, console.log) yields
// "<redacted>". The bytes are reachable only through `bytes()`, which names the intent in code review.
import { inspect } from 'node:util';

const REDACTED = '<redacted>';

export class Secret {
  readonly #bytes: Uint8Array;
  /** Where the secret came from, e.g. `file /etc/ikeway/hq.psk` or `env IKEWAY_PSK`; never the value. */
  readonly source: string;

  constructor(bytes: Uint8Array, source: string) {
    this.#bytes = bytes;
    this.source = source;
  }

  /** The secret bytes (the engine's PSK auth, RFC 7296 §2.15, is the only intended caller). */
  bytes(): Uint8Array {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Overwrite the bytes with zeros (on reload or shutdown). */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED}, ${this.source})`;
  }
}
