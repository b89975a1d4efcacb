// One key-exchange API for both roles and every method, DH or KEM (RFC 9370 §2: "Key Exchange Method").
// This is what the engine runs for KE payloads in IKE_SA_INIT, IKE_INTERMEDIATE (RFC 9370 §2.2.2),
// CREATE_CHILD_SA and IKE_FOLLOWUP_KE (§2.2.4):
//
//   initiator                                   responder
//   i = initiatorKeyShare(method)
//   KEi data = i.initiator.share   ------->     r = responderRespond(method, KEi data)
//                                  <-------     KEr data = r.share; SK = r.secret
//   SK = i.initiator.finish(KEr data).secret
//
// DH (ke.ts): share = our public value both ways, SK = g^ir. ML-KEM (mlkem.ts): the initiator's share
// is its encapsulation key ek, the responder encapsulates to it and answers with the ciphertext c, and
// the initiator decapsulates (draft-ietf-ipsecme-ikev2-mlkem §2). Secrets come back as Secret objects:
// the caller feeds them to derive.ts and then calls destroy() (ARCHITECTURE principle 8).
//
// Nothing here throws for peer input: every outcome is a value. A failure carries a stable `code` and
// the notify a responder answers with; an initiator that gets a failure from finish() aborts the SA
// (there is nothing to answer to a response, RFC 7296 §2.21.2).
//   INVALID_LENGTH       the share is not the method's length             -> INVALID_SYNTAX
//   INVALID_PUBLIC_KEY   DH value not in the group / ek fails the FIPS 203 §7.2 modulus check
//                                                                        -> INVALID_SYNTAX
//   UNSUPPORTED          method not implemented (proposal checks should have kept it out)
//                                                                        -> NO_PROPOSAL_CHOSEN
//   USED                 finish() called twice / after destroy(): a local bug, no notify
// An ML-KEM ciphertext of the right length is never refused (implicit rejection, FIPS 203 §6.3): a
// corrupt one gives the initiator a different secret than the responder's, so the keys derived from it
// differ and the exchange fails at the next integrity check or at AUTH (AUTHENTICATION_FAILED).
import { inspect } from 'node:util';
import { NotifyType } from '../codec/iana.ts';
import { CryptoError } from './errors.ts';
import { createKeyExchange, type KeyExchange } from './ke.ts';
import {
  checkCiphertext,
  checkEncapsulationKey,
  guarded,
  mlKemBackend,
  wipePrivate,
  type MlKemBackend,
  type MlKemPrivate,
} from './mlkem.ts';
import { lookupKeGroup, lookupKem, lookupKeMethod, type KemMethod, type KeMethodInfo } from './registry.ts';
import { Secret } from './secret.ts';

export type KeFailureCode = 'INVALID_LENGTH' | 'INVALID_PUBLIC_KEY' | 'UNSUPPORTED' | 'USED';

export interface KeFailure {
  readonly ok: false;
  readonly code: KeFailureCode;
  /** What a responder answers with; undefined for local misuse (code USED). */
  readonly notify?: NotifyType;
  /** Names the method and the lengths involved, never key bytes. */
  readonly message: string;
}

export type KeResult<T> = ({ readonly ok: true } & T) | KeFailure;

export interface KeInitiator {
  /** The Transform Type 4 id (also used in the ADDKE1..7 slots). */
  readonly method: number;
  readonly name: string;
  /** KEi payload data: a DH public value, or an ML-KEM encapsulation key. */
  readonly share: Uint8Array;
  /**
   * Takes the KEr payload data and returns the shared secret. Single use: the private key material is
   * wiped on return, whatever the outcome (a retry after INVALID_KE_PAYLOAD uses a new initiator).
   */
  finish(peerShare: Uint8Array): KeResult<{ readonly secret: Secret }>;
  /** Wipe the private key without finishing (exchange abandoned). Idempotent. */
  destroy(): void;
}

export interface KeRoleOptions {
  /** Where DH key pairs come from, e.g. `(g) => pool.take(g)`; default createKeyExchange. */
  readonly createDh?: (group: number) => KeyExchange;
  /** ML-KEM backend; default mlKemBackend() (node:crypto when available, else noble). */
  readonly mlkem?: MlKemBackend;
  /** Known-answer tests only: FIPS 203 KeyGen seed d | z (64 octets). */
  readonly mlkemSeed?: Uint8Array;
  /** Known-answer tests only: FIPS 203 Encaps randomness m (32 octets). */
  readonly mlkemMessage?: Uint8Array;
}

/** Whether `method` can run here (DH group or ML-KEM); for proposal filtering. */
export function isKeMethodSupported(method: number): boolean {
  return lookupKeMethod(method) !== undefined;
}

/** The lengths of both shares of a method, or undefined if unsupported. */
export function keMethodInfo(method: number): KeMethodInfo | undefined {
  return lookupKeMethod(method);
}

const failure = (code: KeFailureCode, message: string): KeFailure => ({
  ok: false,
  code,
  message,
  ...(code === 'USED'
    ? {}
    : { notify: code === 'UNSUPPORTED' ? NotifyType.NO_PROPOSAL_CHOSEN : NotifyType.INVALID_SYNTAX }),
});

function fromError(e: unknown): KeFailure {
  if (!(e instanceof CryptoError)) throw e; // a bug, not peer input
  switch (e.code) {
    case 'INVALID_PUBLIC_KEY':
      return failure('INVALID_PUBLIC_KEY', e.message);
    case 'DESTROYED':
      return failure('USED', e.message);
    case 'UNSUPPORTED':
      return failure('UNSUPPORTED', e.message);
    default:
      // INVALID_KEY / MALFORMED from a backend: local trouble with our own key material.
      throw e;
  }
}

