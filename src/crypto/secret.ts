// Key material handling (ARCHITECTURE principle 8): one place that wipes, one container type that
// never shows its bytes in logs. Note: KeyObjects hold a copy inside OpenSSL that JS cannot wipe;
// it is released when the KeyObject is garbage collected.
import { inspect } from 'node:util';

/** Overwrite every given buffer with zeros. Accepts undefined for convenience. */
export function wipe(...bufs: (Uint8Array | undefined | null)[]): void {
  for (const b of bufs) b?.fill(0);
}

const REDACTED = '<redacted>';

/**
 * Base class for containers of derived keys: `destroy()` wipes every registered buffer and marks the
 * container unusable; inspect/toString/JSON print "<redacted>".
 */
export abstract class KeyContainer {
  #destroyed = false;

  protected abstract buffers(): Uint8Array[];

  get destroyed(): boolean {
    return this.#destroyed;
  }

  destroy(): void {
    if (this.#destroyed) return;
    wipe(...this.buffers());
    this.#destroyed = true;
  }

  toString(): string {
    return `${this.constructor.name}(${REDACTED})`;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * A single secret (a PSK loaded from the config, SKEYSEED, g^ir ...). Every way of printing one
 * (String(), template literals, JSON.stringify, util.inspect, console.log) yields "<redacted>"; the
 * bytes are reachable only through `bytes()`, which names the intent in code review.
 */
export class Secret extends KeyContainer {
  readonly #bytes: Uint8Array;
  /** Where the secret came from, e.g. `file /etc/ikeway/hq.psk` or `env IKEWAY_PSK`; never the value. */
  readonly source: string;

  constructor(bytes: Uint8Array, source: string) {
    super();
    this.#bytes = bytes;
    this.source = source;
  }

  protected buffers(): Uint8Array[] {
    return [this.#bytes];
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

  override toString(): string {
    return REDACTED;
  }

  override toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  override [inspect.custom](): string {
    return `Secret(${REDACTED}, ${this.source})`;
  }
}

/** Concatenate byte arrays into a fresh Uint8Array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
