// Cross-check of our codec and crypto against real strongSwan 5.9.8 exchanges
// (test/vectors/strongswan, made by scripts/capture-strongswan.ts: wire bytes from tcpdump, keys from
// charon's DBG4 log). Nothing here was produced by ikeway, so agreement means interoperability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  TransformType,
  decodeMessage,
  decodePayloads,
  encodeMessage,
  encodePayloads,
  openFragment,
  openProtected,
  reassembleFragments,
  type IdPayload,
  type Payload,
  type SaPayload,
} from '../../src/codec/index.ts';
import { pskAuth, signedOctets } from '../../src/crypto/auth.ts';
import {
  deriveChildSaKeys,
  deriveIkeSaKeys,
  keyLengths,
  rekeySkeyseed,
  skeyseed,
} from '../../src/crypto/derive.ts';
import { lookupEncr, lookupInteg, lookupPrf, type PrfAlgorithm } from '../../src/crypto/registry.ts';
import { createSkCipher } from '../../src/crypto/sk.ts';
import { verifyAuth } from '../../src/crypto/signature.ts';

const DIR = 'test/vectors/strongswan';
const KEY_LENGTH_ATTR = 14; // RFC 7296 §3.3.5

interface Msg {
  dir: 'i->r' | 'r->i';
  exchange: string;
  messageId: number;
  response: boolean;
  spiI: string;
  hex: string;
  plain?: string;
  plainFirst?: number;
}
type Keys = Record<string, string>;
interface Vector {
  scenario: string;
  auth: 'psk' | 'ecdsa' | 'rsa-pss';
  psk?: string;
  messages: Msg[];
  keys: Keys & { KEi: { group: number; data: string }; KEr: { group: number; data: string } };
  child: { spiI: string; spiR: string; keys: Keys };
  pskAuth?: { initiator: { octets: string; auth: string }; responder: { octets: string; auth: string } };
  certificates?: Record<string, string>;
  rekey?: { child: Keys & { keys: Keys }; ike: Keys & { keys: Keys } };
}

const h = (s: string | undefined): Uint8Array => Buffer.from(s ?? '', 'hex');
const x = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The transforms of the single proposal a responder chose (RFC 7296 §3.3: one proposal back). */
function chosen(sa: SaPayload | undefined) {
  assert.ok(sa, 'SA payload present');
  assert.equal(sa.proposals.length, 1, 'responder returns exactly one proposal');
  const p = sa.proposals[0]!;
  const t = (type: number) => p.transforms.find((tr) => tr.type === type);
  const encrT = t(TransformType.ENCR)!;
  const attr = encrT.attributes.find((a) => a.type === KEY_LENGTH_ATTR);
  const keyLen = attr?.format === 'TV' ? attr.value : undefined;
  const encr = lookupEncr(encrT.id, keyLen);
  assert.ok(encr, `ENCR ${encrT.id}/${keyLen} known`);
  const integId = t(TransformType.INTEG)?.id;
  const integ = integId ? lookupInteg(integId) : undefined;
  const prfId = t(TransformType.PRF)?.id;
  return { p, encr, integ, integId, keyLen, prf: prfId ? lookupPrf(prfId) : undefined };
}

const find = <K extends Payload['kind']>(ps: readonly Payload[], kind: K) =>
  ps.find((p) => p.kind === kind) as Extract<Payload, { kind: K }> | undefined;

/** ID payload body after the generic header: ID Type | RESERVED(3) | data (RFC 7296 §3.5). */
function idBody(id: IdPayload): Uint8Array {
  const out = new Uint8Array(4 + id.data.length);
  out[0] = id.idType;
  out.set(id.data, 4);
  return out;
}

function loadVectors(): Vector[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Vector);
}

/** Opens every SK/SKF message with the keys of the IKE SA it belongs to; returns inner payloads. */
function openAll(v: Vector, ikeSas: Map<string, { keys: Keys; t: ReturnType<typeof chosen> }>) {
  const inner = new Map<Msg, Payload[]>();
  const frags = new Map<string, ReturnType<typeof openFragment>[]>();
  for (const m of v.messages) {
    const bytes = h(m.hex);
    const msg = decodeMessage(bytes);
    const last = msg.payloads.at(-1);
    if (last?.kind !== 'SK' && last?.kind !== 'SKF') continue;
    const sa = ikeSas.get(m.spiI);
    assert.ok(sa, `keys for IKE SA ${m.spiI}`);
    const i = m.dir === 'i->r';
    const cipher = createSkCipher(
      { encr: sa.t.encr.alg.id, keyLen: sa.t.keyLen, integ: sa.t.integId },
      { encKey: h(i ? sa.keys.SK_ei : sa.keys.SK_er), integKey: h(i ? sa.keys.SK_ai : sa.keys.SK_ar) },
    );
    if (last.kind === 'SKF') {
      const f = openFragment(bytes, msg, cipher);
      assert.equal(x(f.plain), m.plain, `${v.scenario} ${m.exchange} fragment plaintext equals charon's`);
      const key = `${m.dir}/${m.messageId}`;
      frags.set(key, [...(frags.get(key) ?? []), f]);
      if (frags.get(key)!.length === f.totalFragments) {
        const r = reassembleFragments(frags.get(key)!);
        inner.set(m, decodePayloads(r.bytes, r.firstType, 0));
      }
      continue;
    }
    const ps = openProtected(bytes, msg, cipher);
    // Our re-encoding of the decrypted payloads equals the plaintext charon logged.
    assert.equal(
      x(encodePayloads(ps).bytes),
      m.plain,
      `${v.scenario} ${m.exchange} #${m.messageId} ${m.dir}`,
    );
    inner.set(m, ps);
  }
  return inner;
}

