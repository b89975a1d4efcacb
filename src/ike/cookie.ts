// Stateless cookies (RFC 7296 §2.6): above a number of half-open SAs the responder answers
// IKE_SA_INIT with a COOKIE instead of creating state, and only proceeds when the initiator echoes it.
//   Cookie = <VersionIDofSecret> | <AdditionalInfo> | Hash(Ni | IPi | SPIi | <AdditionalInfo> | <secret>)
// with RFC 8019 §7.1.1.3's integrity-protected <AdditionalInfo>: one octet, the puzzle difficulty
// posed with the cookie (0: only a cookie was asked), so the responder learns from the returned
// cookie alone whether a puzzle was given and how hard (§7.1.4).
// The secret rotates; cookies made with the previous secret stay valid for one more period, so an
// initiator in flight across a rotation is not refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import { wipe } from '../crypto/index.ts';

const COOKIE_LEN = 4 + 1 + 32;
/** Scratch for the info octet fed to the hash (no allocation per cookie). */
const INFO = new Uint8Array(1);

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

  /**
   * The COOKIE notification data for this initiator: 4-octet secret version, the info octet (0..255)
   * and SHA-256; 37 octets (RFC 7296 §2.6: at most 64).
   */
  make(ni: Uint8Array, ipi: string, spiI: Uint8Array, info = 0): Uint8Array {
    this.#rotate();
    return this.#compute(this.#current, ni, ipi, spiI, info);
  }

  /** True when `cookie` was made by make() for the same inputs under a live secret. */
  verify(cookie: Uint8Array, ni: Uint8Array, ipi: string, spiI: Uint8Array): boolean {
    return this.check(cookie, ni, ipi, spiI) >= 0;
  }

  /** The info octet of a cookie make() made for these inputs under a live secret, else -1. */
  check(cookie: Uint8Array, ni: Uint8Array, ipi: string, spiI: Uint8Array): number {
    this.#rotate();
    if (cookie.length !== COOKIE_LEN) return -1;
    const version = new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
    const secret = [this.#current, this.#previous].find((s) => s?.version === version);
    if (!secret) return -1;
    const info = cookie[4]!;
    return timingSafeEqual(this.#compute(secret, ni, ipi, spiI, info), cookie) ? info : -1;
  }

  #compute(s: CookieSecret, ni: Uint8Array, ipi: string, spiI: Uint8Array, info: number): Uint8Array {
    INFO[0] = info;
    const h = createHash('sha256').update(ni).update(ipi).update(spiI).update(INFO).update(s.bytes).digest();
    const out = new Uint8Array(COOKIE_LEN);
    new DataView(out.buffer).setUint32(0, s.version);
    out[4] = info;
    out.set(h, 5);
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
