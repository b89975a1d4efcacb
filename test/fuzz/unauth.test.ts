// RFC 7296 §2.21, §2.21.4 and ARCHITECTURE principle 4: whatever arrives unauthenticated (random
// bytes, unknown SPIs, a forged ICV on a live SA, truncated or replayed copies) is dropped and
// counted, and the responder sends nothing back, so nothing about its state leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeType } from '../../src/codec/index.ts';
import type { CounterName } from '../../src/base/counters.ts';
import { FuzzPair, TO_B, sealRaw } from './lib/engine-pair.ts';
import { mutate, rng } from './lib/mutate.ts';

const DROPS: CounterName[] = [
  'net.drop_too_short',
  'ike.drop_bad_header',
  'ike.drop_malformed',
  'ike.drop_rules',
  'ike.drop_unknown_spi',
  'ike.drop_decrypt_failed',
  'ike.drop_msgid_future',
  'ike.drop_msgid_old',
  'ike.drop_unexpected_exchange',
];

test('unauthenticated garbage, unknown SPIs and forged ICVs get no answer at all and are counted', async (t) => {
  const p = new FuzzPair();
  t.after(() => p.close());
  const { a, b } = await p.establish();
  const drops = () => DROPS.reduce((n, c) => n + p.b.counters.get(c), 0);
  const sentByB = () => p.b.counters.get('net.tx_packets');
  const rand = rng(7);
  const good = sealRaw(
    a,
    a.keymat!.outbound,
    ExchangeType.INFORMATIONAL,
    b.runner.expectedRequestId,
    0,
    new Uint8Array(0),
  );
  const kinds: [string, () => Uint8Array][] = [
    [
      'random bytes',
      () => Uint8Array.from({ length: 28 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)),
    ],
    [
      'unknown SPI',
      () => {
        const m = good.slice();
        m.set(
          Uint8Array.from({ length: 8 }, () => 1 + Math.floor(rand() * 255)),
          8,
        );
        return m;
      },
    ],
    [
      'forged ICV on the live SA',
      () => {
        const m = good.slice();
        m[28 + 4 + Math.floor(rand() * (m.length - 32))]! ^= 1 << Math.floor(rand() * 8);
        return m;
      },
    ],
    ['mutated copy', () => mutate([good], rand)],
  ];
  for (const [kind, make] of kinds) {
    const before = { drops: drops(), sent: sentByB() };
    for (let i = 0; i < 50; i++) p.net.inject(make(), TO_B);
    await p.settle(0);
    assert.equal(sentByB(), before.sent, `${kind}: the responder answered`);
    const counted = drops() - before.drops;
    // Mutated copies may by chance stay valid (then they are answered, which the check above would
    // show); every one of the 50 must be dropped and counted.
    assert.equal(counted, 50, `${kind}: ${counted} of 50 counted ${JSON.stringify(p.b.counters.nonZero())}`);
  }
  assert.equal(b.state, 'established');
  // The engine still answers an authenticated request with the expected message ID.
  const before = sentByB();
  p.net.inject(good, TO_B);
  await p.settle(0);
  assert.equal(sentByB(), before + 1);
});