for (const v of loadVectors()) {
  test(`strongSwan vector ${v.scenario}`, async (t) => {
    const initReq = v.messages.find((m) => m.exchange === 'IKE_SA_INIT' && !m.response)!;
    const initResp = v.messages.find((m) => m.exchange === 'IKE_SA_INIT' && m.response)!;
    const req = decodeMessage(h(initReq.hex));
    const resp = decodeMessage(h(initResp.hex));
    const ike = chosen(find(resp.payloads, 'SA'));
    const prf = ike.prf as PrfAlgorithm;
    const k = v.keys;

    await t.test('every message decodes and re-encodes byte for byte (RFC 7296 §3)', () => {
      for (const m of v.messages) {
        const msg = decodeMessage(h(m.hex));
        assert.equal(x(encodeMessage(msg)), m.hex, `${m.exchange} #${m.messageId} ${m.dir}`);
        assert.equal(msg.header.messageId, m.messageId);
      }
      assert.equal(x(find(req.payloads, 'NONCE')!.data), k.Ni);
      assert.equal(x(find(resp.payloads, 'NONCE')!.data), k.Nr);
      assert.equal(x(find(req.payloads, 'KE')!.data), k.KEi.data);
    });

    await t.test('SKEYSEED and SK_* equal charon (RFC 7296 §2.14)', () => {
      const seed = skeyseed(prf, h(k.Ni), h(k.Nr), h(k.gir));
      assert.equal(x(seed), k.SKEYSEED);
      const d = deriveIkeSaKeys(
        prf,
        keyLengths(ike.encr, ike.integ),
        seed,
        h(k.Ni),
        h(k.Nr),
        h(k.SPIi),
        h(k.SPIr),
      );
      assert.deepEqual([d.skD, d.skAi, d.skAr, d.skEi, d.skEr, d.skPi, d.skPr].map(x), [
        k.SK_d,
        k.SK_ai ?? '',
        k.SK_ar ?? '',
        k.SK_ei,
        k.SK_er,
        k.SK_pi,
        k.SK_pr,
      ]);
    });

    const ikeSas = new Map([[k.SPIi!, { keys: k, t: ike }]]);
    const inner = openAll(v, ikeSas);
    const authReq = v.messages.find((m) => m.exchange === 'IKE_AUTH' && !m.response && inner.has(m))!;
    const authResp = v.messages.find((m) => m.exchange === 'IKE_AUTH' && m.response && inner.has(m))!;
    const pi = inner.get(authReq)!;
    const pr = inner.get(authResp)!;

    await t.test('IKE_AUTH opens with our SK cipher and carries IDi, AUTH, SA, TSi, TSr', () => {
      for (const kind of ['IDi', 'AUTH', 'SA', 'TSi', 'TSr'] as const) assert.ok(find(pi, kind), kind);
      for (const kind of ['IDr', 'AUTH', 'SA', 'TSi', 'TSr'] as const) assert.ok(find(pr, kind), kind);
    });

    const octI = signedOctets(prf.hash, {
      realMessage: h(initReq.hex),
      peerNonce: h(k.Nr),
      skP: h(k.SK_pi),
      idPayloadBody: idBody(find(pi, 'IDi')!),
    });
    const octR = signedOctets(prf.hash, {
      realMessage: h(initResp.hex),
      peerNonce: h(k.Ni),
      skP: h(k.SK_pr),
      idPayloadBody: idBody(find(pr, 'IDr')!),
    });

    if (v.auth === 'psk') {
      await t.test('PSK AUTH equals the captured AUTH payloads, both directions (RFC 7296 §2.15)', () => {
        const psk = new TextEncoder().encode(v.psk);
        assert.equal(x(octI), v.pskAuth!.initiator.octets);
        assert.equal(x(octR), v.pskAuth!.responder.octets);
        assert.equal(x(pskAuth(prf.hash, psk, octI)), x(find(pi, 'AUTH')!.data));
        assert.equal(x(pskAuth(prf.hash, psk, octR)), x(find(pr, 'AUTH')!.data));
      });
    } else {
      await t.test('RFC 7427 signature AUTH verifies with the end-entity certificates', () => {
        const key = (who: string) =>
          createPublicKey(
            new X509Certificate(v.certificates![`${who}.pem`]!).publicKey.export({
              format: 'pem',
              type: 'spki',
            }),
          );
        const a = find(pi, 'AUTH')!;
        const b = find(pr, 'AUTH')!;
        assert.equal(a.method, 14);
        const want = v.auth === 'ecdsa' ? 'ecdsa-sha256' : 'rsa-pss-sha256';
        assert.equal(verifyAuth(key('initiator'), a.data, octI), want);
        assert.equal(verifyAuth(key('responder'), b.data, octR), want);
      });
    }

    await t.test('Child SA KEYMAT equals charon (RFC 7296 §2.17)', () => {
      const esp = chosen(find(pr, 'SA'));
      assert.equal(x(find(pi, 'SA')!.proposals[0]!.spi), v.child.spiI);
      assert.equal(x(esp.p.spi), v.child.spiR);
      const c = deriveChildSaKeys(prf, keyLengths(esp.encr, esp.integ), h(k.SK_d), h(k.Ni), h(k.Nr));
      const ck = v.child.keys;
      assert.deepEqual([c.encrI, c.encrR, c.integI, c.integR].map(x), [
        ck.encrI,
        ck.encrR,
        ck.integI ?? '',
        ck.integR ?? '',
      ]);
    });

    if (v.rekey) {
      const rk = v.rekey;
      const ccsa = v.messages.filter((m) => m.exchange === 'CREATE_CHILD_SA');
      const byProto = (proto: number, response: boolean) => {
        const m = ccsa.find(
          (mm) => mm.response === response && find(inner.get(mm)!, 'SA')?.proposals[0]?.protocolId === proto,
        );
        assert.ok(m, `CREATE_CHILD_SA ${response ? 'response' : 'request'} for protocol ${proto}`);
        return inner.get(m)!;
      };
      await t.test(
        'Child SA rekey with PFS: KEYMAT = prf+(SK_d, g^ir | Ni | Nr) (RFC 7296 §2.17, §1.3.3)',
        () => {
          const q = byProto(3, false);
          const r = byProto(3, true);
          assert.ok(find(q, 'NOTIFY'), 'REKEY_SA notify present');
          assert.equal(x(find(q, 'NONCE')!.data), rk.child.Ni);
          assert.equal(x(find(r, 'NONCE')!.data), rk.child.Nr);
          const esp = chosen(find(r, 'SA'));
          assert.equal(x(esp.p.spi), rk.child.spiR);
          const c = deriveChildSaKeys(
            prf,
            keyLengths(esp.encr, esp.integ),
            h(k.SK_d),
            h(rk.child.Ni),
            h(rk.child.Nr),
            h(rk.child.keys.gir),
          );
          assert.deepEqual([c.encrI, c.encrR].map(x), [rk.child.keys.encrI, rk.child.keys.encrR]);
        },
      );
      await t.test(
        'IKE SA rekey: SKEYSEED = prf(SK_d (old), g^ir | Ni | Nr) and new SK_* (RFC 7296 §2.18)',
        () => {
          const q = byProto(1, false); // Protocol ID 1 = IKE (RFC 7296 §3.3.1)
          const r = byProto(1, true);
          const n = chosen(find(r, 'SA'));
          const spiI = find(q, 'SA')!.proposals[0]!.spi;
          const spiR = n.p.spi;
          assert.deepEqual([x(spiI), x(spiR)], [rk.ike.SPIi, rk.ike.SPIr]);
          const ni = find(q, 'NONCE')!.data;
          const nr = find(r, 'NONCE')!.data;
          const nprf = n.prf as PrfAlgorithm;
          const seed = rekeySkeyseed(nprf, h(k.SK_d), h(rk.ike.keys.gir), ni, nr);
          assert.equal(x(seed), rk.ike.keys.SKEYSEED);
          const d = deriveIkeSaKeys(nprf, keyLengths(n.encr, n.integ), seed, ni, nr, spiI, spiR);
          const nk = rk.ike.keys;
          assert.deepEqual([d.skD, d.skEi, d.skEr, d.skPi, d.skPr].map(x), [
            nk.SK_d,
            nk.SK_ei,
            nk.SK_er,
            nk.SK_pi,
            nk.SK_pr,
          ]);
        },
      );
    }
  });
}
