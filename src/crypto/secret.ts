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

/** A single secret (PSK, SKEYSEED, g^ir ...) that refuses to print itself. */
export class Secret extends KeyContainer {
  constructor(readonly bytes: Uint8Array) {
    super();
  }
  protected buffers(): Uint8Array[] {
    return [this.bytes];
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
