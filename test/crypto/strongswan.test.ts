// Interop: every key, AUTH value and SK payload of real strongSwan 5.9.8 exchanges
// (test/vectors/strongswan, captured by the lab engineer) is recomputed with src/crypto.
// RFC 7296 §2.14 (IKE SA keys), §2.17 (Child SA KEYMAT), §2.18 (IKE SA rekey), §2.15 (AUTH),
// RFC 7427 (signature AUTH), RFC 5282 / RFC 7634 / §3.14 (SK payload), RFC 7383 (SKF).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { EncrId, IntegId, PayloadType, PrfId } from '../../src/codec/iana.ts';
import { pskAuth, signedOctets, verifyPskAuth } from '../../src/crypto/auth.ts';
import {
  deriveChildSaKeys,
  deriveIkeSaKeys,
  keyLengths,
  rekeySkeyseed,
  skeyseed,
} from '../../src/crypto/derive.ts';
import { createKeyExchange } from '../../src/crypto/ke.ts';
import { lookupEncr, lookupInteg, lookupPrf } from '../../src/crypto/registry.ts';
import { verifyAuth } from '../../src/crypto/signature.ts';
import { createSkCipher } from '../../src/crypto/sk.ts';
import { hex, toHex } from './util.ts';

type Hex = string;
interface Msg {
  dir: 'i->r' | 'r->i';
  exchange: string;
  response: boolean;
  hex: Hex;
  plain?: Hex;
  plainFirst?: number;
}
interface Keys {
  gir: Hex;
  SKEYSEED: Hex;
  SK_d: Hex;
  SK_ai?: Hex;
  SK_ar?: Hex;
  SK_ei: Hex;
  SK_er: Hex;
  SK_pi: Hex;
  SK_pr: Hex;
  Ni: Hex;
  Nr: Hex;
  SPIi: Hex;
  SPIr: Hex;
  KEi: { group: number; data: Hex };
  KEr: { group: number; data: Hex };
}
interface ChildKeys {
  encrI: Hex;
  encrR: Hex;
  integI?: Hex;
  integR?: Hex;
}
interface Scenario {
  scenario: string;
  negotiated: { ike: Record<string, string>; esp: Record<string, string> };
  auth: 'psk' | 'ecdsa' | 'rsa-pss';
  pskHex?: Hex;
  messages: Msg[];
  keys: Keys;
  child: { keys: ChildKeys };
  pskAuth?: { initiator: { octets: Hex; auth: Hex }; responder: { octets: Hex; auth: Hex } };
  certificates?: Record<string, string>;
  rekey?: {
    child: { Ni: Hex; Nr: Hex; keys: ChildKeys & { gir: Hex } };
    ike: {
      oldSK_d: Hex;
      Ni: Hex;
      Nr: Hex;
      SPIi: Hex;
      SPIr: Hex;
      keys: Omit<Keys, 'Ni' | 'Nr' | 'SPIi' | 'SPIr' | 'KEi' | 'KEr'>;
    };
  };
}

const dir = new URL('../vectors/strongswan/', import.meta.url);
const scenarios: Scenario[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Scenario);

const ENCR: Record<string, number> = {
  AES_GCM_16: EncrId.AES_GCM_16,
  AES_CBC: EncrId.AES_CBC,
  CHACHA20_POLY1305: EncrId.CHACHA20_POLY1305,
};
const PRF: Record<string, number> = {
  PRF_HMAC_SHA2_256: PrfId.HMAC_SHA2_256,
  PRF_HMAC_SHA2_384: PrfId.HMAC_SHA2_384,
  PRF_HMAC_SHA2_512: PrfId.HMAC_SHA2_512,
};
const INTEG: Record<string, number> = {
  HMAC_SHA2_256_128: IntegId.HMAC_SHA2_256_128,
  HMAC_SHA2_384_192: IntegId.HMAC_SHA2_384_192,
  HMAC_SHA2_512_256: IntegId.HMAC_SHA2_512_256,
};

