// The benchmark report's rounds (bench/lib/report.ts): medians with min-max spreads, and "no
// difference" when the two daemons' spreads overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlaps, ratio, sampledRow, table, verdict } from '../../bench/lib/report.ts';

const base = { section: 's', metric: 'cpu', unit: 'ms', lowerIsBetter: true, goal: 0.8 };

test('medians and spreads of three rounds; a clear win meets its goal', () => {
  const r = sampledRow(base, [1, 3, 2], [5, 4, 6]);
  assert.equal(r.ikeway, 2);
  assert.equal(r.charon, 5);
  assert.deepEqual(r.ikewayRange, [1, 3]);
  assert.deepEqual(r.charonRange, [4, 6]);
  assert.equal(ratio(r), 0.4);
  assert.equal(overlaps(r), false);
  assert.equal(verdict(r), 'met (goal <= 0.8)');
  assert.match(table([r]), /2\.00 \(1\.00-3\.00\)\s+5\.00 \(4\.00-6\.00\)\s+0\.40/);
});

test('overlapping spreads say "no difference" next to the goal verdict', () => {
  const r = sampledRow(base, [1, 2, 4], [3, 5, 6]);
  assert.equal(overlaps(r), true);
  assert.equal(verdict(r), 'met (goal <= 0.8); no difference (spreads overlap)');
  const even = sampledRow({ ...base, goal: undefined }, [1, 2], [1.5, 3]);
  assert.equal(even.ikeway, 1.5, 'median of an even count is the mean of the middle two');
  assert.equal(verdict(even), 'no difference (spreads overlap)');
});

test('one round has no spread and never claims "no difference"', () => {
  const r = sampledRow(base, [2], [1]);
  assert.equal(r.ikewayRange, undefined);
  assert.equal(overlaps(r), false);
  assert.equal(verdict(r), 'NOT met (goal <= 0.8)');
});
