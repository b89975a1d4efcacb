// RFC 7296 §2.4 liveness: when the peer stays silent, an empty INFORMATIONAL request is sent; when
// its retransmissions are exhausted the IKE SA is deemed dead and the configured action runs:
// clear (everything removed), restart (initiate again), trap (trap policies, ACQUIRE initiates).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR_B, established, pair } from './harness.ts';

const retransmit = { timeoutMs: 1000, tries: 2, base: 2 }; // sends at 0, 1 s, 3 s; gives up at 7 s

function silentPeer(action: 'clear' | 'restart' | 'trap') {
  const h = pair({ a: { dpdDelayMs: 10_000, dpdAction: action }, optionsA: { retransmit } });
  return h;
}

test('liveness: a live but idle peer answers the empty INFORMATIONAL and nothing changes', async (t) => {
  const h = silentPeer('clear');
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const sent = h.a.counters.get('ike.request_sent');
  await h.settle(35_000, 1_000);
  // "The request message in an INFORMATIONAL exchange MAY also contain no payloads. This is the
  // expected way an endpoint can ask the other endpoint to verify that it is alive."
  assert.equal(h.a.counters.get('ike.request_sent') - sent, 3, 'one check per 10 s of silence');
  assert.equal(h.b.counters.get('ike.response_sent') >= 3, true);
  assert.equal(sa.state, 'established');
  assert.equal(h.a.kernel.saCount, 2);
});

test('liveness: no check while the peer keeps talking', async (t) => {
  const h = pair({ a: { dpdDelayMs: 10_000 }, b: { dpdDelayMs: 4_000 } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const sent = h.a.counters.get('ike.request_sent');
  await h.settle(30_000, 1_000);
  // B checks every 4 s, so A hears from B more often than its own 10 s: A never needs to ask.
  assert.equal(h.a.counters.get('ike.request_sent'), sent);
  assert.ok(h.b.counters.get('ike.request_sent') >= 7);
});

test('liveness: a silent peer, action clear -> IKE and Child SAs removed within the configured time', async (t) => {
  const h = silentPeer('clear');
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B };
  await h.settle(16_900, 100);
  assert.equal(sa.state, 'established', 'not before dpdDelay + the retransmission schedule');
  await h.settle(200, 100);
  // §2.4: "If there has only been outgoing traffic on all of the SAs associated with an IKE SA, it is
  // essential to confirm liveness of the other endpoint" ... "the IKE SA is deemed to have failed".
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.a.kernel.policyCount, 0);
  assert.equal(h.a.engine.sas().length, 0);
  assert.ok(h.a.events.some((e) => e.type === 'ike-failed'));
});

test('liveness: action restart -> initiates again and re-establishes once the peer is back', async (t) => {
  const h = silentPeer('restart');
  t.after(() => h.close());
  const first = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B };
  await h.settle(17_100, 100);
  assert.equal(first.state, 'destroyed');
  const again = h.a.engine.sas();
  assert.equal(again.length, 1, 'a new IKE SA is under way');
  assert.equal(again[0]!.state, 'connecting');
  h.net.faults = {};
  await h.settle(10_000, 500);
  assert.equal(again[0]!.state, 'established');
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(established(h.b).length >= 1, true);
});

test('liveness: action trap -> trap policy installed, the next ACQUIRE initiates', async (t) => {
  const h = silentPeer('trap');
  t.after(() => h.close());
  const first = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B };
  await h.settle(17_100, 100);
  assert.equal(first.state, 'destroyed');
  assert.equal(h.a.kernel.saCount, 0, 'no SA');
  const pols = await h.a.kernel.dumpPolicies();
  assert.equal(pols.length, 1, 'one outbound trap policy');
  assert.equal(pols[0]!.dir, 'out');
  assert.equal(pols[0]!.selector.src, '192.0.2.0/25');
  const tmpl = pols[0]!.templates[0]!;
  assert.equal(tmpl.dst, h.a.conn.remoteAddr);
  assert.equal(h.a.engine.sas().length, 0, 'nothing initiated until traffic');
  h.net.faults = {};
  // RFC 4301 §5.2: a packet matching the trap makes the kernel ask for an SA.
  h.a.kernel.emit({
    type: 'acquire',
    selector: { src: '192.0.2.5/32', dst: '198.51.100.7/32' },
    template: { src: tmpl.src!, dst: tmpl.dst!, proto: 'esp', mode: 'tunnel', reqid: tmpl.reqid },
    policyIndex: pols[0]!.index,
    dir: 'out',
    seq: 1,
  });
  await h.settle(0);
  assert.equal(established(h.a).length, 1);
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.a.kernel.policyCount, 3, 'the trap was replaced by the Child SA policies');
});

test('liveness: timeout ends a silent peer before the slow retransmission schedule would', async (t) => {
  // Default-like retransmissions (4 s, 5 tries, base 1.8: about 90 s) and liveness.timeout 15 s:
  // silence starts at 0; the probe goes out at 10 s; 15 s later without an answer the peer is dead.
  const slow = { timeoutMs: 4000, tries: 5, base: 1.8 };
  const h = pair({ a: { dpdDelayMs: 10_000, dpdTimeoutMs: 15_000 }, optionsA: { retransmit: slow } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_B };
  await h.settle(24_500, 100);
  assert.equal(sa.state, 'established', 'not before the timeout');
  await h.settle(1_000, 100);
  assert.equal(sa.state, 'destroyed', 'dead at liveness.timeout, not after ~2 minutes of retransmissions');
  assert.equal(h.a.kernel.saCount, 0);
});

test('liveness: timeout does not fire while the peer answers the probe', async (t) => {
  const h = pair({ a: { dpdDelayMs: 10_000, dpdTimeoutMs: 12_000 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  await h.settle(60_000, 1_000);
  assert.equal(sa.state, 'established');
  assert.ok(h.a.counters.get('ike.request_sent') >= 5, 'probes went out and were answered');
});