function suite(n: Record<string, string>) {
  const keyBits = n['encr-keysize'] ? Number(n['encr-keysize']) : undefined;
  const encr = lookupEncr(ENCR[n['encr-alg']!]!, encr_bits(n['encr-alg']!, keyBits))!;
  const integ = n['integ-alg'] ? lookupInteg(INTEG[n['integ-alg']]!) : undefined;
  assert.ok(encr, `ENCR ${n['encr-alg']}`);
  return {
    encr,
    integ,
    lens: keyLengths(encr, integ),
    t: { encr: encr.alg.id, keyLen: encr.keyBits, integ: integ?.id },
  };
}
// ChaCha20-Poly1305 has no KEY_LENGTH attribute (RFC 7634 §2); strongSwan still prints 256.
const encr_bits = (alg: string, bits?: number) => (alg === 'CHACHA20_POLY1305' ? undefined : bits);

test('strongSwan vectors are present', () => {
  assert.ok(scenarios.length >= 6, `found ${scenarios.length} scenarios`);
});

for (const s of scenarios) {
  const prf = lookupPrf(PRF[s.negotiated.ike['prf-alg']!]!)!;
  const ike = suite(s.negotiated.ike);
  const k = s.keys;

  test(`${s.scenario}: SKEYSEED and SK_* (RFC 7296 §2.14)`, () => {
    const seed = skeyseed(prf, hex(k.Ni), hex(k.Nr), hex(k.gir));
    assert.equal(toHex(seed), k.SKEYSEED);
    const sk = deriveIkeSaKeys(prf, ike.lens, seed, hex(k.Ni), hex(k.Nr), hex(k.SPIi), hex(k.SPIr));
    assert.equal(toHex(sk.skD), k.SK_d);
    assert.equal(toHex(sk.skAi), k.SK_ai ?? '');
    assert.equal(toHex(sk.skAr), k.SK_ar ?? '');
    assert.equal(toHex(sk.skEi), k.SK_ei);
    assert.equal(toHex(sk.skEr), k.SK_er);
    assert.equal(toHex(sk.skPi), k.SK_pi);
    assert.equal(toHex(sk.skPr), k.SK_pr);
    // strongSwan's KE payloads are valid peer values for our key exchange (format per RFC 5903 §7 etc.).
    createKeyExchange(k.KEi.group).computeSecret(hex(k.KEi.data));
    createKeyExchange(k.KEr.group).computeSecret(hex(k.KEr.data));
  });

  test(`${s.scenario}: Child SA KEYMAT (RFC 7296 §2.17)`, () => {
    const esp = suite(s.negotiated.esp);
    const c = deriveChildSaKeys(prf, esp.lens, hex(k.SK_d), hex(k.Ni), hex(k.Nr));
    assert.equal(toHex(c.encrI), s.child.keys.encrI);
    assert.equal(toHex(c.encrR), s.child.keys.encrR);
    assert.equal(toHex(c.integI), s.child.keys.integI ?? '');
    assert.equal(toHex(c.integR), s.child.keys.integR ?? '');
  });

  test(`${s.scenario}: every SK/SKF payload decrypts to what charon logged`, () => {
    const inbound = {
      'i->r': createSkCipher(ike.t, { encKey: hex(k.SK_ei), ...(k.SK_ai && { integKey: hex(k.SK_ai) }) }),
      'r->i': createSkCipher(ike.t, { encKey: hex(k.SK_er), ...(k.SK_ar && { integKey: hex(k.SK_ar) }) }),
    };
    let opened = 0;
    for (const m of s.messages) {
      if (m.plain === undefined) continue;
      const msg = hex(m.hex);
      const first = msg[16];
      // The SK payload comes first after the header; SKF has 4 more header bytes (RFC 7383 §2.5).
      const hdrEnd = first === PayloadType.SK ? 32 : first === PayloadType.SKF ? 36 : -1;
      assert.ok(hdrEnd > 0, `${m.exchange}: first payload ${first} is not SK/SKF`);
      const plain = inbound[m.dir].open(msg.subarray(0, hdrEnd), msg.subarray(hdrEnd));
      assert.equal(toHex(plain), m.plain, `${m.exchange} ${m.dir}`);
      opened++;
    }
    assert.equal(opened, s.messages.filter((m) => m.plain !== undefined).length);
  });

  test(`${s.scenario}: AUTH payloads verify (RFC 7296 §2.15${s.auth === 'psk' ? '' : ', RFC 7427'})`, () => {
    const init = s.messages.filter((m) => m.exchange === 'IKE_SA_INIT');
    for (const side of ['i', 'r'] as const) {
      const auth = s.messages.filter(
        (m) => m.exchange === 'IKE_AUTH' && m.dir === (side === 'i' ? 'i->r' : 'r->i'),
      );
      const payloads = walk(hex(auth.map((m) => m.plain!).join('')), auth[0]!.plainFirst!);
      const id = payloads.get(side === 'i' ? PayloadType.IDi : PayloadType.IDr)!;
      const authBody = payloads.get(PayloadType.AUTH)!;
      const octets = signedOctets(prf.hash, {
        realMessage: hex(init.find((m) => m.response === (side === 'r'))!.hex),
        peerNonce: hex(side === 'i' ? k.Nr : k.Ni),
        skP: hex(side === 'i' ? k.SK_pi : k.SK_pr),
        idPayloadBody: id,
      });
      const data = authBody.subarray(4);
      if (s.auth === 'psk') {
        const logged = s.pskAuth![side === 'i' ? 'initiator' : 'responder'];
        assert.equal(toHex(octets), logged.octets);
        assert.equal(toHex(pskAuth(prf.hash, hex(s.pskHex!), octets)), logged.auth);
        verifyPskAuth(prf.hash, hex(s.pskHex!), octets, data);
      } else {
        assert.equal(authBody[0], 14, 'AUTH method DIGITAL_SIGNATURE');
        const cert = new X509Certificate(s.certificates![side === 'i' ? 'initiator.pem' : 'responder.pem']!);
        const scheme = verifyAuth(cert.publicKey, data, octets);
        assert.match(scheme, s.auth === 'ecdsa' ? /^ecdsa-sha/ : /^rsa-pss-sha/);
      }
    }
  });

  if (s.rekey) {
    const r = s.rekey;
    test(`${s.scenario}: Child SA rekey with PFS and IKE SA rekey (RFC 7296 §2.17, §2.18)`, () => {
      const esp = suite(s.negotiated.esp);
      const c = deriveChildSaKeys(
        prf,
        esp.lens,
        hex(k.SK_d),
        hex(r.child.Ni),
        hex(r.child.Nr),
        hex(r.child.keys.gir),
      );
      assert.equal(toHex(c.encrI), r.child.keys.encrI);
      assert.equal(toHex(c.encrR), r.child.keys.encrR);
      assert.equal(r.ike.oldSK_d, k.SK_d);
      const seed = rekeySkeyseed(prf, hex(r.ike.oldSK_d), hex(r.ike.keys.gir), hex(r.ike.Ni), hex(r.ike.Nr));
      assert.equal(toHex(seed), r.ike.keys.SKEYSEED);
      const sk = deriveIkeSaKeys(
        prf,
        ike.lens,
        seed,
        hex(r.ike.Ni),
        hex(r.ike.Nr),
        hex(r.ike.SPIi),
        hex(r.ike.SPIr),
      );
      assert.equal(toHex(sk.skD), r.ike.keys.SK_d);
      assert.equal(toHex(sk.skEi), r.ike.keys.SK_ei);
      assert.equal(toHex(sk.skEr), r.ike.keys.SK_er);
      assert.equal(toHex(sk.skPi), r.ike.keys.SK_pi);
      assert.equal(toHex(sk.skPr), r.ike.keys.SK_pr);
    });
  }
}

/** Walk a chain of generic payload headers (RFC 7296 §3.2); returns type -> body (after the 4-byte header). */
function walk(buf: Uint8Array, firstType: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let type = firstType;
  for (let o = 0; type !== 0 && o + 4 <= buf.length;) {
    const len = (buf[o + 2]! << 8) | buf[o + 3]!;
    assert.ok(len >= 4 && o + len <= buf.length, `payload ${type} length ${len} at ${o}`);
    if (!out.has(type)) out.set(type, buf.subarray(o + 4, o + len));
    type = buf[o]!;
    o += len;
  }
  return out;
}
