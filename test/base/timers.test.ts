import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock, FakeClockError, RealClock } from '../../src/base/clock.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import { Counters, COUNTER_NAMES, isCounterName } from '../../src/base/counters.ts';

test('timers fire in deadline order, ties in insertion order, each seeing its own deadline as now', () => {
  const clock = new FakeClock(1000);
  const q = new TimerQueue(clock);
  const log: string[] = [];
  q.after(30, () => log.push(`c@${clock.now()}`));
  q.after(10, () => log.push(`a@${clock.now()}`));
  q.after(20, () => log.push(`b1@${clock.now()}`));
  q.after(20, () => log.push(`b2@${clock.now()}`));
  clock.advance(25);
  assert.deepEqual(log, ['a@1010', 'b1@1020', 'b2@1020']);
  assert.equal(clock.now(), 1025);
  assert.equal(q.size, 1);
  clock.advance(5);
  assert.deepEqual(log.at(-1), 'c@1030');
  assert.equal(q.size, 0);
  assert.equal(clock.alarmAt, undefined, 'no alarm left armed once the queue is empty');
});

test('cancel removes a timer; the single alarm follows the earliest remaining deadline', () => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock);
  const fired: number[] = [];
  const h1 = q.after(10, () => fired.push(1));
  const h2 = q.after(20, () => fired.push(2));
  assert.equal(clock.alarmAt, 10);
  assert.equal(h1.cancel(), true);
  assert.equal(h1.cancel(), false, 'second cancel reports nothing to cancel');
  assert.equal(h1.active, false);
  assert.equal(clock.alarmAt, 20);
  clock.advance(100);
  assert.deepEqual(fired, [2]);
  assert.equal(h2.active, false);
  assert.equal(h2.cancel(), false, 'cancel after firing is a no-op');
});

test('a callback may schedule and cancel timers; one due now runs on the next alarm, not in a loop', () => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock);
  const log: string[] = [];
  const handles: ReturnType<TimerQueue['after']>[] = [];
  q.after(5, () => {
    log.push('first');
    q.after(0, () => log.push('zero-delay'));
    handles[0]?.cancel();
  });
  handles.push(q.after(6, () => log.push('cancelled-one')));
  clock.advance(10);
  assert.deepEqual(log, ['first', 'zero-delay']);
});

test('a timer that re-arms itself forever is bounded by the fake clock', () => {
  const clock = new FakeClock(0, 50);
  const q = new TimerQueue(clock);
  const again = () => void q.after(0, again);
  q.after(1, again);
  assert.throws(() => clock.advance(5), FakeClockError);
});

test('a throwing callback does not stop the other due timers and surfaces afterwards', () => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock);
  const log: number[] = [];
  q.after(1, () => {
    throw new Error('boom');
  });
  q.after(1, () => log.push(2));
  assert.throws(() => clock.advance(1), /boom/);
  assert.deepEqual(log, [2]);
  const errors: unknown[] = [];
  const q2 = new TimerQueue(clock, { onError: (e) => errors.push(e) });
  q2.after(1, () => {
    throw new Error('caught');
  });
  clock.advance(1);
  assert.equal(errors.length, 1);
});

test('property: any mix of inserts and cancels fires exactly the live timers in (deadline, seq) order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ delay: fc.integer({ min: 0, max: 1000 }), cancel: fc.boolean() }), {
        maxLength: 200,
      }),
      (ops) => {
        const clock = new FakeClock();
        const q = new TimerQueue(clock);
        const fired: number[] = [];
        const handles = ops.map((op, i) => q.after(op.delay, () => fired.push(i)));
        ops.forEach((op, i) => op.cancel && handles[i]?.cancel());
        assert.equal(q.size, ops.filter((o) => !o.cancel).length);
        clock.advance(1001);
        const expected = ops
          .map((op, i) => ({ ...op, i }))
          .filter((o) => !o.cancel)
          .sort((a, b) => a.delay - b.delay || a.i - b.i)
          .map((o) => o.i);
        assert.deepEqual(fired, expected);
        assert.equal(q.size, 0);
      },
    ),
  );
});

test('RealClock drives the queue with one node timer', async () => {
  const clock = new RealClock({ unref: true });
  const q = new TimerQueue(clock);
  const order: number[] = [];
  // Deadlines 50 ms apart: the real clock moves while the three calls run (a 1 ms spacing flaked
  // once in CI on a loaded machine).
  const done = new Promise<void>((resolve) => {
    q.after(100, () => order.push(2));
    q.after(50, () => order.push(1));
    q.after(150, () => {
      order.push(3);
      resolve();
    });
  });
  q.after(50, () => order.push(99)).cancel();
  // The clock's timer is unref'd (a daemon must not stay up for it): keep the loop alive meanwhile.
  const alive = setInterval(() => undefined, 1000);
  await done.finally(() => clearInterval(alive));
  assert.deepEqual(order, [1, 2, 3]);
  assert.ok(clock.now() > 0);
});

test('counters: typed names, zero defaults, snapshot in declaration order', () => {
  const c = new Counters();
  assert.equal(c.get('ike.drop_msgid_old'), 0);
  c.inc('ike.drop_msgid_old');
  c.inc('ike.drop_msgid_old', 2);
  c.inc('net.drop_natt_keepalive');
  assert.equal(c.get('ike.drop_msgid_old'), 3);
  assert.deepEqual(c.nonZero(), { 'ike.drop_msgid_old': 3, 'net.drop_natt_keepalive': 1 });
  assert.deepEqual([...c.snapshot().keys()], [...COUNTER_NAMES]);
  assert.equal(isCounterName('net.rx_packets'), true);
  assert.equal(isCounterName('bogus'), false);
  c.reset();
  assert.deepEqual(c.nonZero(), {});
});
