// RFC 7296 §2.8 / §2.8.1 / §2.8.2 / §2.25 under packet loss: IKE SA and Child SA rekeys colliding and
// interleaved, started by the real timers (kernel soft expires on the FakeClock, the IKE rekey timer,
// liveness checks) and by hand, while datagrams are lost, duplicated, delayed (also beyond the first
// retransmission timeout) and reordered (fixed seeds). Whatever happened, once the network is clean
// again both sides must come to rest with one IKE SA, one installed Child SA pair that matches
// crosswise, and nothing else in the kernel: no state may stay stuck (the guest lab's loss scenario,
// test/robust/failure.test.ts, in one process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Faults } from '../../src/net/memory.ts';
import type { EngineOptions, IkeConnection } from '../../src/ike/config.ts';
import { established, pair, type Peer } from './harness.ts';

type Pair = ReturnType<typeof pair>;

/** The lab's figures (lab/robust/scenarios.ts): Child rekey at 10 s, IKE rekey at 25 s. */
const SHORT: Partial<IkeConnection> = {
  childRekeyMs: 10_000,
  childLifetimeMs: 60_000,
  ikeRekeyMs: 25_000,
  ikeLifetimeMs: 75_000,
  dpdDelayMs: 3_000,
};
const RETRANSMIT = { timeoutMs: 500, base: 1.4, tries: 8 };
const LOSSY: Faults = { loss: 0.2, duplicate: 0.1, delayMs: 40, reorder: 0.25, reorderDelayMs: 80 };
/** One-way delays beyond the first retransmission timeout: every request is sent at least twice. */
const SLOW: Faults = { loss: 0.1, duplicate: 0.05, delayMs: 450, jitterMs: 300, reorder: 0.2 };

/** What keeps a peer from being at rest; empty when it is. */
async function unsettled(p: Peer): Promise<string[]> {
  const out: string[] = [];
  const sas = p.engine.sas();
  const desc = sas.map((s) => `${s.name}:${s.state}[${s.children.map((c) => c.state).join(',')}]`);
  if (sas.length !== 1 || established(p).length !== 1) out.push(`IKE SAs ${desc.join(' ') || 'none'}`);
  const children = sas.flatMap((s) => s.children);
  if (children.length !== 1 || children[0]!.state !== 'installed') out.push(`Child SAs ${desc.join(' ')}`);
  const want = children.flatMap((c) => [c.spiIn, c.spiOut]).sort();
  const got = (await p.kernel.dumpSas()).map((s) => s.spi).sort();
  const hex = (l: number[]) => l.map((n) => n.toString(16)).join(',');
  if (hex(got) !== hex(want)) out.push(`kernel SPIs ${hex(got)} != Child SAs ${hex(want)}`);
  return out;
}

/** Polls (1 s of fake time each) until both peers are at rest and agree; returns the last problems. */
async function rest(h: Pair, maxS: number): Promise<string[]> {
  let problems: string[] = [];
  for (let i = 0; i < maxS; i++) {
    await h.settle(1000, 250);
    problems = [
      ...(await unsettled(h.a)).map((x) => `a: ${x}`),
      ...(await unsettled(h.b)).map((x) => `b: ${x}`),
    ];
    if (problems.length > 0) continue;
    const [ca, cb] = [established(h.a)[0]!.children[0]!, established(h.b)[0]!.children[0]!];
    if (ca.spiIn === cb.spiOut && ca.spiOut === cb.spiIn) return [];
    problems = [`the pairs differ: a ${ca.describe()} / b ${cb.describe()}`];
  }
  return problems;
}

const failed = (p: Peer) => p.counters.get('ike.sa_failed');
const count = (p: Peer, type: string) => p.events.filter((e) => e.type === type).length;