function checkShareLength(
  info: KeMethodInfo,
  share: Uint8Array,
  expected: number,
  what: string,
): KeFailure | undefined {
  if (share.length === expected) return undefined;
  return failure('INVALID_LENGTH', `${info.name} ${what} must be ${expected} bytes, got ${share.length}`);
}

/** Start a key exchange as initiator: generate our key pair and return the KEi data to send. */
export function initiatorKeyShare(
  method: number,
  opts: KeRoleOptions = {},
): KeResult<{ readonly initiator: KeInitiator }> {
  try {
    const g = lookupKeGroup(method);
    if (g) return { ok: true, initiator: new DhInitiator((opts.createDh ?? createKeyExchange)(method)) };
    const m = lookupKem(method);
    if (m)
      return { ok: true, initiator: new MlKemInitiator(m, opts.mlkem ?? mlKemBackend(), opts.mlkemSeed) };
    return failure('UNSUPPORTED', `key exchange method ${method} is not implemented`);
  } catch (e) {
    return fromError(e);
  }
}

/**
 * Answer a peer's KEi data as responder: returns our KEr data and the shared secret. Checks the share
 * (length first, then the method's own validation) before any expensive operation.
 */
export function responderRespond(
  method: number,
  peerShare: Uint8Array,
  opts: KeRoleOptions = {},
): KeResult<{ readonly share: Uint8Array; readonly secret: Secret }> {
  const info = lookupKeMethod(method);
  if (!info) return failure('UNSUPPORTED', `key exchange method ${method} is not implemented`);
  const bad = checkShareLength(info, peerShare, info.initiatorShareLen, 'initiator KE data');
  if (bad) return bad;
  try {
    const m = lookupKem(method);
    if (m) return respondMlKem(m, peerShare, opts);
    const kx = (opts.createDh ?? createKeyExchange)(method);
    try {
      const secret = new Secret(kx.computeSecret(peerShare), 'key exchange');
      return { ok: true, share: kx.publicKey, secret };
    } finally {
      kx.destroy();
    }
  } catch (e) {
    return fromError(e);
  }
}

function respondMlKem(m: KemMethod, ek: Uint8Array, opts: KeRoleOptions) {
  checkEncapsulationKey(m, ek);
  const backend = opts.mlkem ?? mlKemBackend();
  const { c, k } = guarded('INVALID_PUBLIC_KEY', `${m.name} encapsulation`, () =>
    backend.encapsulate(m, ek, opts.mlkemMessage),
  );
  if (c.length !== m.ctLen || k.length !== m.secretLen) {
    throw new CryptoError('INVALID_KEY', `${m.name} backend returned a ${c.length}-byte ciphertext`);
  }
  return { ok: true as const, share: c, secret: new Secret(k, 'key exchange') };
}

abstract class BaseInitiator implements KeInitiator {
  protected used = false;
  abstract readonly method: number;
  abstract readonly name: string;
  abstract readonly share: Uint8Array;
  protected abstract readonly responderShareLen: number;
  protected abstract compute(peerShare: Uint8Array): Uint8Array;
  protected abstract wipeKeys(): void;

  finish(peerShare: Uint8Array): KeResult<{ readonly secret: Secret }> {
    if (this.used) return failure('USED', `${this.name} key exchange already finished or destroyed`);
    try {
      if (peerShare.length !== this.responderShareLen) {
        return failure(
          'INVALID_LENGTH',
          `${this.name} responder KE data must be ${this.responderShareLen} bytes, got ${peerShare.length}`,
        );
      }
      return { ok: true, secret: new Secret(this.compute(peerShare), 'key exchange') };
    } catch (e) {
      return fromError(e);
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    if (this.used) return;
    this.used = true;
    this.wipeKeys();
  }

  [inspect.custom](): string {
    return `KeInitiator(${this.name}, <redacted>)`;
  }
}

class DhInitiator extends BaseInitiator {
  readonly method: number;
  readonly name: string;
  readonly share: Uint8Array;
  protected readonly responderShareLen: number;
  constructor(private readonly kx: KeyExchange) {
    super();
    const g = lookupKeGroup(kx.group)!;
    this.method = g.id;
    this.name = g.name;
    this.share = kx.publicKey;
    this.responderShareLen = g.publicLen;
  }
  protected compute(peer: Uint8Array): Uint8Array {
    return this.kx.computeSecret(peer);
  }
  protected wipeKeys(): void {
    this.kx.destroy();
  }
}

class MlKemInitiator extends BaseInitiator {
  readonly method: number;
  readonly name: string;
  readonly share: Uint8Array;
  protected readonly responderShareLen: number;
  #dk: MlKemPrivate | undefined;
  constructor(
    private readonly m: KemMethod,
    private readonly backend: MlKemBackend,
    seed?: Uint8Array,
  ) {
    super();
    this.method = m.id;
    this.name = m.name;
    this.responderShareLen = m.ctLen;
    const kp = guarded('INVALID_KEY', `${m.name} key generation`, () => backend.keygen(m, seed));
    if (kp.ek.length !== m.ekLen)
      throw new CryptoError('INVALID_KEY', `${m.name} key generation gave a bad ek`);
    this.share = kp.ek;
    this.#dk = kp.dk;
  }
  protected compute(c: Uint8Array): Uint8Array {
    checkCiphertext(this.m, c);
    const dk = this.#dk!;
    return guarded('INVALID_KEY', `${this.m.name} decapsulation`, () =>
      this.backend.decapsulate(this.m, dk, c),
    );
  }
  protected wipeKeys(): void {
    wipePrivate(this.#dk);
    this.#dk = undefined;
  }
}
