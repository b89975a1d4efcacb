// Every ESP algorithm mapping `check` can lead to (issue 14 item 4) is accepted by the real kernel and
// carries traffic: for each ESP cipher and integrity word the config accepts, the proposal the
// daemon would build is resolved like a negotiated one (src/ike/keymat.ts resolveEsp), mapped to
// XFRM names and key lengths (src/crypto/registry.ts espKernelAlgs), installed as an SA pair in
// transport mode, and pinged through; both sides count the same packets and no integrity failures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROPOSAL_TOKENS } from '../../../src/config/proposals-tokens.ts';
import { espKernelAlgs } from '../../../src/crypto/registry.ts';
import { resolveEsp } from '../../../src/ike/keymat.ts';
import { parseProposals } from '../../../src/ike/proposal-string.ts';
import type { PolicyParams, SaParams } from '../../../src/kernel/index.ts';
import { ADDR, pingFrom, testKey, twoSides, type TwoSides } from './support.ts';

/** One ESP proposal per accepted cipher and integrity word; distinct kernel mappings only. */
function mappings(): Map<string, { word: string; algs: NonNullable<ReturnType<typeof espKernelAlgs>> }> {
  const out = new Map<string, { word: string; algs: NonNullable<ReturnType<typeof espKernelAlgs>> }>();
  for (const [word, tok] of Object.entries(PROPOSAL_TOKENS)) {
    const text =
      tok.kind === 'encr'
        ? tok.aead === true
          ? word
          : `${word}-sha256`
        : tok.kind === 'integ'
          ? `aes128-${word}`
          : undefined;
    if (text === undefined) continue;
    const esp = resolveEsp(parseProposals(text, 'esp')[0]!);
    const algs = espKernelAlgs(esp.encr!, esp.integ)!;
    out.set(JSON.stringify(algs), { word, algs });
  }
  return out;
}

const MAPPINGS = [...mappings().values()];
const T = { outer: ADDR.outer4 };
const host = (a: string) => `${a}/32`;

function policies(reqid: number, self: 'a' | 'b'): PolicyParams[] {
  const peer = self === 'a' ? 'b' : 'a';
  const pol = (dir: 'out' | 'in', from: 'a' | 'b', to: 'a' | 'b'): PolicyParams => ({
    selector: { src: host(T.outer[from]), dst: host(T.outer[to]) },
    dir,
    action: 'allow',
    priority: 100,
    templates: [{ src: T.outer[from], dst: T.outer[to], proto: 'esp', mode: 'transport', reqid }],
  });
  return [pol('out', self, peer), pol('in', peer, self)];
}

let lab: TwoSides;
before(async () => {
  lab = await twoSides('algs');
});
after(async () => {
  await lab?.close();
});

test('the accepted ESP words map to enough distinct kernel algorithms', () => {
  const names = new Set(MAPPINGS.flatMap((m) => [m.algs.aead?.name, m.algs.crypt?.name, m.algs.auth?.name]));
  for (const n of ['rfc4309(ccm(aes))', 'rfc3686(ctr(aes))', 'xcbc(aes)', 'hmac(sha1)', 'rfc4106(gcm(aes))'])
    assert.ok(names.has(n), n);
});

let n = 0;
for (const { word, algs } of MAPPINGS)
  test(`${word}: ${JSON.stringify(algs)} is accepted by the kernel and carries traffic`, async () => {
    const i = ++n;
    const reqid = 500 + i;
    const keys = (seed: number): Pick<SaParams, 'aead' | 'crypt' | 'auth'> => ({
      ...(algs.aead && {
        aead: { name: algs.aead.name, key: testKey(algs.aead.keyLen, seed), icvBits: algs.aead.icvBits },
      }),
      ...(algs.crypt && { crypt: { name: algs.crypt.name, key: testKey(algs.crypt.keyLen, seed) } }),
      ...(algs.auth && {
        auth: {
          name: algs.auth.name,
          key: testKey(algs.auth.keyLen, seed + 1),
          truncBits: algs.auth.truncBits,
        },
      }),
    });
    const sa = (from: 'a' | 'b', to: 'a' | 'b', spi: number): SaParams => ({
      ...{ src: T.outer[from], dst: T.outer[to], spi, proto: 'esp', mode: 'transport', reqid },
      replayWindow: 32,
      ...keys(spi),
    });
    const ab = sa('a', 'b', 0x50000 + i * 2);
    const ba = sa('b', 'a', 0x50001 + i * 2);
    const { ka, kb } = lab;
    try {
      for (const k of [ka, kb]) for (const s of [ab, ba]) await k.addSa(s);
      for (const p of policies(reqid, 'a')) await ka.addPolicy(p);
      for (const p of policies(reqid, 'b')) await kb.addPolicy(p);
      assert.equal(pingFrom(T.outer.a, T.outer.b, 2), 2, 'every echo reply came back');
      for (const s of [ab, ba]) {
        const [onA, onB] = await Promise.all([ka.getSa(s), kb.getSa(s)]);
        for (const got of [onA, onB]) {
          assert.equal(
            got.algorithms.aead?.name ?? got.algorithms.crypt?.name,
            algs.aead?.name ?? algs.crypt?.name,
          );
          assert.equal(got.algorithms.auth?.name, algs.auth?.name);
          assert.equal(got.stats.integrityFailed, 0);
        }
        assert.ok(onA.current.packets >= 2n, `packets ${onA.current.packets}`);
        assert.equal(onA.current.packets, onB.current.packets, 'packets equal on both sides');
      }
    } finally {
      for (const k of [ka, kb]) {
        await k.flushPolicies();
        await k.flushSas();
      }
    }
  });
