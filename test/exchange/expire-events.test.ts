// Kernel events driving the engine (RFC 7296 §2.8): a soft EXPIRE starts a rekey, a hard EXPIRE
// deletes the Child SA (the kernel already dropped it; the peer is told with a Delete), an ACQUIRE
// initiates the matching connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';

const expire = (hard: boolean, dst: string, spi: number, reqid: number) =>
  ({ type: 'expire', hard, sa: { dst, spi, proto: 'esp', src: '0.0.0.0', reqid } }) as const;

test('soft EXPIRE of a Child SA -> rekey', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const old = sa.children[0]!;
  h.a.kernel.emit(expire(false, h.a.conn.localAddr, old.spiIn, old.reqid));
  await h.settle(0);
  // §2.8: "... rekeying ... when the soft lifetime expires" -- a new equivalent Child SA, the old one
  // retired after the grace period.
  const child = sa.children.find((c) => c !== old);
  assert.ok(child, 'a new Child SA was negotiated');
  assert.equal(child.reqid, old.reqid);
  assert.equal(old.state, 'deleting');
  await h.settle(5_000);
  assert.deepEqual(sa.children, [child]);
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.b.kernel.saCount, 2);
  // A second soft EXPIRE for the retired SPI is ignored.
  h.a.kernel.emit(expire(false, h.a.conn.localAddr, old.spiIn, old.reqid));
  await h.settle(0);
  assert.deepEqual(sa.children, [child]);
});

test('hard EXPIRE -> the Child SA is deleted on both sides, the IKE SA stays', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const child = sa.children[0]!;
  h.a.kernel.emit(expire(true, h.a.conn.remoteAddr!, child.spiOut, child.reqid));
  await h.settle(0);
  // §1.4.1: "ESP and AH SAs always exist in pairs ... When an SA is closed, ... the peer is told".
  assert.equal(child.state, 'destroyed');
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.b.kernel.saCount, 0);
  assert.equal(h.b.kernel.policyCount, 0);
  assert.equal(sa.state, 'established');
  assert.equal(established(h.b)[0]!.children.length, 0);
});

test('ACQUIRE without an IKE SA initiates the connection whose selectors match', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const acquire = {
    type: 'acquire',
    selector: { src: '192.0.2.9/32', dst: '198.51.100.1/32' },
    template: { src: h.a.conn.localAddr, dst: h.a.conn.remoteAddr!, proto: 'esp', mode: 'tunnel', reqid: 77 },
    policyIndex: 1,
    dir: 'out',
    seq: 3,
  } as const;
  h.a.kernel.emit(acquire);
  h.a.kernel.emit(acquire); // a second packet before the first ACQUIRE is served: no second IKE SA
  await h.settle(0);
  assert.equal(h.a.engine.sas().length, 1);
  assert.equal(established(h.a).length, 1);
  assert.equal(h.a.kernel.saCount, 2);
  // Traffic outside every connection's selectors starts nothing.
  h.a.kernel.emit({ ...acquire, selector: { src: '10.9.9.9/32', dst: '10.8.8.8/32' } });
  await h.settle(0);
  assert.equal(h.a.engine.sas().length, 1);
});

test('ACQUIRE with an established IKE SA but no Child SA -> CREATE_CHILD_SA', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.a.engine.terminateChild(sa, sa.children[0]!);
  await h.settle(0);
  assert.equal(sa.children.length, 0);
  h.a.kernel.emit({
    type: 'acquire',
    selector: { src: '192.0.2.9/32', dst: '198.51.100.1/32' },
    template: { src: h.a.conn.localAddr, dst: h.a.conn.remoteAddr!, proto: 'esp', mode: 'tunnel', reqid: 1 },
    policyIndex: 1,
    dir: 'out',
    seq: 4,
  });
  await h.settle(0);
  assert.equal(h.a.engine.sas().length, 1, 'no new IKE SA');
  assert.equal(sa.children.length, 1);
  assert.equal(h.b.kernel.saCount, 2);
});
