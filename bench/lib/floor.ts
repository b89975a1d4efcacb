// The crypto floor (issue 18): the CPU that the unavoidable primitives of ONE responder IKE SA with
// one Child SA cost in this process, with the functions ikeway itself uses (src/crypto), for the
// benchmark's proposal (X25519, PRF-HMAC-SHA256, AES-GCM-16-256 for SK and ESP):
//   key exchange: one X25519 key pair + one shared secret; random: Nr (32) and the SPI (8);
//   keys: SKEYSEED, SK_* (prf+), the Child SA's KEYMAT (prf+);
//   messages: open the IKE_AUTH request, seal the response (sizes of the benchmark's messages);
//   AUTH: PSK verify of the initiator's AUTH + our own AUTH (MACedID prf included), or with
//   certificates one ECDSA P-256 signature and two verifications (the peer's certificate under the
//   CA, the peer's AUTH).
// Nothing else (parsing, state, sockets, timers) is unavoidable, so ikeway/floor says how far the
// daemon is from doing only the work the protocol requires.
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLoadPki } from '../../lab/load/pki.ts';
import {
  createKeyExchange,
  createSkCipher,
  deriveChildSaKeys,
  deriveIkeSaKeys,
  keyLengths,
  pskAuth,
  signAuth,
  signedOctets,
  skeyseed,
  verifyAuth,
} from '../../src/crypto/index.ts';
import { lookupEncr } from '../../src/crypto/registry.ts';
import { EncrId } from '../../src/codec/iana.ts';
import { median } from './report.ts';

const PRF = { hash: 'sha256', keyLen: 32 } as const;

export interface FloorResult {
  /** CPU ms (user+system of this process) per IKE SA. */
  readonly psk: number;
  readonly cert: number;
  readonly iterations: number;
}

interface Fixture {
  readonly peerPub: Uint8Array;
  readonly ni: Uint8Array;
  readonly spiI: Uint8Array;
  readonly spiR: Uint8Array;
  readonly aad: Uint8Array;
  readonly pskBody: Uint8Array;
  readonly certBody: Uint8Array;
  readonly id: Uint8Array;
  readonly msg1: Uint8Array;
  readonly psk: Uint8Array;
  readonly peerCert: X509Certificate;
  readonly caPub: KeyObject;
  readonly peerPubKey: KeyObject;
  readonly peerAuth: Uint8Array;
  readonly peerOctets: Uint8Array;
  readonly ourKey: KeyObject;
}

const LENS = keyLengths(lookupEncr(EncrId.AES_GCM_16, 256));
const SK = { encr: EncrId.AES_GCM_16, keyLen: 256 } as const;

function once(cert: boolean, k: Fixture): void {
  const ke = createKeyExchange(31);
  const gir = ke.computeSecret(k.peerPub);
  const nr = randomBytes(32);
  randomBytes(8);
  const seed = skeyseed(PRF, k.ni, nr, gir);
  const keys = deriveIkeSaKeys(PRF, LENS, seed, k.ni, nr, k.spiI, k.spiR);
  // Opening the request costs what sealing it does: two AEAD operations of the message size.
  const body = cert ? k.certBody : k.pskBody;
  createSkCipher(SK, { encKey: keys.skEi }).seal(k.aad, body);
  const octI = signedOctets('sha256', {
    skP: keys.skPi,
    idPayloadBody: k.id,
    realMessage: k.msg1,
    peerNonce: nr,
  });
  const octR = signedOctets('sha256', {
    skP: keys.skPr,
    idPayloadBody: k.id,
    realMessage: k.msg1,
    peerNonce: k.ni,
  });
  if (cert) {
    k.peerCert.verify(k.caPub);
    verifyAuth(k.peerPubKey, k.peerAuth, k.peerOctets);
    signAuth('ecdsa-sha256', k.ourKey, octR);
  } else {
    pskAuth('sha256', k.psk, octI);
    pskAuth('sha256', k.psk, octR);
  }
  createSkCipher(SK, { encKey: keys.skEr }).seal(k.aad, body);
  deriveChildSaKeys(PRF, LENS, keys.skD, k.ni, nr).destroy();
  keys.destroy();
}

function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-floor-'));
  try {
    const pki = makeLoadPki(dir, 'responder.ikeway.test', 1, (n) => `load-${n}.ikeway.test`);
    const peerCert = new X509Certificate(readFileSync(pki.initiatorCerts));
    const peerKey = createPrivateKey(readFileSync(pki.initiatorKey));
    const peerOctets = randomBytes(600);
    return {
      peerPub: createKeyExchange(31).publicKey,
      ni: randomBytes(32),
      spiI: randomBytes(8),
      spiR: randomBytes(8),
      aad: randomBytes(32),
      pskBody: randomBytes(300),
      certBody: randomBytes(1000),
      id: randomBytes(24),
      msg1: randomBytes(300),
      psk: randomBytes(28),
      peerCert,
      caPub: new X509Certificate(readFileSync(pki.ca)).publicKey,
      peerPubKey: peerCert.publicKey,
      peerAuth: signAuth('ecdsa-sha256', peerKey, peerOctets),
      peerOctets,
      ourKey: createPrivateKey(readFileSync(pki.responderKey)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU ms per IKE SA of the primitives alone: the median of `rounds` runs of `n` SAs each. */
export function cryptoFloor(n = 2000, rounds = 3): FloorResult {
  const k = fixture();
  const run = (cert: boolean): number => {
    const per: number[] = [];
    for (let i = 0; i < 50; i++) once(cert, k); // warm-up
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) once(cert, k);
      const c = process.cpuUsage(c0);
      per.push((c.user + c.system) / 1000 / n);
    }
    return median(per)!;
  };
  return { psk: run(false), cert: run(true), iterations: n };
}
