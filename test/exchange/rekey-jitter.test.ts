// Rekey jitter (strongSwan rand_time; RFC 7296 §2.8.1 collisions made rare): the Child SA soft
// lifetime comes earlier by a random 0..10% of the rekey margin, deterministic with injected randomness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jitteredRekeyMs } from '../../src/base/jitter.ts';
import { pair } from './harness.ts';

const fixed = (hi: number, lo: number) => () => Uint8Array.from([hi, lo]);

test('jitteredRekeyMs: within 0..fraction of the margin, 0 disables, no lifetime -> 10% of rekey', () => {
  assert.equal(jitteredRekeyMs(10_000, 12_000, 0.1, fixed(0, 0)), 10_000);
  assert.equal(jitteredRekeyMs(10_000, 12_000, 0.1, fixed(128, 0)), 9_900); // half of 10% of 2 s
  assert.equal(jitteredRekeyMs(10_000, 12_000, 0.1, fixed(255, 255)), 9_800);
  assert.equal(jitteredRekeyMs(10_000, 12_000, 0, fixed(255, 255)), 10_000);
  assert.equal(jitteredRekeyMs(10_000, undefined, 0.5, fixed(128, 0)), 9_750);
  assert.equal(jitteredRekeyMs(1, undefined, 0.99, fixed(255, 255)), 1);
});

test('Child SA soft lifetimes differ between the peers with jitter on, equal with it off', async (t) => {
  const softs = async (jitter: number | undefined) => {
    const opts = jitter === undefined ? {} : { rekeyJitter: jitter };
    const over = { childRekeyMs: 100_000, childLifetimeMs: 1_100_000 }; // 1000 s margin
    const h = pair({ a: over, b: over, optionsA: opts, optionsB: opts, randomSeed: 5 });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    return [h.a, h.b].map((p) => p.kernel.installed[0]!.lifetime!.soft!.seconds!);
  };
  const on = await softs(undefined);
  for (const s of on) assert.ok(s >= 0 && s <= 100, `soft ${s} within rekey - 10% of the margin`);
  assert.notEqual(on[0], on[1], 'default jitter: the peers rekey at different times');
  assert.deepEqual(await softs(0), [100, 100]);
});