async function check(h: Pair, label: string): Promise<void> {
  h.net.faults = {};
  const problems = await rest(h, 120);
  const tail = (p: Peer) =>
    p.logger.entries
      .filter((e) => e.level !== 'debug' || / -> /.test(e.message))
      .slice(-60)
      .map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields)}`)
      .join('\n');
  const logs = () => `\n--- a ---\n${tail(h.a)}\n--- b ---\n${tail(h.b)}`;
  assert.deepEqual(problems, [], `${label}: not at rest${problems.length ? logs() : ''}`);
  assert.equal(failed(h.a) + failed(h.b), 0, `${label}: an IKE SA failed${logs()}`);
}

function timed(seed: number, faults: Faults, jitter: number) {
  const options: EngineOptions = { retransmit: RETRANSMIT, rekeyJitter: jitter };
  return pair({
    a: SHORT,
    b: SHORT,
    optionsA: options,
    optionsB: options,
    net: { seed },
    randomSeed: seed,
    expiring: true,
  });
}

const TIMED: { name: string; faults: Faults; jitter: number; seeds: number[] }[] = [
  { name: '20% loss, jitter off', faults: LOSSY, jitter: 0, seeds: [1, 2, 3, 4, 5, 6, 7, 8] },
  { name: '20% loss, jitter on', faults: LOSSY, jitter: 0.1, seeds: [1, 2, 3, 4, 5, 6, 7, 8] },
  { name: 'delays past the retransmit timeout', faults: SLOW, jitter: 0, seeds: [1, 2, 3, 4, 5, 6] },
];

for (const c of TIMED)
  for (const seed of c.seeds)
    test(`timer-driven IKE and Child rekeys, ${c.name}, seed ${seed}: every path ends at rest`, async (t) => {
      const h = timed(seed, c.faults, c.jitter);
      t.after(() => h.close());
      h.a.engine.initiate('site');
      await h.settle(0);
      assert.equal(established(h.a).length, 1, 'established before the faults start');
      h.net.faults = c.faults;
      await h.settle(90_000, 250); // 8-9 Child rekeys, 3 IKE rekeys per side
      await check(h, `${c.name}, seed ${seed}`);
      // The timers really rekeyed both kinds of SA (otherwise the test proves nothing).
      for (const p of [h.a, h.b]) {
        assert.ok(count(p, 'child-rekeyed') >= 3, `${p.name}: Child rekeys ${count(p, 'child-rekeyed')}`);
        assert.ok(count(p, 'ike-rekeyed') >= 2, `${p.name}: IKE rekeys ${count(p, 'ike-rekeyed')}`);
      }
    });

/** Rekeys started by hand, at the same instant on both sides, in every combination. */
const ROUNDS: ['child' | 'ike' | 'none', 'child' | 'ike' | 'none'][] = [
  ['ike', 'child'],
  ['child', 'ike'],
  ['ike', 'ike'],
  ['child', 'child'],
  ['ike', 'none'],
  ['none', 'child'],
];

function start(p: Peer, what: 'child' | 'ike' | 'none'): void {
  // The IKE SA that carries the Child SA (a redundant one of a collision may wait for its Delete).
  const sa = established(p).find((s) => s.children.length > 0);
  if (!sa || what === 'none') return;
  if (what === 'ike') return p.engine.rekeyIke(sa);
  const child = sa.children.find((x) => x.state === 'installed');
  if (child) p.engine.rekeyChild(sa, child);
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  test(`IKE and Child rekeys by hand, colliding under loss, seed ${seed}: every path ends at rest`, async (t) => {
    const options: EngineOptions = { retransmit: RETRANSMIT };
    const h = pair({ optionsA: options, optionsB: options, net: { seed }, randomSeed: seed });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    h.net.faults = seed % 2 ? LOSSY : SLOW;
    for (const [wa, wb] of ROUNDS) {
      start(h.a, wa);
      start(h.b, wb);
      await h.settle(3_000, 250); // the next round starts while this one may still retransmit
      start(h.a, wb);
      start(h.b, wa);
      await h.settle(12_000, 250);
    }
    await check(h, `by hand, seed ${seed}`);
    for (const p of [h.a, h.b]) assert.ok(count(p, 'ike-rekeyed') >= 1, `${p.name}: IKE rekeys`);
  });
