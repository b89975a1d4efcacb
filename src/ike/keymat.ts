// The IKE SA's cryptographic state: the negotiated transforms, the seven keys of RFC 7296 §2.14 and one
// SK cipher per direction (RFC 7296 §3.14). destroy() wipes every key (ARCHITECTURE principle 8).
import { TransformType } from '../codec/iana.ts';
import {
  additionalKeyUpdate,
  createSkCipher,
  deriveChildSaKeys,
  deriveChildSaKeysMulti,
  deriveIkeSaKeys,
  keyLengths,
  lookupEncr,
  lookupInteg,
  lookupPrf,
  rekeySkeyseed,
  rekeySkeyseedMulti,
  skeyseed,
  wipe,
  IkeSaKeys,
  type ChildSaKeys,
  type EncrSpec,
  type IntegAlgorithm,
  type PrfAlgorithm,
  type SkCipher,
} from '../crypto/index.ts';
import { IkeError } from './errors.ts';
import type { Proposal } from './proposals.ts';

export interface NegotiatedIke {
  readonly encr: EncrSpec;
  readonly integ: IntegAlgorithm | undefined;
  readonly prf: PrfAlgorithm;
}

function transform(p: Proposal, type: number) {
  return p.transforms.find((t) => t.type === type && t.id !== 0);
}

/** Resolves a chosen IKE proposal to implemented algorithms, or throws (NO_PROPOSAL_CHOSEN). */
export function resolveIke(p: Proposal): NegotiatedIke {
  const e = transform(p, TransformType.ENCR);
  const i = transform(p, TransformType.INTEG);
  const f = transform(p, TransformType.PRF);
  const encr = e && lookupEncr(e.id, e.keyLength);
  const prf = f && lookupPrf(f.id);
  const integ = i && lookupInteg(i.id);
  if (!encr || !prf || (!encr.alg.aead && !integ) || encr.alg.espOnly === true) {
    throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', 'chosen IKE transforms are not implemented');
  }
  return { encr, integ: encr.alg.aead ? undefined : integ, prf };
}

/** Resolves a chosen ESP proposal (ENCR, optional INTEG, ESN). */
export function resolveEsp(p: Proposal): { encr: EncrSpec; integ: IntegAlgorithm | undefined; esn: boolean } {
  const e = transform(p, TransformType.ENCR);
  const i = transform(p, TransformType.INTEG);
  const encr = e && lookupEncr(e.id, e.keyLength);
  const integ = i && lookupInteg(i.id);
  if (!encr || (!encr.alg.aead && !integ)) {
    throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', 'chosen ESP transforms are not implemented');
  }
  const esn = p.transforms.some((t) => t.type === TransformType.ESN && t.id === 1);
  return { encr, integ: encr.alg.aead ? undefined : integ, esn };
}

export class IkeKeymat {
  readonly keys: IkeSaKeys;
  /** Protects what we send / opens what we receive. */
  readonly outbound: SkCipher;
  readonly inbound: SkCipher;

  constructor(
    readonly alg: NegotiatedIke,
    /** The shared secret g^ir, or (RFC 9370 key update) the new key set itself. */
    gir: Uint8Array | IkeSaKeys,
    ni: Uint8Array,
    nr: Uint8Array,
    spiI: Uint8Array,
    spiR: Uint8Array,
    readonly initiator: boolean,
    /**
     * IKE SA rekey (RFC 7296 §2.18): the old SA's PRF and SK_d; `more`: the secrets of the
     * IKE_FOLLOWUP_KE exchanges after `gir` (RFC 9370 §2.2.4).
     */
    rekeyFrom?: {
      readonly prf: PrfAlgorithm;
      readonly skD: Uint8Array;
      readonly more?: readonly Uint8Array[];
    },
  ) {
    // RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); the key stream is prf+(SKEYSEED, Ni|Nr|SPIi|SPIr).
    // §2.18: a rekey uses SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF.
    if (gir instanceof IkeSaKeys) this.keys = gir;
    else {
      const seed = !rekeyFrom
        ? skeyseed(alg.prf, ni, nr, gir)
        : rekeyFrom.more?.length
          ? rekeySkeyseedMulti(rekeyFrom.prf, rekeyFrom.skD, [gir, ...rekeyFrom.more], ni, nr)
          : rekeySkeyseed(rekeyFrom.prf, rekeyFrom.skD, gir, ni, nr);
      try {
        this.keys = deriveIkeSaKeys(alg.prf, keyLengths(alg.encr, alg.integ), seed, ni, nr, spiI, spiR);
      } finally {
        wipe(seed);
      }
    }
    const t = {
      encr: alg.encr.alg.id,
      keyLen: alg.encr.keyBits,
      ...(alg.integ ? { integ: alg.integ.id } : {}),
    };
    const k = this.keys;
    const ini = createSkCipher(t, { encKey: k.skEi, ...(alg.integ ? { integKey: k.skAi } : {}) });
    const res = createSkCipher(t, { encKey: k.skEr, ...(alg.integ ? { integKey: k.skAr } : {}) });
    this.outbound = initiator ? ini : res;
    this.inbound = initiator ? res : ini;
  }

  /** RFC 7296 §2.17: KEYMAT for a Child SA from SK_d and the exchange's nonces (and g^ir with PFS). */
  childKeys(
    esp: { encr: EncrSpec; integ: IntegAlgorithm | undefined },
    ni: Uint8Array,
    nr: Uint8Array,
    gir?: Uint8Array,
    /** RFC 9370 §2.2.4: the secrets of the IKE_FOLLOWUP_KE exchanges after `gir`. */
    more?: readonly Uint8Array[],
  ): ChildSaKeys {
    const lens = keyLengths(esp.encr, esp.integ);
    if (gir && more?.length)
      return deriveChildSaKeysMulti(this.alg.prf, lens, this.keys.skD, ni, nr, [gir, ...more]);
    return deriveChildSaKeys(this.alg.prf, lens, this.keys.skD, ni, nr, gir);
  }

  /**
   * RFC 9370 §2.2.2: the key set after an additional key exchange with shared secret `skN`
   * (SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)). The caller destroys this one afterwards.
   */
  update(skN: Uint8Array, ni: Uint8Array, nr: Uint8Array, spiI: Uint8Array, spiR: Uint8Array): IkeKeymat {
    const lens = keyLengths(this.alg.encr, this.alg.integ);
    const keys = additionalKeyUpdate(this.alg.prf, lens, this.keys.skD, skN, ni, nr, spiI, spiR);
    return new IkeKeymat(this.alg, keys, ni, nr, spiI, spiR, this.initiator);
  }

  /** SK_p of one side, for the AUTH payload (RFC 7296 §2.15). */
  skP(ofInitiator: boolean): Uint8Array {
    return ofInitiator ? this.keys.skPi : this.keys.skPr;
  }

  destroy(): void {
    this.keys.destroy();
  }

  get destroyed(): boolean {
    return this.keys.destroyed;
  }
}
