// The single paths behind the loss lab's stuck rekeys (issue 8), each on a clean network: the
// kernel's two soft EXPIREs of one Child SA pair, a soft EXPIRE while the IKE SA is being rekeyed,
// an old IKE SA whose Delete is lost beyond the half-open timeout, and an IKE Delete whose answer
// never comes (RFC 7296 §2.8, §2.25, §1.4.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeType } from '../../src/codec/index.ts';
import { established, pair } from './harness.ts';

const expire = (dst: string, spi: number, reqid: number) =>
  ({ type: 'expire', hard: false, sa: { dst, spi, proto: 'esp', src: '0.0.0.0', reqid } }) as const;

const exchangeOf = (d: { data: Uint8Array }) => d.data[18];

test('the soft EXPIREs of both SAs of a pair start one rekey, and it succeeds (RFC 7296 §1.3, §2.8)', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const old = sa.children[0]!;
  const sent = h.net.log.length;
  // The kernel reports the inbound and the outbound SA, in the same instant.
  h.a.kernel.emit(expire(h.a.conn.localAddr, old.spiIn, old.reqid));
  h.a.kernel.emit(expire(h.a.conn.remoteAddr!, old.spiOut, old.reqid));
  await h.settle(6_000);
  const creates = h.net.log.slice(sent).filter((d) => exchangeOf(d) === ExchangeType.CREATE_CHILD_SA);
  assert.equal(creates.length, 2, 'one CREATE_CHILD_SA request and its response');
  assert.equal(sa.children.length, 1);
  assert.notEqual(sa.children[0], old, 'the Child SA was replaced');
  assert.equal(sa.children[0]!.state, 'installed');
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.b.kernel.saCount, 2);
});

test('a soft EXPIRE while the IKE SA is rekeyed is not lost: the Child SA is rekeyed after (§2.25)', async (t) => {
  const h = pair({ optionsA: { rekeyRetryMs: 1_000 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const old = sa.children[0]!;
  h.a.engine.rekeyIke(sa); // its build runs at once: the IKE SA is `rekeying` from here
  await Promise.resolve();
  assert.equal(sa.state, 'rekeying');
  h.a.kernel.emit(expire(h.a.conn.localAddr, old.spiIn, old.reqid));
  await h.settle(10_000);
  const [now] = established(h.a);
  assert.ok(now && now !== sa, 'the IKE SA was rekeyed');
  assert.equal(now.children.length, 1);
  assert.notEqual(now.children[0], old, 'and the Child SA after it');
  assert.equal(h.a.events.filter((e) => e.type === 'child-rekeyed').length, 1);
  assert.equal(h.b.kernel.saCount, 2);
});

test('an old IKE SA still waiting for its Delete at the half-open timeout does not fail (§2.18)', async (t) => {
  const h = pair({ optionsB: { halfOpenTimeoutMs: 5_000 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  // A rekeys the IKE SA; its Delete of the old one (and every retransmission) is lost for 10 s.
  let lossy = true;
  h.net.faults = { drop: (d) => lossy && exchangeOf(d) === ExchangeType.INFORMATIONAL };
  h.a.engine.rekeyIke(sa);
  await h.settle(6_000);
  assert.ok(
    h.b.engine.sas().some((s) => s.state === 'rekeyed'),
    'B still holds the replaced IKE SA past its half-open timeout',
  );
  lossy = false;
  await h.settle(60_000);
  assert.equal(h.b.counters.get('ike.sa_failed'), 0, 'no IKE SA failed on B');
  assert.equal(h.b.engine.sas().length, 1);
  assert.equal(established(h.b)[0]!.children.length, 1);
});

test('an IKE Delete that is never answered ends the SA without counting a dead peer (§1.4.1)', async (t) => {
  const h = pair({ optionsA: { retransmit: { timeoutMs: 500, tries: 2 } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  // B deletes the SA on the first request; every answer to A is lost.
  h.net.faults = { drop: (d) => d.srcAddr === h.b.conn.localAddr };
  h.a.engine.terminate('site');
  await h.settle(10_000);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.b.engine.sas().length, 0, 'B removed it on the Delete');
  assert.equal(h.a.counters.get('ike.give_up'), 0);
  assert.equal(h.a.counters.get('ike.sa_failed'), 0);
  assert.equal(h.a.kernel.saCount, 0);
});
