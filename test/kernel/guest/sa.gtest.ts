// Real ESP through our netlink backend: for every supported algorithm (RFC 4106 AES-GCM 128/256,
// RFC 7634 ChaCha20-Poly1305, AES-CBC + HMAC-SHA2 per RFC 4868), in transport and tunnel mode
// (RFC 4301 §4.1), IPv4, IPv6 and IPv4-inside-IPv6: SAs and policies go in through Kernel on both
// sides, ICMP flows, and Kernel.getSa reads back what was installed and what the kernel counted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyParams, SaInfo, SaParams, XfrmMode } from '../../../src/kernel/index.ts';
import { ADDR, pingFrom, testKey, twoSides, type TwoSides } from './support.ts';

interface Alg {
  name: string;
  params(seed: number): Pick<SaParams, 'aead' | 'crypt' | 'auth'>;
  expect: SaInfo['algorithms'];
}

const aead = (name: string, keyBytes: number, label: string): Alg => ({
  name: label,
  // RFC 4106 §8.1 / RFC 7634 §2: the key is followed by a 4-byte salt.
  params: (seed) => ({ aead: { name, key: testKey(keyBytes + 4, seed), icvBits: 128 } }),
  expect: { aead: { name, keyBits: (keyBytes + 4) * 8, icvBits: 128 } },
});

const cbcHmac = (hash: string, authBytes: number, truncBits: number): Alg => ({
  name: `cbc(aes)+hmac(${hash})`,
  // RFC 4868 §2.3: HMAC-SHA-256-128, -384-192, -512-256; key length = hash output length.
  params: (seed) => ({
    crypt: { name: 'cbc(aes)', key: testKey(32, seed) },
    auth: { name: `hmac(${hash})`, key: testKey(authBytes, seed + 1), truncBits },
  }),
  expect: {
    crypt: { name: 'cbc(aes)', keyBits: 256 },
    auth: { name: `hmac(${hash})`, keyBits: authBytes * 8, truncBits },
  },
});

const ALGS: Alg[] = [
  aead('rfc4106(gcm(aes))', 16, 'aes-gcm-128'),
  aead('rfc4106(gcm(aes))', 32, 'aes-gcm-256'),
  aead('rfc7539esp(chacha20,poly1305)', 32, 'chacha20-poly1305'),
  cbcHmac('sha256', 32, 128),
  cbcHmac('sha384', 48, 192),
  cbcHmac('sha512', 64, 256),
];

interface Topo {
  name: string;
  mode: XfrmMode;
  outer: { a: string; b: string };
  inner: { a: string; b: string };
}

const TOPOS: Topo[] = [
  { name: 'transport v4', mode: 'transport', outer: ADDR.outer4, inner: ADDR.outer4 },
  { name: 'transport v6', mode: 'transport', outer: ADDR.outer6, inner: ADDR.outer6 },
  { name: 'tunnel v4', mode: 'tunnel', outer: ADDR.outer4, inner: ADDR.inner4 },
  { name: 'tunnel v6', mode: 'tunnel', outer: ADDR.outer6, inner: ADDR.inner6 },
  { name: 'tunnel v4 in v6', mode: 'tunnel', outer: ADDR.outer6, inner: ADDR.inner4 },
];

const host = (a: string): string => `${a}/${a.includes(':') ? 128 : 32}`;

/** The out/in policy pair of one side (`self` -> `peer`), RFC 4301 §4.4.1 PROTECT entries. */
function policies(t: Topo, reqid: number, self: 'a' | 'b'): PolicyParams[] {
  const peer = self === 'a' ? 'b' : 'a';
  const pol = (dir: 'out' | 'in', from: 'a' | 'b', to: 'a' | 'b'): PolicyParams => ({
    selector: { src: host(t.inner[from]), dst: host(t.inner[to]) },
    dir,
    action: 'allow',
    priority: 100,
    templates: [{ src: t.outer[from], dst: t.outer[to], proto: 'esp', mode: t.mode, reqid }],
  });
  return [pol('out', self, peer), pol('in', peer, self)];
}

let lab: TwoSides;
before(async () => {
  lab = await twoSides('sa');
});
after(async () => {
  await lab?.close();
});

const PINGS = 3;
let caseNo = 0;

for (const alg of ALGS)
  for (const topo of TOPOS)
    test(`${alg.name}, ${topo.name}: installed as requested, traffic counted equally on both sides`, async () => {
      const n = ++caseNo;
      const reqid = 100 + n;
      const sa = (from: 'a' | 'b', to: 'a' | 'b', spi: number): SaParams => ({
        src: topo.outer[from],
        dst: topo.outer[to],
        spi,
        proto: 'esp',
        mode: topo.mode,
        reqid,
        replayWindow: 32,
        ...alg.params(spi),
      });
      const ab = sa('a', 'b', 0x10000 + n * 2);
      const ba = sa('b', 'a', 0x10001 + n * 2);
      const { ka, kb } = lab;
      try {
        for (const k of [ka, kb]) for (const s of [ab, ba]) await k.addSa(s);
        for (const p of policies(topo, reqid, 'a')) await ka.addPolicy(p);
        for (const p of policies(topo, reqid, 'b')) await kb.addPolicy(p);

        assert.equal(pingFrom(topo.inner.a, topo.inner.b, PINGS), PINGS, 'every echo reply came back');

        for (const s of [ab, ba]) {
          const [onA, onB] = await Promise.all([ka.getSa(s), kb.getSa(s)]);
          for (const got of [onA, onB]) {
            // Field by field against the request (keys never come back, only their lengths).
            assert.equal(got.src, s.src);
            assert.equal(got.dst, s.dst);
            assert.equal(got.spi, s.spi);
            assert.equal(got.proto, 'esp');
            assert.equal(got.mode, s.mode);
            assert.equal(got.reqid, s.reqid);
            assert.equal(got.replayWindow, 32);
            assert.deepEqual(got.algorithms, alg.expect);
            assert.equal(got.stats.integrityFailed, 0);
          }
          // The sender's outbound SA and the receiver's inbound SA saw the same packets; IPv6
          // may add ND probes inside a transport pair, so at least the pings.
          assert.ok(onA.current.packets >= BigInt(PINGS), `packets ${onA.current.packets}`);
          assert.equal(onA.current.packets, onB.current.packets, 'packets equal on both sides');
          assert.ok(onA.current.bytes > 0n && onB.current.bytes > 0n, 'bytes counted');
          assert.equal(onA.current.bytes, onB.current.bytes, 'bytes equal on both sides');
        }
      } finally {
        for (const k of [ka, kb]) {
          await k.flushPolicies();
          await k.flushSas();
        }
      }
    });
