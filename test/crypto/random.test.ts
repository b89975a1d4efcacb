import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomPool, randomBytes } from '../../src/crypto/random.ts';

test('RandomPool: one refill serves many small requests; used ranges are zeroed in the pool', () => {
  let fills = 0;
  let seen: Uint8Array | undefined;
  const pool = new RandomPool(256, (b) => {
    fills++;
    seen = b;
    for (let i = 0; i < b.length; i++) b[i] = (i * 7 + fills) & 0xff || 1;
  });
  const a = pool.take(32);
  const b = pool.take(8);
  assert.equal(fills, 1);
  assert.equal(a.length, 32);
  assert.equal(b.length, 8);
  assert.deepEqual([...a.subarray(0, 3)], [1, 8, 15]);
  assert.deepEqual([...b.subarray(0, 2)], [(32 * 7 + 1) & 0xff, (33 * 7 + 1) & 0xff]);
  // What was handed out is gone from the pool; what was not is still there.
  assert.ok(seen!.subarray(0, 40).every((x) => x === 0));
  assert.ok(seen!.subarray(40).every((x) => x !== 0));
  // The caller owns its copy: changing it does not touch the pool.
  a.fill(9);
  assert.ok(seen!.subarray(0, 32).every((x) => x === 0));
  // A request that does not fit in what is left refills the whole pool first.
  pool.take(200);
  assert.equal(fills, 1);
  const c = pool.take(32);
  assert.equal(fills, 2);
  assert.deepEqual([...c.subarray(0, 2)], [2, 9]);
});

test('RandomPool: large requests bypass the pool; bad sizes are refused', () => {
  let fills = 0;
  const pool = new RandomPool(256, (b) => {
    fills++;
    b.fill(5);
  });
  assert.equal(pool.take(1000).length, 1000);
  assert.equal(fills, 1);
  assert.equal(pool.take(0).length, 0);
  assert.throws(() => pool.take(-1), RangeError);
  assert.throws(() => pool.take(1.5), RangeError);
  assert.throws(() => new RandomPool(16), RangeError);
});

test('randomBytes: distinct values from the real generator', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) seen.add(Buffer.from(randomBytes(16)).toString('hex'));
  assert.equal(seen.size, 2000);
  // Byte values spread over the whole range (a stuck or zeroed pool would not).
  const counts = new Array<number>(256).fill(0);
  for (const x of randomBytes(256 * 40)) counts[x]!++;
  assert.ok(Math.min(...counts) > 5, `byte histogram ${Math.min(...counts)}..${Math.max(...counts)}`);
});
