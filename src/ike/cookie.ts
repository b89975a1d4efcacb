// Stateless cookies (RFC 7296 §2.6): above a number of half-open SAs the responder answers
// IKE_SA_INIT with a COOKIE instead of creating state, and only proceeds when the initiator echoes it.
//   Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
// The secret rotates; cookies made with the previous secret stay valid for one more period, so an
// initiator in flight across a rotation is not refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import { wipe } from '../crypto/index.ts';

interface CookieSecret {
  readonly version: number;
  readonly bytes: Uint8Array;
  readonly created: number;
}

export class CookieJar {
  #current: CookieSecret;
  #previous: CookieSecret | undefined;

  constructor(
    private readonly now: () => number,
    private readonly randomBytes: (n: number) => Uint8Array,
    private readonly lifetimeMs: number,
  ) {
    this.#current = { version: 0, bytes: randomBytes(32), created: now() };
  }

  /** The COOKIE notification data for this initiator (4-octet secret version + SHA-256). */
  make(ni: Uint8Array, ipi: string, spiI: Uint8Array): Uint8Array {
    this.#rotate();
    return this.#compute(this.#current, ni, ipi, spiI);
  }

  /** True when `cookie` was made by make() for the same inputs under a live secret. */
  verify(cookie: Uint8Array, ni: Uint8Array, ipi: string, spiI: Uint8Array): boolean {
    this.#rotate();
    if (cookie.length !== 4 + 32) return false;
    const version = new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
    const secret = [this.#current, this.#previous].find((s) => s?.version === version);
    if (!secret) return false;
    return timingSafeEqual(this.#compute(secret, ni, ipi, spiI), cookie);
  }

  #compute(s: CookieSecret, ni: Uint8Array, ipi: string, spiI: Uint8Array): Uint8Array {
    const h = createHash('sha256').update(ni).update(ipi).update(spiI).update(s.bytes).digest();
    const out = new Uint8Array(4 + h.length);
    new DataView(out.buffer).setUint32(0, s.version);
    out.set(h, 4);
    return out;
  }

  #rotate(): void {
    const now = this.now();
    if (now - this.#current.created < this.lifetimeMs) return;
    if (this.#previous) wipe(this.#previous.bytes);
    this.#previous = this.#current;
    this.#current = { version: (this.#current.version + 1) >>> 0, bytes: this.randomBytes(32), created: now };
  }

  destroy(): void {
    wipe(this.#current.bytes, this.#previous?.bytes);
  }
}
