// Interop: the certificates and IKE_AUTH signatures of real strongSwan 5.9.8 exchanges
// (test/vectors/strongswan, scenarios e: ECDSA P-256 and f: RSA-PSS, both RFC 7427) verify
// through CredentialStore, and strongSwan's CERTREQ names our hash of its CA (RFC 7296 §3.7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { PayloadType } from '../../src/codec/iana.ts';
import { signedOctets } from '../../src/crypto/auth.ts';
import { CredentialStore, formatId, idFromPayload, parseId, splitCertReq } from '../../src/creds/index.ts';
import { hex, throwsCode, toHex } from './util.ts';

interface Msg {
  dir: 'i->r' | 'r->i';
  exchange: string;
  response: boolean;
  hex: string;
  plain?: string;
  plainFirst?: number;
}
interface Scenario {
  scenario: string;
  auth: string;
  negotiated: { ike: Record<string, string> };
  initiator: { id: string };
  responder: { id: string };
  messages: Msg[];
  keys: Record<string, string>;
  certificates?: Record<string, string>;
}

const dir = new URL('../vectors/strongswan/', import.meta.url);
const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Scenario)
  .filter((s) => s.certificates !== undefined);

const PRF: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  PRF_HMAC_SHA2_256: 'sha256',
  PRF_HMAC_SHA2_384: 'sha384',
  PRF_HMAC_SHA2_512: 'sha512',
};
const SIGNATURE_HASH_ALGORITHMS = 16431;

/** Walk a chain of generic payload headers (RFC 7296 §3.2): [type, body after the 4-byte header]. */
function walk(buf: Uint8Array, firstType: number): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let type = firstType;
  for (let o = 0; type !== 0 && o + 4 <= buf.length;) {
    const len = (buf[o + 2]! << 8) | buf[o + 3]!;
    assert.ok(len >= 4 && o + len <= buf.length, `payload ${type} length ${len} at ${o}`);
    out.push([type, buf.subarray(o + 4, o + len)]);
    type = buf[o]!;
    o += len;
  }
  return out;
}

test('strongSwan certificate scenarios are present', () => {
  assert.ok(scenarios.length >= 2, `found ${scenarios.length}`);
});

for (const s of scenarios) {
  const certs = s.certificates!;
  const init = s.messages.filter((m) => m.exchange === 'IKE_SA_INIT');
  const initPayloads = (response: boolean) => {
    const m = hex(init.find((x) => x.response === response)!.hex);
    return walk(m.subarray(28), m[16]!);
  };
  /** SIGNATURE_HASH_ALGORITHMS a side announced in IKE_SA_INIT (RFC 7427 §4). */
  const announced = (response: boolean) => {
    const n = initPayloads(response).find(
      ([t, b]) => t === PayloadType.NOTIFY && ((b[2]! << 8) | b[3]!) === SIGNATURE_HASH_ALGORITHMS,
    );
    assert.ok(n, 'SIGNATURE_HASH_ALGORITHMS present');
    const data = n[1].subarray(4);
    return Array.from({ length: data.length / 2 }, (_, i) => (data[2 * i]! << 8) | data[2 * i + 1]!);
  };

  for (const side of ['i', 'r'] as const) {
    test(`${s.scenario}: ${side === 'i' ? 'initiator' : 'responder'} certificate and AUTH verify`, () => {
      const dirn = side === 'i' ? 'i->r' : 'r->i';
      const auth = s.messages.filter((m) => m.exchange === 'IKE_AUTH' && m.dir === dirn);
      const payloads = walk(hex(auth.map((m) => m.plain!).join('')), auth[0]!.plainFirst!);
      const get = (t: number) => payloads.filter(([type]) => type === t).map(([, b]) => b);
      const id = get(side === 'i' ? PayloadType.IDi : PayloadType.IDr)[0]!;
      const authBody = get(PayloadType.AUTH)[0]!;
      const certPayloads = get(PayloadType.CERT);
      assert.ok(certPayloads.length >= 1, 'strongSwan sent its certificate');
      assert.ok(
        certPayloads.every((c) => c[0] === 4),
        'X.509 Certificate - Signature encoding',
      );
      const octets = signedOctets(PRF[s.negotiated.ike['prf-alg']!]!, {
        realMessage: hex(init.find((m) => m.response === (side === 'r'))!.hex),
        peerNonce: hex(side === 'i' ? s.keys.Nr! : s.keys.Ni!),
        skP: hex(side === 'i' ? s.keys.SK_pi! : s.keys.SK_pr!),
        idPayloadBody: id,
      });
      const peerId = idFromPayload(id[0]!, id.subarray(4));
      assert.equal(formatId(peerId), `@${side === 'i' ? s.initiator.id : s.responder.id}`);
      const ee = certPayloads[0]!.subarray(1);
      // the certificates carry strongSwan's lab dates: validate at their own notBefore + 1 hour
      const store = new CredentialStore({ clock: () => new Date(Date.parse(notBefore(certs)) + 3_600_000) });
      store.addCa(certs['ca.pem']!);
      const input = {
        peerId,
        expectedId: parseId(side === 'i' ? s.initiator.id : s.responder.id),
        certs: certPayloads.map((c) => c.subarray(1)),
        authMethod: authBody[0]!,
        authData: authBody.subarray(4),
        octets,
        allowedHashes: announced(side === 'i'),
      };
      const r = store.verifyPeerAuth(input);
      assert.match(r.scheme, s.auth === 'ecdsa' ? /^ecdsa-sha256$/ : /^rsa-pss-sha/);
      assert.match(r.subject, /CN=/);
      assert.equal(toHex(r.path[0]!.der), toHex(ee));
      // the same AUTH must not verify for the other side's signed octets or a foreign CA
      const flipped = Uint8Array.from(octets);
      flipped[flipped.length - 1]! ^= 0x80;
      throwsCode(() => store.verifyPeerAuth({ ...input, octets: flipped }), 'BAD_SIGNATURE');
      throwsCode(
        () => store.verifyPeerAuth({ ...input, peerId: parseId('mallory.example.net') }),
        'ID_MISMATCH',
      );
    });
  }

  test(`${s.scenario}: strongSwan's CERTREQ carries our SHA-1 of the CA public key`, () => {
    const store = new CredentialStore();
    store.addCa(certs['ca.pem']!);
    const certReq = initPayloads(true).find(([t]) => t === PayloadType.CERTREQ);
    assert.ok(certReq, 'responder sent CERTREQ in IKE_SA_INIT');
    assert.equal(certReq[1][0], 4, 'X.509 Certificate - Signature');
    const hashes = splitCertReq(certReq[1].subarray(1)).map(toHex);
    assert.ok(hashes.includes(toHex(store.caHashes()[0]!)), `${hashes} has our CA hash`);
    assert.equal(store.requestedCas(certReq[1].subarray(1)).length, 1);
  });
}

/** The initiator certificate's notBefore (all lab certificates are issued within seconds of it). */
function notBefore(certs: Record<string, string>): string {
  return new X509Certificate(certs['initiator.pem']!).validFrom;
}
